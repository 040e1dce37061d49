//! Identity end to end over HTTP: setup, TOTP, lockout, sessions, shared accounts, passwords,
//! invitations, API tokens — each with its audit trail. Cites TW-4, TW-8, LEAK-5, LEAK-6.

use crate::both_backends;
use crate::support::{Backend, Browser, PASSWORD, TestServer, hidden_value, oathtool_code};
use mamori_domain::{Clock, Permission, Role};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = html.find(start)? + start.len();
    Some(&html[i..i + html[i..].find(end)?])
}

/// First start → setup link → first admin → forced TOTP enrolment with a code from oathtool →
/// recovery codes → sign out → sign in with password and TOTP.
async fn first_admin_with_totp(backend: Backend) {
    let s = TestServer::start(backend).await;
    let token = s.setup_token.clone().expect("first start makes a setup link");
    let b = s.browser();
    assert_eq!(b.get("/setup?token=wrong").await.status(), 410);
    assert_eq!(b.get(&format!("/setup?token={token}")).await.status(), 200);
    let csrf = b.csrf(&format!("/setup?token={token}")).await;
    let form = |pw: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("token", token.clone()),
            ("username", "admin.tanaka".into()),
            ("display_name", "田中 管理者".into()),
            ("password", pw.into()),
            ("password_again", pw.into()),
        ]
    };
    let weak: Vec<(&str, String)> = form("password1234");
    let r = b.client.post(s.url("/setup")).form(&weak).send().await.unwrap();
    assert_eq!(r.status(), 422, "a common password is refused");
    assert_eq!(
        s.core.identity.list_users(&crate::support::inspector(), &Default::default()).await.unwrap().len(),
        0,
        "nothing half-written"
    );
    let r = b.client.post(s.url("/setup")).form(&form(PASSWORD)).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/signin?done=setup");
    let r = b.client.post(s.url("/setup")).form(&form(PASSWORD)).send().await.unwrap();
    assert_eq!(r.status(), 410, "the setup link works once");
    assert_eq!(s.audit("setup.complete").await.len(), 1);

    // Security admins must enrol TOTP before anything else (TW-8).
    let r = b.sign_in("admin.tanaka", PASSWORD).await;
    assert_eq!(r.headers()["location"], "/dashboard");
    assert_eq!(b.get("/dashboard").await.headers()["location"], "/enrol-totp");
    assert_eq!(b.get("/api/v1/me").await.status(), 403, "the API too waits for enrolment");
    let html = b.get("/enrol-totp").await.text().await.unwrap();
    assert!(html.contains("<svg"), "QR code shown");
    let secret = between(&html, "id=\"totp-secret\">", "<").unwrap().to_owned();
    let uri =
        format!("otpauth://{}", between(&html, "href=\"otpauth://", "\"").unwrap()).replace("&amp;", "&");
    assert!(uri.starts_with("otpauth://totp/Mamori:admin.tanaka?") && uri.contains(&secret), "{uri}");
    let csrf = hidden_value(&html, "_csrf").unwrap();
    let r = b.post_form("/enrol-totp", &[("_csrf", &csrf), ("code", "000000")]).await;
    assert_eq!(r.status(), 422);

    let now = s.clock.now().as_secs();
    let Some(code) = oathtool_code(&secret, now) else { return };
    let page = b.post_form("/enrol-totp", &[("_csrf", &csrf), ("code", &code)]).await.text().await.unwrap();
    let codes: Vec<&str> = page.split("<li><code>").skip(1).filter_map(|p| p.split('<').next()).collect();
    assert_eq!(codes.len(), 10, "ten recovery codes");
    assert_eq!(s.audit("mfa.enable").await.len(), 1);
    assert_eq!(b.get("/dashboard").await.status(), 200);

    let csrf = b.csrf("/dashboard").await;
    assert_eq!(
        b.post_form("/signout", &[("_csrf", &csrf)]).await.headers()["location"],
        "/signin?done=signed_out"
    );
    assert_eq!(b.get("/dashboard").await.headers()["location"], "/signin");

    // Password, then a code from oathtool for a later step; the enrolment's code is refused (replay).
    let r = b.sign_in("admin.tanaka", PASSWORD).await;
    assert_eq!(r.headers()["location"], "/signin/totp");
    assert_eq!(
        b.get("/dashboard").await.headers()["location"],
        "/signin/totp",
        "no page before the second factor"
    );
    let csrf = b.csrf("/signin/totp").await;
    let r = b.post_form("/signin/totp", &[("_csrf", &csrf), ("code", &code)]).await;
    assert_eq!(r.status(), 401, "a used code cannot be replayed");
    s.clock.advance(Duration::from_secs(30));
    let code = oathtool_code(&secret, s.clock.now().as_secs()).unwrap();
    let r = b.post_form("/signin/totp", &[("_csrf", &csrf), ("code", &code)]).await;
    assert_eq!(r.headers()["location"], "/dashboard");
    let me: serde_json::Value = b.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["username"], "admin.tanaka");
    assert_eq!(me["roles"], json!(["security_admin"]));

    // A recovery code works once.
    let b2 = s.browser();
    b2.sign_in("admin.tanaka", PASSWORD).await;
    let csrf = b2.csrf("/signin/totp").await;
    let r = b2.post_form("/signin/totp", &[("_csrf", &csrf), ("code", &codes[0].to_uppercase())]).await;
    assert_eq!(r.headers()["location"], "/dashboard", "recovery codes are typed in any case");
    let b3 = s.browser();
    b3.sign_in("admin.tanaka", PASSWORD).await;
    let csrf = b3.csrf("/signin/totp").await;
    assert_eq!(b3.post_form("/signin/totp", &[("_csrf", &csrf), ("code", codes[0])]).await.status(), 401);
    assert_eq!(s.audit("signin.recovery_code").await.len(), 2);
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(first_admin_with_totp);

