//! `/api/v1/isms/continuity` (issue 18, item 6; ISMS-5): business-continuity plans per scenario
//! with their contact trees and drill intervals (every version kept), and the drills held.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiJson, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_core::isms::continuity::{ContinuityRegister, DrillView, PlanView};
use mamori_domain::isms::continuity::{DrillInput, PlanInput};
use mamori_proto as proto;

fn plan_json(v: PlanView) -> proto::ContinuityPlanView {
    let r = v.record;
    proto::ContinuityPlanView {
        id: r.id,
        version: r.version,
        scenario: r.scenario,
        title: r.title,
        steps: r.steps,
        owner_id: r.owner_id,
        owner_name: v.owner,
        contacts: v
            .contacts
            .into_iter()
            .map(|c| proto::ContinuityContactView {
                name: c.name,
                role: c.role,
                phone: c.phone,
                called_by: c.called_by,
            })
            .collect(),
        drill_every_months: r.drill_every_months,
        last_drill_on: v.last_drill,
        next_drill_on: v.next_drill_on,
        days_left: v.days_left,
    }
}

fn drill_json(v: DrillView) -> proto::ContinuityDrillView {
    let r = v.record;
    proto::ContinuityDrillView {
        id: r.id,
        plan_id: r.plan_id,
        plan_title: v.plan,
        held_on: r.held_on,
        participants: v.participants,
        result: r.result,
        findings: r.findings,
        actions: r.actions,
        recorded_at: r.recorded_at.0,
    }
}

pub(crate) fn register_json(r: ContinuityRegister) -> proto::ContinuityRegisterView {
    proto::ContinuityRegisterView {
        plans: r.plans.into_iter().map(plan_json).collect(),
        drills: r.drills.into_iter().map(drill_json).collect(),
    }
}

/// The plans in force, overdue drills first, and every drill held, the latest first.
#[utoipa::path(get, path = "/api/v1/isms/continuity", tag = "isms",
    responses((status = 200, body = proto::ContinuityRegisterView)))]
pub async fn list_continuity(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::ContinuityRegisterView>> {
    Ok(Json(register_json(state.core.isms.continuity(&p, &ctx).await?)))
}

/// Makes a plan: a scenario, its steps, an owner, a contact tree (each person called by
/// someone listed before them) and a drill interval of 1–24 months.
#[utoipa::path(post, path = "/api/v1/isms/continuity/plans", tag = "isms", request_body = PlanInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn create_continuity_plan(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<PlanInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.save_continuity_plan(&p, None, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}

/// Changes a plan: a new version, the earlier ones kept.
#[utoipa::path(put, path = "/api/v1/isms/continuity/plans/{id}", tag = "isms", request_body = PlanInput,
    responses((status = 200, body = proto::Created), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn update_continuity_plan(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<PlanInput>,
) -> ApiResult<Json<proto::Created>> {
    let id = state.core.isms.save_continuity_plan(&p, Some(&id), input, &ctx).await?;
    Ok(Json(proto::Created { id }))
}

/// Retires a plan: it leaves the register and the dashboard; its versions and drills stay.
#[utoipa::path(post, path = "/api/v1/isms/continuity/plans/{id}/retire", tag = "isms",
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn retire_continuity_plan(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    state.core.isms.retire_continuity_plan(&p, &id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records a drill of a plan in force: the day (not in the future), who took part, the result,
/// and what will change (required unless it went as planned).
#[utoipa::path(post, path = "/api/v1/isms/continuity/drills", tag = "isms", request_body = DrillInput,
    responses((status = 201, body = proto::Created), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn record_continuity_drill(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<DrillInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.record_drill(&p, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}
