//! Mamori's application services. Each public operation checks its rules (from
//! `mamori-domain`), does its work in one storage transaction and appends its audit entry in that
//! same transaction. Slow work — Argon2 above all — happens before the transaction opens, so a
//! write transaction is never held across a password hash.
//!
//! The HTTP layer calls these and maps [`CoreError`] to responses; nothing here knows HTTP.

pub mod account;
pub mod activity;
pub mod admin;
pub mod audit_log;
pub mod auth;
mod authorize;
mod caller_cache;
pub mod demo;
mod denials;
pub mod devices;
mod error;
pub mod feed;
pub mod import;
mod legacy_settings;
mod read_log;
pub mod setup;
mod shared;
pub mod vault;

pub use caller_cache::CALLER_CACHE_TTL;
pub use error::CoreError;

use mamori_audit::checkpoint::CheckpointSigner;
use mamori_audit::{Actor, AuditEvent, RequestContext};
use mamori_crypto::envelope::KeyProvider;
use mamori_crypto::keyed_id::IdHasher;
use mamori_crypto::secret_box::SecretBox;
use mamori_domain::lockout::LockoutPolicy;
use mamori_domain::session_policy::SessionPolicy;
use mamori_domain::{Clock, Permission, UnixMillis, authz};
use mamori_store::{Store, StoreTx, UserRecord};
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
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            session: SessionPolicy::default(),
            lockout: LockoutPolicy::default(),
            invitation_validity: Duration::from_secs(72 * 3600),
            reveals: mamori_domain::rate::RateLimit { capacity: 5, per_hour: 10 },
            import_max_listed_problems: import::DEFAULT_MAX_LISTED_PROBLEMS,
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
}

/// Everything the services need, shared by all requests.
#[derive(Debug, Clone)]
pub struct Core {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Seals TOTP secrets with the data directory's key.
    pub secrets: Arc<SecretBox>,
    pub policies: Policies,
    callers: Arc<caller_cache::CallerCache>,
    /// Signs the audit log's checkpoints.
    audit_signer: Arc<CheckpointSigner>,
    /// Turns customer (and other personal) ids into the keyed hashes audit entries carry.
    audit_ids: Arc<IdHasher>,
    /// Commits the audit entries of reads in groups (started on first use).
    read_log: Arc<std::sync::OnceLock<read_log::ReadLog>>,
    /// Refusals, aggregated under a flood.
    denials: Arc<denials::DenialLog>,
    vault_kek: Arc<dyn KeyProvider>,
    vault_index: Arc<IdHasher>,
    vault_policy: Arc<vault::policy::PolicyCache>,
    /// Single-use keys kept in memory where one process is all there is (see `shared.rs`).
    used_in_memory: Arc<shared::UsedInMemory>,
    /// Commits claims of single-use keys in groups (started on first use).
    claims: Arc<std::sync::OnceLock<shared::ClaimLog>>,
    command_waiters: Arc<devices::CommandWaiters>,
    device_contacts: Arc<devices::ContactBuffer>,
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
    pub user: UserRecord,
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
    pub fn direct(user: &UserRecord, client_ids: Vec<String>) -> Self {
        Principal {
            user: user.clone(),
            via: Credential::Session {
                id: "direct".into(),
                csrf_token: String::new(),
                awaiting_second_factor: false,
            },
            permissions: authz::permissions_of(&user.roles),
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
        self.permissions.contains(&p)
    }
}

impl Core {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: Keys, policies: Policies) -> Self {
        Core {
            store,
            clock,
            secrets: Arc::new(keys.secrets),
            policies,
            callers: Default::default(),
            audit_signer: Arc::new(keys.audit_signer),
            audit_ids: Arc::new(keys.audit_ids),
            read_log: Default::default(),
            denials: Default::default(),
            vault_kek: keys.vault_kek,
            vault_index: Arc::new(keys.vault_index),
            vault_policy: Default::default(),
            used_in_memory: Default::default(),
            claims: Default::default(),
            command_waiters: Default::default(),
            device_contacts: Default::default(),
        }
    }

