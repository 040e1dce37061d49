//! Signing in and out, first-time setup, invitations, TOTP enrolment, the dashboard.

use super::{Chrome, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::middleware::{
    BROWSER_COOKIE, BROWSER_COOKIE_SECONDS, Caller, Ctx, MaybeCaller, PreSessionCsrf, SESSION_COOKIE,
    set_cookie, throttle_signin,
};
use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::actions;
use mamori_core::identity::auth::SignIn;
use mamori_core::{CoreError, Principal};
use mamori_domain::identity::LinkPurpose;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn with_session_cookie(state: &AppState, cookie: &str, to: &str) -> Response {
    new_session_cookie(state, cookie, Redirect::to(to).into_response())
}

/// Hands the browser a session's cookie on `resp` (a new or renewed session).
pub(super) fn new_session_cookie(state: &AppState, cookie: &str, mut resp: Response) -> Response {
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, cookie, state.uses_tls(), false));
    resp
}

fn clear_session_cookie(state: &AppState, to: &str) -> Response {
    let mut resp = Redirect::to(to).into_response();
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", state.uses_tls(), true));
    resp
}

pub async fn home(MaybeCaller(p): MaybeCaller) -> Redirect {
    Redirect::to(if p.is_some() { "/dashboard" } else { "/signin" })
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    c: Chrome,
    username: String,
}

pub async fn signin_page(
    headers: HeaderMap,
    MaybeCaller(p): MaybeCaller,
    pre: Option<Extension<PreSessionCsrf>>,
    Query(q): Query<super::DoneQuery>,
) -> Response {
    if p.is_some() {
        return Redirect::to("/dashboard").into_response();
    }
    let tr = tr_for(&headers, None);
    let c = Chrome::new(tr, "signin.title", None, csrf_for(None, pre.as_deref()), "/signin")
        .notice_key(q.done.as_deref());
    render(&SigninPage { c, username: String::new() })
}