/// Ten bad passwords lock the account; the right password is then refused until an admin
/// unlocks it (or 30 minutes pass); every step is audited.
async fn lockout(backend: Backend) {
    // The per-address throttle is tested on its own; here many attempts come from one address.
    let s = TestServer::start_with(backend, |c| c.signin_burst = 1000).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let victim = s.user("op.suzuki", &[Role::Operator]).await;
    let b = s.browser();
    for i in 1..=10 {
        let r = b.sign_in("op.suzuki", "wrong-password-guess").await;
        let expected = if i < 10 { 401 } else { 423 };
        assert_eq!(r.status(), expected, "attempt {i}");
    }
    let r = b.sign_in("op.suzuki", PASSWORD).await;
    assert_eq!(r.status(), 423, "the eleventh attempt, with the right password, is refused");
    let html = r.text().await.unwrap();
    assert!(html.contains("ロック"), "the page says the account is locked (in Japanese by default)");

    let fails = s.audit("signin.password").await;
    let object = format!("user:{}", victim.id);
    let reasons: Vec<&str> = fails
        .iter()
        .filter(|e| e.object.as_deref() == Some(object.as_str()))
        .map(|e| e.details["reason"].as_str())
        .collect();
    assert_eq!(reasons.iter().filter(|r| **r == "wrong_password").count(), 10);
    assert_eq!(reasons[0], "locked", "the refused eleventh attempt is recorded");
    assert_eq!(s.audit("account.lock").await.len(), 1);

    // An admin unlocks through the API.
    let token = s.token(&admin, &[Permission::UsersManage]).await;
    let api = reqwest::Client::new();
    let r = api
        .post(s.url(&format!("/api/v1/users/{}/unlock", victim.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.audit("user.unlock").await.len(), 1);
    assert_eq!(b.sign_in("op.suzuki", PASSWORD).await.headers()["location"], "/dashboard");

    // Or the lock ends by itself after 30 minutes.
    let other = s.user("op.sato", &[Role::Operator]).await;
    let b = s.browser();
    for _ in 0..10 {
        b.sign_in("op.sato", "wrong-password-guess").await;
    }
    assert_eq!(b.sign_in("op.sato", PASSWORD).await.status(), 423);
    s.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(b.sign_in("op.sato", PASSWORD).await.status(), 423);
    s.clock.advance(Duration::from_secs(61));
    assert_eq!(b.sign_in("op.sato", PASSWORD).await.status(), 303);
    let events =
        s.core.identity.security_events(&crate::support::inspector(), 10, &Default::default()).await.unwrap();
    assert!(
        events.iter().any(|e| e.kind == "account_locked" && e.user_id.as_deref() == Some(other.id.as_str()))
    );

    // Unknown users get the same answer and leave no user name in the log.
    let b = s.browser();
    let r = b.sign_in("nobody.here", "whatever-password").await;
    assert_eq!(r.status(), 401);
    let last = &s.audit("signin.password").await[0];
    assert_eq!(last.actor, "anonymous");
    assert!(!format!("{last:?}").contains("nobody.here"));
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(lockout);

/// Per-address throttling of sign-in attempts, before any password work.
async fn signin_throttle(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.signin_per_minute = 1;
        c.signin_burst = 3;
    })
    .await;
    let b = s.browser();
    let statuses: Vec<u16> = futures_statuses(&b, 5).await;
    assert_eq!(&statuses[..3], &[401, 401, 401]);
    assert_eq!(statuses[3], 429, "throttled after the burst");
    s.stop().await;
}
both_backends!(signin_throttle);

async fn futures_statuses(b: &Browser, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(b.sign_in("someone", "wrong-password-guess").await.status().as_u16());
    }
    out
}

