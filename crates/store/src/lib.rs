//! The storage interface. `mamori-store-sql` implements it twice — embedded SQLite (the default)
//! and PostgreSQL (for several replicas) — and one conformance suite runs against both.
//!
//! All work goes through a [`StoreTx`]: [`Store::begin`] opens a write transaction,
//! [`Store::read`] a cheap read handle. An audit entry appended on a transaction commits or rolls
//! back with the change it records (DESIGN invariant 1).

mod records;

pub use records::*;

use async_trait::async_trait;
use mamori_audit::merkle::{Hash, NodeId};
use mamori_audit::{AuditEntry, AuditEvent};
use mamori_domain::{Role, UnixMillis};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (a user name or org name already taken).
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("the database is unreachable or failed: {0}")]
    Unavailable(String),
    #[error("stored data is not what this version expects: {0}")]
    Corrupt(String),
    /// The database was migrated by a newer Mamori than this binary.
    #[error(
        "the database schema (version {found}) is newer than this Mamori binary knows (up to {known}); \
         run the newer Mamori version, or restore a backup made for this one"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("migrating the database failed: {0}")]
    Migration(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Whether one process is all there is (embedded SQLite): state that replicas would have
    /// to share may then live in that process's memory.
    fn one_process(&self) -> bool;
    /// Advances after every transaction committed by this process that changed a user, a
    /// session, an API token or a setting. Caches of who a caller is compare it to know they
    /// are still current; other processes' changes are not seen here.
    fn identity_generation(&self) -> u64;
    /// A write transaction. Dropping it without [`StoreTx::commit`] rolls back.
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;
    /// A read handle outside any transaction (each statement sees committed data).
    async fn read(&self) -> StoreResult<Box<dyn StoreTx>>;
    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;
}

