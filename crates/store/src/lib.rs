//! The storage interface. `mamori-store-sql` implements it twice — embedded SQLite (the default)
//! and PostgreSQL (for several replicas) — and one conformance suite runs against both.
//!
//! All work goes through a handle: [`Store::begin`] opens a write transaction ([`StoreTx`]),
//! [`Store::read`] a cheap read handle ([`StoreRead`]), which has no write methods. An audit
//! entry appended on a transaction commits or rolls back with the change it records (DESIGN
//! invariant 1).
//!
//! The methods are grouped by area, each a pair of traits in its own file — `…Read` (what a read
//! handle may do) and `…Write` (what only a transaction may):
//!
//! | area | read | write | file |
//! |---|---|---|---|
//! | users, sessions, links, API tokens, organisation, security events | [`IdentityRead`] | [`IdentityWrite`] | `identity.rs` |
//! | the audit log: entries, tree, checkpoints, cursors, retention | [`AuditRead`] | [`AuditWrite`] | `audit.rs` |
//! | four-eyes requests, decisions, grants | [`ApprovalRead`] | [`ApprovalWrite`] | `approvals.rs` |
//! | alerts, their evidence and responses, hourly baselines, detection rules | [`DetectionRead`] | [`DetectionWrite`] | `detection.rs` |
//! | incidents, their alerts, timeline and checklist | [`IncidentRead`] | [`IncidentWrite`] | `incidents.rs` |
//! | training: courses, their images, assignments and attempts | [`TrainingRead`] | [`TrainingWrite`] | `training.rs` |
//! | ISMS registers: control catalogs, Statement of Applicability, live evidence | [`IsmsRead`] | [`IsmsWrite`] | `isms.rs` |
//! | business continuity: plans, contact trees, drills | [`ContinuityRead`] | [`ContinuityWrite`] | `continuity.rs` |
//! | internal audits: audits, findings, their corrective actions | [`InternalAuditRead`] | [`InternalAuditWrite`] | `internal_audits.rs` |
//! | checks: checklists, runs, follow-ups, sealed photos | [`ChecksRead`] | [`ChecksWrite`] | `checks.rs` |
//! | access-right reviews: campaigns, their frozen entries and decisions | [`AccessReviewRead`] | [`AccessReviewWrite`] | `access_reviews.rs` |
//! | outgoing mail held for a check, mail passwords | [`MailRead`] | [`MailWrite`] | `mail.rs` |
//! | the customer vault and calls | [`VaultRead`] | [`VaultWrite`] | `vault.rs` |
//! | devices: ledger, inventory, events, commands, activity | [`DeviceRead`] | [`DeviceWrite`] | `devices.rs` |
//! | rule sets with their history: site PC policies, shifts, networks, keystroke limits | [`RulesRead`] | [`RulesWrite`] | `rules.rs` |
//! | state replicas share: keys used once, token buckets | — | [`SharedStateWrite`] | `shared.rs` |
//! | settings | [`SettingsRead`] | [`SettingsWrite`] | `settings.rs` |
//!
//! [`StoreTx`] is all of them at once, so one transaction can span areas; `mamori-store-sql` has
//! the queries of each area in a file of the same name.

mod access_reviews;
mod approvals;
mod audit;
mod checks;
mod continuity;
mod detection;
mod devices;
mod identity;
mod incidents;
mod internal_audits;
mod isms;
mod mail;
mod records;
mod rules;
mod settings;
mod shared;
mod training;
mod vault;

