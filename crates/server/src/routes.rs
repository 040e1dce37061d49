//! The route table and the authorization guard (deny by default, DESIGN invariant 2).
//!
//! Routes are only ever added through [`Routes::api`] or [`Routes::add`], which demand the
//! [`Access`] the route needs. The guard runs on every matched route, looks the route up in the
//! table and refuses it if it is missing — so a route registered any other way answers 403,
//! never its handler.
//!
//! An API route is written once: its handler's `#[utoipa::path]` attribute says the method, the
//! path and what the OpenAPI document tells of it, and [`Routes::api`] takes all three from
//! there ([`operation!`] pairs a handler with what its attribute generated), so the router, the
//! table and the document cannot disagree. Console pages, which the document does not describe,
//! are added with their method and path ([`Routes::add`]).

use crate::middleware::{self, resolve_principal};
use crate::problem::ApiError;
use crate::{AppState, api, console};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use mamori_core::{Credential, Principal};
use mamori_domain::authz::Access;
use mamori_proto::ErrorCode;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use utoipa::openapi::path::{HttpMethod, Operation as OperationDoc, Paths};
use utoipa::openapi::{RefOr, schema::Schema};

/// One route and the access it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

impl RouteSpec {
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/")
    }
}

/// Every route of the application.
#[derive(Debug, Default)]
pub struct RouteTable {
    specs: Vec<RouteSpec>,
    /// path → the methods it takes and their access.
    index: HashMap<&'static str, Vec<(Method, Access)>>,
}

impl RouteTable {
    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    /// The route list in `docs/authorization.md`: every route and what it needs.
    pub fn markdown(&self) -> String {
        let mut out = String::from("| method | path | needs |\n|---|---|---|\n");
        for s in &self.specs {
            out.push_str(&format!("| {} | `{}` | {} |\n", s.method, s.path, s.access));
        }
        out
    }

    pub fn access(&self, method: &Method, path: &str) -> Option<Access> {
        let method = if method == Method::HEAD { &Method::GET } else { method };
        self.index.get(path)?.iter().find(|(m, _)| m == method).map(|(_, a)| *a)
    }
}

/// An API operation, declared once: its handler and what the handler's `#[utoipa::path]`
/// attribute says of it — the methods and path it is served at, and its OpenAPI entry. Made
/// with [`operation!`].
pub struct Operation<H> {
    handler: H,
    path: &'static str,
    methods: Vec<HttpMethod>,
    doc: OperationDoc,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl<H> Operation<H> {
    /// `handler` as `P` describes it; `P` is the type the attribute generated beside the
    /// handler (`__path_<handler>`), which [`operation!`] names. `Tags` and `SchemaReferences`
    /// are hidden from utoipa's documentation but public: its derive and utoipa-axum use them.
    pub fn new<P>(handler: H) -> Self
    where
        P: utoipa::Path + utoipa::__dev::Tags<'static> + utoipa::__dev::SchemaReferences,
    {
        // As utoipa's own `OpenApi` derive does: the attribute's tags go into the operation,
        // and the schemas its bodies and answers name go into the document's components.
        let mut doc = P::operation();
        doc.tags.get_or_insert_with(Vec::new).extend(P::tags().into_iter().map(str::to_owned));
        let mut schemas = Vec::new();
        P::schemas(&mut schemas);
        Operation { handler, path: interned(P::path()), methods: P::methods(), doc, schemas }
    }

    /// The same operation served by another handler made from this one (a layer around it).
    pub fn map<H2>(self, wrap: impl FnOnce(H) -> H2) -> Operation<H2> {
        let Operation { handler, path, methods, doc, schemas } = self;
        Operation { handler: wrap(handler), path, methods, doc, schemas }
    }
}

/// `operation!(module::handler)`: the handler and what its `#[utoipa::path]` attribute
/// generated, as an [`Operation`] for [`Routes::api`].
macro_rules! operation {
    ($handler:ident) => {
        ::pastey::paste! { $crate::routes::Operation::new::<[<__path_ $handler>]>($handler) }
    };
    ($module:ident :: $handler:ident) => {
        ::pastey::paste! {
            $crate::routes::Operation::new::<$module::[<__path_ $handler>]>($module::$handler)
        }
    };
}
pub(crate) use operation;

/// A route's path for the life of the process. The table keeps `&'static str` paths (tests and
/// the guard match on them) but utoipa gives a path as a `String`; each distinct path is kept
/// once, however often a table is built.
fn interned(path: String) -> &'static str {
    static PATHS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut paths = PATHS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = paths.get(path.as_str()) {
        return known;
    }
    let path: &'static str = Box::leak(path.into_boxed_str());
    paths.insert(path);
    path
}

