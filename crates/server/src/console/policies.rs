//! Policies with acknowledgements (issue 18, item 1; ISMS-2, ISMS-3, LEAK-7) in the console.
//!
//! - `/policies`: the documents published to me, those still to acknowledge first, and what
//!   keeps me from looking customers up (the pledge, when the option is on);
//! - `/policies/{id}`: a document's version in force rendered from Markdown (no raw HTML), the
//!   acknowledgement form [同意] (a box to tick, then the button); for `isms.read` who has not
//!   acknowledged, the versions with their diffs, and for `isms.manage` the draft, publishing
//!   (confirmed first) and reminders;
//! - `/policies/{id}/diff?from=&to=`: what changed between two versions;
//! - `/isms/policies`: every document with its acknowledgement rate and who has not, the
//!   policy option, and a form for a new document.

use super::isms::{actor_name, jst_minute, refused_page};
use super::isms_registers::{SubTab, sub_tabs};
use super::{Chrome, ConfirmPage, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::isms::policies::PolicyStatus;
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::{IsmsManage, IsmsRead, PoliciesRead};
use mamori_domain::Role;
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::OrgKind;
use mamori_domain::isms::policy::{DraftInput, PolicyInput, PolicyKind, PolicyScope, render_markdown};
use std::collections::HashMap;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/policies", Needs(PoliciesRead), my_page)
        .add(Method::GET, "/policies/{id}", Needs(PoliciesRead), document_page)
        .add(Method::GET, "/policies/{id}/diff", Needs(PoliciesRead), diff_page)
        .add(Method::POST, "/policies/{id}/acknowledge", Needs(PoliciesRead), acknowledge)
        .add(Method::GET, "/isms/policies", Needs(IsmsRead), overview_page)
        .add(Method::POST, "/isms/policies", Needs(IsmsManage), create)
        .add(Method::POST, "/isms/policies/option", Needs(IsmsManage), set_option)
        .add(Method::POST, "/isms/policies/{id}/draft", Needs(IsmsManage), save_draft)
        .add(Method::GET, "/isms/policies/{id}/publish", Needs(IsmsManage), confirm_publish)
        .add(Method::POST, "/isms/policies/{id}/publish", Needs(IsmsManage), publish)
        .add(Method::POST, "/isms/policies/{id}/remind", Needs(IsmsManage), remind)
}

fn kind_label(tr: Tr, kind: &str) -> String {
    tr.get(&format!("policy_kind.{kind}")).map_or_else(|| kind.to_owned(), str::to_owned)
}

fn is_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

fn not_found(tr: Tr) -> Response {
    super::message_page(tr, StatusCode::NOT_FOUND, "policies.not_found")
}

/// Who a scope reaches, in words: "オペレーター · 通販A社" or "全員".
fn scope_text(tr: Tr, scope: &PolicyScope, names: &HashMap<String, String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !scope.roles.is_empty() {
        parts.push(
            scope
                .roles
                .iter()
                .map(|r| tr.t(&format!("role.{}", r.as_str())).to_owned())
                .collect::<Vec<_>>()
                .join("・"),
        );
    }
    for ids in [&scope.sites, &scope.clients] {
        if !ids.is_empty() {
            parts.push(
                ids.iter()
                    .map(|i| names.get(i).cloned().unwrap_or_else(|| i.clone()))
                    .collect::<Vec<_>>()
                    .join("・"),
            );
        }
    }
    if parts.is_empty() { tr.t("policies.scope_everyone").to_owned() } else { parts.join(" / ") }
}

/// Sites and client companies by id.
async fn org_names(state: &AppState) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for kind in [OrgKind::Site, OrgKind::Client] {
        let units = state.core.identity.list_org(kind).await.unwrap_or_default();
        names.extend(units.into_iter().map(|u| (u.id, u.name)));
    }
    names
}

// ---------------------------------------------------------------------------------------------
// My policies.

pub struct MyRow {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub version: i64,
    pub published: String,
    pub acknowledged: Option<String>,
}

/// Something to do before looking customers up, as a link.
pub struct NeedRow {
    pub href: String,
    pub title: String,
    /// What to do there, as a catalogue key (acknowledge a policy, pass a course).
    pub what: &'static str,
}

#[derive(Template)]
#[template(path = "policies.html")]
struct MyPage {
    c: Chrome,
    to_do: Vec<MyRow>,
    done: Vec<MyRow>,
    needs: Vec<NeedRow>,
    can_keep: bool,
}

