//! Supervisors act on their own team's PCs (issue 14, items 2, 3 and 7): a confirmation that
//! names the PC and its operator, the command's state coming back in words, a time limit after
//! which a command is never delivered, and the demo's simulated PCs taking commands.

use crate::both_backends;
use crate::devices::enrol_agent;
use crate::support::{Backend, TestServer, hidden_value};
use mamori_audit::Outcome;
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};
use std::time::Duration;

/// Two teams: `sv.a` supervises team A, where `op.a` (山田 花子) works; `op.b` is in team B.
pub(crate) async fn two_teams(s: &TestServer) -> (mamori_store::UserRecord, mamori_store::UserRecord) {
    let admin = s.principal_of(s.user("admin", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    let kind = mamori_store::OrgKind::Team;
    let a = s.core.identity.create_org_unit(&admin, kind, "Team A", None, &ctx).await.unwrap();
    let b = s.core.identity.create_org_unit(&admin, kind, "Team B", None, &ctx).await.unwrap();
    let sv = s.user("sv.a", &[Role::Supervisor]).await;
    let own = s.user("op.a", &[Role::Operator]).await;
    let other = s.user("op.b", &[Role::Operator]).await;
    for (user, name, team) in
        [(&sv, "佐藤 SV", &a.id), (&own, "山田 花子", &a.id), (&other, "鈴木 一郎", &b.id)]
    {
        let profile = mamori_store::UserProfile {
            display_name: name.to_owned(),
            team_id: Some(team.clone()),
            site_id: None,
            mail_address: None,
        };
        s.core.identity.update_user_profile(&admin, &user.id, &profile, &ctx).await.unwrap();
    }
    (own, other)
}

async fn supervisors_command_their_team(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    let (own_op, other_op) = two_teams(&s).await;
    let admin = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let token = s.token(&admin, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let own = enrol_agent(&s, &token, &own_op.id, "PC-A").await;
    let other = enrol_agent(&s, &token, &other_op.id, "PC-B").await;
    let sv = s.signed_in("sv.a").await;

    // The floor offers the commands on the team's rows; the confirmation names PC and operator.
    let floor = sv.get("/floor").await.text().await.unwrap();
    let confirm = format!("/devices/{}/commands?kind=lock&from=floor", own.id);
    assert!(floor.contains(&confirm.replace('&', "&amp;")), "{floor}");
    let r = sv.get(&confirm).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("本当に PC-A（山田 花子）をロックしますか？"), "{html}");
    assert!(html.contains("実行") && html.contains("キャンセル") && html.contains("60 秒"), "{html}");
    assert!(s.audit("device.command").await.is_empty(), "asking is not doing");
    let csrf = hidden_value(&html, "_csrf").unwrap();
    let path = format!("/devices/{}/commands", own.id);
    let r = sv.post_form(&path, &[("_csrf", &csrf), ("kind", "lock"), ("from", "floor")]).await;
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("/floor?device={}&command=", own.id)), "{back}");
    let html = sv.get(&back).await.text().await.unwrap();
    assert!(
        html.contains("PC-A への画面ロック: 送信待ち")
            && html.contains("data-stream=\"/floor/stream?device="),
        "{html}"
    );

    // The agent takes it and reports; the floor says so in words.
    let (_, polled) = own.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 0})).await;
    assert_eq!(polled["commands"][0]["kind"], "lock");
    let id = polled["commands"][0]["id"].as_str().unwrap().to_owned();
    let html = sv.get(&back).await.text().await.unwrap();
    assert!(html.contains("PC-A への画面ロック: 配信済み"), "{html}");
    let done = json!({"ok": true, "detail": "screen locked"});
    assert_eq!(own.send(&format!("/api/v1/agent/commands/{id}/result"), &done).await.0, 200);
    let html = sv.get(&back).await.text().await.unwrap();
    assert!(html.contains("PC-A への画面ロック: 完了"), "{html}");

    // A message is typed on its confirmation; a failure comes back with its reason.
    let html = sv.get(&format!("{path}?kind=message")).await.text().await.unwrap();
    assert!(html.contains("PC-A（山田 花子）の画面にメッセージを表示します。"), "{html}");
    assert!(html.contains("<textarea name=\"message\""), "{html}");
    let r = sv
        .post_form(&path, &[("_csrf", &csrf), ("kind", "message"), ("message", "休憩に入ってください")])
        .await;
    assert_eq!(r.headers()["location"], format!("/devices/{}?done=command_sent", own.id).as_str());
    let (_, polled) = own.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 0})).await;
    assert_eq!(polled["commands"][0]["message"], "休憩に入ってください");
    let id = polled["commands"][0]["id"].as_str().unwrap().to_owned();
    let failed = json!({"ok": false, "detail": "no desktop session"});
    own.send(&format!("/api/v1/agent/commands/{id}/result"), &failed).await;
    let html = sv.get(&format!("/devices/{}", own.id)).await.text().await.unwrap();
    assert!(html.contains("失敗（no desktop session）") && html.contains("完了"), "{html}");
    assert!(html.contains("id=\"command-lock\"") && !html.contains("id=\"revoke-device\""), "{html}");

    // Not another team's PC (not found, recorded as denied), not a refresh of the inventory.
    let theirs = format!("/devices/{}/commands", other.id);
    assert_eq!(sv.get(&format!("{theirs}?kind=lock")).await.status(), 404);
    assert_eq!(sv.post_form(&theirs, &[("_csrf", &csrf), ("kind", "lock")]).await.status(), 404);
    let denied: Vec<_> = s
        .audit("device.command")
        .await
        .into_iter()
        .filter(|e| e.outcome == Outcome::Denied)
        .filter(|e| e.object.as_deref() == Some(format!("device:{}", other.id).as_str()))
        .collect();
    assert!(!denied.is_empty(), "the refusal is recorded");
    assert_eq!(denied[0].details.get("reason").map(String::as_str), Some("team_scope"));
    assert_eq!(sv.post_form(&path, &[("_csrf", &csrf), ("kind", "refresh_inventory")]).await.status(), 403);
    let (_, polled) = other.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 0})).await;
    assert_eq!(polled["commands"].as_array().map(Vec::len), Some(0), "nothing reached team B's PC");

    // An operator commands nothing, not even their own PC.
    let op = s.signed_in("op.a").await;
    let op_csrf = op.csrf("/profile").await;
    assert_eq!(op.get(&format!("{path}?kind=lock")).await.status(), 403);
    assert_eq!(op.post_form(&path, &[("_csrf", &op_csrf), ("kind", "lock")]).await.status(), 403);

    // The admin's risky actions confirm first too: revoking a PC, disabling a user.
    let admin_b = s.signed_in("admin").await;
    let html = admin_b.get(&format!("/devices/{}", own.id)).await.text().await.unwrap();
    assert!(html.contains(&format!("href=\"/devices/{}/revoke\"", own.id)), "{html}");
    let html = admin_b.get(&format!("/devices/{}/revoke", own.id)).await.text().await.unwrap();
    assert!(html.contains("本当に PC-A（山田 花子 (op.a)）を失効させますか？"), "{html}");
    let html = admin_b.get(&format!("/admin/users/{}/disable", own_op.id)).await.text().await.unwrap();
    assert!(html.contains("本当に 山田 花子 (op.a)を無効化しますか？"), "{html}");
    assert!(html.contains(&format!("action=\"/admin/users/{}/disable\"", own_op.id)), "{html}");
    assert!(s.audit("device.revoke").await.is_empty() && s.audit("user.disable").await.is_empty());
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(supervisors_command_their_team);

