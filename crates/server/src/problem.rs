//! RFC 9457 problem documents, and the extractors that turn bad input into them: bodies over
//! 1 MiB, malformed JSON, unknown fields, wrong types and bad query strings all answer 4xx with
//! the offending field named — never a 500.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_core::CoreError;
use mamori_proto::{ErrorCode, ErrorKind, Problem};
use serde::de::DeserializeOwned;

/// Largest request body accepted anywhere but an import.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// The one route that takes large bodies: a CSV file of customers.
pub const IMPORT_PATH: &str = "/api/v1/customers/import";
/// Largest CSV file an import takes over HTTP (about a million rows); larger files go through
/// `mamori customers import`, which streams from disk.
pub const IMPORT_BODY_LIMIT: usize = 256 * 1024 * 1024;

/// The console's import page, which takes a CSV file as a multipart upload.
pub const CONSOLE_IMPORT_PATH: &str = "/admin/customers/import";
/// Largest file the console's import takes (about 200,000 rows): it is held in memory for the
/// request and imported inline. Larger files: split, or `mamori customers import`.
pub const CONSOLE_IMPORT_LIMIT: usize = 32 * 1024 * 1024;

/// The ISMS registers' import, which takes a workbook (XLSX or CSV).
pub const REGISTERS_IMPORT_PATH: &str = "/api/v1/isms/registers/import";
/// The console's page that takes a registers workbook as a multipart upload.
pub const CONSOLE_REGISTERS_IMPORT_PATH: &str = "/isms/registers";
/// Largest workbook the registers' import takes (10,000 assets are about 1 MiB of XLSX).
pub const REGISTERS_IMPORT_LIMIT: usize = 32 * 1024 * 1024;

/// A vendor's evidence files: `POST /api/v1/isms/vendors/{id}/files` takes the file as the body.
pub const VENDOR_FILES_API_PREFIX: &str = "/api/v1/isms/vendors/";
/// The console's upload of a vendor file, `/isms/vendors/{id}/files` (multipart).
pub const VENDOR_FILES_CONSOLE_PREFIX: &str = "/isms/vendors/";
/// Largest vendor file (the API's body is the file).
pub const VENDOR_FILE_LIMIT: usize = 10 * 1024 * 1024;
/// Largest console upload of a vendor file: the file and the form around it.
pub const CONSOLE_VENDOR_FILE_LIMIT: usize = VENDOR_FILE_LIMIT + 64 * 1024;

/// A check's run with its photos: `POST /api/v1/checks/runs` (JSON, the photos base64) and the
/// console's `/checks/{id}` (multipart).
pub const CHECK_RUN_API_PATH: &str = "/api/v1/checks/runs";
/// Largest run: four photos of 5 MiB, base64, and the answers.
pub const CHECK_RUN_LIMIT: usize = 28 * 1024 * 1024;