async fn my_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let mine = match state.core.isms.my_policies(&p, &ctx).await {
        Ok(m) => m,
        Err(e) => return refused_page(tr, &e),
    };
    let needs = lookup_needs(&state, &p).await;
    let (done, to_do): (Vec<_>, Vec<_>) = mine
        .into_iter()
        .map(|m| MyRow {
            kind: kind_label(tr, &m.record.kind),
            id: m.record.id,
            title: m.record.title,
            version: m.version,
            published: m.published_at.map(|t| jst_minute(t.0)).unwrap_or_default(),
            acknowledged: m.acknowledged_at.map(|t| jst_minute(t.0)),
        })
        .partition(|r| r.acknowledged.is_some());
    let c = Chrome::new(tr, "policies.title", Some(&p), csrf_for(Some(&p), None), "/policies");
    render(&MyPage { c, to_do, done, needs, can_keep: p.can(IsmsRead) })
}

/// What keeps the person from looking customers up, as links (the workspace shows them too).
pub(super) async fn lookup_needs(state: &AppState, p: &Principal) -> Vec<NeedRow> {
    state
        .core
        .vault
        .lookup_prerequisites(p)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|n| NeedRow {
            what: if n.reason == "training_not_passed" {
                "training.take_and_pass"
            } else {
                "policies.read_and_acknowledge"
            },
            href: n.href,
            title: n.title,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// One document.

pub struct VersionRow {
    pub version: i64,
    pub note: String,
    pub drafted: String,
    pub drafted_by: String,
    pub published: Option<String>,
    pub published_by: String,
    /// The version before it, for the diff link.
    pub previous: Option<i64>,
}

pub struct AckRow {
    pub name: String,
    pub version: i64,
    pub at: String,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct DocumentPage {
    c: Chrome,
    id: String,
    kind: String,
    title: String,
    scope: String,
    /// The version in force, rendered (safe HTML), with when and by whom it was published.
    current: Option<(i64, String, String, String)>,
    in_my_scope: bool,
    my_acknowledgement: Option<String>,
    versions: Vec<VersionRow>,
    keeper: bool,
    can_manage: bool,
    /// For keepers: (in scope, acknowledged, pending names).
    status: Option<(usize, usize, Vec<String>)>,
    acknowledgements: Vec<AckRow>,
    /// The draft: version, Markdown, note, rendered preview.
    draft: Option<(i64, String, String, String)>,
    /// The draft form's text when there is no draft: the version in force's.
    draft_seed: String,
    form_error: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn document_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    document_view(&state, tr, &p, &ctx, &id, q.done.as_deref(), None).await
}

async fn document_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    done: Option<&str>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    if !is_uuid(id) {
        return not_found(tr);
    }
    let d = match state.core.isms.policy_detail(p, id, ctx).await {
        Ok(d) => d,
        Err(CoreError::NotFound { .. }) => return not_found(tr),
        Err(e) => return refused_page(tr, &e),
    };
    let names = &d.names;
    let org = org_names(state).await;
    let who = |actor: &str| actor_name(tr, actor, names);
    let current =
        d.record.published_version.and_then(|v| d.versions.iter().find(|x| x.version == v)).map(|v| {
            (
                v.version,
                render_markdown(&v.body),
                v.published_at.map(|t| jst_minute(t.0)).unwrap_or_default(),
                v.published_by.as_deref().map(who).unwrap_or_default(),
            )
        });
    let published: Vec<i64> =
        d.versions.iter().filter(|v| v.published_at.is_some()).map(|v| v.version).collect();
    let versions = d
        .versions
        .iter()
        .map(|v| VersionRow {
            version: v.version,
            note: v.note.clone(),
            drafted: jst_minute(v.drafted_at.0),
            drafted_by: who(&v.drafted_by),
            published: v.published_at.map(|t| jst_minute(t.0)),
            published_by: v.published_by.as_deref().map(who).unwrap_or_default(),
            previous: d.versions.iter().map(|x| x.version).filter(|x| *x < v.version).max(),
        })
        .collect();
    let draft = d
        .record
        .draft_version
        .and_then(|v| d.versions.iter().find(|x| x.version == v))
        .map(|v| (v.version, v.body.clone(), v.note.clone(), render_markdown(&v.body)));
    let draft_seed = published
        .first()
        .and_then(|v| d.versions.iter().find(|x| x.version == *v))
        .map(|v| v.body.clone())
        .unwrap_or_default();
    let status = d.status.as_ref().map(|s: &PolicyStatus| {
        (s.in_scope, s.acknowledged, s.pending.iter().map(|(_, n)| n.clone()).collect())
    });
    let acknowledgements = d
        .acknowledgements
        .iter()
        .map(|a| AckRow {
            name: names.get(&a.user_id).cloned().unwrap_or_else(|| a.user_id.clone()),
            version: a.version,
            at: jst_minute(a.acknowledged_at.0),
        })
        .collect();
    let (status_code, form_error) = match refused {
        Some((s, t)) => (s, Some(t)),
        None => (StatusCode::OK, None),
    };
    let c = Chrome::new(tr, "policies.document", Some(p), csrf_for(Some(p), None), "/policies");
    let c = match done {
        Some(k) if ["acknowledged", "draft_saved", "published", "reminded"].contains(&k) => {
            let mut c = c;
            c.notice = tr.get(&format!("policies.done_{k}")).map(str::to_owned);
            c
        }
        _ => c,
    };
    let page = DocumentPage {
        c,
        id: d.record.id.clone(),
        kind: kind_label(tr, &d.record.kind),
        title: d.record.title.clone(),
        scope: scope_text(tr, &d.scope, &org),
        current,
        in_my_scope: d.in_my_scope,
        my_acknowledgement: d.my_acknowledgement.map(|t| jst_minute(t.0)),
        versions,
        keeper: p.can(IsmsRead),
        can_manage: p.can(IsmsManage),
        status,
        acknowledgements,
        draft,
        draft_seed,
        form_error,
    };
    (status_code, render(&page)).into_response()
}

async fn acknowledge(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    if form.text("agree") != "on" {
        let refused = (StatusCode::UNPROCESSABLE_ENTITY, tr.t("policies.agree_required").to_owned());
        return document_view(&state, tr, &p, &ctx, &id, None, Some(refused)).await;
    }
    let Ok(version) = form.text("version").trim().parse::<i64>() else {
        let refused = (StatusCode::UNPROCESSABLE_ENTITY, tr.t("policies.version_changed").to_owned());
        return document_view(&state, tr, &p, &ctx, &id, None, Some(refused)).await;
    };
    match state.core.isms.acknowledge_policy(&p, &id, version, &ctx).await {
        Ok(()) => Redirect::to(&format!("/policies/{id}?done=acknowledged")).into_response(),
        Err(CoreError::Invalid { field: "version", .. }) => {
            let refused = (StatusCode::CONFLICT, tr.t("policies.version_changed").to_owned());
            document_view(&state, tr, &p, &ctx, &id, None, Some(refused)).await
        }
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = (crate::problem::status_of(&e), error_text(tr, &e));
            document_view(&state, tr, &p, &ctx, &id, None, Some(refused)).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The diff.

pub struct DiffRow {
    pub change: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "policy_diff.html")]
struct DiffPage {
    c: Chrome,
    id: String,
    title: String,
    from: i64,
    to: i64,
    lines: Vec<DiffRow>,
    added: usize,
    removed: usize,
}

#[derive(Debug, Default, serde::Deserialize)]
struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn diff_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    let number = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok());
    let (Some(from), Some(to)) = (number(&q.from), number(&q.to)) else {
        return super::message_page(tr, StatusCode::BAD_REQUEST, "policies.diff_bad_versions");
    };
    let detail = match state.core.isms.policy_detail(&p, &id, &ctx).await {
        Ok(d) => d,
        Err(CoreError::NotFound { .. }) => return not_found(tr),
        Err(e) => return refused_page(tr, &e),
    };
    let lines = match state.core.isms.policy_diff(&p, &id, from, to, &ctx).await {
        Ok(l) => l,
        Err(CoreError::Invalid { .. }) => {
            return super::message_page(tr, StatusCode::UNPROCESSABLE_ENTITY, "policies.diff_bad_versions");
        }
        Err(e) => return refused_page(tr, &e),
    };
    let added = lines.iter().filter(|l| l.change == "added").count();
    let removed = lines.iter().filter(|l| l.change == "removed").count();
    let c = Chrome::new(tr, "policies.diff_title", Some(&p), csrf_for(Some(&p), None), "/policies");
    render(&DiffPage {
        c,
        id,
        title: detail.record.title,
        from,
        to,
        lines: lines.into_iter().map(|l| DiffRow { change: l.change, text: l.text }).collect(),
        added,
        removed,
    })
}

// ---------------------------------------------------------------------------------------------
// The security admin's side.

pub struct OverviewRow {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub scope: String,
    pub version: Option<i64>,
    pub draft: Option<i64>,
    pub in_scope: usize,
    pub acknowledged: usize,
    pub percent: usize,
    /// The first names of those who have not acknowledged, and how many more.
    pub pending: Vec<String>,
    pub more: usize,
}

/// The new-document form as typed.
#[derive(Debug, Default)]
pub struct NewForm {
    pub kind: String,
    pub title: String,
    pub roles: Vec<String>,
    pub sites: Vec<String>,
    pub clients: Vec<String>,
    pub body: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "isms_policies.html")]
