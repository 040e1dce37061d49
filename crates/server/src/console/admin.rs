//! Administration pages: users, organisation, API tokens, settings; and the read-only security
//! event and audit views.

use super::auth::role_key;
use super::{Chrome, DoneQuery, Form, csrf_for, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::User;
use mamori_core::identity::admin::Invitation;
use mamori_core::identity::{OrgUnit, UserProfile};
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::*;
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::OrgKind;
use mamori_domain::identity::UserStatus;
use mamori_domain::{Permission, Role, UnixMillis};
use std::time::Duration;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/admin/users", Needs(UsersRead), users_page)
        .add(Method::POST, "/admin/users", Needs(UsersManage), invite)
        .add(Method::GET, "/admin/users/{id}", Needs(UsersRead), user_page)
        .add(Method::POST, "/admin/users/{id}/profile", Needs(UsersManage), update_profile)
        .add(Method::POST, "/admin/users/{id}/roles", Needs(UsersManage), set_roles)
        .add(Method::POST, "/admin/users/{id}/clients", Needs(UsersManage), set_clients)
        .add(Method::GET, "/admin/users/{id}/disable", Needs(UsersManage), confirm_disable)
        .add(Method::POST, "/admin/users/{id}/disable", Needs(UsersManage), disable)
        .add(Method::POST, "/admin/users/{id}/enable", Needs(UsersManage), enable)
        .add(Method::POST, "/admin/users/{id}/unlock", Needs(UsersManage), unlock)
        .add(Method::POST, "/admin/users/{id}/reset-totp", Needs(UsersManage), reset_totp)
        .add(Method::POST, "/admin/users/{id}/end-sessions", Needs(UsersManage), end_sessions)
        .add(Method::POST, "/admin/users/{id}/reinvite", Needs(UsersManage), reinvite)
        .add(Method::GET, "/admin/org", Needs(OrgRead), org_page)
        .add(Method::POST, "/admin/org", Needs(OrgManage), create_org)
        .add(Method::GET, "/admin/tokens", Needs(TokensManage), tokens_page)
        .add(Method::POST, "/admin/tokens", Needs(TokensManage), create_token)
        .add(Method::GET, "/admin/tokens/{id}/revoke", Needs(TokensManage), confirm_revoke_token)
        .add(Method::POST, "/admin/tokens/{id}/revoke", Needs(TokensManage), revoke_token)
        .add(Method::GET, "/admin/settings", Needs(SettingsManage), settings_page)
        .add(Method::POST, "/admin/settings", Needs(SettingsManage), save_settings)
}

pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<&'static str>,
    pub status: &'static str,
    pub locked: bool,
    pub totp: bool,
    pub mail_address: String,
}

fn user_view(u: &User, now: UnixMillis) -> UserView {
    UserView {
        id: u.id.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        roles: u.roles.iter().map(|r| role_key(*r)).collect(),
        status: match u.status {
            UserStatus::Invited => "status.invited",
            UserStatus::Active => "status.active",
            UserStatus::Disabled => "status.disabled",
        },
        locked: u.locked_until.is_some_and(|t| t > now),
        totp: u.totp_enabled,
        mail_address: u.mail_address.clone().unwrap_or_default(),
    }
}

/// A choice in a form: value, label, and whether it is selected.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn role_choices(tr: Tr, selected: &[Role]) -> Vec<Choice> {
    Role::ALL
        .iter()
        .map(|r| Choice {
            value: r.as_str().into(),
            label: tr.t(role_key(*r)).into(),
            selected: selected.contains(r),
        })
        .collect()
}

fn org_choices(units: &[OrgUnit], selected: &[String]) -> Vec<Choice> {
    units
        .iter()
        .map(|u| Choice { value: u.id.clone(), label: u.name.clone(), selected: selected.contains(&u.id) })
        .collect()
}

