//! `/api/v1/audit`: search the log, and the proofs that make it verifiable — the latest signed
//! checkpoint, an entry with its inclusion proof, and consistency between two tree sizes.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiQuery};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use mamori_proto as proto;
use mamori_store::AuditQuery;

fn hexes(hashes: &[mamori_audit::merkle::Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(proto::AuditSearch),
    responses((status = 200, body = proto::AuditPage), (status = 400, body = proto::Problem)))]
pub async fn search(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::AuditSearch>,
) -> ApiResult<Json<proto::AuditPage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "limit must be 1 to 1000").field("limit")
        );
    }
    let query = AuditQuery {
        actor: q.actor,
        action: q.action,
        object: q.object,
        outcome: q.outcome,
        from: q.from.map(mamori_domain::UnixMillis),
        to: q.to.map(mamori_domain::UnixMillis),
        before_index: q.before,
        limit,
    };
    let entries = state.core.search_audit(&p, &query, &ctx).await?;
    let next_before = if i64::try_from(entries.len()).unwrap_or(0) == limit {
        entries.last().map(|e| e.index)
    } else {
        None
    };
    Ok(Json(proto::AuditPage { entries, next_before }))
}

#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses((status = 200, body = proto::AuditCheckpoint), (status = 404, body = proto::Problem)))]
pub async fn checkpoint(State(state): State<AppState>) -> ApiResult<Json<proto::AuditCheckpoint>> {
    let c = state.core.latest_audit_checkpoint().await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no checkpoint has been signed yet; try again in a second",
        )
    })?;
    Ok(Json(proto::AuditCheckpoint {
        size: c.size,
        root: hex::encode(c.root),
        time: c.time.0,
        note: c.note,
        public_key: state.core.audit_public_key(),
    }))
}

/// An entry index in the path: a whole number, or the route answers 404.
pub struct IndexPath(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for IndexPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let not_found =
            || ApiError::new(StatusCode::NOT_FOUND, "not_found", "entry indexes are whole numbers from 0");
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        text.parse().map(IndexPath).map_err(|_| not_found())
    }
}

#[utoipa::path(get, path = "/api/v1/audit/entries/{index}", tag = "audit", params(proto::AuditProofQuery),
    responses((status = 200, body = proto::AuditEntryProof), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn entry_proof(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IndexPath(index): IndexPath,
    ApiQuery(q): ApiQuery<proto::AuditProofQuery>,
) -> ApiResult<Json<proto::AuditEntryProof>> {
    let proof = state.core.audit_entry_proof(&p, &ctx, index, q.tree_size).await?;
    Ok(Json(proto::AuditEntryProof {
        entry: proof.entry,
        leaf_hash: hex::encode(proof.leaf_hash),
        tree_size: proof.tree_size,
        inclusion_proof: hexes(&proof.proof),
        checkpoint: proof.checkpoint,
    }))
}

#[utoipa::path(get, path = "/api/v1/audit/consistency", tag = "audit", params(proto::AuditConsistencyQuery),
    responses((status = 200, body = proto::AuditConsistency), (status = 422, body = proto::Problem)))]
pub async fn consistency(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::AuditConsistencyQuery>,
) -> ApiResult<Json<proto::AuditConsistency>> {
    let (proof, from_checkpoint, to_checkpoint) =
        state.core.audit_consistency(&p, &ctx, q.from, q.to).await?;
    Ok(Json(proto::AuditConsistency {
        from: q.from,
        to: q.to,
        proof: hexes(&proof),
        from_checkpoint,
        to_checkpoint,
    }))
}