struct OverviewPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    rows: Vec<OverviewRow>,
    owed: usize,
    lookups_require_pledge: bool,
    can_manage: bool,
    form: NewForm,
    form_error: Option<String>,
    kind_options: Vec<(&'static str, String)>,
    role_options: Vec<(&'static str, String)>,
    site_options: Vec<(String, String)>,
    client_options: Vec<(String, String)>,
}

const PENDING_SHOWN: usize = 8;

async fn overview_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<DoneQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    overview_view(&state, tr, &p, &ctx, q.done.as_deref(), None, None).await
}

async fn overview_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    done: Option<&str>,
    typed: Option<NewForm>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let overview = match state.core.isms.policy_overview(p, ctx).await {
        Ok(o) => o,
        Err(e) => return refused_page(tr, &e),
    };
    let org = org_names(state).await;
    let mut rows: Vec<OverviewRow> = overview
        .policies
        .into_iter()
        .map(|s| OverviewRow {
            kind: kind_label(tr, &s.record.kind),
            scope: scope_text(tr, &s.scope, &org),
            version: s.record.published_version,
            draft: s.record.draft_version,
            in_scope: s.in_scope,
            acknowledged: s.acknowledged,
            percent: (s.acknowledged * 100).checked_div(s.in_scope).unwrap_or(100),
            more: s.pending.len().saturating_sub(PENDING_SHOWN),
            pending: s.pending.into_iter().take(PENDING_SHOWN).map(|(_, n)| n).collect(),
            id: s.record.id,
            title: s.record.title,
        })
        .collect();
    // Problems first: the documents with the most people still to acknowledge.
    rows.sort_by_key(|r| std::cmp::Reverse(r.in_scope - r.acknowledged));
    let owed = rows.iter().map(|r| r.in_scope - r.acknowledged).sum();
    let (status, form_error) = match refused {
        Some((s, t)) => (s, Some(t)),
        None => (StatusCode::OK, None),
    };
    let mut c =
        Chrome::new(tr, "policies.overview_title", Some(p), csrf_for(Some(p), None), "/isms/policies");
    if let Some(k) = done.filter(|k| ["created", "option"].contains(k)) {
        c.notice = tr.get(&format!("policies.done_{k}")).map(str::to_owned);
    }
    let units = |kind| async move {
        let units = state.core.identity.list_org(kind).await.unwrap_or_default();
        units.into_iter().map(|u| (u.id, u.name)).collect::<Vec<(String, String)>>()
    };
    let (sites, clients) = (units(OrgKind::Site).await, units(OrgKind::Client).await);
    let page = OverviewPage {
        c,
        tabs: sub_tabs(tr, "/isms/policies"),
        rows,
        owed,
        lookups_require_pledge: overview.lookups_require_pledge,
        can_manage: p.can(IsmsManage),
        form: typed.unwrap_or_else(|| NewForm {
            kind: PolicyKind::ConfidentialityPledge.as_str().to_owned(),
            ..Default::default()
        }),
        form_error,
        kind_options: PolicyKind::ALL.iter().map(|k| (k.as_str(), kind_label(tr, k.as_str()))).collect(),
        role_options: Role::ALL
            .iter()
            .map(|r| (r.as_str(), tr.t(&format!("role.{}", r.as_str())).to_owned()))
            .collect(),
        site_options: sites,
        client_options: clients,
    };
    (status, render(&page)).into_response()
}

