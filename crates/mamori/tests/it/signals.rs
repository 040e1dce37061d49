//! Signals reach the people who act on them (issue 14, items 1, 4 and 6; MON-1, MON-2, MON-4):
//! one signals page for security admins (every PC) and supervisors (their team's), a PC's page
//! with its events in words, the floor's flags linked to their signals, problems first, a live
//! stream that sends the floor again when a PC reports, and each role's home page counting it.

use crate::both_backends;
use crate::commands::two_teams;
use crate::devices::enrol_agent;
use crate::support::{Backend, TestServer};
use mamori_domain::{Permission, Role};
use serde_json::json;
use std::time::Duration;

fn usb_event(id: &str, now: i64) -> serde_json::Value {
    let usb = json!({"vendor_id": "0781", "product_id": "5581", "product": "Cruzer", "serial": null, "mass_storage": true});
    json!({"events": [
        {"id": id, "time": now - 1000, "kind": "usb_attached", "data": usb},
        {"id": format!("{id}-lock"), "time": now - 500, "kind": "screen_unlocked", "data": {}},
    ]})
}

async fn signals_reach_who_acts(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    let (own_op, other_op) = two_teams(&s).await;
    let admin = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let token = s.token(&admin, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let own = enrol_agent(&s, &token, &own_op.id, "PC-A").await;
    let other = enrol_agent(&s, &token, &other_op.id, "PC-B").await;
    let now = s.core.now().0;
    assert_eq!(own.send("/api/v1/agent/events", &usb_event("a1", now)).await.0, 200);
    assert_eq!(other.send("/api/v1/agent/events", &usb_event("b1", now)).await.0, 200);
    // A lockout of each operator: an account signal.
    let mut tx = s.core.store().begin().await.unwrap();
    for (id, user) in [("sec-a", &own_op), ("sec-b", &other_op)] {
        let event = mamori_store::SecurityEvent {
            id: id.into(),
            kind: "account_locked".into(),
            user_id: Some(user.id.clone()),
            details: json!({"failures": 5, "locked_until": now + 900_000}).to_string(),
            created_at: s.core.now(),
        };
        tx.insert_security_event(&event).await.unwrap();
    }
    tx.commit().await.unwrap();

    // The security admin sees every PC's USB stick and both lockouts, in words.
    s.user("secadmin", &[Role::SecurityAdmin]).await;
    let sec = s.signed_in("secadmin").await;
    let html = sec.get("/signals").await.text().await.unwrap();
    for expected in
        ["PC-A", "PC-B", "USB機器の接続", "ストレージ機器: はい", "製品名: Cruzer", "アカウントのロック"]
    {
        assert!(html.contains(expected), "{expected} on the admin's signals:\n{html}");
    }
    assert_eq!(html.matches("class=\"signal kind-account_locked\"").count(), 2, "{html}");
    assert!(!html.contains("kind-screen_unlocked"), "a screen unlock is not a signal");
    assert!(!html.contains(">usb_attached<") && !html.contains("mass_storage"), "no raw codes: {html}");

    // The supervisor of team A sees team A's only.
    let sv = s.signed_in("sv.a").await;
    let html = sv.get("/signals").await.text().await.unwrap();
    assert!(html.contains("PC-A") && !html.contains("PC-B"), "{html}");
    assert_eq!(html.matches("kind-account_locked").count(), 1, "their own operator's lockout only: {html}");
    assert!(html.contains("山田 花子") && !html.contains("鈴木 一郎"), "{html}");
    // Filters: by kind, by PC (another team's PC is simply not there).
    let html = sv.get("/signals?kind=off_network&period=7d").await.text().await.unwrap();
    assert!(html.contains("id=\"signals-empty\""), "{html}");
    let html = sv.get(&format!("/signals?device={}", other.id)).await.text().await.unwrap();
    assert!(html.contains("id=\"signals-empty\"") && !html.contains("PC-B</a>"), "{html}");
    let html = sec.get(&format!("/signals?device={}&kind=usb_attached", own.id)).await.text().await.unwrap();
    assert!(html.contains("PC-A") && !html.contains("PC-B</a>"), "{html}");

    // The PC's page lists its events in words, with a link to its signals and activity.
    let html = sec.get(&format!("/devices/{}", own.id)).await.text().await.unwrap();
    for expected in
        ["USB機器の接続", "画面ロック解除", "ストレージ機器: はい", "/signals?device=", "/activity"]
    {
        assert!(html.contains(expected), "{expected} on the device page:\n{html}");
    }
    // The activity page is opened on purpose, and who opened it is recorded.
    assert_eq!(sv.get(&format!("/devices/{}/activity", own.id)).await.status(), 200);
    assert_eq!(sv.get(&format!("/devices/{}/activity", other.id)).await.status(), 404);
    assert!(!s.audit("device.activity_read").await.is_empty());

    // The floor: the USB row first, its reason in words linked to the PC's USB signals.
    let html = sv.get("/floor").await.text().await.unwrap().replace("&#38;", "&");
    let link = format!("/signals?device={}&kind=usb_attached", own.id);
    assert!(html.contains(&link) && html.contains("USBストレージ"), "{html}");
    assert!(html.contains("floor-row attention"), "{html}");
    let html = sv.get("/floor?flag=network").await.text().await.unwrap();
    assert!(html.contains("id=\"floor-empty\""), "no PC off its networks: {html}");

    // Home pages count it: the supervisor's team signals, the admin's signals and lockouts.
    let html = sv.get("/dashboard").await.text().await.unwrap();
    assert!(html.contains("id=\"home-signals\""), "{html}");
    let count = |html: &str, id: &str| {
        let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("{id} in {html}"));
        let rest = &html[at..];
        let start = rest.find("class=\"number\">").unwrap() + "class=\"number\">".len();
        rest[start..start + rest[start..].find('<').unwrap()].to_owned()
    };
    assert_eq!(count(&html, "home-signals"), "2", "PC-A's USB stick and op.a's lockout");
    assert_eq!(count(&html, "home-attention"), "1");
    let html = sec.get("/dashboard").await.text().await.unwrap();
    assert_eq!(count(&html, "home-signals"), "4");
    assert!(html.contains("監査ログはまだコンソールから検証されていません"), "{html}");

    // An operator has no signals page; the refusal is recorded.
    s.user("plain.op", &[Role::Operator]).await;
    let op = s.signed_in("plain.op").await;
    assert_eq!(op.get("/signals").await.status(), 403);
    // The first wave's page sends its readers to the signals.
    assert_eq!(sec.get("/security-events").await.headers()["location"], "/signals");
    s.stop().await;
}
both_backends!(signals_reach_who_acts);

