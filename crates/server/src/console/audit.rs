//! The auditor's view of the audit log: search by actor, action, object, outcome and time
//! range, page back through results, export them, and the key to verify the log with.

use super::{Chrome, csrf_for, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use mamori_core::audit_log::AuditSearch;
use mamori_domain::Permission::AuditRead;
use mamori_domain::UnixMillis;
use mamori_domain::authz::Access::Permission as Needs;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/audit", Needs(AuditRead), audit_page).add(
        Method::POST,
        "/audit/verify",
        Needs(AuditRead),
        verify_log,
    )
}

/// Rows per page, unless the auditor picks another of [`PAGE_SIZES`].
const PAGE: i64 = 100;
const PAGE_SIZES: [i64; 4] = [50, 100, 200, 500];

/// System noise hidden unless asked for: the telephony system's call events, a pair per call.
const NOISE: [&str; 2] = ["cti.call_start", "cti.call_end"];

#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditFilter {
    actor: Option<String>,
    action: Option<String>,
    object: Option<String>,
    outcome: Option<String>,
    /// First day, `YYYY-MM-DD` in Japan time.
    from: Option<String>,
    /// Last day, inclusive.
    to: Option<String>,
    before: Option<u64>,
    /// Rows per page (one of [`PAGE_SIZES`]).
    size: Option<i64>,
    /// `1`: show the system noise too.
    all: Option<String>,
}

/// The actions a typed word means: those whose code or label (Japanese or English) contains it.
/// An exact code is that action alone.
fn actions_matching(word: &str) -> Vec<String> {
    use crate::i18n::Tr;
    use mamori_domain::identity::Language;
    if mamori_audit::actions::find(word).is_some() {
        return vec![word.to_owned()];
    }
    let word = word.to_lowercase();
    mamori_audit::actions::ALL
        .iter()
        .filter(|a| {
            let key = format!("audit_action.{}", a.name);
            a.name.contains(&word)
                || [Language::Ja, Language::En]
                    .into_iter()
                    .any(|l| Tr(l).get(&key).is_some_and(|label| label.to_lowercase().contains(&word)))
        })
        .map(|a| a.name.to_owned())
        .collect()
}

pub struct AuditView {
    pub index: u64,
    pub time: String,
    /// Labels, in the page's language.
    pub category: String,
    pub action_label: String,
    /// The code, shown beside its label.
    pub action: String,
    /// A person by name; other actors as written.
    pub actor: String,
    pub object: String,
    pub outcome: String,
    pub outcome_code: &'static str,
    pub source_ip: String,
    /// (label, value), one line each.
    pub details: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    actor: String,
    action: String,
    object: String,
    outcome: String,
    from: String,
    to: String,
    entries: Vec<AuditView>,
    /// The query string of this search, for the next page.
    query: String,
    /// The same search for the export API (times in Unix milliseconds).
    export_query: String,
    next_before: Option<u64>,
    sizes: [i64; 4],
    size: i64,
    show_all: bool,
    verification: Option<Verification>,
    /// The verifier key and the latest signed tree head, for auditors to keep.
    public_key: String,
    checkpoint: Option<String>,
}

/// Midnight at the start of a `YYYY-MM-DD` day in Japan (UTC+9).
fn day_start(day: &str) -> Option<UnixMillis> {
    let mut parts = day.trim().splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    let offset = time::UtcOffset::from_hms(9, 0, 0).ok()?;
    let t = date.with_hms(0, 0, 0).ok()?.assume_offset(offset);
    Some(UnixMillis(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()?))
}

async fn audit_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    q: Result<Query<AuditFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(f) = q.unwrap_or_default();
    audit_view(&state, tr_for(&headers, Some(&p)), &p, &ctx, f, None).await
}

/// The auditor presses "verify": the live log checked as `mamori audit verify` does, shown above
/// the latest entries.
async fn verify_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    _form: super::Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let verification = match state.core.audit.verify_for(&p, &ctx).await {
        Ok(Ok(v)) => Verification {
            matched: true,
            text: tr
                .t("audit.verified")
                .replace("{size}", &v.to_size.to_string())
                .replace("{checkpoints}", &v.checkpoints.to_string()),
        },
        Ok(Err(mismatch)) => {
            Verification { matched: false, text: format!("{} {mismatch}", tr.t("audit.mismatch")) }
        }
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    audit_view(&state, tr, &p, &ctx, AuditFilter::default(), Some(verification)).await
}