    /// How an audit entry names a personal record: `kind:h:<keyed hash>`, never the id itself.
    pub fn audit_object(&self, kind: &str, id: &str) -> String {
        self.audit_ids.object(kind, id)
    }

    pub fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// A rule set kept as JSON in the settings table; its default when none is stored. One that
    /// is stored but cannot be read is an error (logged), never silently the default: for a
    /// rule such as a posture policy the default means "no rules" — failing open. Each caller
    /// decides what failing closed means for its rule.
    pub(crate) async fn json_setting<T: serde::de::DeserializeOwned + Default>(
        &self,
        key: &str,
    ) -> Result<T, CoreError> {
        match self.store.read().await?.setting(key).await? {
            None => Ok(T::default()),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                tracing::error!(setting = key, error = %e, "a stored setting cannot be read; its rule fails closed");
                CoreError::SettingUnreadable { key: key.to_owned() }
            }),
        }
    }

    /// Appends an audit entry on `tx`, stamped with the request's origin and the current time.
    pub(crate) async fn audit(
        &self,
        tx: &mut Box<dyn StoreTx>,
        ctx: &RequestContext,
        event: AuditEvent,
    ) -> Result<(), CoreError> {
        tx.append_audit(self.now(), &ctx.stamp(event)).await?;
        Ok(())
    }

    /// Records a read (an access entry) and returns once it is committed, with its index. The
    /// caller returns the data only after this succeeds (fail closed). Concurrent reads share a
    /// transaction, so this costs far less than a transaction of its own.
    pub async fn audit_access(&self, ctx: &RequestContext, event: AuditEvent) -> Result<u64, CoreError> {
        self.read_log().append(ctx.stamp(event)).await
    }

    /// [`Core::audit_access`] for a read that touched several records: an entry for each.
    pub async fn audit_access_all(
        &self,
        ctx: &RequestContext,
        events: Vec<AuditEvent>,
    ) -> Result<Vec<u64>, CoreError> {
        self.read_log().append_all(events.into_iter().map(|e| ctx.stamp(e)).collect()).await
    }

    /// Records a refused attempt (DESIGN invariant 9): `event` has outcome `denied` and a
    /// `reason` detail. The first refusal of its kind is committed before this returns; repeats
    /// within a second are counted into one entry (see `denials.rs`). A refusal stands even if
    /// its entry cannot be written, so the failure is logged here, not returned. Never call it
    /// while holding a write transaction: on SQLite the entry needs the one writer it holds
    /// (check the scope first, then open the transaction — as `add_customer_note` does).
    pub async fn record_denied(&self, ctx: &RequestContext, event: AuditEvent) {
        self.read_log();
        if let Err(e) = self.denials.record(&self.read_log, ctx.stamp(event)).await {
            tracing::error!(error = %e, "a refusal could not be recorded in the audit log");
        }
    }

    fn read_log(&self) -> &read_log::ReadLog {
        self.read_log.get_or_init(|| read_log::ReadLog::start(self.store.clone(), self.clock.clone()))
    }

    /// Whether the database answers (readiness).
    pub async fn database_answers(&self) -> Result<(), CoreError> {
        Ok(self.store.ping().await?)
    }

    /// `sqlite` or `postgres`.
    pub fn storage_backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Removes sessions idle for longer than `idle` (housekeeping); returns how many.
    pub async fn remove_idle_sessions(&self, idle: Duration) -> Result<u64, CoreError> {
        let mut tx = self.store.begin().await?;
        let removed = tx.delete_sessions_seen_before(self.now().minus(idle)).await?;
        tx.commit().await?;
        Ok(removed)
    }

    pub async fn totp_required_for_everyone(&self) -> Result<bool, CoreError> {
        let mut r = self.store.read().await?;
        Ok(r.setting(settings::TOTP_FOR_EVERYONE).await?.as_deref() == Some("true"))
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
