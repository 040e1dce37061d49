//! The ISMS registers (issue 17): control catalogs with their mappings, the Statement of
//! Applicability (each change a new version of a control's line, the latest in force), and
//! the live evidence's results (a row when a result changes; when it was last checked).

use super::*;

/// A control catalog as installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRecord {
    pub urn: String,
    pub ref_id: String,
    pub name: String,
    pub name_ja: Option<String>,
    pub version: i64,
    pub provider: Option<String>,
    /// Shipped with Mamori (installed and upgraded at start), not imported by a person.
    pub built_in: bool,
    pub imported_at: UnixMillis,
    /// An audit actor.
    pub imported_by: String,
}

/// One node of a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRecord {
    pub urn: String,
    pub catalog_urn: String,
    pub parent_urn: Option<String>,
    pub ref_id: String,
    pub name: String,
    pub name_ja: Option<String>,
    pub description: Option<String>,
    pub description_ja: Option<String>,
    pub assessable: bool,
    /// Order within the catalog (the file's).
    pub position: i64,
}

/// One version of a control's line in the Statement of Applicability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoaEntryRecord {
    pub control_urn: String,
    /// 1, 2, … per control; the highest is in force.
    pub version: i64,
    pub applicable: bool,
    pub justification: String,
    /// An `Implementation`'s name.
    pub implementation: String,
    pub owner_id: Option<String>,
    /// `YYYY-MM-DD`.
    pub review_on: Option<String>,
    pub changed_at: UnixMillis,
    /// An audit actor.
    pub changed_by: String,
}

/// One result of a live evidence measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    /// An `EvidenceKind`'s name.
    pub kind: String,
    /// When this result was first measured (it held until the next row of the kind).
    pub computed_at: UnixMillis,
    /// An `EvidenceStatus`'s name.
    pub status: String,
    pub value: String,
    /// When the measurement was last taken (the same result or a new one); for a result read
    /// at a past date, its `computed_at`.
    pub checked_at: UnixMillis,
}

/// One version of an information asset (the latest is in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRecord {
    pub id: String,
    pub version: i64,
    /// An `AssetKind`'s name.
    pub kind: String,
    pub name: String,
    pub owner_id: Option<String>,
    pub location: String,
    pub confidentiality: String,
    pub integrity: String,
    pub availability: String,
    pub allowed: Option<bool>,
    pub review_on: Option<String>,
    pub notes: String,
    /// An `AssetSource`'s name; with `source_id`, the device or client company it follows.
    pub source: String,
    pub source_id: Option<String>,
    pub retired_at: Option<UnixMillis>,
    pub changed_at: UnixMillis,
    /// An audit actor.
    pub changed_by: String,
}

/// A risk assessment with its frozen matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskAssessmentRecord {
    pub id: String,
    pub name: String,
    /// Risks at this level (counted from 0) or above are above the appetite.
    pub appetite: i64,
    pub matrix: mamori_domain::isms::risk::RiskMatrix,
    pub created_at: UnixMillis,
    pub created_by: String,
}

/// A rating with the level the matrix gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatedRecord {
    pub probability: i64,
    pub impact: i64,
    pub level: i64,
}

/// One version of a risk (the latest is in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskRecord {
    pub id: String,
    pub assessment_id: String,
    /// Its number for people (`R-7`) within the assessment.
    pub number: i64,
    pub version: i64,
    pub title: String,
    pub threat: String,
    pub vulnerability: String,
    pub inherent: RatedRecord,
    pub residual: Option<RatedRecord>,
    /// A `Treatment`'s name.
    pub treatment: String,
    pub owner_id: Option<String>,
    pub due_on: Option<String>,
    pub review_on: Option<String>,
    pub notes: String,
    pub asset_ids: Vec<String>,
    pub control_urns: Vec<String>,
    pub changed_at: UnixMillis,
    pub changed_by: String,
}

