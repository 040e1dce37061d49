//! Policies with acknowledgements (issue 18, item 1; ISMS-2, ISMS-3, LEAK-7). `/api/v1/policies`: the
//! documents published to the caller, each to read and acknowledge [同意]; `/api/v1/isms/policies`:
//! the security admin's side — documents, drafts, publishing (the approval), who has not
//! acknowledged, reminders, and the option that makes customer lookups wait for the pledge.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiJson, ApiQuery, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_core::isms::policies::PolicyStatus;
use mamori_domain::isms::policy::{DraftInput, PolicyInput, PolicyScope, render_markdown};
use mamori_proto as proto;
use std::collections::HashMap;

fn scope_json(s: &PolicyScope) -> proto::PolicyScopeView {
    proto::PolicyScopeView { roles: s.roles.clone(), sites: s.sites.clone(), clients: s.clients.clone() }
}

fn status_json(s: PolicyStatus) -> proto::PolicyStatusView {
    proto::PolicyStatusView {
        id: s.record.id,
        kind: s.record.kind,
        title: s.record.title,
        scope: scope_json(&s.scope),
        version_in_force: s.record.published_version,
        draft_version: s.record.draft_version,
        in_scope: s.in_scope,
        acknowledged: s.acknowledged,
        pending: s.pending.into_iter().map(|(id, name)| proto::PersonRef { id, name }).collect(),
    }
}

/// Every document with who has not acknowledged its version in force, and the policy option.
#[utoipa::path(get, path = "/api/v1/isms/policies", tag = "isms",
    responses((status = 200, body = proto::PolicyOverviewView)))]
pub async fn list_isms_policies(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::PolicyOverviewView>> {
    let o = state.core.isms.policy_overview(&p, &ctx).await?;
    Ok(Json(proto::PolicyOverviewView {
        lookups_require_pledge: o.lookups_require_pledge,
        policies: o.policies.into_iter().map(status_json).collect(),
    }))
}

/// Creates a document with its first draft (version 1, not yet in force).
#[utoipa::path(post, path = "/api/v1/isms/policies", tag = "isms", request_body = PolicyInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn create_isms_policy(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<PolicyInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.create_policy(&p, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}

/// Saves the draft of the next version (replacing an unpublished draft).
#[utoipa::path(put, path = "/api/v1/isms/policies/{id}/draft", tag = "isms", request_body = DraftInput,
    responses((status = 200, body = proto::PolicyVersionBody), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn save_isms_policy_draft(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<DraftInput>,
) -> ApiResult<Json<proto::PolicyVersionBody>> {
    let version = state.core.isms.save_policy_draft(&p, &id, input, &ctx).await?;
    Ok(Json(proto::PolicyVersionBody { version }))
}

/// A security admin approves the draft and publishes it: in force from now on; everyone in
/// scope must acknowledge it (their acknowledgements of earlier versions stay).
#[utoipa::path(post, path = "/api/v1/isms/policies/{id}/publish", tag = "isms",
    request_body = proto::PolicyVersionBody,
    responses((status = 200, body = proto::PolicyPublished), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem)))]
pub async fn publish_isms_policy(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::PolicyVersionBody>,
) -> ApiResult<Json<proto::PolicyPublished>> {
    let pending = state.core.isms.publish_policy(&p, &id, body.version, &ctx).await?;
    Ok(Json(proto::PolicyPublished { version: body.version, pending }))
}

/// Reminds by e-mail those who have not acknowledged the version in force.
#[utoipa::path(post, path = "/api/v1/isms/policies/{id}/remind", tag = "isms",
    responses((status = 200, body = proto::PolicyReminded), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem)))]
pub async fn remind_isms_policy(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::PolicyReminded>> {
    let (pending, mailed) = state.core.isms.remind_policy(&p, &id, &ctx).await?;
    Ok(Json(proto::PolicyReminded { pending, mailed }))
}

/// Turns the option "customer lookups require the current confidentiality pledge
/// acknowledged" on or off.
#[utoipa::path(put, path = "/api/v1/isms/policies/option", tag = "isms", request_body = proto::PolicyOption,
    responses((status = 200, body = proto::PolicyOption), (status = 422, body = proto::Problem)))]
