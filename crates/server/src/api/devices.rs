//! The device ledger's API and the agents' own routes (issue 5). Agents enrol with a one-time
//! token, then sign every request with their device key: the route guard checks the signature
//! (`Access::Device`) and hands the handler the device.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiJson, ApiQuery, IdPath};
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use mamori_audit::actions;
use mamori_core::devices::DeviceRecord;
use mamori_core::devices::{NewEnrolment, is_online};
use mamori_domain::activity::{KeystrokeLimits, ShiftSchedule};
use mamori_domain::posture::PosturePolicy;
use mamori_proto::ErrorCode;
use mamori_proto::agent as proto;

#[utoipa::path(post, path = "/api/v1/agent/enroll", tag = "agent", request_body = proto::EnrolRequest,
    responses((status = 201, body = proto::Enrolled), (status = 409, body = mamori_proto::Problem),
        (status = 410, body = mamori_proto::Problem),
        (status = 429, body = mamori_proto::Problem), (status = 503, body = mamori_proto::Problem)))]
pub async fn enrol(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::EnrolRequest>,
) -> ApiResult<(StatusCode, Json<proto::Enrolled>)> {
    // An enrolment token is a credential: guesses share the per-address sign-in throttle.
    if crate::middleware::throttle_signin(&state, &ctx, &actions::DEVICE_ENROL).await.is_err() {
        return Err(crate::problem::ApiError::new(
            ErrorCode::Throttled,
            "too many attempts from this address; wait a minute",
        ));
    }
    let device_id = state.core.devices.enrol_device(&body, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Enrolled { device_id })))
}

/// The answer to a heartbeat or an inventory: the server's time and the operator's shifts.
async fn ack(state: &AppState, device: &DeviceRecord) -> ApiResult<Json<proto::AgentAck>> {
    let shifts = state.core.devices.device_shifts(device).await?;
    Ok(Json(proto::AgentAck { server_time: state.core.now().0, shifts }))
}

#[utoipa::path(post, path = "/api/v1/agent/inventory", tag = "agent", request_body = proto::Inventory,
    responses((status = 200, body = proto::AgentAck), (status = 401, body = mamori_proto::Problem),
        (status = 422, body = mamori_proto::Problem)))]
pub async fn inventory(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceRecord>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::Inventory>,
) -> ApiResult<Json<proto::AgentAck>> {
    state.core.devices.record_inventory(&device, &body, &ctx).await?;
    ack(&state, &device).await
}

#[utoipa::path(post, path = "/api/v1/agent/heartbeat", tag = "agent",
    responses((status = 200, body = proto::AgentAck), (status = 401, body = mamori_proto::Problem)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceRecord>,
) -> ApiResult<Json<proto::AgentAck>> {
    ack(&state, &device).await
}

#[utoipa::path(post, path = "/api/v1/devices/enrolments", tag = "devices", request_body = proto::CreateEnrolment,
    responses((status = 201, body = proto::EnrolmentCreated), (status = 404, body = mamori_proto::Problem),
        (status = 422, body = mamori_proto::Problem)))]
pub async fn create_enrolment(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CreateEnrolment>,
) -> ApiResult<(StatusCode, Json<proto::EnrolmentCreated>)> {
    let new = NewEnrolment {
        site_id: body.site_id,
        user_id: body.user_id,
        valid_hours: body.valid_hours.unwrap_or(24),
    };
    let (record, token) = state.core.devices.create_enrolment(&p, &new, &ctx).await?;
    Ok((
        StatusCode::CREATED,
        Json(proto::EnrolmentCreated { id: record.id, token, expires_at: record.expires_at.rfc3339() }),
    ))
}

fn summary(d: &DeviceRecord, now: mamori_domain::UnixMillis) -> proto::DeviceSummary {
    proto::DeviceSummary {
        id: d.id.clone(),
        hostname: d.hostname.clone(),
        site_id: d.site_id.clone(),
        user_id: d.user_id.clone(),
        enrolled_at: d.enrolled_at.rfc3339(),
        last_seen_at: d.last_seen_at.map(|t| t.rfc3339()),
        last_ip: d.last_ip.clone(),
        online: is_online(d, now),
        revoked: d.revoked_at.is_some(),
    }
}

