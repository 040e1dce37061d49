//! `/api/v1/isms/disposals` (issue 18, item 7; LEAK-3): the disposal register — each PC, disk,
//! medium or batch of paper disposed of, with its method, witness and the disposal company's
//! certificate. Records are only added; one naming a revoked ledger PC or an asset retires
//! that asset.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_core::isms::disposals::DisposalView;
use mamori_domain::isms::disposal::DisposalInput;
use mamori_proto as proto;

fn disposal_json(v: DisposalView) -> proto::DisposalView {
    let r = v.record;
    proto::DisposalView {
        id: r.id,
        kind: r.kind,
        method: r.method,
        description: r.description,
        serial: r.serial,
        quantity: r.quantity,
        disposed_on: r.disposed_on,
        witness_id: r.witness_id,
        witness_name: v.witness,
        company: r.company,
        certificate: r.certificate,
        notes: r.notes,
        asset_id: r.asset_id,
        asset_name: v.asset,
        device_id: r.device_id,
        device_hostname: v.device,
        recorded_at: r.recorded_at.0,
        recorded_by: r.recorded_by,
        recorded_by_name: v.recorder,
    }
}

/// The disposal register, the latest disposed first, and the revoked PCs whose disposal is
/// not recorded yet.
#[utoipa::path(get, path = "/api/v1/isms/disposals", tag = "isms",
    responses((status = 200, body = proto::DisposalRegisterView)))]
pub async fn list_disposals(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::DisposalRegisterView>> {
    let register = state.core.isms.disposals(&p, &ctx).await?;
    Ok(Json(proto::DisposalRegisterView {
        disposals: register.disposals.into_iter().map(disposal_json).collect(),
        revoked_not_disposed: register
            .revoked_not_disposed
            .into_iter()
            .map(|(id, hostname)| proto::DeviceRef { id, hostname })
            .collect(),
    }))
}

/// Records a disposal (never changed afterwards: a correction is a new record naming the old
/// one in its notes). A ledger PC named must be revoked first; the asset named (or the PC's
/// own) retires with the record.
#[utoipa::path(post, path = "/api/v1/isms/disposals", tag = "isms", request_body = DisposalInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn record_disposal(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<DisposalInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.record_disposal(&p, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}