/// What the console's verification found.
pub struct Verification {
    pub matched: bool,
    pub text: String,
}

async fn audit_view(
    state: &AppState,
    tr: crate::i18n::Tr,
    p: &mamori_core::Principal,
    ctx: &mamori_audit::RequestContext,
    f: AuditFilter,
    verification: Option<Verification>,
) -> Response {
    let (state, p, ctx) = (state, p, ctx);
    let clean = |s: &Option<String>| s.as_ref().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let from = clean(&f.from).and_then(|d| day_start(&d));
    let to = clean(&f.to).and_then(|d| day_start(&d)).map(|t| UnixMillis(t.0 + 86_400_000));
    let size = f.size.filter(|s| PAGE_SIZES.contains(s)).unwrap_or(PAGE);
    let show_all = f.all.as_deref() == Some("1");
    let actions = clean(&f.action).map(|word| actions_matching(&word));
    let query = AuditSearch {
        detail: None,
        actor: clean(&f.actor),
        // Asking for an action by name shows it even when it is noise.
        hidden_actions: if show_all || actions.is_some() {
            Vec::new()
        } else {
            NOISE.map(String::from).to_vec()
        },
        actions,
        object: clean(&f.object),
        outcome: clean(&f.outcome),
        from,
        to,
        before_index: f.before,
        limit: size,
    };
    let entries = match state.core.audit.search_audit(p, &query, ctx).await {
        Ok(e) => e,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let next_before = if entries.len() as i64 == size { entries.last().map(|e| e.index) } else { None };
    let mut params: Vec<(&str, String)> = Vec::new();
    for (name, value) in [("actor", &query.actor), ("object", &query.object), ("outcome", &query.outcome)] {
        if let Some(v) = value {
            params.push((name, v.clone()));
        }
    }
    let search: Vec<(&str, String)> = params
        .iter()
        .cloned()
        .chain(clean(&f.action).map(|a| ("action", a)))
        .chain(clean(&f.from).map(|d| ("from", d)))
        .chain(clean(&f.to).map(|d| ("to", d)))
        .chain((size != PAGE).then(|| ("size", size.to_string())))
        .chain(show_all.then(|| ("all", "1".to_owned())))
        .collect();
    // The export API takes the actions as codes and the time range in Unix milliseconds.
    let export: Vec<(&str, String)> = params
        .into_iter()
        .chain(query.actions.as_ref().map(|a| ("action", a.join(","))))
        .chain(from.map(|t| ("from", t.0.to_string())))
        .chain(to.map(|t| ("to", t.0.to_string())))
        .collect();
    let names = state.core.audit.names(p, ctx).await.unwrap_or_default();
    let checkpoint = state.core.audit.latest_audit_checkpoint().await.ok().flatten().map(|c| c.note);
    let c = Chrome::new(tr, "audit.title", Some(p), csrf_for(Some(p), None), "/audit");
    let page = AuditPage {
        c,
        actor: f.actor.unwrap_or_default(),
        action: f.action.unwrap_or_default(),
        object: f.object.unwrap_or_default(),
        outcome: f.outcome.unwrap_or_default(),
        from: f.from.unwrap_or_default(),
        to: f.to.unwrap_or_default(),
        entries: entries
            .into_iter()
            .map(|e| AuditView {
                index: e.index,
                time: local_time(e.time.0),
                category: tr.t(&format!("audit_category.{}", e.category.as_str())).to_owned(),
                action_label: tr.get(&format!("audit_action.{}", e.action)).unwrap_or_default().to_owned(),
                action: e.action,
                actor: names.get(&e.actor).cloned().unwrap_or(e.actor),
                object: e.object.map(|o| names.get(&o).cloned().unwrap_or(o)).unwrap_or_default(),
                outcome: tr.t(&format!("audit_outcome.{}", e.outcome.as_str())).to_owned(),
                outcome_code: e.outcome.as_str(),
                source_ip: e.source_ip.unwrap_or_default(),
                details: e
                    .details
                    .iter()
                    .map(|(k, v)| {
                        let value = match k.as_str() {
                            // A person by name (`user:<id>`).
                            "assignee" => names.get(v).cloned().unwrap_or_else(|| v.clone()),
                            _ => detail_value(tr, k, v),
                        };
                        (tr.get(&format!("audit_detail.{k}")).unwrap_or(k).to_owned(), value)
                    })
                    .collect(),
            })
            .collect(),
        query: serde_urlencoded::to_string(&search).unwrap_or_default(),
        export_query: serde_urlencoded::to_string(&export).unwrap_or_default(),
        next_before,
        sizes: PAGE_SIZES,
        size,
        show_all,
        verification,
        public_key: state.core.audit.audit_public_key(),
        checkpoint,
    };
    render(&page)
}

/// Details whose value is a list of codes: permissions, roles, customer fields.
const CODE_LISTS: [&str; 12] = [
    "needs",
    "permissions",
    "roles",
    "from",
    "to",
    "fields",
    "confidential",
    "field",
    "grounds",
    "failures",
    "item",
    "flags",
];
/// Details whose value is a time in Unix milliseconds.
const TIMES: [&str; 6] =
    ["expires_at", "locked_until", "filter_from", "filter_to", "suppressed_until", "due"];

/// A detail's value in words where it is a code with a label (a lookup's purpose, a refusal's
/// reason, a reason the operator chose, permissions, roles, customer fields) or a time; other
/// values as written.
pub(super) fn detail_value(tr: crate::i18n::Tr, key: &str, value: &str) -> String {
    let label = match key {
        "reason_code" => tr.get(&format!("reason.{value}")),
        _ => tr.get(&format!("audit_value.{key}.{value}")),
    };
    if let Some(label) = label {
        return label.to_owned();
    }
    if TIMES.contains(&key)
        && let Ok(ms) = value.parse::<i64>()
    {
        return super::local_time(ms);
    }
    if !CODE_LISTS.contains(&key) || value.is_empty() {
        return value.to_owned();
    }
    let item = |code: &str| {
        // A route's refusal writes what it needs as `permission users.read`.
        let code = code.trim().strip_prefix("permission ").unwrap_or(code.trim());
        [
            format!("permission.{code}"),
            format!("role.{code}"),
            format!("customer_field.{code}"),
            format!("report_ground.{code}"),
            format!("posture_rule.{code}"),
            format!("access_reviews.flag.{code}"),
        ]
        .iter()
        .find_map(|k| tr.get(k))
        .map_or_else(|| code.to_owned(), str::to_owned)
    };
    value.split(',').map(item).collect::<Vec<_>>().join(tr.t("common.list_separator"))
}

#[cfg(test)]
mod tests {
    use super::detail_value;
    use crate::i18n::Tr;
    use mamori_domain::identity::Language;

    #[test]
    fn coded_values_read_as_words() {
        let ja = Tr(Language::Ja);
        assert_eq!(detail_value(ja, "purpose", "reason"), "理由を記載した検索");
        assert_eq!(detail_value(ja, "reason_code", "callback"), "折り返しの約束");
        assert_eq!(detail_value(ja, "reason", "team_scope"), "担当チーム外");
        assert_eq!(detail_value(Tr(Language::En), "by", "phone"), "phone number");
        assert_eq!(detail_value(ja, "results", "3"), "3", "other values as written");
        assert_eq!(detail_value(ja, "needs", "permission users.read"), "ユーザーの閲覧");
        assert_eq!(detail_value(ja, "to", "operator,auditor"), "オペレーター、監査人");
        assert_eq!(detail_value(ja, "fields", "phones,email"), "電話番号、メール");
        assert_eq!(detail_value(ja, "expires_at", "0"), "1970-01-01 09:00:00");
        assert_eq!(detail_value(ja, "due", "0"), "1970-01-01 09:00:00");
        assert_eq!(detail_value(ja, "suppressed_until", "0"), "1970-01-01 09:00:00");
        assert_eq!(
            detail_value(ja, "grounds", "financial,over_thousand"),
            "財産的被害のおそれ（カード番号など）、本人が1,000人を超える"
        );
        assert_eq!(detail_value(ja, "to", "contained"), "封じ込め済み");
        assert_eq!(detail_value(ja, "item", "police_report"), "警察への届出");
    }
}
