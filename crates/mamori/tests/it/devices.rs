//! The device ledger and the agents' signed requests (issue 5), on both databases: enrolment
//! with a one-time token, inventory kept as a history of changes, the address seen by the
//! server, and every bad message — replayed, wrongly signed, from a revoked device, too old,
//! oversized, malformed — refused without a crash.

use crate::both_backends;
use crate::support::{Backend, TestServer};
use mamori_crypto::device_auth::DeviceKey;
use mamori_domain::identity::OrgKind;
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};

fn inventory(hostname: &str, packages: usize) -> Value {
    json!({
        "hostname": hostname, "os_family": "linux", "os_name": "Debian GNU/Linux 12 (bookworm)",
        "os_version": "12", "os_build": "6.1.0", "uptime_secs": 60, "cpu_model": null, "cpu_count": 2,
        "memory_mb": 8000, "disk_encryption": true, "firewall_enabled": null, "screen_lock_timeout_secs": null,
        "antivirus": null, "local_admins": ["root"],
        "software": (0..packages).map(|i| json!({"name": format!("pkg{i}"), "version": "1.0"})).collect::<Vec<_>>(),
        "unavailable": {"firewall": "needs root"}
    })
}

pub(crate) struct Agent<'a> {
    s: &'a TestServer,
    key: DeviceKey,
    pub(crate) id: String,
    /// The local address requests leave from (a PC moving between networks).
    pub(crate) from: Option<std::net::IpAddr>,
}

impl Agent<'_> {
    fn header(&self, path: &str, body: &[u8]) -> String {
        self.key.authorize(&self.id, "POST", path, body, self.s.core.now().0).unwrap()
    }

    async fn send_raw(&self, path: &str, header: &str, body: Vec<u8>) -> (u16, Value) {
        let mut client = reqwest::Client::builder();
        if let Some(addr) = self.from {
            client = client.local_address(addr);
        }
        let r = client
            .build()
            .unwrap()
            .post(self.s.url(path))
            .header("authorization", header)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn send(&self, path: &str, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let header = self.header(path, &bytes);
        self.send_raw(path, &header, bytes).await
    }
}