pub async fn signin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(mut ctx): Ctx,
    pre: Option<Extension<PreSessionCsrf>>,
    form: Form,
) -> Response {
    // A browser Mamori has not met gets its recognition cookie with this answer, and its session
    // is recorded under it already (first-seen device).
    let new_browser = if ctx.browser.is_none() { mamori_crypto::tokens::new_secret().ok() } else { None };
    if let Some(b) = &new_browser {
        ctx.browser = Some(mamori_audit::browser_digest(b));
    }
    let mut resp = signin_answer(&state, &headers, &ctx, pre, &form).await;
    if let Some(b) = new_browser {
        let secure = if state.uses_tls() { "; Secure" } else { "" };
        let value = format!(
            "{BROWSER_COOKIE}={b}; Path=/; HttpOnly; SameSite=Strict; Max-Age={BROWSER_COOKIE_SECONDS}{secure}"
        );
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn signin_answer(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &mamori_audit::RequestContext,
    pre: Option<Extension<PreSessionCsrf>>,
    form: &Form,
) -> Response {
    let tr = tr_for(headers, None);
    let username = form.text("username").to_owned();
    let again = |status: StatusCode, error: String| {
        let c = Chrome::new(tr, "signin.title", None, csrf_for(None, pre.as_deref()), "/signin")
            .error(Some(error));
        (status, render(&SigninPage { c, username: username.clone() })).into_response()
    };
    if throttle_signin(state, ctx, &actions::SIGNIN_PASSWORD).await.is_err() {
        return again(StatusCode::TOO_MANY_REQUESTS, tr.t("error.throttled").to_owned());
    }
    match state.core.identity.sign_in(&username, form.text("password"), ctx).await {
        Ok(SignIn::Complete(s)) => with_session_cookie(state, &s.cookie, "/dashboard"),
        Ok(SignIn::NeedsSecondFactor(s)) => with_session_cookie(state, &s.cookie, "/signin/totp"),
        Err(e) => again(crate::problem::status_of(&e), error_text(tr, &e)),
    }
}

#[derive(Template)]
#[template(path = "signin_totp.html")]
struct TotpPage {
    c: Chrome,
}

pub async fn totp_page(headers: HeaderMap, Caller(p): Caller) -> Response {
    let tr = tr_for(&headers, Some(&p));
    render(&TotpPage { c: Chrome::new(tr, "totp.title", Some(&p), csrf_for(Some(&p), None), "/signin/totp") })
}

pub async fn totp(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let again = |status: StatusCode, error: String| {
        let c = Chrome::new(tr, "totp.title", Some(&p), csrf_for(Some(&p), None), "/signin/totp")
            .error(Some(error));
        (status, render(&TotpPage { c })).into_response()
    };
    if throttle_signin(&state, &ctx, &actions::SIGNIN_SECOND_FACTOR).await.is_err() {
        return again(StatusCode::TOO_MANY_REQUESTS, tr.t("error.throttled").to_owned());
    }
    match state.core.identity.second_factor(&p, form.text("code"), &ctx).await {
        Ok(session) => with_session_cookie(&state, &session.cookie, "/dashboard"),
        Err(e @ CoreError::Locked { .. }) => {
            let c = Chrome::new(tr, "signin.title", None, String::new(), "/signin")
                .error(Some(error_text(tr, &e)));
            let mut resp = (StatusCode::LOCKED, render(&SigninPage { c, username: p.user.username.clone() }))
                .into_response();
            resp.headers_mut()
                .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", state.uses_tls(), true));
            resp
        }
        Err(e) => again(StatusCode::UNAUTHORIZED, error_text(tr, &e)),
    }
}

pub async fn signout(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    _form: Form,
) -> Response {
    if let Err(e) = state.core.identity.sign_out(&p, &ctx).await {
        tracing::error!(error = %e, "sign-out failed");
    }
    clear_session_cookie(&state, "/signin?done=signed_out")
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    c: Chrome,
    token: String,
    username: String,
    display_name: String,
}

fn link_gone(tr: crate::i18n::Tr) -> Response {
    super::message_page(tr, StatusCode::GONE, "error.link_invalid")
}

pub async fn setup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    pre: Option<Extension<PreSessionCsrf>>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let tr = tr_for(&headers, None);
    let token = q.token.unwrap_or_default();
    if state.core.identity.check_link(&token, LinkPurpose::Setup).await.is_err() {
        return link_gone(tr);
    }
    let c = Chrome::new(tr, "setup.title", None, csrf_for(None, pre.as_deref()), "/setup");
    render(&SetupPage { c, token, username: String::new(), display_name: String::new() })
}

pub async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    pre: Option<Extension<PreSessionCsrf>>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, None);
    if throttle_signin(&state, &ctx, &actions::SETUP_COMPLETE).await.is_err() {
        return super::message_page(tr, StatusCode::TOO_MANY_REQUESTS, "error.throttled");
    }
    let token = form.text("token").to_owned();
    if form.text("password") != form.text("password_again") {
        let c = Chrome::new(tr, "setup.title", None, csrf_for(None, pre.as_deref()), "/setup")
            .error(Some(tr.t("error.passwords_differ").to_owned()));
        let page = SetupPage {
            c,
            token,
            username: form.text("username").to_owned(),
            display_name: form.text("display_name").to_owned(),
        };
        return (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response();
    }
    let done = state
        .core
        .identity
        .complete_setup(&token, form.text("username"), form.text("display_name"), form.text("password"), &ctx)
        .await;
    match done {
        Ok(_) => Redirect::to("/signin?done=setup").into_response(),
        Err(CoreError::LinkInvalid) => link_gone(tr),
        Err(e) => {
            let c = Chrome::new(tr, "setup.title", None, csrf_for(None, pre.as_deref()), "/setup")
                .error(Some(error_text(tr, &e)));
            let page = SetupPage {
                c,
                token,
                username: form.text("username").to_owned(),
                display_name: form.text("display_name").to_owned(),
            };
            (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    c: Chrome,
    token: String,
}

pub async fn invite_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    pre: Option<Extension<PreSessionCsrf>>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let tr = tr_for(&headers, None);
    let token = q.token.unwrap_or_default();
    if state.core.identity.check_link(&token, LinkPurpose::Invitation).await.is_err() {
        return link_gone(tr);
    }
    let c = Chrome::new(tr, "invite.title", None, csrf_for(None, pre.as_deref()), "/invite");
    render(&InvitePage { c, token })
}

pub async fn accept_invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    pre: Option<Extension<PreSessionCsrf>>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, None);
    if throttle_signin(&state, &ctx, &actions::USER_INVITATION_ACCEPT).await.is_err() {
        return super::message_page(tr, StatusCode::TOO_MANY_REQUESTS, "error.throttled");
    }
    let token = form.text("token").to_owned();
    let result: Result<(), String> = if form.text("password") != form.text("password_again") {
        Err(tr.t("error.passwords_differ").to_owned())
    } else {
        match state.core.identity.accept_invitation(&token, form.text("password"), &ctx).await {
            Ok(_) => return Redirect::to("/signin?done=invitation_accepted").into_response(),
            Err(CoreError::LinkInvalid) => return link_gone(tr),
            Err(e) => Err(error_text(tr, &e)),
        }
    };
    let c =
        Chrome::new(tr, "invite.title", None, csrf_for(None, pre.as_deref()), "/invite").error(result.err());
    (StatusCode::UNPROCESSABLE_ENTITY, render(&InvitePage { c, token })).into_response()
}

