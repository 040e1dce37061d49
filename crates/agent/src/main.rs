//! `mamori-agent`: the endpoint agent on an operator PC (issue 5). It enrols once with a one-time
//! token — creating a key pair whose private half never leaves the PC and pinning the server's
//! CA — then reports the PC's inventory on start and hourly, and a heartbeat every 30 seconds,
//! each request signed with the device key. `mamori-agent inventory` shows anyone at the PC
//! exactly what is reported.

mod client;
mod collect;
mod commands;
mod queue;
mod session;
mod state;
// The service control manager's callback is declared through a macro that holds an unsafe block.
#[cfg(windows)]
#[allow(unsafe_code)]
mod windows_service;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use client::{Client, SendError};
use commands::Desktop;
use mamori_crypto::device_auth::DeviceKey;
use mamori_domain::activity::ShiftSchedule;
use mamori_proto::agent::{
    AgentAck, CommandResult, Commands, EnrolRequest, Enrolled, EventBatch, EventData, EventsAccepted, Poll,
};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "mamori-agent", version, about = "Mamori's endpoint agent for operator PCs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enrol this PC with a one-time token from the console.
    Enroll {
        /// The server, https://…
        #[arg(long)]
        server: String,
        #[arg(long)]
        token: String,
        /// The server's CA certificate (or its own certificate), PEM: the only one trusted from now on.
        #[arg(long)]
        ca: PathBuf,
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Report to the server: inventory on start and hourly, a heartbeat every 30 s.
    Run {
        /// Report once and exit (for checks and tests).
        #[arg(long)]
        once: bool,
        #[arg(long)]
        state_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 30)]
        heartbeat_secs: u64,
        #[arg(long, default_value_t = 3600)]
        inventory_secs: u64,
        /// Where desktop helpers connect (default: /run/mamori-agent/session.sock for the system
        /// service, else session.sock in the state directory).
        #[arg(long)]
        session_socket: Option<PathBuf>,
    },
    /// The helper in a user's desktop session: counts input, notes the application in front and
    /// the screen lock, and shows messages — for the agent service, inside shifts only.
    Session {
        /// The service's socket (Windows: its named pipe).
        #[arg(long, default_value = state::DEFAULT_HELPER_SOCKET)]
        socket: PathBuf,
        /// Close a bucket every N seconds instead of every minute (for tests).
        #[arg(long, hide = true)]
        bucket_secs: Option<u64>,
    },
    /// Print the inventory this PC would report, as JSON: what the agent collects, nothing more.
    Inventory,
    /// The Windows service (on Linux: the systemd unit in crates/agent/dist/linux).
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
}

#[derive(Subcommand)]
enum ServiceAction {
    /// Register the `MamoriAgent` service, started with Windows (as an administrator).
    Install,
    /// Stop and remove it.
    Uninstall,
    /// What the service control manager starts.
    Run,
}

fn service(action: ServiceAction) -> Result<()> {
    #[cfg(windows)]
    {
        match action {
            ServiceAction::Install => windows_service::install(),
            ServiceAction::Uninstall => windows_service::uninstall(),
            ServiceAction::Run => windows_service::run_as_service(),
        }
    }
    #[cfg(not(windows))]
    {
        let _ = action;
        anyhow::bail!("on Linux, install crates/agent/dist/linux/mamori-agent.service (systemd) instead")
    }
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mamori-agent: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Enroll { server, token, ca, state_dir } => enrol(&server, &token, &ca, state_dir).await,
            Command::Run { once, state_dir, heartbeat_secs, inventory_secs, session_socket } => {
                run(once, state_dir, heartbeat_secs, inventory_secs, session_socket).await
            }
            Command::Session { socket, bucket_secs } => session_helper(&socket, bucket_secs).await,
            Command::Service { action } => service(action),
            Command::Inventory => {
                println!("{}", serde_json::to_string_pretty(&collect::inventory(&collect::Host))?);
                Ok(())
            }
        }
    });
    if let Err(e) = result {
        eprintln!("mamori-agent: {e:#}");
        let refused = e.downcast_ref::<Refused>().is_some();
        std::process::exit(if refused { 3 } else { 1 });
    }
}

