//! `/api/v1/customers`: create a customer record, and look customers up by phone — only those
//! of the caller's client companies, masked for the caller's roles, every read recorded.
//! `/api/v1/cti`: the telephony integration reports calls, which make lookups of the caller
//! need no reason.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::ApiJson;
use crate::problem::IdPath;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_core::vault::{Lookup, NewCustomer, Purpose};
use mamori_domain::customer::Mask;
use mamori_domain::vault_policy::VaultPolicy;
use mamori_proto as proto;
use mamori_proto::ErrorCode;

#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = proto::CreateCustomer,
    responses((status = 201, body = proto::CustomerCreated), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CreateCustomer>,
) -> ApiResult<(StatusCode, Json<proto::CustomerCreated>)> {
    let new = NewCustomer { client_id: body.client_id, fields: body.fields };
    let id = state.core.vault.create_customer(&p, &new, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::CustomerCreated { id })))
}

fn mask_name(m: Mask) -> String {
    match m {
        Mask::Full => "full",
        Mask::Partial => "partial",
        Mask::Hidden => "hidden",
    }
    .into()
}

#[utoipa::path(post, path = "/api/v1/customers/lookup", tag = "customers", request_body = proto::CustomerLookup,
    responses((status = 200, body = proto::CustomerCards), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn lookup(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CustomerLookup>,
) -> ApiResult<Json<proto::CustomerCards>> {
    let reason_given = body.reason_code.is_some();
    let lookup =
        Lookup::from_parts(body.call_id, body.phone, body.email, body.name, body.birth_date, reason_given)?;
    let purpose = match (body.reason_code, body.reason_text) {
        (None, None) => Purpose::ActiveCall,
        (code, text) => Purpose::Reason { code: code.unwrap_or_default(), text: text.unwrap_or_default() },
    };
    Ok(Json(cards_of(state.core.vault.look_up(&p, &lookup, &purpose, &ctx).await?)))
}

fn cards_of(cards: Vec<mamori_core::vault::CustomerCard>) -> proto::CustomerCards {
    proto::CustomerCards {
        customers: cards
            .into_iter()
            .map(|c| proto::CustomerCard {
                id: c.id,
                client_id: c.client_id,
                fields: c
                    .fields
                    .into_iter()
                    .map(|f| proto::ShownField {
                        field: f.field.as_str().into(),
                        value: f.value,
                        mask: mask_name(f.mask),
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[utoipa::path(post, path = "/api/v1/cti/calls", tag = "cti", request_body = proto::CallStarted,
    responses((status = 201), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn call_started(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CallStarted>,
) -> ApiResult<StatusCode> {
    state.core.vault.call_started(p.actor(), &body.call_id, &body.operator, &body.caller, &ctx).await?;
    Ok(StatusCode::CREATED)
}

#[utoipa::path(post, path = "/api/v1/cti/calls/end", tag = "cti", request_body = proto::CallEnded,
    responses((status = 204), (status = 404, body = proto::Problem)))]
pub async fn call_ended(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CallEnded>,
) -> ApiResult<StatusCode> {
    state.core.vault.call_ended(p.actor(), &body.call_id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/reveal", tag = "customers", request_body = proto::RevealField,
    responses((status = 200, body = proto::RevealedField), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn reveal(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::RevealField>,
) -> ApiResult<Json<proto::RevealedField>> {
    let purpose = Purpose::Reason { code: body.reason_code, text: body.reason_text };
    let value = state.core.vault.reveal_field(&p, &id, &body.field, &purpose, &ctx).await?;
    Ok(Json(proto::RevealedField { field: body.field, value }))
}

/// Beyond the reveal allowance: asks the caller's supervisor to approve this reveal (issue 15,
/// item 6). Once approved, `POST /api/v1/approvals/{id}/reveal` shows the value once.
#[utoipa::path(post, path = "/api/v1/customers/{id}/reveal-requests", tag = "customers", request_body = proto::RevealField,
    responses((status = 201, body = proto::ApprovalView), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn request_reveal(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::RevealField>,
) -> ApiResult<(StatusCode, Json<proto::ApprovalView>)> {
    let purpose = Purpose::Reason { code: body.reason_code, text: body.reason_text };
    let made = state.core.request_reveal(&p, &id, &body.field, &purpose, &ctx).await?;
    let view = state.core.approvals.approval(&p, &made.id, &ctx).await?;
    Ok((StatusCode::CREATED, Json(super::approvals::approval_json(view))))
}

/// An approved reveal, once: the field's value.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/reveal", tag = "customers",
    responses((status = 200, body = proto::RevealedField), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem)))]
pub async fn approved_reveal(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::RevealedField>> {
    let shown = state.core.reveal_approved(&p, &id, &ctx).await?;
    Ok(Json(proto::RevealedField { field: shown.field.as_str().to_owned(), value: shown.value }))
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/notes", tag = "customers", request_body = proto::AddNote,
    responses((status = 204), (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn add_note(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::AddNote>,
) -> ApiResult<StatusCode> {
    state.core.vault.add_customer_note(&p, &id, &body.text, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", request_body = proto::CorrectCustomer,
    responses((status = 204), (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn correct(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::CorrectCustomer>,
) -> ApiResult<StatusCode> {
    state.core.vault.correct_customer(&p, &id, &body.request_ref, &body.fields, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/disclosure", tag = "customers", request_body = proto::SubjectRequest,
    responses((status = 200, body = proto::Disclosure), (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn disclose(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::SubjectRequest>,
) -> ApiResult<Json<proto::Disclosure>> {
    let d = state.core.vault.disclose_customer(&p, &id, &body.request_ref, &ctx).await?;
    Ok(Json(proto::Disclosure {
        id: d.id,
        client_id: d.client_id,
        created_at: d.created_at.rfc3339(),
        updated_at: d.updated_at.rfc3339(),
        fields: d
            .fields
            .into_iter()
            .map(|(field, class, value)| proto::DisclosedField { field, class, value })
            .collect(),
        accesses: d.accesses,
    }))
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/erase", tag = "customers", request_body = proto::SubjectRequest,
    responses((status = 204), (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn erase(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::SubjectRequest>,
) -> ApiResult<StatusCode> {
    state.core.vault.erase_customer(&p, &id, &body.request_ref, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/vault/policy", tag = "customers",
    responses((status = 200, body = VaultPolicy)))]
pub async fn get_policy(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<VaultPolicy>> {
    Ok(Json((*state.core.vault.vault_policy(&p, &ctx).await?).clone()))
}

#[utoipa::path(put, path = "/api/v1/vault/policy", tag = "customers", request_body = VaultPolicy,
    responses((status = 204), (status = 422, body = proto::Problem)))]
pub async fn put_policy(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<VaultPolicy>,
) -> ApiResult<StatusCode> {
    state.core.vault.set_vault_policy(&p, body, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = crate::problem::IMPORT_PATH, tag = "customers", params(proto::ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = proto::ImportDone), (status = 404, body = proto::Problem),
        (status = 422, body = proto::ImportRefused)))]
pub async fn import(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    crate::problem::ApiQuery(q): crate::problem::ApiQuery<proto::ImportQuery>,
    request: axum::extract::Request,
) -> Result<axum::response::Response, crate::problem::ApiError> {
    use axum::RequestExt;
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    use mamori_core::vault::import::{CsvEncoding, ImportError};
    let is_csv = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/csv"));
    if !is_csv {
        return Err(crate::problem::ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the CSV file as the body with `Content-Type: text/csv`",
        ));
    }
    let encoding = match q.encoding.as_deref() {
        None => CsvEncoding::Utf8,
        Some(e) => CsvEncoding::parse(e).ok_or_else(|| {
            crate::problem::ApiError::new(ErrorCode::InvalidQuery, "encoding is utf-8 or shift_jis")
                .field("encoding")
        })?,
    };
    let joined = |e: tokio::task::JoinError| {
        crate::problem::ApiError::from(mamori_core::CoreError::Internal(e.to_string()))
    };
    // First pass, as the file arrives: every row is checked on a blocking thread and dropped
    // (nothing sealed, nothing written), and of the problems only the first few are kept, so a
    // file that is wrong on every line costs no more memory than a short one. The file's chunks
    // are kept for the second pass only while no problem has been found.
    let kept: Shared<Option<Vec<axum::body::Bytes>>> = Default::default();
    *lock(&kept) = Some(Vec::new());
    let body_error: Shared<Option<crate::problem::ApiError>> = Default::default();
    let chunks = request.into_limited_body().into_data_stream().map({
        let (kept, body_error) = (kept.clone(), body_error.clone());
        move |chunk| match chunk {
            Ok(bytes) => {
                if let Some(k) = lock(&kept).as_mut() {
                    k.push(bytes.clone());
                }
                Ok(bytes)
            }
            Err(e) => {
                *lock(&body_error) = Some(if over_limit(&e) {
                    crate::problem::import_too_large()
                } else {
                    crate::problem::ApiError::new(
                        ErrorCode::BodyUnreadable,
                        "the request body could not be read",
                    )
                });
                Err(std::io::Error::other("the request body could not be read"))
            }
        }
    });
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(chunks));
    let (core, client_id, dropped) = (state.core.clone(), q.client_id.clone(), kept.clone());
    let checked = tokio::task::spawn_blocking(move || {
        core.vault.check_customers_csv(&client_id, reader, encoding, &mut |_, problems| {
            if problems > 0 {
                lock(&dropped).take();
            }
        })
    })
    .await
    .map_err(joined)?;
    if let Some(e) = lock(&body_error).take() {
        return Err(e);
    }
    let result = match checked {
        Err(e) => Err(e),
        Ok(_) => {
            // Second pass, over the kept chunks (each let go once read): sealed and written a
            // chunk of rows at a time in one transaction. Sealing is CPU work: it runs off the
            // threads that answer live lookups.
            let file = KeptChunks {
                chunks: lock(&kept).take().unwrap_or_default().into_iter(),
                current: Default::default(),
            };
            let core = state.core.clone();
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                runtime.block_on(core.vault.import_customers_csv(
                    &p,
                    &q.client_id,
                    file,
                    encoding,
                    &mut |_| {},
                    &ctx,
                ))
            })
            .await
            .map_err(joined)?
        }
    };
    match result {
        Ok(imported) => Ok((StatusCode::CREATED, Json(proto::ImportDone { imported })).into_response()),
        Err(ImportError::Core(e)) => Err(e.into()),
        Err(ImportError::Refused(refusal)) => {
            let unlisted = match refusal.unlisted() {
                0 => String::new(),
                _ => format!(", the first {} listed", refusal.problems.len()),
            };
            let problem = crate::problem::ApiError::new(
                ErrorCode::ImportRefused,
                format!(
                    "nothing was imported: {} problem(s){unlisted}; correct the file and send it again",
                    refusal.total
                ),
            )
            .problem();
            let body = proto::ImportRefused {
                problem,
                problems_total: refusal.total,
                problems: refusal
                    .problems
                    .into_iter()
                    .map(|p| proto::ImportProblem {
                        sheet: None,
                        line: p.line,
                        column: p.column,
                        message: p.message,
                    })
                    .collect(),
            };
            let mut resp = (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/problem+json"),
            );
            Ok(resp)
        }
    }
}

type Shared<T> = std::sync::Arc<std::sync::Mutex<T>>;

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether reading the body failed because it went over the import's limit.
fn over_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The chunks of a checked file, read in order, each let go once read.
struct KeptChunks {
    chunks: std::vec::IntoIter<axum::body::Bytes>,
    current: axum::body::Bytes,
}

impl std::io::Read for KeptChunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.next() {
                Some(c) => self.current = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