pub async fn set_isms_policy_option(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::PolicyOption>,
) -> ApiResult<Json<proto::PolicyOption>> {
    state.core.isms.set_lookups_require_pledge(&p, body.lookups_require_pledge, &ctx).await?;
    Ok(Json(body))
}

/// The documents published to the caller, those still to acknowledge first, and what keeps
/// them from looking customers up (the pledge, when the option is on).
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies",
    responses((status = 200, body = proto::MyPoliciesView)))]
pub async fn list_my_policies(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::MyPoliciesView>> {
    let mine = state.core.isms.my_policies(&p, &ctx).await?;
    let needs = state.core.vault.lookup_prerequisites(&p).await?;
    Ok(Json(proto::MyPoliciesView {
        policies: mine
            .into_iter()
            .map(|m| proto::MyPolicyView {
                id: m.record.id,
                kind: m.record.kind,
                title: m.record.title,
                version: m.version,
                published_at: m.published_at.map(|t| t.0),
                acknowledged_at: m.acknowledged_at.map(|t| t.0),
            })
            .collect(),
        lookups_need: needs
            .into_iter()
            .map(|n| proto::PrerequisiteView {
                reason: n.reason.to_owned(),
                object: n.object,
                title: n.title,
                href: n.href,
            })
            .collect(),
    }))
}

fn name(names: &HashMap<String, String>, actor: &str) -> Option<String> {
    names.get(actor).cloned()
}

/// One document: the versions (drafts only for `isms.read`, each also as safe HTML), the
/// caller's acknowledgement; for `isms.read` who has not acknowledged and every
/// acknowledgement given.
#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "policies",
    responses((status = 200, body = proto::PolicyDetailView), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem)))]
pub async fn get_policy_document(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::PolicyDetailView>> {
    let d = state.core.isms.policy_detail(&p, &id, &ctx).await?;
    let names = &d.names;
    Ok(Json(proto::PolicyDetailView {
        id: d.record.id.clone(),
        kind: d.record.kind.clone(),
        title: d.record.title.clone(),
        scope: scope_json(&d.scope),
        version_in_force: d.record.published_version,
        draft_version: d.record.draft_version,
        in_my_scope: d.in_my_scope,
        acknowledged_at: d.my_acknowledgement.map(|t| t.0),
        versions: d
            .versions
            .iter()
            .map(|v| proto::PolicyVersionView {
                version: v.version,
                note: v.note.clone(),
                html: render_markdown(&v.body),
                body: v.body.clone(),
                drafted_at: v.drafted_at.0,
                drafted_by_name: name(names, &v.drafted_by),
                drafted_by: v.drafted_by.clone(),
                published_at: v.published_at.map(|t| t.0),
                published_by_name: v.published_by.as_deref().and_then(|a| name(names, a)),
                published_by: v.published_by.clone(),
            })
            .collect(),
        status: d.status.clone().map(status_json),
        acknowledgements: d
            .acknowledgements
            .iter()
            .map(|a| proto::PolicyAckView {
                user_id: a.user_id.clone(),
                user_name: name(names, &a.user_id),
                version: a.version,
                acknowledged_at: a.acknowledged_at.0,
            })
            .collect(),
    }))
}

/// The line diff between two versions.
#[utoipa::path(get, path = "/api/v1/policies/{id}/diff", tag = "policies", params(proto::PolicyDiffQuery),
    responses((status = 200, body = proto::PolicyDiffView), (status = 400, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn get_policy_diff(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<proto::PolicyDiffQuery>,
) -> ApiResult<Json<proto::PolicyDiffView>> {
    let lines = state.core.isms.policy_diff(&p, &id, q.from, q.to, &ctx).await?;
    Ok(Json(proto::PolicyDiffView { from: q.from, to: q.to, lines }))
}

/// The caller acknowledges [同意] the version in force (the one they read).
#[utoipa::path(post, path = "/api/v1/policies/{id}/acknowledge", tag = "policies",
    request_body = proto::PolicyVersionBody,
    responses((status = 204), (status = 403, body = proto::Problem), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn acknowledge_policy_document(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<proto::PolicyVersionBody>,
) -> ApiResult<StatusCode> {
    state.core.isms.acknowledge_policy(&p, &id, body.version, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}