/// The floor's live stream sends the floor at once and again when a PC reports, without the
/// page asking: a screen lock turns the row to ロック中 (MON-1; item 6).
async fn floor_stream_follows_the_pcs(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    let (own_op, _) = two_teams(&s).await;
    let admin = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let token = s.token(&admin, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let own = enrol_agent(&s, &token, &own_op.id, "PC-A").await;
    // On shift around the clock: outside a shift the floor shows シフト外, locked or not.
    use mamori_domain::activity::{Shift, ShiftSchedule, Weekday};
    let shift =
        |start: &str, end: &str| Shift { days: Weekday::ALL.to_vec(), start: start.into(), end: end.into() };
    let always = ShiftSchedule {
        utc_offset_minutes: 540,
        shifts: vec![shift("00:00", "13:00"), shift("12:00", "01:00")],
    };
    let admin = s.principal_of(admin);
    s.core.devices.set_user_shifts(&admin, &own_op.id, always, &Default::default()).await.unwrap();
    let sv = s.signed_in("sv.a").await;
    let page = sv.get("/floor").await.text().await.unwrap();
    assert!(
        page.contains("src=\"/static/live.js\"") && page.contains("data-stream=\"/floor/stream"),
        "{page}"
    );

    let mut stream = sv.get("/floor/stream").await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut received = String::new();
    let mut next_event = async || -> String {
        loop {
            if let Some(end) = received.find("\n\n") {
                let event: String = received.drain(..end + 2).collect();
                if event.starts_with("event: live") {
                    return event;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(15), stream.chunk()).await;
            let chunk = chunk.expect("an event within 15 s").expect("stream").expect("not closed");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    let first = next_event().await;
    assert!(first.contains("PC-A") && !first.contains("state-locked"), "{first}");
    let lock = json!({"events": [{"id": "l1", "time": s.core.now().0, "kind": "screen_locked", "data": {}}]});
    assert_eq!(own.send("/api/v1/agent/events", &lock).await.0, 200);
    let second = next_event().await;
    assert!(second.contains("state-locked") && second.contains("ロック中"), "{second}");

    // Another team's supervisor is refused the stream like the page; so is an operator.
    s.user("plain.op", &[Role::Operator]).await;
    assert_eq!(s.signed_in("plain.op").await.get("/floor/stream").await.status(), 403);
    s.stop().await;
}
both_backends!(floor_stream_follows_the_pcs);