/// One version of a vendor (the latest is in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorRecord {
    pub id: String,
    pub version: i64,
    pub name: String,
    /// The outsourcer it works for (再委託).
    pub parent_id: Option<String>,
    /// The client companies whose data it handles.
    pub client_ids: Vec<String>,
    pub data_handled: String,
    pub contact: String,
    pub review_on: Option<String>,
    pub notes: String,
    pub retired_at: Option<UnixMillis>,
    pub changed_at: UnixMillis,
    pub changed_by: String,
}

/// A certificate: the centre's own (`vendor_id` none) or a vendor's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub id: String,
    pub vendor_id: Option<String>,
    /// A `Scheme`'s name.
    pub scheme: String,
    pub number: String,
    pub issuer: String,
    /// `YYYY-MM-DD` dates.
    pub first_obtained_on: String,
    pub issued_on: String,
    pub expires_on: String,
    pub recorded_at: UnixMillis,
    pub recorded_by: String,
}

/// A vendor's assessment with its scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorAssessmentRecord {
    pub id: String,
    pub vendor_id: String,
    pub assessed_on: String,
    pub scores: Vec<(String, i64)>,
    pub total: i64,
    /// A `Tier`'s name.
    pub tier: String,
    pub next_on: String,
    pub notes: String,
    pub recorded_at: UnixMillis,
    pub recorded_by: String,
}

/// A visit to a vendor's site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorVisitRecord {
    pub id: String,
    pub vendor_id: String,
    pub visited_on: String,
    pub visitor: String,
    pub findings: String,
    pub recorded_at: UnixMillis,
    pub recorded_by: String,
}

/// One version of a requirement of the legal register (the latest is in force; ISMS-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalRecord {
    pub id: String,
    pub version: i64,
    /// A `LegalKind`'s name.
    pub kind: String,
    pub title: String,
    /// Articles, a contract's number.
    pub reference: String,
    /// What it requires of the centre.
    pub obligations: String,
    /// A contract's client company.
    pub client_id: Option<String>,
    pub owner_id: Option<String>,
    pub review_on: Option<String>,
    pub notes: String,
    pub retired_at: Option<UnixMillis>,
    pub changed_at: UnixMillis,
    /// An audit actor.
    pub changed_by: String,
}

/// One record of the disposal register (issue 18, item 7; LEAK-3): never changed once added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisposalRecord {
    pub id: String,
    /// A `DisposalKind`'s name.
    pub kind: String,
    /// A `DisposalMethod`'s name.
    pub method: String,
    pub description: String,
    pub serial: String,
    pub quantity: Option<i64>,
    /// `YYYY-MM-DD`, the day in Japan.
    pub disposed_on: String,
    pub witness_id: String,
    pub company: String,
    pub certificate: String,
    pub notes: String,
    pub asset_id: Option<String>,
    pub device_id: Option<String>,
    pub recorded_at: UnixMillis,
    /// An audit actor.
    pub recorded_by: String,
}

/// An evidence file attached to a vendor, as listed (its sealed content apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorFileRecord {
    pub id: String,
    pub vendor_id: String,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    /// SHA-256 of the plaintext, lower-case hex.
    pub sha256: String,
    /// The key-encryption key version that wraps its data key.
    pub kek_version: u32,
    pub note: String,
    pub visit_id: Option<String>,
    pub uploaded_at: UnixMillis,
    /// An audit actor.
    pub uploaded_by: String,
}

/// A vendor file's sealed content and its wrapped data key (never the plaintext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorFileSealed {
    pub wrapped_key: Vec<u8>,
    pub content: Vec<u8>,
}

/// A policy document (issue 18, item 1): its kind, title and scope; its text is in its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    pub id: String,
    /// A `PolicyKind`'s name.
    pub kind: String,
    pub title: String,
    /// Comma-separated role names, site ids, client company ids; empty: everyone.
    pub scope_roles: String,
    pub scope_sites: String,
    pub scope_clients: String,
    pub created_at: UnixMillis,
    /// An audit actor.
    pub created_by: String,
    /// The highest published version (the one in force), if any (read only).
    pub published_version: Option<i64>,
    /// The unpublished draft's version, if any (read only).
    pub draft_version: Option<i64>,
}