/// A refusal of a form in words: the field's own sentence when the catalogue has one.
fn form_error(tr: Tr, e: &CoreError) -> String {
    match e {
        CoreError::Invalid { field, .. } => tr
            .get(&format!("policies.invalid_{}", field.replace('.', "_")))
            .map_or_else(|| error_text(tr, e), str::to_owned),
        _ => error_text(tr, e),
    }
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = NewForm {
        kind: form.text("kind").trim().to_owned(),
        title: form.text("title").to_owned(),
        roles: form.all("roles"),
        sites: form.all("sites"),
        clients: form.all("clients"),
        body: form.text("body").to_owned(),
        note: form.text("note").to_owned(),
    };
    let refuse = |key: &str| Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t(key).to_owned()));
    let Some(kind) = PolicyKind::parse(&typed.kind) else {
        return overview_view(&state, tr, &p, &ctx, None, Some(typed), refuse("policies.invalid_kind")).await;
    };
    let Ok(roles) = typed.roles.iter().map(|r| r.parse::<Role>()).collect::<Result<Vec<_>, _>>() else {
        return overview_view(
            &state,
            tr,
            &p,
            &ctx,
            None,
            Some(typed),
            refuse("policies.invalid_scope_roles"),
        )
        .await;
    };
    let input = PolicyInput {
        kind,
        title: typed.title.clone(),
        scope: PolicyScope { roles, sites: typed.sites.clone(), clients: typed.clients.clone() },
        body: typed.body.clone(),
        note: typed.note.clone(),
    };
    match state.core.isms.create_policy(&p, input, &ctx).await {
        Ok(id) => Redirect::to(&format!("/policies/{id}?done=draft_saved")).into_response(),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            overview_view(&state, tr, &p, &ctx, None, Some(typed), refused).await
        }
    }
}

