//! Mamori's application services. Each public operation checks its rules (from
//! `mamori-domain`), does its work in one storage transaction and appends its audit entry in that
//! same transaction. Slow work — Argon2 above all — happens before the transaction opens, so a
//! write transaction is never held across a password hash.
//!
//! The HTTP layer calls these and maps [`CoreError`] to responses; nothing here knows HTTP.
//!
//! [`Core`] is one service per area over what they all stand on ([`Base`]):
//!
//! | area | service | module |
//! |---|---|---|
//! | people, sign-in, sessions, tokens, organisation, settings | [`Identity`] (`core.identity`) | [`identity`] |
//! | the tamper-evident log, its proofs, forwarding, the detection feed | [`AuditLog`] (`core.audit`) | [`audit_log`] |
//! | customer records, lookups, reveals, calls, imports | [`Vault`] (`core.vault`) | [`vault`] |
//! | enrolled PCs, commands, events, posture, activity, the floor | [`Devices`] (`core.devices`) | [`devices`] |
//! | four-eyes requests, decisions, single-use grants | [`Approvals`] (`core.approvals`) | [`approvals`] |
//! | alerts, their handling, the detection rules | [`Detection`] (`core.detection`) | [`detection`] |
//! | incidents: workflow, timeline, checklists, the breach-report clock | [`Incidents`] (`core.incidents`) | [`incidents`] |
//! | the detection task: the feed → detectors → alerts and automatic responses (spans three areas) | [`Core`] | [`detection::runner`] |
//! | printing a customer sheet once its print was approved (spans two areas) | [`Core`] | [`print`] |
//! | outgoing mail held for the sender's check and a supervisor's approval (spans four areas) | [`Core`] | [`outgoing_mail`] |
//! | signals: device and account events for those who act on them (spans two areas) | [`Core`] | [`signals`] |
//! | the demo contact centre (spans every area) | [`Core`] | [`demo`] |
//!
//! Every operation takes the [`Principal`] and applies the one authorization rule inside
//! ([`Base`]'s `authorize`), so the command line and background jobs obey the same rules as routes.

pub mod approvals;
pub mod audit_log;
mod base;
pub mod demo;
pub mod detection;
pub mod devices;
mod error;
pub mod export;
pub mod identity;
pub mod incidents;
pub mod isms;
mod jst;
pub mod mail_files;
pub mod mail_notifications;
pub mod outgoing_mail;
pub mod print;
pub mod privileged;
pub mod reveal;
pub mod signals;
pub mod take_out;
pub mod vault;

pub use approvals::Approvals;
pub use audit_log::AuditLog;
pub use base::Base;
pub use detection::Detection;
pub use devices::Devices;
pub use error::CoreError;
pub use identity::caller_cache::CALLER_CACHE_TTL;
pub use identity::{Identity, User};
pub use incidents::Incidents;
pub use mamori_store::StoreError;
pub use vault::Vault;

