//! Hostile and malformed input gets a clear 4xx, never a 500, never a partial write
//! (DESIGN invariant 6).

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestServer};
use mamori_domain::{Permission, Role};
use reqwest::header::CONTENT_TYPE;

fn problem_field(v: &serde_json::Value) -> Option<&str> {
    v.get("field").and_then(|f| f.as_str())
}

async fn api_input(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let token =
        s.token(&admin, &[Permission::UsersManage, Permission::UsersRead, Permission::AuditRead]).await;
    let c = reqwest::Client::new();
    let post = |body: Vec<u8>, ctype: &'static str| {
        c.post(s.url("/api/v1/users")).bearer_auth(&token).header(CONTENT_TYPE, ctype).body(body).send()
    };
    let check = |r: reqwest::Response, status: u16| async move {
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/problem+json");
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(p["status"], status);
        assert!(p["type"].as_str().unwrap().starts_with("urn:mamori:problem:"));
        p
    };

    // The server may answer 413 and close before the client has sent 10 MB; both are fine. Each
    // oversized body goes on a client of its own: the server closes that connection mid-body,
    // and a pooled client could hand the dead connection to the next request.
    let oversized = reqwest::Client::new()
        .post(s.url("/api/v1/users"))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "application/json")
        .body(vec![b'{'; 10 * 1024 * 1024])
        .send()
        .await;
    if let Ok(r) = oversized {
        let p = check(r, 413).await;
        assert_eq!(p["code"], "body_too_large");
    }
    let chunks = futures_body(3 * 1024 * 1024);
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/users"))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "application/json")
        .body(chunks)
        .send()
        .await;
    if let Ok(r) = r {
        check(r, 413).await;
    }
    let p = check(post(b"{\"username\": ".to_vec(), "application/json").await.unwrap(), 400).await;
    assert_eq!(p["code"], "malformed_json");
    let p = check(post(b"<xml/>".to_vec(), "application/xml").await.unwrap(), 415).await;
    assert_eq!(p["code"], "unsupported_media_type");
    let body = br#"{"username":"a.b","display_name":"x","roles":["operator"],"is_admin":true}"#.to_vec();
    let p = check(post(body, "application/json").await.unwrap(), 422).await;
    assert!(p["detail"].as_str().unwrap().contains("is_admin"), "unknown field named: {p}");
    let body = br#"{"username":"a.b","display_name":"x","roles":["root"]}"#.to_vec();
    let p = check(post(body, "application/json").await.unwrap(), 422).await;
    assert_eq!(problem_field(&p), Some("roles[0]"));
    let body = br#"{"username":42,"display_name":"x","roles":[]}"#.to_vec();
    let p = check(post(body, "application/json").await.unwrap(), 422).await;
    assert_eq!(problem_field(&p), Some("username"));
    let mut body = br#"{"username":"a.b","display_name":""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(br#"","roles":["operator"]}"#);
    check(post(body, "application/json").await.unwrap(), 400).await;
    let body = br#"{"username":"x'; DROP TABLE users; --","display_name":"x","roles":["operator"]}"#.to_vec();
    let p = check(post(body, "application/json").await.unwrap(), 422).await;
    assert_eq!(problem_field(&p), Some("username"));
    assert_eq!(
        s.core.identity.list_users(&crate::support::inspector(), &Default::default()).await.unwrap().len(),
        1,
        "nothing was written"
    );

    let q = |query: &str| c.get(s.url(&format!("/api/v1/audit?{query}"))).bearer_auth(&token).send();
    let p = check(q("limit=lots").await.unwrap(), 400).await;
    assert_eq!(problem_field(&p), Some("limit"));
    check(q("limit=0").await.unwrap(), 400).await;
    check(q("colour=red").await.unwrap(), 400).await;
    assert!(
        q("actor=%27%20OR%201%3D1%20--&action=%FF%FE").await.unwrap().status().is_success(),
        "decoded lossily"
    );
    assert_eq!(q("actor=%27%20OR%201%3D1%20--").await.unwrap().status(), 200);
    let p = check(q("actor=a%00b").await.unwrap(), 422).await;
    assert_eq!(problem_field(&p), Some("actor"));
    check(get_user_nul(&c, &s, &token).await, 404).await;

    let get = |path: &str| c.get(s.url(path)).bearer_auth(&token).send();
    check(get("/api/v1/users/not-a-uuid").await.unwrap(), 404).await;
    check(get("/api/v1/users/%FF%FE").await.unwrap(), 404).await;
    check(get(&format!("/api/v1/users/{}", uuid::Uuid::new_v4())).await.unwrap(), 404).await;
    check(get("/api/v1/no-such-route").await.unwrap(), 404).await;
    let r = c.put(s.url("/api/v1/users")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 405);
    s.stop().await;
}
both_backends!(api_input);

