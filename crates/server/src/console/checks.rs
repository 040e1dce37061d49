//! Checks' pages (issue 18, item 4; ISMS-7, LEAK-2, LEAK-4). `/checks` (`checks.do`): the
//! checks I owe this period, overdue first, as large buttons; a supervisor's team's open
//! follow-ups with a form to resolve each, and the latest runs. `/checks/{id}`: the checklist
//! sized for a phone — one fieldset per item with three large choices (OK / 不備 / 対象外), a
//! note and a photo (taken with the camera) — sent as one multipart form, its CSRF token
//! checked like a vendor file's. `/isms/checks` (`isms.read`): overdue checks first, the
//! follow-ups, the checklists with this period's progress and the latest runs; for
//! `isms.manage` a form for a new checklist, retirement (confirmed) and resolving any
//! follow-up. Photos are opened through the API's routes (they take the console's session).

use super::isms::{jst_minute, refused_page, segment};
use super::isms_registers::{SubTab, code_label, confirm_page, sub_tabs};
use super::{Chrome, Form, Posted, check_csrf, csrf_for, error_text, message_page, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::problem::{CHECK_RUN_LIMIT, status_of};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{MatchedPath, Multipart, Path, Query, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::isms::checks::{Checklist, FollowUpView, NewPhoto, RunView};
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::{ChecksDo, IsmsManage, IsmsRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::OrgKind;
use mamori_domain::isms::checks::{Answer, ChecklistInput, Frequency, ItemResult, Performer, RunInput};

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/checks", Needs(ChecksDo), my_checks_page)
        .add(Method::GET, "/checks/{id}", Needs(ChecksDo), run_page)
        .add(
            Method::POST,
            "/checks/{id}",
            Needs(ChecksDo),
            record_run.layer(axum::extract::DefaultBodyLimit::max(CHECK_RUN_LIMIT)),
        )
        .add(Method::POST, "/checks/follow-ups/{id}/resolve", Needs(ChecksDo), resolve_mine)
        .add(Method::GET, "/isms/checks", Needs(IsmsRead), overview_page)
        .add(Method::POST, "/isms/checks", Needs(IsmsManage), create_checklist)
        .add(Method::GET, "/isms/checks/{id}/retire", Needs(IsmsManage), confirm_retire)
        .add(Method::POST, "/isms/checks/{id}/retire", Needs(IsmsManage), retire_checklist)
        .add(Method::POST, "/isms/checks/follow-ups/{id}/resolve", Needs(IsmsManage), resolve_any)
}

/// A follow-up as the pages list it.
pub struct FollowUpRow {
    pub id: String,
    pub checklist: String,
    pub item: String,
    pub note: String,
    pub who: String,
    pub opened: String,
    pub due_on: String,
    pub overdue: bool,
    pub resolved: Option<String>,
    pub resolution: String,
}

fn follow_up_row(f: &FollowUpView) -> FollowUpRow {
    let r = &f.record;
    FollowUpRow {
        id: r.id.clone(),
        checklist: f.checklist.clone(),
        item: format!("{}. {}", r.item + 1, r.item_text),
        note: r.note.clone(),
        who: f.user.clone(),
        opened: jst_minute(r.opened_at.0),
        due_on: r.due_on.clone(),
        overdue: f.overdue,
        resolved: r
            .resolved_at
            .map(|t| format!("{} {}", jst_minute(t.0), f.resolver.clone().unwrap_or_default())),
        resolution: r.resolution.clone(),
    }
}

/// A run as the pages list it.
pub struct RunRow {
    pub checklist: String,
    pub period: String,
    pub who: String,
    pub when: String,
    pub failed: i64,
    /// (item, result label, result class, note)
    pub answers: Vec<(String, String, &'static str, String)>,
    pub note: String,
    /// (href, label)
    pub photos: Vec<(String, String)>,
}

fn result_class(r: ItemResult) -> &'static str {
    match r {
        ItemResult::Ok => "state-working",
        ItemResult::NotOk => "warn",
        ItemResult::Na => "state-idle",
    }
}

fn run_row(tr: Tr, v: &RunView, photo_prefix: &str) -> RunRow {
    let r = &v.record;
    RunRow {
        checklist: v.checklist.clone(),
        period: r.period.clone(),
        who: match &v.team {
            Some(team) => format!("{} ({team})", v.user),
            None => v.user.clone(),
        },
        when: jst_minute(r.done_at.0),
        failed: r.failed,
        answers: v
            .answers
            .iter()
            .map(|(text, a)| {
                (
                    format!("{}. {text}", a.item + 1),
                    code_label(tr, "check_result", a.result.as_str()),
                    result_class(a.result),
                    a.note.clone(),
                )
            })
            .collect(),
        note: r.note.clone(),
        photos: v
            .photos
            .iter()
            .map(|p| {
                let label = match p.item {
                    Some(i) => tr.t("checks.photo_of_item").replace("{n}", &(i + 1).to_string()),
                    None => tr.t("checks.photo").to_owned(),
                };
                (format!("{photo_prefix}{}", segment(&p.id)), label)
            })
            .collect(),
    }
}

fn list_meta(tr: Tr, list: &Checklist) -> String {
    format!(
        "{} · {}",
        code_label(tr, "check_frequency", list.frequency.as_str()),
        code_label(tr, "check_performer", list.performer.as_str())
    )
}

#[derive(Debug, Default, serde::Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

/// One check I owe, as a large button.
pub struct MyCheckCard {
    pub href: String,
    pub title: String,
    pub meta: String,
    pub period: String,
    pub done: bool,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "checks.html")]
struct MyChecksPage {
    c: Chrome,
    checks: Vec<MyCheckCard>,
    follow_ups: Vec<FollowUpRow>,
    runs: Vec<RunRow>,
    supervisor: bool,
}

async fn my_checks_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<SavedQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    my_checks_view(&state, tr, &p, &ctx, q.saved.as_deref(), None).await
}

