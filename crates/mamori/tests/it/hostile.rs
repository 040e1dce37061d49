//! Defects found by hostile testing (issue 12), each pinned by a test that failed before its
//! fix: the lockout raced by concurrent guesses, refusals missing from the log, numbers beyond
//! storage, the session id kept across the second factor, supervisors reading other teams'
//! PCs, chunked bodies past the limit, and first-run details.

use crate::both_backends;
use crate::support::*;
use mamori_audit::{AuditEntry, Outcome};
use mamori_domain::{Permission, Role};
use std::time::Duration;

/// Every entry of the log, oldest first.
async fn whole_log(s: &TestServer) -> Vec<AuditEntry> {
    let mut read = s.core.store().read().await.unwrap();
    let mut entries =
        read.search_audit(&mamori_store::AuditQuery { limit: 100_000, ..Default::default() }).await.unwrap();
    entries.sort_by_key(|e| e.index);
    entries
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("mamori_session="))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// 32 wrong passwords at once, then the right one while they are in flight, many times: once
/// the lock is in the log, no sign-in of that account succeeds (item 1).
async fn lockout_holds_against_concurrent_guesses(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 100_000).await;
    let mut raced = 0;
    for trial in 0..6u64 {
        let name = format!("op.race{trial}");
        let victim = s.user(&name, &[Role::Operator]).await;
        let guesses = (0..32).map(|_| {
            let (s, name) = (&s, &name);
            async move { s.browser().sign_in(name, "wrong-password-guess").await.status().as_u16() }
        });
        let right = async {
            // Sent while the guesses are in flight (their Argon2 work takes a while).
            tokio::time::sleep(Duration::from_millis(40 + 40 * trial)).await;
            s.browser().sign_in(&name, PASSWORD).await.status().as_u16()
        };
        let (answers, right) = tokio::join!(futures_util::future::join_all(guesses), right);
        assert!(answers.iter().all(|a| *a == 401 || *a == 423), "{answers:?}");

        let object = format!("user:{}", victim.id);
        let log: Vec<AuditEntry> = whole_log(&s)
            .await
            .into_iter()
            .filter(|e| e.object.as_deref() == Some(object.as_str()))
            .collect();
        let lock = log.iter().position(|e| e.action == "account.lock").expect("32 failures lock the account");
        let success_after_lock =
            log[lock..].iter().any(|e| e.action == "signin.password" && e.outcome == Outcome::Success);
        assert!(!success_after_lock, "trial {trial}: a sign-in succeeded after the lock: {log:#?}");
        let signed_in_before_lock =
            log[..lock].iter().any(|e| e.action == "signin.password" && e.outcome == Outcome::Success);
        if !signed_in_before_lock {
            assert_eq!(right, 423, "trial {trial}: the right password after the lock is refused");
            raced += 1;
        }
    }
    assert!(raced > 0, "at least one trial sent the right password after the lock");
    s.stop().await;
}
both_backends!(lockout_holds_against_concurrent_guesses);

