//! The desktop-session helper and the service's side of it (issue 5; MON-1, invariant 8).
//!
//! The service runs as root (or a service account) and cannot see a user's desktop; the helper,
//! `mamori-agent session`, runs inside the user's session and reports what only it can see —
//! input counts, the application in front, idle time, the screen lock — over a local socket.
//! The service tells it when to collect (inside the operator's shifts only) and asks it to show
//! messages. Who the helper runs as comes from the socket's peer credentials, never from the
//! helper's word.
//!
//! Key codes never reach this module: the desktop source only increments counters, and a bucket
//! holds nothing but [`ActivityBucket`]'s counts and names.

use mamori_domain::activity::{ActivityBucket, is_host_name};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What the helper tells the service; one JSON object a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromHelper {
    Activity {
        bucket: ActivityBucket,
    },
    ScreenLocked,
    ScreenUnlocked,
    /// The outcome of a [`ToHelper::Show`].
    Shown {
        id: String,
        ok: bool,
        detail: String,
    },
}

/// What the service tells the helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToHelper {
    /// Collect activity (inside a shift) or not (outside: nothing at all).
    Collect { on: bool },
    /// Show a message from the center to the user.
    Show { id: String, text: String },
}

/// The longest line either side accepts: a line longer is a broken or hostile peer.
pub const MAX_LINE: usize = 4096;

/// What the desktop shows in front: its application and, for a browser, the page's host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Front {
    pub app: String,
    pub title: String,
}

/// Browsers whose window titles may carry the page's host name.
const BROWSERS: [&str; 9] = [
    "chrome",
    "chromium",
    "google-chrome",
    "firefox",
    "msedge",
    "microsoft-edge",
    "brave",
    "brave-browser",
    "opera",
];

/// The host name of the page in a browser window, when its title shows one (a page titled by
/// its address, or a title starting with it). Never a path or a query: only a bare host name
/// passes. Most pages title themselves otherwise; then there is none.
pub fn browser_domain(app: &str, title: &str) -> Option<String> {
    let app = app.to_ascii_lowercase();
    if !BROWSERS.iter().any(|b| app == *b || app.starts_with(&format!("{b}-"))) {
        return None;
    }
    title.split([' ', '|', '\u{2014}', '\u{2013}']).find_map(|token| {
        let token = token.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let host = token.strip_prefix("https://").or_else(|| token.strip_prefix("http://")).unwrap_or(token);
        let host = host.split(['/', '?', '#', ':']).next().unwrap_or("").to_ascii_lowercase();
        let tld = host.rsplit('.').next().unwrap_or("");
        (host.contains('.')
            && tld.len() >= 2
            && tld.bytes().all(|b| b.is_ascii_alphabetic())
            && is_host_name(&host))
        .then_some(host)
    })
}

/// One minute being counted: key presses and clicks as numbers, a sample of the front
/// application and of idleness every second. The application and host shown most wins.
#[derive(Debug, Clone, Default)]
pub struct MinuteCounter {
    pub minute: i64,
    keystrokes: u32,
    clicks: u32,
    idle_secs: u32,
    samples: u32,
    apps: HashMap<String, u32>,
    domains: HashMap<String, u32>,
}

impl MinuteCounter {
    pub fn new(minute: i64) -> Self {
        MinuteCounter { minute, ..Default::default() }
    }

    pub fn add_input(&mut self, keystrokes: u32, clicks: u32) {
        self.keystrokes = self.keystrokes.saturating_add(keystrokes);
        self.clicks = self.clicks.saturating_add(clicks);
    }

    /// A one-second sample: how long since the last input, and what is in front.
    pub fn sample(&mut self, idle_ms: u64, front: Option<&Front>) {
        self.samples += 1;
        if idle_ms >= 60_000 {
            self.idle_secs += 1;
        }
        if let Some(front) = front {
            if !front.app.is_empty() {
                *self.apps.entry(front.app.chars().take(128).collect()).or_default() += 1;
            }
            if let Some(d) = browser_domain(&front.app, &front.title) {
                *self.domains.entry(d).or_default() += 1;
            }
        }
    }

    /// Whether anything was collected (a minute with no samples was outside collection).
    pub fn is_empty(&self) -> bool {
        self.samples == 0 && self.keystrokes == 0 && self.clicks == 0
    }