fn method_of(m: &HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// What the OpenAPI document says of the API operations, gathered from their attributes as the
/// routes were added.
#[derive(Default)]
pub struct ApiOperations {
    pub paths: Paths,
    /// The schemas the operations' bodies and answers name.
    pub schemas: Vec<(String, RefOr<Schema>)>,
}

/// Builds the router, the table and the API's description together.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
    operations: ApiOperations,
}

impl Routes {
    /// An API operation, at the method and path its attribute declares, described in the
    /// OpenAPI document as the attribute says.
    pub fn api<H, T>(mut self, access: Access, op: Operation<H>) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let Operation { handler, path, methods, doc, schemas } = op;
        let mut served = Vec::new();
        for m in &methods {
            let (routes, added) = self.route(method_of(m), path, access, handler.clone());
            self = routes;
            if added {
                served.push(m.clone());
            }
        }
        if !served.is_empty() {
            self.operations.paths.add_path_operation(path, served, doc);
            self.operations.schemas.extend(schemas);
        }
        self
    }

    /// A route the OpenAPI document does not describe: a console page, the document itself.
    pub fn add<H, T>(self, method: Method, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(method, path, access, handler).0
    }

    /// Adds a route to the router and the table; false (and the route left out) for a method
    /// the router does not serve.
    fn route<H, T>(mut self, method: Method, path: &'static str, access: Access, handler: H) -> (Self, bool)
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let route: MethodRouter<AppState> = match method.as_str() {
            "GET" => get(handler),
            "POST" => post(handler),
            "PUT" => put(handler),
            "PATCH" => patch(handler),
            "DELETE" => delete(handler),
            other => {
                tracing::error!(method = other, path, "route with an unsupported method left out");
                return (self, false);
            }
        };
        self.router = self.router.route(path, route);
        self.specs.push(RouteSpec { method, path, access });
        (self, true)
    }

    pub fn into_parts(self) -> (Router<AppState>, RouteTable) {
        let (router, table, _) = self.into_all_parts();
        (router, table)
    }

    /// The table and what the OpenAPI document says of the API operations.
    pub fn into_described(self) -> (RouteTable, ApiOperations) {
        let (_, table, operations) = self.into_all_parts();
        (table, operations)
    }

    fn into_all_parts(self) -> (Router<AppState>, RouteTable, ApiOperations) {
        let mut index: HashMap<&'static str, Vec<(Method, Access)>> = HashMap::new();
        for s in &self.specs {
            index.entry(s.path).or_default().push((s.method.clone(), s.access));
        }
        (self.router, RouteTable { specs: self.specs, index }, self.operations)
    }
}

/// Every route Mamori serves.
pub fn all_routes() -> Routes {
    let r = Routes::default();
    let r = api::routes(r);
    console::routes(r)
}

pub fn build(mut state: AppState) -> Router {
    let (router, table) = all_routes().into_parts();
    state.routes = std::sync::Arc::new(table);
    with_guard(router, state)
}

