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
    } else if [
        mamori_server::problem::CONSOLE_IMPORT_PATH,
        mamori_server::problem::CONSOLE_REGISTERS_IMPORT_PATH,
        "/isms/vendors/{id}/files",
        "/isms/training/{id}/images",
        "/checks/{id}",
    ]
    .contains(&spec.path)
    {
        // The import pages upload a file: a multipart form (here with its token and no file).
        let (content_type, body) = crate::pages::multipart(&[("_csrf", csrf)], b"");
        req.header("content-type", content_type).body(body).send().await.unwrap()
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
    let token_id =
        s.core.identity.list_api_tokens(&crate::support::inspector(), &Default::default()).await.unwrap()[0]
            .id
            .clone();
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
            let path = spec.path.replace("{id}", id).replace("{token}", "not-a-link");
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
    assert_eq!(
        s.core
            .identity
            .user(&crate::support::inspector(), &admin.id, &Default::default())
            .await
            .unwrap()
            .0
            .status,
        mamori_domain::identity::UserStatus::Active
    );
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
        let path = spec.path.replace("{id}", &target.id).replace("{token}", "not-a-link");
        let r = b.client.post(format!("{}{path}", s.base)).form(&[("_csrf", "forged")]).send().await.unwrap();
        if spec.path == "/mail-files/{token}" {
            // An attachment's download is authorised by the link's token alone, with no CSRF
            // token (the recipient is outside and has no session): a wrong token is refused as
            // an unknown link.
            assert_eq!(r.status(), 404, "POST {path} with an unknown link");
            continue;
        }
        assert_eq!(r.status(), 403, "POST {path} without the right CSRF token");
    }
    let r =
        b.client.post(s.url("/api/v1/clients")).json(&serde_json::json!({"name": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 403, "API call with a session cookie but no X-CSRF-Token");
    assert_eq!(
        s.core
            .identity
            .user(&crate::support::inspector(), &target.id, &Default::default())
            .await
            .unwrap()
            .0
            .status,
        mamori_domain::identity::UserStatus::Active
    );
    s.stop().await;
}
both_backends!(csrf_on_every_form);

/// A route added to the router without going through the table is refused, not served.
#[tokio::test]
async fn undeclared_route_is_refused() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (router, table) = all_routes().into_parts();
    let router = router.route("/sneaky", axum::routing::get(|| async { "secret" }));
    let addr = s.serve_router(router, table).await;
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

/// The OpenAPI document describes the API as it answers: every path parameter is declared,
/// every reference resolves, every error is a problem document, each operation declares what
/// its guard and extractors can answer, and public routes need no credential.
#[test]
fn openapi_document_is_true() {
    use mamori_server::openapi::{PROBLEM_JSON, template_parameters};
    let doc: serde_json::Value = serde_json::from_str(&mamori_server::openapi::json()).unwrap();
    let table = all_routes().into_parts().1;

    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
        assert!(target.is_some(), "{r} resolves");
    }

    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{} {path}", method.to_uppercase());
            let access = table.access(&method.to_uppercase().parse().unwrap(), path).unwrap();
            assert!(operation_ids.insert(op["operationId"].as_str().unwrap().to_owned()), "{at}: unique id");

            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: Vec<&str> =
                params.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect();
            assert_eq!(in_path, template_parameters(path), "{at}: the path parameters are the template's");
            assert!(params.iter().filter(|p| p["in"] == "path").all(|p| p["required"] == true), "{at}");

            let responses = op["responses"].as_object().unwrap();
            let declares = |status: &str| responses.contains_key(status);
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let types: Vec<&String> = response["content"].as_object().unwrap().keys().collect();
                    assert_eq!(types, [PROBLEM_JSON], "{at} {status} is a problem document");
                }
            }
            match access {
                Access::Public => assert_eq!(op["security"], serde_json::json!([]), "{at}: no credential"),
                Access::Device => {
                    assert_eq!(op["security"], serde_json::json!([{"device_signature": []}]), "{at}");
                    assert!(declares("401"), "{at} declares 401");
                }
                _ => {
                    assert!(op.get("security").is_none(), "{at}: the document's bearer scheme");
                    assert!(
                        declares("401") && declares("403") && declares("503"),
                        "{at} declares 401, 403, 503"
                    );
                }
            }
            if params.iter().any(|p| p["in"] == "query") {
                assert!(declares("400"), "{at}: a bad query answers 400");
            }
            if !in_path.is_empty() {
                assert!(declares("404"), "{at}: an unknown id answers 404");
            }
            if op.get("requestBody").is_some() {
                assert!(
                    declares("413") && declares("415"),
                    "{at}: a body can be too large or of another type"
                );
            }
        }
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["device_signature"]["name"], "Authorization");
}

fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match v {
                    serde_json::Value::String(s) if k == "$ref" => out.push(s.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The services apply the same rule as the routes, whoever calls them (the command line, a job,
/// a detector): an operator acting directly — no route, no guard — is refused every
/// administrative operation, each refusal recorded with the permission it lacked (issue 13,
/// item 3).
async fn services_apply_the_rule_whoever_calls(backend: Backend) {
    let s = TestServer::start(backend).await;
    let op = s.principal_of(&s.user("op.direct", &[Role::Operator]).await);
    let ctx = Default::default();
    let forbidden = |r: Result<(), mamori_core::CoreError>, what: &str| {
        assert!(matches!(r, Err(mamori_core::CoreError::Forbidden(_))), "{what}: {r:?}");
    };
    let invitation = mamori_core::identity::admin::Invitation {
        username: "new.user".into(),
        display_name: "New".into(),
        roles: vec![Role::SecurityAdmin],
        team_id: None,
        site_id: None,
        client_ids: vec![],
        mail_address: None,
    };
    forbidden(s.core.identity.invite_user(&op, &invitation, &ctx).await.map(drop), "invite a user");
    forbidden(s.core.identity.set_totp_for_everyone(&op, false, &ctx).await, "turn TOTP off for everyone");
    forbidden(
        s.core
            .identity
            .create_org_unit(&op, mamori_store::OrgKind::Client, "Client X", None, &ctx)
            .await
            .map(drop),
        "create a client company",
    );
    forbidden(
        s.core.audit.search_audit(&op, &Default::default(), &ctx).await.map(drop),
        "read the audit log",
    );
    let enrolment = mamori_core::devices::NewEnrolment { site_id: None, user_id: None, valid_hours: 1 };
    forbidden(s.core.devices.create_enrolment(&op, &enrolment, &ctx).await.map(drop), "enrol a PC");
    forbidden(
        s.core.devices.set_keystroke_limits(&op, Default::default(), &ctx).await,
        "change keystroke limits",
    );
    let customer = mamori_core::vault::NewCustomer {
        client_id: uuid::Uuid::new_v4().to_string(),
        fields: Default::default(),
    };
    assert!(s.core.vault.create_customer(&op, &customer, &ctx).await.is_err(), "create a customer");
    // Reads too: the directory, tokens, security events and rule sets.
    forbidden(s.core.identity.list_users(&op, &ctx).await.map(drop), "list users");
    forbidden(s.core.identity.user(&op, &op.user.id, &ctx).await.map(drop), "read a user");
    forbidden(s.core.identity.list_api_tokens(&op, &ctx).await.map(drop), "list API tokens");
    forbidden(s.core.identity.security_events(&op, 10, &ctx).await.map(drop), "read security events");
    let site = uuid::Uuid::new_v4().to_string();
    forbidden(s.core.devices.site_device_policy(&op, &site, &ctx).await.map(drop), "read a site's PC policy");
    forbidden(s.core.devices.keystroke_limits(&op, &ctx).await.map(drop), "read keystroke limits");
    forbidden(s.core.vault.vault_policy(&op, &ctx).await.map(drop), "read the vault's field policy");
    assert!(
        s.core
            .identity
            .list_users(&crate::support::inspector(), &Default::default())
            .await
            .unwrap()
            .iter()
            .all(|u| u.username != "new.user"),
        "nothing written"
    );

    let refusals: Vec<mamori_audit::AuditEntry> = s
        .core
        .store()
        .read()
        .await
        .unwrap()
        .search_audit(&mamori_store::AuditQuery {
            outcome: Some("denied".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut refused: Vec<(&str, &str)> =
        refusals.iter().map(|e| (e.action.as_str(), e.details["needs"].as_str())).collect();
    refused.sort_unstable();
    assert_eq!(
        refused,
        [
            ("audit.search", "audit.read"),
            ("client.create", "org.manage"),
            ("customer.create", "customers.manage"),
            ("device.enrolment_create", "devices.manage"),
            ("device.keystroke_limits_change", "devices.manage"),
            ("policy.read", "customers.manage"),
            ("policy.read", "devices.read"),
            ("policy.read", "devices.read"),
            ("security_event.list", "security_events.read"),
            ("settings.totp_for_everyone", "settings.manage"),
            ("token.list", "tokens.manage"),
            ("user.invite", "users.manage"),
            ("user.read", "users.read"),
            ("user.read", "users.read"),
        ]
    );
    assert!(
        refusals
            .iter()
            .all(|e| e.details["reason"] == "permission" && e.actor == format!("user:{}", op.user.id))
    );
    s.stop().await;
}
both_backends!(services_apply_the_rule_whoever_calls);
