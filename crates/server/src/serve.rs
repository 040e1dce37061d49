//! Start-up and shutdown: data directory and keys, database and migrations, the first-start
//! setup link, the demo, TLS, and a graceful stop.

use crate::config::ServerConfig;
use crate::{AppState, app};
use mamori_audit::checkpoint::{CheckpointSigner, default_origin};
use mamori_core::demo::DemoAccount;
use mamori_core::identity::setup::SetupState;
use mamori_core::{Core, Keys, Policies};
use mamori_crypto::keyed_id::IdHasher;
use mamori_crypto::secret_box::SecretBox;
use mamori_domain::Clock;
use mamori_store_sql::Database;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {problem}")]
    DataDir { path: String, problem: String },
    #[error(transparent)]
    Keys(#[from] mamori_crypto::CryptoError),
    #[error(transparent)]
    Store(#[from] mamori_core::StoreError),
    #[error("{0}")]
    Core(#[from] mamori_core::CoreError),
    #[error("cannot listen on {addr}: {problem}")]
    Bind { addr: SocketAddr, problem: String },
    #[error("TLS: {0}; check --tls-cert and --tls-key (PEM files)")]
    Tls(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Forwarding(#[from] crate::forwarding::ForwardingError),
    #[error("the mail relay: {0}")]
    MailRelay(String),
}

/// What start-up has to tell the person who started the server.
#[derive(Debug)]
pub struct Started {
    pub addr: SocketAddr,
    pub setup: SetupState,
    pub demo: Option<Vec<DemoAccount>>,
    pub backend: &'static str,
    /// Where the SMTP submission relay listens, when it is configured.
    pub mail_addr: Option<SocketAddr>,
}

/// A running server.
pub struct Running {
    pub started: Started,
    pub state: AppState,
    handle: axum_server::Handle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    checkpointer: tokio::task::JoinHandle<()>,
    demo_calls: Option<tokio::task::JoinHandle<()>>,
    command_watch: tokio::task::JoinHandle<()>,
    forwarders: crate::forwarding::Forwarders,
    mail_listener: Option<crate::mail_relay::Listener>,
    mail_outbox: tokio::task::JoinHandle<()>,
    detection: FeedTask,
    evidence: FeedTask,
}

/// A task reading the audit log through a feed (detection, live evidence), and the names of
/// the feed and of the holder of its lease.
struct FeedTask {
    task: tokio::task::JoinHandle<()>,
    feed: &'static str,
    holder: String,
}

impl FeedTask {
    /// Stops the task and hands its feed back, so another replica resumes at once.
    async fn stop(self, core: &Core) {
        self.task.abort();
        if let Err(e) = core.audit.audit_feed(self.feed, &self.holder).release().await {
            tracing::warn!(error = %e, feed = self.feed, "handing a feed back failed");
        }
    }
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.started.addr
    }

    /// Stops accepting, lets requests in flight finish (up to 10 s), signs a last checkpoint
    /// over everything they logged, and returns.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(10)));
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "server stopped with an error"),
            Err(e) => tracing::error!(error = %e, "server task failed"),
        }
        self.checkpointer.abort();
        self.command_watch.abort();
        if let Some(listener) = self.mail_listener {
            listener.stop();
        }
        self.mail_outbox.abort();
        self.detection.stop(&self.state.core).await;
        self.evidence.stop(&self.state.core).await;
        if let Some(feed) = self.demo_calls {
            feed.abort();
        }
        self.forwarders.stop(&self.state.core).await;
        if let Err(e) = self.state.core.devices.flush_device_contacts().await {
            tracing::warn!(error = %e, "recording device contacts at shutdown failed");
        }
        checkpoint_now(&self.state.core).await;
    }
}

fn data_dir_err(path: &Path, e: impl std::fmt::Display) -> StartError {
    StartError::DataDir { path: path.display().to_string(), problem: e.to_string() }
}