/// The agent's one clock: the PC's own (the server checks it against its own and refuses a
/// request more than five minutes off).
#[allow(clippy::disallowed_methods)]
pub(crate) fn system_now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

/// `mamori-agent session`: the helper in the user's desktop session.
async fn session_helper(socket: &std::path::Path, bucket_secs: Option<u64>) -> Result<()> {
    #[cfg(target_os = "linux")]
    let desktop = collect::x11::X11Desktop::connect()?;
    #[cfg(windows)]
    let desktop = collect::win32::WindowsDesktop::start()?;
    session::run_helper(&desktop, socket, bucket_secs).await
}

/// The server refused this device: only enrolling again helps.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for Refused {}

fn lift(e: SendError) -> anyhow::Error {
    match e {
        SendError::Refused(why) => {
            Refused(format!("the server refused this device ({why}); enrol it again")).into()
        }
        SendError::Other(e) => e,
    }
}

async fn enrol(server: &str, token: &str, ca: &std::path::Path, state_dir: Option<PathBuf>) -> Result<()> {
    let ca_pem = std::fs::read(ca).with_context(|| format!("reading the CA file {}", ca.display()))?;
    let client = Client::new(server, &ca_pem)?;
    let key = DeviceKey::generate()?;
    let inventory = collect::inventory(&collect::Host);
    let request = EnrolRequest {
        token: token.trim().to_owned(),
        public_key: key.public_key(),
        hostname: inventory.hostname,
    };
    let enrolled: Enrolled =
        client.post_unsigned("/api/v1/agent/enroll", &request).await.map_err(|e| match e {
            SendError::Refused(why) => {
                anyhow::anyhow!("the enrolment token was refused ({why}); ask for a new one")
            }
            SendError::Other(e) => e,
        })?;
    let state = state::State::new(state_dir.unwrap_or_else(state::default_dir));
    let config =
        state::AgentConfig { server: server.trim_end_matches('/').to_owned(), device_id: enrolled.device_id };
    state.save(&key, &config, &ca_pem)?;
    println!("enrolled as device {} (state in {})", config.device_id, state.dir().display());
    Ok(())
}

/// A delay with up to 10 % random jitter, so a thousand PCs do not report in step.
fn jittered(secs: u64) -> Duration {
    let r = mamori_crypto::random_bytes::<2>().map(u16::from_be_bytes).unwrap_or(0);
    let spread = secs.saturating_mul(100) * u64::from(r) / u64::from(u16::MAX) / 1000;
    Duration::from_secs(secs.saturating_sub(secs / 20) + spread)
}

/// Everything a running agent needs to talk to its server.
struct Agent {
    client: Client,
    key: DeviceKey,
    device_id: String,
    /// The operator's shifts, as the server last sent them (kept on disk for offline restarts).
    shifts: std::sync::Mutex<ShiftSchedule>,
    state: state::State,
    /// The desktop helpers connected to this service.
    sessions: Option<std::sync::Arc<session::service::Sessions>>,
}

impl Agent {
    async fn send_inventory(&self) -> Result<AgentAck, SendError> {
        let inventory = collect::inventory(&collect::Host);
        let ack = self
            .client
            .post_signed(&self.key, &self.device_id, "/api/v1/agent/inventory", &inventory)
            .await?;
        self.learn_shifts(&ack);
        Ok(ack)
    }

    async fn heartbeat(&self) -> Result<AgentAck, SendError> {
        let ack: AgentAck = self
            .client
            .post_signed(&self.key, &self.device_id, "/api/v1/agent/heartbeat", &serde_json::json!({}))
            .await?;
        self.learn_shifts(&ack);
        Ok(ack)
    }

