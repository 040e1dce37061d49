//! Who is told of alerts and incidents by e-mail (issue 16, item 6): the security admin's
//! routing — by severity to the security team's list and to the person's supervisors, and per
//! client company to further addresses.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::ApiJson;
use axum::Json;
use axum::extract::State;
use mamori_core::mail_notifications::MailRouting;

#[utoipa::path(get, path = "/api/v1/mail-routing", tag = "notifications",
    responses((status = 200, body = MailRouting), (status = 403, body = mamori_proto::Problem)))]
pub async fn get_mail_routing(State(state): State<AppState>) -> ApiResult<Json<MailRouting>> {
    Ok(Json(state.core.mail_routing().await?))
}

#[utoipa::path(put, path = "/api/v1/mail-routing", tag = "notifications", request_body = MailRouting,
    responses((status = 200, body = MailRouting), (status = 422, body = mamori_proto::Problem)))]
pub async fn put_mail_routing(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(routing): ApiJson<MailRouting>,
) -> ApiResult<Json<MailRouting>> {
    Ok(Json(state.core.set_mail_routing(&p, routing, &ctx).await?))
}
