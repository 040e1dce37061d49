//! `/api/v1/incidents` (issue 16, items 4 and 5): a possible leak reported by anyone, incidents
//! opened and run by security admins, the breach-report clock and the PPC's draft report.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiJson, ApiQuery, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_core::incidents::{IncidentChange, IncidentRecord, LeakReport, NewIncident};
use mamori_domain::UnixMillis;
use mamori_domain::incident::{ReportDuty, report_duty};
use mamori_proto as proto;

fn duty_json(d: ReportDuty) -> proto::ReportDutyView {
    proto::ReportDutyView {
        grounds: d.grounds.iter().map(|g| g.as_str().to_owned()).collect(),
        preliminary_due: d.preliminary_due.0,
        final_due: d.final_due.0,
    }
}

fn incident_json(i: IncidentRecord, preliminary_days: u32) -> proto::IncidentView {
    proto::IncidentView {
        report_duty: report_duty(&i.data, i.learned_at, preliminary_days).map(duty_json),
        id: i.id,
        number: i.number,
        title: i.title,
        kind: i.kind,
        state: i.state,
        severity: i.severity,
        description: i.description,
        reported_by: i.reported_by,
        assignee_id: i.assignee_id,
        learned_at: i.learned_at.0,
        created_at: i.created_at.0,
        updated_at: i.updated_at.0,
        data: i.data,
        client_ids: i.client_ids,
        preliminary_reported_at: i.preliminary_reported_at.map(|t| t.0),
        final_reported_at: i.final_reported_at.map(|t| t.0),
        people_notified_at: i.people_notified_at.map(|t| t.0),
        clients_notified_at: i.clients_notified_at.map(|t| t.0),
        review: i.review,
        closed_at: i.closed_at.map(|t| t.0),
    }
}

/// Anyone signed in reports a possible leak in one step; `anonymous` keeps their name and
/// address out of the incident and the audit log.
#[utoipa::path(post, path = "/api/v1/incidents/report", tag = "incidents", request_body = proto::LeakReportRequest,
    responses((status = 201, body = proto::IncidentView), (status = 422, body = proto::Problem)))]
pub async fn report_leak(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(r): ApiJson<proto::LeakReportRequest>,
) -> ApiResult<(StatusCode, Json<proto::IncidentView>)> {
    let report = LeakReport { kind: r.kind, description: r.description, anonymous: r.anonymous };
    let incident = state.core.incidents.report_leak(&p, &report, &ctx).await?;
    let days = state.core.incidents.preliminary_days().await?;
    Ok((StatusCode::CREATED, Json(incident_json(incident, days))))
}

#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = proto::NewIncidentRequest,
    responses((status = 201, body = proto::IncidentView), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn open_incident(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(r): ApiJson<proto::NewIncidentRequest>,
) -> ApiResult<(StatusCode, Json<proto::IncidentView>)> {
    let new = NewIncident {
        title: r.title,
        kind: r.kind,
        severity: r.severity,
        description: r.description,
        alert_ids: r.alert_ids,
    };
    let incident = state.core.incidents.open_incident(&p, &new, &ctx).await?;
    let days = state.core.incidents.preliminary_days().await?;
    Ok((StatusCode::CREATED, Json(incident_json(incident, days))))
}

#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(proto::IncidentQuery),
    responses((status = 200, body = proto::IncidentList), (status = 422, body = proto::Problem)))]