/// Creates a private directory (0700) if it is missing.
fn private_dir(path: &Path) -> Result<(), StartError> {
    std::fs::create_dir_all(path).map_err(|e| data_dir_err(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|e| data_dir_err(path, e))
}

/// Opens everything the server needs, in order: keys, database (migrations run here), services.
pub async fn open_core(config: &ServerConfig, clock: Arc<dyn Clock>) -> Result<Core, StartError> {
    private_dir(&config.data_dir)?;
    let keys = config.data_dir.join("keys");
    private_dir(&keys)?;
    let (key, created) = mamori_crypto::keyfile::load_or_create_32(&keys.join("secret-box.key"))?;
    if created {
        tracing::info!(path = %keys.display(), "created the server's secret key (mode 0600); back it up with the database");
    }
    let db = match &config.database_url {
        Some(url) => Database::Postgres(url.clone()),
        None => Database::Sqlite(config.data_dir.join("mamori.db")),
    };
    let (audit_key, created) = mamori_crypto::keyfile::load_or_create_32(&keys.join("audit-signing.key"))?;
    if created {
        tracing::info!(
            "created the audit log's signing key (mode 0600); `mamori audit public-key` prints its public half"
        );
    }
    let signer =
        CheckpointSigner::new(&default_origin(&audit_key), &audit_key).map_err(|e| data_dir_err(&keys, e))?;
    // Kept apart from the log: whoever holds a copy of the log cannot link its entries to customers.
    let (id_key, _) = mamori_crypto::keyfile::load_or_create_32(&keys.join("audit-ids.key"))?;
    let vault_kek = mamori_crypto::kek_file::FileKeyProvider::open(&keys.join("vault-kek.keys"))?;
    let (index_key, _) = mamori_crypto::keyfile::load_or_create_32(&keys.join("vault-index.key"))?;
    let (mail_key, _) = mamori_crypto::keyfile::load_or_create_32(&keys.join("mail.key"))?;
    let store = mamori_store_sql::open(&db).await?;
    let policies = Policies {
        session: config.session,
        lockout: config.lockout,
        reveals: config.reveals,
        import_max_listed_problems: config.import_max_listed_problems,
        command_timeout: config.command_timeout,
        notify_webhook: config.webhook.is_some(),
        notify_mail: config.mail_notify.is_some(),
        notify_alert_severity: config.alert_min_severity,
        public_url: config.public_url.clone(),
        ..Policies::default()
    };
    let keys = Keys {
        secrets: SecretBox::new(&key),
        audit_signer: signer,
        audit_ids: IdHasher::new(&id_key),
        vault_kek: Arc::new(vault_kek),
        vault_index: IdHasher::new(&index_key),
        mail: SecretBox::new(&mail_key),
    };
    Ok(Core::new(store, clock, keys, policies))
}

/// Starts the server and returns once it is listening.
pub async fn start(config: ServerConfig, clock: Arc<dyn Clock>, demo: bool) -> Result<Running, StartError> {
    config.check_transport()?;
    let core = open_core(&config, clock).await?;
    core.audit.check_audit_key().await?;
    core.devices.move_rules_out_of_settings().await?;
    core.isms.install_built_in_catalogs().await?;
    core.isms.ensure_risk_assessment().await?;
    let backend = core.storage_backend();
    let demo = if demo { Some(core.load_demo().await?) } else { None };
    let setup = core.identity.prepare_setup().await?;

    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| StartError::Bind { addr: config.listen, problem: e.to_string() })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| StartError::Bind { addr: config.listen, problem: e.to_string() })?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind { addr: config.listen, problem: e.to_string() })?;

    let tls = match &config.tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .map_err(|e| StartError::Tls(e.to_string()))?,
            )
        }
        None => None,
    };

    let state = AppState::new(core, config);
    let router = app(state.clone());
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let task = match tls {
        Some(tls) => {
            let server = axum_server::from_tcp_rustls(listener, tls).handle(handle.clone());
            tokio::spawn(async move { server.serve(service).await })
        }
        None => {
            let server = axum_server::from_tcp(listener).handle(handle.clone());
            tokio::spawn(async move { server.serve(service).await })
        }
    };
    spawn_housekeeping(state.clone());
    if let Some(hook) = state.config.webhook.clone() {
        crate::notify::spawn(state.core.clone(), hook);
    }
    if let Some(mail) = state.config.mail_notify.clone() {
        crate::notify::spawn_mail(state.core.clone(), mail).map_err(StartError::MailRelay)?;
    }
    let command_watch = spawn_command_watch(state.core.clone());
    let demo_calls = demo.is_some().then(|| spawn_demo_calls(state.core.clone()));
    let checkpointer = spawn_checkpointer(state.core.clone());
    let detection = spawn_detection(state.core.clone());
    let evidence = spawn_evidence(state.core.clone());
    let forwarders = crate::forwarding::start(&state.core, &state.config.forwarding)?;
    let mail_outbox = crate::mail_relay::spawn_outbox(state.clone(), state.config.mail.clone())
        .map_err(StartError::MailRelay)?;
    let mail_listener = match state.config.mail.clone() {
        Some(relay) => {
            Some(crate::mail_relay::start(state.clone(), relay).await.map_err(StartError::MailRelay)?)
        }
        None => None,
    };
    let mail_addr = mail_listener.as_ref().map(|l| l.addr);
    state.ready.store(true, Ordering::SeqCst);
    Ok(Running {
        started: Started { addr, setup, demo, backend, mail_addr },
        state,
        handle,
        task,
        checkpointer,
        demo_calls,
        command_watch,
        forwarders,
        mail_listener,
        mail_outbox,
        detection,
        evidence,
    })
}