async fn set_option(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let on = form.text("lookups_require_pledge") == "on";
    match state.core.isms.set_lookups_require_pledge(&p, on, &ctx).await {
        Ok(()) => Redirect::to("/isms/policies?done=option").into_response(),
        Err(e) => refused_page(tr, &e),
    }
}

async fn save_draft(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    let input = DraftInput { body: form.text("body").to_owned(), note: form.text("note").to_owned() };
    match state.core.isms.save_policy_draft(&p, &id, input, &ctx).await {
        Ok(_) => Redirect::to(&format!("/policies/{id}?done=draft_saved#draft")).into_response(),
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            document_view(&state, tr, &p, &ctx, &id, None, refused).await
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct VersionQuery {
    version: Option<String>,
}

/// Publishing is confirmed first: it puts the text in force and asks everyone in scope to
/// acknowledge it again.
async fn confirm_publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    let d = match state.core.isms.policy_detail(&p, &id, &ctx).await {
        Ok(d) => d,
        Err(CoreError::NotFound { .. }) => return not_found(tr),
        Err(e) => return refused_page(tr, &e),
    };
    let asked = q.version.as_deref().and_then(|v| v.parse::<i64>().ok());
    let Some(version) = d.record.draft_version.filter(|v| Some(*v) == asked) else {
        return super::message_page(tr, StatusCode::CONFLICT, "policies.no_draft");
    };
    let in_scope =
        d.status.as_ref().map_or(0, |s| if d.record.published_version.is_some() { s.in_scope } else { 0 });
    let question = tr
        .t("policies.publish_question")
        .replace("{title}", &d.record.title)
        .replace("{version}", &version.to_string());
    let mut effects = vec![tr.t("policies.publish_effect").to_owned()];
    if in_scope > 0 {
        effects.push(tr.t("policies.publish_effect_again").replace("{n}", &in_scope.to_string()));
    }
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), "/policies");
    render(&ConfirmPage {
        c,
        question,
        effects,
        action: format!("/isms/policies/{id}/publish"),
        fields: vec![("version".into(), version.to_string())],
        ask_message: false,
        cancel: format!("/policies/{id}"),
        danger: false,
    })
}

async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    let Ok(version) = form.text("version").trim().parse::<i64>() else {
        return super::message_page(tr, StatusCode::UNPROCESSABLE_ENTITY, "policies.no_draft");
    };
    match state.core.isms.publish_policy(&p, &id, version, &ctx).await {
        Ok(_) => Redirect::to(&format!("/policies/{id}?done=published")).into_response(),
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(CoreError::Conflict(_)) => super::message_page(tr, StatusCode::CONFLICT, "policies.no_draft"),
        Err(e) => refused_page(tr, &e),
    }
}

async fn remind(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    match state.core.isms.remind_policy(&p, &id, &ctx).await {
        Ok(_) => Redirect::to(&format!("/policies/{id}?done=reminded")).into_response(),
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e) => refused_page(tr, &e),
    }
}