/// Refusals of known principals and throttled attempts are entries with outcome `denied`, and a
/// flood of one refusal is aggregated into counted entries, none lost (item 2).
async fn refusals_are_evidence(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 3).await;
    let op = s.user("op.curious", &[Role::Operator]).await;
    let token = s.token(&op, &[Permission::CustomersRead]).await;
    let api = reqwest::Client::new();

    // A permission refusal, then a flood of the same one.
    let users = |t: &str| api.get(s.url("/api/v1/users")).bearer_auth(t.to_owned()).send();
    assert_eq!(users(&token).await.unwrap().status(), 403);
    let denied = |log: &[AuditEntry]| -> Vec<AuditEntry> {
        log.iter().filter(|e| e.action == "route.denied" && e.outcome == Outcome::Denied).cloned().collect()
    };
    let first = denied(&whole_log(&s).await);
    assert_eq!(first.len(), 1, "the refusal is committed before the answer");
    assert_eq!(first[0].object.as_deref(), Some("route:GET /api/v1/users"));
    assert_eq!(first[0].details["reason"], "permission");
    assert_eq!(first[0].details["needs"], "permission users.read");
    assert!(first[0].actor.starts_with("token:"));

    let flood = futures_util::future::join_all((0..300).map(|_| users(&token))).await;
    assert!(flood.iter().all(|r| r.as_ref().unwrap().status() == 403));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let entries = denied(&whole_log(&s).await);
    // The first refusal of a second is an entry of its own; the rest of that second, one entry
    // with their count.
    let counted: u64 =
        entries.iter().map(|e| e.details.get("repeats").map_or(1, |r| r.parse::<u64>().unwrap())).sum();
    assert_eq!(counted, 301, "every refusal is counted: {entries:#?}");
    assert!(entries.len() < 20, "a flood writes a few counted entries, not 301: {}", entries.len());

    // A cookie-authenticated API change without the CSRF header, and a console form without
    // its token.
    let b = s.signed_in("op.curious").await;
    let r =
        b.client.post(s.url("/api/v1/customers/lookup")).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = b.post_form("/profile/language", &[("language", "en")]).await;
    assert_eq!(r.status(), 403);
    let csrf: Vec<AuditEntry> =
        denied(&whole_log(&s).await).into_iter().filter(|e| e.details["reason"] == "csrf").collect();
    assert_eq!(csrf.len(), 2, "{csrf:#?}");
    assert!(csrf.iter().all(|e| e.actor == format!("user:{}", op.id)));

    // Throttled sign-ins (the burst is 3; the sign-in above used one).
    let anon = s.browser();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(anon.sign_in("op.curious", "wrong-password-guess").await.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let throttled: Vec<AuditEntry> = whole_log(&s)
        .await
        .into_iter()
        .filter(|e| e.action == "signin.password" && e.outcome == Outcome::Denied)
        .collect();
    assert!(!throttled.is_empty() && throttled.iter().all(|e| e.details["reason"] == "throttled"));
    assert_eq!(throttled[0].actor, "anonymous");
    assert!(throttled[0].source_ip.is_some(), "anonymous refusals say where they came from");

    // Turning off a second factor one does not have is refused, and recorded as such.
    let csrf_token = b.csrf("/profile").await;
    let r = b.post_form("/profile/totp/disable", &[("_csrf", &csrf_token)]).await;
    assert!(r.status().is_client_error() || r.status() == 200, "{}", r.status());
    let mfa = s.audit("mfa.disable").await;
    assert_eq!(mfa.len(), 1);
    assert_eq!(mfa[0].outcome, Outcome::Denied);
    assert_eq!(mfa[0].details["reason"], "totp_not_enabled");
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(refusals_are_evidence);

/// Numbers beyond what storage holds are a 400 naming the parameter, not a 503 (item 4).
async fn out_of_range_numbers_are_named(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let token = s.token(&admin, &[Permission::AuditRead]).await;
    let api = reqwest::Client::new();
    let huge = "9223372036854775808";
    for (path, field) in [
        (format!("/api/v1/audit?before={huge}"), "before"),
        (format!("/api/v1/audit/entries/0?tree_size={huge}"), "tree_size"),
        (format!("/api/v1/audit/consistency?from={huge}&to=1"), "from"),
        (format!("/api/v1/audit/consistency?from=1&to={huge}"), "to"),
        ("/api/v1/audit?before=18446744073709551616".to_owned(), "before"),
    ] {
        let r = api.get(s.url(&path)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let problem: serde_json::Value = r.json().await.unwrap();
        assert_eq!(problem["field"], field, "{path}: {problem}");
    }
    let r =
        api.get(s.url(&format!("/api/v1/audit/entries/{huge}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 404, "no entry has that index");
    s.stop().await;
}
both_backends!(out_of_range_numbers_are_named);

/// The cookie issued after the password is not the one that carries the signed-in session:
/// the second factor issues a new one and ends the half-open one (item 5).
async fn second_factor_renews_the_session(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("sv.kato", &[Role::Supervisor]).await;
    let b = s.browser();
    let r = b.sign_in("sv.kato", PASSWORD).await;
    assert_eq!(r.headers()["location"], "/signin/totp");
    let half_open = session_cookie(&r).expect("a cookie after the password");
    let csrf = b.csrf("/signin/totp").await;
    let r = b.post_form("/signin/totp", &[("_csrf", &csrf), ("code", &s.next_totp())]).await;
    assert_eq!(r.headers()["location"], "/dashboard");
    let signed_in = session_cookie(&r).expect("a new cookie after the second factor");
    assert_ne!(half_open, signed_in);

    let with = |cookie: String| {
        reqwest::Client::new()
            .get(s.url("/api/v1/users"))
            .header("cookie", format!("mamori_session={cookie}"))
            .send()
    };
    assert_eq!(with(half_open).await.unwrap().status(), 401, "the half-open session has ended");
    assert_eq!(with(signed_in).await.unwrap().status(), 200);
    assert_eq!(b.get("/api/v1/users").await.status(), 200, "the browser holds the new cookie");
    assert_eq!(s.audit("session.renew").await[0].details["reason"], "second_factor");
    s.stop().await;
}
both_backends!(second_factor_renews_the_session);

/// A supervisor sees their own team's PCs and nobody else's, on every device route of the API
/// and the console; each refusal is recorded (item 6).
async fn supervisors_see_only_their_team(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    let admin_user = s.user("admin", &[Role::SecurityAdmin]).await;
    let admin = s.principal_of(&admin_user);
    let ctx = Default::default();
    let kind = mamori_store::OrgKind::Team;
    let mine = s.core.identity.create_org_unit(&admin, kind, "Team A", None, &ctx).await.unwrap();
    let theirs = s.core.identity.create_org_unit(&admin, kind, "Team B", None, &ctx).await.unwrap();
    let place = |user: &mamori_store::UserRecord, team: &str| {
        let profile = mamori_store::UserProfile {
            display_name: user.display_name.clone(),
            team_id: Some(team.to_owned()),
            site_id: None,
            mail_address: None,
        };
        (user.id.clone(), profile)
    };
    let sv = s.user("sv.a", &[Role::Supervisor]).await;
    let own_op = s.user("op.a", &[Role::Operator]).await;
    let other_op = s.user("op.b", &[Role::Operator]).await;
    for (user, team) in [(&sv, &mine.id), (&own_op, &mine.id), (&other_op, &theirs.id)] {
        let (id, profile) = place(user, team);
        s.core.identity.update_user_profile(&admin, &id, &profile, &ctx).await.unwrap();
    }
    let own_pc = enrolled_pc(&s, &admin, &own_op.id, "PC-A").await;
    let other_pc = enrolled_pc(&s, &admin, &other_op.id, "PC-B").await;

    let token = s.token(&sv, &[Permission::DevicesRead]).await;
    let api = reqwest::Client::new();
    let get = |path: String| api.get(s.url(&path)).bearer_auth(&token).send();
    let listed: Vec<serde_json::Value> = get("/api/v1/devices".into()).await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [own_pc.as_str()], "the list holds the own team's PC only");
    let device_routes = |pc: &str| {
        vec![
            format!("/api/v1/devices/{pc}"),
            format!("/api/v1/devices/{pc}/activity?hours=1"),
            format!("/api/v1/devices/{pc}/events"),
            format!("/api/v1/devices/{pc}/commands"),
        ]
    };
    for path in device_routes(&own_pc) {
        assert_eq!(get(path.clone()).await.unwrap().status(), 200, "{path}");
    }
    for path in device_routes(&other_pc) {
        assert_eq!(get(path.clone()).await.unwrap().status(), 404, "{path}");
    }
    assert_eq!(get(format!("/api/v1/users/{}/shifts", own_op.id)).await.unwrap().status(), 200);
    assert_eq!(get(format!("/api/v1/users/{}/shifts", other_op.id)).await.unwrap().status(), 404);

    // The console shows the same.
    let b = s.signed_in("sv.a").await;
    assert_eq!(b.get(&format!("/devices/{own_pc}")).await.status(), 200);
    assert_eq!(b.get(&format!("/devices/{other_pc}")).await.status(), 404);
    let ledger = b.get("/devices").await.text().await.unwrap();
    assert!(ledger.contains("PC-A") && !ledger.contains("PC-B"));
    let floor = b.get("/floor").await.text().await.unwrap();
    assert!(floor.contains("op.a") || floor.contains(&own_op.display_name));
    assert!(!floor.contains("op.b") && !floor.contains(&other_op.display_name));

    let refusals: Vec<AuditEntry> = whole_log(&s)
        .await
        .into_iter()
        .filter(|e| {
            e.outcome == Outcome::Denied && e.details.get("reason").map(String::as_str) == Some("team_scope")
        })
        .collect();
    assert!(refusals.len() >= 6, "{refusals:#?}");
    assert!(refusals.iter().any(|e| e.object.as_deref() == Some(format!("device:{other_pc}").as_str())));

    // A security admin and an auditor see every PC.
    let auditor = s.user("auditor", &[Role::Auditor]).await;
    let wide = s.token(&auditor, &[Permission::DevicesRead]).await;
    let r = api.get(s.url(&format!("/api/v1/devices/{other_pc}"))).bearer_auth(&wide).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(supervisors_see_only_their_team);

/// Enrols a PC for `user` through the services (no agent process needed); returns its id.
pub(crate) async fn enrolled_pc(
    s: &TestServer,
    admin: &mamori_core::Principal,
    user: &str,
    hostname: &str,
) -> String {
    let new =
        mamori_core::devices::NewEnrolment { site_id: None, user_id: Some(user.to_owned()), valid_hours: 1 };
    let (_, token) = s.core.devices.create_enrolment(admin, &new, &Default::default()).await.unwrap();
    let key = mamori_crypto::device_auth::DeviceKey::generate().unwrap();
    let request = mamori_proto::agent::EnrolRequest {
        token,
        public_key: key.public_key(),
        hostname: hostname.to_owned(),
    };
    s.core.devices.enrol_device(&request, &Default::default()).await.unwrap()
}

/// A chunked body over 1 MiB is refused as it streams, like a declared one (item 8).
async fn chunked_bodies_are_limited(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let token = s.token(&admin, &[Permission::UsersManage]).await;
    let big = format!("{{\"username\": \"x\", \"display_name\": \"{}\"}}", "a".repeat(1536 * 1024));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.into_bytes().chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/users"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    s.stop().await;
}
both_backends!(chunked_bodies_are_limited);

/// The console's pages carry the CSRF token in `<meta name="csrf-token">`, as docs/api.md
/// says; a TOTP enrolment keeps its secret across reloads (item 8, 9).
async fn console_details(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("op.meta", &[Role::Operator]).await;
    let b = s.signed_in("op.meta").await;
    let html = b.get("/profile").await.text().await.unwrap();
    let form_token = hidden_value(&html, "_csrf").unwrap();
    assert!(html.contains(&format!("<meta name=\"csrf-token\" content=\"{form_token}\">")));

    let secret = |html: String| {
        let marker = "<code id=\"totp-secret\">";
        let start = html.find(marker).unwrap_or_else(|| panic!("the secret is shown: {html}")) + marker.len();
        html[start..].chars().take_while(char::is_ascii_alphanumeric).collect::<String>()
    };
    let page = b.get("/enrol-totp").await;
    assert_eq!(page.status(), 200);
    let first = secret(page.text().await.unwrap());
    let again = secret(b.get("/enrol-totp").await.text().await.unwrap());
    assert_eq!(first, again, "a reload shows the QR code already scanned");
    s.clock.advance(mamori_core::identity::account::TOTP_ENROLMENT_VALIDITY);
    let b = s.signed_in("op.meta").await; // the idle session has ended meanwhile
    let later = secret(b.get("/enrol-totp").await.text().await.unwrap());
    assert_ne!(first, later, "an expired enrolment starts over");
    s.stop().await;
}
both_backends!(console_details);

/// The database and its WAL files are the service's alone (item 9).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start(Backend::Sqlite).await;
    s.user("someone", &[Role::Operator]).await;
    let dir = s.config.data_dir.clone();
    for name in ["mamori.db", "mamori.db-wal", "mamori.db-shm"] {
        let mode = std::fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
    s.stop().await;
}
