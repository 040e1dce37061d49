//! The Linux desktop as the session helper sees it, through the X server (X11, or XWayland for
//! X clients): key presses and clicks from XInput2 raw events — counted, their key codes never
//! read — idle time from the MIT-SCREEN-SAVER extension, the window in front from
//! `_NET_ACTIVE_WINDOW` (or the input focus) with its `WM_CLASS` and title, and the screen lock
//! from systemd-logind's `LockedHint` for the session.

use crate::session::{DesktopSource, Front};
use anyhow::{Context, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xinput::{self, ConnectionExt as _, XIEventMask};
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, Window};
use x11rb::rust_connection::RustConnection;

/// XInput2's "all master devices" (the pointer and keyboard a user drives).
const ALL_MASTER_DEVICES: u16 = 1;

pub struct X11Desktop {
    conn: Arc<RustConnection>,
    root: Window,
    keys: Arc<AtomicU32>,
    clicks: Arc<AtomicU32>,
    atoms: Atoms,
    session_id: Option<String>,
}

struct Atoms {
    net_active_window: u32,
    net_wm_name: u32,
    utf8_string: u32,
}

impl X11Desktop {
    /// Connects to `$DISPLAY` and starts counting input.
    pub fn connect() -> Result<X11Desktop> {
        let (conn, screen) = x11rb::connect(None)
            .context("cannot reach the X display (is $DISPLAY set, in a desktop session?)")?;
        let conn = Arc::new(conn);
        let root = conn.setup().roots.get(screen).map(|s| s.root).context("the X display has no screen")?;
        conn.xinput_xi_query_version(2, 2)?.reply().context("the X server lacks XInput 2.2")?;
        conn.xinput_xi_select_events(
            root,
            &[xinput::EventMask {
                deviceid: ALL_MASTER_DEVICES,
                mask: vec![XIEventMask::RAW_KEY_PRESS | XIEventMask::RAW_BUTTON_PRESS],
            }],
        )?
        .check()?;
        let atom = |name: &[u8]| -> Result<u32> { Ok(conn.intern_atom(false, name)?.reply()?.atom) };
        let atoms = Atoms {
            net_active_window: atom(b"_NET_ACTIVE_WINDOW")?,
            net_wm_name: atom(b"_NET_WM_NAME")?,
            utf8_string: atom(b"UTF8_STRING")?,
        };
        let (keys, clicks) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        {
            let (conn, keys, clicks) = (conn.clone(), keys.clone(), clicks.clone());
            std::thread::spawn(move || {
                while let Ok(event) = conn.wait_for_event() {
                    match event {
                        // Counted, nothing more: the event's key code is never looked at.
                        Event::XinputRawKeyPress(_) => {
                            keys.fetch_add(1, Ordering::Relaxed);
                        }
                        // Buttons 1–3 are clicks; 4–7 are the scroll wheel.
                        Event::XinputRawButtonPress(e) if (1..=3).contains(&e.detail) => {
                            clicks.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
            });
        }
        Ok(X11Desktop {
            conn,
            root,
            keys,
            clicks,
            atoms,
            session_id: std::env::var("XDG_SESSION_ID").ok().filter(|s| !s.is_empty()),
        })
    }

    fn property(&self, window: Window, property: u32, kind: u32) -> Option<Vec<u8>> {
        let reply = self.conn.get_property(false, window, property, kind, 0, 1024).ok()?.reply().ok()?;
        (reply.format != 0).then_some(reply.value)
    }

    fn front_window(&self) -> Option<Window> {
        let active = self
            .property(self.root, self.atoms.net_active_window, AtomEnum::WINDOW.into())
            .and_then(|v| v.get(..4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
            .filter(|w| *w != 0);
        // Without a window manager there is no _NET_ACTIVE_WINDOW: the input focus then.
        active.or_else(|| {
            let focus = self.conn.get_input_focus().ok()?.reply().ok()?.focus;
            (focus > 1).then_some(focus)
        })
    }
}

impl DesktopSource for X11Desktop {
    fn take_input(&self) -> (u32, u32) {
        (self.keys.swap(0, Ordering::Relaxed), self.clicks.swap(0, Ordering::Relaxed))
    }

    fn idle_ms(&self) -> Option<u64> {
        use x11rb::protocol::screensaver::ConnectionExt as _;
        let info = self.conn.screensaver_query_info(self.root).ok()?.reply().ok()?;
        Some(u64::from(info.ms_since_user_input))
    }

    fn front(&self) -> Option<Front> {
        // The focused window may be a child of the application's top-level window.
        let mut window = self.front_window()?;
        for _ in 0..8 {
            if let Some(class) = self.property(window, AtomEnum::WM_CLASS.into(), AtomEnum::STRING.into()) {
                // "instance\0Class\0": the class names the application.
                let mut parts = class.split(|b| *b == 0).filter(|p| !p.is_empty());
                let instance = parts.next().map(|p| String::from_utf8_lossy(p).into_owned());
                let app = parts.next().map(|p| String::from_utf8_lossy(p).into_owned()).or(instance)?;
                let title = self
                    .property(window, self.atoms.net_wm_name, self.atoms.utf8_string)
                    .or_else(|| self.property(window, AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()))
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                return Some(Front { app, title });
            }
            let parent = self.conn.query_tree(window).ok()?.reply().ok()?.parent;
            if parent == 0 || parent == self.root {
                return None;
            }
            window = parent;
        }
        None
    }

    fn locked(&self) -> Option<bool> {
        let id = self.session_id.as_deref()?;
        let out = std::process::Command::new("loginctl")
            .args(["show-session", id, "-p", "LockedHint", "--value"])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        match String::from_utf8_lossy(&out.stdout).trim() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        }
    }

    fn show_message(&self, text: &str) -> Result<String, String> {
        // A desktop notification where there is a notification daemon, else a plain X window.
        let notified = std::process::Command::new("notify-send")
            .args(["--app-name=Mamori", "Mamori", text])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if notified {
            return Ok("shown as a desktop notification".into());
        }
        std::process::Command::new("xmessage")
            .args(["-title", "Mamori", "-center", "-buttons", "OK", "--", text])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(|mut child| {
                // Reaped when the user closes it.
                std::thread::spawn(move || child.wait());
                "shown in a window (xmessage)".to_owned()
            })
            .map_err(|e| format!("no way to show a message on this desktop (notify-send, xmessage: {e})"))
    }

    // On Linux the service locks and signs out through systemd-logind; the helper is not asked.
    fn lock_screen(&self) -> Result<String, String> {
        Err("the screen is locked through systemd-logind on Linux".into())
    }

    fn sign_out(&self) -> Result<String, String> {
        Err("the session is ended through systemd-logind on Linux".into())
    }
}