/// One version of a policy: a draft until a security admin publishes it; never changed after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionRecord {
    pub policy_id: String,
    pub version: i64,
    /// Markdown.
    pub body: String,
    pub note: String,
    pub drafted_at: UnixMillis,
    pub drafted_by: String,
    pub published_at: Option<UnixMillis>,
    pub published_by: Option<String>,
}

/// An acknowledgement [同意]: a person agreed to a version; kept forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAckRecord {
    pub policy_id: String,
    pub version: i64,
    pub user_id: String,
    pub acknowledged_at: UnixMillis,
}

/// What a read handle may do in this area.
#[async_trait]
pub trait IsmsRead: Send {
    async fn catalogs(&mut self) -> StoreResult<Vec<CatalogRecord>>;
    /// Controls of one catalog (or all), by catalog and position.
    async fn catalog_controls(&mut self, catalog_urn: Option<&str>) -> StoreResult<Vec<ControlRecord>>;
    /// Every mapping: (control, control of another catalog).
    async fn control_mappings(&mut self) -> StoreResult<Vec<(String, String)>>;
    /// The line in force for each control that has one.
    async fn soa_entries(&mut self) -> StoreResult<Vec<SoaEntryRecord>>;
    /// Every version of one control's line, newest first.
    async fn soa_history(&mut self, control_urn: &str) -> StoreResult<Vec<SoaEntryRecord>>;
    /// Each kind's latest result, with when it was last checked.
    async fn evidence_current(&mut self) -> StoreResult<Vec<EvidenceRecord>>;
    /// Each kind's result as it stood at `at`.
    async fn evidence_at(&mut self, at: UnixMillis) -> StoreResult<Vec<EvidenceRecord>>;
    /// One kind's results, newest first.
    async fn evidence_history(&mut self, kind: &str, limit: i64) -> StoreResult<Vec<EvidenceRecord>>;
    /// Assets in force, by kind and name; retired ones too when asked.
    async fn assets(&mut self, include_retired: bool) -> StoreResult<Vec<AssetRecord>>;
    async fn asset(&mut self, id: &str) -> StoreResult<Option<AssetRecord>>;
    /// Every version of an asset, newest first.
    async fn asset_history(&mut self, id: &str) -> StoreResult<Vec<AssetRecord>>;
    /// Risk assessments, newest first.
    async fn risk_assessments(&mut self) -> StoreResult<Vec<RiskAssessmentRecord>>;
    /// The risks of an assessment in force, by number.
    async fn risks(&mut self, assessment_id: &str) -> StoreResult<Vec<RiskRecord>>;
    async fn risk(&mut self, id: &str) -> StoreResult<Option<RiskRecord>>;
    /// Every version of a risk, newest first.
    async fn risk_history(&mut self, id: &str) -> StoreResult<Vec<RiskRecord>>;
    /// (control urn, risk id) for every risk a control treats.
    async fn risk_control_links(&mut self) -> StoreResult<Vec<(String, String)>>;
    /// (risk id, asset id, asset name) for every asset a risk names.
    async fn risk_asset_links(&mut self) -> StoreResult<Vec<(String, String, String)>>;
    /// Vendors in force (retired too when asked), by name.
    async fn vendors(&mut self, include_retired: bool) -> StoreResult<Vec<VendorRecord>>;
    async fn vendor(&mut self, id: &str) -> StoreResult<Option<VendorRecord>>;
    /// Every version of a vendor, newest first.
    async fn vendor_history(&mut self, id: &str) -> StoreResult<Vec<VendorRecord>>;
    /// Every certificate, by holder, scheme and expiry.
    async fn certificates(&mut self) -> StoreResult<Vec<CertificateRecord>>;
    /// A vendor's assessments (all vendors' when none is named), newest first.
    async fn vendor_assessments(
        &mut self,
        vendor_id: Option<&str>,
    ) -> StoreResult<Vec<VendorAssessmentRecord>>;
    async fn vendor_visits(&mut self, vendor_id: &str) -> StoreResult<Vec<VendorVisitRecord>>;
    /// The actors of successful audit entries of `action` since `since` (who signed in lately).
    async fn actors_with_action_since(&mut self, action: &str, since: UnixMillis)
    -> StoreResult<Vec<String>>;
    /// One page of the asset register: the assets `query` matches, in its order, and how many
    /// match in all.
    async fn asset_page(&mut self, query: &AssetListQuery) -> StoreResult<AssetPage>;
    /// The legal register's requirements in force (retired too when asked), by kind and title.
    async fn legal_requirements(&mut self, include_retired: bool) -> StoreResult<Vec<LegalRecord>>;
    async fn legal_requirement(&mut self, id: &str) -> StoreResult<Option<LegalRecord>>;
    /// Every version of a requirement, newest first.
    async fn legal_history(&mut self, id: &str) -> StoreResult<Vec<LegalRecord>>;
    /// A vendor's evidence files, newest first (metadata only).
    async fn vendor_files(&mut self, vendor_id: &str) -> StoreResult<Vec<VendorFileRecord>>;
    /// One of a vendor's files with its sealed content.
    async fn vendor_file(
        &mut self,
        vendor_id: &str,
        id: &str,
    ) -> StoreResult<Option<(VendorFileRecord, VendorFileSealed)>>;
    /// (id, wrapped key) of vendor files whose data key is wrapped below `version`.
    async fn vendor_files_to_rewrap(
        &mut self,
        version: u32,
        limit: i64,
    ) -> StoreResult<Vec<(String, Vec<u8>)>>;
    async fn count_vendor_files_to_rewrap(&mut self, version: u32) -> StoreResult<i64>;
    /// How many vendor files are stored (the key evidence counts them with the customers).
    async fn count_vendor_files(&mut self) -> StoreResult<i64>;
    /// The disposal register, the latest disposed first (then the latest recorded).
    async fn disposals(&mut self) -> StoreResult<Vec<DisposalRecord>>;
    /// Every policy document, by kind then title, with its version in force and its draft.
    async fn policies(&mut self) -> StoreResult<Vec<PolicyRecord>>;
    async fn policy(&mut self, id: &str) -> StoreResult<Option<PolicyRecord>>;
    /// A policy's versions, newest first.
    async fn policy_versions(&mut self, policy_id: &str) -> StoreResult<Vec<PolicyVersionRecord>>;
    /// The acknowledgements of the versions in force (each policy's highest published one).
    async fn current_policy_acknowledgements(&mut self) -> StoreResult<Vec<PolicyAckRecord>>;
    /// Every acknowledgement of one policy (all its versions) or of one person.
    async fn policy_acknowledgements(
        &mut self,
        policy_id: Option<&str>,
        user_id: Option<&str>,
    ) -> StoreResult<Vec<PolicyAckRecord>>;
    /// Every client assignment: (user id, client company id).
    async fn all_user_clients(&mut self) -> StoreResult<Vec<(String, String)>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait IsmsWrite: IsmsRead {
    /// Installs a catalog, replacing its controls and mappings if it was installed before.
    async fn put_catalog(
        &mut self,
        catalog: &CatalogRecord,
        controls: &[ControlRecord],
        mappings: &[(String, String)],
    ) -> StoreResult<()>;
    /// Adds a version of a control's line (the record's `version` is ignored); returns it.
    async fn put_soa_entry(&mut self, entry: &SoaEntryRecord) -> StoreResult<i64>;
    /// Stores a new version of an asset (the record's `version` is ignored: one more than the
    /// stored one, 1 for a new asset); returns it.
    async fn put_asset(&mut self, asset: &AssetRecord) -> StoreResult<i64>;
    /// Stores a new assessment with its matrix (never changed afterwards).
    async fn insert_risk_assessment(&mut self, assessment: &RiskAssessmentRecord) -> StoreResult<()>;
    /// Stores a new version of a risk with its links (`version` and, for a new risk whose
    /// `number` is 0, the number are given by the store; a new risk with a number keeps it,
    /// the caller having checked it is free); returns (number, version).
    async fn put_risk(&mut self, risk: &RiskRecord) -> StoreResult<(i64, i64)>;
    /// Stores a new version of a vendor with its client companies; returns the version.
    async fn put_vendor(&mut self, vendor: &VendorRecord) -> StoreResult<i64>;
    async fn insert_certificate(&mut self, certificate: &CertificateRecord) -> StoreResult<()>;
    async fn insert_vendor_assessment(&mut self, assessment: &VendorAssessmentRecord) -> StoreResult<()>;
    async fn insert_vendor_visit(&mut self, visit: &VendorVisitRecord) -> StoreResult<()>;
    /// Records a measurement taken at `at`: a new row if status or value differ from the
    /// latest; returns whether it did.
    async fn record_evidence(
        &mut self,
        kind: &str,
        status: &str,
        value: &str,
        at: UnixMillis,
    ) -> StoreResult<bool>;
    /// Stores a new version of a requirement of the legal register (the record's `version` is
    /// ignored: one more than the stored one, 1 for a new one); returns it.
    async fn put_legal_requirement(&mut self, requirement: &LegalRecord) -> StoreResult<i64>;
    /// Stores a vendor's evidence file (never changed afterwards but by a re-wrap).
    async fn insert_vendor_file(
        &mut self,
        file: &VendorFileRecord,
        sealed: &VendorFileSealed,
    ) -> StoreResult<()>;
    /// Adds a record to the disposal register (never changed afterwards).
    async fn insert_disposal(&mut self, disposal: &DisposalRecord) -> StoreResult<()>;
    async fn insert_policy(&mut self, policy: &PolicyRecord) -> StoreResult<()>;
    /// Stores a draft version, replacing the policy's unpublished draft if there is one.
    async fn put_policy_draft(&mut self, draft: &PolicyVersionRecord) -> StoreResult<()>;
    /// Publishes a draft; false when that version is not an unpublished draft.
    async fn publish_policy_version(
        &mut self,
        policy_id: &str,
        version: i64,
        at: UnixMillis,
        by: &str,
    ) -> StoreResult<bool>;
    /// Records an acknowledgement; false when that person had acknowledged that version already.
    async fn insert_policy_acknowledgement(&mut self, ack: &PolicyAckRecord) -> StoreResult<bool>;
    /// Replaces a file's wrapped data key if it is still `old`; returns whether it did.
    async fn rewrap_vendor_file(
        &mut self,
        id: &str,
        old: &[u8],
        new: &[u8],
        version: u32,
    ) -> StoreResult<bool>;
}

/// The order of a page of assets; the id breaks ties, so pages never overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AssetSort {
    /// By name.
    #[default]
    Name,
    /// By kind, then name.
    Kind,
    /// By review date, the earliest first and those without one last; then name.
    ReviewOn,
}