/// Applies the guard and the outer middleware to a router.
pub fn with_guard(router: Router<AppState>, state: AppState) -> Router {
    router
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        // Bodies are counted as they stream, chunked ones too: `outer` refuses a declared length
        // early, this stops an undeclared one at the limit (the import route sets its own).
        .layer(axum::extract::DefaultBodyLimit::max(crate::problem::BODY_LIMIT))
        // A panic in a handler is answered (500) instead of dropping the connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panicked))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::outer))
        .with_state(state)
}

async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::new(ErrorCode::NotFound, "no such API route; see /api/v1/openapi.json").into_response()
    } else {
        console::not_found_page(&req)
    }
}

async fn method_not_allowed(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::new(ErrorCode::MethodNotAllowed, "this route does not take this method").into_response()
    } else {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response()
    }
}

/// What the guard decided for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not signed in.
    SignIn,
    /// Password given; the second factor is still due.
    SecondFactor,
    /// Signed in but must enrol TOTP first.
    Enrol,
    /// This page is for the middle of a sign-in, and the user is already through it.
    AlreadySignedIn,
    Forbidden,
}

/// The rule itself: may this principal use a route that needs `access`?
pub fn decide(access: Access, principal: Option<&Principal>) -> Decision {
    let Some(p) = principal else {
        return if access == Access::Public { Decision::Allow } else { Decision::SignIn };
    };
    let awaiting = matches!(p.via, Credential::Session { awaiting_second_factor: true, .. });
    match access {
        Access::Public | Access::AnySession => Decision::Allow,
        Access::PendingSecondFactor if awaiting => Decision::Allow,
        Access::PendingSecondFactor => Decision::AlreadySignedIn,
        _ if awaiting => Decision::SecondFactor,
        Access::EnrolmentAllowed => Decision::Allow,
        _ if p.must_enrol_totp => Decision::Enrol,
        Access::SignedIn => Decision::Allow,
        Access::Permission(perm) if p.can(perm) => Decision::Allow,
        Access::Permission(_) => Decision::Forbidden,
        // Devices authenticate by signature in the guard, never as users.
        Access::Device => Decision::Forbidden,
    }
}

/// [`guard_route`], with the route's template left on the response for the metrics.
async fn guard(state: State<AppState>, matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = matched.as_ref().map(|m| m.as_str().to_owned());
    let mut resp = guard_route(state, matched, req, next).await;
    if let Some(route) = route {
        resp.extensions_mut().insert(crate::metrics::MatchedRoute(route));
    }
    resp
}

async fn guard_route(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let access = matched.as_ref().and_then(|m| state.routes.access(req.method(), m.as_str()));
    let Some(access) = access else {
        tracing::error!(path = ?matched.map(|m| m.as_str().to_owned()), "route without declared access refused");
        return refuse(is_api, Decision::Forbidden, req.headers());
    };
    if access == Access::Public {
        return next.run(req).await;
    }
    if access == Access::Device {
        return device_request(&state, req, next).await;
    }
    let ctx = req.extensions().get::<mamori_audit::RequestContext>().cloned().unwrap_or_default();
    let principal = match resolve_principal(&state, req.headers(), &ctx, is_api).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match decide(access, principal.as_ref()) {
        Decision::Allow => {}
        other => {
            if let (Decision::Forbidden, Some(p)) = (other, &principal) {
                let refusal = route_refusal(p.actor(), req.method(), matched.as_ref(), "permission")
                    .detail("needs", access.to_string());
                state.core.audit.record_denied(&ctx, refusal).await;
            }
            return refuse(is_api, other, req.headers());
        }
    }
    if let Some(p) = principal {
        // A cookie-authenticated API call that changes something must prove it came from our own
        // pages (the console sends X-CSRF-Token); bearer tokens cannot be sent by a browser on
        // its own, so they need no such proof.
        if is_api
            && !is_safe(req.method())
            && let Credential::Session { csrf_token, .. } = &p.via
        {
            let sent = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok());
            if sent != Some(csrf_token.as_str()) {
                let refusal = route_refusal(p.actor(), req.method(), matched.as_ref(), "csrf");
                state.core.audit.record_denied(&ctx, refusal).await;
                return ApiError::new(
                    ErrorCode::CsrfTokenMissing,
                    "send the session's CSRF token in the X-CSRF-Token header, or use an API token",
                )
                .into_response();
            }
        }
        req.extensions_mut().insert(p);
    }
    next.run(req).await
}