pub async fn list_incidents(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::IncidentQuery>,
) -> ApiResult<Json<proto::IncidentList>> {
    let states: Vec<&str> = q.state.as_deref().unwrap_or("").split(',').filter(|s| !s.is_empty()).collect();
    let incidents = state.core.incidents.incidents(&p, q.days.unwrap_or(30), &states, &ctx).await?;
    let days = state.core.incidents.preliminary_days().await?;
    Ok(Json(proto::IncidentList {
        incidents: incidents.into_iter().map(|i| incident_json(i, days)).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    responses((status = 200, body = proto::IncidentDetailView), (status = 404, body = proto::Problem)))]
pub async fn get_incident(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::IncidentDetailView>> {
    let d = state.core.incidents.incident(&p, &id, &ctx).await?;
    let days = state.core.incidents.preliminary_days().await?;
    Ok(Json(proto::IncidentDetailView {
        incident: incident_json(d.incident, days),
        alerts: d.alerts.into_iter().map(super::alerts::alert_json).collect(),
        timeline: d
            .timeline
            .into_iter()
            .map(|t| proto::TimelineItemView { at: t.at.0, actor: t.actor, kind: t.kind, detail: t.detail })
            .collect(),
        checklist: d
            .checklist
            .into_iter()
            .map(|(item, at)| proto::ChecklistItemView { item, done_at: at.map(|t| t.0) })
            .collect(),
    }))
}

/// Moves the incident on, assigns it, records the personal data involved (the clock follows),
/// ticks a checklist item, comments, links alerts, or records a report made.
#[utoipa::path(post, path = "/api/v1/incidents/{id}", tag = "incidents", request_body = proto::IncidentChangeRequest,
    responses((status = 200, body = proto::IncidentView), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn change_incident(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(c): ApiJson<proto::IncidentChangeRequest>,
) -> ApiResult<Json<proto::IncidentView>> {
    use proto::IncidentChangeRequest as R;
    let change = match c {
        R::State { to, review } => IncidentChange::State { to, review },
        R::Assign { user_id } => IncidentChange::Assign { user_id },
        R::Assess { data, client_ids } => IncidentChange::Assess { data, client_ids },
        R::LearnedAt { at } => IncidentChange::LearnedAt { at: UnixMillis(at) },
        R::Checklist { item, done } => IncidentChange::Checklist { item, done },
        R::Comment { text } => IncidentChange::Comment { text },
        R::LinkAlerts { alert_ids } => IncidentChange::LinkAlerts { alert_ids },
        R::ReportMade { report } => IncidentChange::ReportMade { report },
    };
    let incident = state.core.incidents.update_incident(&p, &id, change, &ctx).await?;
    let days = state.core.incidents.preliminary_days().await?;
    Ok(Json(incident_json(incident, days)))
}

/// The draft report to the PPC (its items, in Japanese, filled from the incident) and the
/// client companies to notify.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/report-draft", tag = "incidents",
    responses((status = 200, body = proto::ReportDraftView), (status = 404, body = proto::Problem)))]
pub async fn report_draft(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::ReportDraftView>> {
    let draft = state.core.incidents.report_draft(&p, &id, &ctx).await?;
    // The report goes to the PPC in Japanese: codes in the console's Japanese words.
    let ja = crate::i18n::Tr(mamori_domain::identity::Language::Ja);
    let items = draft.items(&|r| crate::console::alerts::rule_name(ja, r), &|c| {
        crate::console::incidents::checklist_label(ja, c)
    });
    Ok(Json(proto::ReportDraftView {
        incident_number: draft.incident.number,
        required: draft.duty.is_some(),
        duty: draft.duty.map(duty_json),
        summary: items.summary,
        data_items: items.data_items,
        people: items.people,
        cause: items.cause,
        secondary_damage: items.secondary_damage,
        response_to_people: items.response_to_people,
        publication: items.publication,
        prevention: items.prevention,
        other: items.other,
        clients: draft.clients,
    }))
}

#[utoipa::path(get, path = "/api/v1/incident-settings", tag = "incidents",
    responses((status = 200, body = proto::IncidentSettings)))]
pub async fn get_incident_settings(
    State(state): State<AppState>,
) -> ApiResult<Json<proto::IncidentSettings>> {
    Ok(Json(proto::IncidentSettings { preliminary_days: state.core.incidents.preliminary_days().await? }))
}

#[utoipa::path(put, path = "/api/v1/incident-settings", tag = "incidents", request_body = proto::IncidentSettings,
    responses((status = 200, body = proto::IncidentSettings), (status = 422, body = proto::Problem)))]
pub async fn put_incident_settings(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(s): ApiJson<proto::IncidentSettings>,
) -> ApiResult<Json<proto::IncidentSettings>> {
    state.core.incidents.set_preliminary_days(&p, s.preliminary_days, &ctx).await?;
    Ok(Json(proto::IncidentSettings { preliminary_days: state.core.incidents.preliminary_days().await? }))
}