#[derive(Template)]
#[template(path = "enrol_totp.html")]
struct EnrolPage {
    c: Chrome,
    secret: String,
    uri: String,
    qr_svg: String,
    required: bool,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub(super) struct RecoveryCodesPage {
    pub c: Chrome,
    pub codes: Vec<String>,
}

async fn enrol_view(state: &AppState, tr: crate::i18n::Tr, p: &Principal, error: Option<String>) -> Response {
    let enrolment = match state.core.identity.totp_enrolment(p).await {
        Ok(e) => e,
        Err(e) => return super::message_page_text(tr, StatusCode::SERVICE_UNAVAILABLE, error_text(tr, &e)),
    };
    let required = p.must_enrol_totp;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let c = Chrome::new(tr, "enrol.title", Some(p), csrf_for(Some(p), None), "/enrol-totp").error(error);
    let page = EnrolPage {
        c,
        secret: enrolment.secret_base32,
        uri: enrolment.otpauth_uri,
        qr_svg: enrolment.qr_svg,
        required,
    };
    (status, render(&page)).into_response()
}

pub async fn enrol_page(State(state): State<AppState>, headers: HeaderMap, Caller(p): Caller) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if p.user.totp_enabled {
        return Redirect::to("/profile").into_response();
    }
    enrol_view(&state, tr, &p, None).await
}

pub async fn enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.identity.confirm_totp_enrolment(&p, form.text("code"), &ctx).await {
        Ok((codes, renewed)) => {
            let csrf = renewed.as_ref().map_or_else(|| csrf_for(Some(&p), None), |s| s.csrf_token.clone());
            let c = Chrome::new(tr, "recovery.title", Some(&p), csrf, "/profile");
            let page = render(&RecoveryCodesPage { c, codes });
            match renewed {
                Some(s) => new_session_cookie(&state, &s.cookie, page),
                None => page,
            }
        }
        Err(e) => enrol_view(&state, tr, &p, Some(error_text(tr, &e))).await,
    }
}

pub fn role_key(r: mamori_domain::Role) -> &'static str {
    match r {
        mamori_domain::Role::Operator => "role.operator",
        mamori_domain::Role::Supervisor => "role.supervisor",
        mamori_domain::Role::SecurityAdmin => "role.security_admin",
        mamori_domain::Role::Auditor => "role.auditor",
    }
}