async fn my_checks_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    saved: Option<&str>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let mine = match state.core.isms.my_checks(p, ctx).await {
        Ok(m) => m,
        Err(e) => return refused_page(tr, &e),
    };
    let mut c = Chrome::new(tr, "checks.title", Some(p), csrf_for(Some(p), None), "/checks");
    if let Some(what) = saved {
        c.notice = tr.get(&format!("checks.saved_{what}")).map(str::to_owned);
    }
    let mut status = StatusCode::OK;
    if let Some((s, e)) = error {
        status = s;
        c.error = Some(e);
    }
    let page = MyChecksPage {
        c,
        checks: mine
            .checks
            .iter()
            .map(|m| MyCheckCard {
                href: format!("/checks/{}", segment(&m.list.record.id)),
                title: m.list.record.title.clone(),
                meta: list_meta(tr, &m.list),
                period: m.period.clone(),
                done: m.done.is_some(),
                overdue: m.overdue,
            })
            .collect(),
        follow_ups: mine.follow_ups.iter().map(follow_up_row).collect(),
        runs: mine.runs.iter().map(|r| run_row(tr, r, "/api/v1/checks/photos/")).collect(),
        supervisor: mine.supervisor,
    };
    (status, render(&page)).into_response()
}

#[derive(Template)]
#[template(path = "check_run.html")]
struct RunPage {
    c: Chrome,
    id: String,
    title: String,
    meta: String,
    /// (position, text, the result as typed, the note as typed)
    items: Vec<(usize, String, String, String)>,
    results: Vec<(&'static str, String)>,
    note: String,
}

async fn run_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    run_view(&state, tr, &p, &ctx, &id, None).await
}

/// A run refused: the status, the message, the answers as typed (result, note) and the note.
type Refused = (StatusCode, String, Vec<(String, String)>, String);

