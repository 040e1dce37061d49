//! Issue 16, done when: an operator who looks up customers in bulk outside any call raises an
//! alert, and the automatic lock reaches their PC through the real `mamori-agent` over TLS.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_domain::{Role, SystemClock};
use std::process::Command;
use std::sync::Arc;
use support::{agent, self_signed};

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_lookups_lock_the_operators_pc() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server");
    let mut config = mamori_server::config::ServerConfig::defaults(dir.path().join("data"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    config.tls = Some((cert.clone(), key));
    let running = mamori_server::serve::start(config.clone(), Arc::new(SystemClock), false).await.unwrap();
    let core = running.state.core.clone();
    let server = format!("https://127.0.0.1:{}", running.addr().port());

    let user = |name: &str, role| {
        mamori_store::UserRecord::new(
            uuid::Uuid::new_v4().to_string(),
            name.into(),
            name.into(),
            vec![role],
            mamori_domain::identity::UserStatus::Active,
            core.now(),
        )
    };
    let (admin, operator) = (user("admin", Role::SecurityAdmin), user("op", Role::Operator));
    let mut tx = core.store().begin().await.unwrap();
    tx.insert_user(&admin).await.unwrap();
    tx.insert_user(&operator).await.unwrap();
    tx.commit().await.unwrap();
    let admin = mamori_core::Principal::direct(&admin, Vec::new());
    let ctx = Default::default();
    let client = core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "Client A", None, &ctx)
        .await
        .unwrap();
    let phone = |i: usize| format!("03-5555-{:04}", 1000 + i);
    let records: Vec<_> = (0..70)
        .map(|i| mamori_core::vault::NewCustomer {
            client_id: client.id.clone(),
            fields: [("name_kanji".to_owned(), format!("顧客{i}")), ("phones".to_owned(), phone(i))].into(),
        })
        .collect();
    core.vault.create_customers(&admin, &records, &ctx).await.unwrap();

    // The operator's PC runs the real agent.
    let new = mamori_core::devices::NewEnrolment {
        valid_hours: 1,
        user_id: Some(operator.id.clone()),
        ..Default::default()
    };
    let (_, token) = core.devices.create_enrolment(&admin, &new, &ctx).await.unwrap();
    let state = dir.path().join("agent-state");
    let (ca, state_arg) = (cert.to_str().unwrap(), state.to_str().unwrap());
    let (code, out) =
        agent(&["enroll", "--server", &server, "--token", &token, "--ca", ca, "--state-dir", state_arg]);
    assert_eq!(code, 0, "{out}");
    let mut running_agent = Command::new(env!("CARGO_BIN_EXE_mamori-agent"))
        .args(["run", "--state-dir", state_arg, "--heartbeat-secs", "1"])
        .args(["--session-socket", &format!("{state_arg}/session.sock")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let device = core.devices.list_devices(&admin).await.unwrap().pop().unwrap();

    // 70 customers, none on a call, in a few seconds: the volume rule's floor is 60.
    let op = mamori_core::Principal::direct(&operator, vec![client.id.clone()]);
    let why = mamori_core::vault::Purpose::Reason {
        code: "callback".into(),
        text: "折り返しのお約束".into(),
    };
    for i in 0..70 {
        core.vault.find_customers_by_phone(&op, &phone(i), &why, &ctx).await.unwrap();
    }

    // The detectors lock the PC; the agent fetches the command and reports what it did.
    let mut lock = None;
    for _ in 0..150 {
        let commands = core.devices.device_commands(&admin, &device.id, &ctx).await.unwrap();
        lock = commands
            .into_iter()
            .find(|c| c.kind == "lock" && c.issued_by == "system" && c.finished_at.is_some());
        if lock.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = running_agent.kill();
    let _ = running_agent.wait();
    let lock = lock.expect("the automatic lock reached the agent within 15 s");
    let alerts = core.detection.alerts(&admin, 1, &[], &ctx).await.unwrap();
    let volume = alerts.iter().find(|a| a.record.rule == "lookup_volume").expect("the volume alert");
    assert_eq!(volume.record.subject_user_id.as_deref(), Some(operator.id.as_str()));
    let detail = core.detection.alert(&admin, &volume.record.id, &ctx).await.unwrap();
    assert_eq!(detail.responses[0].detail.as_deref(), Some(lock.id.as_str()));
    // On a PC without a desktop session (this test machine) the agent says why it could not lock.
    assert!(lock.delivered_at.is_some());
    let has_desktop =
        Command::new("loginctl").args(["list-sessions"]).output().is_ok_and(|o| o.status.success());
    if !has_desktop {
        assert_eq!(lock.state, "failed", "{lock:?}");
        assert!(lock.result.as_deref().unwrap_or("").contains("no desktop session"), "{lock:?}");
    }
    eprintln!(
        "lock issued {} ms after the alert's triggering lookup, delivered {} ms after it was issued",
        lock.created_at.0 - volume.record.first_at.0,
        lock.delivered_at.unwrap().0 - lock.created_at.0
    );
    running.shutdown().await;
}
