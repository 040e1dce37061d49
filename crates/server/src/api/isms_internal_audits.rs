//! `/api/v1/isms/audits` (issue 18, item 5; ISMS-7): internal audits against the SoA's
//! controls and their findings, each tracked through its corrective action (CAPA) to an
//! effectiveness check by someone other than its owner.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiJson, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_core::isms::internal_audits::AuditRegister;
use mamori_domain::isms::internal_audit::{AuditInput, FindingInput, FindingStep};
use mamori_proto as proto;

pub(crate) fn register_json(r: AuditRegister) -> proto::InternalAuditRegisterView {
    proto::InternalAuditRegisterView {
        audits: r
            .audits
            .into_iter()
            .map(|a| proto::InternalAuditView {
                id: a.record.id,
                number: a.record.number,
                title: a.record.title,
                scope: a.record.scope,
                controls: a.controls.into_iter().map(|(id, name)| proto::NamedRef { id, name }).collect(),
                auditor_id: a.record.auditor_id,
                auditor_name: a.auditor,
                planned_on: a.record.planned_on,
                held_on: a.record.held_on,
                report: a.record.report,
                findings: a.findings.0,
                findings_open: a.findings.1,
            })
            .collect(),
        findings: r
            .findings
            .into_iter()
            .map(|f| proto::AuditFindingView {
                id: f.record.id,
                number: f.record.number,
                audit_id: f.record.audit_id,
                audit: f.audit,
                kind: f.record.kind,
                control_urn: f.record.control_urn,
                control: f.control,
                description: f.record.description,
                state: f.record.state,
                root_cause: f.record.root_cause,
                corrective_action: f.record.corrective_action,
                owner_id: f.record.owner_id,
                owner_name: f.owner,
                due_on: f.record.due_on,
                days_left: f.days_left,
                steps: f
                    .steps
                    .into_iter()
                    .map(|s| proto::FindingStepView {
                        step: s.record.step,
                        state: s.record.state,
                        at: s.record.at.0,
                        actor_name: s.actor,
                        note: s.record.note,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The audits (the latest planned first) and every finding, overdue first, closed last.
#[utoipa::path(get, path = "/api/v1/isms/audits", tag = "isms",
    responses((status = 200, body = proto::InternalAuditRegisterView)))]
pub async fn list_internal_audits(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::InternalAuditRegisterView>> {
    Ok(Json(register_json(state.core.isms.internal_audits(&p, &ctx).await?)))
}

/// Plans an audit: a title, its scope, the SoA controls it audits, the lead auditor, the day.
#[utoipa::path(post, path = "/api/v1/isms/audits", tag = "isms", request_body = AuditInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn plan_internal_audit(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<AuditInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.plan_internal_audit(&p, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}

/// Records that an audit was held, with its report.
#[utoipa::path(post, path = "/api/v1/isms/audits/{id}/report", tag = "isms", request_body = proto::AuditReportInput,
    responses((status = 204), (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn report_internal_audit(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<proto::AuditReportInput>,
) -> ApiResult<StatusCode> {
    state.core.isms.report_internal_audit(&p, &id, &input.held_on, &input.report, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Raises a finding of an audit: a nonconformity (major, minor), an observation or an
/// opportunity for improvement, about a control or not.
#[utoipa::path(post, path = "/api/v1/isms/audits/{id}/findings", tag = "isms", request_body = FindingInput,
    responses((status = 201, body = proto::Created), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn raise_audit_finding(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<FindingInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.raise_finding(&p, &id, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}

/// A step of a finding's CAPA: `plan` (root cause, corrective action, owner, due date),
/// `implemented`, `verify` (effective or not; by someone other than the owner), `acknowledge`
/// (observations and improvements). A step the finding's state does not allow is 409.
#[utoipa::path(post, path = "/api/v1/isms/findings/{id}/steps", tag = "isms", request_body = FindingStep,
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn take_finding_step(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(step): ApiJson<FindingStep>,
) -> ApiResult<StatusCode> {
    state.core.isms.take_finding_step(&p, &id, step, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}