async fn run_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    refused: Option<Refused>,
) -> Response {
    let list = match state.core.isms.checklist(p, id, ctx).await {
        Ok(l) => l,
        Err(e) => return refused_page(tr, &e),
    };
    let mut c = Chrome::new(tr, "checks.title", Some(p), csrf_for(Some(p), None), "/checks");
    let (status, typed, note) = match refused {
        Some((s, e, typed, note)) => {
            c.error = Some(e);
            (s, typed, note)
        }
        None => (StatusCode::OK, vec![(String::new(), String::new()); list.items.len()], String::new()),
    };
    let page = RunPage {
        c,
        id: list.record.id.clone(),
        title: list.record.title.clone(),
        meta: list_meta(tr, &list),
        items: list
            .items
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let (chosen, note) = typed.get(i).cloned().unwrap_or_default();
                (i, text.clone(), chosen, note)
            })
            .collect(),
        results: ItemResult::ALL
            .iter()
            .map(|r| (r.as_str(), code_label(tr, "check_result", r.as_str())))
            .collect(),
        note,
    };
    (status, render(&page)).into_response()
}

/// The run as sent: the answers by item, the notes, the photos.
#[derive(Default)]
struct RunUpload {
    csrf: String,
    fields: Vec<(String, String)>,
    photos: Vec<NewPhoto>,
}

async fn read_run(mut multipart: Multipart) -> Result<RunUpload, StatusCode> {
    let mut up = RunUpload::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| e.status())? {
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(which) = name.strip_prefix("photo") {
            let media_type = field.content_type().unwrap_or_default().to_owned();
            let mut content = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| e.status())? {
                content.extend_from_slice(&chunk);
            }
            // A file input left empty sends an empty part.
            if !content.is_empty() {
                let item = which.strip_prefix('_').and_then(|n| n.parse::<usize>().ok());
                up.photos.push(NewPhoto { item, media_type, content });
            }
            continue;
        }
        let text = field.text().await.map_err(|e| e.status())?;
        if name == "_csrf" {
            up.csrf = text;
        } else {
            up.fields.push((name, text));
        }
    }
    Ok(up)
}

async fn record_run(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    matched: Option<MatchedPath>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let up = match multipart {
        Ok(m) => read_run(m).await,
        Err(e) => Err(e.status()),
    };
    let posted = Posted { principal: Some(&p), ctx: &ctx, method: &Method::POST, matched: matched.as_ref() };
    let expected = csrf_for(Some(&p), None);
    let up = match up {
        Ok(up) => up,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            return run_view(
                &state,
                tr,
                &p,
                &ctx,
                &id,
                Some((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    tr.t("checks.invalid_photos").to_owned(),
                    Vec::new(),
                    String::new(),
                )),
            )
            .await;
        }
        Err(_) => {
            let refused = check_csrf(&state, tr, &posted, &expected, "").await.err();
            return refused
                .unwrap_or_else(|| message_page(tr, StatusCode::BAD_REQUEST, "error.form_unreadable"));
        }
    };
    if let Err(refused) = check_csrf(&state, tr, &posted, &expected, &up.csrf).await {
        return refused;
    }
    let field = |name: &str| up.fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str());
    let mut answers = Vec::new();
    let mut typed = Vec::new();
    for i in 0..30 {
        let result = field(&format!("result_{i}"));
        let note = field(&format!("note_{i}"));
        if result.is_empty() && note.is_empty() && !up.fields.iter().any(|(k, _)| k == &format!("item_{i}")) {
            continue;
        }
        typed.push((result.to_owned(), note.to_owned()));
        if let Some(result) = ItemResult::parse(result) {
            answers.push(Answer { item: i, result, note: note.to_owned() });
        }
    }
    let note = field("note").to_owned();
    let input = RunInput { checklist_id: id.clone(), answers, note: note.clone() };
    match state.core.isms.record_check_run(&p, input, up.photos, &ctx).await {
        Ok(_) => Redirect::to("/checks?saved=run").into_response(),
        Err(e @ (CoreError::Forbidden(_) | CoreError::NotFound { .. })) => refused_page(tr, &e),
        Err(e) => {
            let text = match &e {
                CoreError::Invalid { field, .. } => tr
                    .get(&format!("checks.invalid_{}", field.replace('.', "_")))
                    .map_or_else(|| error_text(tr, &e), |t| format!("{t} ({})", error_text(tr, &e))),
                _ => error_text(tr, &e),
            };
            run_view(&state, tr, &p, &ctx, &id, Some((status_of(&e), text, typed, note))).await
        }
    }
}

