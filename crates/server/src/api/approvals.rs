//! `/api/v1/approvals` (issue 15, item 9): four-eyes requests — the caller's inbox, a new
//! request, one request, approve or deny (with the decider's TOTP code: a step-up on the spot),
//! cancel. Who may decide is the kind's policy's, applied inside the service.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiJson, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_core::approvals::{ApprovalView, NewRequest};
use mamori_proto as proto;

pub(crate) fn approval_json(v: ApprovalView) -> proto::ApprovalView {
    let r = v.request;
    proto::ApprovalView {
        content: serde_json::from_str(&r.content).unwrap_or(serde_json::Value::Null),
        id: r.id,
        kind: r.kind,
        state: r.state,
        requester_id: r.requester_id,
        digest: r.digest,
        reason: r.reason,
        created_at: r.created_at.0,
        decide_by: r.decide_by.0,
        grant_expires_at: r.grant_expires_at.map(|t| t.0),
        approvals_needed: v.policy.approvals,
        decisions: v
            .decisions
            .into_iter()
            .map(|d| proto::ApprovalDecisionView {
                decider_id: d.decider_id,
                approve: d.approve,
                at: d.at.0,
                comment: d.comment,
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals",
    responses((status = 200, body = proto::ApprovalInbox)))]
pub async fn list_approvals(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<Json<proto::ApprovalInbox>> {
    let inbox = state.core.approvals.inbox(&p).await?;
    Ok(Json(proto::ApprovalInbox {
        to_decide: inbox.to_decide.into_iter().map(approval_json).collect(),
        mine: inbox.mine.into_iter().map(approval_json).collect(),
    }))
}

/// A request of a kind asked for directly (print, export, take-out), held to that kind's
/// checks; held mail, reveals beyond the allowance and privileged actions are raised by the
/// action itself (422 here).
#[utoipa::path(post, path = "/api/v1/approvals", tag = "approvals", request_body = proto::CreateApproval,
    responses((status = 201, body = proto::ApprovalView), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn create_approval(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CreateApproval>,
) -> ApiResult<(StatusCode, Json<proto::ApprovalView>)> {
    let new = NewRequest { kind: body.kind, content: body.content, reason: body.reason };
    let made = state.core.request_approval(&p, &new, &ctx).await?;
    let view = state.core.approvals.approval(&p, &made.id, &ctx).await?;
    Ok((StatusCode::CREATED, Json(approval_json(view))))
}

#[utoipa::path(get, path = "/api/v1/approvals/{id}", tag = "approvals",
    responses((status = 200, body = proto::ApprovalView), (status = 404, body = proto::Problem)))]
pub async fn get_approval(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::ApprovalView>> {
    Ok(Json(approval_json(state.core.approvals.approval(&p, &id, &ctx).await?)))
}

async fn decide(
    state: &AppState,
    p: &mamori_core::Principal,
    ctx: &mamori_audit::RequestContext,
    id: &str,
    approve: bool,
    body: proto::DecideApproval,
) -> ApiResult<Json<proto::ApprovalView>> {
    let step_up = state.core.identity.step_up(p, &body.totp_code, &format!("approval:{id}"), ctx).await?;
    state.core.approvals.decide(p, id, approve, Some(&step_up), &body.comment, ctx).await?;
    Ok(Json(approval_json(state.core.approvals.approval(p, id, ctx).await?)))
}

#[utoipa::path(post, path = "/api/v1/approvals/{id}/approve", tag = "approvals", request_body = proto::DecideApproval,
    responses((status = 200, body = proto::ApprovalView), (status = 401, body = proto::Problem),
        (status = 403, body = proto::Problem), (status = 404, body = proto::Problem),
        (status = 423, body = proto::Problem)))]
pub async fn approve_request(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::DecideApproval>,
) -> ApiResult<Json<proto::ApprovalView>> {
    decide(&state, &p, &ctx, &id, true, body).await
}

#[utoipa::path(post, path = "/api/v1/approvals/{id}/deny", tag = "approvals", request_body = proto::DecideApproval,
    responses((status = 200, body = proto::ApprovalView), (status = 401, body = proto::Problem),
        (status = 403, body = proto::Problem), (status = 404, body = proto::Problem),
        (status = 423, body = proto::Problem)))]
pub async fn deny_request(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::DecideApproval>,
) -> ApiResult<Json<proto::ApprovalView>> {
    decide(&state, &p, &ctx, &id, false, body).await
}

