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
    /// The outcome of a [`ToHelper::Show`] or [`ToHelper::Lock`].
    Done {
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
    /// Lock the screen (where only the user's session can: Windows).
    Lock { id: String },
    /// Sign the user out (Windows).
    SignOut { id: String },
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
    fn lock_screen(&self) -> Result<String, String>;
    fn sign_out(&self) -> Result<String, String>;
}

/// The helper: connects to the service (again and again while the service is away), collects
/// while the service says so, and closes a bucket at every minute — or, for tests, every
/// `bucket_secs`.
pub async fn run_helper(
    desktop: &dyn DesktopSource,
    socket: &std::path::Path,
    bucket_secs: Option<u64>,
) -> ! {
    loop {
        match transport::connect(socket).await {
            Ok((read, write)) => {
                if let Err(e) = helper_connection(desktop, read, write, bucket_secs).await {
                    eprintln!("mamori-agent session: the agent service went away ({e}); reconnecting");
                }
            }
            Err(e) => eprintln!(
                "mamori-agent session: cannot reach the agent service at {} ({e})",
                socket.display()
            ),
        }
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}

async fn helper_connection<R, W>(
    desktop: &dyn DesktopSource,
    read: R,
    mut write: W,
    bucket_secs: Option<u64>,
) -> anyhow::Result<()>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    // Lines are read by a task of their own, so a tick never cuts one in half.
    let (tx, mut from_service) = tokio::sync::mpsc::channel::<anyhow::Result<ToHelper>>(16);
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(read);
        let mut line = Vec::new();
        loop {
            let message = match service::read_line(&mut lines, &mut line).await {
                Ok(true) => serde_json::from_slice::<ToHelper>(&line).map_err(anyhow::Error::from),
                Ok(false) => Err(anyhow::anyhow!("closed")),
                Err(e) => Err(e),
            };
            let end = message.is_err();
            if tx.send(message).await.is_err() || end {
                return;
            }
        }
    });
    let now_ms = crate::client::now_ms;
    let minute_of = |t: i64| t.div_euclid(60_000) * 60_000;
    let bucket_start = |t: i64| match bucket_secs {
        Some(_) => t,
        None => minute_of(t),
    };
    let mut collect = false;
    let mut counter = MinuteCounter::new(minute_of(now_ms()));
    let mut opened = bucket_start(now_ms());
    let mut locked = desktop.locked();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut n = 0u64;
    loop {
        let mut out = Vec::new();
        tokio::select! {
            message = from_service.recv() => match message {
                Some(Ok(ToHelper::Collect { on })) => collect = on,
                Some(Ok(ToHelper::Show { id, text })) => out.push(done(id, desktop.show_message(&text))),
                Some(Ok(ToHelper::Lock { id })) => out.push(done(id, desktop.lock_screen())),
                Some(Ok(ToHelper::SignOut { id })) => out.push(done(id, desktop.sign_out())),
                Some(Err(e)) => return Err(e),
                None => anyhow::bail!("closed"),
            },
            _ = tick.tick() => {
                // Input is drained always, so nothing counted outside a shift is ever sent.
                let (keys, clicks) = desktop.take_input();
                if collect {
                    counter.add_input(keys, clicks);
                    counter.sample(desktop.idle_ms().unwrap_or(0), desktop.front().as_ref());
                }
                n += 1;
                if n.is_multiple_of(2) {
                    let now_locked = desktop.locked();
                    if now_locked.is_some() && now_locked != locked {
                        out.push(if now_locked == Some(true) { FromHelper::ScreenLocked } else { FromHelper::ScreenUnlocked });
                    }
                    locked = now_locked.or(locked);
                }
                let now = now_ms();
                let due = match bucket_secs {
                    Some(secs) => now - opened >= i64::try_from(secs * 1000).unwrap_or(i64::MAX),
                    None => bucket_start(now) != opened,
                };
                if due {
                    let finished = std::mem::replace(&mut counter, MinuteCounter::new(minute_of(now)));
                    opened = bucket_start(now);
                    if !finished.is_empty() && collect {
                        out.push(FromHelper::Activity { bucket: finished.into_bucket() });
                    }
                }
            }
        }
        for m in out {
            let mut line = serde_json::to_vec(&m)?;
            line.push(b'\n');
            write.write_all(&line).await?;
        }
    }
}

fn done(id: String, outcome: Result<String, String>) -> FromHelper {
    match outcome {
        Ok(detail) => FromHelper::Done { id, ok: true, detail },
        Err(detail) => FromHelper::Done { id, ok: false, detail },
    }
}

/// The local channel between the service and its helpers: a Unix socket, or on Windows a named
/// pipe that interactive users may open.
pub mod transport {
    use std::path::Path;

    /// The helper's end.
    #[cfg(unix)]
    pub async fn connect(
        path: &Path,
    ) -> std::io::Result<(tokio::net::unix::OwnedReadHalf, tokio::net::unix::OwnedWriteHalf)> {
        Ok(tokio::net::UnixStream::connect(path).await?.into_split())
    }