/// One account signed in from two addresses at once is a security event (LEAK-5).
async fn shared_account(backend: Backend) {
    let s = TestServer::start(backend).await;
    let user = s.user("op.kato", &[Role::Operator]).await;
    let here = Browser::new(&s.base, Some("127.0.0.1".parse().unwrap()));
    let again = Browser::new(&s.base, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(here.sign_in("op.kato", PASSWORD).await.status(), 303);
    assert_eq!(again.sign_in("op.kato", PASSWORD).await.status(), 303);
    assert!(
        s.core
            .identity
            .security_events(&crate::support::inspector(), 10, &Default::default())
            .await
            .unwrap()
            .is_empty(),
        "same address: no event"
    );
    let elsewhere = Browser::new(&s.base, Some("127.0.0.2".parse().unwrap()));
    assert_eq!(elsewhere.sign_in("op.kato", PASSWORD).await.status(), 303);
    let events =
        s.core.identity.security_events(&crate::support::inspector(), 10, &Default::default()).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "shared_account_suspected");
    assert_eq!(events[0].user_id.as_deref(), Some(user.id.as_str()));
    assert!(events[0].details.contains("127.0.0.2"));
    let entries = s.audit("account.shared_suspected").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].source_ip.as_deref(), Some("127.0.0.2"));
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(shared_account);

/// Idle and absolute timeouts, sign-out everywhere, and the session cookie's attributes.
async fn sessions(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("op.ito", &[Role::Operator]).await;
    let b = s.browser();
    let r = b.sign_in("op.ito", PASSWORD).await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("mamori_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"));

    s.clock.advance(Duration::from_secs(14 * 60));
    assert_eq!(b.get("/dashboard").await.status(), 200, "14 minutes idle is fine");
    s.clock.advance(Duration::from_secs(15 * 60 + 1));
    assert_eq!(b.get("/dashboard").await.headers()["location"], "/signin", "15 minutes idle ends it");
    let ended = s.audit("session.end").await;
    assert_eq!(ended[0].details["reason"], "expired");

    b.sign_in("op.ito", PASSWORD).await;
    for _ in 0..71 {
        s.clock.advance(Duration::from_secs(10 * 60));
        assert_eq!(b.get("/dashboard").await.status(), 200);
    }
    s.clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(b.get("/dashboard").await.status(), 303, "12 hours after sign-in it ends, used or not");

    let one = s.signed_in("op.ito").await;
    let two = s.signed_in("op.ito").await;
    let csrf = one.csrf("/profile").await;
    let r = one.post_form("/profile/sessions/end-all", &[("_csrf", &csrf)]).await;
    assert_eq!(r.headers()["location"], "/signin?done=signed_out_everywhere");
    assert_eq!(two.get("/dashboard").await.status(), 303, "the other browser is signed out too");
    assert_eq!(s.audit("session.end_all").await.len(), 1);
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(sessions);