use mamori_audit::Actor;
use mamori_audit::checkpoint::CheckpointSigner;
use mamori_crypto::envelope::KeyProvider;
use mamori_crypto::keyed_id::IdHasher;
use mamori_crypto::secret_box::SecretBox;
use mamori_domain::lockout::LockoutPolicy;
use mamori_domain::session_policy::SessionPolicy;
use mamori_domain::{Clock, Permission, UnixMillis, authz};
use mamori_store::Store;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// The tunable rules, from configuration.
#[derive(Debug, Clone)]
pub struct Policies {
    pub session: SessionPolicy,
    pub lockout: LockoutPolicy,
    /// How long an invitation link stays valid.
    pub invitation_validity: Duration,
    /// How many masked values one user may reveal: a burst, refilled per hour.
    pub reveals: mamori_domain::rate::RateLimit,
    /// How many problems a refused import lists; the rest are counted.
    pub import_max_listed_problems: usize,
    /// A remote command not finished this long after it was issued has timed out: it is never
    /// delivered afterwards (a lock must not fall on whoever sits at the PC hours later).
    pub command_timeout: Duration,
    /// Approval steps are queued for the webhook (one is configured).
    pub notify_webhook: bool,
    /// Alerts of this severity or above are queued for the webhook too.
    pub notify_alert_severity: mamori_domain::detect::Severity,
    /// Reminders are queued for e-mail (a mail destination is configured).
    pub notify_mail: bool,
    /// The URL people reach the console at (`public_url`), for links in mail.
    pub public_url: String,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            session: SessionPolicy::default(),
            lockout: LockoutPolicy::default(),
            invitation_validity: Duration::from_secs(72 * 3600),
            reveals: mamori_domain::rate::RateLimit { capacity: 5, per_hour: 10 },
            import_max_listed_problems: vault::import::DEFAULT_MAX_LISTED_PROBLEMS,
            command_timeout: devices::DEFAULT_COMMAND_TIMEOUT,
            notify_webhook: false,
            notify_alert_severity: mamori_domain::detect::Severity::High,
            notify_mail: false,
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

/// The keys the services work with, loaded from the data directory (never the database).
pub struct Keys {
    /// Seals TOTP secrets.
    pub secrets: SecretBox,
    /// Signs the audit log's checkpoints.
    pub audit_signer: CheckpointSigner,
    /// Keyed hashes of personal ids in audit entries.
    pub audit_ids: IdHasher,
    /// Wraps customer records' data keys.
    pub vault_kek: Arc<dyn KeyProvider>,
    /// Blind indexes of customer values.
    pub vault_index: IdHasher,
    /// Seals held outgoing mail.
    pub mail: SecretBox,
}

/// The services, one per area, over the dependencies they share. The server holds this and
/// reaches storage only through it.
#[derive(Debug, Clone)]
pub struct Core {
    /// People, sign-in, sessions, second factors, API tokens, the organisation.
    pub identity: Arc<Identity>,
    /// The tamper-evident log: search, export, checkpoints, proofs, forwarding, the feed.
    pub audit: Arc<AuditLog>,
    /// Customer records, purpose-bound lookups, reveals, imports, calls.
    pub vault: Arc<Vault>,
    /// Enrolled PCs: inventory, commands, events, posture, activity, the floor.
    pub devices: Arc<Devices>,
    /// Four-eyes requests, their decisions and single-use grants.
    pub approvals: Arc<Approvals>,
    /// Alerts the detectors raised, their handling, the detection rules.
    pub detection: Arc<Detection>,
    /// Incidents, their workflow and the breach-report clock.
    pub incidents: Arc<Incidents>,
    /// The ISMS registers: control catalogs, the Statement of Applicability, live evidence.
    pub isms: Arc<isms::Isms>,
    base: Arc<Base>,
    /// Seals held outgoing mail (its message and what names a customer).
    mail_box: Arc<SecretBox>,
}

/// Settings keys kept in the database (changed from the console, shared by replicas).
pub mod settings {
    pub const TOTP_FOR_EVERYONE: &str = "totp_required_for_everyone";
    pub const DEMO_LOADED: &str = "demo_loaded";
    /// The vault's field classes and masks, as JSON.
    pub const VAULT_POLICY: &str = "vault_policy";
}

/// Who is making a request, once authenticated.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub via: Credential,
    pub permissions: BTreeSet<Permission>,
    /// The client companies whose data the user works on.
    pub client_ids: Vec<String>,
    /// The user's role needs TOTP and none is enrolled yet: only enrolment is allowed.
    pub must_enrol_totp: bool,
}

#[derive(Debug, Clone)]
pub enum Credential {
    Session { id: String, csrf_token: String, awaiting_second_factor: bool },
    ApiToken { id: String },
}

impl Principal {
    /// `user` acting through the services directly — command-line tools, benchmarks, tests —
    /// with all the rights of their roles, outside any session.
    pub fn direct(user: impl Into<User>, client_ids: Vec<String>) -> Self {
        let user: User = user.into();
        Principal {
            permissions: authz::permissions_of(&user.roles),
            user,
            via: Credential::Session {
                id: "direct".into(),
                csrf_token: String::new(),
                awaiting_second_factor: false,
            },
            client_ids,
            must_enrol_totp: false,
        }
    }

    pub fn actor(&self) -> Actor {
        match &self.via {
            Credential::Session { .. } => Actor::User(self.user.id.clone()),
            Credential::ApiToken { id } => Actor::ApiToken(id.clone()),
        }
    }
    /// The session this principal came through, if it is a real one (not an API token, not
    /// [`Principal::direct`]).
    pub fn live_session_id(&self) -> Option<&str> {
        self.session_id().filter(|id| *id != "direct")
    }
    pub fn session_id(&self) -> Option<&str> {
        match &self.via {
            Credential::Session { id, .. } => Some(id),
            Credential::ApiToken { .. } => None,
        }
    }
    pub fn can(&self, p: Permission) -> bool {
        authz::holds(&self.permissions, p)
    }
}

