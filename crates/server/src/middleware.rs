//! What runs around every request: the size limit, the request's origin and id, the pre-session
//! CSRF cookie, security headers, the access log — and resolving who is calling.

use crate::AppState;
use crate::problem::{ApiError, body_limit, too_large_for};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mamori_audit::RequestContext;
use mamori_audit::actions::Action;
use mamori_core::Principal;
use mamori_proto::ErrorCode;
use std::net::{IpAddr, SocketAddr};

pub const SESSION_COOKIE: &str = "mamori_session";
pub const CSRF_COOKIE: &str = "mamori_csrf";
/// Recognises a browser across sessions (first-seen device); set at sign-in, kept 400 days.
pub const BROWSER_COOKIE: &str = "mamori_browser";
/// How long a browser's recognition cookie lasts (browsers cap cookies at 400 days).
pub const BROWSER_COOKIE_SECONDS: u32 = 400 * 86_400;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The CSRF token forms carry before anyone is signed in (double-submit cookie).
#[derive(Debug, Clone)]
pub struct PreSessionCsrf(pub String);

/// Finds a cookie's value in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, and Secure under TLS.
pub fn set_cookie(name: &str, value: &str, tls: bool, clear: bool) -> HeaderValue {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if tls {
        s.push_str("; Secure");
    }
    if clear {
        s.push_str("; Max-Age=0");
    }
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""))
}

fn client_ip(req: &Request, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    // Behind a trusted proxy: the nearest address that is not one of our proxies.
    let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()).unwrap_or("");
    forwarded
        .split(',')
        .rev()
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .or(Some(peer))
}

/// Marks the answer to a request whose handler panicked, so `outer` can give the console its
/// own page.
#[derive(Debug, Clone, Copy)]
pub struct Panicked;

/// The answer when a handler panics: a 500 problem document with nothing of the panic in it
/// (its message may hold anything), and an error in the log — the access log line that follows
/// carries the request id.
pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500");
    let mut resp = ApiError::new(
        ErrorCode::Internal,
        "the server could not complete the request; try again, and tell the administrator if it persists",
    )
    .into_response();
    resp.extensions_mut().insert(Panicked);
    resp
}

/// The outermost layer.
pub async fn outer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_len.is_some_and(|n| n > body_limit(req.uri().path())) {
        return if is_api {
            too_large_for(req.uri().path()).into_response()
        } else if req.uri().path() == crate::problem::CONSOLE_IMPORT_PATH {
            crate::console::import_too_large_page(req.headers())
        } else {
            (StatusCode::PAYLOAD_TOO_LARGE, "The request is too large (1 MiB at most).").into_response()
        };
    }

    let request_id = uuid::Uuid::new_v4().to_string();
    let ctx = RequestContext {
        source_ip: client_ip(&req, &state.config.trusted_proxies).map(|ip| ip.to_string()),
        request_id: Some(request_id.clone()),
        user_agent: req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        browser: cookie(req.headers(), BROWSER_COOKIE)
            .filter(|v| v.len() >= 32 && v.len() <= 128)
            .map(mamori_audit::browser_digest),
    };
    let existing_csrf = cookie(req.headers(), CSRF_COOKIE).filter(|v| v.len() >= 32).map(str::to_owned);
    let new_csrf = match existing_csrf {
        Some(_) => None,
        None => mamori_crypto::tokens::new_secret().ok(),
    };
    if let Some(token) = existing_csrf.clone().or_else(|| new_csrf.clone()) {
        req.extensions_mut().insert(PreSessionCsrf(token));
    }
    req.extensions_mut().insert(ctx);

    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let is_static = path.starts_with("/static/");
    let started = std::time::Instant::now();
    let language = req.headers().get(header::ACCEPT_LANGUAGE).cloned();
    let mut resp = next.run(req).await;
    if !is_api && resp.extensions().get::<Panicked>().is_some() {
        let mut headers = HeaderMap::new();
        if let Some(language) = language {
            headers.insert(header::ACCEPT_LANGUAGE, language);
        }
        resp = crate::console::internal_error_page(&headers);
    }

    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), usb=()"),
    );
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.uses_tls() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-request-id", v);
    }
    if let Some(token) = new_csrf {
        h.append(header::SET_COOKIE, set_cookie(CSRF_COOKIE, &token, state.uses_tls(), false));
    }
    let route = match resp.extensions().get::<crate::metrics::MatchedRoute>() {
        Some(m) => m.0.as_str(),
        None if is_static => "/static",
        None => "unmatched",
    };
    state.metrics.observe(route, method.as_str(), resp.status().as_u16(), started.elapsed().as_secs_f64());
    // Path only: query strings can carry one-time link tokens.
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    resp
}

/// Who is calling: an API token (API routes only) or a session cookie. `Ok(None)` when neither
/// is present or valid.
pub async fn resolve_principal(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &RequestContext,
    is_api: bool,
) -> Result<Option<Principal>, Response> {
    let fail = |e: mamori_core::CoreError| ApiError::from(e).into_response();
    if is_api {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(token) = bearer {
            return match state.core.identity.token_principal(token.trim()).await.map_err(fail)? {
                Some(p) => Ok(Some(p)),
                None => Err(ApiError::new(
                    ErrorCode::InvalidToken,
                    "the API token is unknown, expired or revoked",
                )
                .into_response()),
            };
        }
    }
    let Some(cookie) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    state.core.identity.session_principal(cookie, ctx).await.map_err(fail)
}

/// The caller, as the guard resolved it. Only on routes that need a principal.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "sign in first").into_response())
    }
}

/// The caller if signed in (for public pages that change when someone is).
pub struct MaybeCaller(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(MaybeCaller(Some(p.clone())));
        }
        let Some(cookie) = cookie(&parts.headers, SESSION_COOKIE) else { return Ok(MaybeCaller(None)) };
        let ctx = parts.extensions.get::<RequestContext>().cloned().unwrap_or_default();
        let p = state
            .core
            .identity
            .session_principal(cookie, &ctx)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        Ok(MaybeCaller(p))
    }
}

/// Where the request came from, for audit entries.
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx(parts.extensions.get::<RequestContext>().cloned().unwrap_or_default()))
    }
}

/// Refuses a sign-in attempt from an address over its rate (429), before any password work.
/// The per-address throttle of credential guesses (passwords, codes, links, enrolment tokens).
/// A throttled attempt is refused and recorded as a denied `action` (aggregated under a flood).
pub async fn throttle_signin(
    state: &AppState,
    ctx: &RequestContext,
    action: &'static Action,
) -> Result<(), StatusCode> {
    let ip = ctx.source_ip.as_deref().and_then(|s| s.parse::<IpAddr>().ok());
    match ip {
        Some(ip) if state.signin_limiter.check_key(&ip).is_err() => {
            tracing::warn!(source_ip = %ip, "sign-in attempts throttled");
            let refusal = mamori_audit::AuditEvent::of(
                action,
                mamori_audit::Actor::Anonymous,
                mamori_audit::Outcome::Denied,
            )
            .detail("reason", "throttled");
            state.core.audit.record_denied(ctx, refusal).await;
            Err(StatusCode::TOO_MANY_REQUESTS)
        }
        _ => Ok(()),
    }
}