/// Password changes follow the policy, including "none of the last 5".
async fn password_policy(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("op.yamada", &[Role::Operator]).await;
    let b = s.signed_in("op.yamada").await;
    let change = |current: &'static str, new: String| {
        let b = &b;
        async move {
            let csrf = b.csrf("/profile").await;
            b.post_form(
                "/profile/password",
                &[
                    ("_csrf", &csrf),
                    ("current_password", current),
                    ("new_password", &new),
                    ("new_password_again", &new),
                ],
            )
            .await
            .status()
        }
    };
    assert_eq!(change("not-my-password", "brand-new-passphrase".into()).await, 422);
    assert_eq!(change(PASSWORD, "short".into()).await, 422);
    assert_eq!(change(PASSWORD, "op.yamada".into()).await, 422);
    assert_eq!(change(PASSWORD, "Qwertyuiop123".into()).await, 422);
    assert_eq!(change(PASSWORD, PASSWORD.into()).await, 422, "the current password is in the history");
    assert_eq!(change(PASSWORD, "brand-new-passphrase".into()).await, 303);
    let fails = s.audit("password.change").await;
    assert!(
        fails.iter().any(|e| e.details.get("reason").map(String::as_str) == Some("wrong_current_password"))
    );
    assert!(fails.iter().any(|e| e.outcome == mamori_audit::Outcome::Success));
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(password_policy);

