//! Internal audits' page (issue 18, item 5; ISMS-7): `/isms/audits` lists the findings first —
//! overdue corrective actions on top, closed ones last — each with its root cause, action,
//! owner, due date and history, and the form its state allows (plan the action, mark it done,
//! check its effect, acknowledge an observation); then the audits with their controls, report
//! and findings; for `isms.manage`, forms to plan an audit, record its report and raise a
//! finding.

use super::isms::{jst_minute, refused_page, segment};
use super::isms_registers::{SubTab, code_label, days_text, owners, sub_tabs, today};
use super::{Chrome, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::isms::internal_audits::FindingView;
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::{IsmsManage, IsmsRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::isms::internal_audit::{AuditInput, FindingInput, FindingKind, FindingState, FindingStep};

/// Where the navigation's ISMS entry points (as on every ISMS page).
const NAV_HREF: &str = "/isms/soa";

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/isms/audits", Needs(IsmsRead), audits_page)
        .add(Method::POST, "/isms/audits", Needs(IsmsManage), plan_audit)
        .add(Method::POST, "/isms/audits/{id}/report", Needs(IsmsManage), report_audit)
        .add(Method::POST, "/isms/audits/{id}/findings", Needs(IsmsManage), raise_finding)
        .add(Method::POST, "/isms/findings/{id}/step", Needs(IsmsManage), finding_step)
}

/// A refusal in words: the field's own sentence when the catalogue has one.
fn form_error(tr: Tr, e: &CoreError) -> String {
    match e {
        CoreError::Invalid { field, .. } => {
            tr.get(&format!("isms_audits.invalid_{field}")).map_or_else(|| error_text(tr, e), str::to_owned)
        }
        _ => error_text(tr, e),
    }
}

/// A finding as its row shows it.
pub struct FindingRow {
    pub id: String,
    pub number: i64,
    pub kind: String,
    pub kind_class: &'static str,
    pub audit: String,
    pub control: String,
    pub description: String,
    pub state: String,
    pub state_code: &'static str,
    pub root_cause: String,
    pub action: String,
    pub owner: String,
    pub owner_id: String,
    pub due_on: String,
    pub due: String,
    pub overdue: bool,
    pub nonconformity: bool,
    /// (when, step in words, who, note)
    pub steps: Vec<(String, String, String, String)>,
}

fn finding_row(tr: Tr, f: &FindingView) -> FindingRow {
    let r = &f.record;
    let kind = FindingKind::parse(&r.kind);
    let state = FindingState::parse(&r.state).unwrap_or(FindingState::Open);
    FindingRow {
        id: r.id.clone(),
        number: r.number,
        kind: code_label(tr, "finding_kind", &r.kind),
        kind_class: match kind {
            Some(FindingKind::MajorNonconformity) => "warn",
            Some(FindingKind::MinorNonconformity) => "state-idle",
            _ => "",
        },
        audit: f.audit.clone(),
        control: f.control.clone().unwrap_or_default(),
        description: r.description.clone(),
        state: code_label(tr, "finding_state", &r.state),
        state_code: state.as_str(),
        root_cause: r.root_cause.clone(),
        action: r.corrective_action.clone(),
        owner: f.owner.clone().unwrap_or_default(),
        owner_id: r.owner_id.clone().unwrap_or_default(),
        due_on: r.due_on.clone().unwrap_or_default(),
        due: f.days_left.map(|d| days_text(tr, d)).unwrap_or_default(),
        overdue: f.days_left.is_some_and(|d| d < 0),
        nonconformity: kind.is_some_and(FindingKind::is_nonconformity),
        steps: f
            .steps
            .iter()
            .map(|s| {
                (
                    jst_minute(s.record.at.0),
                    code_label(tr, "finding_step", &s.record.step),
                    s.actor.clone().unwrap_or_default(),
                    s.record.note.clone(),
                )
            })
            .collect(),
    }
}

/// An audit as its card shows it.
pub struct AuditCard {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub scope: String,
    pub auditor: String,
    pub planned_on: String,
    pub held_on: String,
    pub report: String,
    pub controls: Vec<(String, String)>,
    pub findings: String,
}

#[derive(Debug, Default, serde::Deserialize)]
struct AuditsQuery {
    saved: Option<String>,
}

#[derive(Template)]
#[template(path = "isms_audits.html")]
struct AuditsPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    findings: Vec<FindingRow>,
    overdue: usize,
    audits: Vec<AuditCard>,
    can_manage: bool,
    error: Option<String>,
    people: Vec<(String, String)>,
    controls: Vec<(String, String)>,
    kind_options: Vec<(&'static str, String)>,
    today: String,
}

async fn audits_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<AuditsQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    audits_view(&state, tr, &p, &ctx, q.saved.as_deref(), None).await
}