async fn enrolment_inventory_and_refusals(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let admin_token = s.token(&admin, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let op = s.user("op", &[Role::Operator]).await;
    let op_token = s.token(&op, &[Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    let post =
        |token: &str, path: &str, body: Value| api.post(s.url(path)).bearer_auth(token).json(&body).send();

    let r = post(&admin_token, "/api/v1/devices/enrolments", json!({"user_id": op.id, "valid_hours": 2}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mde_"));
    assert_eq!(post(&op_token, "/api/v1/devices/enrolments", json!({})).await.unwrap().status(), 403);
    let r = post(&admin_token, "/api/v1/devices/enrolments", json!({"valid_hours": 0})).await.unwrap();
    assert_eq!(r.status(), 422);

    // Enrolment: a bad key is refused without using the token; the token works once.
    let key = DeviceKey::generate().unwrap();
    let enrol = |token: &str, public_key: &str| {
        api.post(s.url("/api/v1/agent/enroll"))
            .json(&json!({"token": token, "public_key": public_key, "hostname": "op-pc-001"}))
            .send()
    };
    assert_eq!(enrol(&token, "not-a-key").await.unwrap().status(), 422);
    let r = enrol(&token, &key.public_key()).await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["device_id"].as_str().unwrap().to_owned();
    assert_eq!(
        enrol(&token, &DeviceKey::generate().unwrap().public_key()).await.unwrap().status(),
        410,
        "once"
    );
    assert_eq!(enrol("mde_guessed", &key.public_key()).await.unwrap().status(), 410);

    let agent = Agent { s: &s, key, id: id.clone(), from: None };
    let (status, ack) = agent.send("/api/v1/agent/inventory", &inventory("op-pc-001", 800)).await;
    assert_eq!(status, 200, "{ack}");
    assert!(ack["server_time"].as_i64().is_some());
    agent.send("/api/v1/agent/inventory", &inventory("op-pc-001", 800)).await;
    s.clock.advance(std::time::Duration::from_secs(5));
    agent.send("/api/v1/agent/inventory", &inventory("op-pc-001", 801)).await;
    assert_eq!(agent.send("/api/v1/agent/heartbeat", &json!({})).await.0, 200);

    let get = |token: &str, path: &str| api.get(s.url(path)).bearer_auth(token).send();
    let list: Value = get(&admin_token, "/api/v1/devices").await.unwrap().json().await.unwrap();
    assert_eq!(list[0]["hostname"], "op-pc-001");
    assert_eq!(list[0]["online"], true);
    assert_eq!(list[0]["user_id"], op.id.as_str());
    assert_eq!(list[0]["last_ip"], "127.0.0.1", "the address the server saw");
    let detail: Value =
        get(&admin_token, &format!("/api/v1/devices/{id}")).await.unwrap().json().await.unwrap();
    assert_eq!(detail["inventory"]["software"].as_array().unwrap().len(), 801, "the latest");
    assert_eq!(detail["inventory_changes"].as_array().unwrap().len(), 2, "an unchanged report adds nothing");
    assert_eq!(get(&op_token, "/api/v1/devices").await.unwrap().status(), 403);

    // Refusals: every one answers 401/4xx and stores nothing.
    let body = serde_json::to_vec(&json!({})).unwrap();
    let header = agent.header("/api/v1/agent/heartbeat", &body);
    assert_eq!(agent.send_raw("/api/v1/agent/heartbeat", &header, body.clone()).await.0, 200);
    let (status, p) = agent.send_raw("/api/v1/agent/heartbeat", &header, body.clone()).await;
    assert_eq!((status, p["code"].as_str()), (401, Some("device_refused")), "a replay: {p}");
    assert!(p["detail"].as_str().unwrap().contains("replay"));
    let header = agent.header("/api/v1/agent/heartbeat", b"{\"x\":1}");
    assert_eq!(agent.send_raw("/api/v1/agent/heartbeat", &header, body.clone()).await.0, 401, "body swapped");
    let header = agent.header("/api/v1/agent/inventory", &body);
    assert_eq!(agent.send_raw("/api/v1/agent/heartbeat", &header, body.clone()).await.0, 401, "path swapped");
    let stranger = Agent { s: &s, key: DeviceKey::generate().unwrap(), id: id.clone(), from: None };
    assert_eq!(stranger.send("/api/v1/agent/heartbeat", &json!({})).await.0, 401, "another key");
    let old =
        agent.key.authorize(&id, "POST", "/api/v1/agent/heartbeat", &body, s.core.now().0 - 600_000).unwrap();
    let (status, p) = agent.send_raw("/api/v1/agent/heartbeat", &old, body.clone()).await;
    assert_eq!(status, 401);
    assert!(p["detail"].as_str().unwrap().contains("clock"), "{p}");
    for bad in ["", "Bearer x", "MamoriDevice id=x", &"A".repeat(10_000)] {
        assert_eq!(agent.send_raw("/api/v1/agent/heartbeat", bad, body.clone()).await.0, 401, "{bad:.20}");
    }
    let huge = vec![b' '; 2 * 1024 * 1024];
    let header = agent.header("/api/v1/agent/inventory", &huge);
    // The server answers 413 from the declared length and closes; the client may still be
    // writing the body and see the connection closed instead. Either way nothing is read.
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/agent/inventory"))
        .header("authorization", header)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    let (status, _) = agent.send("/api/v1/agent/inventory", &json!({"hostname": "x"})).await;
    assert_eq!(status, 422, "a missing field");
    let mut extra = inventory("op-pc-001", 1);
    extra["keystrokes"] = json!("secret");
    assert_eq!(agent.send("/api/v1/agent/inventory", &extra).await.0, 422, "an unknown field");
    let mut control = inventory("op-pc-001\u{7}", 1);
    control["os_family"] = json!("linux");
    assert_eq!(agent.send("/api/v1/agent/inventory", &control).await.0, 422);
    let garbage = b"\xff\xfe{not json".to_vec();
    let header = agent.header("/api/v1/agent/inventory", &garbage);
    assert_eq!(agent.send_raw("/api/v1/agent/inventory", &header, garbage).await.0, 400);
    let detail: Value =
        get(&admin_token, &format!("/api/v1/devices/{id}")).await.unwrap().json().await.unwrap();
    assert_eq!(detail["inventory_changes"].as_array().unwrap().len(), 2, "nothing refused was stored");

    // Commands: issued by an admin, delivered to a waiting poll, their outcome recorded.
    let cmd = |body: Value| post(&admin_token, &format!("/api/v1/devices/{id}/commands"), body);
    for (bad, field) in [
        (json!({"kind": "format_disk"}), "kind"),
        (json!({"kind": "message"}), "message"),
        (json!({"kind": "lock", "message": "hi"}), "message"),
        (json!({"kind": "message", "message": "x".repeat(501)}), "message"),
    ] {
        let r = cmd(bad.clone()).await.unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        assert_eq!(r.json::<Value>().await.unwrap()["field"], field, "{bad}");
    }
    assert_eq!(
        post(&op_token, &format!("/api/v1/devices/{id}/commands"), json!({"kind": "lock"}))
            .await
            .unwrap()
            .status(),
        403
    );
    let poll_body = json!({"wait_secs": 10});
    let waiting = agent.send("/api/v1/agent/commands/poll", &poll_body);
    let issue = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        cmd(json!({"kind": "message", "message": "本日の業務は終了です"})).await.unwrap()
    };
    let ((status, polled), issued) = tokio::join!(waiting, issue);
    assert_eq!(issued.status(), 201);
    assert_eq!(status, 200);
    let command = &polled["commands"][0];
    assert_eq!(
        (command["kind"].as_str(), command["message"].as_str()),
        (Some("message"), Some("本日の業務は終了です"))
    );
    let command_id = command["id"].as_str().unwrap().to_owned();
    let result_path = format!("/api/v1/agent/commands/{command_id}/result");
    let (status, _) = stranger.send(&result_path, &json!({"ok": true, "detail": "x"})).await;
    assert_eq!(status, 401, "only the device the command is for reports it");
    assert_eq!(agent.send(&result_path, &json!({"ok": false, "detail": "no desktop session"})).await.0, 200);
    assert_eq!(
        agent.send(&result_path, &json!({"ok": true, "detail": "again"})).await.0,
        404,
        "reported once"
    );
    let list: Value =
        get(&admin_token, &format!("/api/v1/devices/{id}/commands")).await.unwrap().json().await.unwrap();
    assert_eq!(
        (list[0]["state"].as_str(), list[0]["result"].as_str()),
        (Some("failed"), Some("no desktop session"))
    );
    assert_eq!(list[0]["issued_by"], admin.id.as_str());
    let (status, polled) = agent.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 0})).await;
    assert_eq!((status, polled["commands"].as_array().map(Vec::len)), (200, Some(0)), "delivered once");

    // Events: a batch sent twice is stored once; a malformed one is refused whole.
    let now = s.core.now().0;
    let usb = json!({"vendor_id": "0781", "product_id": "5581", "product": "Cruzer", "serial": null, "mass_storage": true});
    let batch = json!({"events": [
        {"id": "e1", "time": now - 1000, "kind": "usb_attached", "data": usb},
        {"id": "e2", "time": now - 500, "kind": "screen_locked", "data": {}},
        {"id": "e3", "time": now, "kind": "connection_restored", "data": {"offline_secs": 120}},
    ]});
    let (status, accepted) = agent.send("/api/v1/agent/events", &batch).await;
    assert_eq!((status, accepted["stored"].as_u64()), (200, Some(3)), "{accepted}");
    let (_, accepted) = agent.send("/api/v1/agent/events", &batch).await;
    assert_eq!(accepted["stored"], 0, "a retry duplicates nothing");
    for bad in [
        json!({"events": [{"id": "e9", "time": now, "kind": "keylog", "data": {"keys": "password"}}]}),
        json!({"events": [{"id": "e9", "time": now, "kind": "screen_locked", "data": {"window_title": "x"}}]}),
        json!({"events": [{"id": "e9", "time": now + 3_600_000, "kind": "screen_locked", "data": {}}]}),
        json!({"events": [{"id": "bad id!", "time": now, "kind": "screen_locked", "data": {}}]}),
        json!({"events": [{"id": "e9", "time": now, "kind": "usb_attached", "data": {"vendor_id": "xyz", "product_id": "1", "product": null, "serial": null, "mass_storage": true}}]}),
        json!({"events": (0..501).map(|i| json!({"id": format!("b{i}"), "time": now, "kind": "screen_locked", "data": {}})).collect::<Vec<_>>()}),
    ] {
        let (status, p) = agent.send("/api/v1/agent/events", &bad).await;
        assert_eq!(status, 422, "{p}");
    }
    let events: Value =
        get(&admin_token, &format!("/api/v1/devices/{id}/events")).await.unwrap().json().await.unwrap();
    assert_eq!(events.as_array().unwrap().len(), 3, "{events}");
    let stick = events.as_array().unwrap().iter().find(|e| e["kind"] == "usb_attached").unwrap();
    assert_eq!(stick["data"]["mass_storage"], true);

    // The console: the ledger, the device page, a lock from a button; the page refreshes itself
    // while the command is under way.
    let browser = s.signed_in("admin").await;
    let html = browser.get("/devices").await.text().await.unwrap();
    assert!(html.contains("op-pc-001") && html.contains("オンライン"), "{html}");
    let csrf = browser.csrf("/devices").await;
    let r =
        browser.post_form(&format!("/devices/{id}/commands"), &[("_csrf", &csrf), ("kind", "lock")]).await;
    assert_eq!(r.headers()["location"], format!("/devices/{id}?done=command_sent").as_str());
    let html = browser.get(&format!("/devices/{id}")).await.text().await.unwrap();
    assert!(html.contains("http-equiv=\"refresh\"") && html.contains("送信待ち"), "{html}");
    assert!(html.contains("id=\"software-count\">801<"), "the inventory is shown");
    let (_, polled) = agent.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 0})).await;
    let lock_id = polled["commands"][0]["id"].as_str().unwrap().to_owned();
    let reason = json!({"ok": false, "detail": "no desktop session on this PC to act on"});
    agent.send(&format!("/api/v1/agent/commands/{lock_id}/result"), &reason).await;
    let html = browser.get(&format!("/devices/{id}")).await.text().await.unwrap();
    assert!(
        !html.contains("http-equiv=\"refresh\"")
            && html.contains("失敗")
            && html.contains("no desktop session")
    );
    let html = browser
        .post_form("/devices/enrolments", &[("_csrf", &csrf), ("valid_hours", "4")])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("mamori-agent enroll --server") && html.contains("--token mde_"), "{html}");
    s.user("sv.one", &[Role::Supervisor]).await;
    let sv = s.signed_in("sv.one").await;
    assert_eq!(sv.get("/devices").await.status(), 200, "supervisors read the ledger");
    let csrf = sv.csrf("/devices").await;
    let r = sv.post_form(&format!("/devices/{id}/commands"), &[("_csrf", &csrf), ("kind", "lock")]).await;
    // Supervisors command their own team's PCs only (tests/it/commands.rs); one without a team
    // has none, and another's PC is not found.
    assert_eq!(r.status(), 404, "but do not command PCs outside their team");

    // Revocation takes effect at the next request.
    assert_eq!(
        post(&admin_token, &format!("/api/v1/devices/{id}/revoke"), json!({})).await.unwrap().status(),
        204
    );
    let (status, p) = agent.send("/api/v1/agent/heartbeat", &json!({})).await;
    assert_eq!(status, 401);
    assert!(p["detail"].as_str().unwrap().contains("revoked"), "{p}");
    let list: Value = get(&admin_token, "/api/v1/devices").await.unwrap().json().await.unwrap();
    assert_eq!((list[0]["revoked"].as_bool(), list[0]["online"].as_bool()), (Some(true), Some(false)));
    assert_eq!(cmd(json!({"kind": "lock"})).await.unwrap().status(), 404, "no commands to a revoked device");
    // Guessing enrolment tokens is throttled per address, like sign-in.
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(
            enrol("mde_guess", &DeviceKey::generate().unwrap().public_key()).await.unwrap().status().as_u16(),
        );
    }
    assert!(statuses.contains(&429) && statuses.iter().all(|s| *s == 410 || *s == 429), "{statuses:?}");
    for action in [
        "device.enrolment_create",
        "device.enrol",
        "device.inventory",
        "device.command",
        "device.command_result",
        "device.revoke",
    ] {
        assert!(!s.audit(action).await.is_empty(), "{action} audited");
    }
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(enrolment_inventory_and_refusals);