/// Invite → accept → sign in → disable (sessions end) → enable; roles and clients change;
/// everything on the record (LEAK-6).
async fn user_lifecycle(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("admin", &[Role::SecurityAdmin]).await;
    let admin = s.signed_in("admin").await;
    let client: serde_json::Value = admin
        .api(Method::POST, "/api/v1/clients", Some(json!({"name": "サンプル通販"})))
        .await
        .json()
        .await
        .unwrap();
    let r = admin
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({
                "username": "op.new", "display_name": "新人 オペレーター", "roles": ["operator"],
                "client_ids": [client["id"]]
            })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let invited: serde_json::Value = r.json().await.unwrap();
    let id = invited["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(invited["user"]["status"], "invited");
    let url = invited["invitation_url"].as_str().unwrap();
    let path = &url[url.find("/invite").unwrap()..];

    let newbie = s.browser();
    assert_eq!(newbie.sign_in("op.new", PASSWORD).await.status(), 401, "no password yet");
    let csrf = newbie.csrf(path).await;
    let token = path.split("token=").nth(1).unwrap();
    let r = newbie
        .post_form(
            "/invite",
            &[("_csrf", &csrf), ("token", token), ("password", PASSWORD), ("password_again", PASSWORD)],
        )
        .await;
    assert_eq!(r.headers()["location"], "/signin?done=invitation_accepted");
    assert_eq!(newbie.get(path).await.status(), 410, "the invitation works once");
    assert_eq!(newbie.sign_in("op.new", PASSWORD).await.headers()["location"], "/dashboard");
    let me: serde_json::Value = newbie.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["client_ids"], json!([client["id"]]));

    let r = admin.api(Method::POST, &format!("/api/v1/users/{id}/disable"), None).await;
    assert_eq!(r.status(), 204);
    assert_eq!(newbie.get("/dashboard").await.status(), 303, "a disabled user's sessions end at once");
    assert_eq!(newbie.sign_in("op.new", PASSWORD).await.status(), 401);
    admin.api(Method::POST, &format!("/api/v1/users/{id}/enable"), None).await;
    assert_eq!(newbie.sign_in("op.new", PASSWORD).await.status(), 303);

    let r = admin
        .api(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"roles": ["operator", "supervisor"]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = admin
        .api(Method::PATCH, &format!("/api/v1/users/{id}"), Some(json!({"client_ids": ["no-such-client"]})))
        .await;
    assert_eq!(r.status(), 422);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["field"], "client_ids");
    let r = admin.api(Method::PATCH, &format!("/api/v1/users/{id}"), Some(json!({"roles": []}))).await;
    assert_eq!(r.status(), 422, "at least one role");

    for action in [
        "user.invite",
        "user.invitation_accept",
        "user.disable",
        "user.enable",
        "user.roles",
        "client.create",
    ] {
        assert_eq!(s.audit(action).await.len(), 1, "{action} audited");
    }
    let roles = &s.audit("user.roles").await[0];
    assert_eq!(
        (roles.details["from"].as_str(), roles.details["to"].as_str()),
        ("operator", "operator,supervisor")
    );

    // The new supervisor role needs TOTP: their next request must enrol first.
    assert_eq!(newbie.get("/dashboard").await.headers()["location"], "/enrol-totp");
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(user_lifecycle);

/// API tokens: scoped, bounded by the owner's rights, revocable, expiring.
async fn api_tokens(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let read_only = s.token(&admin, &[Permission::UsersRead]).await;
    let api = reqwest::Client::new();
    let get = |t: &str| api.get(s.url("/api/v1/users")).bearer_auth(t.to_owned()).send();
    assert_eq!(get(&read_only).await.unwrap().status(), 200);
    let r = api
        .post(s.url("/api/v1/users"))
        .bearer_auth(&read_only)
        .json(&json!({"username": "x.y", "display_name": "x", "roles": ["operator"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a token holds only its scope");
    assert_eq!(get("mmr_not-a-token").await.unwrap().status(), 401);

    let browser = s.signed_in("admin").await;
    let r = browser
        .api(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "siem", "permissions": ["audit.read"], "expires_in_days": 1})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: serde_json::Value = r.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("mmr_"));
    let listed: serde_json::Value =
        browser.api(Method::GET, "/api/v1/tokens", None).await.json().await.unwrap();
    assert!(!listed.to_string().contains(&secret), "the secret is shown once, never listed");
    let audit_ok = api.get(s.url("/api/v1/audit")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(audit_ok.status(), 200);

    let r = browser
        .api(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "x", "permissions": ["audit.read"], "expires_in_days": 400})),
        )
        .await;
    assert_eq!(r.status(), 422);
    let id = created["token"]["id"].as_str().unwrap();
    assert_eq!(browser.api(Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await.status(), 204);
    assert_eq!(api.get(s.url("/api/v1/audit")).bearer_auth(&secret).send().await.unwrap().status(), 401);

    s.clock.advance(Duration::from_secs(86400 + 1));
    assert_eq!(get(&read_only).await.unwrap().status(), 401, "expired");
    for action in ["token.create", "token.revoke"] {
        assert!(!s.audit(action).await.is_empty(), "{action} audited");
    }
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(api_tokens);

/// The demo contact center loads once, into an empty database only.
async fn demo_data(backend: Backend) {
    let s = TestServer::start(backend).await;
    let accounts = s.core.load_demo().await.unwrap();
    assert_eq!(accounts.len(), 4, "one sign-in line per role");
    let users = s.core.identity.list_users(&crate::support::inspector(), &Default::default()).await.unwrap();
    assert_eq!(users.len(), mamori_core::demo::demo_staff_count());
    for role in Role::ALL {
        assert!(users.iter().any(|u| u.roles.contains(&role)), "{role} present");
    }
    assert_eq!(s.core.identity.list_org(mamori_store::OrgKind::Client).await.unwrap().len(), 2);
    assert_eq!(s.core.identity.list_org(mamori_store::OrgKind::Site).await.unwrap().len(), 2);
    assert!(users.iter().all(|u| u.display_name.contains("(demo)")), "plainly synthetic");
    let customers = s.core.store().read().await.unwrap().count_customers().await.unwrap();
    assert_eq!(customers, mamori_core::demo::DEMO_CUSTOMERS as i64);
    let op = users.iter().find(|u| u.username == "demo-op01").unwrap();
    let (_, op_clients) =
        s.core.identity.user(&crate::support::inspector(), &op.id, &Default::default()).await.unwrap();
    let p = mamori_core::Principal::direct(op, op_clients);
    let purpose =
        mamori_core::vault::Purpose::Reason { code: "callback".into(), text: "デモの確認".into() };
    let cards = s
        .core
        .vault
        .find_customers_by_phone(&p, mamori_core::demo::DEMO_SAMPLE_PHONE, &purpose, &Default::default())
        .await
        .unwrap();
    assert_eq!(cards.len(), 1, "the sample phone finds its demo customer");
    // A held external mail with the sample caller's number: the sender's check, then the
    // supervisor's approval (issue 15, item 5).
    let mail = s.core.my_outgoing_mail(&p).await.unwrap();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].mail.state, "held");
    assert_eq!(mail[0].findings.customer_phones, 1);
    assert!(mail[0].recipients.iter().any(|r| r.external && r.domain == "sample-tsuhan.example.jp"));
    s.core.load_demo().await.unwrap();
    assert_eq!(
        s.core.identity.list_users(&crate::support::inspector(), &Default::default()).await.unwrap().len(),
        users.len(),
        "loading twice adds nothing"
    );

    // The simulated agents: a PC per operator, one taken home, one with a USB stick.
    let mut feed = mamori_core::demo::DemoDeviceFeed::default();
    for _ in 0..25 {
        s.core.demo_device_tick(&mut feed).await.unwrap();
    }
    let demo_admin = users.iter().find(|u| u.username == "demo-admin01").unwrap();
    let overseer = mamori_core::Principal::direct(demo_admin, Vec::new());
    let devices = s.core.devices.list_devices(&overseer).await.unwrap();
    assert_eq!(devices.len(), 30);
    let pc = |name: &str| devices.iter().find(|d| d.hostname == name).unwrap().clone();
    let home = s.core.devices.device_posture(&pc("DEMO-PC-07")).await.unwrap();
    assert_eq!(home.network_approved, Some(false), "DEMO-PC-07 is off the office network");
    let kinds: Vec<String> = s
        .core
        .devices
        .device_events(&overseer, &pc("DEMO-PC-07").id, 10, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"off_network".to_owned()), "{kinds:?}");
    // … and explained: its operator's take-out was approved (issue 15, item 4).
    let filter = mamori_core::signals::SignalFilter {
        since: mamori_domain::UnixMillis(0),
        kind: Some("off_network".into()),
        team_id: None,
        device_id: Some(pc("DEMO-PC-07").id),
    };
    let signals = s.core.signals(&overseer, &filter, &Default::default()).await.unwrap();
    assert!(!signals.is_empty() && signals.iter().all(|s| s.take_out.is_some()), "{signals:?}");
    let floor = s.core.floor(&overseer).await.unwrap();
    let row = floor.iter().find(|r| r.device.as_ref().is_some_and(|d| d.hostname == "DEMO-PC-07")).unwrap();
    assert!(row.taken_out && !row.needs_attention(), "taken out, not a concern");
    let kinds: Vec<String> = s
        .core
        .devices
        .device_events(&overseer, &pc("DEMO-PC-12").id, 10, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"usb_attached".to_owned()) && kinds.contains(&"usb_removed".to_owned()),
        "{kinds:?}"
    );
    let posture = s.core.devices.device_posture(&pc("DEMO-PC-03")).await.unwrap();
    assert_eq!(posture.failures.unwrap()[0].rule, "disk_encryption", "a non-compliant PC to show");
    assert_eq!(s.core.devices.device_posture(&pc("DEMO-PC-01")).await.unwrap().failures, Some(vec![]));

    // The demo admin signs in with the published demo TOTP secret.
    let b = s.browser();
    assert_eq!(
        b.sign_in("demo-admin01", mamori_core::demo::DEMO_PASSWORD).await.headers()["location"],
        "/signin/totp"
    );
    s.clock.advance(Duration::from_secs(30));
    let code =
        mamori_crypto::totp::code_at(mamori_core::demo::DEMO_TOTP_SECRET, s.clock.now().as_secs()).unwrap();
    let csrf = b.csrf("/signin/totp").await;
    assert_eq!(
        b.post_form("/signin/totp", &[("_csrf", &csrf), ("code", &code)]).await.headers()["location"],
        "/dashboard"
    );
    s.stop().await;

    let s = TestServer::start(backend).await;
    s.user("real.user", &[Role::Operator]).await;
    assert!(s.core.load_demo().await.is_err(), "never mixed into real data");
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(demo_data);