impl Core {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: Keys, policies: Policies) -> Self {
        let base = Arc::new(Base::new(store, clock, policies, keys.audit_ids));
        Core {
            identity: Arc::new(Identity::new(base.clone(), keys.secrets)),
            audit: Arc::new(AuditLog::new(base.clone(), keys.audit_signer)),
            vault: Arc::new(Vault::new(base.clone(), keys.vault_kek.clone(), keys.vault_index)),
            devices: Arc::new(Devices::new(base.clone())),
            approvals: Arc::new(Approvals::new(base.clone())),
            detection: Arc::new(Detection::new(base.clone())),
            incidents: Arc::new(Incidents::new(base.clone())),
            isms: Arc::new(isms::Isms::new(base.clone(), keys.vault_kek)),
            base,
            mail_box: Arc::new(keys.mail),
        }
    }

    pub fn now(&self) -> UnixMillis {
        self.base.now()
    }

    /// Whether the database answers (readiness).
    pub async fn database_answers(&self) -> Result<(), CoreError> {
        Ok(self.base.store.ping().await?)
    }

    /// `sqlite` or `postgres`.
    pub fn storage_backend(&self) -> &'static str {
        self.base.store.backend()
    }

    /// Forgets single-use keys past their expiry (run now and then by the server).
    pub async fn purge_used_keys(&self) -> Result<u64, CoreError> {
        self.base.purge_used_keys().await
    }

    /// What `/metrics` reports of the running system (issue 20, item 3): the audit log's size,
    /// its last signed checkpoint, where each reader of the log stands, and the PCs enrolled
    /// and connected (reported within `connected_within_ms`). Counts only, no names.
    pub async fn operations_figures(&self, connected_within_ms: i64) -> Result<OperationsFigures, CoreError> {
        let mut read = self.base.store.read().await?;
        let audit_entries = read.audit_log_size().await?;
        let checkpoint = read.latest_checkpoint().await?.map_or(0, |c| c.size);
        let readers = read.audit_cursors().await?.into_iter().map(|(name, next, _)| (name, next)).collect();
        let devices = read.list_devices().await?;
        let now = self.base.now().0;
        let enrolled: Vec<_> = devices.iter().filter(|d| d.revoked_at.is_none()).collect();
        let connected = enrolled
            .iter()
            .filter(|d| d.last_seen_at.is_some_and(|t| now - t.0 <= connected_within_ms))
            .count();
        Ok(OperationsFigures {
            audit_entries,
            checkpoint,
            readers,
            devices_enrolled: enrolled.len() as u64,
            agents_connected: connected as u64,
        })
    }

    /// The storage underneath, for tests and tools that inspect what is stored. The server
    /// never uses it (it is not built with this feature): it goes through the services.
    #[cfg(feature = "raw-store")]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.base.store
    }
}

/// Record ids are UUIDs; anything else cannot name a record, so it is simply not found (and never
/// reaches a query: PostgreSQL refuses some bytes that can arrive in a URL).
pub(crate) fn check_id(id: &str, what: &'static str) -> Result<(), CoreError> {
    uuid::Uuid::parse_str(id).map(drop).map_err(|_| CoreError::NotFound { what })
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Argon2 off the async threads.
pub(crate) async fn hash_password(password: &str) -> Result<String, CoreError> {
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || mamori_crypto::password::hash_password(&pw))
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))?
        .map_err(CoreError::from)
}

pub(crate) async fn verify_password(password: &str, hash: Option<&str>) -> Result<bool, CoreError> {
    let pw = password.to_owned();
    let hash = hash.map(str::to_owned);
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => mamori_crypto::password::verify_password(&pw, &h),
        None => {
            mamori_crypto::password::verify_against_dummy(&pw);
            false
        }
    })
    .await
    .map_err(|e| CoreError::Internal(e.to_string()))
}

/// What the operations metrics read of the running system: see [`Core::operations_figures`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationsFigures {
    pub audit_entries: u64,
    /// The size of the tree the last signed checkpoint covers.
    pub checkpoint: u64,
    /// Each reader of the log (SIEM destinations, `feed:detection`, `feed:evidence`): the next
    /// entry it will read.
    pub readers: Vec<(String, u64)>,
    pub devices_enrolled: u64,
    pub agents_connected: u64,
}
