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
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills its processes when the test ends, however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is missing: run scripts/install-test-deps.sh (scripts/test.sh does)");
}

fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new("xdotool").args(args).env("DISPLAY", display).output().expect("xdotool runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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
    for tool in ["Xvfb", "xdotool", "xmessage"] {
        need(tool);
    }
    let n = 40 + std::process::id() % 50;
    let display = format!(":{n}");
    let mut procs = Processes(Vec::new());
    procs.0.push(
        Command::new("Xvfb")
            .args([display.as_str(), "-nolisten", "tcp", "-screen", "0", "1024x768x24"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts"),
    );
    let socket_file = format!("/tmp/.X11-unix/X{n}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::path::Path::new(&socket_file).exists() {
        assert!(Instant::now() < deadline, "Xvfb did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // An application window in front: its class names the application.
    procs.0.push(
        Command::new("xmessage")
            .args(["-name", "crmwin", "-title", "crm.example.co.jp", "customer card"])
            .env("DISPLAY", &display)
            .stderr(Stdio::null())
            .spawn()
            .expect("xmessage starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let window = loop {
        let w = xdotool(&display, &["search", "--class", "Xmessage"]);
        if let Some(w) = w.lines().next() {
            break w.to_owned();
        }
        assert!(Instant::now() < deadline, "the window did not appear");
        std::thread::sleep(Duration::from_millis(100));
    };
    xdotool(&display, &["windowfocus", "--sync", &window]);

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
    let shown = read_until(&mut reader, &mut seen, 10, |v| v["type"] == "shown").expect("an answer");
    assert_eq!(shown["id"], "m1");
    assert_eq!(shown["ok"], true, "{shown}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while xdotool(&display, &["search", "--name", "^Mamori$"]).trim().is_empty() {
        assert!(Instant::now() < deadline, "the message window did not appear");
        std::thread::sleep(Duration::from_millis(100));
    }

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
            "shown" => assert_eq!(fields, ["detail", "id", "ok", "type"]),
            other => panic!("an unexpected message `{other}`: {line}"),
        }
    }
}
