//! `/api/v1`: JSON in and out, RFC 9457 problems for errors, described by the OpenAPI document
//! at `/api/v1/openapi.json`. Each handler extracts, calls `mamori_core`, and converts.

use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiJson, IdPath};
use crate::routes::{Routes, operation};
use crate::{AppState, openapi};
use axum::Json;
use axum::extract::State;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mamori_core::User;
use mamori_core::identity::admin::Invitation;
use mamori_domain::Permission::*;
use mamori_domain::authz::Access;
use mamori_domain::identity::OrgKind;
use mamori_proto as proto;
use mamori_proto::ErrorCode;
use std::time::Duration;

pub mod access_reviews;
pub mod alerts;
pub mod approvals;
pub mod audit;
pub mod checks;
pub mod customers;
pub mod devices;
pub mod incidents;
pub mod isms;
pub mod isms_continuity;
pub mod isms_disposals;
pub mod isms_internal_audits;
pub mod isms_legal;
pub mod isms_policies;
pub mod isms_registers;
pub mod isms_soa_export;
pub mod isms_vendor_files;
pub mod mail;
pub mod notifications;
pub mod training;

type ApiResult<T> = Result<T, ApiError>;

/// The API's routes, each with the access it needs; the method, path and OpenAPI entry of each
/// come from its handler's `#[utoipa::path]` attribute.
pub fn routes(r: Routes) -> Routes {
    use Access::*;
    r.api(Public, operation!(healthz))
        .api(Public, operation!(readyz))
        // The document itself is not one of its operations.
        .add(Method::GET, "/api/v1/openapi.json", Public, openapi::document)
        // Public to the guard; the handler lets in the loopback or the scrape token only.
        .add(Method::GET, "/metrics", Public, crate::metrics::metrics)
        .api(SignedIn, operation!(me))
        .api(Permission(UsersRead), operation!(list_users))
        .api(Permission(UsersManage), operation!(invite_user))
        .api(Permission(UsersRead), operation!(get_user))
        .api(Permission(UsersManage), operation!(update_user))
        .api(Permission(UsersManage), operation!(disable_user))
        .api(Permission(UsersManage), operation!(enable_user))
        .api(Permission(UsersManage), operation!(unlock_user))
        .api(Permission(UsersManage), operation!(reset_totp))
        .api(Permission(UsersManage), operation!(reinvite_user))
        .api(Permission(UsersManage), operation!(end_user_sessions))
        .api(Permission(OrgRead), operation!(list_sites))
        .api(Permission(OrgManage), operation!(create_site))
        .api(Permission(OrgRead), operation!(list_teams))
        .api(Permission(OrgManage), operation!(create_team))
        .api(Permission(OrgRead), operation!(list_clients))
        .api(Permission(OrgManage), operation!(create_client))
        .api(Permission(TokensManage), operation!(list_tokens))
        .api(Permission(TokensManage), operation!(create_token))
        .api(Permission(TokensManage), operation!(revoke_token))
        .api(Permission(AuditRead), operation!(audit::search))
        .api(Permission(AuditRead), operation!(audit::export))
        .api(Permission(AuditRead), operation!(audit::checkpoint))
        .api(Permission(AuditRead), operation!(audit::entry_proof))
        .api(Permission(AuditRead), operation!(audit::consistency))
        .api(Permission(CustomersManage), operation!(customers::create))
        .api(Permission(CustomersRead), operation!(customers::lookup))
        .api(
            Permission(CustomersManage),
            operation!(customers::import)
                .map(|h| h.layer(axum::extract::DefaultBodyLimit::max(crate::problem::IMPORT_BODY_LIMIT))),
        )
        .api(Permission(CustomersRead), operation!(customers::reveal))
        .api(Permission(CustomersRead), operation!(customers::request_reveal))
        .api(Permission(CustomersRead), operation!(customers::approved_reveal))
        .api(Permission(CustomersRead), operation!(customers::add_note))
        .api(Permission(CustomersManage), operation!(customers::correct))
        .api(Permission(CustomersManage), operation!(customers::disclose))
        .api(Permission(CustomersManage), operation!(customers::erase))
        .api(Permission(CustomersManage), operation!(customers::get_policy))
        .api(Permission(CustomersManage), operation!(customers::put_policy))
        .api(Permission(CtiWrite), operation!(customers::call_started))
        .api(Permission(CtiWrite), operation!(customers::call_ended))
        .api(Public, operation!(devices::enrol))
        .api(Device, operation!(devices::inventory))
        .api(Device, operation!(devices::heartbeat))
        .api(Device, operation!(devices::events))
        .api(Device, operation!(devices::poll))
        .api(Device, operation!(devices::command_result))
        .api(Permission(DevicesManage), operation!(devices::create_enrolment))
        .api(Permission(DevicesRead), operation!(devices::list))
        .api(Permission(DevicesRead), operation!(devices::detail))
        .api(Permission(DevicesManage), operation!(devices::revoke))
        .api(Permission(DevicesCommand), operation!(devices::issue_command))
        .api(Permission(DevicesRead), operation!(devices::list_commands))
        .api(Permission(DevicesRead), operation!(devices::list_events))
        .api(Permission(DevicesRead), operation!(devices::list_activity))
        .api(Permission(DevicesRead), operation!(devices::get_keystroke_limits))
        .api(Permission(DevicesManage), operation!(devices::put_keystroke_limits))
        .api(Permission(DevicesRead), operation!(devices::get_user_shifts))
        .api(Permission(DevicesManage), operation!(devices::put_user_shifts))
        .api(Permission(DevicesRead), operation!(devices::get_site_policy))
        .api(Permission(DevicesManage), operation!(devices::put_site_policy))
        .api(Permission(DevicesManage), operation!(devices::put_user_networks))
        .api(Permission(SecurityEventsRead), operation!(security_events))
        .api(Permission(SettingsManage), operation!(get_settings))
        .api(Permission(SettingsManage), operation!(put_settings))
        // A supervisor reads and decides only the entries they review: the service's check.
        .api(Permission(AccessReviewsRead), operation!(access_reviews::list_access_reviews))
        .api(Permission(AccessReviewsManage), operation!(access_reviews::start_access_review))
        .api(Permission(AccessReviewsManage), operation!(access_reviews::set_access_review_settings))
        .api(Permission(AccessReviewsRead), operation!(access_reviews::get_access_review))
        .api(Permission(IsmsRead), operation!(access_reviews::export_access_review))
        .api(Permission(AccessReviewsDecide), operation!(access_reviews::decide_access_review_entry))
        // Anyone signed in may ask and see their own; who decides is the kind's policy's.
        .api(SignedIn, operation!(approvals::list_approvals))
        .api(SignedIn, operation!(approvals::create_approval))
        .api(SignedIn, operation!(approvals::get_approval))
        .api(SignedIn, operation!(approvals::approve_request))
        .api(SignedIn, operation!(approvals::deny_request))
        .api(SignedIn, operation!(approvals::cancel_request))
        // An export's own checks (client scope, fields the role sees) are the service's.
        .api(Permission(CustomersRead), operation!(approvals::create_export))
        .api(SignedIn, operation!(approvals::export_ticket))
        .api(SignedIn, operation!(approvals::download_export))
        // A take-out's checks (one's own PC or one's people scope) are the service's.
        .api(SignedIn, operation!(approvals::create_take_out))
        .api(SignedIn, operation!(approvals::list_take_outs))
        .api(SignedIn, operation!(approvals::record_return))
        // Privileged actions: who may ask is the action's permission, checked in the service.
        .api(SignedIn, operation!(approvals::create_privileged))
        .api(SignedIn, operation!(approvals::execute_privileged))
        .api(Permission(SettingsManage), operation!(approvals::get_approval_policies))
        .api(Permission(SettingsManage), operation!(approvals::put_approval_policy))
        .api(Permission(SettingsManage), operation!(approvals::list_notifications))
        .api(SignedIn, operation!(mail::list_mail))
        .api(SignedIn, operation!(mail::get_mail))
        .api(SignedIn, operation!(mail::confirm_mail))
        .api(SignedIn, operation!(mail::cancel_mail))
        .api(Permission(SettingsManage), operation!(mail::get_mail_policy))
        .api(Permission(SettingsManage), operation!(mail::put_mail_policy))
        // Alerts are narrowed to the caller's people scope by the service.
        .api(Permission(AlertsRead), operation!(alerts::list_alerts))
        .api(Permission(AlertsRead), operation!(alerts::get_alert))
        .api(Permission(AlertsManage), operation!(alerts::change_alert))
        .api(Permission(AlertsManage), operation!(alerts::reverse_response))
        .api(Permission(AlertsRead), operation!(alerts::get_detection_rules))
        .api(Permission(SettingsManage), operation!(alerts::put_detection_rules))
        // Anyone may report a possible leak (LEAK-8); the rest is the security admins'.
        .api(SignedIn, operation!(incidents::report_leak))
        .api(Permission(IncidentsRead), operation!(incidents::list_incidents))
        .api(Permission(IncidentsManage), operation!(incidents::open_incident))
        .api(Permission(IncidentsRead), operation!(incidents::get_incident))
        .api(Permission(IncidentsManage), operation!(incidents::change_incident))
        .api(Permission(IncidentsRead), operation!(incidents::report_draft))
        .api(Permission(SettingsManage), operation!(incidents::get_incident_settings))
        .api(Permission(SettingsManage), operation!(incidents::put_incident_settings))
        .api(Permission(SettingsManage), operation!(notifications::get_mail_routing))
        .api(Permission(SettingsManage), operation!(notifications::put_mail_routing))
        .api(Permission(IsmsRead), operation!(isms::list_catalogs))
        .api(Permission(IsmsManage), operation!(isms::import_catalog))
        .api(Permission(IsmsRead), operation!(isms::get_soa))
        .api(Permission(IsmsRead), operation!(isms_soa_export::export_soa))
        .api(Permission(IsmsRead), operation!(isms::get_control))
        .api(Permission(IsmsManage), operation!(isms::decide_control))
        .api(Permission(IsmsRead), operation!(isms::list_evidence))
        .api(Permission(IsmsManage), operation!(isms::check_evidence))
        .api(Permission(IsmsRead), operation!(isms::list_assets))
        .api(Permission(IsmsManage), operation!(isms::create_asset))
        .api(Permission(IsmsRead), operation!(isms::get_asset))
        .api(Permission(IsmsManage), operation!(isms::update_asset))
        .api(Permission(IsmsManage), operation!(isms::retire_asset))
        .api(Permission(IsmsRead), operation!(isms::list_risk_assessments))
        .api(Permission(IsmsManage), operation!(isms::create_risk_assessment))
        .api(Permission(IsmsRead), operation!(isms::list_risks))
        .api(Permission(IsmsManage), operation!(isms::create_risk))
        .api(Permission(IsmsRead), operation!(isms::get_risk))
        .api(Permission(IsmsManage), operation!(isms::update_risk))
        .api(Permission(IsmsRead), operation!(isms::list_vendors))
        .api(Permission(IsmsManage), operation!(isms::create_vendor))
        .api(Permission(IsmsRead), operation!(isms::get_vendor))
        .api(Permission(IsmsManage), operation!(isms::update_vendor))
        .api(Permission(IsmsManage), operation!(isms::retire_vendor))
        .api(Permission(IsmsManage), operation!(isms::assess_vendor))
        .api(Permission(IsmsManage), operation!(isms::record_vendor_visit))
        .api(Permission(IsmsManage), operation!(isms::record_vendor_certificate))
        .api(
            Permission(IsmsManage),
            operation!(isms_vendor_files::attach_vendor_file)
                .map(|h| h.layer(axum::extract::DefaultBodyLimit::max(crate::problem::VENDOR_FILE_LIMIT))),
        )
        .api(Permission(IsmsRead), operation!(isms_vendor_files::list_vendor_files))
        .api(Permission(IsmsRead), operation!(isms_vendor_files::download_vendor_file))
        .api(Permission(IsmsRead), operation!(isms::list_certificates))
        .api(Permission(IsmsManage), operation!(isms::record_certificate))
        .api(Permission(IsmsRead), operation!(isms_legal::list_legal))
        .api(Permission(IsmsManage), operation!(isms_legal::create_legal))
        .api(Permission(IsmsRead), operation!(isms_legal::get_legal))
        .api(Permission(IsmsManage), operation!(isms_legal::update_legal))
        .api(Permission(IsmsManage), operation!(isms_legal::retire_legal))
        .api(Permission(IsmsRead), operation!(isms_disposals::list_disposals))
        .api(Permission(IsmsManage), operation!(isms_disposals::record_disposal))
        .api(Permission(IsmsRead), operation!(isms_continuity::list_continuity))
        .api(Permission(IsmsManage), operation!(isms_continuity::create_continuity_plan))
        .api(Permission(IsmsManage), operation!(isms_continuity::update_continuity_plan))
        .api(Permission(IsmsManage), operation!(isms_continuity::retire_continuity_plan))
        .api(Permission(IsmsManage), operation!(isms_continuity::record_continuity_drill))
        .api(Permission(IsmsRead), operation!(isms_internal_audits::list_internal_audits))
        .api(Permission(IsmsManage), operation!(isms_internal_audits::plan_internal_audit))
        .api(Permission(IsmsManage), operation!(isms_internal_audits::report_internal_audit))
        .api(Permission(IsmsManage), operation!(isms_internal_audits::raise_audit_finding))
        .api(Permission(IsmsManage), operation!(isms_internal_audits::take_finding_step))
        .api(Permission(IsmsRead), operation!(isms_policies::list_isms_policies))
        .api(Permission(IsmsManage), operation!(isms_policies::create_isms_policy))
        .api(Permission(IsmsManage), operation!(isms_policies::set_isms_policy_option))
        .api(Permission(IsmsManage), operation!(isms_policies::save_isms_policy_draft))
        .api(Permission(IsmsManage), operation!(isms_policies::publish_isms_policy))
        .api(Permission(IsmsManage), operation!(isms_policies::remind_isms_policy))
        .api(Permission(PoliciesRead), operation!(isms_policies::list_my_policies))
        .api(Permission(PoliciesRead), operation!(isms_policies::get_policy_document))
        .api(Permission(PoliciesRead), operation!(isms_policies::get_policy_diff))
        .api(Permission(PoliciesRead), operation!(isms_policies::acknowledge_policy_document))
        .api(Permission(IsmsRead), operation!(training::list_isms_training))
        .api(Permission(IsmsManage), operation!(training::create_isms_training))
        .api(Permission(IsmsManage), operation!(training::set_isms_training_option))
        .api(Permission(IsmsManage), operation!(training::remind_isms_training))
        .api(Permission(IsmsManage), operation!(training::add_isms_training_image))
        .api(Permission(IsmsManage), operation!(training::assign_isms_training))
        .api(Permission(IsmsManage), operation!(training::retire_isms_training))
        .api(Permission(TrainingTake), operation!(training::list_my_training))
        .api(Permission(TrainingTake), operation!(training::get_training_image))
        .api(Permission(TrainingTake), operation!(training::get_training_course))
        .api(Permission(TrainingTake), operation!(training::submit_training_attempt))
        .api(Permission(TrainingTake), operation!(training::get_training_certificate))
        .api(Permission(ChecksDo), operation!(checks::list_my_checks))
        .api(
            Permission(ChecksDo),
            operation!(checks::record_check_run)
                .map(|h| h.layer(axum::extract::DefaultBodyLimit::max(crate::problem::CHECK_RUN_LIMIT))),
        )
        .api(Permission(ChecksDo), operation!(checks::resolve_check_follow_up))
        .api(Permission(ChecksDo), operation!(checks::get_check_photo))
        .api(Permission(IsmsRead), operation!(checks::isms_checks_overview))
        .api(Permission(IsmsRead), operation!(checks::get_isms_check_photo))
        .api(Permission(IsmsManage), operation!(checks::create_checklist))
        .api(Permission(IsmsManage), operation!(checks::update_checklist))
        .api(Permission(IsmsManage), operation!(checks::retire_checklist))
        .api(Permission(IsmsManage), operation!(checks::resolve_isms_check_follow_up))
        .api(Permission(IsmsRead), operation!(isms::get_dashboard))
        .api(Permission(IsmsRead), operation!(isms_registers::export_registers))
        .api(
            Permission(IsmsManage),
            operation!(isms_registers::import_registers).map(|h| {
                h.layer(axum::extract::DefaultBodyLimit::max(crate::problem::REGISTERS_IMPORT_LIMIT))
            }),
        )
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = proto::Health)))]
pub async fn healthz() -> Json<proto::Health> {
    Json(proto::Health { status: "ok".into() })
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = proto::Health), (status = 503, body = proto::Problem)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    if !state.is_ready() {
        return ApiError::new(ErrorCode::Starting, "start-up is not finished").into_response();
    }
    match state.core.database_answers().await {
        Ok(()) => Json(proto::Health { status: "ready".into() }).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check: database unreachable");
            ApiError::new(ErrorCode::DatabaseUnreachable, "the database does not answer").into_response()
        }
    }
}