fn parse_roles(values: &[String]) -> Vec<Role> {
    values.iter().filter_map(|v| v.parse().ok()).collect()
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Chrome,
    users: Vec<UserView>,
    search: UserSearch,
    /// Users before the search.
    total: usize,
    can_manage: bool,
    roles: Vec<Choice>,
    teams: Vec<Choice>,
    sites: Vec<Choice>,
    clients: Vec<Choice>,
    invitation_url: Option<String>,
}

/// The user list's search: words of the name, a role, a state (`locked` among them).
#[derive(Debug, Default, serde::Deserialize)]
pub struct UserSearch {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub status: String,
    pub done: Option<String>,
}

impl UserSearch {
    fn matches(&self, u: &UserView) -> bool {
        let words = self.q.trim().to_lowercase();
        (words.is_empty()
            || u.username.to_lowercase().contains(&words)
            || u.display_name.to_lowercase().contains(&words))
            && (self.role.is_empty()
                || u.roles.iter().any(|r| r.strip_prefix("role.") == Some(self.role.as_str())))
            && match self.status.as_str() {
                "" => true,
                "locked" => u.locked,
                s => u.status.strip_prefix("status.") == Some(s),
            }
    }
}

async fn users_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    search: UserSearch,
    error: Option<String>,
    link: Option<String>,
) -> Response {
    let done = search.done.clone();
    let done = done.as_deref();
    let users = state.core.identity.list_users(p, ctx).await.unwrap_or_default();
    let teams = state.core.identity.list_org(OrgKind::Team).await.unwrap_or_default();
    let sites = state.core.identity.list_org(OrgKind::Site).await.unwrap_or_default();
    let clients = state.core.identity.list_org(OrgKind::Client).await.unwrap_or_default();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let now = state.core.now();
    let c = Chrome::new(tr, "users.title", Some(p), csrf_for(Some(p), None), "/admin/users")
        .notice_key(done)
        .error(error);
    let page = UsersPage {
        c,
        total: users.len(),
        users: users.iter().map(|u| user_view(u, now)).filter(|u| search.matches(u)).collect(),
        search,
        can_manage: p.can(UsersManage),
        roles: role_choices(tr, &[]),
        teams: org_choices(&teams, &[]),
        sites: org_choices(&sites, &[]),
        clients: org_choices(&clients, &[]),
        invitation_url: link,
    };
    (status, render(&page)).into_response()
}

async fn users_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<UserSearch>,
) -> Response {
    users_view(&state, tr_for(&headers, Some(&p)), &p, &ctx, q, None, None).await
}

async fn invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let inv = Invitation {
        username: form.text("username").to_owned(),
        display_name: form.text("display_name").to_owned(),
        roles: parse_roles(&form.all("roles")),
        team_id: form.optional("team_id"),
        site_id: form.optional("site_id"),
        client_ids: form.all("client_ids"),
        mail_address: form.optional("mail_address"),
    };
    match state.core.identity.invite_user(&p, &inv, &ctx).await {
        Ok(invited) => {
            let link = format!("{}/invite?token={}", state.config.public_url, invited.token);
            let done = UserSearch { done: Some("user_invited".into()), ..Default::default() };
            users_view(&state, tr, &p, &ctx, done, None, Some(link)).await
        }
        Err(e) => {
            users_view(&state, tr, &p, &ctx, UserSearch::default(), Some(error_text(tr, &e)), None).await
        }
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    c: Chrome,
    u: UserView,
    can_manage: bool,
    is_self: bool,
    invited: bool,
    roles: Vec<Choice>,
    teams: Vec<Choice>,
    sites: Vec<Choice>,
    clients: Vec<Choice>,
    invitation_url: Option<String>,
    /// The link to the person's shifts and networks (devices.read).
    can_roster: bool,
}

