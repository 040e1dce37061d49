//! The desktop helper in a real X session (Xvfb), driven by real input (xdotool's XTEST): it
//! counts key presses and clicks and names the application in front, collects nothing while the
//! service says the operator is off shift, shows a message — and what it sends holds counts and
//! names only: the typed text and key codes never leave it (invariant 8). The test plays the
//! agent service's side of the socket, so it sees every byte the helper sends.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Command;
use support::xdotool;

mod support;
use std::time::{Duration, Instant};

/// Lines from the helper until `until` holds for one, or the time runs out.
fn read_until(
    reader: &mut BufReader<UnixStream>,
    seen: &mut Vec<String>,
    secs: u64,
    until: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return None,
            Ok(_) => {
                seen.push(line.clone());
                let v: Value = serde_json::from_str(&line).expect("every line is JSON");
                if until(&v) {
                    return Some(v);
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
            }
            Err(e) => panic!("reading the helper: {e}"),
        }
    }
    None
}

#[test]
fn the_helper_counts_input_and_sends_no_key_codes() {
    let (display, mut procs) = support::x_session(0);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.sock");
    let listener = UnixListener::bind(&path).unwrap();
    procs.0.push(
        Command::new(env!("CARGO_BIN_EXE_mamori-agent"))
            .args(["session", "--socket", path.to_str().unwrap(), "--bucket-secs", "2"])
            .env("DISPLAY", &display)
            .env_remove("XDG_SESSION_ID")
            .spawn()
            .expect("the helper starts"),
    );
    let (stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut seen = Vec::new();
    let tell = |w: &mut UnixStream, v: Value| {
        w.write_all(format!("{v}\n").as_bytes()).unwrap();
    };

    // On shift: typed text and clicks become counts.
    tell(&mut writer, serde_json::json!({"type": "collect", "on": true}));
    std::thread::sleep(Duration::from_millis(300));
    let secret = "hunter2 secret";
    xdotool(&display, &["type", "--delay", "20", secret]);
    xdotool(&display, &["click", "1"]);
    xdotool(&display, &["click", "1"]);
    let mut keys = 0;
    let mut clicks = 0;
    let mut apps = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while (keys < secret.len() as u64 || clicks < 2) && Instant::now() < deadline {
        if let Some(b) = read_until(&mut reader, &mut seen, 5, |v| v["type"] == "activity") {
            keys += b["bucket"]["keystrokes"].as_u64().unwrap();
            clicks += b["bucket"]["clicks"].as_u64().unwrap();
            apps.push(b["bucket"]["app"].clone());
        }
    }
    assert!(keys >= secret.len() as u64, "every key press counted: {keys} ({seen:?})");
    assert_eq!(clicks, 2, "{seen:?}");
    assert!(apps.contains(&Value::from("Xmessage")), "the application in front: {apps:?}");

    // Off shift: nothing is collected, so nothing is sent, whatever is typed.
    tell(&mut writer, serde_json::json!({"type": "collect", "on": false}));
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&display, &["type", "--delay", "20", "off shift typing"]);
    let during = read_until(&mut reader, &mut seen, 5, |v| v["type"] == "activity");
    assert_eq!(during, None, "no activity outside the shift");

    // A message from the center appears on the desktop.
    tell(&mut writer, serde_json::json!({"type": "show", "id": "m1", "text": "Please call your supervisor"}));
    let shown = read_until(&mut reader, &mut seen, 10, |v| v["type"] == "done").expect("an answer");
    assert_eq!(shown["id"], "m1");
    assert_eq!(shown["ok"], true, "{shown}");
    support::wait_for("the message window", || {
        !xdotool(&display, &["search", "--name", "^Mamori$"]).is_empty()
    });

    // What left the helper: counts and names in the declared fields, never what was typed.
    let all = seen.concat();
    for word in ["hunter", "secret", "shift typing", "keycode"] {
        assert!(!all.contains(word), "`{word}` left the helper: {all}");
    }
    for line in &seen {
        let v: Value = serde_json::from_str(line).unwrap();
        let mut fields: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        match v["type"].as_str().unwrap() {
            "activity" => {
                assert_eq!(fields, ["bucket", "type"]);
                let mut inner: Vec<&str> =
                    v["bucket"].as_object().unwrap().keys().map(String::as_str).collect();
                inner.sort_unstable();
                assert_eq!(inner, ["app", "browser_domain", "clicks", "idle_secs", "keystrokes", "minute"]);
            }
            "done" => assert_eq!(fields, ["detail", "id", "ok", "type"]),
            other => panic!("an unexpected message `{other}`: {line}"),
        }
    }
}