    #[cfg(windows)]
    pub async fn connect(
        path: &Path,
    ) -> std::io::Result<(
        tokio::io::ReadHalf<tokio::net::windows::named_pipe::NamedPipeClient>,
        tokio::io::WriteHalf<tokio::net::windows::named_pipe::NamedPipeClient>,
    )> {
        let pipe = tokio::net::windows::named_pipe::ClientOptions::new().open(path)?;
        Ok(tokio::io::split(pipe))
    }
}

/// The service's side: it accepts helpers, queues what they report as events, tells them
/// whether to collect, and asks them to show messages or lock the screen.
pub mod service {
    use super::{FromHelper, MAX_LINE, ToHelper};
    use crate::queue::{Queue, event};
    use mamori_proto::agent::EventData;
    use std::path::Path;
    use std::sync::Arc;
    use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
    use tokio::sync::{Mutex, broadcast, oneshot, watch};

    /// Where a helper's answer to a request goes: (done, detail).
    type Reply = oneshot::Sender<(bool, String)>;

    /// The helpers connected now, and what to tell them.
    pub struct Sessions {
        collect: watch::Sender<bool>,
        requests: broadcast::Sender<ToHelper>,
        waiting: Mutex<Vec<(String, Reply)>>,
        connected: std::sync::atomic::AtomicUsize,
    }

    impl Sessions {
        fn new() -> Arc<Sessions> {
            let (collect, _) = watch::channel(false);
            let (requests, _) = broadcast::channel(16);
            Arc::new(Sessions {
                collect,
                requests,
                waiting: Mutex::new(Vec::new()),
                connected: Default::default(),
            })
        }

