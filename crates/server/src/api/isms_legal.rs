//! `/api/v1/isms/legal` (issue 17, item 6; ISMS-4): the legal register — the laws, regulations,
//! guidelines, contracts with client companies and certification rules the centre complies
//! with, each with what it requires, an owner and a review date; every change a version.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiJson, ApiQuery, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_core::isms::legal::{LegalRecord, LegalView};
use mamori_domain::isms::legal::LegalInput;
use mamori_proto as proto;
use std::collections::HashMap;

fn record_json(r: LegalRecord, names: &HashMap<String, String>) -> proto::LegalView {
    proto::LegalView {
        client_name: r.client_id.as_ref().and_then(|c| names.get(c)).cloned(),
        owner_name: r.owner_id.as_ref().and_then(|o| names.get(o)).cloned(),
        id: r.id,
        version: r.version,
        kind: r.kind,
        title: r.title,
        reference: r.reference,
        obligations: r.obligations,
        client_id: r.client_id,
        owner_id: r.owner_id,
        review_on: r.review_on,
        notes: r.notes,
        retired_at: r.retired_at.map(|t| t.0),
        changed_at: r.changed_at.0,
        changed_by: r.changed_by,
    }
}

fn view_json(v: LegalView) -> proto::LegalView {
    proto::LegalView { client_name: v.client, owner_name: v.owner, ..record_json(v.record, &HashMap::new()) }
}

/// The requirements in force (retired ones too with `include_retired=true`), by kind and title.
#[utoipa::path(get, path = "/api/v1/isms/legal", tag = "isms", params(proto::AssetQuery),
    responses((status = 200, body = Vec<proto::LegalView>)))]
pub async fn list_legal(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::AssetQuery>,
) -> ApiResult<Json<Vec<proto::LegalView>>> {
    let register = state.core.isms.legal_register(&p, q.include_retired.unwrap_or(false), &ctx).await?;
    Ok(Json(register.into_iter().map(view_json).collect()))
}

/// Registers a requirement.
#[utoipa::path(post, path = "/api/v1/isms/legal", tag = "isms", request_body = LegalInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn create_legal(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<LegalInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.create_legal(&p, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}

/// A requirement and every version of it.
#[utoipa::path(get, path = "/api/v1/isms/legal/{id}", tag = "isms",
    responses((status = 200, body = proto::LegalDetailView), (status = 404, body = proto::Problem)))]
pub async fn get_legal(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::LegalDetailView>> {
    let d = state.core.isms.legal_requirement(&p, &id, &ctx).await?;
    Ok(Json(proto::LegalDetailView {
        history: d.history.into_iter().map(|h| record_json(h, &d.names)).collect(),
        requirement: view_json(d.requirement),
    }))
}

/// Changes a requirement in force (a new version).
#[utoipa::path(put, path = "/api/v1/isms/legal/{id}", tag = "isms", request_body = LegalInput,
    responses((status = 200, body = proto::SoaDecided), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn update_legal(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<LegalInput>,
) -> ApiResult<Json<proto::SoaDecided>> {
    let version = state.core.isms.update_legal(&p, &id, input, &ctx).await?;
    Ok(Json(proto::SoaDecided { version }))
}

/// Retires a requirement: it leaves the register and the reviews; its versions stay.
#[utoipa::path(post, path = "/api/v1/isms/legal/{id}/retire", tag = "isms",
    responses((status = 200, body = proto::SoaDecided), (status = 404, body = proto::Problem)))]
pub async fn retire_legal(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::SoaDecided>> {
    let version = state.core.isms.retire_legal(&p, &id, &ctx).await?;
    Ok(Json(proto::SoaDecided { version }))
}