    fn learn_shifts(&self, ack: &AgentAck) {
        if let Ok(mut shifts) = self.shifts.lock()
            && *shifts != ack.shifts
        {
            *shifts = ack.shifts.clone();
            if let Err(e) = self.state.save_shifts(&shifts) {
                eprintln!("mamori-agent: could not keep the shift schedule on disk: {e:#}");
            }
        }
    }

    /// Tells the desktop helpers whether the operator is on shift now.
    fn follow_shifts(&self) {
        let on = self.shifts.lock().is_ok_and(|s| s.on_shift(mamori_domain::UnixMillis(client::now_ms())));
        if let Some(sessions) = &self.sessions {
            sessions.set_collect(on);
        }
    }

    async fn show_message(&self, text: &str) -> commands::Outcome {
        match &self.sessions {
            Some(sessions) => sessions.show(text).await,
            None => commands::Host.message(text),
        }
    }

    /// On Windows only the user's session can lock its screen or sign itself out: the helper
    /// does; on Linux the service asks logind.
    async fn lock(&self) -> commands::Outcome {
        match &self.sessions {
            Some(sessions) if cfg!(windows) => sessions.lock().await,
            _ => commands::Host.lock(),
        }
    }

    async fn sign_out(&self) -> commands::Outcome {
        match &self.sessions {
            Some(sessions) if cfg!(windows) => sessions.sign_out().await,
            _ => commands::Host.sign_out(),
        }
    }

    /// Sends queued events, oldest first, until the queue is empty; each batch is forgotten
    /// only once the server acknowledged it.
    async fn flush(&self, queue: &queue::Queue) -> Result<u64, SendError> {
        let mut sent = 0;
        loop {
            let batch = queue.peek(EVENT_BATCH).map_err(SendError::Other)?;
            if batch.is_empty() {
                return Ok(sent);
            }
            let body = EventBatch { events: batch.iter().map(|(_, e)| e.clone()).collect() };
            let _: EventsAccepted =
                self.client.post_signed(&self.key, &self.device_id, "/api/v1/agent/events", &body).await?;
            queue.remove(&batch);
            sent += batch.len() as u64;
        }
    }

    /// Waits up to `wait_secs` for commands, carries them out and reports each outcome.
    async fn poll_and_run(&self, wait_secs: u32) -> Result<usize, SendError> {
        let polled: Commands = self
            .client
            .post_signed(&self.key, &self.device_id, "/api/v1/agent/commands/poll", &Poll { wait_secs })
            .await?;
        for command in &polled.commands {
            let outcome = match command.kind.as_str() {
                "lock" => self.lock().await,
                "sign_out" => self.sign_out().await,
                "message" => self.show_message(command.message.as_deref().unwrap_or("")).await,
                "refresh_inventory" => match self.send_inventory().await {
                    Ok(_) => Ok("inventory sent".into()),
                    Err(e) => Err(e.to_string()),
                },
                other => Err(format!("this agent does not know the command `{other}`")),
            };
            let result = match outcome {
                Ok(detail) => CommandResult { ok: true, detail },
                Err(detail) => CommandResult { ok: false, detail },
            };
            let path = format!("/api/v1/agent/commands/{}/result", command.id);
            self.client.post_signed::<_, AgentAck>(&self.key, &self.device_id, &path, &result).await?;
        }
        Ok(polled.commands.len())
    }
}

/// Events per request (the server takes up to 500).
const EVENT_BATCH: usize = 200;