/// Whether a path is a vendor's files (`…/vendors/{id}/files`) under `prefix`.
fn is_vendor_files(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix("/files"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// The body limit of a path.
pub fn body_limit(path: &str) -> usize {
    match path {
        IMPORT_PATH => IMPORT_BODY_LIMIT,
        CONSOLE_IMPORT_PATH => CONSOLE_IMPORT_LIMIT,
        REGISTERS_IMPORT_PATH | CONSOLE_REGISTERS_IMPORT_PATH => REGISTERS_IMPORT_LIMIT,
        _ if is_vendor_files(path, VENDOR_FILES_API_PREFIX) => VENDOR_FILE_LIMIT,
        _ if is_vendor_files(path, VENDOR_FILES_CONSOLE_PREFIX) => CONSOLE_VENDOR_FILE_LIMIT,
        CHECK_RUN_API_PATH => CHECK_RUN_LIMIT,
        _ if path.strip_prefix("/checks/").is_some_and(|id| !id.is_empty() && !id.contains('/')) => {
            CHECK_RUN_LIMIT
        }
        _ => BODY_LIMIT,
    }
}

/// An error the API answers with: a code of the catalogue (its status follows from it), what
/// happened for people, and the offending input when there is one.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError { code, detail: detail.into(), field: None }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        status(self.code)
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        Problem {
            type_uri: self.code.type_uri().to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            field: self.field.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut resp = (self.status(), body).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        resp
    }
}

/// The HTTP status of each kind of error: the one place the catalogue meets HTTP.
pub fn status(code: ErrorCode) -> StatusCode {
    match code.kind() {
        ErrorKind::Unreadable => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Refused => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::WrongMethod => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::WrongMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Locked => StatusCode::LOCKED,
        ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Fault => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The HTTP status of a service error (the console answers with it too).
pub fn status_of(e: &CoreError) -> StatusCode {
    status(e.code())
}

/// The catalogue as the table of `docs/api.md`: each code with its anchor, status, meaning and
/// what to do next.
pub fn codes_markdown() -> String {
    let mut out = String::from("| code | status | meaning | what to do |\n|---|---|---|---|\n");
    for code in ErrorCode::ALL {
        let e = code.entry();
        out.push_str(&format!(
            "| <a id=\"{}\"></a>`{}` | {} | {} | {} |\n",
            e.anchor,
            e.code,
            status(*code).as_u16(),
            e.meaning,
            e.next_step
        ));
    }
    out
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let detail = match &e {
            // Internal detail stays in the server's log, not in the answer.
            CoreError::Store(_) | CoreError::Internal(_) => {
                tracing::error!(error = %e, "request failed");
                "the server could not complete the request; try again, and tell the administrator if it persists"
                    .to_owned()
            }
            other => other.to_string(),
        };
        let field = match &e {
            CoreError::Invalid { field, .. } => Some((*field).to_owned()),
            _ => None,
        };
        ApiError { code: e.code(), detail, field }
    }
}

/// A JSON body: `Content-Type: application/json`, at most 1 MiB, every field known and well typed.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::new(ErrorCode::BodyUnreadable, "the request body could not be read")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(ErrorCode::BodyTooLarge, "the request body is over the 1 MiB limit")
}

/// An import's body over [`IMPORT_BODY_LIMIT`].
pub fn import_too_large() -> ApiError {
    ApiError::new(
        ErrorCode::BodyTooLarge,
        "the CSV file is over the 256 MiB an import over HTTP takes; import it with `mamori customers import`",
    )
}

/// The answer to a body over the limit of its path.
pub fn too_large_for(path: &str) -> ApiError {
    if path == IMPORT_PATH {
        import_too_large()
    } else if is_vendor_files(path, VENDOR_FILES_API_PREFIX) {
        vendor_file_too_large()
    } else {
        too_large()
    }
}

/// A vendor file over [`VENDOR_FILE_LIMIT`].
pub fn vendor_file_too_large() -> ApiError {
    ApiError::new(ErrorCode::BodyTooLarge, "a vendor file is at most 10 MiB").field("file")
}

/// Parses JSON, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let code = match inner.classify() {
            serde_json::error::Category::Data => ErrorCode::InvalidField,
            _ => ErrorCode::MalformedJson,
        };
        let err = ApiError::new(code, inner.to_string());
        if path == "." { err } else { err.field(path) }
    })
}

/// A query string whose every parameter is known and well typed.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let err = ApiError::new(ErrorCode::InvalidQuery, e.inner().to_string());
            if path == "." { err } else { err.field(path) }
        })
    }
}

/// The largest entry index or tree size there can be: the databases keep them as signed 64-bit
/// numbers. A larger one in a request is refused by name (it would otherwise reach storage).
pub fn storable_index(field: &'static str, value: u64) -> Result<u64, ApiError> {
    if i64::try_from(value).is_ok() {
        Ok(value)
    } else {
        Err(ApiError::new(ErrorCode::InvalidQuery, format!("`{field}` is at most {}", i64::MAX)).field(field))
    }
}

/// An id in the path. Anything that is not a UUID cannot name a record, so it is simply not found.
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let not_found = || ApiError::new(ErrorCode::NotFound, "no record has this id");
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
        Ok(IdPath(id))
    }
}