async fn resolve_mine(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.isms.resolve_check_follow_up(&p, &id, form.text("note"), &ctx).await {
        Ok(()) => Redirect::to("/checks?saved=resolved#follow-ups").into_response(),
        Err(e @ CoreError::Invalid { .. }) => {
            let text = tr.t("checks.invalid_resolution").to_owned();
            my_checks_view(&state, tr, &p, &ctx, None, Some((status_of(&e), text))).await
        }
        Err(e) => refused_page(tr, &e),
    }
}

/// One checklist as the overview shows it.
pub struct ChecklistRow {
    pub id: String,
    pub title: String,
    pub meta: String,
    pub scope: String,
    pub items: Vec<String>,
    pub period: String,
    pub progress: String,
    pub complete: bool,
    pub retire_href: String,
}

/// The new checklist form as typed.
#[derive(Debug, Default)]
pub struct ChecklistForm {
    pub title: String,
    pub items: String,
    pub performer: String,
    pub frequency: String,
    pub site_id: String,
    pub team_id: String,
}

#[derive(Template)]
#[template(path = "isms_checks.html")]
struct OverviewPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    /// (checklist id, title, who, period, days text)
    overdue: Vec<(String, String, String, String, String)>,
    follow_ups: Vec<FollowUpRow>,
    checklists: Vec<ChecklistRow>,
    runs: Vec<RunRow>,
    can_manage: bool,
    form: ChecklistForm,
    form_error: Option<String>,
    performers: Vec<(&'static str, String)>,
    frequencies: Vec<(&'static str, String)>,
    sites: Vec<(String, String)>,
    teams: Vec<(String, String)>,
}

async fn overview_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<SavedQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    overview_view(&state, tr, &p, &ctx, q.saved.as_deref(), None).await
}

async fn overview_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    saved: Option<&str>,
    refused: Option<(ChecklistForm, StatusCode, String)>,
) -> Response {
    let o = match state.core.isms.checks_overview(p, ctx).await {
        Ok(o) => o,
        Err(e) => return refused_page(tr, &e),
    };
    let mut c = Chrome::new(tr, "isms_checks.title", Some(p), csrf_for(Some(p), None), "/isms/soa");
    if let Some(what) = saved {
        c.notice = tr.get(&format!("checks.saved_{what}")).map(str::to_owned);
    }
    let (status, form, form_error) = match refused {
        Some((form, s, e)) => (s, form, Some(e)),
        None => (
            StatusCode::OK,
            ChecklistForm { performer: "self".into(), frequency: "daily".into(), ..Default::default() },
            None,
        ),
    };
    let units = |kind| async move {
        state
            .core
            .identity
            .list_org(kind)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect::<Vec<_>>()
    };
    let page = OverviewPage {
        tabs: sub_tabs(tr, "/isms/checks"),
        overdue: o
            .overdue
            .iter()
            .map(|d| {
                (
                    d.checklist_id.clone(),
                    d.title.clone(),
                    d.who.clone(),
                    d.period.clone(),
                    super::isms_registers::days_text(tr, -d.days.max(1)),
                )
            })
            .collect(),
        follow_ups: o.follow_ups.iter().map(follow_up_row).collect(),
        checklists: o
            .checklists
            .iter()
            .map(|v| ChecklistRow {
                id: v.list.record.id.clone(),
                title: v.list.record.title.clone(),
                meta: list_meta(tr, &v.list),
                scope: match (&v.site, &v.team) {
                    (_, Some(team)) => team.clone(),
                    (Some(site), None) => site.clone(),
                    (None, None) => tr.t("isms_checks.everywhere").to_owned(),
                },
                items: v.list.items.clone(),
                period: v.period.clone(),
                progress: tr
                    .t("isms_checks.progress")
                    .replace("{done}", &v.done.to_string())
                    .replace("{owed}", &v.owed.to_string()),
                complete: v.done >= v.owed,
                retire_href: format!("/isms/checks/{}/retire", segment(&v.list.record.id)),
            })
            .collect(),
        runs: o.runs.iter().map(|r| run_row(tr, r, "/api/v1/isms/checks/photos/")).collect(),
        can_manage: p.can(IsmsManage),
        form,
        form_error,
        performers: Performer::ALL
            .iter()
            .map(|v| (v.as_str(), code_label(tr, "check_performer", v.as_str())))
            .collect(),
        frequencies: Frequency::ALL
            .iter()
            .map(|v| (v.as_str(), code_label(tr, "check_frequency", v.as_str())))
            .collect(),
        sites: units(OrgKind::Site).await,
        teams: units(OrgKind::Team).await,
        c,
    };
    (status, render(&page)).into_response()
}