pub(crate) async fn run(
    once: bool,
    state_dir: Option<PathBuf>,
    heartbeat_secs: u64,
    inventory_secs: u64,
    session_socket: Option<PathBuf>,
) -> Result<()> {
    let state = state::State::new(state_dir.unwrap_or_else(state::default_dir));
    let (key, config, ca) = state.load()?;
    let queue = std::sync::Arc::new(queue::Queue::open(&state.dir().join("queue"))?);
    let sessions = if once {
        None
    } else {
        let socket = session_socket.unwrap_or_else(|| state::default_session_socket(state.dir()));
        match session::service::Sessions::listen(&socket, queue.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!(
                    "mamori-agent: desktop helpers cannot connect ({}: {e}); no activity or messages",
                    socket.display()
                );
                None
            }
        }
    };
    let agent = std::sync::Arc::new(Agent {
        client: Client::new(&config.server, &ca)?,
        key,
        device_id: config.device_id.clone(),
        shifts: std::sync::Mutex::new(state.load_shifts()),
        state,
        sessions,
    });

    queue.push(&queue::event(
        client::now_ms(),
        EventData::AgentStarted { version: env!("CARGO_PKG_VERSION").into() },
    ))?;
    if once {
        agent.send_inventory().await.map_err(lift)?;
        agent.heartbeat().await.map_err(lift)?;
        let events = agent.flush(&queue).await.map_err(lift)?;
        let n = agent.poll_and_run(0).await.map_err(lift)?;
        println!(
            "reported to {} as device {} ({events} event(s) sent, {n} command(s) carried out)",
            config.server, config.device_id
        );
        return Ok(());
    }
    // Commands arrive through a long poll of their own, so they take effect within a second or two.
    let poller = {
        let agent = agent.clone();
        tokio::spawn(async move {
            loop {
                match agent.poll_and_run(25).await {
                    Ok(_) => {}
                    Err(SendError::Refused(why)) => return lift(SendError::Refused(why)),
                    Err(e) => {
                        eprintln!("mamori-agent: command poll failed, will retry: {e}");
                        tokio::time::sleep(jittered(5)).await;
                    }
                }
            }
        })
    };
    let start = tokio::time::Instant::now();
    let mut next_inventory = start;
    let mut next_heartbeat = start;
    let mut offline_since: Option<tokio::time::Instant> = None;
    let mut usb = collect::usb::present();
    loop {
        agent.follow_shifts();
        if poller.is_finished() {
            return Err(poller.await.unwrap_or_else(|e| anyhow::anyhow!("the command poll stopped: {e}")));
        }
        let now_usb = collect::usb::present();
        let (attached, removed) = collect::usb::changes(&usb, &now_usb);
        for d in attached {
            queue.push(&queue::event(client::now_ms(), EventData::UsbAttached(d)))?;
        }
        for d in removed {
            queue.push(&queue::event(client::now_ms(), EventData::UsbRemoved(d)))?;
        }
        usb = now_usb;
        let now = tokio::time::Instant::now();
        let mut reached = None;
        if now >= next_inventory {
            match agent.send_inventory().await {
                Ok(_) => {
                    next_inventory = now + jittered(inventory_secs);
                    reached = Some(true);
                }
                Err(SendError::Refused(why)) => return Err(lift(SendError::Refused(why))),
                Err(_) => reached = Some(false),
            }
        }
        if now >= next_heartbeat {
            next_heartbeat = now + jittered(heartbeat_secs);
            match agent.heartbeat().await {
                Ok(_) => reached = Some(true),
                Err(SendError::Refused(why)) => return Err(lift(SendError::Refused(why))),
                Err(_) => reached = Some(false),
            }
        }
        match (reached, offline_since) {
            (Some(false), None) => {
                eprintln!("mamori-agent: the server cannot be reached; events are kept until it can");
                offline_since = Some(now);
            }
            (Some(true), Some(since)) => {
                let offline_secs = now.duration_since(since).as_secs();
                queue
                    .push(&queue::event(client::now_ms(), EventData::ConnectionRestored { offline_secs }))?;
                offline_since = None;
            }
            _ => {}
        }
        if offline_since.is_none() && queue.len() > 0 {
            match agent.flush(&queue).await {
                Ok(_) => {}
                Err(SendError::Refused(why)) => return Err(lift(SendError::Refused(why))),
                Err(e) => eprintln!("mamori-agent: events not sent, kept for later: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