pub use access_reviews::{
    AccessReviewCampaignRecord, AccessReviewEntryRecord, AccessReviewRead, AccessReviewWrite, ReviewerFilter,
    ReviewerProgress,
};
pub use approvals::{ApprovalRead, ApprovalWrite};
pub use audit::{AuditRead, AuditWrite};
pub use checks::{
    CheckFollowUpRecord, CheckPhotoRecord, CheckPhotoSealed, CheckRunRecord, ChecklistRecord, ChecksRead,
    ChecksWrite,
};
pub use continuity::{ContinuityDrillRecord, ContinuityPlanRecord, ContinuityRead, ContinuityWrite};
pub use detection::{AlertRecord, AlertResponseRecord, DetectionRead, DetectionWrite, RuleAlertCount};
pub use devices::{DeviceRead, DeviceWrite};
pub use identity::{IdentityRead, IdentityWrite};
pub use incidents::{IncidentEvent, IncidentRead, IncidentRecord, IncidentWrite};
pub use internal_audits::{
    AuditFindingRecord, FindingStepRecord, InternalAuditRead, InternalAuditRecord, InternalAuditWrite,
};
pub use isms::{
    AssetListQuery, AssetOwnerFilter, AssetPage, AssetRecord, AssetSort, CatalogRecord, CertificateRecord,
    ControlRecord, DisposalRecord, EvidenceRecord, IsmsRead, IsmsWrite, LegalRecord, PolicyAckRecord,
    PolicyRecord, PolicyVersionRecord, RatedRecord, RiskAssessmentRecord, RiskRecord, SoaEntryRecord,
    VendorAssessmentRecord, VendorFileRecord, VendorFileSealed, VendorRecord, VendorVisitRecord,
};
pub use mail::{MailFileLink, MailNotification, MailRead, MailWrite};
pub use records::*;
pub use rules::{RuleVersion, RulesRead, RulesWrite};
pub use settings::{SettingsRead, SettingsWrite};
pub use shared::SharedStateWrite;
pub use training::{
    TrainingAssignmentRecord, TrainingAttemptRecord, TrainingCourseRecord, TrainingImageRecord, TrainingRead,
    TrainingWrite,
};
pub use vault::{VaultRead, VaultWrite};

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
    /// A read handle outside any transaction (each statement sees committed data); it has no
    /// write methods.
    async fn read(&self) -> StoreResult<Box<dyn StoreRead>>;
    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;
}

/// Everything a read handle may do: the reads of every area. A write through a read handle
/// does not compile:
///
/// ```compile_fail
/// # async fn write_through_a_read_handle(store: &dyn mamori_store::Store) {
/// let mut read = store.read().await.unwrap();
/// read.put_setting("key", "value").await.unwrap();
/// # }
/// ```
///
/// while a read does, and a write transaction takes both:
///
/// ```no_run
/// # async fn read_and_write(store: &dyn mamori_store::Store) {
/// let mut read = store.read().await.unwrap();
/// let _ = read.setting("key").await.unwrap();
/// let mut tx = store.begin().await.unwrap();
/// let _ = tx.setting("key").await.unwrap();
/// tx.put_setting("key", "value").await.unwrap();
/// tx.commit().await.unwrap();
/// # }
/// ```
pub trait StoreRead:
    IdentityRead
    + AuditRead
    + VaultRead
    + DeviceRead
    + RulesRead
    + SettingsRead
    + ApprovalRead
    + MailRead
    + DetectionRead
    + IncidentRead
    + TrainingRead
    + IsmsRead
    + AccessReviewRead
    + ContinuityRead
    + InternalAuditRead
    + ChecksRead
    + Send
{
}

impl<
    T: IdentityRead
        + AuditRead
        + VaultRead
        + DeviceRead
        + RulesRead
        + SettingsRead
        + ApprovalRead
        + MailRead
        + DetectionRead
        + IncidentRead
        + TrainingRead
        + IsmsRead
        + AccessReviewRead
        + ContinuityRead
        + InternalAuditRead
        + ChecksRead
        + Send
        + ?Sized,
> StoreRead for T
{
}

/// A write transaction: every area's reads and writes, so one transaction can span areas.
#[async_trait]
pub trait StoreTx:
    StoreRead
    + IdentityWrite
    + AuditWrite
    + VaultWrite
    + DeviceWrite
    + RulesWrite
    + SharedStateWrite
    + SettingsWrite
    + ApprovalWrite
    + MailWrite
    + DetectionWrite
    + IncidentWrite
    + TrainingWrite
    + IsmsWrite
    + AccessReviewWrite
    + ContinuityWrite
    + InternalAuditWrite
    + ChecksWrite
{
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// The area traits, for `use mamori_store::prelude::*` where handles are used.
pub mod prelude {
    pub use crate::{
        AccessReviewRead, AccessReviewWrite, ApprovalRead, ApprovalWrite, AuditRead, AuditWrite, ChecksRead,
        ChecksWrite, ContinuityRead, ContinuityWrite, DetectionRead, DetectionWrite, DeviceRead, DeviceWrite,
        IdentityRead, IdentityWrite, IncidentRead, IncidentWrite, InternalAuditRead, InternalAuditWrite,
        IsmsRead, IsmsWrite, MailRead, MailWrite, RulesRead, RulesWrite, SettingsRead, SettingsWrite,
        SharedStateWrite, StoreRead, StoreTx, VaultRead, VaultWrite,
    };
}
