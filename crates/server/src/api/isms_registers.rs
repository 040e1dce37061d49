//! `/api/v1/isms/registers` (issue 17, item 9): every register exported as one XLSX workbook
//! (or one register as CSV), and imported back — a dry run first if wanted, then all or
//! nothing. What the rows mean is in `mamori_core::isms::transfer`; the files in
//! `crate::workbook`.

use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_domain::isms::transfer::{Register, Workbook};
use mamori_proto::{self as proto, ErrorCode};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The two file formats.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Xlsx,
    Csv,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
        }
    }
}

fn register_of(name: Option<&str>) -> Result<Option<Register>, ApiError> {
    name.map(|n| {
        Register::parse(n).ok_or_else(|| {
            let all: Vec<&str> = Register::ALL.iter().map(|r| r.as_str()).collect();
            ApiError::new(ErrorCode::InvalidQuery, format!("register is one of: {}", all.join(", ")))
                .field("register")
        })
    })
    .transpose()
}

fn csv_needs_register() -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, "a CSV file holds one register: name it with `register=`")
        .field("register")
}

fn internal(message: String) -> ApiError {
    ApiError::new(ErrorCode::Internal, message)
}

/// Every register as an XLSX workbook (a sheet each), or one as CSV.
#[utoipa::path(get, path = "/api/v1/isms/registers/export", tag = "isms", params(proto::RegistersExportQuery),
    responses((status = 200, description = "The workbook (XLSX) or one register (CSV).",
        content((Vec<u8> = XLSX), (String = "text/csv"))),
        (status = 400, body = proto::Problem)))]
pub async fn export_registers(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::RegistersExportQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref() {
        None | Some("xlsx") => Format::Xlsx,
        Some("csv") => Format::Csv,
        Some(_) => {
            return Err(ApiError::new(ErrorCode::InvalidQuery, "format is xlsx or csv").field("format"));
        }
    };
    let register = register_of(q.register.as_deref())?;
    if format == Format::Csv && register.is_none() {
        return Err(csv_needs_register());
    }
    let workbook = state.core.isms.export_registers(&p, format.as_str(), &ctx).await?;
    let (body, content_type, name) = match (format, register) {
        (Format::Csv, Some(register)) => {
            let sheet = workbook.sheet(register).ok_or_else(|| internal("a register is missing".into()))?;
            (
                crate::workbook::write_csv(sheet).map_err(internal)?,
                "text/csv; charset=utf-8",
                register.as_str(),
            )
        }
        _ => {
            let only = Workbook {
                sheets: workbook
                    .sheets
                    .into_iter()
                    .filter(|s| register.is_none_or(|r| r.as_str() == s.name))
                    .collect(),
            };
            let bytes = tokio::task::spawn_blocking(move || crate::workbook::write_xlsx(&only))
                .await
                .map_err(|e| internal(e.to_string()))?
                .map_err(internal)?;
            (bytes, XLSX, register.map_or("registers", Register::as_str))
        }
    };
    let disposition = format!("attachment; filename=\"mamori-isms-{name}.{}\"", format.as_str());
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response())
}

/// Imports a workbook (XLSX; any of the registers' sheets) or one register's CSV file: every
/// row is checked first; any problem refuses the whole file (422, each problem with its sheet,
/// row and column) and nothing is written. `dry_run=true` reports what would change.
#[utoipa::path(post, path = crate::problem::REGISTERS_IMPORT_PATH, tag = "isms", params(proto::RegistersImportQuery),
    request_body(content((Vec<u8> = XLSX), (String = "text/csv"))),
    responses((status = 200, body = proto::RegistersImportView), (status = 400, body = proto::Problem),
        (status = 413, body = proto::Problem), (status = 415, body = proto::Problem),
        (status = 422, body = proto::ImportRefused)))]
pub async fn import_registers(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::RegistersImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let format = match media.as_deref() {
        Some(XLSX) => Format::Xlsx,
        Some("text/csv") => Format::Csv,
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("send the file as the body with `Content-Type: {XLSX}` (XLSX) or `text/csv` (CSV)"),
            ));
        }
    };
    let register = register_of(q.register.as_deref())?;
    let unreadable = |message: String| ApiError::new(ErrorCode::ImportRefused, message).field("file");
    let workbook = match (format, register) {
        (Format::Csv, None) => return Err(csv_needs_register()),
        (Format::Csv, Some(register)) => crate::workbook::read_csv(&body, register).map_err(unreadable)?,
        (Format::Xlsx, _) => tokio::task::spawn_blocking(move || crate::workbook::read_xlsx(&body))
            .await
            .map_err(|e| internal(e.to_string()))?
            .map_err(unreadable)?,
    };
    let dry_run = q.dry_run.unwrap_or(false);
    let report = state.core.isms.import_registers(&p, &workbook, format.as_str(), dry_run, &ctx).await?;
    if !report.errors.is_empty() {
        let total = report.errors.len();
        let first = report.errors.first().map(ToString::to_string).unwrap_or_default();
        let problem = ApiError::new(
            ErrorCode::ImportRefused,
            format!("nothing was imported: {total} problem(s), the first: {first}; correct the file and send it again"),
        )
        .problem();
        let body = proto::ImportRefused {
            problem,
            problems_total: total as u64,
            problems: report
                .errors
                .into_iter()
                .take(1000)
                .map(|e| proto::ImportProblem {
                    sheet: Some(e.sheet),
                    line: e.row as u64,
                    column: e.column.map(|(letter, name)| format!("{letter} ({name})")),
                    message: e.message,
                })
                .collect(),
        };
        let mut resp = (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        return Ok(resp);
    }
    Ok(Json(proto::RegistersImportView {
        dry_run,
        applied: report.applied,
        sheets: report
            .sheets
            .into_iter()
            .map(|(r, c)| proto::RegisterImportCounts {
                register: r.as_str().to_owned(),
                created: c.created,
                changed: c.changed,
                unchanged: c.unchanged,
            })
            .collect(),
    })
    .into_response())
}
