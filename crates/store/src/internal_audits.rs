//! Internal audits (issue 18, item 5; ISMS-7): audits, their findings, and the steps of each
//! finding's corrective action (CAPA).

use super::*;

/// An internal audit, planned or reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalAuditRecord {
    pub id: String,
    /// `IA-<n>`, from 1.
    pub number: i64,
    pub title: String,
    pub scope: String,
    /// The SoA controls audited (urns), comma-separated.
    pub controls: String,
    pub auditor_id: String,
    /// `YYYY-MM-DD`.
    pub planned_on: String,
    /// Set with the report.
    pub held_on: Option<String>,
    pub report: String,
    pub changed_at: UnixMillis,
    /// An audit actor.
    pub changed_by: String,
}

/// A finding of an audit and where its CAPA stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFindingRecord {
    pub id: String,
    pub audit_id: String,
    /// `F-<n>`, from 1.
    pub number: i64,
    /// A `FindingKind`'s name.
    pub kind: String,
    pub control_urn: Option<String>,
    pub description: String,
    /// A `FindingState`'s name.
    pub state: String,
    pub root_cause: String,
    pub corrective_action: String,
    pub owner_id: Option<String>,
    pub due_on: Option<String>,
    pub created_at: UnixMillis,
    /// An audit actor.
    pub created_by: String,
    pub changed_at: UnixMillis,
}

/// One step of a finding's CAPA, as taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingStepRecord {
    pub finding_id: String,
    pub at: UnixMillis,
    /// `raise`, `plan`, `implemented`, `verify_effective`, `verify_not_effective`, `acknowledge`.
    pub step: String,
    /// The state it left the finding in.
    pub state: String,
    /// An audit actor.
    pub actor: String,
    pub note: String,
}

/// What a read handle may do in this area.
#[async_trait]
pub trait InternalAuditRead: Send {
    /// Every audit, the latest planned first.
    async fn internal_audits(&mut self) -> StoreResult<Vec<InternalAuditRecord>>;
    async fn internal_audit(&mut self, id: &str) -> StoreResult<Option<InternalAuditRecord>>;
    /// Every finding, by number.
    async fn audit_findings(&mut self) -> StoreResult<Vec<AuditFindingRecord>>;
    async fn audit_finding(&mut self, id: &str) -> StoreResult<Option<AuditFindingRecord>>;
    /// A finding's steps in the order taken.
    async fn finding_steps(&mut self, finding_id: &str) -> StoreResult<Vec<FindingStepRecord>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait InternalAuditWrite: InternalAuditRead {
    /// Adds an audit, numbering it next; returns the number.
    async fn insert_internal_audit(&mut self, audit: &InternalAuditRecord) -> StoreResult<i64>;
    async fn update_internal_audit(&mut self, audit: &InternalAuditRecord) -> StoreResult<()>;
    /// Adds a finding, numbering it next; returns the number.
    async fn insert_audit_finding(&mut self, finding: &AuditFindingRecord) -> StoreResult<i64>;
    /// Moves a finding from `from` to the record's state (and its fields); false when it was
    /// no longer in `from` (someone else moved it meanwhile).
    async fn move_audit_finding(&mut self, finding: &AuditFindingRecord, from: &str) -> StoreResult<bool>;
    async fn insert_finding_step(&mut self, step: &FindingStepRecord) -> StoreResult<()>;
}
