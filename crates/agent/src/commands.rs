//! Carrying out remote commands without a desktop helper. On Linux, locking and signing out act on
//! the PC's desktop sessions through logind; on Windows (and for messages everywhere) the helper
//! in the user's session does it (`session.rs`). Where there is no desktop session or no helper,
//! the command fails with the reason, which the console shows.

/// What a command did, or why it could not.
pub type Outcome = Result<String, String>;

/// The desktop as commands reach it.
pub trait Desktop {
    fn lock(&self) -> Outcome;
    fn sign_out(&self) -> Outcome;
    fn message(&self, text: &str) -> Outcome;
}

/// The real desktop: on Linux through systemd-logind (`loginctl`).
pub struct Host;

#[cfg(target_os = "linux")]
impl Host {
    /// The graphical sessions (X11 or Wayland) logind knows of.
    fn desktop_sessions(&self) -> Result<Vec<String>, String> {
        let out = std::process::Command::new("loginctl")
            .args(["list-sessions", "--no-legend"])
            .output()
            .map_err(|e| format!("loginctl could not run ({e}); no systemd-logind on this PC"))?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("").trim().to_owned();
            return Err(format!("no desktop session on this PC (systemd-logind: {why})"));
        }
        let mut desktops = Vec::new();
        for id in String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().next()) {
            let kind = std::process::Command::new("loginctl")
                .args(["show-session", id, "-p", "Type", "--value"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            if kind == "x11" || kind == "wayland" {
                desktops.push(id.to_owned());
            }
        }
        if desktops.is_empty() {
            return Err("no desktop session on this PC to act on".into());
        }
        Ok(desktops)
    }

    fn each_session(&self, verb: &str, done: &str) -> Outcome {
        let sessions = self.desktop_sessions()?;
        for id in &sessions {
            let ok =
                std::process::Command::new("loginctl").args([verb, id]).status().is_ok_and(|s| s.success());
            if !ok {
                return Err(format!("loginctl {verb} {id} failed"));
            }
        }
        Ok(format!("{done} {} desktop session(s)", sessions.len()))
    }
}

#[cfg(target_os = "linux")]
impl Desktop for Host {
    fn lock(&self) -> Outcome {
        self.each_session("lock-session", "locked")
    }
    fn sign_out(&self) -> Outcome {
        self.each_session("terminate-session", "signed out")
    }
    fn message(&self, _text: &str) -> Outcome {
        self.desktop_sessions()?;
        Err("showing a message needs the agent's helper in the user's desktop session, which is not running"
            .into())
    }
}

#[cfg(not(target_os = "linux"))]
impl Desktop for Host {
    // Reached only when no desktop helper is connected: on Windows the helper does all three.
    fn lock(&self) -> Outcome {
        Err("no user is signed in to a desktop on this PC (no helper connected)".into())
    }
    fn sign_out(&self) -> Outcome {
        Err("no user is signed in to a desktop on this PC (no helper connected)".into())
    }
    fn message(&self, _text: &str) -> Outcome {
        Err("no user is signed in to a desktop on this PC (no helper connected)".into())
    }
}