#[utoipa::path(post, path = "/api/v1/approvals/{id}/cancel", tag = "approvals",
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn cancel_request(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    state.core.approvals.cancel(&p, &id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks to export customers of one client company (fields, registration days); a supervisor
/// approves, then the requester downloads once.
#[utoipa::path(post, path = "/api/v1/exports", tag = "approvals", request_body = proto::CreateExport,
    responses((status = 201, body = proto::ApprovalView), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn create_export(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CreateExport>,
) -> ApiResult<(StatusCode, Json<proto::ApprovalView>)> {
    let spec = mamori_core::export::ExportSpec {
        client_id: body.client_id,
        fields: body.fields,
        registered_from: body.registered_from,
        registered_to: body.registered_to,
    };
    let made = state.core.request_export(&p, &spec, &body.reason, &ctx).await?;
    let view = state.core.approvals.approval(&p, &made.id, &ctx).await?;
    Ok((StatusCode::CREATED, Json(approval_json(view))))
}

/// A granted export's password (to show once) and the ticket for its download. The grant is
/// not used yet: asking again gives a new ticket and password.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/export-ticket", tag = "approvals",
    responses((status = 200, body = proto::ExportTicket), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem)))]
pub async fn export_ticket(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::ExportTicket>> {
    let t = state.core.prepare_export(&p, &id, &ctx).await?;
    Ok(Json(proto::ExportTicket {
        ticket: t.ticket,
        password: t.password,
        customers: t.customers,
        file_name: t.file_name,
    }))
}

/// The export, once: an AES-256 encrypted ZIP (`customers.csv` inside, UTF-8 with a BOM),
/// streamed; it opens with the ticket's password.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/export", tag = "approvals", request_body = proto::DownloadExport,
    responses((status = 200, content_type = "application/zip", body = Vec<u8>),
        (status = 403, body = proto::Problem), (status = 404, body = proto::Problem)))]
pub async fn download_export(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::DownloadExport>,
) -> ApiResult<axum::response::Response> {
    let header = |f: mamori_domain::customer::CustomerField| f.as_str().to_owned();
    let stream = state.core.export_customers(&p, &id, &body.ticket, &header, &ctx).await?;
    Ok(zip_response(stream))
}

/// An export as a download: the archive's bytes as they are written.
pub(crate) fn zip_response(stream: mamori_core::export::ExportStream) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let disposition = format!("attachment; filename=\"{}\"", stream.file_name);
    let chunks = futures_util::stream::unfold(Some(stream), |stream| async move {
        let mut stream = stream?;
        match stream.next_chunk().await {
            Ok(Some(bytes)) => Some((Ok::<_, std::io::Error>(bytes), Some(stream))),
            Ok(None) => {
                tracing::info!(rows = stream.rows, "export written");
                None
            }
            Err(e) => {
                // The download breaks off: a truncated archive does not open.
                tracing::error!(error = %e, rows = stream.rows, "export failed");
                Some((Err(std::io::Error::other("the export failed")), None))
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}

/// Asks to take a PC, a USB stick or a paper file out until a date (issue 15, item 4). While
/// the grant runs, the PC's off-network and the stick's USB signals are marked as approved.
#[utoipa::path(post, path = "/api/v1/take-outs", tag = "approvals", request_body = proto::CreateTakeOut,
    responses((status = 201, body = proto::ApprovalView), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn create_take_out(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CreateTakeOut>,
) -> ApiResult<(StatusCode, Json<proto::ApprovalView>)> {
    use mamori_core::take_out::{TakeOutItem, TakeOutRequest};
    use proto::TakeOutItemKind as Kind;
    let item = match (body.item, body.device_id, body.usb_serial, body.paper) {
        (Kind::Device, Some(id), None, None) => TakeOutItem::Device(id),
        (Kind::Usb, None, Some(serial), None) => TakeOutItem::Usb(serial),
        (Kind::Paper, None, None, Some(paper)) => TakeOutItem::Paper(paper),
        _ => {
            return Err(mamori_core::CoreError::Invalid {
                field: "item",
                code: proto::ErrorCode::InvalidValue,
                message: "give the item's own field only: device_id, usb_serial or paper".into(),
            }
            .into());
        }
    };
    let asked = TakeOutRequest { item, until: body.until, reason: body.reason };
    let made = state.core.request_take_out(&p, &asked, &ctx).await?;
    let view = state.core.approvals.approval(&p, &made.id, &ctx).await?;
    Ok((StatusCode::CREATED, Json(approval_json(view))))
}

/// Take-outs out now or past their date whose return the caller may record.
#[utoipa::path(get, path = "/api/v1/take-outs", tag = "approvals",
    responses((status = 200, body = proto::TakeOutsOut)))]
pub async fn list_take_outs(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<Json<proto::TakeOutsOut>> {
    let out = state.core.take_outs_to_return(&p).await?;
    Ok(Json(proto::TakeOutsOut { out: out.into_iter().map(approval_json).collect() }))
}

/// Records that a take-out came back (its requester's supervisor or a security admin).
#[utoipa::path(post, path = "/api/v1/approvals/{id}/return", tag = "approvals",
    responses((status = 204), (status = 403, body = proto::Problem), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem)))]
