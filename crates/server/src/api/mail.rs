//! `/api/v1/mail` (issue 15, item 5): the caller's mails through the relay, one mail (for its
//! sender or a supervisor deciding its request), the sender's confirm (after the
//! self-check delay) and cancel; and the outgoing-mail rules (`settings.manage`). Submitting is
//! SMTP's, on the relay's port, not this API's.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiJson, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_core::outgoing_mail::MailView;
use mamori_domain::mail::MailPolicy;
use mamori_proto as proto;

fn mail_json(v: MailView) -> proto::OutgoingMailView {
    let m = v.mail;
    proto::OutgoingMailView {
        id: m.id,
        state: m.state,
        reason: m.reason,
        sender_id: m.sender_id,
        subject: v.summary.subject,
        recipients: v.recipients,
        attachments: v
            .summary
            .attachments
            .into_iter()
            .map(|a| proto::MailAttachmentView { name: a.name, size: a.size as u64 })
            .collect(),
        findings: v.findings,
        text: v.summary.text,
        size: m.size,
        created_at: m.created_at.0,
        confirm_after: m.confirm_after.0,
        hold_until: m.hold_until.0,
        approval_id: m.approval_id,
    }
}

#[utoipa::path(get, path = "/api/v1/mail", tag = "mail",
    responses((status = 200, body = proto::OutgoingMailList)))]
pub async fn list_mail(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<Json<proto::OutgoingMailList>> {
    let mails = state.core.my_outgoing_mail(&p).await?;
    Ok(Json(proto::OutgoingMailList { mails: mails.into_iter().map(mail_json).collect() }))
}

#[utoipa::path(get, path = "/api/v1/mail/{id}", tag = "mail",
    responses((status = 200, body = proto::OutgoingMailView), (status = 404, body = proto::Problem)))]
pub async fn get_mail(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::OutgoingMailView>> {
    Ok(Json(mail_json(state.core.outgoing_mail(&p, &id, &ctx).await?)))
}

/// The sender's check: after the self-check delay the mail goes — or, with customer data, it
/// waits for the supervisor's approval (`state` `awaiting_approval`, `approval_id` set).
#[utoipa::path(post, path = "/api/v1/mail/{id}/confirm", tag = "mail",
    responses((status = 200, body = proto::OutgoingMailView), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn confirm_mail(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::OutgoingMailView>> {
    state.core.confirm_mail(&p, &id, &ctx).await?;
    Ok(Json(mail_json(state.core.outgoing_mail(&p, &id, &ctx).await?)))
}

#[utoipa::path(post, path = "/api/v1/mail/{id}/cancel", tag = "mail",
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn cancel_mail(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    state.core.cancel_mail(&p, &id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/mail-policy", tag = "mail",
    responses((status = 200, body = MailPolicy), (status = 403, body = proto::Problem)))]
pub async fn get_mail_policy(State(state): State<AppState>) -> ApiResult<Json<MailPolicy>> {
    Ok(Json(state.core.mail_policy().await?))
}

/// Internal domains, the self-check delay, the hold, the recipient domains each client
/// company allows (by client id), and whether attachments to external recipients leave as
/// one-time download links (`attachment_links`, working `link_hours`) instead of files.
#[utoipa::path(put, path = "/api/v1/mail-policy", tag = "mail", request_body = MailPolicy,
    responses((status = 200, body = MailPolicy), (status = 403, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn put_mail_policy(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(policy): ApiJson<MailPolicy>,
) -> ApiResult<Json<MailPolicy>> {
    Ok(Json(state.core.set_mail_policy(&p, policy, &ctx).await?))
}