/// The audit entry of a request refused before its handler ran (DESIGN invariant 9). The route is
/// named by its pattern, never by the path with its ids.
pub fn route_refusal(
    actor: mamori_audit::Actor,
    method: &Method,
    matched: Option<&MatchedPath>,
    reason: &str,
) -> mamori_audit::AuditEvent {
    use mamori_audit::{AuditEvent, Outcome, actions};
    let route = format!("route:{method} {}", matched.map_or("", MatchedPath::as_str));
    AuditEvent::of(&actions::ROUTE_DENIED, actor, Outcome::Denied).object(route).detail("reason", reason)
}

/// An agent's request: the whole body is read (it is signed), the signature checked, and the
/// device handed to the handler. Anything refused is logged with the reason, never the body.
async fn device_request(state: &AppState, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::problem::BODY_LIMIT).await else {
        return crate::problem::too_large().into_response();
    };
    let ctx = parts.extensions.get::<mamori_audit::RequestContext>().cloned().unwrap_or_default();
    let authorization = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path(), |p| p.as_str());
    match state
        .core
        .devices
        .authenticate_device(authorization, parts.method.as_str(), path, &bytes, &ctx)
        .await
    {
        Ok(device) => {
            parts.extensions.insert(device);
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
        }
        Err(e) => {
            tracing::warn!(error = %e, ip = ?ctx.source_ip, path = parts.uri.path(), "agent request refused");
            ApiError::from(e).into_response()
        }
    }
}

pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn refuse(is_api: bool, decision: Decision, headers: &axum::http::HeaderMap) -> Response {
    if is_api {
        let (code, detail) = match decision {
            Decision::SignIn => (ErrorCode::Unauthenticated, "send `Authorization: Bearer <API token>`"),
            Decision::SecondFactor => {
                (ErrorCode::SecondFactorRequired, "finish signing in with the second factor")
            }
            Decision::Enrol => (ErrorCode::TotpEnrolmentRequired, "enrol TOTP in the console first"),
            _ => (ErrorCode::Forbidden, "your roles do not grant the permission this route needs"),
        };
        return ApiError::new(code, detail).into_response();
    }
    match decision {
        Decision::SignIn => Redirect::to("/signin").into_response(),
        Decision::SecondFactor => Redirect::to("/signin/totp").into_response(),
        Decision::Enrol => Redirect::to("/enrol-totp").into_response(),
        Decision::AlreadySignedIn => Redirect::to("/dashboard").into_response(),
        _ => console::forbidden_page(headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API operation is served at the method and path its attribute declares, under the
    /// access its line in the table gives, and described in the OpenAPI document.
    #[test]
    fn an_operation_is_routed_and_described_from_its_attribute() {
        let (table, described) =
            Routes::default().api(Access::SignedIn, operation!(api::me)).into_described();
        let me = RouteSpec { method: Method::GET, path: "/api/v1/me", access: Access::SignedIn };
        assert_eq!(table.specs(), [me]);
        assert_eq!(table.access(&Method::GET, "/api/v1/me"), Some(Access::SignedIn));
        let item = described.paths.paths.get("/api/v1/me");
        let op = item.and_then(|i| i.get.as_ref()).map(|op| (op.operation_id.clone(), op.tags.clone()));
        assert_eq!(op, Some((Some("me".to_owned()), Some(vec!["identity".to_owned()]))));
        assert!(described.schemas.iter().any(|(name, _)| name == "Me"), "the answer's schema comes along");
    }

    #[test]
    fn a_path_is_kept_once() {
        let first = interned("/api/v1/interned".to_owned());
        assert!(std::ptr::eq(first, interned("/api/v1/interned".to_owned())));
    }
}