#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    responses((status = 200, body = Vec<proto::DeviceSummary>)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<Json<Vec<proto::DeviceSummary>>> {
    let now = state.core.now();
    Ok(Json(state.core.devices.list_devices(&p).await?.iter().map(|d| summary(d, now)).collect()))
}

#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices",
    responses((status = 200, body = proto::DeviceDetail), (status = 404, body = mamori_proto::Problem)))]
pub async fn detail(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::DeviceDetail>> {
    let (device, history) = state.core.devices.device_detail(&p, &id, &ctx).await?;
    let inventory = history.first().and_then(|i| serde_json::from_str(&i.inventory).ok());
    let posture = state.core.devices.device_posture(&device).await?;
    Ok(Json(proto::DeviceDetail {
        device: summary(&device, state.core.now()),
        inventory,
        inventory_changes: history.iter().map(|i| i.collected_at.rfc3339()).collect(),
        posture_failures: posture.failures,
        network_approved: posture.network_approved,
    }))
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/revoke", tag = "devices",
    responses((status = 204), (status = 404, body = mamori_proto::Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    state.core.devices.revoke_device(&p, &id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The longest a poll waits for a command.
const MAX_POLL_SECS: u32 = 30;

#[utoipa::path(post, path = "/api/v1/agent/commands/poll", tag = "agent", request_body = proto::Poll,
    responses((status = 200, body = proto::Commands), (status = 401, body = mamori_proto::Problem)))]
pub async fn poll(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceRecord>,
    ApiJson(body): ApiJson<proto::Poll>,
) -> ApiResult<Json<proto::Commands>> {
    let wait = std::time::Duration::from_secs(u64::from(body.wait_secs.min(MAX_POLL_SECS)));
    let commands = state.core.devices.poll_commands(&device, wait).await?;
    Ok(Json(proto::Commands {
        commands: commands
            .into_iter()
            .map(|c| proto::Command { id: c.id, kind: c.kind, message: c.message })
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/agent/commands/{id}/result", tag = "agent", request_body = proto::CommandResult,
    responses((status = 200, body = proto::AgentAck), (status = 404, body = mamori_proto::Problem)))]
pub async fn command_result(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceRecord>,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::CommandResult>,
) -> ApiResult<Json<proto::AgentAck>> {
    state.core.devices.finish_command(&device, &id, body.ok, &body.detail, &ctx).await?;
    ack(&state, &device).await
}

pub fn command_view(c: mamori_core::devices::CommandRecord) -> proto::CommandView {
    proto::CommandView {
        id: c.id,
        kind: c.kind,
        state: c.state,
        issued_by: c.issued_by,
        created_at: c.created_at.rfc3339(),
        delivered_at: c.delivered_at.map(|t| t.rfc3339()),
        finished_at: c.finished_at.map(|t| t.rfc3339()),
        result: c.result,
    }
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/commands", tag = "devices", request_body = proto::IssueCommand,
    responses((status = 201, body = proto::CommandView), (status = 404, body = mamori_proto::Problem),
        (status = 422, body = mamori_proto::Problem)))]
pub async fn issue_command(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::IssueCommand>,
) -> ApiResult<(StatusCode, Json<proto::CommandView>)> {
    let c = state.core.devices.issue_command(&p, &id, &body.kind, body.message.as_deref(), &ctx).await?;
    Ok((StatusCode::CREATED, Json(command_view(c))))
}

#[utoipa::path(get, path = "/api/v1/devices/{id}/commands", tag = "devices",
    responses((status = 200, body = Vec<proto::CommandView>)))]
pub async fn list_commands(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<Vec<proto::CommandView>>> {
    Ok(Json(state.core.devices.device_commands(&p, &id, &ctx).await?.into_iter().map(command_view).collect()))
}

#[utoipa::path(post, path = "/api/v1/agent/events", tag = "agent", request_body = proto::EventBatch,
    responses((status = 200, body = proto::EventsAccepted), (status = 401, body = mamori_proto::Problem),
        (status = 422, body = mamori_proto::Problem)))]
pub async fn events(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceRecord>,
    ApiJson(body): ApiJson<proto::EventBatch>,
) -> ApiResult<Json<proto::EventsAccepted>> {
    let stored = state.core.devices.record_events(&device, &body.events).await?;
    Ok(Json(proto::EventsAccepted { stored, server_time: state.core.now().0 }))
}

/// An event as the ledger shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub id: String,
    pub kind: String,
    pub occurred_at: String,
    pub received_at: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[utoipa::path(get, path = "/api/v1/devices/{id}/events", tag = "devices",
    responses((status = 200, body = Vec<EventView>)))]
pub async fn list_events(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<Vec<EventView>>> {
    Ok(Json(
        state
            .core
            .devices
            .device_events(&p, &id, 500, &ctx)
            .await?
            .into_iter()
            .map(|e| EventView {
                id: e.event_id,
                kind: e.kind,
                occurred_at: e.occurred_at.rfc3339(),
                received_at: e.received_at.rfc3339(),
                data: serde_json::from_str(&e.data).unwrap_or_default(),
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/sites/{id}/device-policy", tag = "devices",
    responses((status = 200, body = PosturePolicy)))]
pub async fn get_site_policy(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<PosturePolicy>> {
    Ok(Json(state.core.devices.site_device_policy(&p, &id, &ctx).await?))
}

#[utoipa::path(put, path = "/api/v1/sites/{id}/device-policy", tag = "devices", request_body = PosturePolicy,
    responses((status = 204), (status = 404, body = mamori_proto::Problem), (status = 422, body = mamori_proto::Problem)))]
pub async fn put_site_policy(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<PosturePolicy>,
) -> ApiResult<StatusCode> {
    state.core.devices.set_site_device_policy(&p, &id, body, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/users/{id}/approved-networks", tag = "devices", request_body = proto::ApprovedNetworks,
    responses((status = 204), (status = 404, body = mamori_proto::Problem), (status = 422, body = mamori_proto::Problem)))]
pub async fn put_user_networks(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::ApprovedNetworks>,
) -> ApiResult<StatusCode> {
    state.core.devices.set_user_networks(&p, &id, body.networks, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/users/{id}/shifts", tag = "devices",
    responses((status = 200, body = ShiftSchedule)))]
pub async fn get_user_shifts(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<ShiftSchedule>> {
    Ok(Json(state.core.devices.user_shifts(&p, &id, &ctx).await?))
}

/// An operator's shifts: their PC's agent collects activity only inside them.
#[utoipa::path(put, path = "/api/v1/users/{id}/shifts", tag = "devices", request_body = ShiftSchedule,
    responses((status = 204), (status = 404, body = mamori_proto::Problem), (status = 422, body = mamori_proto::Problem)))]
pub async fn put_user_shifts(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<ShiftSchedule>,
) -> ApiResult<StatusCode> {
    state.core.devices.set_user_shifts(&p, &id, body, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/devices/keystroke-limits", tag = "devices",
    responses((status = 200, body = KeystrokeLimits)))]
pub async fn get_keystroke_limits(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<KeystrokeLimits>> {
    Ok(Json(state.core.devices.keystroke_limits(&p, &ctx).await?))
}

/// Keystrokes a minute above which a PC's bucket raises `abnormal_keystroke_rate`, per role.
#[utoipa::path(put, path = "/api/v1/devices/keystroke-limits", tag = "devices", request_body = KeystrokeLimits,
    responses((status = 204), (status = 422, body = mamori_proto::Problem)))]
pub async fn put_keystroke_limits(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<KeystrokeLimits>,
) -> ApiResult<StatusCode> {
    state.core.devices.set_keystroke_limits(&p, body, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/devices/{id}/activity", tag = "devices", params(proto::ActivityQuery),
    responses((status = 200, body = proto::ActivityList), (status = 422, body = mamori_proto::Problem)))]
pub async fn list_activity(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<proto::ActivityQuery>,
) -> ApiResult<Json<proto::ActivityList>> {
    let hours = q.hours.unwrap_or(24);
    if !(1..=744).contains(&hours) {
        return Err(crate::problem::ApiError::new(ErrorCode::OutOfRange, "`hours` is 1 to 744"));
    }
    let buckets = state
        .core
        .devices
        .device_activity(&p, &id, hours, &ctx)
        .await?
        .into_iter()
        .map(|a| a.bucket)
        .collect();
    Ok(Json(proto::ActivityList { buckets }))
}