// The page, who asks, and its three optional notes; a struct would only name them again.
#[allow(clippy::too_many_arguments)]
async fn user_view_page(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    done: Option<&str>,
    error: Option<String>,
    link: Option<String>,
) -> Response {
    let (user, assigned) = match state.core.identity.user(p, id, ctx).await {
        Ok(u) => u,
        Err(e) => {
            let status = crate::problem::status_of(&e);
            return super::message_page_text(tr, status, error_text(tr, &e));
        }
    };
    let teams = state.core.identity.list_org(OrgKind::Team).await.unwrap_or_default();
    let sites = state.core.identity.list_org(OrgKind::Site).await.unwrap_or_default();
    let clients = state.core.identity.list_org(OrgKind::Client).await.unwrap_or_default();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let c = Chrome::new(tr, "user.title", Some(p), csrf_for(Some(p), None), "/admin/users")
        .notice_key(done)
        .error(error);
    let page = UserPage {
        c,
        u: user_view(&user, state.core.now()),
        can_manage: p.can(UsersManage),
        is_self: user.id == p.user.id,
        invited: user.status == UserStatus::Invited,
        roles: role_choices(tr, &user.roles),
        teams: org_choices(&teams, user.team_id.as_slice()),
        sites: org_choices(&sites, user.site_id.as_slice()),
        clients: org_choices(&clients, &assigned),
        invitation_url: link,
        can_roster: p.can(DevicesRead),
    };
    (status, render(&page)).into_response()
}

async fn user_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    user_view_page(&state, tr_for(&headers, Some(&p)), &p, &ctx, &id, q.done.as_deref(), None, None).await
}

/// After an action on a user: back to their page with a notice, or the page with the error.
async fn user_outcome(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    result: Result<(), CoreError>,
    done: &str,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/admin/users/{id}?done={done}")).into_response(),
        Err(e) => user_view_page(state, tr, p, ctx, id, None, Some(error_text(tr, &e)), None).await,
    }
}

async fn update_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let profile = UserProfile {
        display_name: form.text("display_name").to_owned(),
        team_id: form.optional("team_id"),
        site_id: form.optional("site_id"),
        mail_address: form.optional("mail_address"),
    };
    let result = state.core.identity.update_user_profile(&p, &id, &profile, &ctx).await;
    user_outcome(&state, tr, &p, &ctx, &id, result, "user_updated").await
}

async fn set_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let roles = parse_roles(&form.all("roles"));
    let result = state.core.identity.set_user_roles(&p, &id, &roles, &ctx).await;
    // Granting security_admin with a second admin in place: asked for instead (issue 15).
    if let Err(mamori_core::CoreError::ApprovalRequired) = result {
        let action =
            mamori_domain::approval::PrivilegedAction::GrantSecurityAdmin { user: id.clone(), roles };
        return super::privileged::ask(&state, tr, &p, &action, form.text("reason"), &ctx).await;
    }
    user_outcome(&state, tr, &p, &ctx, &id, result.map(drop), "user_updated").await
}

async fn set_clients(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let result = state.core.identity.set_user_clients(&p, &id, &form.all("client_ids"), &ctx).await;
    user_outcome(&state, tr, &p, &ctx, &id, result, "user_updated").await
}

macro_rules! user_action {
    ($name:ident, $method:ident, $done:literal) => {
        async fn $name(
            State(state): State<AppState>,
            headers: HeaderMap,
            Ctx(ctx): Ctx,
            Caller(p): Caller,
            Path(id): Path<String>,
            _form: Form,
        ) -> Response {
            let tr = tr_for(&headers, Some(&p));
            let result = state.core.identity.$method(&p, &id, &ctx).await.map(drop);
            user_outcome(&state, tr, &p, &ctx, &id, result, $done).await
        }
    };
}

user_action!(disable, disable_user, "user_disabled");

