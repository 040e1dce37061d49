//! The user's own page: password, TOTP, recovery codes, language, sessions.

use super::auth::{RecoveryCodesPage, role_key};
use super::{Chrome, DoneQuery, Form, csrf_for, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx, SESSION_COOKIE, set_cookie};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_core::Principal;
use mamori_domain::authz::Access::SignedIn;
use mamori_domain::identity::{Language, totp_required};

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/profile", SignedIn, profile_page)
        .add(Method::POST, "/profile/password", SignedIn, change_password)
        .add(Method::POST, "/profile/language", SignedIn, set_language)
        .add(Method::POST, "/profile/totp/disable", SignedIn, disable_totp)
        .add(Method::POST, "/profile/recovery-codes", SignedIn, regenerate_codes)
        .add(Method::POST, "/profile/sessions/{id}/end", SignedIn, end_session)
        .add(Method::POST, "/profile/sessions/end-all", SignedIn, end_all_sessions)
}

pub struct SessionView {
    pub id: String,
    pub source_ip: String,
    pub user_agent: String,
    pub started: String,
    pub last_seen: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    c: Chrome,
    username: String,
    roles: Vec<&'static str>,
    language: &'static str,
    totp_enabled: bool,
    totp_required: bool,
    codes_left: i64,
    sessions: Vec<SessionView>,
    /// A password for the mail relay was made (its value is never shown again).
    has_mail_password: bool,
}

async fn profile_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    done: Option<&str>,
    error: Option<String>,
) -> Response {
    let sessions = state.core.identity.my_sessions(p).await.unwrap_or_default();
    let everyone = state.core.identity.totp_required_for_everyone().await.unwrap_or(false);
    let codes_left = state.core.identity.recovery_codes_left(p).await.unwrap_or(0);
    let has_mail_password = state.core.has_mail_password(p).await.unwrap_or(false);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let c = Chrome::new(tr, "profile.title", Some(p), csrf_for(Some(p), None), "/profile")
        .notice_key(done)
        .error(error);
    let page = ProfilePage {
        c,
        username: p.user.username.clone(),
        roles: p.user.roles.iter().map(|r| role_key(*r)).collect(),
        language: p.user.language.as_deref().and_then(Language::parse).map_or("", Language::as_str),
        totp_enabled: p.user.totp_enabled,
        totp_required: totp_required(&p.user.roles, everyone),
        codes_left,
        has_mail_password,
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                current: Some(s.id.as_str()) == p.session_id(),
                id: s.id,
                source_ip: s.source_ip.unwrap_or_default(),
                user_agent: s.user_agent.unwrap_or_default(),
                started: local_time(s.created_at.0),
                last_seen: local_time(s.last_seen_at.0),
            })
            .collect(),
    };
    (status, render(&page)).into_response()
}

async fn profile_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Query(q): Query<DoneQuery>,
) -> Response {
    profile_view(&state, tr_for(&headers, Some(&p)), &p, q.done.as_deref(), None).await
}

/// After a change: back to the profile with a notice, or the profile again with the error.
async fn outcome(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    result: Result<(), mamori_core::CoreError>,
    done: &str,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/profile?done={done}")).into_response(),
        Err(e) => profile_view(state, tr, p, None, Some(error_text(tr, &e))).await,
    }
}

async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if form.text("new_password") != form.text("new_password_again") {
        return profile_view(&state, tr, &p, None, Some(tr.t("error.passwords_differ").to_owned())).await;
    }
    match state
        .core
        .identity
        .change_password(&p, form.text("current_password"), form.text("new_password"), &ctx)
        .await
    {
        Ok(Some(renewed)) => super::auth::new_session_cookie(
            &state,
            &renewed.cookie,
            Redirect::to("/profile?done=password_changed").into_response(),
        ),
        result => outcome(&state, tr, &p, result.map(drop), "password_changed").await,
    }
}

async fn set_language(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let lang = Language::parse(form.text("language"));
    let result = state.core.identity.set_language(&p, lang, &ctx).await;
    outcome(&state, tr, &p, result, "language_changed").await
}

async fn disable_totp(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let result = state.core.identity.disable_own_totp(&p, &ctx).await;
    outcome(&state, tr, &p, result, "totp_disabled").await
}

async fn regenerate_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.identity.regenerate_recovery_codes(&p, &ctx).await {
        Ok(codes) => {
            let c = Chrome::new(tr, "recovery.title", Some(&p), csrf_for(Some(&p), None), "/profile");
            render(&RecoveryCodesPage { c, codes })
        }
        Err(e) => profile_view(&state, tr, &p, None, Some(error_text(tr, &e))).await,
    }
}

async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let result = state.core.identity.end_my_session(&p, &id, &ctx).await;
    outcome(&state, tr, &p, result, "session_ended").await
}

async fn end_all_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.identity.sign_out_everywhere(&p, &ctx).await {
        Ok(_) => {
            let mut resp = Redirect::to("/signin?done=signed_out_everywhere").into_response();
            resp.headers_mut()
                .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", state.uses_tls(), true));
            resp
        }
        Err(e) => profile_view(&state, tr, &p, None, Some(error_text(tr, &e))).await,
    }
}