/// Whose assets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetOwnerFilter {
    /// A user's id.
    User(String),
    /// Assets nobody answers for.
    Nobody,
}

/// Which assets a page of the register holds, and in what order. Every filter narrows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetListQuery {
    /// An `AssetKind`'s name.
    pub kind: Option<String>,
    /// A `Confidentiality`'s name.
    pub confidentiality: Option<String>,
    /// An `AssetSource`'s name.
    pub source: Option<String>,
    pub owner: Option<AssetOwnerFilter>,
    /// Part of the name or the location (letters compared in lower case).
    pub text: Option<String>,
    pub include_retired: bool,
    /// The day (`YYYY-MM-DD`) before which a review is overdue: such assets in force are
    /// counted in `AssetPage::overdue`.
    pub overdue_before: Option<String>,
    /// Only the assets in force whose review is overdue (needs `overdue_before`).
    pub overdue_only: bool,
    pub sort: AssetSort,
    pub offset: i64,
    pub limit: i64,
}

impl Default for AssetListQuery {
    fn default() -> Self {
        AssetListQuery {
            kind: None,
            confidentiality: None,
            source: None,
            owner: None,
            text: None,
            include_retired: false,
            overdue_before: None,
            overdue_only: false,
            sort: AssetSort::Name,
            offset: 0,
            limit: 100,
        }
    }
}

/// A page of assets and the counts of everything the query matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetPage {
    pub assets: Vec<AssetRecord>,
    /// Assets the query matches, on every page.
    pub total: i64,
    /// Of them, those in force whose review is before `overdue_before` (0 without it).
    pub overdue: i64,
}