        /// Listens on the Unix socket `path` (any local user may connect: the helper runs as
        /// the desktop's user, whom the socket's peer credentials name).
        #[cfg(unix)]
        pub fn listen(path: &Path, queue: Arc<Queue>) -> anyhow::Result<Arc<Sessions>> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let _ = std::fs::remove_file(path);
            let listener = tokio::net::UnixListener::bind(path)?;
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
            }
            let sessions = Sessions::new();
            let s = sessions.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let user =
                        stream.peer_cred().map(|c| user_name(c.uid())).unwrap_or_else(|_| "unknown".into());
                    let (read, write) = stream.into_split();
                    s.spawn_serve(read, write, user, queue.clone());
                }
            });
            Ok(sessions)
        }

        /// Listens on the named pipe `path` (`\\.\pipe\…`), which interactive users may open;
        /// the client process's token names the user.
        #[cfg(windows)]
        pub fn listen(path: &Path, queue: Arc<Queue>) -> anyhow::Result<Arc<Sessions>> {
            let name = path.as_os_str().to_owned();
            let mut server = crate::collect::win32::pipe_instance(&name, true)?;
            let sessions = Sessions::new();
            let s = sessions.clone();
            tokio::spawn(async move {
                loop {
                    if server.connect().await.is_err() {
                        continue;
                    }
                    let next = match crate::collect::win32::pipe_instance(&name, false) {
                        Ok(next) => next,
                        Err(e) => {
                            eprintln!("mamori-agent: the helpers' pipe failed: {e}");
                            return;
                        }
                    };
                    let connected = std::mem::replace(&mut server, next);
                    let user = crate::collect::win32::pipe_client_user(&connected);
                    let (read, write) = tokio::io::split(connected);
                    s.spawn_serve(read, write, user, queue.clone());
                }
            });
            Ok(sessions)
        }

        fn spawn_serve<R, W>(self: &Arc<Self>, read: R, write: W, user: String, queue: Arc<Queue>)
        where
            R: AsyncRead + Unpin + Send + 'static,
            W: AsyncWrite + Unpin + Send + 'static,
        {
            let s = self.clone();
            tokio::spawn(async move {
                if let Err(e) = s.serve(read, write, user, &queue).await {
                    eprintln!("mamori-agent: a desktop helper's connection ended: {e}");
                }
            });
        }

        /// Starts or stops collection in every helper.
        pub fn set_collect(&self, on: bool) {
            self.collect.send_if_modified(|c| std::mem::replace(c, on) != on);
        }

        /// Shows a message through the connected helpers; the outcome of the first to answer.
        pub async fn show(&self, text: &str) -> Result<String, String> {
            let id = crate::queue::new_event_id();
            self.request(ToHelper::Show { id: id.clone(), text: text.to_owned() }, id).await
        }

        /// Locks the screen through the connected helpers.
        pub async fn lock(&self) -> Result<String, String> {
            let id = crate::queue::new_event_id();
            self.request(ToHelper::Lock { id: id.clone() }, id).await
        }

        /// Signs the user out through the connected helpers.
        pub async fn sign_out(&self) -> Result<String, String> {
            let id = crate::queue::new_event_id();
            self.request(ToHelper::SignOut { id: id.clone() }, id).await
        }

        async fn request(&self, request: ToHelper, id: String) -> Result<String, String> {
            if self.connected.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return Err("no user is signed in to a desktop on this PC (no helper connected)".into());
            }
            let (tx, rx) = oneshot::channel();
            self.waiting.lock().await.push((id, tx));
            let _ = self.requests.send(request);
            match tokio::time::timeout(std::time::Duration::from_secs(10), rx).await {
                Ok(Ok((true, detail))) => Ok(detail),
                Ok(Ok((false, detail))) => Err(detail),
                _ => Err("the desktop helper did not answer within 10 seconds".into()),
            }
        }

        async fn serve<R, W>(&self, read: R, mut write: W, user: String, queue: &Queue) -> anyhow::Result<()>
        where
            R: AsyncRead + Unpin,
            W: AsyncWrite + Unpin,
        {
            let mut lines = BufReader::new(read);
            let mut collect = self.collect.subscribe();
            let mut requests = self.requests.subscribe();
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
                    Ok(request) = requests.recv() => {
                        if let Err(e) = write.write_all(&send(&request)).await {
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
                FromHelper::Done { id, ok, detail } => {
                    let mut waiting = self.waiting.lock().await;
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

    /// A user's name from their id (through the system's user database, so directory users
    /// resolve too), else the number.
    #[cfg(unix)]
    fn user_name(uid: u32) -> String {
        match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
            Ok(Some(user)) => user.name,
            _ => format!("uid {uid}"),
        }
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

    /// A desktop that always has a little input and a CRM window in front.
    struct BusyDesktop;

    impl DesktopSource for BusyDesktop {
        fn take_input(&self) -> (u32, u32) {
            (3, 1)
        }
        fn idle_ms(&self) -> Option<u64> {
            Some(0)
        }
        fn front(&self) -> Option<Front> {
            Some(Front { app: "crm".into(), title: String::new() })
        }
        fn locked(&self) -> Option<bool> {
            None
        }
        fn show_message(&self, text: &str) -> Result<String, String> {
            Ok(format!("shown {} characters", text.chars().count()))
        }
        fn lock_screen(&self) -> Result<String, String> {
            Ok("locked".into())
        }
        fn sign_out(&self) -> Result<String, String> {
            Ok("signed out".into())
        }
    }

    /// The service and a helper over the real local channel — a Unix socket, or under Wine a
    /// named pipe with its security descriptor and the client's user from its token: a logon
    /// naming the user, buckets queued only while collecting, a message shown and answered.
    #[tokio::test]
    async fn service_and_helper_talk_over_the_local_channel() {
        let dir = tempfile::tempdir().unwrap();
        let queue = std::sync::Arc::new(crate::queue::Queue::open(&dir.path().join("queue")).unwrap());
        #[cfg(unix)]
        let path = dir.path().join("session.sock");
        #[cfg(windows)]
        let path =
            std::path::PathBuf::from(format!(r"\\.\pipe\mamori-test-{}", crate::queue::new_event_id()));
        let sessions = service::Sessions::listen(&path, queue.clone()).unwrap();
        let helper_path = path.clone();
        tokio::spawn(async move { run_helper(&BusyDesktop, &helper_path, Some(1)).await });
        use mamori_proto::agent::EventData;
        let events = || queue.peek(100).unwrap().into_iter().map(|(_, e)| e.event).collect::<Vec<_>>();
        let mut logon = false;
        for _ in 0..100 {
            logon =
                events().iter().any(|e| matches!(e, EventData::SessionLogon { user } if !user.is_empty()));
            if logon {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(logon, "the helper's connection is a logon naming its user: {:?}", events());
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert!(!events().iter().any(|e| matches!(e, EventData::Activity(_))), "nothing before collection");
        sessions.set_collect(true);
        let mut bucket = None;
        for _ in 0..100 {
            bucket = events().into_iter().find_map(|e| match e {
                EventData::Activity(b) if b.keystrokes > 0 => Some(b),
                _ => None,
            });
            if bucket.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let bucket = bucket.expect("a bucket while collecting");
        assert_eq!(bucket.app.as_deref(), Some("crm"));
        assert_eq!(sessions.show("hello").await, Ok("shown 5 characters".into()));
        assert_eq!(sessions.lock().await, Ok("locked".into()));
        assert_eq!(sessions.sign_out().await, Ok("signed out".into()));
    }

    #[test]
    fn helper_messages_refuse_anything_but_their_fields() {
        let with_keys = r#"{"type":"activity","bucket":{"minute":0,"keystrokes":1,"clicks":0,"idle_secs":0,"app":null,"browser_domain":null,"keys":"abc"}}"#;
        assert!(serde_json::from_str::<FromHelper>(with_keys).is_err());
        let typed = r#"{"type":"typed","text":"abc"}"#;
        assert!(serde_json::from_str::<FromHelper>(typed).is_err());
    }
}
