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
    r.add(Method::GET, "/audit", Needs(AuditRead), audit_page)
}

/// Rows per page.
const PAGE: i64 = 100;

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
}

pub struct AuditView {
    pub index: u64,
    pub time: String,
    pub category: &'static str,
    pub action: String,
    pub actor: String,
    pub object: String,
    pub outcome: &'static str,
    pub source_ip: String,
    pub details: String,
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
    let tr = tr_for(&headers, Some(&p));
    let Query(f) = q.unwrap_or_default();
    let clean = |s: &Option<String>| s.as_ref().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let from = clean(&f.from).and_then(|d| day_start(&d));
    let to = clean(&f.to).and_then(|d| day_start(&d)).map(|t| UnixMillis(t.0 + 86_400_000));
    let query = AuditSearch {
        actor: clean(&f.actor),
        action: clean(&f.action),
        object: clean(&f.object),
        outcome: clean(&f.outcome),
        from,
        to,
        before_index: f.before,
        limit: PAGE,
    };
    let entries = match state.core.audit.search_audit(&p, &query, &ctx).await {
        Ok(e) => e,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let next_before = if entries.len() as i64 == PAGE { entries.last().map(|e| e.index) } else { None };
    let mut params: Vec<(&str, String)> = Vec::new();
    for (name, value) in [
        ("actor", &query.actor),
        ("action", &query.action),
        ("object", &query.object),
        ("outcome", &query.outcome),
    ] {
        if let Some(v) = value {
            params.push((name, v.clone()));
        }
    }
    let search: Vec<(&str, String)> = params
        .iter()
        .cloned()
        .chain(clean(&f.from).map(|d| ("from", d)))
        .chain(clean(&f.to).map(|d| ("to", d)))
        .collect();
    // The export API takes the time range in Unix milliseconds.
    let export: Vec<(&str, String)> = params
        .into_iter()
        .chain(from.map(|t| ("from", t.0.to_string())))
        .chain(to.map(|t| ("to", t.0.to_string())))
        .collect();
    let checkpoint = state.core.audit.latest_audit_checkpoint().await.ok().flatten().map(|c| c.note);
    let c = Chrome::new(tr, "audit.title", Some(&p), csrf_for(Some(&p), None), "/audit");
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
                category: e.category.as_str(),
                action: e.action,
                actor: e.actor,
                object: e.object.unwrap_or_default(),
                outcome: e.outcome.as_str(),
                source_ip: e.source_ip.unwrap_or_default(),
                details: serde_json::to_string(&e.details).unwrap_or_default(),
            })
            .collect(),
        query: serde_urlencoded::to_string(&search).unwrap_or_default(),
        export_query: serde_urlencoded::to_string(&export).unwrap_or_default(),
        next_before,
        public_key: state.core.audit.audit_public_key(),
        checkpoint,
    };
    render(&page)
}