#[async_trait]
pub trait StoreTx: Send {
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    // --- users
    async fn count_users(&mut self) -> StoreResult<i64>;
    async fn insert_user(&mut self, user: &UserRecord) -> StoreResult<()>;
    async fn user_by_id(&mut self, id: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_username(&mut self, username: &str) -> StoreResult<Option<UserRecord>>;
    /// Reads a user inside a write transaction, holding the row until the commit, so decisions
    /// on its failure count and lock (sign-in) are serialised across requests and replicas.
    async fn user_for_update(&mut self, id: &str) -> StoreResult<Option<UserRecord>>;
    async fn list_users(&mut self) -> StoreResult<Vec<UserRecord>>;
    async fn update_user_profile(
        &mut self,
        id: &str,
        profile: &UserProfile,
        now: UnixMillis,
    ) -> StoreResult<()>;
    async fn set_user_roles(&mut self, id: &str, roles: &[Role], now: UnixMillis) -> StoreResult<()>;
    async fn set_user_status(&mut self, id: &str, status: &str, now: UnixMillis) -> StoreResult<()>;
    async fn set_user_language(
        &mut self,
        id: &str,
        language: Option<&str>,
        now: UnixMillis,
    ) -> StoreResult<()>;
    /// Sets the password and keeps it in the history.
    async fn set_password(&mut self, id: &str, hash: &str, now: UnixMillis) -> StoreResult<()>;
    /// The most recent password hashes, newest first.
    async fn password_history(&mut self, id: &str, limit: i64) -> StoreResult<Vec<String>>;
    /// Adds one failure and returns the count of failures in a row.
    async fn add_failed_signin(&mut self, id: &str) -> StoreResult<i64>;
    async fn lock_user(&mut self, id: &str, until: UnixMillis) -> StoreResult<()>;
    /// Clears failures and any lock (a successful sign-in, or an admin's unlock).
    async fn clear_failed_signins(&mut self, id: &str) -> StoreResult<()>;
    async fn set_totp_pending(&mut self, id: &str, sealed: Option<&[u8]>) -> StoreResult<()>;
    async fn enable_totp(&mut self, id: &str, sealed: &[u8], step: i64) -> StoreResult<()>;
    async fn disable_totp(&mut self, id: &str) -> StoreResult<()>;
    /// Records the TOTP step just used; false when an equal or later step was already used
    /// (a replayed or raced code).
    async fn advance_totp_step(&mut self, id: &str, step: i64) -> StoreResult<bool>;
    async fn replace_recovery_codes(&mut self, user_id: &str, digests: &[String]) -> StoreResult<()>;
    /// Consumes a recovery code; false when it is unknown or already used.
    async fn use_recovery_code(&mut self, user_id: &str, digest: &str) -> StoreResult<bool>;
    async fn count_recovery_codes(&mut self, user_id: &str) -> StoreResult<i64>;
    async fn set_user_clients(&mut self, user_id: &str, client_ids: &[String]) -> StoreResult<()>;
    async fn user_clients(&mut self, user_id: &str) -> StoreResult<Vec<String>>;

    // --- shared state (DESIGN invariant 10)
    /// Records the first use of `key` in `scope`; false when it was used before (on any
    /// replica). Kept until `expires_at`, then purged.
    async fn claim_once(&mut self, scope: &str, key: &str, expires_at: UnixMillis) -> StoreResult<bool>;
    /// Forgets keys that expired before `now`; returns how many.
    async fn purge_used_once(&mut self, now: UnixMillis) -> StoreResult<u64>;
    /// A token bucket's state (units, as of), its row held until the commit; `None` if the
    /// bucket was never used.
    async fn rate_bucket_for_update(&mut self, key: &str) -> StoreResult<Option<(i64, UnixMillis)>>;
    async fn put_rate_bucket(&mut self, key: &str, units: i64, at: UnixMillis) -> StoreResult<()>;

    // --- sessions
    async fn insert_session(&mut self, session: &SessionRecord) -> StoreResult<()>;
    async fn session_by_digest(&mut self, digest: &str) -> StoreResult<Option<SessionRecord>>;
    async fn user_sessions(&mut self, user_id: &str) -> StoreResult<Vec<SessionRecord>>;
    async fn touch_session(&mut self, id: &str, now: UnixMillis) -> StoreResult<()>;
    async fn promote_session(&mut self, id: &str, now: UnixMillis) -> StoreResult<()>;
    async fn delete_session(&mut self, id: &str) -> StoreResult<()>;
    /// Ends every session of a user; returns how many ended.
    async fn delete_user_sessions(&mut self, user_id: &str) -> StoreResult<u64>;
    async fn delete_sessions_seen_before(&mut self, cutoff: UnixMillis) -> StoreResult<u64>;

    // --- one-time links (first-time setup, invitations)
    async fn insert_link(&mut self, link: &OneTimeLink) -> StoreResult<()>;
    async fn link_by_digest(&mut self, digest: &str) -> StoreResult<Option<OneTimeLink>>;
    /// Marks a link used; false when it was already used (a second click or a race).
    async fn use_link(&mut self, digest: &str, now: UnixMillis) -> StoreResult<bool>;
    async fn unexpired_setup_link_exists(&mut self, now: UnixMillis) -> StoreResult<bool>;

    // --- API tokens
    async fn insert_api_token(&mut self, token: &ApiTokenRecord) -> StoreResult<()>;
    async fn api_token_by_digest(&mut self, digest: &str) -> StoreResult<Option<ApiTokenRecord>>;
    async fn api_token_by_id(&mut self, id: &str) -> StoreResult<Option<ApiTokenRecord>>;
    async fn list_api_tokens(&mut self) -> StoreResult<Vec<ApiTokenRecord>>;
    async fn revoke_api_token(&mut self, id: &str, now: UnixMillis) -> StoreResult<bool>;
    async fn touch_api_token(&mut self, id: &str, now: UnixMillis) -> StoreResult<()>;

    // --- organisation: sites, teams, client companies
    async fn insert_org_unit(&mut self, unit: &OrgUnit) -> StoreResult<()>;
    async fn org_unit(&mut self, id: &str) -> StoreResult<Option<OrgUnit>>;
    async fn list_org_units(&mut self, kind: OrgKind) -> StoreResult<Vec<OrgUnit>>;

    // --- security events
    async fn insert_security_event(&mut self, event: &SecurityEvent) -> StoreResult<()>;
    async fn list_security_events(&mut self, limit: i64) -> StoreResult<Vec<SecurityEvent>>;

    // --- audit log (a transparency log: entries, the Merkle tree's nodes, signed checkpoints)
    /// Appends an entry in this transaction and returns its index. Appends are serialised
    /// across processes, so committed entries always form a gap-free prefix.
    async fn append_audit(&mut self, time: UnixMillis, event: &AuditEvent) -> StoreResult<u64>;
    /// Appends several entries at the same time, in order, with as few statements as possible;
    /// returns the first one's index (the rest follow without gaps).
    async fn append_audit_batch(&mut self, time: UnixMillis, events: &[AuditEvent]) -> StoreResult<u64>;
    async fn search_audit(&mut self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// Entries with `from <= index < to`, in index order.
    async fn audit_entries(&mut self, from: u64, to: u64) -> StoreResult<Vec<AuditEntry>>;
    /// How many entries the log holds (the index the next one gets), pruned ones included.
    async fn audit_log_size(&mut self) -> StoreResult<u64>;
    async fn audit_node(&mut self, id: NodeId) -> StoreResult<Option<Hash>>;
    /// Stored nodes of one level with `from <= index < to`, in index order.
    async fn audit_nodes_range(&mut self, level: u8, from: u64, to: u64) -> StoreResult<Vec<(u64, Hash)>>;
    async fn insert_audit_nodes(&mut self, nodes: &[(NodeId, Hash)]) -> StoreResult<()>;
    async fn latest_checkpoint(&mut self) -> StoreResult<Option<CheckpointRecord>>;
    /// Checkpoints with `from <= size <= to`, smallest first.
    async fn checkpoints_between(&mut self, from: u64, to: u64) -> StoreResult<Vec<CheckpointRecord>>;
    async fn insert_checkpoint(&mut self, checkpoint: &CheckpointRecord) -> StoreResult<()>;
    /// Takes, for this transaction, the lock that lets one process at a time extend the tree
    /// (waiting for another holder to commit).
    async fn lock_audit_integrator(&mut self) -> StoreResult<()>;
    /// Takes (or renews) the lease to deliver to forwarding destination `name` until
    /// `lease_until`, creating its cursor at 0 if it is new. Returns where delivery resumes, or
    /// `None` while another holder's lease runs.
    async fn claim_audit_cursor(
        &mut self,
        name: &str,
        holder: &str,
        now: UnixMillis,
        lease_until: UnixMillis,
    ) -> StoreResult<Option<u64>>;
    /// Moves a cursor from `from` to `to` if `holder` still holds it there; false otherwise.
    async fn advance_audit_cursor(
        &mut self,
        name: &str,
        holder: &str,
        from: u64,
        to: u64,
        now: UnixMillis,
    ) -> StoreResult<bool>;
    /// Entries below this index were archived and may have been pruned.
    async fn audit_pruned_below(&mut self) -> StoreResult<u64>;
    /// The first entry stamped at or after `time`.
    async fn first_audit_index_since(&mut self, time: UnixMillis) -> StoreResult<Option<u64>>;
    /// Raises the retention floor to `below` and deletes the entries under it (their hashes stay
    /// in the tree); returns how many were deleted.
    async fn prune_audit(&mut self, below: u64) -> StoreResult<u64>;

    // --- customer vault
    /// Inserts records with their blind-index entries, with as few statements as possible.
    async fn insert_customers(&mut self, customers: &[NewCustomerRows]) -> StoreResult<()>;
    async fn customer(&mut self, id: &str) -> StoreResult<Option<CustomerRecord>>;
    /// The records a blind-index digest points to.
    async fn customers_by_index(&mut self, kind: &str, digest: &[u8]) -> StoreResult<Vec<CustomerRecord>>;
    async fn count_customers(&mut self) -> StoreResult<i64>;
    /// Up to `limit` records whose data key is wrapped by a key version below `version`:
    /// (id, wrapped key).
    async fn customers_to_rewrap(&mut self, version: u32, limit: i64) -> StoreResult<Vec<(String, Vec<u8>)>>;
    async fn count_customers_to_rewrap(&mut self, version: u32) -> StoreResult<i64>;
    /// Replaces a record's wrapped key if it is still `old`; false when it changed meanwhile.
    async fn rewrap_customer(&mut self, id: &str, old: &[u8], new: &[u8], version: u32) -> StoreResult<bool>;
    /// Replaces a record's sealed fields and its blind-index entries; false when it is gone.
    async fn update_customer(
        &mut self,
        id: &str,
        fields: &[u8],
        index: &[(String, Vec<u8>)],
        now: UnixMillis,
    ) -> StoreResult<bool>;
    /// Deletes a record, its wrapped data key and its blind-index entries; false when it is gone.
    async fn delete_customer(&mut self, id: &str) -> StoreResult<bool>;

    // --- calls (CTI)
    async fn insert_call(&mut self, call: &CallRecord) -> StoreResult<()>;
    /// Ends a call; false when it is unknown or already ended.
    async fn end_call(&mut self, external_id: &str, now: UnixMillis) -> StoreResult<bool>;
    /// The operator's calls that have not ended.
    async fn active_calls(&mut self, operator_id: &str) -> StoreResult<Vec<CallRecord>>;

    // --- devices (endpoint agents)
    async fn insert_enrolment(&mut self, e: &EnrolmentRecord) -> StoreResult<()>;
    /// Marks an unused, unexpired enrolment token used by `device_id` and returns it; None when
    /// there is no such token (unknown, used or expired).
    async fn use_enrolment(
        &mut self,
        token_hash: &str,
        now: UnixMillis,
        device_id: &str,
    ) -> StoreResult<Option<EnrolmentRecord>>;
    async fn insert_device(&mut self, d: &DeviceRecord) -> StoreResult<()>;
    async fn device(&mut self, id: &str) -> StoreResult<Option<DeviceRecord>>;
    async fn list_devices(&mut self) -> StoreResult<Vec<DeviceRecord>>;
    /// False when the device is unknown or already revoked.
    async fn revoke_device(&mut self, id: &str, now: UnixMillis) -> StoreResult<bool>;
    async fn device_seen(&mut self, id: &str, now: UnixMillis, ip: Option<&str>) -> StoreResult<()>;
    /// Moves each device's last contact forward to the given time (never back).
    async fn devices_seen(&mut self, seen: &[(String, UnixMillis)]) -> StoreResult<()>;
    async fn insert_inventory(&mut self, i: &InventoryRecord) -> StoreResult<()>;
    /// The device's inventory reports, newest first.
    async fn inventory_history(&mut self, device_id: &str, limit: i64) -> StoreResult<Vec<InventoryRecord>>;

    async fn insert_command(&mut self, c: &CommandRecord) -> StoreResult<()>;
    /// Whether the device has a command waiting (a read, before taking them with a write).
    async fn has_pending_commands(&mut self, device_id: &str) -> StoreResult<bool>;
    /// The device's pending commands, now marked delivered.
    async fn deliver_commands(&mut self, device_id: &str, now: UnixMillis)
    -> StoreResult<Vec<CommandRecord>>;
    /// Records a delivered command's outcome; false when there is no such delivered command.
    async fn finish_command(
        &mut self,
        device_id: &str,
        id: &str,
        ok: bool,
        result: &str,
        now: UnixMillis,
    ) -> StoreResult<bool>;
    async fn device_commands(&mut self, device_id: &str, limit: i64) -> StoreResult<Vec<CommandRecord>>;
    /// Devices with commands pending that were issued after `since` (for waking their polls).
    async fn devices_with_pending_commands(&mut self, since: UnixMillis) -> StoreResult<Vec<String>>;

    /// Stores events, skipping any already stored (same device and event id); returns how many
    /// were new.
    async fn insert_device_events(&mut self, events: &[DeviceEventRecord]) -> StoreResult<u64>;
    /// Unrevoked devices last seen before `cutoff` with no `heartbeat_lost` event since.
    async fn devices_gone_silent(&mut self, cutoff: UnixMillis) -> StoreResult<Vec<DeviceRecord>>;
    /// The device's events, newest first.
    async fn device_events(&mut self, device_id: &str, limit: i64) -> StoreResult<Vec<DeviceEventRecord>>;
    /// Every PC's events of these kinds since `since`, oldest first (the floor's lock and USB state).
    async fn recent_events_of_kinds(
        &mut self,
        kinds: &[&str],
        since: UnixMillis,
    ) -> StoreResult<Vec<DeviceEventRecord>>;

    /// Stores activity buckets, skipping a minute already stored for the PC; returns how many were new.
    async fn insert_activity(&mut self, buckets: &[ActivityRecord]) -> StoreResult<u64>;
    /// A PC's buckets from `since`, newest first.
    async fn device_activity(
        &mut self,
        device_id: &str,
        since: UnixMillis,
        limit: i64,
    ) -> StoreResult<Vec<ActivityRecord>>;
    /// Each PC's latest bucket, for those with one from `since`.
    async fn latest_activity(&mut self, since: UnixMillis) -> StoreResult<Vec<ActivityRecord>>;

    // --- settings
    async fn setting(&mut self, key: &str) -> StoreResult<Option<String>>;
    async fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()>;
}