pub(crate) fn user_json(u: &User, client_ids: Vec<String>) -> proto::User {
    proto::User {
        id: u.id.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        roles: u.roles.clone(),
        status: u.status,
        team_id: u.team_id.clone(),
        site_id: u.site_id.clone(),
        client_ids,
        mail_address: u.mail_address.clone(),
        totp_enabled: u.totp_enabled,
        locked_until: u.locked_until.map(|t| t.0),
        created_at: u.created_at.0,
    }
}

#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, body = proto::Me), (status = 401, body = proto::Problem)))]
pub async fn me(Caller(p): Caller) -> ApiResult<Json<proto::Me>> {
    Ok(Json(proto::Me {
        id: p.user.id.clone(),
        username: p.user.username.clone(),
        display_name: p.user.display_name.clone(),
        roles: p.user.roles.clone(),
        permissions: p.permissions.iter().copied().collect(),
        client_ids: p.client_ids.clone(),
        language: p.user.language.as_deref().and_then(mamori_domain::identity::Language::parse),
        totp_enabled: p.user.totp_enabled,
        authenticated_by: match p.via {
            mamori_core::Credential::Session { .. } => "session".into(),
            mamori_core::Credential::ApiToken { .. } => "api_token".into(),
        },
    }))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = proto::UserList), (status = 403, body = proto::Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::UserList>> {
    let users = state.core.identity.list_users(&p, &ctx).await?;
    Ok(Json(proto::UserList { users: users.iter().map(|u| user_json(u, Vec::new())).collect() }))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = proto::InviteUser,
    responses((status = 201, body = proto::Invited), (status = 409, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn invite_user(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::InviteUser>,
) -> ApiResult<(StatusCode, Json<proto::Invited>)> {
    let inv = Invitation {
        username: body.username,
        display_name: body.display_name,
        roles: body.roles,
        team_id: body.team_id,
        site_id: body.site_id,
        client_ids: body.client_ids,
        mail_address: body.mail_address,
    };
    let invited = state.core.identity.invite_user(&p, &inv, &ctx).await?;
    Ok((
        StatusCode::CREATED,
        Json(proto::Invited {
            user: user_json(&invited.user, invited.client_ids),
            invitation_url: format!("{}/invite?token={}", state.config.public_url, invited.token),
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    responses((status = 200, body = proto::User), (status = 404, body = proto::Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::User>> {
    let (user, clients) = state.core.identity.user(&p, &id, &ctx).await?;
    Ok(Json(user_json(&user, clients)))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = proto::UpdateUser,
    responses((status = 200, body = proto::User), (status = 422, body = proto::Problem)))]
pub async fn update_user(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::UpdateUser>,
) -> ApiResult<Json<proto::User>> {
    let change = mamori_core::identity::admin::UserChange {
        display_name: body.display_name,
        team_id: body.team_id,
        site_id: body.site_id,
        mail_address: body.mail_address,
        roles: body.roles,
        client_ids: body.client_ids,
    };
    let (user, clients) = state.core.identity.change_user(&p, &id, &change, &ctx).await?;
    Ok(Json(user_json(&user, clients)))
}

macro_rules! user_action {
    ($name:ident, $path:literal, $method:ident) => {
        #[utoipa::path(post, path = $path, tag = "users", responses((status = 204), (status = 404, body = proto::Problem)))]
        pub async fn $name(
            State(state): State<AppState>,
            Caller(p): Caller,
            Ctx(ctx): Ctx,
            IdPath(id): IdPath,
        ) -> ApiResult<StatusCode> {
            state.core.identity.$method(&p, &id, &ctx).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

user_action!(disable_user, "/api/v1/users/{id}/disable", disable_user);
user_action!(enable_user, "/api/v1/users/{id}/enable", enable_user);
user_action!(unlock_user, "/api/v1/users/{id}/unlock", unlock_user);
user_action!(reset_totp, "/api/v1/users/{id}/reset-totp", reset_user_totp);

#[utoipa::path(post, path = "/api/v1/users/{id}/reinvite", tag = "users",
    responses((status = 200, body = proto::InvitationLink), (status = 409, body = proto::Problem)))]
pub async fn reinvite_user(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::InvitationLink>> {
    let token = state.core.identity.reinvite_user(&p, &id, &ctx).await?;
    Ok(Json(proto::InvitationLink {
        invitation_url: format!("{}/invite?token={token}", state.config.public_url),
    }))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "users",
    responses((status = 200, body = proto::SessionsEnded), (status = 404, body = proto::Problem)))]
pub async fn end_user_sessions(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::SessionsEnded>> {
    let n = state.core.identity.end_user_sessions(&p, &id, &ctx).await?;
    Ok(Json(proto::SessionsEnded { sessions_ended: n }))
}

async fn list_org(state: &AppState, kind: OrgKind) -> ApiResult<Json<proto::OrgUnitList>> {
    let items = state.core.identity.list_org(kind).await?;
    Ok(Json(proto::OrgUnitList { items: items.into_iter().map(org_json).collect() }))
}

fn org_json(u: mamori_core::identity::OrgUnit) -> proto::OrgUnit {
    proto::OrgUnit { id: u.id, name: u.name, site_id: u.site_id, created_at: u.created_at.0 }
}

async fn create_org(
    state: &AppState,
    p: &mamori_core::Principal,
    ctx: &mamori_audit::RequestContext,
    kind: OrgKind,
    body: proto::CreateOrgUnit,
) -> ApiResult<(StatusCode, Json<proto::OrgUnit>)> {
    let unit = state.core.identity.create_org_unit(p, kind, &body.name, body.site_id, ctx).await?;
    Ok((StatusCode::CREATED, Json(org_json(unit))))
}

macro_rules! org_routes {
    ($list:ident, $create:ident, $path:literal, $kind:expr, $tag:literal) => {
        #[utoipa::path(get, path = $path, tag = $tag, responses((status = 200, body = proto::OrgUnitList)))]
        pub async fn $list(State(state): State<AppState>) -> ApiResult<Json<proto::OrgUnitList>> {
            list_org(&state, $kind).await
        }

        #[utoipa::path(post, path = $path, tag = $tag, request_body = proto::CreateOrgUnit,
                    responses((status = 201, body = proto::OrgUnit), (status = 409, body = proto::Problem),
                        (status = 422, body = proto::Problem)))]
        pub async fn $create(
            State(state): State<AppState>,
            Caller(p): Caller,
            Ctx(ctx): Ctx,
            ApiJson(body): ApiJson<proto::CreateOrgUnit>,
        ) -> ApiResult<(StatusCode, Json<proto::OrgUnit>)> {
            create_org(&state, &p, &ctx, $kind, body).await
        }
    };
}

org_routes!(list_sites, create_site, "/api/v1/sites", OrgKind::Site, "organisation");
org_routes!(list_teams, create_team, "/api/v1/teams", OrgKind::Team, "organisation");
org_routes!(list_clients, create_client, "/api/v1/clients", OrgKind::Client, "organisation");

fn token_json(t: mamori_core::identity::ApiToken) -> proto::ApiToken {
    proto::ApiToken {
        id: t.id,
        name: t.name,
        owner_id: t.owner_id,
        permissions: t.permissions,
        created_at: t.created_at.0,
        expires_at: t.expires_at.0,
        revoked_at: t.revoked_at.map(|x| x.0),
        last_used_at: t.last_used_at.map(|x| x.0),
    }
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = proto::ApiTokenList)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::ApiTokenList>> {
    let tokens = state.core.identity.list_api_tokens(&p, &ctx).await?;
    Ok(Json(proto::ApiTokenList { tokens: tokens.into_iter().map(token_json).collect() }))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = proto::CreateApiToken,
    responses((status = 201, body = proto::CreatedApiToken), (status = 422, body = proto::Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::CreateApiToken>,
) -> ApiResult<(StatusCode, Json<proto::CreatedApiToken>)> {
    let valid_for = Duration::from_secs(u64::from(body.expires_in_days) * 86400);
    let t = state.core.identity.create_api_token(&p, &body.name, &body.permissions, valid_for, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::CreatedApiToken { token: token_json(t.token), secret: t.secret })))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    state.core.identity.revoke_api_token(&p, &id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/security-events", tag = "audit",
    responses((status = 200, body = proto::SecurityEventList)))]
pub async fn security_events(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::SecurityEventList>> {
    let events = state.core.identity.security_events(&p, 200, &ctx).await?;
    Ok(Json(proto::SecurityEventList {
        events: events
            .into_iter()
            .map(|e| proto::SecurityEvent {
                details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
                id: e.id,
                kind: e.kind,
                user_id: e.user_id,
                created_at: e.created_at.0,
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/settings", tag = "settings", responses((status = 200, body = proto::Settings)))]
pub async fn get_settings(State(state): State<AppState>) -> ApiResult<Json<proto::Settings>> {
    Ok(Json(proto::Settings {
        totp_required_for_everyone: state.core.identity.totp_required_for_everyone().await?,
    }))
}

#[utoipa::path(put, path = "/api/v1/settings", tag = "settings", request_body = proto::Settings,
    responses((status = 200, body = proto::Settings), (status = 422, body = proto::Problem)))]
pub async fn put_settings(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::Settings>,
) -> ApiResult<Json<proto::Settings>> {
    state.core.identity.set_totp_for_everyone(&p, body.totp_required_for_everyone, &ctx).await?;
    get_settings(State(state)).await
}