/// With "TOTP for everyone" on, operators must enrol too.
async fn totp_for_everyone(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("admin", &[Role::SecurityAdmin]).await;
    s.user("op.mori", &[Role::Operator]).await;
    let op = s.signed_in("op.mori").await;
    assert_eq!(op.get("/dashboard").await.status(), 200);
    let admin = s.signed_in("admin").await;
    let r =
        admin.api(Method::PUT, "/api/v1/settings", Some(json!({"totp_required_for_everyone": true}))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(op.get("/dashboard").await.headers()["location"], "/enrol-totp");
    assert_eq!(s.audit("settings.totp_for_everyone").await.len(), 1);
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(totp_for_everyone);

/// Who a credential belongs to is remembered for at most a second: a change made in this
/// process is seen on the very next request, one made by another replica within that second.
async fn caller_cache_bounds(backend: Backend) {
    let s = TestServer::start(backend).await;
    let owner = s.user("sv.cache", &[Role::Supervisor]).await;
    let secret = s.token(&owner, &[Permission::UsersRead]).await;
    let api = reqwest::Client::new();
    let me = || api.get(s.url("/api/v1/me")).bearer_auth(&secret).send();
    assert_eq!(me().await.unwrap().status(), 200);

    // Another replica on the same database revokes the token.
    let replica = mamori_server::serve::open_core(&s.config, s.clock.clone()).await.unwrap();
    let id = replica.store().read().await.unwrap().list_api_tokens().await.unwrap()[0].id.clone();
    let mut tx = replica.store().begin().await.unwrap();
    assert!(tx.revoke_api_token(&id, s.clock.now()).await.unwrap());
    tx.commit().await.unwrap();
    // This replica may still answer from memory here (for at most a second), or already not.
    let _ = me().await.unwrap();
    s.clock.advance(mamori_core::CALLER_CACHE_TTL);
    assert_eq!(me().await.unwrap().status(), 401, "seen once the cache entry is a second old");

    // A change made here ends a cached session at once.
    let b = s.signed_in("sv.cache").await;
    assert_eq!(b.get("/dashboard").await.status(), 200);
    let admin = s.user("admin.cache", &[Role::SecurityAdmin]).await;
    s.core.identity.disable_user(&s.principal_of(&admin), &owner.id, &Default::default()).await.unwrap();
    assert_eq!(b.get("/dashboard").await.headers()["location"], "/signin", "disabled: refused at once");
    s.stop().await;
}
both_backends!(caller_cache_bounds);
