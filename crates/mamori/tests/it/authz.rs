//! Deny by default (DESIGN invariant 2): every route of the router, every role, and anonymous.

use crate::both_backends;
use crate::support::{Backend, Browser, TestServer};
use mamori_domain::authz::{Access, permissions_of};
use mamori_domain::{Permission, Role};
use mamori_server::routes::{RouteSpec, all_routes};
use reqwest::Method;

/// Who walks the routes: nobody, or one user per role.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Walker {
    Anonymous,
    Role(Role),
}

fn allowed(access: Access, walker: Walker) -> bool {
    match (access, walker) {
        (Access::Public, _) => true,
        // Agents' routes take a device signature, never a user.
        (Access::Device, _) => false,
        (_, Walker::Anonymous) => false,
        (Access::PendingSecondFactor, _) => false,
        (Access::AnySession | Access::EnrolmentAllowed | Access::SignedIn, _) => true,
        (Access::Permission(p), Walker::Role(r)) => permissions_of(&[r]).contains(&p),
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

async fn request(b: &Browser, spec: &RouteSpec, path: &str, csrf: &str) -> reqwest::Response {
    let method = Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
    let url = format!("{}{path}", b.base());
    let req = b.client.request(method.clone(), url);
    if method == Method::GET {
        req.send().await.unwrap()
    } else if spec.is_api() {
        req.header("x-csrf-token", csrf).json(&serde_json::json!({})).send().await.unwrap()
    } else {
        req.form(&[("_csrf", csrf)]).send().await.unwrap()
    }
}

async fn every_route_every_role(backend: Backend) {
    // Many sign-ins from one address: lift the per-address throttle for this walk.
    let s = TestServer::start_with(backend, |c| c.signin_burst = 100_000).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let target = s.user("target.user", &[Role::Operator]).await;
    let token_secret = s.token(&admin, &[Permission::UsersRead]).await;
    let token_id = s.core.list_api_tokens().await.unwrap()[0].id.clone();
    let _ = token_secret;
    for r in Role::ALL {
        s.user(&format!("walker.{}", r.as_str().replace('_', "-")), &[r]).await;
    }

    let routes = all_routes().into_parts().1;
    assert!(routes.specs().len() > 50, "the table holds the whole router");
    let mut checked = 0;
    let walkers = [Walker::Anonymous].into_iter().chain(Role::ALL.map(Walker::Role));
    for walker in walkers {
        let fresh = || async {
            match walker {
                Walker::Anonymous => s.browser(),
                Walker::Role(r) => s.signed_in(&format!("walker.{}", r.as_str().replace('_', "-"))).await,
            }
        };
        let mut b = fresh().await;
        for spec in routes.specs() {
            let id = if spec.path.contains("tokens/") { &token_id } else { &target.id };
            let path = spec.path.replace("{id}", id);
            let ends_session = matches!(spec.path, "/signout" | "/profile/sessions/end-all");
            if ends_session {
                b = fresh().await;
            }
            let csrf =
                if walker == Walker::Anonymous { b.csrf("/signin").await } else { b.csrf("/profile").await };
            let r = request(&b, spec, &path, &csrf).await;
            let status = r.status().as_u16();
            let loc = location(&r);
            let what = format!("{walker:?} {} {path} → {status} {loc}", spec.method);
            assert!(status < 500, "no route answers 5xx: {what}");
            let refused = status == 401
                || status == 403
                || ["/signin", "/signin/totp", "/enrol-totp", "/dashboard"].contains(&loc.as_str());
            if spec.access == Access::Public {
                // Public routes answer whatever their input deserves (a sign-in with no password
                // is a 401); the guard itself never stands in the way.
            } else if allowed(spec.access, walker) {
                assert!(
                    !refused || (ends_session && loc.starts_with("/signin?done")),
                    "allowed but refused: {what}"
                );
            } else {
                assert!(refused, "refused route answered: {what}");
                if spec.is_api() {
                    let want =
                        if walker == Walker::Anonymous || spec.access == Access::Device { 401 } else { 403 };
                    assert_eq!(status, want, "{what}");
                    assert_eq!(r.headers()["content-type"], "application/problem+json", "{what}");
                }
            }
            if ends_session {
                b = fresh().await;
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.specs().len() * 5);

    // Spelled out: an operator cannot reach user administration by URL or API.
    let op = s.signed_in("walker.operator").await;
    assert_eq!(op.get("/admin/users").await.status(), 403);
    assert_eq!(op.get(&format!("/admin/users/{}", target.id)).await.status(), 403);
    assert_eq!(op.get("/api/v1/users").await.status(), 403);
    let csrf = op.csrf("/profile").await;
    let r = op.post_form(&format!("/admin/users/{}/disable", admin.id), &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(s.core.user(&admin.id).await.unwrap().0.status, mamori_domain::identity::UserStatus::Active);
    s.stop().await;
}
both_backends!(every_route_every_role);

/// Every console form refuses a post without the CSRF token, even from a signed-in admin.
async fn csrf_on_every_form(backend: Backend) {
    let s = TestServer::start(backend).await;
    let target = s.user("target.user", &[Role::Operator]).await;
    s.user("admin", &[Role::SecurityAdmin]).await;
    let b = s.signed_in("admin").await;
    let routes = all_routes().into_parts().1;
    let forms = routes.specs().iter().filter(|s| !s.is_api() && s.method == axum::http::Method::POST);
    // The second-factor form is for sessions still waiting for it; the guard turns this one away.
    for spec in forms.filter(|s| s.access != Access::PendingSecondFactor) {
        let path = spec.path.replace("{id}", &target.id);
        let r = b.client.post(format!("{}{path}", s.base)).form(&[("_csrf", "forged")]).send().await.unwrap();
        assert_eq!(r.status(), 403, "POST {path} without the right CSRF token");
    }
    let r =
        b.client.post(s.url("/api/v1/clients")).json(&serde_json::json!({"name": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 403, "API call with a session cookie but no X-CSRF-Token");
    assert_eq!(s.core.user(&target.id).await.unwrap().0.status, mamori_domain::identity::UserStatus::Active);
    s.stop().await;
}
both_backends!(csrf_on_every_form);

/// A route added to the router without going through the table is refused, not served.
#[tokio::test]
async fn undeclared_route_is_refused() {
    let s = TestServer::start(Backend::Sqlite).await;
    let mut state = mamori_server::AppState::new(s.core.clone(), s.config.clone());
    let (router, table) = all_routes().into_parts();
    state.routes = std::sync::Arc::new(table);
    let router = router.route("/sneaky", axum::routing::get(|| async { "secret" }));
    let app = mamori_server::routes::with_guard(router, state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let r = reqwest::get(format!("http://{addr}/sneaky")).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.text().await.unwrap().contains("secret"));
    s.stop().await;
}

/// The OpenAPI document lists exactly the API routes of the table, each with its access.
#[tokio::test]
async fn openapi_matches_the_routes() {
    let s = TestServer::start(Backend::Sqlite).await;
    let doc: serde_json::Value =
        reqwest::get(s.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.push(format!("{} {path}", method.to_uppercase()));
            assert!(
                op["description"].as_str().unwrap_or("").contains("Requires:"),
                "{method} {path} names its access"
            );
        }
    }
    documented.sort();
    let mut routed: Vec<String> = all_routes()
        .into_parts()
        .1
        .specs()
        .iter()
        .filter(|r| r.is_api() || r.path.ends_with("z"))
        .filter(|r| r.path != "/api/v1/openapi.json")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    routed.sort();
    assert_eq!(documented, routed);
    s.stop().await;
}
