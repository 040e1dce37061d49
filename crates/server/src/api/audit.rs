//! `/api/v1/audit`: search the log, and the proofs that make it verifiable — the latest signed
//! checkpoint, an entry with its inclusion proof, and consistency between two tree sizes.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiQuery, storable_index};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use mamori_core::audit_log::AuditSearch;
use mamori_proto as proto;
use mamori_proto::ErrorCode;

fn hexes(hashes: &[mamori_audit::merkle::Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(proto::AuditSearch),
    responses((status = 200, body = proto::AuditPage), (status = 400, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn search(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::AuditSearch>,
) -> ApiResult<Json<proto::AuditPage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "limit must be 1 to 1000").field("limit"));
    }
    let query = AuditSearch {
        detail: None,
        actor: q.actor,
        actions: q.action.map(|a| a.split(',').map(str::to_owned).collect()),
        hidden_actions: Vec::new(),
        object: q.object,
        outcome: q.outcome,
        from: q.from.map(mamori_domain::UnixMillis),
        to: q.to.map(mamori_domain::UnixMillis),
        before_index: q.before.map(|b| storable_index("before", b)).transpose()?,
        limit,
    };
    let entries = state.core.audit.search_audit(&p, &query, &ctx).await?;
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
    let c = state.core.audit.latest_audit_checkpoint().await?.ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, "no checkpoint has been signed yet; try again in a second")
    })?;
    Ok(Json(proto::AuditCheckpoint {
        size: c.size,
        root: hex::encode(c.root),
        time: c.time.0,
        note: c.note,
        public_key: state.core.audit.audit_public_key(),
    }))
}

/// An entry index in the path: a whole number, or the route answers 404.
pub struct IndexPath(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for IndexPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let not_found = || ApiError::new(ErrorCode::NotFound, "entry indexes are whole numbers from 0");
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        let index: u64 = text.parse().map_err(|_| not_found())?;
        storable_index("index", index).map(IndexPath).map_err(|_| not_found())
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
    let tree_size = q.tree_size.map(|t| storable_index("tree_size", t)).transpose()?;
    let proof = state.core.audit.audit_entry_proof(&p, &ctx, index, tree_size).await?;
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
    let (from, to) = (storable_index("from", q.from)?, storable_index("to", q.to)?);
    let (proof, from_checkpoint, to_checkpoint) =
        state.core.audit.audit_consistency(&p, &ctx, from, to).await?;
    Ok(Json(proto::AuditConsistency {
        from: q.from,
        to: q.to,
        proof: hexes(&proof),
        from_checkpoint,
        to_checkpoint,
    }))
}

/// A CSV cell a spreadsheet will not run: values starting with a formula character get a `'`.
pub(crate) fn csv_cell(v: &str) -> String {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_owned() }
}

/// The CSV for a spreadsheet: times in Japan time with their offset (as the console shows them),
/// people, tokens and PCs by name beside their ids.
fn to_csv(
    entries: &[mamori_audit::AuditEntry],
    names: &std::collections::HashMap<String, String>,
) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::new(ErrorCode::Internal, e.to_string());
    let japan = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_default();
    w.write_record([
        "index",
        "time_jst",
        "category",
        "action",
        "actor",
        "actor_name",
        "object",
        "object_name",
        "outcome",
        "source_ip",
        "request_id",
        "details",
    ])
    .map_err(fail)?;
    for e in entries {
        let time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.time.0) * 1_000_000)
            .ok()
            .and_then(|t| t.to_offset(japan).format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default();
        let row = [
            e.index.to_string(),
            time,
            e.category.as_str().to_owned(),
            e.action.clone(),
            e.actor.clone(),
            name_of(&e.actor),
            e.object.clone().unwrap_or_default(),
            e.object.as_deref().map(name_of).unwrap_or_default(),
            e.outcome.as_str().to_owned(),
            e.source_ip.clone().unwrap_or_default(),
            e.request_id.clone().unwrap_or_default(),
            serde_json::to_string(&e.details).unwrap_or_default(),
        ];
        w.write_record(row.iter().map(|v| csv_cell(v))).map_err(fail)?;
    }
    w.into_inner().map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(proto::AuditExportQuery),
    description = "Every entry the search matches (newest first, at most 100,000) as CSV or JSON Lines. The export is recorded in the log.",
    responses((status = 200, description = "The entries in the format asked for; `x-mamori-truncated: true` when the search matched more.",
        content((String = "text/csv"), (String = "application/jsonl")),
        headers(("x-mamori-truncated" = bool, description = "Whether the search matched more entries than the export holds."))),
        (status = 422, body = proto::Problem)))]
pub async fn export(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::AuditExportQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let query = AuditSearch {
        detail: None,
        actor: q.actor,
        actions: q.action.map(|a| a.split(',').map(str::to_owned).collect()),
        hidden_actions: Vec::new(),
        object: q.object,
        outcome: q.outcome,
        from: q.from.map(mamori_domain::UnixMillis),
        to: q.to.map(mamori_domain::UnixMillis),
        before_index: None,
        limit: 1000,
    };
    let (entries, truncated) = state.core.audit.export_audit_search(&p, &query, &ctx).await?;
    let (body, content_type, extension) = match q.format {
        proto::ExportFormat::Csv => {
            let names = state.core.audit.names(&p, &ctx).await?;
            (to_csv(&entries, &names)?, "text/csv; charset=utf-8", "csv")
        }
        proto::ExportFormat::Jsonl => {
            let mut out = Vec::new();
            for e in &entries {
                out.extend_from_slice(mamori_audit::siem::json_line(e).as_bytes());
                out.push(b'\n');
            }
            (out, "application/jsonl; charset=utf-8", "jsonl")
        }
    };
    let disposition = format!("attachment; filename=\"mamori-audit.{extension}\"");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::HeaderName::from_static("x-mamori-truncated"), truncated.to_string()),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A spreadsheet must not run what an actor or object name smuggles in.
    #[test]
    fn csv_cells_are_not_formulas() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx"] {
            assert!(csv_cell(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(csv_cell("user:abc"), "user:abc");
    }
}
