//! `/api/v1/isms/vendors/{id}/files` (issue 17, item 5): a vendor's evidence files — attached
//! as the request's body (10 MiB at most), listed (metadata only), downloaded (each download
//! audited). Sealing, checks and audit are in `mamori_core::isms::vendor_files`.

use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiQuery, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_core::isms::vendor_files::{MEDIA_TYPES, NewVendorFile, VendorFileView};
use mamori_proto::{self as proto, ErrorCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Query of `POST /api/v1/isms/vendors/{id}/files` (the body is the file).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VendorFileQuery {
    /// The file's name (no path; at most 200 characters).
    pub name: String,
    /// A note on what the file is.
    pub note: Option<String>,
    /// The site visit it documents.
    pub visit_id: Option<String>,
}

/// A vendor's evidence file (never its content).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VendorFileJson {
    pub id: String,
    pub vendor_id: String,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// The key version that wraps its data key.
    pub kek_version: u32,
    pub note: String,
    pub visit_id: Option<String>,
    /// Unix milliseconds.
    pub uploaded_at: i64,
    /// An audit actor (`user:<id>`).
    pub uploaded_by: String,
    /// The uploader's name, when a person.
    pub uploaded_by_name: Option<String>,
}

fn file_json(v: VendorFileView) -> VendorFileJson {
    let r = v.record;
    VendorFileJson {
        id: r.id,
        vendor_id: r.vendor_id,
        name: r.name,
        media_type: r.media_type,
        size: r.size,
        sha256: r.sha256,
        kek_version: r.kek_version,
        note: r.note,
        visit_id: r.visit_id,
        uploaded_at: r.uploaded_at.0,
        uploaded_by: r.uploaded_by,
        uploaded_by_name: v.uploaded_by_name,
    }
}

/// Attaches a file to a vendor: the body is the file, `Content-Type` its media type (PDF, PNG,
/// JPEG, DOCX, XLSX, plain text or CSV — checked against the content), `name` its file name.
/// Stored sealed under the vault's current key version.
#[utoipa::path(post, path = "/api/v1/isms/vendors/{id}/files", tag = "isms", params(VendorFileQuery),
    request_body(content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (String = "text/plain"), (String = "text/csv"))),
    responses((status = 201, body = proto::Created), (status = 400, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 413, body = proto::Problem),
        (status = 415, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn attach_vendor_file(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<VendorFileQuery>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<proto::Created>), ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|m| MEDIA_TYPES.contains(&m.as_str()));
    let Some(media_type) = media else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("send the file as the body with its `Content-Type`, one of: {}", MEDIA_TYPES.join(", ")),
        ));
    };
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            crate::problem::vendor_file_too_large()
        } else {
            ApiError::new(ErrorCode::BodyUnreadable, "the request body could not be read")
        }
    })?;
    let file = NewVendorFile {
        name: q.name,
        media_type,
        content: body.to_vec(),
        note: q.note,
        visit_id: q.visit_id,
    };
    let file_id = state.core.isms.attach_vendor_file(&p, &id, file, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id: file_id })))
}

/// A vendor's files, newest first: names, types, sizes, digests, who and when — never content.
#[utoipa::path(get, path = "/api/v1/isms/vendors/{id}/files", tag = "isms",
    responses((status = 200, body = Vec<VendorFileJson>), (status = 404, body = proto::Problem)))]
pub async fn list_vendor_files(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> Result<Json<Vec<VendorFileJson>>, ApiError> {
    let files = state.core.isms.vendor_files(&p, &id, &ctx).await?;
    Ok(Json(files.into_iter().map(file_json).collect()))
}

/// Downloads a vendor's file (opened, its SHA-256 checked; every download is audited).
#[utoipa::path(get, path = "/api/v1/isms/vendors/{id}/files/{file_id}", tag = "isms",
    responses((status = 200, description = "The file, with its stored media type, as an attachment.",
        content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/plain"), (String = "text/csv"))),
        (status = 404, body = proto::Problem)))]
pub async fn download_vendor_file(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    axum::extract::Path((id, file_id)): axum::extract::Path<(String, String)>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no record has this id");
    if uuid::Uuid::parse_str(&id).is_err() || uuid::Uuid::parse_str(&file_id).is_err() {
        return Err(not_found());
    }
    let f = state.core.isms.read_vendor_file(&p, &id, &file_id, &ctx).await?;
    let mut resp = f.content.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&f.record.media_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&crate::download::content_disposition(&f.record.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
