//! Detection (issue 16): the scripted scenario of its "done when" against a running server —
//! one operator looks up 200 customers with no call in ten minutes, another 23 customers each
//! outside any call over a shift; both raise alerts that name the rule, the baseline and the
//! deviation, and the first operator's PC receives the automatic lock through the agent's
//! command path. Alerts and responses are audit entries; a restart repeats nothing.

use crate::approvals::{client_with_customers, person};
use crate::both_backends;
use crate::commands::two_teams;
use crate::devices::enrol_agent;
use crate::support::{Backend, TestServer};
use mamori_core::detection::{Alert, AlertChange};
use mamori_core::vault::Purpose;
use mamori_domain::detect::HourStat;
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};
use std::time::Duration;

fn off_call() -> Purpose {
    Purpose::Reason { code: "callback".into(), text: "折り返しのお約束".into() }
}

fn phone(i: usize) -> String {
    format!("03-1234-{:04}", 5678 + i)
}

/// Waits until the detection task has raised `n` alerts the principal sees.
pub(crate) async fn alerts_until(s: &TestServer, who: &mamori_core::Principal, n: usize) -> Vec<Alert> {
    for _ in 0..300 {
        let alerts = s.core.detection.alerts(who, 7, &[], &Default::default()).await.unwrap();
        if alerts.len() >= n {
            return alerts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} alerts were raised");
}

/// Waits until the detection task has read the whole log.
async fn caught_up(s: &TestServer) {
    for _ in 0..300 {
        let mut read = s.core.store().read().await.unwrap();
        let size = read.audit_log_size().await.unwrap();
        let at =
            read.audit_cursors().await.unwrap().into_iter().find(|c| c.0 == "feed:detection").map(|c| c.1);
        if at == Some(size) {
            return;
        }
        drop(read);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the detection task did not catch up");
}

async fn insider_scenario(backend: Backend) {
    // The test's clock runs ten minutes of lookups in a second, past the default one-minute
    // limit of a command that a real agent, polling all along, would have fetched at once.
    let s = TestServer::start_with(backend, |c| c.command_timeout = Duration::from_secs(3600)).await;
    let (op_a, op_b) = two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 220).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    s.core.identity.set_user_clients(&admin, &op_b.id, std::slice::from_ref(&client), &ctx).await.unwrap();
    let token = s.token(admin.user.clone(), &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let pc = enrol_agent(&s, &token, &op_a.id, "PC-A").await;

    // op.a's own history: a day of about ten customers an hour.
    let hour = s.core.now().0 / 3_600_000 * 3_600_000;
    let history: Vec<HourStat> = (1..=24)
        .map(|h| HourStat {
            subject: format!("user:{}", op_a.id),
            hour: hour - h * 3_600_000,
            customers: 9 + (h as u64 % 3),
            lookups: 20,
            off_call: 0,
        })
        .collect();
    let mut tx = s.core.store().begin().await.unwrap();
    tx.put_detector_hours(&history).await.unwrap();
    tx.commit().await.unwrap();

    // op.a: 200 customers, none on a call, in ten minutes.
    let mut a = person(&s, "op.a").await;
    a.client_ids = vec![client.clone()];
    for i in 0..200 {
        s.core.vault.find_customers_by_phone(&a, &phone(i), &off_call(), &ctx).await.unwrap();
        s.clock.advance(Duration::from_secs(3));
    }
    // The automatic lock reaches op.a's PC through the agent's command path, while it is
    // still fresh (a lock past the command time limit is never delivered).
    alerts_until(&s, &admin, 2).await;
    let (status, polled) = pc.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 5})).await;
    assert_eq!(status, 200, "{polled}");
    let commands = polled["commands"].as_array().unwrap();
    assert!(commands.iter().any(|c| c["kind"] == "lock"), "{polled}");

    // op.b: 23 customers, one every 20 minutes, none on a call (no rate rule sees this).
    let mut b = person(&s, "op.b").await;
    b.client_ids = vec![client.clone()];
    for i in 0..23 {
        s.core.vault.find_customers_by_phone(&b, &phone(100 + i), &off_call(), &ctx).await.unwrap();
        s.clock.advance(Duration::from_secs(20 * 60));
    }

    alerts_until(&s, &admin, 3).await;
    caught_up(&s).await;
    let alerts = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    let find = |rule: &str, who: &str| {
        alerts
            .iter()
            .find(|x| x.record.rule == rule && x.record.subject_user_id.as_deref() == Some(who))
            .cloned()
    };
    let volume = find("lookup_volume", &op_a.id).expect("op.a's volume alert");
    assert_eq!(volume.record.severity, "high");
    assert_eq!(volume.record.threshold, 60);
    assert!(volume.record.value >= 60, "{:?}", volume.record);
    assert_eq!(volume.record.baseline_median, Some(10.0), "the operator's own median");
    assert!(volume.record.deviation.unwrap() > 3.5, "{:?}", volume.record);
    assert_eq!(volume.person.as_ref().unwrap().display_name, "山田 花子");
    let purpose_a = find("off_call_lookups", &op_a.id).expect("op.a's lookups were off-call too");
    assert!(purpose_a.record.value >= 15);
    let purpose_b = find("off_call_lookups", &op_b.id).expect("op.b's off-call alert");
    assert_eq!((purpose_b.record.value, purpose_b.record.threshold), (23, 15));
    assert_eq!(purpose_b.record.window_minutes, 480);
    assert!(find("lookup_volume", &op_b.id).is_none(), "no rate rule fires for op.b");
    // One cause, one alert: op.a's 141 firings after the first are counted on it.
    assert_eq!(
        alerts.iter().filter(|x| x.record.subject_user_id.as_deref() == Some(op_a.id.as_str())).count(),
        2
    );
    assert!(volume.record.hits > 1, "{:?}", volume.record);

    // The entries behind it, in order, each a lookup of op.a's.
    let detail = s.core.detection.alert(&admin, &purpose_b.record.id, &ctx).await.unwrap();
    assert_eq!(detail.evidence_total, 23);
    assert!(
        detail
            .evidence
            .iter()
            .all(|e| e.action == "customer.lookup" && e.actor == format!("user:{}", op_b.id))
    );

    let detail = s.core.detection.alert(&admin, &volume.record.id, &ctx).await.unwrap();
    assert_eq!(detail.responses.len(), 1);
    let lock = &detail.responses[0];
    assert_eq!((lock.kind.as_str(), lock.state.as_str()), ("lock_pc", "done"));
    assert_eq!(lock.target, format!("device:{}", pc.id));

    // Audit entries: one alert.raise per alert (not per firing), the response, the command.
    let raised = s.audit("alert.raise").await;
    assert_eq!(raised.len(), 3, "{raised:?}");
    assert!(raised.iter().all(|e| e.category == mamori_audit::Category::Security && e.actor == "system"));
    let raise = raised.iter().find(|e| e.details["rule"] == "lookup_volume").unwrap();
    assert_eq!(raise.details["baseline_median"], "10.0");
    assert_eq!(s.audit("alert.response").await.len(), 1);
    assert!(s.audit("device.command").await.iter().any(|e| e.actor == "system"));

    // Scope: sv.a sees team A's alerts only; through the API too.
    let sv = person(&s, "sv.a").await;
    let seen = s.core.detection.alerts(&sv, 7, &[], &ctx).await.unwrap();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|x| x.record.subject_user_id.as_deref() == Some(op_a.id.as_str())));
    assert!(s.core.detection.alert(&sv, &purpose_b.record.id, &ctx).await.is_err(), "team B's is not found");
    let sv_token = s.token(sv.user.clone(), &[Permission::AlertsRead, Permission::AlertsManage]).await;
    let api = reqwest::Client::new();
    let listed: Value = api
        .get(s.url("/api/v1/alerts?state=open"))
        .bearer_auth(&sv_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["alerts"].as_array().unwrap().len(), 2, "{listed}");
    let r = api.get(s.url("/api/v1/alerts?state=nonsense")).bearer_auth(&sv_token).send().await.unwrap();
    assert_eq!(r.status(), 422, "an unknown state is refused, not ignored");
    let path = s.url(&format!("/api/v1/alerts/{}", volume.record.id));
    let r = api
        .post(&path)
        .bearer_auth(&sv_token)
        .json(&json!({"change": "suppress", "hours": 0, "reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = api
        .post(&path)
        .bearer_auth(&sv_token)
        .json(&json!({"change": "resolve", "reason": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a reason is required");
    let r =
        api.post(&path).bearer_auth(&sv_token).json(&json!({"change": "acknowledge"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r =
        api.post(&path).bearer_auth(&sv_token).json(&json!({"change": "acknowledge"})).send().await.unwrap();
    assert_eq!(r.status(), 409, "acknowledged already");
    let other = s.url(&format!("/api/v1/alerts/{}", purpose_b.record.id));
    let r =
        api.post(&other).bearer_auth(&sv_token).json(&json!({"change": "acknowledge"})).send().await.unwrap();
    assert_eq!(r.status(), 404, "outside the team");

    // The supervisor reverses the lock: the PC is told, and it is recorded.
    let reverse = s.url(&format!("/api/v1/alerts/{}/responses/{}/reverse", volume.record.id, lock.id));
    assert_eq!(api.post(&reverse).bearer_auth(&sv_token).send().await.unwrap().status(), 204);
    assert_eq!(api.post(&reverse).bearer_auth(&sv_token).send().await.unwrap().status(), 409);
    let (_, polled) = pc.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 0})).await;
    assert!(polled["commands"].as_array().unwrap().iter().any(|c| c["kind"] == "message"), "{polled}");
    assert_eq!(s.audit("alert.response_reverse").await.len(), 1);

    // A false positive with its reason.
    let change = AlertChange::FalsePositive { reason: "研修の演習".into() };
    s.core.detection.update_alert(&sv, &purpose_a.record.id, change, &ctx).await.unwrap();
    let rules = s.core.detection.rules(&admin, &ctx).await.unwrap();
    let fp = rules.counts.iter().find(|c| c.rule == "off_call_lookups").unwrap();
    assert_eq!((fp.alerts, fp.false_positives), (2, 1));
}
both_backends!(insider_scenario);

/// The rules are data: a change is a new version, audited; turning one off with a second
/// security admin waits for their approval; out-of-range settings are refused.
async fn rules_are_tuned_and_guarded(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.principal_of(s.user("admin", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    let mut rules = s.core.detection.rules(&admin, &ctx).await.unwrap().rules;
    rules.0.get_mut(&mamori_domain::detect::RuleId::DeniedAccess).unwrap().threshold = 25;
    assert_eq!(s.core.detection.set_rules(&admin, rules.clone(), &ctx).await.unwrap(), 1);
    let view = s.core.detection.rules(&admin, &ctx).await.unwrap();
    assert_eq!(view.version.unwrap().version, 1);
    assert_eq!(view.rules.get(mamori_domain::detect::RuleId::DeniedAccess).threshold, 25);
    let changed = s.audit("detection.rules_change").await;
    assert_eq!(changed[0].details["changed"], "denied_access");

    let mut bad = rules.clone();
    bad.0.get_mut(&mamori_domain::detect::RuleId::LookupVolume).unwrap().window_minutes = 0;
    assert!(s.core.detection.set_rules(&admin, bad, &ctx).await.is_err());

    // With a second admin, turning a rule off is privileged.
    s.user("admin2", &[Role::SecurityAdmin]).await;
    let mut off = rules.clone();
    off.0.get_mut(&mamori_domain::detect::RuleId::OffCallLookups).unwrap().enabled = false;
    let refused = s.core.detection.set_rules(&admin, off.clone(), &ctx).await.unwrap_err();
    assert!(matches!(refused, mamori_core::CoreError::ApprovalRequired), "{refused:?}");
    assert!(
        s.core
            .detection
            .rules(&admin, &ctx)
            .await
            .unwrap()
            .rules
            .get(mamori_domain::detect::RuleId::OffCallLookups)
            .enabled
    );
    // Tightening needs no second admin.
    let mut tighter = rules.clone();
    tighter.0.get_mut(&mamori_domain::detect::RuleId::OffCallLookups).unwrap().threshold = 10;
    s.core.detection.set_rules(&admin, tighter, &ctx).await.unwrap();

    // The API refuses an unknown rule and unknown fields.
    let token = s.token(admin.user.clone(), &[Permission::SettingsManage, Permission::AlertsRead]).await;
    let api = reqwest::Client::new();
    let put = |body: Value| api.put(s.url("/api/v1/detection-rules")).bearer_auth(&token).json(&body).send();
    let settings =
        json!({"enabled": true, "severity": "high", "threshold": 5, "window_minutes": 60, "responses": []});
    assert_eq!(put(json!({"rules": {"nonsense": settings}})).await.unwrap().status(), 422);
    let mut extra = settings.clone();
    extra["colour"] = json!("red");
    assert_eq!(put(json!({"rules": {"denied_access": extra}})).await.unwrap().status(), 422);
    let r = put(json!({"rules": {"denied_access": settings}})).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["rules"]["denied_access"]["threshold"], 5);
    assert_eq!(body["version"], 3);
}
both_backends!(rules_are_tuned_and_guarded);

/// A restart in the middle loses and repeats nothing: the windows are rebuilt from the log
/// before the stored cursor, so the alert that straddles the restart is raised once, counted
/// on, and no entry is handled twice.
async fn a_restart_repeats_nothing(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    let (_, _) = two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 30).await;
    let ctx = Default::default();
    let mut a = person(&s, "op.a").await;
    a.client_ids = vec![client.clone()];
    for i in 0..10 {
        s.core.vault.find_customers_by_phone(&a, &phone(i), &off_call(), &ctx).await.unwrap();
    }
    caught_up(&s).await;
    let s = s.restart().await;
    let mut a = person(&s, "op.a").await;
    a.client_ids = vec![client];
    for i in 10..20 {
        s.core.vault.find_customers_by_phone(&a, &phone(i), &off_call(), &ctx).await.unwrap();
    }
    let admin = person(&s, "admin").await;
    let alerts = alerts_until(&s, &admin, 1).await;
    caught_up(&s).await;
    let alerts_now = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    assert_eq!(alerts_now.len(), 1, "{alerts:?}");
    let alert = &alerts_now[0].record;
    assert_eq!(alert.rule, "off_call_lookups");
    // Fired at the 15th customer (the 5th after the restart) and at each one after: 6 times.
    assert_eq!((alert.value, alert.hits), (20, 6), "{alert:?}");
    assert_eq!(s.audit("alert.raise").await.len(), 1);
}
both_backends!(a_restart_repeats_nothing);

/// A PC's signals are audit entries (`device.signal`, once however often the agent sends the
/// event) and the detectors read them with the rest: a USB stick with no take-out is an alert
/// about the PC's operator.
async fn pc_signals_raise_alerts(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (op_a, _) = two_teams(&s).await;
    let admin = person(&s, "admin").await;
    let token = s.token(admin.user.clone(), &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let pc = enrol_agent(&s, &token, &op_a.id, "PC-A").await;
    let now = s.core.now().0;
    let usb = json!({"vendor_id": "0781", "product_id": "5581", "product": "Cruzer", "serial": "4C530001", "mass_storage": true});
    let mouse = json!({"vendor_id": "046d", "product_id": "c077", "product": "Mouse", "serial": null, "mass_storage": false});
    let events = json!({"events": [
        {"id": "u1", "time": now - 1000, "kind": "usb_attached", "data": usb},
        {"id": "m1", "time": now - 900, "kind": "usb_attached", "data": mouse},
        {"id": "l1", "time": now - 500, "kind": "screen_unlocked", "data": {}},
    ]});
    for _ in 0..2 {
        assert_eq!(pc.send("/api/v1/agent/events", &events).await.0, 200);
    }
    let signals = s.audit("device.signal").await;
    assert_eq!(signals.len(), 2, "each signal once, the unlock not at all: {signals:?}");
    let stick =
        signals.iter().find(|e| e.details.get("serial").map(String::as_str) == Some("4C530001")).unwrap();
    assert_eq!(stick.actor, format!("device:{}", pc.id));
    assert_eq!(stick.details["user"], format!("user:{}", op_a.id));
    assert_eq!(stick.details["mass_storage"], "true");

    let alerts = alerts_until(&s, &admin, 1).await;
    caught_up(&s).await;
    assert_eq!(alerts.len(), 1, "the mouse raises nothing: {alerts:?}");
    let alert = &alerts[0];
    assert_eq!((alert.record.rule.as_str(), alert.record.severity.as_str()), ("usb_storage", "high"));
    assert_eq!(alert.person.as_ref().unwrap().display_name, "山田 花子");
    let detail = s.core.detection.alert(&admin, &alert.record.id, &Default::default()).await.unwrap();
    assert_eq!(detail.evidence.len(), 1);
    assert_eq!(detail.evidence[0].index, stick.index);
}
both_backends!(pc_signals_raise_alerts);

/// `kill -9` of the server while the detectors work (issue 16, done when): after a restart the
/// alerts hold exactly what the detectors find replaying the log up to their stored cursor —
/// every firing counted once, none lost, none repeated — because alerts, evidence, responses
/// and the cursor commit together. The oracle is a fresh detector over the same entries.
async fn kill_9_loses_and_repeats_nothing(backend: Backend) {
    use crate::support::{ServeProcess, api_token, insert_user, principal};
    use mamori_domain::Clock;
    let dir = tempfile::tempdir().unwrap();
    let mut config = mamori_server::config::ServerConfig::defaults(dir.path().join("data"));
    if backend == Backend::Postgres {
        config.database_url = Some(crate::support::fresh_pg_url().await);
    }
    let open = || mamori_server::serve::open_core(&config, std::sync::Arc::new(mamori_domain::SystemClock));
    let (admin_token, op_tokens) = {
        let core = open().await.unwrap();
        let admin = insert_user(&core, "admin", &[Role::SecurityAdmin]).await;
        let ctx = Default::default();
        let kind = mamori_store::OrgKind::Client;
        let client =
            core.identity.create_org_unit(&principal(&admin), kind, "通販A社", None, &ctx).await.unwrap();
        let records: Vec<_> = (0..300)
            .map(|i| mamori_core::vault::NewCustomer {
                client_id: client.id.clone(),
                fields: [("name_kanji".to_owned(), format!("顧客{i}")), ("phones".to_owned(), phone(i))]
                    .into(),
            })
            .collect();
        core.vault.create_customers(&principal(&admin), &records, &ctx).await.unwrap();
        let mut op_tokens = Vec::new();
        for name in ["op.1", "op.2"] {
            let op = insert_user(&core, name, &[Role::Operator]).await;
            let ids = std::slice::from_ref(&client.id);
            core.identity.set_user_clients(&principal(&admin), &op.id, ids, &ctx).await.unwrap();
            op_tokens.push(api_token(&core, &op, &[Permission::CustomersRead]).await);
        }
        (api_token(&core, &admin, &[Permission::AlertsRead]).await, op_tokens)
    };

    // Two operators look up customers off-call, round and round, through whichever server runs.
    let base = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = ServeProcess::start(&config).await;
    *base.lock().unwrap() = server.base.clone();
    let mut tasks = Vec::new();
    for (n, token) in op_tokens.into_iter().enumerate() {
        let (base, stop) = (base.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let api = reqwest::Client::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let url = format!("{}/api/v1/customers/lookup", base.lock().unwrap());
                let body = json!({"phone": phone(n * 150 + i % 150), "reason_code": "callback", "reason_text": "折り返しのお約束"});
                match api.post(url).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status() == 200 => i += 1,
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    // Killed once the detectors have raised something and while they still work.
    let api = reqwest::Client::new();
    for _ in 0..200 {
        let r =
            api.get(format!("{}/api/v1/alerts", server.base)).bearer_auth(&admin_token).send().await.unwrap();
        let listed: Value = r.json().await.unwrap();
        if listed["alerts"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    let server = ServeProcess::start(&config).await;
    let restarted = mamori_domain::SystemClock.now().0;
    *base.lock().unwrap() = server.base.clone();
    // The new process takes the detection feed over once the killed one's lease (15 s) ran
    // out, and goes on from the stored cursor.
    let mut resumed = false;
    for _ in 0..400 {
        let r =
            api.get(format!("{}/api/v1/alerts", server.base)).bearer_auth(&admin_token).send().await.unwrap();
        let listed: Value = r.json().await.unwrap();
        let latest = listed["alerts"].as_array().unwrap().iter().filter_map(|a| a["last_at"].as_i64()).max();
        if latest.is_some_and(|t| t > restarted) {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "the restarted server's detectors went on");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    server.kill();

    let core = open().await.unwrap();
    let mut read = core.store().read().await.unwrap();
    let cursor = read.audit_cursors().await.unwrap().into_iter().find(|c| c.0 == "feed:detection").unwrap().1;
    let entries = read.audit_entries(0, cursor).await.unwrap();
    let lookups = entries.iter().filter(|e| e.action == "customer.lookup").count();
    assert!(lookups > 120, "the detectors were at work: {lookups} lookups read");
    let mut oracle = mamori_domain::detect::Detector::new(mamori_domain::detect::RuleSet::defaults());
    let mut expected: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for e in &entries {
        for f in oracle.observe(&mamori_core::detection::runner::observed(e)) {
            *expected.entry((f.rule.as_str().to_owned(), f.subject)).or_default() += 1;
        }
    }
    let alerts = read.alerts_since(mamori_domain::UnixMillis(0), &[], 1000).await.unwrap();
    let mut found: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for a in &alerts {
        *found.entry((a.rule.clone(), a.subject.clone())).or_default() += a.hits;
    }
    assert_eq!(found, expected, "every firing counted once");
    assert_eq!(alerts.len(), 4, "one alert per rule and operator: {alerts:?}");
    let raised = entries.iter().filter(|e| e.action == "alert.raise").count();
    let size = read.audit_log_size().await.unwrap();
    let all = read.audit_entries(0, size).await.unwrap();
    assert_eq!(
        all.iter().filter(|e| e.action == "alert.raise").count(),
        alerts.len(),
        "raised once each ({raised} before the cursor)"
    );
    assert_eq!(
        all.iter().filter(|e| e.action == "alert.response").count(),
        2,
        "one lock attempt per volume alert"
    );
}
both_backends!(kill_9_loses_and_repeats_nothing);

/// Lookups outside the operator's shifts are an alert of their own (an account used after its
/// owner went home); an operator with no shifts set raises none. Anything else done outside
/// the shifts (reveals here) is counted by `used_off_shift`.
async fn lookups_outside_the_shift(backend: Backend) {
    use mamori_domain::activity::{Shift, ShiftSchedule, Weekday};
    let s = TestServer::start(backend).await;
    let (op_a, _) = two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 10).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    // op.a works one hour a day, starting three hours from now (JST).
    let now_jst_hour = (s.core.now().0 / 3_600_000 + 9) % 24;
    let start = (now_jst_hour + 3) % 24;
    let shift = Shift {
        days: Weekday::ALL.to_vec(),
        start: format!("{start:02}:00"),
        end: format!("{:02}:00", start + 1),
    };
    let schedule = ShiftSchedule { utc_offset_minutes: 540, shifts: vec![shift] };
    s.core.devices.set_user_shifts(&admin, &op_a.id, schedule, &ctx).await.unwrap();
    let mut a = person(&s, "op.a").await;
    a.client_ids = vec![client];
    let mut cards = Vec::new();
    for i in 0..3 {
        cards.extend(s.core.vault.find_customers_by_phone(&a, &phone(i), &off_call(), &ctx).await.unwrap());
    }
    for card in cards.iter().take(5).cycle().take(5) {
        s.core.vault.reveal_field(&a, &card.id, "phones", &off_call(), &ctx).await.unwrap();
    }
    alerts_until(&s, &admin, 2).await;
    caught_up(&s).await;
    let alerts = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    let off_shift =
        alerts.iter().find(|x| x.record.rule == "off_shift_lookups").expect("the off-shift alert");
    assert_eq!((off_shift.record.value, off_shift.record.threshold), (3, 3));
    assert_eq!(off_shift.record.subject_user_id.as_deref(), Some(op_a.id.as_str()));
    let used = alerts.iter().find(|x| x.record.rule == "used_off_shift").expect("the use outside the shift");
    assert_eq!((used.record.value, used.record.threshold), (5, 5));
    assert_eq!(used.record.subject_user_id.as_deref(), Some(op_a.id.as_str()));
    let raised = s.audit("alert.raise").await;
    let raised = raised.iter().find(|e| e.details["rule"] == "used_off_shift").unwrap();
    assert_eq!(raised.details["action"], "customer.reveal");
    assert!(raised.details["shifts"].contains(&format!("{start:02}:00")), "{raised:?}");
}
both_backends!(lookups_outside_the_shift);

/// Alerts of the configured severity and incidents reach the signed webhook (issue 16, item 6),
/// with no free text and no customer; the SIEM gets them as audit entries of category
/// `security` (the forwarding tests cover that path).
async fn alerts_and_incidents_reach_the_webhook(backend: Backend) {
    let (url, got) = crate::approvals::webhook_receiver(0).await;
    let s = TestServer::start_with(backend, |c| {
        c.webhook = Some(mamori_server::config::Webhook {
            url,
            secret: "a-shared-secret-of-at-least-32-characters".into(),
        });
        c.alert_min_severity = mamori_domain::detect::Severity::High;
    })
    .await;
    let (op_a, _) = two_teams(&s).await;
    let admin = person(&s, "admin").await;
    let token = s.token(admin.user.clone(), &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let pc = enrol_agent(&s, &token, &op_a.id, "PC-A").await;
    let usb = json!({"vendor_id": "0781", "product_id": "5581", "product": "Cruzer", "serial": "4C530001", "mass_storage": true});
    let now = s.core.now().0;
    let events = json!({"events": [{"id": "u1", "time": now - 1000, "kind": "usb_attached", "data": usb}]});
    assert_eq!(pc.send("/api/v1/agent/events", &events).await.0, 200);
    // A medium alert (a lockout) stays off the webhook at the `high` setting.
    for _ in 0..10 {
        let _ = s.core.identity.sign_in("op.b", "wrong-password-here", &Default::default()).await;
    }
    let report = mamori_core::incidents::LeakReport {
        kind: mamori_domain::incident::IncidentKind::LostDevice,
        description: "山田様の書類を紛失".into(),
        anonymous: false,
    };
    let op = person(&s, "op.a").await;
    s.core.incidents.report_leak(&op, &report, &Default::default()).await.unwrap();
    alerts_until(&s, &admin, 2).await;
    for _ in 0..100 {
        if got.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything more (there should be nothing) would have arrived by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bodies: Vec<Value> =
        got.lock().unwrap().iter().map(|(_, _, b)| serde_json::from_str(b).unwrap()).collect();
    let mut events: Vec<&str> = bodies.iter().map(|b| b["event"].as_str().unwrap()).collect();
    events.sort();
    assert_eq!(events, ["alert.raise", "incident.open"], "{bodies:?}");
    let alert = bodies.iter().find(|b| b["event"] == "alert.raise").unwrap();
    assert_eq!(
        (alert["alert"]["rule"].as_str(), alert["alert"]["severity"].as_str()),
        (Some("usb_storage"), Some("high"))
    );
    assert!(bodies.iter().all(|b| !b.to_string().contains("山田")), "no free text: {bodies:?}");
}
both_backends!(alerts_and_incidents_reach_the_webhook);

/// What a normal day is made of raises nothing (the false positives `detect-day` found): a
/// caller whose number is also another client's customer's, looked up on a live call, and a PC
/// switched off after its person's shift. A search for other clients' customers still counts,
/// each customer once.
async fn ordinary_work_stays_quiet(backend: Backend) {
    use mamori_domain::activity::{Shift, ShiftSchedule, Weekday};
    let s = TestServer::start(backend).await;
    let (op_a, op_b) = two_teams(&s).await;
    let (client_a, _) = client_with_customers(&s, 10).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    // A second client company whose customers share the first one's numbers.
    let client_b = s
        .core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "電力B社", None, &ctx)
        .await
        .unwrap();
    let shared: Vec<_> = (0..10)
        .map(|i| mamori_core::vault::NewCustomer {
            client_id: client_b.id.clone(),
            fields: [("name_kanji".to_owned(), format!("佐藤一郎{i}")), ("phones".to_owned(), phone(i))]
                .into_iter()
                .collect(),
        })
        .collect();
    s.core.vault.create_customers(&admin, &shared, &ctx).await.unwrap();
    let mut a = person(&s, "op.a").await;
    a.client_ids = vec![client_a];

    // Six callers on live calls, each also a customer of the other client: refused, not counted.
    for i in 0..6 {
        let call = format!("pbx-{i}");
        s.core.vault.call_started(mamori_audit::Actor::System, &call, "op.a", &phone(i), &ctx).await.unwrap();
        assert_eq!(s.core.vault.find_caller(&a, &call, &ctx).await.unwrap().len(), 1);
        s.core.vault.call_ended(mamori_audit::Actor::System, &call, &ctx).await.unwrap();
    }
    let refused = s.audit("customer.lookup").await;
    let refused: Vec<_> = refused.iter().filter(|e| e.outcome == mamori_audit::Outcome::Denied).collect();
    assert_eq!(refused.len(), 6);
    assert!(refused.iter().all(|e| e.details["purpose"] == "active_call"), "{refused:?}");

    // Off the phone, five of the other client's customers (one of them three times): one alert,
    // counting customers.
    for i in [6, 7, 7, 7, 8, 9, 0] {
        s.core.vault.find_customers_by_phone(&a, &phone(i), &off_call(), &ctx).await.unwrap();
    }

    // Both PCs fall silent; op.b's shift ended an hour ago, op.a has no shifts set.
    let token = s.token(admin.user.clone(), &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let pc_a = enrol_agent(&s, &token, &op_a.id, "PC-A").await;
    let pc_b = enrol_agent(&s, &token, &op_b.id, "PC-B").await;
    for pc in [&pc_a, &pc_b] {
        assert_eq!(pc.send("/api/v1/agent/heartbeat", &json!({})).await.0, 200);
    }
    let now_jst_hour = (s.core.now().0 / 3_600_000 + 9) % 24;
    let shift = Shift {
        days: Weekday::ALL.to_vec(),
        start: format!("{:02}:00", (now_jst_hour + 24 - 9) % 24),
        end: format!("{:02}:00", (now_jst_hour + 24 - 1) % 24),
    };
    let schedule = ShiftSchedule { utc_offset_minutes: 540, shifts: vec![shift] };
    s.core.devices.set_user_shifts(&admin, &op_b.id, schedule, &ctx).await.unwrap();
    s.clock.advance(Duration::from_secs(240));
    assert_eq!(s.core.devices.sweep_silent_devices(Duration::from_secs(180)).await.unwrap(), 2);

    alerts_until(&s, &admin, 2).await;
    caught_up(&s).await;
    let alerts = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    let rules: Vec<(&str, Option<&str>)> =
        alerts.iter().map(|x| (x.record.rule.as_str(), x.record.subject_user_id.as_deref())).collect();
    assert_eq!(alerts.len(), 2, "{rules:?}");
    let other = alerts
        .iter()
        .find(|x| x.record.rule == "other_client_lookups")
        .unwrap_or_else(|| panic!("{rules:?}"));
    assert_eq!((other.record.value, other.record.threshold), (5, 5));
    assert_eq!(other.record.subject_user_id.as_deref(), Some(op_a.id.as_str()));
    let silent =
        alerts.iter().find(|x| x.record.rule == "heartbeat_lost").unwrap_or_else(|| panic!("{rules:?}"));
    assert_eq!(silent.record.subject_user_id.as_deref(), Some(op_a.id.as_str()), "op.b went home");
}
both_backends!(ordinary_work_stays_quiet);

/// Rule scopes: a rule narrowed to team B judges only team B's people (op.a's off-call lookups
/// raise nothing, op.b's do); unknown ids are refused naming the field; the change is audited,
/// and narrowing a rule with a second security admin waits for their approval.
async fn rule_scopes_narrow_who_is_judged(backend: Backend) {
    use mamori_domain::detect::RuleId;
    let s = TestServer::start(backend).await;
    let (op_a, op_b) = two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 40).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    let mut read = s.core.store().read().await.unwrap();
    let team_a = read.user_by_id(&op_a.id).await.unwrap().unwrap().team_id.unwrap();
    let team_b = read.user_by_id(&op_b.id).await.unwrap().unwrap().team_id.unwrap();
    drop(read);

    // The API refuses a team that does not exist, naming the field.
    let token = s.token(admin.user.clone(), &[Permission::SettingsManage, Permission::AlertsRead]).await;
    let api = reqwest::Client::new();
    let put = |body: Value| api.put(s.url("/api/v1/detection-rules")).bearer_auth(&token).json(&body).send();
    let mut settings = serde_json::to_value(RuleId::OffCallLookups.defaults()).unwrap();
    settings["scope"] = json!({"teams": ["no-such-team"]});
    let r = put(json!({"rules": {"off_call_lookups": settings.clone()}})).await.unwrap();
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["field"], "scope.teams", "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("off_call_lookups"), "{problem}");

    settings["scope"] = json!({"teams": [team_b]});
    let r = put(json!({"rules": {"off_call_lookups": settings}})).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["rules"]["off_call_lookups"]["scope"]["teams"], json!([team_b]));
    assert!(body["rules"]["denied_access"].get("scope").is_none(), "everywhere: not shown");
    let changed = s.audit("detection.rules_change").await;
    assert_eq!(changed[0].details["changed"], "off_call_lookups");
    assert_eq!(changed[0].details["narrowed"], "off_call_lookups");
    let stored = s.core.detection.rules(&admin, &ctx).await.unwrap().rules;
    assert_eq!(stored.get(RuleId::OffCallLookups).scope.teams, std::slice::from_ref(&team_b));

    // op.a (team A) and op.b (team B) each look up 15 customers off any call.
    for (name, from) in [("op.a", 0), ("op.b", 20)] {
        let mut p = person(&s, name).await;
        p.client_ids = vec![client.clone()];
        for i in 0..15 {
            s.core.vault.find_customers_by_phone(&p, &phone(from + i), &off_call(), &ctx).await.unwrap();
        }
    }
    alerts_until(&s, &admin, 1).await;
    caught_up(&s).await;
    let alerts = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    let off_call: Vec<_> = alerts.iter().filter(|a| a.record.rule == "off_call_lookups").collect();
    assert_eq!(off_call.len(), 1, "{alerts:?}");
    assert_eq!(off_call[0].record.subject_user_id.as_deref(), Some(op_b.id.as_str()));
    assert!(!alerts.iter().any(|a| a.record.subject_user_id.as_deref() == Some(op_a.id.as_str())));

    // With a second security admin, narrowing a scope further is privileged; widening is not.
    s.user("admin2", &[Role::SecurityAdmin]).await;
    let mut narrower = stored.clone();
    narrower.0.get_mut(&RuleId::DeniedAccess).unwrap().scope.teams = vec![team_b.clone()];
    let refused = s.core.detection.set_rules(&admin, narrower, &ctx).await.unwrap_err();
    assert!(matches!(refused, mamori_core::CoreError::ApprovalRequired), "{refused:?}");
    let mut wider = stored.clone();
    wider.0.get_mut(&RuleId::OffCallLookups).unwrap().scope.teams.push(team_a);
    s.core.detection.set_rules(&admin, wider, &ctx).await.unwrap();
}
both_backends!(rule_scopes_narrow_who_is_judged);

/// Sign-ins: outside the owner's shifts (an operator with no shifts is not judged), and from a
/// network not seen for the person — the networks are stored with the cursor, so a process
/// that never saw the earlier sign-ins (a restart after the replay window) still knows them.
async fn sign_ins_off_shift_and_from_new_networks(backend: Backend) {
    use crate::support::PASSWORD;
    use mamori_audit::RequestContext;
    use mamori_domain::activity::{Shift, ShiftSchedule, Weekday};
    use mamori_domain::detect::{PlaceKind, SeenPlace};
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    let (op_a, op_b) = two_teams(&s).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    let from = |ip: &str| RequestContext { source_ip: Some(ip.to_owned()), ..Default::default() };
    let on = |ip: &str, browser: &str| RequestContext {
        source_ip: Some(ip.to_owned()),
        browser: Some(browser.to_owned()),
        ..Default::default()
    };
    // op.a works one hour a day, starting three hours from now (JST); op.b has no shifts.
    let now_jst_hour = (s.core.now().0 / 3_600_000 + 9) % 24;
    let start = (now_jst_hour + 3) % 24;
    let shift = Shift {
        days: Weekday::ALL.to_vec(),
        start: format!("{start:02}:00"),
        end: format!("{:02}:00", start + 1),
    };
    let schedule = ShiftSchedule { utc_offset_minutes: 540, shifts: vec![shift] };
    s.core.devices.set_user_shifts(&admin, &op_a.id, schedule, &ctx).await.unwrap();
    // op.b's network from five days ago, as a process before this one stored it (the log
    // holds no sign-in of theirs: only the stored networks can know it).
    let mut tx = s.core.store().begin().await.unwrap();
    let seen = SeenPlace {
        subject: format!("user:{}", op_b.id),
        kind: PlaceKind::Network,
        place: "10.20.30.0/24".into(),
        last_seen: s.core.now().0 - 5 * 86_400_000,
    };
    tx.put_detector_places(PlaceKind::Network, &[seen], 0).await.unwrap();
    tx.commit().await.unwrap();

    s.core.identity.sign_in("op.a", PASSWORD, &on("10.20.30.40", "a0a0a0a0a0a0a0a0")).await.unwrap();
    s.core.identity.sign_in("op.b", PASSWORD, &on("198.51.100.7", "b0b0b0b0b0b0b0b0")).await.unwrap();
    s.core.identity.sign_in("op.b", PASSWORD, &from("198.51.100.8")).await.unwrap();
    s.core.identity.sign_in("op.b", PASSWORD, &on("10.20.30.41", "b0b0b0b0b0b0b0b0")).await.unwrap();
    // A browser op.b has not used before (first-seen device): one alert, low.
    s.core.identity.sign_in("op.b", PASSWORD, &on("10.20.30.42", "b1b1b1b1b1b1b1b1")).await.unwrap();
    alerts_until(&s, &admin, 3).await;
    caught_up(&s).await;
    let alerts = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    let of = |rule: &str| alerts.iter().filter(|a| a.record.rule == rule).collect::<Vec<_>>();
    let rules: Vec<_> = alerts.iter().map(|a| (a.record.rule.as_str(), a.record.subject.as_str())).collect();

    let off_shift = of("signin_off_shift");
    assert_eq!(off_shift.len(), 1, "{rules:?}");
    assert_eq!(off_shift[0].record.subject_user_id.as_deref(), Some(op_a.id.as_str()), "op.b has no shifts");
    assert_eq!(off_shift[0].record.severity, "medium");

    // op.a's first sign-in is learnt; op.b's first from 198.51.100.0/24 is new (one hit: the
    // second address is of the same /24; the third is the stored network).
    let new_network = of("first_seen_network");
    assert_eq!(new_network.len(), 1, "{rules:?}");
    let alert = &new_network[0].record;
    assert_eq!((alert.subject_user_id.as_deref(), alert.hits), (Some(op_b.id.as_str()), 1));
    let detail = s.core.detection.alert(&admin, &alert.id, &ctx).await.unwrap();
    assert_eq!(detail.evidence.len(), 1);
    assert_eq!(detail.evidence[0].action, "session.start");
    assert_eq!(detail.evidence[0].source_ip.as_deref(), Some("198.51.100.7"));
    let raised = s.audit("alert.raise").await;
    let raised = raised.iter().find(|e| e.details["rule"] == "first_seen_network").unwrap();
    assert_eq!(raised.details["network"], "198.51.100.0/24");
    assert_eq!(raised.details["known_networks"], "1");
    assert_eq!(raised.details["last_network"], "10.20.30.0/24");
    // The alert's page says it in words.
    let page = s.signed_in("admin").await.get(&format!("/alerts/{}", alert.id)).await.text().await.unwrap();
    assert!(page.contains("ネットワーク: 198.51.100.0/24"), "{page}");
    assert!(page.contains("直前に使ったネットワーク: 10.20.30.0/24"), "{page}");
    let shifts = s.audit("alert.raise").await;
    let shifts = shifts.iter().find(|e| e.details["rule"] == "signin_off_shift").unwrap();
    assert!(shifts.details["shifts"].contains(&format!("{start:02}:00")), "{shifts:?}");

    let new_browser = of("first_seen_device");
    assert_eq!(new_browser.len(), 1, "{rules:?}");
    let alert = &new_browser[0].record;
    assert_eq!((alert.subject_user_id.as_deref(), alert.severity.as_str()), (Some(op_b.id.as_str()), "low"));
    let raised = s.audit("alert.raise").await;
    let raised = raised.iter().find(|e| e.details["rule"] == "first_seen_device").unwrap();
    assert_eq!(raised.details["known_browsers"], "1");

    // What the detectors learnt is stored with the cursor, each kind apart.
    let mut read = s.core.store().read().await.unwrap();
    let stored = read.detector_places(PlaceKind::Network, &format!("user:{}", op_b.id), 0).await.unwrap();
    let nets: Vec<&str> = stored.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(nets, ["198.51.100.0/24", "10.20.30.0/24"], "oldest first");
    let stored_a = read.detector_places(PlaceKind::Network, &format!("user:{}", op_a.id), 0).await.unwrap();
    assert_eq!(stored_a.len(), 1);
    let browsers = read.detector_places(PlaceKind::Browser, &format!("user:{}", op_b.id), 0).await.unwrap();
    let mut browsers: Vec<&str> = browsers.iter().map(|(n, _)| n.as_str()).collect();
    browsers.sort_unstable();
    assert_eq!(browsers, ["b0b0b0b0b0b0b0b0", "b1b1b1b1b1b1b1b1"]);
    drop(read);

    // Through the console: a browser gets its recognition cookie with its first sign-in, and
    // its sessions are recorded under a digest of it, never the value.
    let b = s.browser();
    let r = b.sign_in("op.b", PASSWORD).await;
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    let cookie = cookies.iter().find(|c| c.starts_with("mamori_browser=")).expect("the recognition cookie");
    assert!(cookie.contains("Max-Age=34560000") && cookie.contains("HttpOnly"), "{cookie}");
    let value = cookie.trim_start_matches("mamori_browser=").split(';').next().unwrap().to_owned();
    let csrf = b.csrf("/profile").await;
    assert_eq!(b.post_form("/signout", &[("_csrf", &csrf)]).await.status(), 303);
    let r = b.sign_in("op.b", PASSWORD).await;
    assert!(
        r.headers().get_all("set-cookie").iter().all(|v| !v.to_str().unwrap().starts_with("mamori_browser=")),
        "a known browser keeps its cookie"
    );
    let starts = s.audit("session.start").await;
    let fixed = ["a0a0a0a0a0a0a0a0", "b0b0b0b0b0b0b0b0", "b1b1b1b1b1b1b1b1"];
    let browsers: Vec<&str> = starts
        .iter()
        .filter(|e| e.actor == format!("user:{}", op_b.id))
        .filter_map(|e| e.details.get("browser"))
        .map(String::as_str)
        .filter(|b| !fixed.contains(b))
        .collect();
    assert_eq!(browsers.len(), 2);
    assert_eq!(browsers[0], browsers[1]);
    assert_eq!(browsers[0], mamori_audit::browser_digest(&value));
    assert!(starts.iter().all(|e| !format!("{e:?}").contains(&value)));
}
both_backends!(sign_ins_off_shift_and_from_new_networks);

/// Administrators outside the change window: off as shipped; turned on with a window that
/// does not hold now, an administrative action (the rule change itself, then a role change)
/// is an alert naming the action and the window.
async fn administrators_outside_the_change_window(backend: Backend) {
    use mamori_domain::activity::{Shift, Weekday};
    use mamori_domain::detect::RuleId;
    let s = TestServer::start(backend).await;
    let (op_a, _) = two_teams(&s).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    let mut rules = s.core.detection.rules(&admin, &ctx).await.unwrap().rules;
    assert!(!rules.get(RuleId::AdminOffWindow).enabled, "ships off");
    // A window of one hour, starting three hours from now (JST).
    let now_jst_hour = (s.core.now().0 / 3_600_000 + 9) % 24;
    let start = (now_jst_hour + 3) % 24;
    let setting = rules.0.get_mut(&RuleId::AdminOffWindow).unwrap();
    setting.enabled = true;
    setting.change_window.as_mut().unwrap().shifts = vec![Shift {
        days: Weekday::ALL.to_vec(),
        start: format!("{start:02}:00"),
        end: format!("{:02}:00", start + 1),
    }];
    s.core.detection.set_rules(&admin, rules, &ctx).await.unwrap();
    s.core
        .identity
        .set_user_roles(&admin, &op_a.id, &[Role::Operator, Role::Supervisor], &ctx)
        .await
        .unwrap();
    let alerts = alerts_until(&s, &admin, 1).await;
    caught_up(&s).await;
    let alerts_now = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    let off_window: Vec<_> = alerts_now.iter().filter(|a| a.record.rule == "admin_off_window").collect();
    assert_eq!(off_window.len(), 1, "{alerts:?}");
    let alert = &off_window[0].record;
    assert_eq!(alert.subject_user_id.as_deref(), Some(admin.user.id.as_str()));
    assert_eq!(alert.value, 2, "the rule change and the role change, one alert");
    let detail = s.core.detection.alert(&admin, &alert.id, &ctx).await.unwrap();
    let actions: Vec<&str> = detail.evidence.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["detection.rules_change", "user.roles"]);
    let raised = s.audit("alert.raise").await;
    let raised = raised.iter().find(|e| e.details["rule"] == "admin_off_window").unwrap();
    // The action of the latest firing it was raised from (one batch or two).
    assert!(
        ["detection.rules_change", "user.roles"].contains(&raised.details["action"].as_str()),
        "{raised:?}"
    );
    assert!(raised.details["change_window"].contains(&format!("{start:02}:00")), "{raised:?}");
}
both_backends!(administrators_outside_the_change_window);

/// Lookups per handled call: the telephony's calls are in the feed (`cti.call_start`), so an
/// operator who took one call and looked up twelve customers is an alert naming the calls; an
/// operator whose calls the telephony never reported is not judged.
async fn lookups_per_handled_call(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (op_a, op_b) = two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 40).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    s.core.vault.call_started(mamori_audit::Actor::System, "pbx-1", "op.a", &phone(39), &ctx).await.unwrap();
    s.core.vault.call_ended(mamori_audit::Actor::System, "pbx-1", &ctx).await.unwrap();
    for (name, from) in [("op.a", 0), ("op.b", 20)] {
        let mut p = person(&s, name).await;
        p.client_ids = vec![client.clone()];
        for i in 0..12 {
            s.core.vault.find_customers_by_phone(&p, &phone(from + i), &off_call(), &ctx).await.unwrap();
        }
    }
    alerts_until(&s, &admin, 1).await;
    caught_up(&s).await;
    let alerts = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    let per_call: Vec<_> = alerts.iter().filter(|a| a.record.rule == "lookups_per_call").collect();
    assert_eq!(per_call.len(), 1, "{alerts:?}");
    let alert = &per_call[0].record;
    assert_eq!(alert.subject_user_id.as_deref(), Some(op_a.id.as_str()));
    assert_eq!((alert.value, alert.threshold, alert.severity.as_str()), (12, 3, "medium"));
    assert!(!alerts.iter().any(|a| a.record.subject_user_id.as_deref() == Some(op_b.id.as_str())));
    let detail = s.core.detection.alert(&admin, &alert.id, &ctx).await.unwrap();
    assert_eq!(detail.evidence[0].action, "cti.call_start", "the call behind it");
    assert_eq!(detail.evidence.iter().filter(|e| e.action == "customer.lookup").count(), 12);
    let raised = s.audit("alert.raise").await;
    let raised = raised.iter().find(|e| e.details["rule"] == "lookups_per_call").unwrap();
    assert_eq!(raised.details["calls"], "1");
    // The raise entry tells the value when it first fired: at the tenth lookup or later, as the
    // detection task's batches fell (the alert's value above keeps the largest).
    let per_call: f64 = raised.details["customers_per_call"].parse().unwrap();
    assert!((10.0..=12.0).contains(&per_call), "{:?}", raised.details);
}
both_backends!(lookups_per_handled_call);

/// Peers' baselines: the volume rule also compares an operator's hour with their teammates'
/// in the same hour (the runner marks each lookup with the team); the alert names the team's
/// median and the deviation from it.
async fn volume_against_the_team(backend: Backend) {
    use mamori_domain::detect::RuleId;
    let s = TestServer::start(backend).await;
    let (op_a, _) = two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 40).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    let team_a = s.core.store().read().await.unwrap().user_by_id(&op_a.id).await.unwrap().unwrap().team_id;
    let mut rules = s.core.detection.rules(&admin, &ctx).await.unwrap().rules;
    rules.0.get_mut(&RuleId::LookupVolume).unwrap().threshold = 10;
    rules.0.get_mut(&RuleId::LookupVolume).unwrap().responses.clear();
    s.core.detection.set_rules(&admin, rules, &ctx).await.unwrap();
    // Four teammates look up two customers each this hour.
    for n in 0..4 {
        let peer = s.user(&format!("peer.{n}"), &[Role::Operator]).await;
        let profile = mamori_store::UserProfile {
            display_name: format!("同僚 {n}"),
            team_id: team_a.clone(),
            site_id: None,
            mail_address: None,
        };
        s.core.identity.update_user_profile(&admin, &peer.id, &profile, &ctx).await.unwrap();
        let mut p = person(&s, &format!("peer.{n}")).await;
        p.client_ids = vec![client.clone()];
        for i in 0..2 {
            s.core
                .vault
                .find_customers_by_phone(&p, &phone(20 + 2 * n + i), &off_call(), &ctx)
                .await
                .unwrap();
        }
    }
    let mut a = person(&s, "op.a").await;
    a.client_ids = vec![client.clone()];
    for i in 0..12 {
        s.core.vault.find_customers_by_phone(&a, &phone(i), &off_call(), &ctx).await.unwrap();
    }
    alerts_until(&s, &admin, 1).await;
    caught_up(&s).await;
    let alerts = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    let volume: Vec<_> = alerts.iter().filter(|a| a.record.rule == "lookup_volume").collect();
    assert_eq!(volume.len(), 1, "{alerts:?}");
    assert_eq!(volume[0].record.subject_user_id.as_deref(), Some(op_a.id.as_str()));
    let raised = s.audit("alert.raise").await;
    let raised = raised.iter().find(|e| e.details["rule"] == "lookup_volume").unwrap();
    assert_eq!(raised.details["peer_group"], "team", "no client company assigned to anyone");
    assert_eq!(raised.details["peers"], "4");
    assert_eq!(raised.details["peers_median"], "2.0");
    let z: f64 = raised.details["peers_deviation"].parse().unwrap();
    assert!(z >= 3.5, "{raised:?}");
}
both_backends!(volume_against_the_team);

/// The rules page edits scopes, the change window and the days a network is remembered; a
/// window that does not parse is refused with the rule named, nothing saved.
async fn rules_page_edits_scopes_and_windows(backend: Backend) {
    use mamori_domain::detect::RuleId;
    let s = TestServer::start(backend).await;
    let (_, op_b) = two_teams(&s).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    let team_b =
        s.core.store().read().await.unwrap().user_by_id(&op_b.id).await.unwrap().unwrap().team_id.unwrap();
    let b = s.signed_in("admin").await;
    let page = b.get("/admin/detection-rules").await.text().await.unwrap();
    assert!(page.contains("name=\"scope_teams_off_call_lookups\""), "{page}");
    assert!(
        page.contains("Team B") && page.contains("name=\"window_start_admin_off_window\" value=\"09:00\"")
    );
    assert!(page.contains("name=\"memory_first_seen_network\" min=\"1\" max=\"365\" value=\"30\""));

    let rules = s.core.detection.rules(&admin, &ctx).await.unwrap().rules;
    let form = |start: &str| {
        let mut form: Vec<(String, String)> =
            vec![("_csrf".into(), String::new()), ("reason".into(), String::new())];
        for r in RuleId::ALL {
            let (code, st) = (r.as_str(), rules.get(r));
            if st.enabled {
                form.push((format!("enabled_{code}"), "on".into()));
            }
            form.push((format!("severity_{code}"), st.severity.as_str().into()));
            form.push((format!("threshold_{code}"), st.threshold.to_string()));
            form.push((format!("window_{code}"), st.window_minutes.to_string()));
            for x in &st.responses {
                form.push((format!("responses_{code}"), x.as_str().into()));
            }
        }
        form.push(("scope_teams_off_call_lookups".into(), team_b.clone()));
        form.push(("scope_teams_off_call_lookups".into(), "not-a-team".into()));
        for d in ["mon", "tue", "wed"] {
            form.push(("window_days_admin_off_window".into(), d.into()));
        }
        form.push(("window_start_admin_off_window".into(), start.into()));
        form.push(("window_end_admin_off_window".into(), "17:00".into()));
        form.push(("memory_first_seen_network".into(), "45".into()));
        form.push(("memory_first_seen_device".into(), "30".into()));
        form
    };
    let post = |mut form: Vec<(String, String)>, csrf: String| {
        form[0].1 = csrf;
        let b = &b;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b.post_form("/admin/detection-rules", &pairs).await
        }
    };
    let csrf = b.csrf("/admin/detection-rules").await;
    let refused = post(form("25:00"), csrf.clone()).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("作業時間帯外の管理操作: 作業時間帯は"), "{html}");
    assert!(s.core.detection.rules(&admin, &ctx).await.unwrap().version.is_none(), "nothing saved");

    let saved = post(form("08:30"), csrf).await;
    assert_eq!(saved.status(), 303);
    let rules = s.core.detection.rules(&admin, &ctx).await.unwrap().rules;
    assert_eq!(
        rules.get(RuleId::OffCallLookups).scope.teams,
        std::slice::from_ref(&team_b),
        "unknown ids are not offered"
    );
    let window = rules.get(RuleId::AdminOffWindow).change_window.unwrap();
    assert_eq!((window.shifts[0].start.as_str(), window.shifts[0].end.as_str()), ("08:30", "17:00"));
    assert_eq!(window.shifts[0].days.len(), 3);
    assert_eq!(rules.get(RuleId::FirstSeenNetwork).memory_days, Some(45));
    let page = b.get("/admin/detection-rules").await.text().await.unwrap();
    assert!(page.contains("チーム: Team B"), "the scope in words");
}
both_backends!(rules_page_edits_scopes_and_windows);

/// Keys that find no one (`lookup_misses`): names with birth dates tried with a reason, ten
/// distinct ones in an hour, raise an alert; the log holds keyed hashes, not the names.
async fn lookups_that_find_no_one(backend: Backend) {
    use mamori_core::vault::LookupKey;
    let s = TestServer::start(backend).await;
    two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 2).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    let mut a = person(&s, "op.a").await;
    a.client_ids = vec![client];
    for i in 0..10 {
        let key = LookupKey::NameBirth {
            name: format!("存在しない 太郎{i}"),
            birth_date: "1980-01-01".into(),
        };
        assert!(s.core.vault.find_customers(&a, &key, &off_call(), &ctx).await.unwrap().is_empty());
    }
    alerts_until(&s, &admin, 1).await;
    caught_up(&s).await;
    let alerts = s.core.detection.alerts(&admin, 7, &[], &ctx).await.unwrap();
    let misses = alerts.iter().find(|x| x.record.rule == "lookup_misses").expect("the misses' alert");
    assert_eq!((misses.record.value, misses.record.severity.as_str()), (10, "medium"));
    let lookups = s.audit("customer.lookup").await;
    assert!(lookups.iter().all(|e| e.details.get("probe").is_some_and(|p| p.starts_with("name_birth:h:"))));
    assert!(lookups.iter().all(|e| !format!("{e:?}").contains("太郎")), "no name in the log");
}
both_backends!(lookups_that_find_no_one);