async fn console_input(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("op.hostile", &[Role::Operator]).await;
    let b = s.browser();
    let csrf = b.csrf("/signin").await;
    for name in ["' OR '1'='1", "admin'--", "\u{0}", "田中", &"a".repeat(100_000)] {
        let r = b.post_form("/signin", &[("_csrf", &csrf), ("username", name), ("password", PASSWORD)]).await;
        assert_eq!(r.status(), 401, "hostile user name {:?}", name.chars().take(20).collect::<String>());
    }
    let mut raw = format!("_csrf={csrf}&username=").into_bytes();
    raw.extend_from_slice(&[0xff, 0xfe, 0x80]);
    raw.extend_from_slice(b"&password=x");
    let r = b
        .client
        .post(s.url("/signin"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "invalid UTF-8 in a form");
    let big = vec![b'a'; 10 * 1024 * 1024];
    let r = b
        .client
        .post(s.url("/signin"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413, "or the server closes the connection early");
    }
    assert_eq!(b.get("/setup?token=%FF%00").await.status(), 410);
    assert_eq!(b.get("/no/such/page").await.status(), 404);
    let op = s.signed_in("op.hostile").await;
    assert_eq!(op.get("/profile").await.status(), 200);
    let csrf = op.csrf("/profile").await;
    let r = op.post_form("/profile/sessions/a%00b/end", &[("_csrf", &csrf)]).await;
    assert!(r.status().is_client_error() || r.status() == 422, "{}", r.status());
    assert_eq!(op.get("/audit?before=abc").await.status(), 403);
    s.stop().await;
}
both_backends!(console_input);

/// A body without Content-Length (chunked), so only the streaming limit can stop it.
fn futures_body(len: usize) -> reqwest::Body {
    let chunk = vec![b' '; 64 * 1024];
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..len / chunk.len()).map(|_| Ok(chunk.clone())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

async fn get_user_nul(c: &reqwest::Client, s: &TestServer, token: &str) -> reqwest::Response {
    c.patch(s.url("/api/v1/users/00000000-0000-0000-0000-000000000000"))
        .bearer_auth(token)
        .json(&serde_json::json!({"team_id": "x\u{0}y"}))
        .send()
        .await
        .unwrap()
}

/// `PATCH /api/v1/users/{id}` is one operation: a valid name with a refused role list changes
/// nothing, not the name (issue 13, defect 3).
async fn user_change_is_all_or_nothing(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let target = s.user("op.target", &[Role::Operator]).await;
    let token = s.token(&admin, &[Permission::UsersManage, Permission::UsersRead]).await;
    let patch = |body: serde_json::Value| {
        reqwest::Client::new()
            .patch(s.url(&format!("/api/v1/users/{}", target.id)))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let before = s.audit("user.update").await.len();
    let r = patch(serde_json::json!({"display_name": "新しい名前", "roles": []})).await.unwrap();
    assert_eq!(r.status(), 422);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(problem_field(&p), Some("roles"));
    assert_eq!(
        s.core
            .identity
            .user(&crate::support::inspector(), &target.id, &Default::default())
            .await
            .unwrap()
            .0
            .display_name,
        target.display_name,
        "nothing written"
    );
    assert_eq!(s.audit("user.update").await.len(), before, "nor recorded");

    let r = patch(serde_json::json!({"display_name": "新しい名前", "client_ids": ["00000000-0000-4000-8000-000000000000"]}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "an unknown client company, checked inside the transaction");
    assert_eq!(
        s.core
            .identity
            .user(&crate::support::inspector(), &target.id, &Default::default())
            .await
            .unwrap()
            .0
            .display_name,
        target.display_name
    );

    let r = patch(serde_json::json!({"display_name": "新しい名前", "roles": ["operator", "supervisor"]}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (user, _) =
        s.core.identity.user(&crate::support::inspector(), &target.id, &Default::default()).await.unwrap();
    assert_eq!(user.display_name, "新しい名前");
    assert_eq!(user.roles, [Role::Operator, Role::Supervisor]);
    s.stop().await;
}
both_backends!(user_change_is_all_or_nothing);

/// A handler that panics gets an answer — a 500 problem document on the API, a page in the
/// console — and the server keeps serving (issue 13, defect 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_answered() {
    use axum::http::Method;
    use mamori_domain::authz::Access;
    let s = TestServer::start(Backend::Sqlite).await;
    async fn boom() -> &'static str {
        panic!("a bug on the request path")
    }
    let routes = mamori_server::routes::Routes::default()
        .add(Method::GET, "/api/v1/boom", Access::Public, boom)
        .add(Method::GET, "/boom", Access::Public, boom)
        .add(Method::GET, "/healthz", Access::Public, || async { "ok" });
    let (router, table) = routes.into_parts();
    let addr = s.serve_router(router, table).await;

    let r = reqwest::get(format!("http://{addr}/api/v1/boom")).await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/problem+json");
    assert!(r.headers().contains_key("x-request-id"), "the log line can be found");
    let body = r.text().await.unwrap();
    assert!(!body.contains("a bug on the request path"), "nothing of the panic is shown: {body}");
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/boom"))
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("サーバーでエラーが発生し"));
    assert_eq!(reqwest::get(format!("http://{addr}/healthz")).await.unwrap().status(), 200, "still serving");
    s.stop().await;
}