/// How long the detection task waits when it has caught up with the log.
pub const DETECTION_IDLE: Duration = Duration::from_millis(200);

/// The detectors (issue 16): one replica at a time reads the audit log in order and raises
/// alerts; caught up, it looks again every 200 ms.
fn spawn_detection(core: Core) -> FeedTask {
    let holder = format!("detect-{}", uuid::Uuid::new_v4());
    let mut runner = core.detection_runner(&holder);
    let task = tokio::spawn(async move {
        loop {
            match runner.step().await {
                Ok(report) if report.entries > 0 => {
                    if report.raised > 0 {
                        tracing::info!(raised = report.raised, "detection raised alerts");
                    }
                }
                Ok(_) => tokio::time::sleep(DETECTION_IDLE).await,
                Err(e) => {
                    tracing::warn!(error = %e, "detection step failed; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    FeedTask { task, feed: mamori_core::detection::runner::FEED_NAME, holder }
}

/// How long the evidence task waits between rounds.
pub const EVIDENCE_IDLE: Duration = Duration::from_secs(1);

/// Live evidence (issue 17): one replica at a time reads what was committed and takes again
/// the measurements it may have changed, within about a second; the timed ones every minute.
fn spawn_evidence(core: Core) -> FeedTask {
    let holder = format!("evidence-{}", uuid::Uuid::new_v4());
    let mut runner = core.evidence_runner(&holder);
    let task = tokio::spawn(async move {
        loop {
            match runner.step().await {
                Ok(taken) => {
                    if taken > 0 {
                        tracing::debug!(taken, "live evidence measured");
                    }
                    tokio::time::sleep(EVIDENCE_IDLE).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "measuring live evidence failed; trying again");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    });
    FeedTask { task, feed: mamori_core::isms::evidence::FEED_NAME, holder }
}

/// How often the audit log's tree is extended and a checkpoint signed while entries arrive.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

async fn checkpoint_now(core: &Core) {
    match core.audit.checkpoint_audit_log().await {
        Ok(Some(size)) => tracing::debug!(size, "signed an audit checkpoint"),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "signing an audit checkpoint failed"),
    }
}

fn spawn_checkpointer(core: Core) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            checkpoint_now(&core).await;
        }
    })
}

/// Removes sessions nobody can use any more (idle past the timeout), every five minutes.
/// Wakes agents' waiting polls for commands issued on another replica, twice a second: one query
/// per replica, however many agents wait. Every five seconds, records when PCs were last heard
/// from; once a minute, signals PCs that went silent, marks timed-out commands, expires approval
/// requests, sends the breach-report reminders that are due and sweeps the access reviews.
fn spawn_command_watch(core: Core) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            n += 1;
            let since = core.now().minus(Duration::from_secs(5));
            if let Err(e) = core.devices.wake_devices_with_commands(since).await {
                tracing::warn!(error = %e, "checking for device commands failed");
            }
            // Every five seconds: when each PC was last heard from.
            if n.is_multiple_of(10)
                && let Err(e) = core.devices.flush_device_contacts().await
            {
                tracing::warn!(error = %e, "recording device contacts failed");
            }
            // Once a minute: PCs silent for three minutes (six missed heartbeats) are signalled.
            if n.is_multiple_of(120)
                && let Err(e) = core.devices.sweep_silent_devices(Duration::from_secs(180)).await
            {
                tracing::warn!(error = %e, "looking for silent devices failed");
            }
            if n.is_multiple_of(120)
                && let Err(e) = core.devices.expire_commands().await
            {
                tracing::warn!(error = %e, "marking timed-out commands failed");
            }
            if n.is_multiple_of(120)
                && let Err(e) = core.approvals.expire_approvals().await
            {
                tracing::warn!(error = %e, "expiring approval requests failed");
            }
            if n.is_multiple_of(120)
                && let Err(e) = core.incidents.send_reminders().await
            {
                tracing::warn!(error = %e, "sending breach-report reminders failed");
            }
            // Once a minute: access reviews — the scheduled campaign, overdue ones to the
            // security admins, dormant accounts disabled when the policy says so.
            if n.is_multiple_of(120)
                && let Err(e) = core.isms.sweep_access_reviews().await
            {
                tracing::warn!(error = %e, "the access-review sweep failed");
            }
            // Every five minutes: certificates about to lapse and reviews overdue, by e-mail.
            if n.is_multiple_of(600)
                && let Err(e) = core.isms.queue_reminders().await
            {
                tracing::warn!(error = %e, "queueing ISMS reminders failed");
            }
            // Every five minutes: annual training coming due, and reminders of training overdue.
            if n.is_multiple_of(600)
                && let Err(e) = core.isms.sweep_training().await
            {
                tracing::warn!(error = %e, "the training sweep failed");
            }
        }
    })
}

/// The demo's simulated telephony feed and agents, a step every two seconds.
fn spawn_demo_calls(core: Core) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut feed = mamori_core::demo::DemoCallFeed::default();
        let mut devices = mamori_core::demo::DemoDeviceFeed::default();
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            if let Err(e) = core.demo_call_tick(&mut feed).await {
                tracing::warn!(error = %e, "the demo's call feed failed a step");
            }
            if let Err(e) = core.demo_device_tick(&mut devices).await {
                tracing::warn!(error = %e, "the demo's simulated agents failed a step");
            }
        }
    })
}

fn spawn_housekeeping(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            let result = state.core.identity.remove_idle_sessions(state.config.session.idle_timeout).await;
            match result {
                Ok(n) if n > 0 => tracing::info!(sessions = n, "removed idle sessions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "session housekeeping failed"),
            }
            if let Err(e) = state.core.purge_used_keys().await {
                tracing::warn!(error = %e, "purging expired single-use keys failed");
            }
            if let Err(e) = state.core.forget_mail_files().await {
                tracing::warn!(error = %e, "forgetting expired mail attachments failed");
            }
        }
    });
}