/// A site's posture policy and approved networks: a PC's failures are named; a PC seen from an
/// unapproved address raises an off-network signal, and a return raises another (MON-2).
async fn posture_and_networks(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let token = s.token(&admin, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let op = s.user("home.worker", &[Role::Operator]).await;
    let site = s
        .core
        .identity
        .create_org_unit(
            &s.principal_of(&admin),
            mamori_store::OrgKind::Site,
            "Tokyo",
            None,
            &Default::default(),
        )
        .await
        .unwrap();
    let api = reqwest::Client::new();
    let send = |method: reqwest::Method, path: String, body: Value| {
        api.request(method, s.url(&path)).bearer_auth(&token).json(&body).send()
    };
    let r = send(
        reqwest::Method::POST,
        "/api/v1/devices/enrolments".into(),
        json!({"site_id": site.id, "user_id": op.id}),
    )
    .await
    .unwrap();
    let enrol_token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let key = DeviceKey::generate().unwrap();
    let r = api
        .post(s.url("/api/v1/agent/enroll"))
        .json(&json!({"token": enrol_token, "public_key": key.public_key(), "hostname": "home-pc"}))
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["device_id"].as_str().unwrap().to_owned();
    let mut agent = Agent { s: &s, key, id: id.clone(), from: None };

    let policy_path = format!("/api/v1/sites/{}/device-policy", site.id);
    for bad in [
        json!({"approved_networks": ["nope"]}),
        json!({"min_os_build": {"macos": "1"}}),
        json!({"max_av_age_days": 99999}),
        json!({"approved_networks": [], "surprise": true}),
    ] {
        assert_eq!(
            send(reqwest::Method::PUT, policy_path.clone(), bad.clone()).await.unwrap().status(),
            422,
            "{bad}"
        );
    }
    let policy = json!({
        "approved_networks": ["127.0.0.1/32"], "require_disk_encryption": true,
        "software_allowlist": ["pkg1*"], "max_av_age_days": 3, "min_os_build": {"linux": "5.10"}
    });
    assert_eq!(send(reqwest::Method::PUT, policy_path.clone(), policy).await.unwrap().status(), 204);
    assert_eq!(agent.send("/api/v1/agent/inventory", &inventory("home-pc", 3)).await.0, 200);
    let detail = || async {
        let r = api.get(s.url(&format!("/api/v1/devices/{id}"))).bearer_auth(&token).send().await.unwrap();
        r.json::<Value>().await.unwrap()
    };
    let d = detail().await;
    let rules: Vec<&str> =
        d["posture_failures"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, vec!["antivirus", "shadow_it"], "{d}");
    assert!(d["posture_failures"][1]["detail"].as_str().unwrap().contains("pkg0"));
    assert_eq!(d["network_approved"], true);

    // Shadow IT is an alert of its own naming the software (issue 16); the PC's other failure
    // (antivirus) stays a posture failure.
    let admin_p = s.principal_of(&admin);
    let alerts = crate::detection::alerts_until(&s, &admin_p, 2).await;
    let shadow = alerts.iter().find(|a| a.record.rule == "shadow_it").expect("a shadow IT alert");
    assert_eq!(shadow.person.as_ref().map(|p| p.id.as_str()), Some(op.id.as_str()));
    assert!(alerts.iter().any(|a| a.record.rule == "posture_failure"), "{alerts:?}");
    let raised = s.audit("alert.raise").await;
    let entry = raised.iter().find(|e| e.details["rule"] == "shadow_it").unwrap();
    assert!(entry.details["software"].contains("pkg0"), "{:?}", entry.details);

    // The PC is seen from elsewhere: a signal; back again: another.
    agent.from = Some("127.0.0.2".parse().unwrap());
    assert_eq!(agent.send("/api/v1/agent/heartbeat", &json!({})).await.0, 200);
    assert_eq!(detail().await["network_approved"], false);
    let html = s.signed_in("admin").await.get(&format!("/devices/{id}")).await.text().await.unwrap();
    assert!(
        html.contains("非準拠")
            && html.contains("承認外のネットワーク")
            && html.contains("許可されていないソフトウェア"),
        "{html}"
    );
    agent.from = None;
    assert_eq!(agent.send("/api/v1/agent/heartbeat", &json!({})).await.0, 200);
    let events: Vec<(String, String)> = s
        .core
        .devices
        .device_events(&s.principal_of(&admin), &id, 10, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.data))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert!(kinds.contains(&"off_network") && kinds.contains(&"back_on_network"), "{events:?}");
    assert!(events.iter().any(|(k, d)| k == "off_network" && d.contains("127.0.0.2")));

    assert!(kinds.contains(&"posture_changed"), "the failures appearing are a signal: {events:?}");

    // A PC gone silent is signalled once per silence.
    s.clock.advance(std::time::Duration::from_secs(240));
    assert_eq!(s.core.devices.sweep_silent_devices(std::time::Duration::from_secs(180)).await.unwrap(), 1);
    assert_eq!(s.core.devices.sweep_silent_devices(std::time::Duration::from_secs(180)).await.unwrap(), 0);
    let lost =
        s.core.devices.device_events(&s.principal_of(&admin), &id, 1, &Default::default()).await.unwrap();
    assert_eq!(lost[0].kind, "heartbeat_lost");

    // A home worker's own network counts too.
    let nets = format!("/api/v1/users/{}/approved-networks", op.id);
    assert_eq!(
        send(reqwest::Method::PUT, nets.clone(), json!({"networks": ["bad"]})).await.unwrap().status(),
        422
    );
    assert_eq!(
        send(reqwest::Method::PUT, nets, json!({"networks": ["127.0.0.2/32"]})).await.unwrap().status(),
        204
    );
    agent.from = Some("127.0.0.2".parse().unwrap());
    agent.send("/api/v1/agent/heartbeat", &json!({})).await;
    assert_eq!(detail().await["network_approved"], true);
    assert_eq!(s.audit("device.policy_change").await.len(), 1);

    // The console's device rules: the site's policy as set, a bad network refused (changing
    // nothing, saying why), a good change saved; the keystroke limits likewise.
    let console = s.signed_in("admin").await;
    let page = console.get("/devices/policy").await.text().await.unwrap();
    assert!(page.contains("127.0.0.1/32") && page.contains("pkg1*"), "{page}");
    let csrf = console.csrf("/devices/policy").await;
    let save = |fields: Vec<(&'static str, &'static str)>| {
        let mut pairs = vec![("_csrf", csrf.as_str())];
        pairs.extend(fields);
        let path = format!("/devices/policy/{}", site.id);
        let console = &console;
        async move { console.post_form(&path, &pairs).await }
    };
    let r = save(vec![("approved_networks", "10.0.0.0/33"), ("max_av_age_days", "3")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("10.0.0.0/33"), "the refusal names the bad network");
    assert_eq!(
        s.core
            .devices
            .site_device_policy(&crate::support::inspector(), &site.id, &Default::default())
            .await
            .unwrap()
            .approved_networks,
        vec!["127.0.0.1/32"]
    );
    let r = save(vec![
        ("approved_networks", "127.0.0.0/8\n192.0.2.0/24"),
        ("max_av_age_days", "5"),
        ("require_disk_encryption", "on"),
        ("min_windows", "19045"),
    ])
    .await;
    assert_eq!(r.status(), 303);
    let saved = s
        .core
        .devices
        .site_device_policy(&crate::support::inspector(), &site.id, &Default::default())
        .await
        .unwrap();
    assert_eq!(saved.approved_networks, vec!["127.0.0.0/8", "192.0.2.0/24"]);
    assert_eq!((saved.max_av_age_days, saved.require_disk_encryption), (Some(5), true));
    assert_eq!(saved.software_allowlist, None, "an empty allowlist is no allowlist");
    let limits = |value: &'static str| {
        let pairs = vec![("_csrf", csrf.as_str()), ("limit.operator", value), ("limit.supervisor", "800")];
        let console = &console;
        async move { console.post_form("/devices/keystroke-limits", &pairs).await.status() }
    };
    assert_eq!(limits("fast").await, 422);
    assert_eq!(limits("900").await, 303);
    let set =
        s.core.devices.keystroke_limits(&crate::support::inspector(), &Default::default()).await.unwrap();
    assert_eq!(set.limit_for(&[Role::Operator]), Some(900));
    assert_eq!(set.limit_for(&[Role::Auditor]), None, "an empty field: no limit for the role");

    // A stored policy that cannot be read fails closed — every rule failing and no network
    // approved, not "no rules" — and the console says so (issue 13, defect 2).
    s.tamper(&format!(
        "UPDATE site_policy_networks SET cidr = 'not-a-network' WHERE site_id = '{}'",
        site.id
    ))
    .await;
    let d = detail().await;
    assert_eq!(d["posture_failures"][0]["rule"], "policy_unreadable", "{d}");
    assert_eq!(d["network_approved"], false, "{d}");
    let page = console.get("/devices/policy").await.text().await.unwrap();
    assert!(page.contains("保存済みルールを読み取れません") && page.contains("Tokyo"), "{page}");
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(posture_and_networks);

/// Enrols a PC for `user` through the API and returns its agent.
pub(crate) async fn enrol_agent<'a>(
    s: &'a TestServer,
    admin_token: &str,
    user_id: &str,
    hostname: &str,
) -> Agent<'a> {
    let api = reqwest::Client::new();
    let r = api
        .post(s.url("/api/v1/devices/enrolments"))
        .bearer_auth(admin_token)
        .json(&json!({"user_id": user_id}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let key = DeviceKey::generate().unwrap();
    let r = api
        .post(s.url("/api/v1/agent/enroll"))
        .json(&json!({"token": token, "public_key": key.public_key(), "hostname": hostname}))
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["device_id"].as_str().unwrap().to_owned();
    Agent { s, key, id, from: None }
}

fn bucket_event(id: &str, minute: i64, keystrokes: u32, domain: &str) -> Value {
    json!({"id": id, "time": minute + 60_000, "kind": "activity", "data": {
        "minute": minute, "keystrokes": keystrokes, "clicks": 3, "idle_secs": 0,
        "app": "chrome", "browser_domain": domain}})
}

/// Activity buckets (MON-1, MON-3, invariant 8): kept only inside the operator's shifts, which
/// the agent learns from every answer; an abnormal keystroke rate for the role is a signal,
/// raised once however often the bucket is sent; the floor shows working, locked and the
/// application; the operator sees their own buckets and shifts.
async fn activity_follows_shifts(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let token = s.token(&admin, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let op = s.user("op.one", &[Role::Operator]).await;
    let op_token = s.token(&op, &[Permission::CustomersRead]).await;
    let agent = enrol_agent(&s, &token, &op.id, "op-pc").await;
    let api = reqwest::Client::new();
    let put =
        |token: &str, path: String, body: Value| api.put(s.url(&path)).bearer_auth(token).json(&body).send();

    let (status, ack) = agent.send("/api/v1/agent/heartbeat", &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(ack["shifts"]["shifts"], json!([]), "no shifts: the agent collects no activity");

    // A shift from an hour before this hour to two after it (Japan time), every day.
    let now = s.core.now().0;
    let hour = (now / 60_000 + 540) / 60 % 24;
    let shift = |h: i64| format!("{:02}:00", h.rem_euclid(24));
    let shifts_path = format!("/api/v1/users/{}/shifts", op.id);
    for bad in [
        json!({"shifts": [{"days": ["mon"], "start": "9:00", "end": "18:00"}]}),
        json!({"shifts": [{"days": [], "start": "09:00", "end": "18:00"}]}),
        json!({"shifts": [{"days": ["someday"], "start": "09:00", "end": "18:00"}]}),
        json!({"shifts": [], "timezone": "Asia/Tokyo"}),
        // The most negative offset once overflowed the range check (found by schemathesis).
        json!({"shifts": [], "utc_offset_minutes": i32::MIN}),
    ] {
        assert_eq!(put(&token, shifts_path.clone(), bad.clone()).await.unwrap().status(), 422, "{bad}");
    }
    let schedule = json!({"shifts": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": shift(hour - 1), "end": shift(hour + 2)}]});
    assert_eq!(put(&op_token, shifts_path.clone(), schedule.clone()).await.unwrap().status(), 403);
    assert_eq!(put(&token, shifts_path.clone(), schedule).await.unwrap().status(), 204);
    let (_, ack) = agent.send("/api/v1/agent/heartbeat", &json!({})).await;
    assert_eq!(ack["shifts"]["shifts"][0]["start"], shift(hour - 1).as_str(), "{ack}");

    // Inside the shift kept; three hours back, outside it, dropped by the server.
    let minute = now / 60_000 * 60_000;
    let batch = json!({"events": [
        bucket_event("a1", minute - 60_000, 80, "crm.example.co.jp"),
        bucket_event("a2", minute - 3 * 3_600_000, 50, "crm.example.co.jp"),
    ]});
    assert_eq!(agent.send("/api/v1/agent/events", &batch).await.0, 200);
    let activity = || async {
        let path = format!("/api/v1/devices/{}/activity?hours=24", agent.id);
        api.get(s.url(&path)).bearer_auth(&token).send().await.unwrap().json::<Value>().await.unwrap()
    };
    let kept = activity().await;
    assert_eq!(kept["buckets"].as_array().unwrap().len(), 1, "{kept}");
    assert_eq!(kept["buckets"][0]["keystrokes"], 80);
    // Who read an operator's minutes is on the record.
    let size = s.core.store().read().await.unwrap().audit_log_size().await.unwrap();
    let entries = s.core.store().read().await.unwrap().audit_entries(0, size).await.unwrap();
    let object = format!("device:{}", agent.id);
    assert!(
        entries.iter().any(|e| e.action == "device.activity_read"
            && e.category.as_str() == "access"
            && e.object.as_deref() == Some(object.as_str())),
        "reading activity is an access entry"
    );

    // A keystroke injector's minute: a signal, once, however often the batch is sent.
    let fast = json!({"events": [bucket_event("a3", minute - 120_000, 2_400, "crm.example.co.jp")]});
    assert_eq!(agent.send("/api/v1/agent/events", &fast).await.0, 200);
    assert_eq!(agent.send("/api/v1/agent/events", &fast).await.1["stored"], 0, "a retry stores nothing");
    let signals: Vec<_> = s
        .core
        .devices
        .device_events(&s.principal_of(&admin), &agent.id, 50, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "abnormal_keystroke_rate")
        .collect();
    assert_eq!(signals.len(), 1, "{signals:?}");
    assert!(signals[0].data.contains("\"limit\":600") && signals[0].data.contains("2400"));

    // A bad bucket refuses the whole batch: nothing of it is stored.
    for bad in [
        bucket_event("b1", minute - 60_000, 10, "https://crm.example.co.jp/customers?id=42"),
        bucket_event("b1", minute - 59_000, 10, "crm.example.co.jp"),
        json!({"id": "b1", "time": minute, "kind": "activity", "data": {"minute": minute - 60_000,
            "keystrokes": 1, "clicks": 0, "idle_secs": 0, "app": null, "browser_domain": null,
            "keys": "secret"}}),
    ] {
        let batch = json!({"events": [bucket_event("b0", minute - 180_000, 5, "ok.example"), bad]});
        assert_eq!(agent.send("/api/v1/agent/events", &batch).await.0, 422, "{batch}");
    }
    assert_eq!(activity().await["buckets"].as_array().unwrap().len(), 2, "nothing of a refused batch");

    // The floor: working, with the application; then locked; then working again.
    let floor = s.signed_in("admin").await;
    let page = floor.get("/floor").await.text().await.unwrap();
    assert!(page.contains("state-working") && page.contains("chrome · crm.example.co.jp"), "{page}");
    let lock = json!({"events": [{"id": "l1", "time": now, "kind": "screen_locked", "data": {}}]});
    assert_eq!(agent.send("/api/v1/agent/events", &lock).await.0, 200);
    assert!(floor.get("/floor").await.text().await.unwrap().contains("state-locked"));
    s.clock.advance(std::time::Duration::from_secs(1));
    let unlock =
        json!({"events": [{"id": "l2", "time": s.core.now().0, "kind": "screen_unlocked", "data": {}}]});
    assert_eq!(agent.send("/api/v1/agent/events", &unlock).await.0, 200);
    assert!(floor.get("/floor").await.text().await.unwrap().contains("state-working"));

    // The operator sees their own minutes and shifts.
    let mine = s.signed_in("op.one").await.get("/my-pc").await.text().await.unwrap();
    assert!(mine.contains("my-activity") && mine.contains("80 / 3"), "{mine}");
    assert!(mine.contains(&shift(hour - 1)), "{mine}");

    // The role's limit can be changed, and is checked.
    let limits = "/api/v1/devices/keystroke-limits".to_owned();
    assert_eq!(
        put(&token, limits.clone(), json!({"per_role": {"operator": 0}})).await.unwrap().status(),
        422
    );
    assert_eq!(
        put(&token, limits.clone(), json!({"per_role": {"operator": 900}})).await.unwrap().status(),
        204
    );
    let got: Value = api.get(s.url(&limits)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["per_role"]["operator"], 900);
    assert_eq!(s.audit("device.shifts_change").await.len(), 1);

    // The roster page (linked from the device page) sets the operator's shifts; a bad time is
    // refused, changing nothing; the device page shows them in words.
    let page = format!("/devices/{}", agent.id);
    let roster = format!("/admin/users/{}/roster", op.id);
    assert!(floor.get(&page).await.text().await.unwrap().contains(&format!("href=\"{roster}\"")));
    let csrf = floor.csrf(&roster).await;
    let form = |start: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("days.0", "mon".into()),
            ("days.0", "tue".into()),
            ("start.0", start.into()),
            ("end.0", "06:00".into()),
        ]
    };
    let shifts_path = format!("/admin/users/{}/shifts", op.id);
    let post = |fields: Vec<(&'static str, String)>| {
        let (floor, path) = (&floor, &shifts_path);
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            floor.post_form(path, &pairs).await.status()
        }
    };
    assert_eq!(post(form("25:00")).await, 422);
    assert_eq!(
        s.core
            .devices
            .user_shifts(&s.principal_of(&admin), &op.id, &Default::default())
            .await
            .unwrap()
            .shifts[0]
            .start,
        shift(hour - 1),
        "unchanged"
    );
    assert_eq!(post(form("22:00")).await, 303);
    let night =
        s.core.devices.user_shifts(&s.principal_of(&admin), &op.id, &Default::default()).await.unwrap();
    assert_eq!(
        night.shifts[0].days,
        vec![mamori_domain::activity::Weekday::Mon, mamori_domain::activity::Weekday::Tue]
    );
    assert_eq!((night.shifts[0].start.as_str(), night.shifts[0].end.as_str()), ("22:00", "06:00"));
    assert!(floor.get(&page).await.text().await.unwrap().contains("月・火 22:00–翌06:00"));

    // A contact from the usual address is noted, then written with the others in one go.
    s.clock.advance(std::time::Duration::from_secs(10));
    assert_eq!(agent.send("/api/v1/agent/heartbeat", &json!({})).await.0, 200);
    assert!(s.core.devices.flush_device_contacts().await.unwrap() >= 1);
    let (device, _) =
        s.core.devices.device_detail(&s.principal_of(&admin), &agent.id, &Default::default()).await.unwrap();
    assert_eq!(device.last_seen_at, Some(s.core.now()));
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(activity_follows_shifts);

/// A fuzz-style run of the agent message decoder: valid messages of every kind, mangled —
/// bytes flipped, cut short, spliced, repeated — and each properly signed, so the body decoder
/// and its checks (not the signature) face them. Every answer is a 2xx or a 4xx, never a 5xx;
/// the server stays up; a refused batch stores nothing.
async fn mangled_agent_messages_are_refused(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let token = s.token(&admin, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let op = s.user("op.one", &[Role::Operator]).await;
    let agent = enrol_agent(&s, &token, &op.id, "fuzz-pc").await;
    let now = s.core.now().0;
    let minute = now / 60_000 * 60_000 - 60_000;
    let seeds: Vec<(&str, Value)> = vec![
        ("/api/v1/agent/inventory", inventory("fuzz-pc", 5)),
        (
            "/api/v1/agent/events",
            json!({"events": [
                bucket_event("f1", minute, 10, "crm.example.co.jp"),
                {"id": "f2", "time": now, "kind": "usb_attached", "data": {"vendor_id": "0781",
                    "product_id": "5581", "product": "Ultra", "serial": null, "mass_storage": true}},
                {"id": "f3", "time": now, "kind": "screen_locked", "data": {}},
                {"id": "f4", "time": now, "kind": "session_logon", "data": {"user": "op"}},
            ]}),
        ),
        ("/api/v1/agent/commands/poll", json!({"wait_secs": 0})),
        ("/api/v1/agent/heartbeat", json!({})),
    ];
    // xorshift64*: the same mangling on every run, so a failure can be replayed.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut answers = std::collections::BTreeMap::new();
    for round in 0..240 {
        let (path, seed) = &seeds[round % seeds.len()];
        let mut body = serde_json::to_vec(seed).unwrap();
        for _ in 0..1 + next() % 4 {
            if body.is_empty() {
                body.push(b'{');
            }
            let at = (next() as usize) % body.len();
            match next() % 5 {
                0 => body[at] = next() as u8,
                1 => body.truncate(at),
                2 => body.insert(at, b"{}[]\",:-0e9\\\xff"[(next() % 13) as usize]),
                3 => {
                    let end = (at + (next() % 16) as usize).min(body.len());
                    let piece = body[at..end].to_vec();
                    body.splice(at..at, piece);
                }
                _ => body.drain(at..(at + (next() % 8) as usize).min(body.len())).for_each(drop),
            }
        }
        let header = agent.header(path, &body);
        let (status, _) = agent.send_raw(path, &header, body.clone()).await;
        assert!(status < 500, "{path} answered {status} to {:?}", String::from_utf8_lossy(&body));
        *answers.entry(status).or_insert(0) += 1;
    }
    eprintln!("answers to mangled agent messages: {answers:?}");
    assert!(answers.keys().any(|s| (400..500).contains(s)), "most mangled messages are refused: {answers:?}");
    assert_eq!(agent.send("/api/v1/agent/heartbeat", &json!({})).await.0, 200, "still serving");
    s.stop().await;
}
both_backends!(mangled_agent_messages_are_refused);

/// Rule sets are typed tables with their history (issue 13, item 6): rows an earlier version kept
/// as JSON in the settings table move to them at start — an unreadable one dropped for the safe
/// side — and every later change is a new version with who made it.
async fn rule_sets_move_to_tables_with_history(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let op = s.user("op.rules", &[Role::Operator]).await;
    let other = s.user("op.broken", &[Role::Operator]).await;
    let legacy_shifts = r#"{"utc_offset_minutes": 540, "shifts": [{"days": ["mon", "tue"], "start": "09:00", "end": "18:00"}]}"#;
    let p = s.principal_of(&admin);
    let tokyo =
        s.core.identity.create_org_unit(&p, OrgKind::Site, "Tokyo", None, &Default::default()).await.unwrap();
    let osaka =
        s.core.identity.create_org_unit(&p, OrgKind::Site, "Osaka", None, &Default::default()).await.unwrap();
    let legacy_policy = r#"{"min_os_build": {"windows": "19045"}, "max_av_age_days": 3, "require_disk_encryption": true,
        "software_allowlist": ["Microsoft Office*", "Zoom"], "approved_networks": ["203.0.113.0/24", "192.0.2.0/24"]}"#;
    let mut tx = s.core.store().begin().await.unwrap();
    tx.put_setting(&format!("device_policy:{}", tokyo.id), legacy_policy).await.unwrap();
    tx.put_setting(&format!("device_policy:{}", osaka.id), r#"{"require_disk_encryption": tru"#)
        .await
        .unwrap();
    tx.put_setting(&format!("shifts:{}", op.id), legacy_shifts).await.unwrap();
    tx.put_setting(&format!("shifts:{}", other.id), r#"{"shifts": [{"days": ["mon"]"#).await.unwrap();
    tx.put_setting(&format!("device_networks:{}", op.id), r#"["192.0.2.0/24"]"#).await.unwrap();
    tx.put_setting("keystroke_limits", r#"{"per_role": {"operator": 700}}"#).await.unwrap();
    tx.commit().await.unwrap();

    let s = s.restart().await;
    let direct = s.principal_of(&admin);
    let ctx = Default::default();
    let shifts = s.core.devices.user_shifts(&direct, &op.id, &ctx).await.unwrap();
    assert_eq!(shifts.utc_offset_minutes, 540);
    assert_eq!(shifts.shifts.len(), 1);
    assert_eq!(
        shifts.shifts[0].days,
        [mamori_domain::activity::Weekday::Mon, mamori_domain::activity::Weekday::Tue]
    );
    assert_eq!((shifts.shifts[0].start.as_str(), shifts.shifts[0].end.as_str()), ("09:00", "18:00"));
    assert!(
        s.core.devices.user_shifts(&direct, &other.id, &ctx).await.unwrap().shifts.is_empty(),
        "unreadable: none"
    );
    assert_eq!(
        s.core
            .devices
            .user_networks(&crate::support::inspector(), &op.id, &Default::default())
            .await
            .unwrap(),
        ["192.0.2.0/24"]
    );
    assert_eq!(
        s.core
            .devices
            .keystroke_limits(&crate::support::inspector(), &Default::default())
            .await
            .unwrap()
            .limit_for(&[Role::Operator]),
        Some(700)
    );
    let tokyo_policy =
        s.core.devices.site_device_policy(&crate::support::inspector(), &tokyo.id, &ctx).await.unwrap();
    assert_eq!(tokyo_policy.min_os_build.get("windows").map(String::as_str), Some("19045"));
    assert_eq!((tokyo_policy.max_av_age_days, tokyo_policy.require_disk_encryption), (Some(3), true));
    assert_eq!(
        tokyo_policy.software_allowlist.as_deref(),
        Some(&["Microsoft Office*".to_owned(), "Zoom".into()][..])
    );
    assert_eq!(tokyo_policy.approved_networks, ["203.0.113.0/24", "192.0.2.0/24"], "in the order given");
    // Unreadable: carried over as such, so the site's PCs keep failing closed (issue 13, defect 2).
    let osaka_policy = s.core.devices.site_device_policy(&crate::support::inspector(), &osaka.id, &ctx).await;
    assert!(
        matches!(osaka_policy, Err(mamori_core::CoreError::SettingUnreadable { .. })),
        "{osaka_policy:?}"
    );
    let mut read = s.core.store().read().await.unwrap();
    for legacy in [
        format!("shifts:{}", op.id),
        format!("shifts:{}", other.id),
        format!("device_networks:{}", op.id),
        format!("device_policy:{}", tokyo.id),
        format!("device_policy:{}", osaka.id),
    ] {
        assert_eq!(read.setting(&legacy).await.unwrap(), None, "{legacy} moved out of the settings");
    }
    assert_eq!(read.setting("keystroke_limits").await.unwrap(), None);
    drop(read);

    // A change is a new version; the history says who made each.
    let token = s.token(&admin, &[Permission::DevicesManage]).await;
    let night = json!({"shifts": [{"days": ["fri"], "start": "22:00", "end": "06:00"}]});
    let r = reqwest::Client::new()
        .put(s.url(&format!("/api/v1/users/{}/shifts", op.id)))
        .bearer_auth(&token)
        .json(&night)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let versions = s.core.store().read().await.unwrap().shift_schedule_versions(&op.id).await.unwrap();
    let who: Vec<(i64, &str)> = versions.iter().map(|v| (v.version, v.changed_by.as_str())).collect();
    assert!(who[0].1.starts_with("token:"), "{who:?}");
    assert_eq!((who[0].0, who[1]), (2, (1, "system")), "the migrated version stays as history");
    assert_eq!(s.core.devices.user_shifts(&direct, &op.id, &ctx).await.unwrap().shifts[0].start, "22:00");
    assert_eq!(s.audit("device.shifts_change").await[0].details["version"], "2");

    // Saving the unreadable site's policy again makes version 2, in force.
    let policy =
        mamori_domain::posture::PosturePolicy { max_screen_lock_secs: Some(600), ..Default::default() };
    s.core.devices.set_site_device_policy(&direct, &osaka.id, policy, &ctx).await.unwrap();
    let saved = s.core.devices.site_device_policy(&direct, &osaka.id, &ctx).await.unwrap();
    assert_eq!(saved.max_screen_lock_secs, Some(600));
    let versions = s.core.store().read().await.unwrap().site_device_policy_versions(&osaka.id).await.unwrap();
    let who: Vec<(i64, &str)> = versions.iter().map(|v| (v.version, v.changed_by.as_str())).collect();
    assert_eq!(who, [(2, format!("user:{}", admin.id).as_str()), (1, "system")]);
    assert_eq!(s.audit("device.policy_change").await[0].details["version"], "2");
    s.stop().await;
}
both_backends!(rule_sets_move_to_tables_with_history);