    pub fn into_bucket(self) -> ActivityBucket {
        let most = |m: HashMap<String, u32>| {
            m.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|e| e.0)
        };
        ActivityBucket {
            minute: self.minute,
            keystrokes: self.keystrokes.min(mamori_domain::activity::MAX_KEYSTROKES_PER_MINUTE),
            clicks: self.clicks.min(mamori_domain::activity::MAX_KEYSTROKES_PER_MINUTE),
            idle_secs: self.idle_secs.min(60),
            app: most(self.apps).filter(|a| !a.chars().any(char::is_control)),
            browser_domain: most(self.domains),
        }
    }
}

/// A desktop as the helper reads it.
pub trait DesktopSource: Send + Sync {
    /// Key presses and clicks since the last call (counts only).
    fn take_input(&self) -> (u32, u32);
    /// Milliseconds since the last input.
    fn idle_ms(&self) -> Option<u64>;
    fn front(&self) -> Option<Front>;
    /// Whether the screen is locked, where the OS tells.
    fn locked(&self) -> Option<bool>;
    fn show_message(&self, text: &str) -> Result<String, String>;
}

/// The helper: connects to the service's socket (again and again while the service is away),
/// collects while the service says so, and closes a bucket at every minute — or, for tests,
/// every `bucket_secs`.
#[cfg(unix)]
pub fn run_helper(desktop: &dyn DesktopSource, socket: &std::path::Path, bucket_secs: Option<u64>) -> ! {
    loop {
        match std::os::unix::net::UnixStream::connect(socket) {
            Ok(stream) => {
                if let Err(e) = helper_connection(desktop, stream, bucket_secs) {
                    eprintln!("mamori-agent session: the agent service went away ({e}); reconnecting");
                }
            }
            Err(e) => eprintln!(
                "mamori-agent session: cannot reach the agent service at {} ({e})",
                socket.display()
            ),
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

#[cfg(unix)]
fn helper_connection(
    desktop: &dyn DesktopSource,
    stream: std::os::unix::net::UnixStream,
    bucket_secs: Option<u64>,
) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, mpsc};
    let writer = Arc::new(Mutex::new(stream.try_clone()?));
    let send = |w: &Mutex<std::os::unix::net::UnixStream>, m: &FromHelper| -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(m)?;
        line.push(b'\n');
        w.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.write_all(&line)?;
        Ok(())
    };
    let collect = Arc::new(AtomicBool::new(false));
    let (shows, to_show) = mpsc::channel::<(String, String)>();
    let (gone_tx, gone) = mpsc::channel::<String>();
    {
        let collect = collect.clone();
        let reader = std::io::BufReader::new(stream);
        std::thread::spawn(move || {
            for line in reader.split(b'\n') {
                let message = line.map_err(|e| e.to_string()).and_then(|l| {
                    if l.len() > MAX_LINE {
                        return Err("a line too long".to_owned());
                    }
                    serde_json::from_slice::<ToHelper>(&l).map_err(|e| e.to_string())
                });
                match message {
                    Ok(ToHelper::Collect { on }) => collect.store(on, Ordering::SeqCst),
                    Ok(ToHelper::Show { id, text }) => {
                        let _ = shows.send((id, text));
                    }
                    Err(e) => {
                        let _ = gone_tx.send(e);
                        return;
                    }
                }
            }
            let _ = gone_tx.send("closed".into());
        });
    }
    let now_ms = crate::client::now_ms;
    let bucket_start = |t: i64| match bucket_secs {
        Some(_) => t,
        None => t.div_euclid(60_000) * 60_000,
    };
    let mut counter = MinuteCounter::new(now_ms().div_euclid(60_000) * 60_000);
    let mut opened = bucket_start(now_ms());
    let mut locked = desktop.locked();
    let mut tick = 0u64;
    loop {
        if let Ok(why) = gone.try_recv() {
            anyhow::bail!(why);
        }
        while let Ok((id, text)) = to_show.try_recv() {
            let (ok, detail) = match desktop.show_message(&text) {
                Ok(d) => (true, d),
                Err(d) => (false, d),
            };
            send(&writer, &FromHelper::Shown { id, ok, detail })?;
        }
        // Input is drained always, so nothing counted outside a shift is ever sent.
        let (keys, clicks) = desktop.take_input();
        if collect.load(Ordering::SeqCst) {
            counter.add_input(keys, clicks);
            counter.sample(desktop.idle_ms().unwrap_or(0), desktop.front().as_ref());
        }
        tick += 1;
        if tick.is_multiple_of(2) {
            let now_locked = desktop.locked();
            if now_locked.is_some() && now_locked != locked {
                let m = if now_locked == Some(true) {
                    FromHelper::ScreenLocked
                } else {
                    FromHelper::ScreenUnlocked
                };
                send(&writer, &m)?;
            }
            locked = now_locked.or(locked);
        }
        let now = now_ms();
        let due = match bucket_secs {
            Some(secs) => now - opened >= i64::try_from(secs * 1000).unwrap_or(i64::MAX),
            None => bucket_start(now) != opened,
        };
        if due {
            let done = std::mem::replace(&mut counter, MinuteCounter::new(now.div_euclid(60_000) * 60_000));
            opened = bucket_start(now);
            if !done.is_empty() && collect.load(Ordering::SeqCst) {
                send(&writer, &FromHelper::Activity { bucket: done.into_bucket() })?;
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// The service's side: it accepts helpers on a Unix socket, queues what they report as events,
/// tells them whether to collect, and asks them to show messages.
#[cfg(unix)]
pub mod service {
    use super::{FromHelper, MAX_LINE, ToHelper};
    use crate::queue::{Queue, event};
    use mamori_proto::agent::EventData;
    use std::path::Path;
    use std::sync::Arc;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{UnixListener, UnixStream};
    use tokio::sync::{Mutex, broadcast, oneshot, watch};

    /// Where a helper's answer to a message goes: (shown, detail).
    type ShownReply = oneshot::Sender<(bool, String)>;

    /// The helpers connected now, and what to tell them.
    pub struct Sessions {
        collect: watch::Sender<bool>,
        show: broadcast::Sender<(String, String)>,
        shown: Mutex<Vec<(String, ShownReply)>>,
        connected: std::sync::atomic::AtomicUsize,
    }

    impl Sessions {
        /// Listens on `path` (any local user may connect: the helper runs as the desktop's user).
        pub fn listen(path: &Path, queue: Arc<Queue>) -> anyhow::Result<Arc<Sessions>> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let _ = std::fs::remove_file(path);
            let listener = UnixListener::bind(path)?;
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
            }
            let (collect, _) = watch::channel(false);
            let (show, _) = broadcast::channel(16);
            let sessions = Arc::new(Sessions {
                collect,
                show,
                shown: Mutex::new(Vec::new()),
                connected: Default::default(),
            });
            let s = sessions.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (s, queue) = (s.clone(), queue.clone());
                    tokio::spawn(async move {
                        if let Err(e) = s.serve(stream, &queue).await {
                            eprintln!("mamori-agent: a desktop helper's connection ended: {e}");
                        }
                    });
                }
            });
            Ok(sessions)
        }

        /// Starts or stops collection in every helper.
        pub fn set_collect(&self, on: bool) {
            self.collect.send_if_modified(|c| std::mem::replace(c, on) != on);
        }

        /// Shows a message through the connected helpers; the outcome of the first to answer.
        pub async fn show(&self, text: &str) -> Result<String, String> {
            if self.connected.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return Err("no user is signed in to a desktop on this PC (no helper connected)".into());
            }
            let id = crate::queue::new_event_id();
            let (tx, rx) = oneshot::channel();
            self.shown.lock().await.push((id.clone(), tx));
            let _ = self.show.send((id, text.to_owned()));
            match tokio::time::timeout(std::time::Duration::from_secs(10), rx).await {
                Ok(Ok((true, detail))) => Ok(detail),
                Ok(Ok((false, detail))) => Err(detail),
                _ => Err("the desktop helper did not answer within 10 seconds".into()),
            }
        }

        async fn serve(&self, stream: UnixStream, queue: &Queue) -> anyhow::Result<()> {
            let uid = stream.peer_cred()?.uid();
            let user = user_name(uid);
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read);
            let mut collect = self.collect.subscribe();
            let mut show = self.show.subscribe();
            let send = |m: &ToHelper| {
                let mut line = serde_json::to_vec(m).unwrap_or_default();
                line.push(b'\n');
                line
            };
            let on = *collect.borrow_and_update();
            write.write_all(&send(&ToHelper::Collect { on })).await?;
            queue.push(&event(crate::client::now_ms(), EventData::SessionLogon { user: user.clone() }))?;
            self.connected.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut line = Vec::new();
            let outcome = loop {
                tokio::select! {
                    read = read_line(&mut lines, &mut line) => match read {
                        Ok(false) => break Ok(()),
                        Ok(true) => {
                            if let Err(e) = self.handle(&line, queue).await {
                                break Err(e);
                            }
                        }
                        Err(e) => break Err(e),
                    },
                    Ok(()) = collect.changed() => {
                        let on = *collect.borrow_and_update();
                        if let Err(e) = write.write_all(&send(&ToHelper::Collect { on })).await {
                            break Err(e.into());
                        }
                    }
                    Ok((id, text)) = show.recv() => {
                        if let Err(e) = write.write_all(&send(&ToHelper::Show { id, text })).await {
                            break Err(e.into());
                        }
                    }
                }
            };
            self.connected.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            queue.push(&event(crate::client::now_ms(), EventData::SessionLogoff { user }))?;
            outcome
        }

        /// One line from a helper: checked, then queued as an event. A malformed line ends the
        /// connection (and nothing of it is queued).
        async fn handle(&self, line: &[u8], queue: &Queue) -> anyhow::Result<()> {
            let message: FromHelper = serde_json::from_slice(line)
                .map_err(|e| anyhow::anyhow!("a malformed message from a desktop helper: {e}"))?;
            let now = crate::client::now_ms();
            match message {
                FromHelper::Activity { bucket } => {
                    bucket.checked()?;
                    // Collection stopped (the shift ended) while the helper counted: dropped.
                    let collecting = *self.collect.borrow();
                    if collecting {
                        queue.push(&event(now, EventData::Activity(bucket)))?;
                    }
                }
                FromHelper::ScreenLocked => queue.push(&event(now, EventData::ScreenLocked {}))?,
                FromHelper::ScreenUnlocked => queue.push(&event(now, EventData::ScreenUnlocked {}))?,
                FromHelper::Shown { id, ok, detail } => {
                    let mut waiting = self.shown.lock().await;
                    if let Some(i) = waiting.iter().position(|(w, _)| *w == id) {
                        let (_, tx) = waiting.swap_remove(i);
                        let detail: String = detail.chars().filter(|c| !c.is_control()).take(200).collect();
                        let _ = tx.send((ok, detail));
                    }
                }
            }
            Ok(())
        }
    }

    /// Reads one line of at most [`MAX_LINE`] bytes; false at the end of the stream.
    pub async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
        reader: &mut R,
        line: &mut Vec<u8>,
    ) -> anyhow::Result<bool> {
        line.clear();
        let n =
            tokio::io::AsyncReadExt::take(&mut *reader, MAX_LINE as u64 + 1).read_until(b'\n', line).await?;
        if n == 0 {
            return Ok(false);
        }
        if line.last() != Some(&b'\n') {
            anyhow::bail!("a line longer than {MAX_LINE} bytes");
        }
        line.pop();
        Ok(true)
    }

    /// A user's name from their id (`/etc/passwd`), else the number.
    fn user_name(uid: u32) -> String {
        std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|p| {
                p.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_owned())
                })
            })
            .unwrap_or_else(|| format!("uid {uid}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_host_name_is_taken_from_a_browser_title() {
        assert_eq!(
            browser_domain("chrome", "crm.example.co.jp - Google Chrome"),
            Some("crm.example.co.jp".into())
        );
        assert_eq!(
            browser_domain("firefox", "https://mail.example.com/inbox?id=42 — Mozilla Firefox"),
            Some("mail.example.com".into())
        );
        assert_eq!(browser_domain("chrome", "Customer 42 - CRM - Google Chrome"), None);
        assert_eq!(browser_domain("chrome", "version 1.2 notes"), None, "numbers are no host");
        assert_eq!(browser_domain("Xmessage", "crm.example.co.jp"), None, "not a browser");
    }

    #[test]
    fn a_minute_keeps_counts_and_the_application_most_in_front() {
        let mut m = MinuteCounter::new(120_000);
        m.add_input(40, 2);
        let crm = Front { app: "chrome".into(), title: "crm.example.co.jp".into() };
        let chat = Front { app: "Teams".into(), title: "Chat".into() };
        for _ in 0..40 {
            m.sample(100, Some(&crm));
        }
        for _ in 0..20 {
            m.sample(61_000, Some(&chat));
        }
        m.add_input(2, 0);
        let b = m.into_bucket();
        assert_eq!((b.keystrokes, b.clicks, b.idle_secs), (42, 2, 20));
        assert_eq!(b.app.as_deref(), Some("chrome"));
        assert_eq!(b.browser_domain.as_deref(), Some("crm.example.co.jp"));
        assert_eq!(b.checked(), Ok(()));
    }

    #[test]
    fn helper_messages_refuse_anything_but_their_fields() {
        let with_keys = r#"{"type":"activity","bucket":{"minute":0,"keystrokes":1,"clicks":0,"idle_secs":0,"app":null,"browser_domain":null,"keys":"abc"}}"#;
        assert!(serde_json::from_str::<FromHelper>(with_keys).is_err());
        let typed = r#"{"type":"typed","text":"abc"}"#;
        assert!(serde_json::from_str::<FromHelper>(typed).is_err());
    }
}