/// The confirmation of disabling a user, naming them and what follows (issue 14, item 7).
async fn confirm_disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let user = match state.core.identity.user(&p, &id, &ctx).await {
        Ok((u, _)) => u,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let who = format!("{} ({})", user.display_name, user.username);
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), "/admin/users");
    render(&super::ConfirmPage {
        c,
        question: tr.t("confirm.disable").replace("{target}", &who),
        effects: vec![tr.t("confirm.disable_effect").to_owned()],
        action: format!("/admin/users/{id}/disable"),
        fields: Vec::new(),
        ask_message: false,
        cancel: format!("/admin/users/{id}"),
        danger: true,
    })
}
user_action!(enable, enable_user, "user_enabled");
user_action!(unlock, unlock_user, "user_unlocked");
user_action!(reset_totp, reset_user_totp, "totp_reset");
user_action!(end_sessions, end_user_sessions, "sessions_ended");

async fn reinvite(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.identity.reinvite_user(&p, &id, &ctx).await {
        Ok(token) => {
            let link = format!("{}/invite?token={token}", state.config.public_url);
            user_view_page(&state, tr, &p, &ctx, &id, Some("user_invited"), None, Some(link)).await
        }
        Err(e) => user_view_page(&state, tr, &p, &ctx, &id, None, Some(error_text(tr, &e)), None).await,
    }
}

pub struct OrgView {
    pub name: String,
    pub site: String,
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    c: Chrome,
    sites: Vec<OrgView>,
    teams: Vec<OrgView>,
    clients: Vec<OrgView>,
    site_choices: Vec<Choice>,
    can_manage: bool,
}

async fn org_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    done: Option<&str>,
    error: Option<String>,
) -> Response {
    let sites = state.core.identity.list_org(OrgKind::Site).await.unwrap_or_default();
    let teams = state.core.identity.list_org(OrgKind::Team).await.unwrap_or_default();
    let clients = state.core.identity.list_org(OrgKind::Client).await.unwrap_or_default();
    let site_name = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| sites.iter().find(|s| &s.id == id))
            .map(|s| s.name.clone())
            .unwrap_or_default()
    };
    let view = |units: &[OrgUnit]| {
        units.iter().map(|u| OrgView { name: u.name.clone(), site: site_name(&u.site_id) }).collect()
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let c = Chrome::new(tr, "org.title", Some(p), csrf_for(Some(p), None), "/admin/org")
        .notice_key(done)
        .error(error);
    let page = OrgPage {
        c,
        sites: view(&sites),
        teams: view(&teams),
        clients: view(&clients),
        site_choices: org_choices(&sites, &[]),
        can_manage: p.can(OrgManage),
    };
    (status, render(&page)).into_response()
}

async fn org_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Query(q): Query<DoneQuery>,
) -> Response {
    org_view(&state, tr_for(&headers, Some(&p)), &p, q.done.as_deref(), None).await
}

async fn create_org(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let Some(kind) = OrgKind::parse(form.text("kind")) else {
        return org_view(&state, tr, &p, None, Some(tr.t("error.org_kind").to_owned())).await;
    };
    let site = if kind == OrgKind::Team { form.optional("site_id") } else { None };
    match state.core.identity.create_org_unit(&p, kind, form.text("name"), site, &ctx).await {
        Ok(_) => Redirect::to("/admin/org?done=org_created").into_response(),
        Err(e) => org_view(&state, tr, &p, None, Some(error_text(tr, &e))).await,
    }
}

pub struct TokenView {
    pub id: String,
    pub name: String,
    pub permissions: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    c: Chrome,
    tokens: Vec<TokenView>,
    permissions: Vec<Choice>,
    new_secret: Option<String>,
}