/// Through the API too (an SV's tool, say): a supervisor's token with `devices.command` locks a
/// PC of their team; another team's PC is not found, a refresh of the inventory is refused.
async fn supervisors_command_through_the_api(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (own_op, other_op) = two_teams(&s).await;
    let admin = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let token = s.token(&admin, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let own = enrol_agent(&s, &token, &own_op.id, "PC-A").await;
    let other = enrol_agent(&s, &token, &other_op.id, "PC-B").await;
    let sv = s.core.store().read().await.unwrap().user_by_username("sv.a").await.unwrap().unwrap();
    let sv_token = s.token(&sv, &[Permission::DevicesCommand, Permission::DevicesRead]).await;
    let send = |id: String, kind: &'static str| {
        let (url, token) = (s.url(&format!("/api/v1/devices/{id}/commands")), sv_token.clone());
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&json!({"kind": kind}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(send(own.id.clone(), "lock").await, 201);
    assert_eq!(send(other.id.clone(), "lock").await, 404, "another team's PC is not found");
    assert_eq!(send(own.id.clone(), "refresh_inventory").await, 403, "a refresh is the admin's");
    s.stop().await;
}
both_backends!(supervisors_command_through_the_api);

/// A command not finished within `devices.command_timeout_secs` shows as timed out, is never
/// delivered, and the sweep stores and audits it; a result for one delivered in time still counts.
async fn commands_time_out(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.command_timeout = Duration::from_secs(30)).await;
    let (own_op, _) = two_teams(&s).await;
    let admin = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let token = s.token(&admin, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let agent = enrol_agent(&s, &token, &own_op.id, "PC-A").await;
    let sv = s.signed_in("sv.a").await;
    let csrf = sv.csrf("/floor").await;
    let path = format!("/devices/{}/commands", agent.id);
    let html = sv.get(&format!("{path}?kind=lock")).await.text().await.unwrap();
    assert!(html.contains("30 秒"), "the limit is the configured one: {html}");

    // A message the PC fetched but had not answered, then a lock it never fetched (it went off).
    sv.post_form(&path, &[("_csrf", &csrf), ("kind", "message"), ("message", "x")]).await;
    let (_, polled) = agent.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 0})).await;
    let message_id = polled["commands"][0]["id"].as_str().unwrap().to_owned();
    sv.post_form(&path, &[("_csrf", &csrf), ("kind", "lock")]).await;
    let lock_id = s
        .audit("device.command")
        .await
        .into_iter()
        .filter_map(|e| e.details.get("command").cloned())
        .find(|c| *c != message_id)
        .unwrap();

    s.clock.advance(Duration::from_secs(31));
    let (_, polled) = agent.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 0})).await;
    assert_eq!(polled["commands"].as_array().map(Vec::len), Some(0), "a timed-out lock is never delivered");
    let html = sv.get(&format!("/devices/{}", agent.id)).await.text().await.unwrap();
    assert_eq!(html.matches("時間切れ").count(), 2, "{html}");
    assert!(!html.contains("http-equiv=\"refresh\""), "nothing is under way any more: {html}");

    assert_eq!(s.core.devices.expire_commands().await.unwrap(), 2);
    assert_eq!(s.core.devices.expire_commands().await.unwrap(), 0, "once");
    let expired = s.audit("device.command_expire").await;
    assert_eq!(expired.len(), 2);
    let delivered = |id: &str| {
        expired
            .iter()
            .find(|e| e.details.get("command").map(String::as_str) == Some(id))
            .and_then(|e| e.details.get("delivered").cloned())
    };
    assert_eq!(delivered(&lock_id).as_deref(), Some("false"));
    assert_eq!(delivered(&message_id).as_deref(), Some("true"));
    let (_, polled) = agent.send("/api/v1/agent/commands/poll", &json!({"wait_secs": 0})).await;
    assert_eq!(polled["commands"].as_array().map(Vec::len), Some(0));
    // The message had reached the PC: its late answer is recorded; the lock never can be.
    let late = json!({"ok": true, "detail": "shown"});
    assert_eq!(agent.send(&format!("/api/v1/agent/commands/{message_id}/result"), &late).await.0, 200);
    assert_eq!(agent.send(&format!("/api/v1/agent/commands/{lock_id}/result"), &late).await.0, 404);
    let list: Value = reqwest::Client::new()
        .get(s.url(&format!("/api/v1/devices/{}/commands", agent.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let state = |id: &str| list.as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["state"].clone();
    assert_eq!((state(&lock_id), state(&message_id)), (json!("expired"), json!("done")));
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(commands_time_out);

/// The demo's simulated PCs take commands like agents: a supervisor's lock is done and the floor
/// shows the PC locked after one step of the demo, with no agent anywhere; a message is done.
async fn demo_pcs_take_commands(backend: Backend) {
    use mamori_domain::activity::FloorState;
    let s = TestServer::start(backend).await;
    s.core.load_demo().await.unwrap();
    let mut feed = mamori_core::demo::DemoDeviceFeed::default();
    s.core.demo_device_tick(&mut feed).await.unwrap();
    let read = || async { s.core.store().read().await.unwrap() };
    let sv_user = read().await.user_by_username("demo-sv01").await.unwrap().unwrap();
    let sv = s.principal_of(sv_user);
    let floor = s.core.devices.floor(&sv).await.unwrap();
    let row =
        floor.iter().find(|r| r.user.username == "demo-op01").expect("demo-op01 is in demo-sv01's team");
    let pc = row.device.clone().unwrap();
    assert_eq!(pc.hostname, "DEMO-PC-01");
    assert_ne!(row.state, FloorState::Locked);
    let ctx = Default::default();
    let lock = s.core.devices.issue_command(&sv, &pc.id, "lock", None, &ctx).await.unwrap();
    let message = s.core.devices.issue_command(&sv, &pc.id, "message", Some("休憩へ"), &ctx).await.unwrap();
    s.core.demo_device_tick(&mut feed).await.unwrap();
    let commands = s.core.devices.device_commands(&sv, &pc.id, &ctx).await.unwrap();
    let state = |id: &str| commands.iter().find(|c| c.id == id).unwrap().state.clone();
    assert_eq!((state(&lock.id), state(&message.id)), ("done".to_owned(), "done".to_owned()));
    let floor = s.core.devices.floor(&sv).await.unwrap();
    let row = floor.iter().find(|r| r.user.username == "demo-op01").unwrap();
    assert_eq!(row.state, FloorState::Locked, "the floor shows the PC locked");
    // The operator comes back a while later and unlocks.
    s.clock.advance(mamori_core::demo::DEMO_AWAY + Duration::from_secs(1));
    s.core.demo_device_tick(&mut feed).await.unwrap();
    let floor = s.core.devices.floor(&sv).await.unwrap();
    let row = floor.iter().find(|r| r.user.username == "demo-op01").unwrap();
    assert_ne!(row.state, FloorState::Locked, "unlocked again");
    assert!(!s.audit("device.command_result").await.is_empty());
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(demo_pcs_take_commands);
