//! What the agent's end-to-end tests share: running the real binary, a self-signed server
//! certificate, and a real X session (Xvfb) driven by xdotool.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `mamori-agent` to its end: exit code and everything it printed.
pub fn agent(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mamori-agent")).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

pub fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_path, key_path) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// Kills its processes when the test ends, however it ends — the first (the X server) last,
/// and removes what a killed X server leaves behind.
pub struct Processes(pub Vec<Child>, pub Option<u32>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in self.0.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(n) = self.1 {
            let _ = std::fs::remove_file(format!("/tmp/.X{n}-lock"));
            let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
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

pub fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new("xdotool").args(args).env("DISPLAY", display).output().expect("xdotool runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh X server with an application window (`xmessage`, class `Xmessage`) in front.
pub fn x_session(offset: u32) -> (String, Processes) {
    for tool in ["Xvfb", "xdotool", "xmessage"] {
        need(tool);
    }
    // A display number no other X server (or a killed one's leftovers) holds.
    let free = |n: u32| {
        !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            && !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
    };
    let first = 100 + offset + std::process::id() % 100 * 2;
    let n = (first..first + 400).step_by(2).find(|n| free(*n)).expect("a free X display number");
    let display = format!(":{n}");
    let mut procs = Processes(Vec::new(), Some(n));
    procs.0.push(
        Command::new("Xvfb")
            // -noreset: an X server resets when its last client leaves, and a client that
            // connects during the reset is refused.
            .args([display.as_str(), "-noreset", "-nolisten", "tcp", "-screen", "0", "1024x768x24"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts"),
    );
    // Its socket appears a moment before it takes clients: wait until one can talk to it.
    wait_for("Xvfb to take clients", || !xdotool(&display, &["getdisplaygeometry"]).trim().is_empty());
    procs.0.push(
        Command::new("xmessage")
            .args(["-name", "crmwin", "-title", "crm.example.co.jp", "customer card"])
            .env("DISPLAY", &display)
            .stderr(Stdio::null())
            .spawn()
            .expect("xmessage starts"),
    );
    wait_for("the window to appear", || !xdotool(&display, &["search", "--class", "Xmessage"]).is_empty());
    let window = xdotool(&display, &["search", "--class", "Xmessage"]);
    xdotool(&display, &["windowfocus", "--sync", window.lines().next().unwrap_or("")]);
    (display, procs)
}

pub fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "waited 15 s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