async fn tokens_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    done: Option<&str>,
    error: Option<String>,
    secret: Option<String>,
) -> Response {
    let now = state.core.now();
    let tokens = state.core.identity.list_api_tokens(p, ctx).await.unwrap_or_default();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let c = Chrome::new(tr, "tokens.title", Some(p), csrf_for(Some(p), None), "/admin/tokens")
        .notice_key(done)
        .error(error);
    let page = TokensPage {
        c,
        tokens: tokens
            .into_iter()
            .map(|t| TokenView {
                active: t.revoked_at.is_none() && t.expires_at > now,
                id: t.id,
                name: t.name,
                permissions: t
                    .permissions
                    .iter()
                    .map(|perm| super::labels::permission(tr, perm))
                    .collect::<Vec<_>>()
                    .join(tr.t("common.list_separator")),
                created: local_time(t.created_at.0),
                expires: local_time(t.expires_at.0),
                last_used: t.last_used_at.map(|x| local_time(x.0)).unwrap_or_default(),
            })
            .collect(),
        permissions: p
            .permissions
            .iter()
            .map(|perm| Choice {
                value: perm.as_str().into(),
                label: super::labels::permission(tr, perm.as_str()),
                selected: false,
            })
            .collect(),
        new_secret: secret,
    };
    (status, render(&page)).into_response()
}

async fn tokens_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<DoneQuery>,
) -> Response {
    tokens_view(&state, tr_for(&headers, Some(&p)), &p, &ctx, q.done.as_deref(), None, None).await
}

async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let permissions: Vec<Permission> =
        form.all("permissions").iter().filter_map(|s| s.parse().ok()).collect();
    let days: u64 = form.text("expires_in_days").trim().parse().unwrap_or(0);
    let valid_for = Duration::from_secs(days.saturating_mul(86400));
    match state.core.identity.create_api_token(&p, form.text("name"), &permissions, valid_for, &ctx).await {
        Ok(t) => tokens_view(&state, tr, &p, &ctx, Some("token_created"), None, Some(t.secret)).await,
        Err(e) => tokens_view(&state, tr, &p, &ctx, None, Some(error_text(tr, &e)), None).await,
    }
}

/// The confirmation of a token's revocation, naming it: whatever uses it stops working.
async fn confirm_revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let tokens = state.core.identity.list_api_tokens(&p, &ctx).await.unwrap_or_default();
    let Some(token) = tokens.into_iter().find(|t| t.id == id && t.revoked_at.is_none()) else {
        return super::message_page(tr, StatusCode::NOT_FOUND, "tokens.not_found");
    };
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), "/admin/tokens");
    render(&super::ConfirmPage {
        c,
        question: tr.t("confirm.revoke_token").replace("{target}", &token.name),
        effects: vec![tr.t("confirm.revoke_token_effect").to_owned()],
        action: format!("/admin/tokens/{id}/revoke"),
        fields: Vec::new(),
        ask_message: false,
        cancel: "/admin/tokens".into(),
        danger: true,
    })
}

async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.identity.revoke_api_token(&p, &id, &ctx).await {
        Ok(()) => Redirect::to("/admin/tokens?done=token_revoked").into_response(),
        Err(e) => tokens_view(&state, tr, &p, &ctx, None, Some(error_text(tr, &e)), None).await,
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    c: Chrome,
    totp_for_everyone: bool,
    /// Days to the preliminary breach report (1–5), set at `/admin/incident-settings`.
    preliminary_days: u32,
    /// Who is told of alerts and incidents by e-mail, set at `/admin/mail-routing`.
    routing: super::notifications::RoutingView,
    /// Whether notifications are mailed at all (`notify.mail_url`).
    mail_configured: bool,
}

async fn settings_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Query(q): Query<DoneQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let on = state.core.identity.totp_required_for_everyone().await.unwrap_or(false);
    let c = Chrome::new(tr, "settings.title", Some(&p), csrf_for(Some(&p), None), "/admin/settings")
        .notice_key(q.done.as_deref());
    let preliminary_days = state.core.incidents.preliminary_days().await.unwrap_or(3);
    let routing = super::notifications::routing_view(&state, tr).await;
    let mail_configured = state.config.mail_notify.is_some();
    render(&SettingsPage { c, totp_for_everyone: on, preliminary_days, routing, mail_configured })
}

async fn save_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let on = form.text("totp_for_everyone") == "on";
    match state.core.identity.set_totp_for_everyone(&p, on, &ctx).await {
        Ok(()) => Redirect::to("/admin/settings?done=settings_saved").into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}
