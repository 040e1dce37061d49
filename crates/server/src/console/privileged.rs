//! Privileged actions in the console (issue 15, item 7): where a security admin's action needs a
//! second security admin, the page that took it asks for approval instead ([`ask`]); once
//! approved, the requester carries it out from the approvals page ("実行する"). And the approval
//! policies page, whose changes are themselves privileged.

use super::{Chrome, DoneQuery, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::SettingsManage;
use mamori_domain::Role;
use mamori_domain::approval::{ApprovalKind, ApprovalPolicy, PrivilegedAction};
use mamori_domain::authz::Access::{Permission as Needs, SignedIn};

pub fn routes(r: Routes) -> Routes {
    r.add(Method::POST, "/approvals/{id}/execute", SignedIn, execute)
        .add(Method::GET, "/admin/approval-policies", Needs(SettingsManage), policies_page)
        .add(Method::POST, "/admin/approval-policies/{kind}", Needs(SettingsManage), save_policy)
}

/// Asks a second security admin to approve `action` (the reason given, or the action's own
/// words), then shows the approvals page.
pub async fn ask(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    action: &PrivilegedAction,
    reason: &str,
    ctx: &RequestContext,
) -> Response {
    let reason = match reason.trim() {
        "" => tr.t(&format!("approval_value.action.{}", action.code())).to_owned(),
        given => given.to_owned(),
    };
    match state.core.request_privileged(p, action, &reason, ctx).await {
        Ok(_) => Redirect::to("/approvals?done=privileged_requested").into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}

/// Carries out an approved privileged action (its requester, once).
async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.execute_privileged(&p, &id, &ctx).await {
        Ok(_) => Redirect::to("/approvals?done=privileged_done").into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}

/// One kind's policy as the form shows it.
pub struct PolicyRow {
    pub kind: &'static str,
    pub label: String,
    pub approvals: u8,
    /// (role code, label, chosen)
    pub roles: Vec<(&'static str, String, bool)>,
    pub own_team_supervisor: bool,
    pub decide_hours: i64,
    pub grant_hours: i64,
    /// "承認 1人・判断 4時間以内・有効 1時間・SV（自チームのみ）、セキュリティ管理者"
    pub summary: String,
}

const DECIDING_ROLES: [Role; 3] = [Role::Supervisor, Role::SecurityAdmin, Role::Auditor];
const HOUR_MS: i64 = 3_600_000;

/// A policy in one line of words.
pub fn policy_summary(tr: Tr, policy: &ApprovalPolicy) -> String {
    let roles: Vec<String> = policy
        .approver_roles
        .iter()
        .map(|r| {
            let name = tr.t(&format!("role.{}", r.as_str())).to_owned();
            if *r == Role::Supervisor && policy.own_team_supervisor {
                format!("{name}{}", tr.t("policy.own_team"))
            } else {
                name
            }
        })
        .collect();
    tr.t("policy.summary")
        .replace("{n}", &policy.approvals.to_string())
        .replace("{decide}", &(policy.decide_within_ms / HOUR_MS).to_string())
        .replace("{grant}", &(policy.grant_valid_ms / HOUR_MS).to_string())
        .replace("{roles}", &roles.join(tr.t("common.list_separator")))
}

#[derive(Template)]
#[template(path = "approval_policies.html")]
struct PoliciesPage {
    c: Chrome,
    rows: Vec<PolicyRow>,
}

async fn policies_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    done: Option<&str>,
    error: Option<CoreError>,
) -> Response {
    let mut rows = Vec::new();
    for kind in ApprovalKind::ALL {
        let policy = match state.core.approvals.policy(kind).await {
            Ok(policy) => policy,
            Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
        };
        rows.push(PolicyRow {
            kind: kind.as_str(),
            label: tr.t(&format!("audit_value.kind.{}", kind.as_str())).to_owned(),
            approvals: policy.approvals,
            roles: DECIDING_ROLES
                .iter()
                .map(|r| {
                    (
                        r.as_str(),
                        tr.t(&format!("role.{}", r.as_str())).to_owned(),
                        policy.approver_roles.contains(r),
                    )
                })
                .collect(),
            own_team_supervisor: policy.own_team_supervisor,
            decide_hours: policy.decide_within_ms / HOUR_MS,
            grant_hours: policy.grant_valid_ms / HOUR_MS,
            summary: policy_summary(tr, &policy),
        });
    }
    let status = error.as_ref().map_or(axum::http::StatusCode::OK, crate::problem::status_of);
    let c = Chrome::new(tr, "policy.title", Some(p), csrf_for(Some(p), None), "/admin/settings")
        .notice_key(done)
        .error(error.map(|e| error_text(tr, &e)));
    (status, render(&PoliciesPage { c, rows })).into_response()
}

async fn policies_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Query(q): Query<DoneQuery>,
) -> Response {
    policies_view(&state, tr_for(&headers, Some(&p)), &p, q.done.as_deref(), None).await
}

/// Saves a kind's policy — directly with a single security admin, else asked for.
async fn save_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(kind): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let Some(kind) = ApprovalKind::parse(&kind) else {
        return super::message_page(tr, axum::http::StatusCode::NOT_FOUND, "error.not_found_page");
    };
    let hours = |name: &str| form.text(name).trim().parse::<i64>().unwrap_or(0).saturating_mul(HOUR_MS);
    let policy = ApprovalPolicy {
        approvals: form.text("approvals").trim().parse().unwrap_or(0),
        approver_roles: form.all("roles").iter().filter_map(|r| r.parse().ok()).collect(),
        own_team_supervisor: form.text("own_team_supervisor") == "on",
        decide_within_ms: hours("decide_hours"),
        grant_valid_ms: hours("grant_hours"),
    };
    match state.core.set_approval_policy(&p, kind, &policy, &ctx).await {
        Ok(()) => Redirect::to("/admin/approval-policies?done=approval_policy_saved").into_response(),
        Err(CoreError::ApprovalRequired) => {
            if let Err(message) = policy.clone().checked() {
                let e = CoreError::Invalid {
                    field: "policy",
                    code: mamori_proto::ErrorCode::InvalidValue,
                    message: message.into(),
                };
                return policies_view(&state, tr, &p, None, Some(e)).await;
            }
            let action = PrivilegedAction::SetApprovalPolicy { kind, policy };
            ask(&state, tr, &p, &action, form.text("reason"), &ctx).await
        }
        Err(e) => policies_view(&state, tr, &p, None, Some(e)).await,
    }
}