/// The whole path on this machine: the agent service over TLS, its desktop helper in an X
/// session, the operator's shifts from the server — activity typed in the session arrives at
/// the server as counts, the session's logon is an event, and a message from the console is
/// shown on the desktop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_and_messages_reach_the_desktop_through_the_service() {
    use mamori_domain::activity::{Shift, ShiftSchedule, Weekday};
    use mamori_domain::{Role, SystemClock};
    use std::sync::Arc;

    let (display, mut procs) = support::x_session(1);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = support::self_signed(dir.path(), "server");
    let mut config = mamori_server::config::ServerConfig::defaults(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.tls = Some((cert.clone(), key));
    let running = mamori_server::serve::start(config, Arc::new(SystemClock), false).await.unwrap();
    let core = running.state.core.clone();
    let server = format!("https://127.0.0.1:{}", running.addr().port());
    let mut users = Vec::new();
    for (name, role) in [("admin", Role::SecurityAdmin), ("op.one", Role::Operator)] {
        let user = mamori_store::UserRecord::new(
            uuid::Uuid::new_v4().to_string(),
            name.into(),
            name.into(),
            vec![role],
            mamori_domain::identity::UserStatus::Active,
            core.now(),
        );
        let mut tx = core.store().begin().await.unwrap();
        tx.insert_user(&user).await.unwrap();
        tx.commit().await.unwrap();
        users.push(user);
    }
    let admin = mamori_core::Principal::direct(&users[0], Vec::new());
    let all_day = ShiftSchedule {
        utc_offset_minutes: 540,
        shifts: vec![Shift { days: Weekday::ALL.to_vec(), start: "00:00".into(), end: "24:00".into() }],
    };
    core.devices.set_user_shifts(&admin, &users[1].id, all_day, &Default::default()).await.unwrap();
    let new = mamori_core::devices::NewEnrolment {
        valid_hours: 1,
        user_id: Some(users[1].id.clone()),
        ..Default::default()
    };
    let (_, token) = core.devices.create_enrolment(&admin, &new, &Default::default()).await.unwrap();
    let state = dir.path().join("agent-state");
    let state_arg = state.to_str().unwrap();
    let (code, out) = support::agent(&[
        "enroll",
        "--server",
        &server,
        "--token",
        &token,
        "--ca",
        cert.to_str().unwrap(),
        "--state-dir",
        state_arg,
    ]);
    assert_eq!(code, 0, "{out}");
    let socket = state.join("session.sock");
    let socket_arg = socket.to_str().unwrap();
    procs.0.push(
        Command::new(env!("CARGO_BIN_EXE_mamori-agent"))
            .args(["run", "--state-dir", state_arg, "--heartbeat-secs", "1", "--session-socket", socket_arg])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    support::wait_for("the service's socket", || socket.exists());
    // Typing goes on from before the helper starts until keys are seen: the server keeps the
    // first bucket of each minute (a resent one changes nothing), so every bucket the helper
    // sends must hold keys, whenever the minute turns.
    let typed_enough = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let typing = {
        let (display, typed_enough) = (display.clone(), typed_enough.clone());
        std::thread::spawn(move || {
            while !typed_enough.load(std::sync::atomic::Ordering::Relaxed) {
                xdotool(&display, &["type", "--delay", "60", "aaaaaaaaaa"]);
            }
        })
    };
    procs.0.push(
        Command::new(env!("CARGO_BIN_EXE_mamori-agent"))
            .args(["session", "--socket", socket_arg, "--bucket-secs", "2"])
            .env("DISPLAY", &display)
            .env_remove("XDG_SESSION_ID")
            .spawn()
            .unwrap(),
    );
    let device = core.devices.list_devices(&admin).await.unwrap().remove(0);
    let mut logged_on = false;
    // Up to a minute: under a loaded CI machine the helper, the service and the server's ingest
    // each take their time (15 s was once not enough).
    for _ in 0..600 {
        let events = core.devices.device_events(&admin, &device.id, 50, &Default::default()).await.unwrap();
        if events.iter().any(|e| e.kind == "session_logon" && e.data.contains("\"user\"")) {
            logged_on = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(logged_on, "the helper's connection is a logon, named by the socket's peer");

    let mut kept = Vec::new();
    for _ in 0..600 {
        kept = core.devices.device_activity(&admin, &device.id, 1, &Default::default()).await.unwrap();
        if kept.iter().any(|a| a.bucket.keystrokes > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    typed_enough.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = typing.join();
    let bucket = kept.iter().find(|a| a.bucket.keystrokes > 0).map(|a| a.bucket.clone());
    let bucket = bucket.unwrap_or_else(|| panic!("typed keys arrive as counts: {kept:?}"));
    assert_eq!(bucket.app.as_deref(), Some("Xmessage"));

    let message = core
        .devices
        .issue_command(
            &admin,
            &device.id,
            "message",
            Some("Please call your supervisor"),
            &Default::default(),
        )
        .await
        .unwrap();
    let mut done = None;
    for _ in 0..600 {
        let c = core
            .devices
            .device_commands(&admin, &device.id, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.id == message.id);
        if let Some(c) = c.filter(|c| c.state == "done" || c.state == "failed") {
            done = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = done.expect("the message command finished");
    assert_eq!(done.state, "done", "{done:?}");
    support::wait_for("the message window", || {
        !xdotool(&display, &["search", "--name", "^Mamori$"]).is_empty()
    });
    drop(procs);
    running.shutdown().await;
}