async fn create_checklist(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = ChecklistForm {
        title: form.text("title").to_owned(),
        items: form.text("items").to_owned(),
        performer: form.text("performer").trim().to_owned(),
        frequency: form.text("frequency").trim().to_owned(),
        site_id: form.text("site_id").trim().to_owned(),
        team_id: form.text("team_id").trim().to_owned(),
    };
    let (Some(performer), Some(frequency)) =
        (Performer::parse(&typed.performer), Frequency::parse(&typed.frequency))
    else {
        let text = tr.t("isms_checks.invalid_kind").to_owned();
        return overview_view(
            &state,
            tr,
            &p,
            &ctx,
            None,
            Some((typed, StatusCode::UNPROCESSABLE_ENTITY, text)),
        )
        .await;
    };
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    let input = ChecklistInput {
        title: typed.title.clone(),
        items: typed.items.lines().map(str::to_owned).collect(),
        performer,
        frequency,
        site_id: some(&typed.site_id),
        team_id: some(&typed.team_id),
    };
    match state.core.isms.save_checklist(&p, None, input, &ctx).await {
        Ok(id) => {
            Redirect::to(&format!("/isms/checks?saved=checklist#checklist-{}", segment(&id))).into_response()
        }
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let text = match &e {
                CoreError::Invalid { field, .. } => tr
                    .get(&format!("isms_checks.invalid_{field}"))
                    .map_or_else(|| error_text(tr, &e), str::to_owned),
                _ => error_text(tr, &e),
            };
            overview_view(&state, tr, &p, &ctx, None, Some((typed, status_of(&e), text))).await
        }
    }
}

/// "Are you sure?" before a checklist is retired.
async fn confirm_retire(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let list = match state.core.isms.checklist(&p, &id, &ctx).await {
        Ok(l) => l,
        Err(e) => return refused_page(tr, &e),
    };
    confirm_page(
        tr,
        &p,
        tr.t("isms_checks.retire_question").replace("{title}", &list.record.title),
        vec![tr.t("isms_checks.retire_effect").to_owned()],
        format!("/isms/checks/{}", segment(&id)),
    )
}

async fn retire_checklist(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.isms.retire_checklist(&p, &id, &ctx).await {
        Ok(()) => Redirect::to("/isms/checks?saved=retired").into_response(),
        Err(e) => refused_page(tr, &e),
    }
}

async fn resolve_any(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.isms.resolve_check_follow_up(&p, &id, form.text("note"), &ctx).await {
        Ok(()) => Redirect::to("/isms/checks?saved=resolved#follow-ups").into_response(),
        Err(CoreError::Invalid { .. }) => super::message_page_text(
            tr,
            StatusCode::UNPROCESSABLE_ENTITY,
            tr.t("checks.invalid_resolution").to_owned(),
        ),
        Err(e) => refused_page(tr, &e),
    }
}
