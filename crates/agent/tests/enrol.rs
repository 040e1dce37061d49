//! The real `mamori-agent` binary against a real Mamori server over TLS (issue 5, done when):
//! enrolment with a one-time token and a pinned CA, an inventory report with this machine's
//! dpkg data, a refused stranger certificate, and revocation that stops the agent at once.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_domain::{Role, SystemClock};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use support::{agent, self_signed};

mod support;

fn enrol(server: &str, token: &str, ca: &Path, state: &Path) -> (i32, String) {
    let (ca, state) = (ca.to_str().unwrap(), state.to_str().unwrap());
    agent(&["enroll", "--server", server, "--token", token, "--ca", ca, "--state-dir", state])
}

/// `mamori-agent run` in the background, a heartbeat every second.
fn spawn_run(state: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_mamori-agent"))
        .args(["run", "--state-dir", state, "--heartbeat-secs", "1"])
        .args(["--session-socket", &format!("{state}/session.sock")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrols_reports_and_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server");
    let (stranger, _) = self_signed(dir.path(), "stranger");
    let mut config = mamori_server::config::ServerConfig::defaults(dir.path().join("data"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    config.tls = Some((cert.clone(), key));
    let running = mamori_server::serve::start(config.clone(), Arc::new(SystemClock), false).await.unwrap();
    let core = running.state.core.clone();
    let server = format!("https://127.0.0.1:{}", running.addr().port());

    let now = core.now();
    let admin = mamori_store::UserRecord::new(
        uuid::Uuid::new_v4().to_string(),
        "admin".into(),
        "Admin".into(),
        vec![Role::SecurityAdmin],
        mamori_domain::identity::UserStatus::Active,
        now,
    );
    let mut tx = core.store().begin().await.unwrap();
    tx.insert_user(&admin).await.unwrap();
    tx.commit().await.unwrap();
    let principal = mamori_core::Principal::direct(&admin, Vec::new());
    let new = mamori_core::devices::NewEnrolment { valid_hours: 1, ..Default::default() };
    let (_, token) = core.devices.create_enrolment(&principal, &new, &Default::default()).await.unwrap();

    let state = dir.path().join("agent-state");
    let state_arg = state.to_str().unwrap();
    // Pinning: a server whose certificate the given CA did not sign is not talked to.
    let (code, out) = enrol(&server, &token, &stranger, &state);
    assert_ne!(code, 0, "{out}");
    assert!(!state.join("device.key").exists());
    let (code, out) = enrol(&server, &token, &cert, &state);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("enrolled as device"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.join("device.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key is the service's alone");
    }
    let (code, out) = enrol(&server, &token, &cert, &dir.path().join("again"));
    assert_ne!(code, 0, "a token enrols one PC: {out}");

    let (code, out) = agent(&["run", "--once", "--state-dir", state_arg]);
    assert_eq!(code, 0, "{out}");
    let devices = core.devices.list_devices(&principal).await.unwrap();
    assert_eq!(devices.len(), 1);
    let (device, history) =
        core.devices.device_detail(&principal, &devices[0].id, &Default::default()).await.unwrap();
    assert_eq!(device.last_ip.as_deref(), Some("127.0.0.1"));
    let inventory: mamori_proto::agent::Inventory = serde_json::from_str(&history[0].inventory).unwrap();
    if Path::new("/var/lib/dpkg/status").exists() {
        assert!(inventory.software.len() > 50, "this machine's dpkg packages: {}", inventory.software.len());
        assert!(inventory.software.iter().any(|s| s.name == "dpkg"));
    }
    assert_eq!(inventory.os_family, "linux");
    assert!(inventory.memory_mb > 0 && inventory.cpu_count > 0);

    // A running agent carries out commands as they are issued: a lock (on a PC without a desktop
    // session it fails, saying why) and an inventory refresh.
    let mut running_agent = spawn_run(state_arg);
    let finished = |id: String| {
        let core = core.clone();
        let principal = principal.clone();
        let device_id = device.id.clone();
        async move {
            for _ in 0..100 {
                let commands =
                    core.devices.device_commands(&principal, &device_id, &Default::default()).await.unwrap();
                let c = commands.into_iter().find(|c| c.id == id).unwrap();
                if c.state == "done" || c.state == "failed" {
                    return c;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the command was not carried out within 10 s");
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let lock =
        core.devices.issue_command(&principal, &device.id, "lock", None, &Default::default()).await.unwrap();
    let lock = finished(lock.id).await;
    let has_desktop =
        Command::new("loginctl").args(["list-sessions"]).output().is_ok_and(|o| o.status.success());
    if has_desktop {
        assert!(
            lock.state == "done" || lock.result.as_deref().unwrap_or("").contains("desktop session"),
            "{lock:?}"
        );
    } else {
        assert_eq!(lock.state, "failed", "{lock:?}");
        assert!(lock.result.as_deref().unwrap_or("").contains("no desktop session"), "{lock:?}");
    }
    let delivered_after = lock.delivered_at.unwrap().0 - lock.created_at.0;
    eprintln!("lock command delivered {delivered_after} ms after it was issued");
    let refresh = core
        .devices
        .issue_command(&principal, &device.id, "refresh_inventory", None, &Default::default())
        .await
        .unwrap();
    let refresh = finished(refresh.id).await;
    assert_eq!((refresh.state.as_str(), refresh.result.as_deref()), ("done", Some("inventory sent")));

    // The server goes away; the agent restarts meanwhile (its start is an event, queued on disk);
    // the server comes back: every event arrives, once.
    running.shutdown().await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    running_agent.kill().unwrap();
    running_agent.wait().unwrap();
    let mut restarted_agent = spawn_run(state_arg);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let queued = std::fs::read_dir(state.join("queue")).unwrap().count();
    assert!(queued >= 1, "the agent's start waits on disk while the server is away");
    let running = mamori_server::serve::start(config.clone(), Arc::new(SystemClock), false).await.unwrap();
    let core = running.state.core.clone();
    let mut events = Vec::new();
    for _ in 0..100 {
        events = core.devices.device_events(&principal, &device.id, 100, &Default::default()).await.unwrap();
        if events.iter().any(|e| e.kind == "connection_restored")
            && std::fs::read_dir(state.join("queue")).unwrap().count() == 0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count("agent_started"), 3, "the once-run, the first run and the restart: {events:?}");
    assert_eq!(count("connection_restored"), 1, "{events:?}");
    assert_eq!(std::fs::read_dir(state.join("queue")).unwrap().count(), 0, "nothing left behind");
    restarted_agent.kill().unwrap();
    restarted_agent.wait().unwrap();

    core.devices.revoke_device(&principal, &device.id, &Default::default()).await.unwrap();
    let (code, out) = agent(&["run", "--once", "--state-dir", state_arg]);
    assert_eq!(code, 3, "refused at once: {out}");
    assert!(out.contains("enrol it again"), "{out}");
    running.shutdown().await;
}