pub async fn record_return(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    state.core.record_return(&p, &id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks a second security admin to approve a privileged action: granting security_admin, an
/// approval policy, a customer erasure, a vault key rotation or retirement.
#[utoipa::path(post, path = "/api/v1/privileged", tag = "approvals", request_body = proto::CreatePrivileged,
    responses((status = 201, body = proto::ApprovalView), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 409, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn create_privileged(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CreatePrivileged>,
) -> ApiResult<(StatusCode, Json<proto::ApprovalView>)> {
    let made = state.core.request_privileged(&p, &body.action, &body.reason, &ctx).await?;
    let view = state.core.approvals.approval(&p, &made.id, &ctx).await?;
    Ok((StatusCode::CREATED, Json(approval_json(view))))
}

/// Carries out an approved privileged action, once, by its requester (the key commands run on
/// the server instead: 422 says how).
#[utoipa::path(post, path = "/api/v1/approvals/{id}/execute", tag = "approvals",
    responses((status = 200, body = mamori_domain::approval::PrivilegedAction), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn execute_privileged(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<mamori_domain::approval::PrivilegedAction>> {
    Ok(Json(state.core.execute_privileged(&p, &id, &ctx).await?))
}

/// How each kind of request is decided.
#[utoipa::path(get, path = "/api/v1/approval-policies", tag = "approvals",
    responses((status = 200, body = proto::ApprovalPolicies)))]
pub async fn get_approval_policies(
    State(state): State<AppState>,
) -> ApiResult<Json<proto::ApprovalPolicies>> {
    let mut policies = std::collections::BTreeMap::new();
    for kind in mamori_domain::approval::ApprovalKind::ALL {
        policies.insert(kind.as_str().to_owned(), state.core.approvals.policy(kind).await?);
    }
    Ok(Json(proto::ApprovalPolicies { policies }))
}

/// Sets how a kind of request is decided: directly with a single security admin; with a second
/// one, 403 `approval_required` — ask with `POST /api/v1/privileged`.
#[utoipa::path(put, path = "/api/v1/approval-policies/{kind}", tag = "approvals",
    params(("kind" = String, Path, description = "print, export, take_out, mail, reveal or privileged")),
    request_body = mamori_domain::approval::ApprovalPolicy,
    responses((status = 204), (status = 403, body = proto::Problem), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn put_approval_policy(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    axum::extract::Path(kind): axum::extract::Path<String>,
    ApiJson(policy): ApiJson<mamori_domain::approval::ApprovalPolicy>,
) -> ApiResult<StatusCode> {
    let kind = mamori_domain::approval::ApprovalKind::parse(&kind)
        .ok_or(mamori_core::CoreError::NotFound { what: "kind of request" })?;
    state.core.set_approval_policy(&p, kind, &policy, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The webhook's latest deliveries (the 200 newest) — approval steps, alerts, incidents — with
/// their attempts and errors.
#[utoipa::path(get, path = "/api/v1/approval-notifications", tag = "approvals",
    responses((status = 200, body = proto::ApprovalNotifications), (status = 403, body = proto::Problem)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::ApprovalNotifications>> {
    let list = state.core.approvals.notifications(&p, 200, &ctx).await?;
    Ok(Json(proto::ApprovalNotifications {
        notifications: list
            .into_iter()
            .map(|n| proto::ApprovalNotificationView {
                id: n.id,
                approval_id: n.subject.strip_prefix("approval:").map(str::to_owned),
                subject: n.subject,
                event: n.event,
                created_at: n.created_at.0,
                status: n.status,
                attempts: n.attempts,
                next_at: n.next_at.0,
                last_error: n.last_error,
                delivered_at: n.delivered_at.map(|t| t.0),
            })
            .collect(),
    }))
}