async fn audits_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    saved: Option<&str>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let register = match state.core.isms.internal_audits(p, ctx).await {
        Ok(r) => r,
        Err(e) => return refused_page(tr, &e),
    };
    let can_manage = p.can(IsmsManage);
    let (status, error) = match refused {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let mut c = Chrome::new(tr, "isms_audits.title", Some(p), csrf_for(Some(p), None), NAV_HREF);
    if let Some(what) = saved {
        c.notice = tr.get(&format!("isms_audits.saved_{what}")).map(str::to_owned);
    }
    let findings: Vec<FindingRow> = register.findings.iter().map(|f| finding_row(tr, f)).collect();
    let controls = if can_manage {
        state
            .core
            .isms
            .soa(p, None, None, ctx)
            .await
            .map(|soa| {
                soa.lines
                    .iter()
                    .filter(|l| l.control.assessable)
                    .map(|l| {
                        let name = l.control.name_ja.clone().unwrap_or_else(|| l.control.name.clone());
                        (l.control.urn.clone(), format!("{} {}", l.control.ref_id, name))
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let page = AuditsPage {
        c,
        tabs: sub_tabs(tr, "/isms/audits"),
        overdue: findings.iter().filter(|f| f.overdue).count(),
        findings,
        audits: register
            .audits
            .iter()
            .map(|a| AuditCard {
                id: a.record.id.clone(),
                number: a.record.number,
                title: a.record.title.clone(),
                scope: a.record.scope.clone(),
                auditor: a.auditor.clone().unwrap_or_default(),
                planned_on: a.record.planned_on.clone(),
                held_on: a.record.held_on.clone().unwrap_or_default(),
                report: a.record.report.clone(),
                controls: a.controls.clone(),
                findings: tr
                    .t("isms_audits.findings_count")
                    .replace("{n}", &a.findings.0.to_string())
                    .replace("{open}", &a.findings.1.to_string()),
            })
            .collect(),
        can_manage,
        error,
        people: if can_manage { owners(state, p, ctx).await } else { Vec::new() },
        controls,
        kind_options: FindingKind::ALL
            .iter()
            .map(|k| (k.as_str(), code_label(tr, "finding_kind", k.as_str())))
            .collect(),
        today: today(),
    };
    (status, render(&page)).into_response()
}

/// After a change: back to the page with its notice, or the page again with the refusal.
async fn answer(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    result: Result<(), CoreError>,
    saved: &str,
    anchor: &str,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/isms/audits?saved={saved}{anchor}")).into_response(),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            audits_view(state, tr, p, ctx, None, refused).await
        }
    }
}

async fn plan_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let input = AuditInput {
        title: form.text("title").to_owned(),
        scope: form.text("scope").to_owned(),
        controls: form.all("controls"),
        auditor_id: form.text("auditor_id").trim().to_owned(),
        planned_on: form.text("planned_on").trim().to_owned(),
    };
    let result = state.core.isms.plan_internal_audit(&p, input, &ctx).await.map(|_| ());
    answer(&state, tr, &p, &ctx, result, "audit", "#audits").await
}

async fn report_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let result =
        state.core.isms.report_internal_audit(&p, &id, form.text("held_on"), form.text("report"), &ctx).await;
    answer(&state, tr, &p, &ctx, result, "report", &format!("#audit-{}", segment(&id))).await
}

async fn raise_finding(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let Some(kind) = FindingKind::parse(form.text("kind").trim()) else {
        let refused = Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t("isms_audits.invalid_kind").to_owned()));
        return audits_view(&state, tr, &p, &ctx, None, refused).await;
    };
    let input = FindingInput {
        kind,
        control: form.optional("control"),
        description: form.text("description").to_owned(),
    };
    let result = state.core.isms.raise_finding(&p, &id, input, &ctx).await.map(|_| ());
    answer(&state, tr, &p, &ctx, result, "finding", "#findings").await
}

async fn finding_step(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let note = form.text("note").to_owned();
    let step = match form.text("step") {
        "plan" => FindingStep::Plan {
            root_cause: form.text("root_cause").to_owned(),
            corrective_action: form.text("corrective_action").to_owned(),
            owner_id: form.text("owner_id").trim().to_owned(),
            due_on: form.text("due_on").trim().to_owned(),
        },
        "implemented" => FindingStep::Implemented { note },
        "verify" => FindingStep::Verify { effective: form.text("effective") == "yes", note },
        "acknowledge" => FindingStep::Acknowledge { note },
        _ => {
            let refused =
                Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t("isms_audits.invalid_step").to_owned()));
            return audits_view(&state, tr, &p, &ctx, None, refused).await;
        }
    };
    let result = state.core.isms.take_finding_step(&p, &id, step, &ctx).await;
    answer(&state, tr, &p, &ctx, result, "step", &format!("#finding-{}", segment(&id))).await
}
