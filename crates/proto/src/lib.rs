//! The shapes of Mamori's `/api/v1`: what clients send and receive. Request bodies refuse unknown
//! fields, so a typo is an error rather than a silently ignored setting.

pub mod agent;
pub mod errors;

pub use errors::{ErrorCode, ErrorKind};

use mamori_domain::identity::{Language, UserStatus};
use mamori_domain::{Permission, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An RFC 9457 problem document; every API error has this shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `urn:mamori:problem:<code>`; the code is documented in docs/api.md under `#error-<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code (see docs/api.md).
    pub code: ErrorCode,
    /// The request field the problem is about, as a path like `roles[1]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub permissions: Vec<Permission>,
    pub client_ids: Vec<String>,
    pub language: Option<Language>,
    pub totp_enabled: bool,
    /// `session` or `api_token`.
    pub authenticated_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub status: UserStatus,
    pub team_id: Option<String>,
    pub site_id: Option<String>,
    pub client_ids: Vec<String>,
    /// Where mail reaches them (approval notifications), and the only sender address the mail
    /// relay accepts from them.
    pub mail_address: Option<String>,
    pub totp_enabled: bool,
    /// Unix milliseconds; set while the account is locked.
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteUser {
    /// 3–64 of `a-z 0-9 . _ -`.
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub site_id: Option<String>,
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// Like `sato@example.co.jp`; optional.
    #[serde(default)]
    pub mail_address: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Invited {
    pub user: User,
    /// One-time link for the new user to choose a password; shown only now.
    pub invitation_url: String,
}

/// Every field is optional; what is given is changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    /// `null` removes the team.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub site_id: Option<Option<String>>,
    /// `null` (or "") removes the address.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub mail_address: Option<Option<String>>,
    pub roles: Option<Vec<Role>>,
    pub client_ids: Option<Vec<String>>,
}

/// Tells a missing field (leave alone) from an explicit `null` (clear).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
    pub fn serialize<S: Serializer>(v: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvitationLink {
    pub invitation_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgUnit {
    pub id: String,
    pub name: String,
    /// For teams: the site they belong to.
    pub site_id: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgUnitList {
    pub items: Vec<OrgUnit>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgUnit {
    pub name: String,
    /// Teams only.
    #[serde(default)]
    pub site_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub permissions: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiTokenList {
    pub tokens: Vec<ApiToken>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    pub name: String,
    pub permissions: Vec<Permission>,
    /// 1–366.
    pub expires_in_days: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiToken {
    pub token: ApiToken,
    /// The bearer secret (`Authorization: Bearer …`). Shown only now; Mamori keeps a hash.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecurityEvent {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecurityEventList {
    pub events: Vec<SecurityEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub totp_required_for_everyone: bool,
}

/// Query of `GET /api/v1/audit`. Times are Unix milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditSearch {
    /// An actor as the log writes it (`user:<id>`, `token:<id>`, `device:<id>`, `system`,
    /// `anonymous`), or part of a user name or display name: that person and their API tokens.
    pub actor: Option<String>,
    /// An action code, or several separated by commas.
    pub action: Option<String>,
    pub object: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Entries before this index (the `next_before` of the previous page).
    pub before: Option<u64>,
    /// 1–1000, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<mamori_audit::AuditEntry>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next_before: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// Query of `GET /api/v1/audit/export`: the filters of `GET /api/v1/audit`, and a format.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditExportQuery {
    pub format: ExportFormat,
    /// An actor as the log writes it (`user:<id>`, `token:<id>`, `device:<id>`, `system`,
    /// `anonymous`), or part of a user name or display name: that person and their API tokens.
    pub actor: Option<String>,
    /// An action code, or several separated by commas.
    pub action: Option<String>,
    pub object: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// The latest signed tree head of the audit log, and the key that verifies it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditCheckpoint {
    pub size: u64,
    /// Hex SHA-256 root of the Merkle tree.
    pub root: String,
    /// When it was signed (Unix milliseconds).
    pub time: i64,
    /// The C2SP tlog-checkpoint signed note.
    pub note: String,
    /// The verifier key (`<origin>+<key id>+<key>`).
    pub public_key: String,
}

/// Query of `GET /api/v1/audit/entries/{index}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditProofQuery {
    /// The signed tree size to prove inclusion in; default the latest checkpoint.
    pub tree_size: Option<u64>,
}

/// An entry with its RFC 9162 inclusion proof.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryProof {
    pub entry: mamori_audit::AuditEntry,
    /// Hex SHA-256(0x00 ‖ canonical entry bytes), as recorded in the tree.
    pub leaf_hash: String,
    pub tree_size: u64,
    /// Hex hashes, leaf to root.
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint of `tree_size`.
    pub checkpoint: String,
}

/// Query of `GET /api/v1/audit/consistency`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditConsistencyQuery {
    pub from: u64,
    pub to: u64,
}

/// An RFC 9162 consistency proof between two signed tree sizes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditConsistency {
    pub from: u64,
    pub to: u64,
    pub proof: Vec<String>,
    pub from_checkpoint: String,
    pub to_checkpoint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Body of `POST /api/v1/customers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    pub client_id: String,
    /// Field name → value: `name_kanji`, `name_kana`, `phones` (comma-separated), `email`,
    /// `postal_address`, `birth_date` (YYYY-MM-DD), `gender`, `contracts`, `purchases`, `notes`,
    /// `card_number`. A card security code is refused whatever its name.
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerCreated {
    pub id: String,
}

/// Body of `POST /api/v1/customers/lookup`. Without a reason, the number must be the caller on
/// one of the caller's active calls (reported by the CTI integration).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerLookup {
    /// Give exactly one key: `phone`, `email`, `name` with `birth_date` (YYYY-MM-DD), or
    /// `call_id`: the caller on one of the caller's active calls (no reason needed).
    pub call_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<String>,
    /// Why, when not on a call with the customer: `callback`, `complaint_follow_up`,
    /// `data_subject_request`, `quality_review` or `fraud_check`.
    pub reason_code: Option<String>,
    /// 5–500 characters, with `reason_code`.
    pub reason_text: Option<String>,
}

/// Body of `POST /api/v1/cti/calls`: the telephony system reports a call starting.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallStarted {
    /// The telephony system's id for the call.
    pub call_id: String,
    /// The operator's Mamori user name.
    pub operator: String,
    /// The caller's number.
    pub caller: String,
}

/// Body of `POST /api/v1/cti/calls/end`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEnded {
    pub call_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShownField {
    pub field: String,
    pub value: String,
    /// `full`, `partial` or `hidden`.
    pub mask: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerCard {
    pub id: String,
    pub client_id: String,
    pub fields: Vec<ShownField>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerCards {
    pub customers: Vec<CustomerCard>,
}

/// Body of `POST /api/v1/customers/{id}/reveal`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealField {
    pub field: String,
    pub reason_code: String,
    pub reason_text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevealedField {
    pub field: String,
    pub value: String,
}

/// Body of `POST /api/v1/customers/{id}/notes`: a note appended to the customer's notes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNote {
    /// 1–2,000 characters.
    pub text: String,
}

/// Body of the data-subject requests (`disclosure`, `erase`): the reference of the request
/// they answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectRequest {
    pub request_ref: String,
}

/// Body of `PATCH /api/v1/customers/{id}`: a correction. An empty value removes the field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectCustomer {
    pub request_ref: String,
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DisclosedField {
    pub field: mamori_domain::customer::CustomerField,
    pub class: mamori_domain::customer::FieldClass,
    pub value: String,
}

/// What `POST /api/v1/customers/{id}/disclosure` answers: everything held on the customer and
/// the audit log's entries about them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Disclosure {
    pub id: String,
    pub client_id: String,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
    pub fields: Vec<DisclosedField>,
    pub accesses: Vec<mamori_audit::AuditEntry>,
}

/// Query of `POST /api/v1/customers/import` (the body is the CSV file, `Content-Type: text/csv`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The client company the customers belong to.
    pub client_id: String,
    /// `utf-8` (default; a byte-order mark is allowed) or `shift_jis`.
    pub encoding: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportDone {
    pub imported: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportProblem {
    /// The sheet of a workbook (register imports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// 1-based line of the file (a workbook's row).
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub message: String,
}

/// The problem document of a refused import: nothing was imported. The first problems are
/// listed (at most `import.max_listed_problems`, default 1,000), and all are counted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportRefused {
    #[serde(flatten)]
    pub problem: Problem,
    /// The first problems, in the file's order.
    pub problems: Vec<ImportProblem>,
    /// How many problems the file has in all; more than `problems` lists when the list was cut.
    pub problems_total: u64,
}

/// Body of `POST /api/v1/approvals`: a four-eyes request (issue 15).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApproval {
    pub kind: mamori_domain::approval::ApprovalKind,
    /// What exactly is asked for: a JSON object of ids, codes and counts (at most 4 KiB), never
    /// a customer's data. The grant is bound to its digest.
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    /// Why, in the requester's words (1–500 characters).
    pub reason: String,
}

/// Body of `POST /api/v1/exports`: asks to export customers of one client company (issue 15,
/// item 3). The request fixes "registered before now": customers added later are not in it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExport {
    pub client_id: String,
    /// The fields to export (at least one; not one hidden from the requester's role).
    pub fields: Vec<mamori_domain::customer::CustomerField>,
    /// Registered on or after this day (JST), `YYYY-MM-DD`.
    #[serde(default)]
    pub registered_from: Option<String>,
    /// Registered on or before this day (JST), `YYYY-MM-DD`.
    #[serde(default)]
    pub registered_to: Option<String>,
    /// Why, in the requester's words (1–500 characters).
    pub reason: String,
}

/// `POST /api/v1/approvals/{id}/export-ticket`: the password to show the requester, once, and
/// the ticket the download brings back. The grant is not used yet.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExportTicket {
    pub ticket: String,
    /// Opens the archive (AES-256 ZIP). Never stored; not shown again.
    pub password: String,
    /// How many customers the approved request covers.
    pub customers: u64,
    pub file_name: String,
}

/// Body of `POST /api/v1/approvals/{id}/export`: the download, once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadExport {
    pub ticket: String,
}

/// What a take-out is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TakeOutItemKind {
    Device,
    Usb,
    Paper,
}

/// Body of `POST /api/v1/take-outs`: asks to take a PC, a USB stick or a paper file out (issue
/// 15, item 4). Give the field of the item's kind only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTakeOut {
    pub item: TakeOutItemKind,
    /// `item: device`: the PC's id (one's own, or one in one's people scope).
    #[serde(default)]
    pub device_id: Option<String>,
    /// `item: usb`: the stick's serial number (4–64 letters, digits and `._-:`).
    #[serde(default)]
    pub usb_serial: Option<String>,
    /// `item: paper`: what it is, in 1–200 characters (no customer's data).
    #[serde(default)]
    pub paper: Option<String>,
    /// The return date: `YYYY-MM-DD` (the end of that day) or `YYYY-MM-DDTHH:MM`, Japan time;
    /// within the take-out policy's longest grant (7 days by default).
    pub until: String,
    /// Why, in the requester's words (1–500 characters).
    pub reason: String,
}

/// `GET /api/v1/take-outs`: take-outs out now or overdue whose return the caller may record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TakeOutsOut {
    pub out: Vec<ApprovalView>,
}

/// Body of `POST /api/v1/privileged`: asks a second security admin to approve a privileged
/// action (issue 15, item 7).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePrivileged {
    pub action: mamori_domain::approval::PrivilegedAction,
    /// Why, in the requester's words (1–500 characters).
    pub reason: String,
}

/// `GET /api/v1/approval-policies`: how each kind of request is decided.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalPolicies {
    pub policies: std::collections::BTreeMap<String, mamori_domain::approval::ApprovalPolicy>,
}

/// One notification to the webhook — an approval step, an alert raised, an incident opened or a
/// breach-report reminder — with its delivery.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalNotificationView {
    pub id: String,
    /// `approval:<id>`, `alert:<id>` or `incident:<id>`.
    pub subject: String,
    /// The approval, for an approval step.
    pub approval_id: Option<String>,
    pub event: String,
    pub created_at: i64,
    /// `pending`, `delivered` or `failed` (given up after ten attempts).
    pub status: String,
    pub attempts: i64,
    pub next_at: i64,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

/// `GET /api/v1/approval-notifications`: the latest, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalNotifications {
    pub notifications: Vec<ApprovalNotificationView>,
}

/// Body of `POST /api/v1/approvals/{id}/approve` and `/deny`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideApproval {
    /// The decider's current TOTP code: a decision needs a step-up, given on the spot.
    pub totp_code: String,
    #[serde(default)]
    pub comment: String,
}

/// One decision on a request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalDecisionView {
    pub decider_id: String,
    pub approve: bool,
    pub at: i64,
    pub comment: String,
}

/// A four-eyes request with its decisions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalView {
    pub id: String,
    pub kind: mamori_domain::approval::ApprovalKind,
    pub state: mamori_domain::approval::ApprovalState,
    pub requester_id: String,
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    /// SHA-256 (hex) of the content's canonical JSON: what a grant is bound to.
    pub digest: String,
    pub reason: String,
    pub created_at: i64,
    pub decide_by: i64,
    pub grant_expires_at: Option<i64>,
    /// Approvals the kind's policy needs.
    pub approvals_needed: u8,
    pub decisions: Vec<ApprovalDecisionView>,
}

/// `GET /api/v1/approvals`: what the caller may decide, and their own requests.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalInbox {
    pub to_decide: Vec<ApprovalView>,
    pub mine: Vec<ApprovalView>,
}

/// A mail through the relay (issue 15, item 5), as its sender or a supervisor deciding its
/// request sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutgoingMailView {
    pub id: String,
    /// `held` (waiting for the sender's check), `awaiting_approval`, `released`, `sent`,
    /// `cancelled`, `returned`.
    pub state: String,
    /// Why it was returned: `domain_refused`, `denied`, `approval_expired`, `not_confirmed`,
    /// `upstream_failed`.
    pub reason: Option<String>,
    pub sender_id: String,
    pub subject: String,
    pub recipients: Vec<mamori_domain::mail::Recipient>,
    pub attachments: Vec<MailAttachmentView>,
    pub findings: mamori_domain::mail::Findings,
    /// The start of the text.
    pub text: String,
    pub size: i64,
    pub created_at: i64,
    /// The sender may confirm from then (the self-check delay).
    pub confirm_after: i64,
    /// Not confirmed by then, it is returned.
    pub hold_until: i64,
    /// Its four-eyes request, when it carries customer data.
    pub approval_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MailAttachmentView {
    pub name: String,
    pub size: u64,
}

/// `GET /api/v1/mail`: the caller's latest mails, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutgoingMailList {
    pub mails: Vec<OutgoingMailView>,
}

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Alerts seen in the last this many days, 1–90 (default 7).
    pub days: Option<u32>,
    /// Only alerts in these states, comma-separated: `open`, `acknowledged`, `suppressed`,
    /// `resolved`, `false_positive`.
    pub state: Option<String>,
}

/// An alert: which rule fired about whom, what deviated and by how much, and its handling.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertView {
    pub id: String,
    /// The detection rule (`off_call_lookups`, `lookup_volume`, …).
    pub rule: String,
    /// `user:<id>`, `token:<id>` or `ip:<address>`.
    pub subject: String,
    /// The person's display name, when the subject is a person.
    pub person: Option<String>,
    pub severity: String,
    /// `open`, `acknowledged`, `suppressed`, `resolved`, `false_positive`.
    pub state: String,
    pub first_at: i64,
    pub last_at: i64,
    /// How many times the rule fired into this alert.
    pub hits: i64,
    /// The counted value (the largest seen), the rule's threshold and window.
    pub value: i64,
    pub threshold: i64,
    pub window_minutes: i64,
    /// The person's own median per active hour, and its spread (volume).
    pub baseline_median: Option<f64>,
    pub baseline_mad: Option<f64>,
    /// Completed active hours the baseline was computed from.
    pub baseline_hours: Option<i64>,
    /// The robust z-score against that baseline (the largest seen).
    pub deviation: Option<f64>,
    pub assignee_id: Option<String>,
    pub state_reason: Option<String>,
    pub suppressed_until: Option<i64>,
}

/// `GET /api/v1/alerts`: problems first (active, high severity), then newest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<AlertView>,
}

/// An automatic response taken for an alert.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertResponseView {
    pub id: String,
    /// `lock_pc` or `end_sessions`.
    pub kind: String,
    /// `device:<id>` or `user:<id>`.
    pub target: String,
    /// `done`, `skipped`, `reversed`.
    pub state: String,
    /// The lock's device command id, the number of sessions ended, or why it was skipped.
    pub detail: Option<String>,
    pub created_at: i64,
    pub reversed_at: Option<i64>,
}

/// `GET /api/v1/alerts/{id}`: the alert, the audit entries behind it (the latest 200) and the
/// responses taken.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertDetailView {
    pub alert: AlertView,
    pub evidence: Vec<mamori_audit::AuditEntry>,
    /// How many entries are linked in all.
    pub evidence_total: usize,
    pub responses: Vec<AlertResponseView>,
}

/// `POST /api/v1/alerts/{id}`: what to do with the alert.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum AlertChangeRequest {
    Acknowledge,
    /// To a supervisor or security admin.
    Assign {
        user_id: String,
    },
    /// Further firings of the same cause are counted on it, silently, until `hours` (1–720) pass.
    Suppress {
        hours: u32,
        reason: String,
    },
    FalsePositive {
        reason: String,
    },
    Resolve {
        reason: String,
    },
}

/// `GET /api/v1/detection-rules`: every rule's settings, their version (absent while the
/// shipped defaults apply), and each rule's record over 30 days.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DetectionRulesView {
    pub rules: std::collections::BTreeMap<String, mamori_domain::detect::RuleSettings>,
    pub version: Option<i64>,
    pub alerts_30d: std::collections::BTreeMap<String, i64>,
    pub false_positives_30d: std::collections::BTreeMap<String, i64>,
}

/// `PUT /api/v1/detection-rules`: the settings of the rules to change (others keep theirs).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionRulesChange {
    pub rules: std::collections::BTreeMap<String, mamori_domain::detect::RuleSettings>,
}

/// `POST /api/v1/incidents/report`: anyone reports a possible leak in one step.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakReportRequest {
    pub kind: mamori_domain::incident::IncidentKind,
    /// What happened (up to 5,000 characters).
    pub description: String,
    /// Reported without the reporter's name or address.
    #[serde(default)]
    pub anonymous: bool,
}

/// `POST /api/v1/incidents`: a security admin opens an incident, by hand or from alerts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentRequest {
    pub title: String,
    pub kind: mamori_domain::incident::IncidentKind,
    pub severity: mamori_domain::detect::Severity,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub alert_ids: Vec<String>,
}

/// Query of `GET /api/v1/incidents`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// Closed incidents of the last this many days are listed too, 1–366 (default 30); open
    /// ones always are.
    pub days: Option<u32>,
    /// Only these states, comma-separated: `new`, `triage`, `contained`, `recovered`, `closed`.
    pub state: Option<String>,
}

/// A report due to the PPC: why, and by when.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportDutyView {
    /// `sensitive`, `financial`, `wrongful_purpose`, `over_thousand`.
    pub grounds: Vec<String>,
    pub preliminary_due: i64,
    pub final_due: i64,
}

/// An incident.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentView {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub kind: String,
    pub state: String,
    pub severity: String,
    pub description: String,
    /// Absent for an anonymous report.
    pub reported_by: Option<String>,
    pub assignee_id: Option<String>,
    pub learned_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub data: mamori_domain::incident::DataAssessment,
    pub client_ids: Vec<String>,
    /// Present when a report to the PPC and a notice to the people are required.
    pub report_duty: Option<ReportDutyView>,
    pub preliminary_reported_at: Option<i64>,
    pub final_reported_at: Option<i64>,
    pub people_notified_at: Option<i64>,
    pub clients_notified_at: Option<i64>,
    pub review: Option<String>,
    pub closed_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentList {
    pub incidents: Vec<IncidentView>,
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TimelineItemView {
    pub at: i64,
    pub actor: String,
    /// `opened`, `reported`, `comment`, `state`, `assessment`, `assigned`, `checklist`,
    /// `alerts_linked`, `report_recorded`, `reminder`, `learned_at`, `alert`, `response`.
    pub kind: String,
    pub detail: String,
}

/// `GET /api/v1/incidents/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentDetailView {
    pub incident: IncidentView,
    pub alerts: Vec<AlertView>,
    pub timeline: Vec<TimelineItemView>,
    /// The playbook's items; `done_at` when done.
    pub checklist: Vec<ChecklistItemView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChecklistItemView {
    pub item: String,
    pub done_at: Option<i64>,
}

/// `POST /api/v1/incidents/{id}`: one change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum IncidentChangeRequest {
    /// Forward only; closing needs `review` (the post-incident review).
    State {
        to: mamori_domain::incident::IncidentState,
        review: Option<String>,
    },
    Assign {
        user_id: String,
    },
    Assess {
        data: mamori_domain::incident::DataAssessment,
        #[serde(default)]
        client_ids: Vec<String>,
    },
    /// When the centre learned of it (Unix ms): the clock's start.
    LearnedAt {
        at: i64,
    },
    Checklist {
        item: String,
        done: bool,
    },
    Comment {
        text: String,
    },
    LinkAlerts {
        alert_ids: Vec<String>,
    },
    /// `preliminary`, `final`, `people`, `clients`.
    ReportMade {
        report: String,
    },
}

/// `GET /api/v1/incidents/{id}/report-draft`: the PPC's items filled from the incident, and a
/// notice for each client company whose customers are involved.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportDraftView {
    pub incident_number: i64,
    pub required: bool,
    pub duty: Option<ReportDutyView>,
    /// 事案の概要
    pub summary: String,
    /// 漏えい等が発生し、又は発生したおそれがある個人データの項目
    pub data_items: Vec<String>,
    /// 本人の数
    pub people: u32,
    /// 原因
    pub cause: String,
    /// 二次被害又はそのおそれの有無及びその内容
    pub secondary_damage: String,
    /// 本人への対応の実施状況
    pub response_to_people: String,
    /// 公表の実施状況
    pub publication: String,
    /// 再発防止のための措置
    pub prevention: String,
    /// その他参考となる事項
    pub other: String,
    /// (client company id, name) whose customers are involved: each gets the notice.
    pub clients: Vec<(String, String)>,
}

/// `GET/PUT /api/v1/incident-settings`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentSettings {
    /// Days to the preliminary report to the PPC, 1–5 (3 by default).
    pub preliminary_days: u32,
}

// ── ISMS registers (issue 17) ─────────────────────────────────────────────────────────────

/// An installed control catalog.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogView {
    pub urn: String,
    pub ref_id: String,
    pub name: String,
    pub name_ja: Option<String>,
    pub version: i64,
    pub provider: Option<String>,
    /// Shipped with Mamori (updated with it; an import may not replace it).
    pub built_in: bool,
    pub imported_at: i64,
}

/// Query of `POST /api/v1/isms/catalogs` (the body is the YAML file, `Content-Type: application/yaml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CatalogImportQuery {
    /// Check the file and say what it holds, changing nothing.
    pub dry_run: Option<bool>,
}

/// What a catalog import found (and, unless a dry run, installed).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogImportView {
    pub urn: String,
    pub name: String,
    pub version: i64,
    pub controls: usize,
    pub assessable: usize,
    pub mappings: usize,
    /// It replaced an installed version of the same catalog.
    pub replaced: bool,
    pub dry_run: bool,
}

/// Query of `GET /api/v1/isms/registers/export`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegistersExportQuery {
    /// `xlsx` (default: every register, a sheet each) or `csv` (one register, named by `register`).
    pub format: Option<String>,
    /// For CSV: `assets`, `risk_assessments`, `risks`, `soa`, `vendors`, `certificates`,
    /// `vendor_assessments` or `vendor_visits`.
    pub register: Option<String>,
}

/// Query of `POST /api/v1/isms/registers/import` (the body is the file: XLSX, or CSV with `register`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegistersImportQuery {
    /// Check the file and say what it would do, changing nothing.
    pub dry_run: Option<bool>,
    /// For a CSV file: the register it holds.
    pub register: Option<String>,
}

/// What an import's rows did in one register.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterImportCounts {
    pub register: String,
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// What a register import did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistersImportView {
    pub dry_run: bool,
    /// Written (false in a dry run).
    pub applied: bool,
    pub sheets: Vec<RegisterImportCounts>,
}

/// One live evidence result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvidenceView {
    /// `audit_log_verified`, `audit_forwarding_lag`, `privileged_second_factor`, `dormant_accounts`,
    /// `vault_key_current`, `key_rotation_age`, `compliant_devices`, `antivirus_signature_age`,
    /// `usb_without_take_out`, `open_incidents`, `open_high_alerts`, `time_to_contain`.
    pub kind: String,
    /// `logging`, `access_control`, `cryptography`, `endpoint`, `incident_management`.
    pub area: String,
    /// `pass`, `warn`, `fail`, `not_applicable`.
    pub status: String,
    /// The figure: `4/5` (a share), `12` (a count, days or hours), `3/1` (open/overdue), the
    /// verified size, or the mismatch found.
    pub value: String,
    /// Since when this result holds.
    pub computed_at: i64,
    /// When it was last measured.
    pub checked_at: i64,
    /// The Annex A controls it is evidence for.
    pub controls: Vec<String>,
}

/// Query of the SoA.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SoaQuery {
    /// The catalog's urn (Annex A when absent).
    pub catalog: Option<String>,
    /// As it stood at this time (Unix milliseconds); now when absent.
    pub at: Option<i64>,
}

/// What `GET /api/v1/isms/soa/export` writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SoaExportFormat {
    /// UTF-8 with a byte-order mark, one row per assessable control, every field.
    #[default]
    Csv,
    /// A4 landscape in the caller's language, the Japanese font embedded (docs/isms.md).
    Pdf,
}

/// Query of `GET /api/v1/isms/soa/export`: the SoA's query, and a format.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SoaExportQuery {
    /// The catalog's urn (Annex A when absent).
    pub catalog: Option<String>,
    /// As it stood at this time (Unix milliseconds); now when absent.
    pub at: Option<i64>,
    /// `csv` (when absent) or `pdf`.
    #[serde(default)]
    #[param(inline)]
    pub format: SoaExportFormat,
}

/// Query of the live evidence.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EvidenceQuery {
    /// As it stood at this time (Unix milliseconds); now when absent.
    pub at: Option<i64>,
}

/// A control of a catalog.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ControlView {
    pub urn: String,
    pub catalog_urn: String,
    pub parent_urn: Option<String>,
    pub ref_id: String,
    pub name: String,
    pub name_ja: Option<String>,
    pub description: Option<String>,
    pub description_ja: Option<String>,
    /// Whether the SoA decides on it (themes are not).
    pub assessable: bool,
}

/// One version of a control's line in the SoA.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SoaEntryView {
    pub version: i64,
    pub applicable: bool,
    pub justification: String,
    /// `not_started`, `planned`, `partial`, `implemented`.
    pub implementation: String,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub review_on: Option<String>,
    pub changed_at: i64,
    /// An audit actor.
    pub changed_by: String,
}

/// A control's line in the SoA with its live evidence.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SoaLineView {
    pub control: ControlView,
    /// None while undecided (and for themes).
    pub entry: Option<SoaEntryView>,
    pub evidence: Vec<EvidenceView>,
    /// The worst status among the evidence (none without evidence).
    pub evidence_status: Option<String>,
    /// Urns of the controls of other catalogs it maps to, and that map to it.
    pub mapped: Vec<String>,
    /// The risks it treats (`R-<number> <title>`).
    pub risks: Vec<SoaLinkView>,
    /// The assets those risks threaten.
    pub assets: Vec<SoaLinkView>,
}

/// A risk or an asset an SoA line links to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SoaLinkView {
    pub id: String,
    pub name: String,
}

/// The Statement of Applicability of one catalog.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SoaView {
    pub catalog: CatalogView,
    pub at: Option<i64>,
    pub lines: Vec<SoaLineView>,
}

/// One control with the history of its line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ControlDetailView {
    pub line: SoaLineView,
    /// Newest first.
    pub history: Vec<SoaEntryView>,
}

/// The version a decision or a change made.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SoaDecided {
    pub version: i64,
}

/// An information asset (the version in force).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetView {
    pub id: String,
    pub version: i64,
    /// `customer_data`, `document`, `software`, `cloud_service`, `equipment`, `person`, `premises`.
    pub kind: String,
    pub name: String,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub location: String,
    /// `public` (公開), `internal` (社外秘), `restricted` (部外秘).
    pub confidentiality: String,
    /// `low` (小), `medium` (中), `high` (大).
    pub integrity: String,
    /// `daytime_stop_ok` (日中停止可), `night_stop_ok` (夜間停止可), `always_on` (24時間365日).
    pub availability: String,
    /// Software and cloud services: on the allowed list (TW-2).
    pub allowed: Option<bool>,
    pub review_on: Option<String>,
    pub notes: String,
    /// `manual`, or `device` / `client_data`: kept in step with that ledger PC or client company.
    pub source: String,
    pub source_id: Option<String>,
    pub retired_at: Option<i64>,
    pub changed_at: i64,
    /// An audit actor.
    pub changed_by: String,
    /// A ledger PC's asset whose PC is revoked and whose disposal is not yet recorded (it
    /// retires with its disposal record, LEAK-3); false in a history.
    #[serde(default)]
    pub revoked_not_disposed: bool,
}

/// Query of the vendor list (`GET /api/v1/isms/vendors`; the asset list has its own,
/// `AssetListQuery`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssetQuery {
    /// Retired assets too.
    pub include_retired: Option<bool>,
}

/// The order of `GET /api/v1/isms/assets`; the id breaks ties, so pages never overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetSortKey {
    /// By name.
    #[default]
    Name,
    /// By kind, then name.
    Kind,
    /// By review date, the earliest first and those without one last; then name.
    ReviewOn,
}

/// Query of `GET /api/v1/isms/assets`: filters (each narrows), a sort and a page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssetListQuery {
    #[param(inline)]
    pub kind: Option<mamori_domain::isms::asset::AssetKind>,
    #[param(inline)]
    pub confidentiality: Option<mamori_domain::isms::asset::Confidentiality>,
    /// `manual`, or `device` / `client_data`: the assets Mamori keeps in step with the device
    /// ledger or a client company.
    #[param(inline)]
    pub source: Option<mamori_domain::isms::asset::AssetSource>,
    /// A user's id: the assets that person answers for; `none`: the assets nobody answers for.
    pub owner: Option<String>,
    /// Part of the name or the location (letters in any case), at most 200 characters.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only assets in force whose review date has passed (today in Japan).
    pub overdue: Option<bool>,
    /// Retired assets too.
    pub include_retired: Option<bool>,
    /// `name` (default), `kind` or `review_on`.
    #[param(inline)]
    pub sort: Option<AssetSortKey>,
    /// 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// How many matching assets to skip (default 0): the `next_offset` of the previous page.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// A page of the asset list, and how many assets the query matches in all.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetPage {
    pub assets: Vec<AssetView>,
    /// Assets the query matches, on every page.
    pub total: i64,
    /// Of them, those in force whose review date has passed (today in Japan).
    pub overdue: i64,
    pub offset: i64,
    pub limit: i64,
    /// Pass as `offset` (with the same filters) for the next page; null on the last page.
    pub next_offset: Option<i64>,
}

/// An asset with every version, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetDetailView {
    pub asset: AssetView,
    pub history: Vec<AssetView>,
}

/// The id of a new record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Created {
    pub id: String,
}

// --- Access-right reviews (issue 18, item 3; LEAK-6)

/// A campaign with its counts and the caller's part of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessReviewCampaignView {
    pub id: String,
    pub title: String,
    /// `scheduled`, `manual` or `transfer`.
    pub trigger: String,
    /// The person a transfer campaign reviews.
    pub subject: Option<PersonRef>,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Who started it (a name, or `system`).
    pub started_by: String,
    pub due_at: i64,
    /// When its open entries went to the security admins (the due date passed).
    pub escalated_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub entries: i64,
    /// Approved or revoked.
    pub decided: i64,
    pub flagged: i64,
    /// The caller's own entries and how many of them are decided.
    pub mine: i64,
    pub mine_decided: i64,
}

/// The campaigns, newest first, and the review settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessReviewListView {
    pub campaigns: Vec<AccessReviewCampaignView>,
    pub settings: mamori_domain::isms::access_review::ReviewSettings,
}

/// One entry: a person's role, client company or PC as frozen, its flags and its decision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessReviewEntryView {
    pub id: String,
    pub user: PersonRef,
    /// The person's team at the freeze (empty: none).
    pub team: String,
    pub kind: mamori_domain::isms::access_review::EntryKind,
    /// The role's name, the client company's id or the PC's id.
    pub item: String,
    /// The client company's or PC's name at the freeze.
    pub item_name: String,
    pub flags: Vec<mamori_domain::isms::access_review::Flag>,
    /// Who reviews it; empty: the security admins.
    pub reviewers: Vec<PersonRef>,
    /// `approve`, `revoke` or `defer`; absent: open.
    pub decision: Option<String>,
    pub reason: String,
    pub decided_at: Option<i64>,
    /// A name, or the actor.
    pub decided_by: Option<String>,
    pub escalated_at: Option<i64>,
}

/// A reviewer's progress (names empty: the security admins).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessReviewProgressView {
    pub reviewers: Vec<String>,
    pub entries: i64,
    pub decided: i64,
    pub deferred: i64,
    pub flagged: i64,
}

/// A page of a campaign's entries (50), flagged first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessReviewPageView {
    pub campaign: AccessReviewCampaignView,
    pub entries: Vec<AccessReviewEntryView>,
    /// Entries the query matches, on every page.
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    pub progress: Vec<AccessReviewProgressView>,
}

/// Query of a campaign's page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessReviewPageQuery {
    /// `mine` (the default: the entries the caller reviews) or `all` (security admins, auditors).
    pub whose: Option<String>,
    /// Only the entries not approved or revoked yet.
    pub open_only: Option<bool>,
    /// Entries to skip (a multiple of 50).
    pub offset: Option<i64>,
}

/// A campaign started.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessReviewStarted {
    pub id: String,
    /// Entries frozen.
    pub entries: usize,
}

/// What a decision did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessReviewDecided {
    pub decision: mamori_domain::isms::access_review::Decision,
    /// The campaign finished with it.
    pub finished: bool,
    /// A revocation took something away (false: it was already gone).
    pub removed: bool,
}

/// A risk assessment with its frozen matrix.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RiskAssessmentView {
    pub id: String,
    pub name: String,
    /// Risks at this level (from 0) or above are above the appetite.
    pub appetite: i64,
    pub matrix: mamori_domain::isms::risk::RiskMatrix,
    pub created_at: i64,
}

/// Body of `POST /api/v1/isms/risk-assessments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRiskAssessment {
    pub name: String,
    /// The ISO/IEC 27005-style 5×5 grid when absent.
    #[serde(default)]
    pub matrix: Option<mamori_domain::isms::risk::RiskMatrix>,
    pub appetite: i64,
}

/// A rating with the level its matrix gives it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RatedView {
    pub probability: i64,
    pub impact: i64,
    pub level: i64,
}

/// A risk (the version in force).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RiskView {
    pub id: String,
    pub assessment_id: String,
    pub number: i64,
    pub version: i64,
    pub title: String,
    pub threat: String,
    pub vulnerability: String,
    pub inherent: RatedView,
    pub residual: Option<RatedView>,
    /// `undecided`, `reduce`, `accept`, `transfer`, `avoid`.
    pub treatment: String,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub due_on: Option<String>,
    pub review_on: Option<String>,
    pub notes: String,
    pub asset_ids: Vec<String>,
    pub control_urns: Vec<String>,
    /// Its current level (residual when rated) is at or above the appetite.
    pub above_appetite: bool,
    pub changed_at: i64,
    pub changed_by: String,
}

/// Query naming an assessment (the newest when absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RiskQuery {
    pub assessment: Option<String>,
}

/// The risks of an assessment and their heat maps (`[probability][impact]` → risks).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RiskRegisterView {
    pub assessment: RiskAssessmentView,
    pub risks: Vec<RiskView>,
    pub inherent_heat: Vec<Vec<usize>>,
    pub residual_heat: Vec<Vec<usize>>,
}

/// A risk with every version, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RiskDetailView {
    pub risk: RiskView,
    pub history: Vec<RiskView>,
}

/// A certificate with what to act on as of today (JST).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CertificateView {
    pub id: String,
    /// None: the centre's own.
    pub vendor_id: Option<String>,
    /// The vendor's name; empty for the centre's own.
    pub holder: String,
    /// `privacy_mark` or `iso27001`.
    pub scheme: String,
    pub number: String,
    pub issuer: String,
    pub first_obtained_on: String,
    pub issued_on: String,
    pub expires_on: String,
    /// Whole years since first obtained.
    pub held_years: i64,
    /// A later certificate of the same holder and scheme is recorded.
    pub renewed: bool,
    pub notices: Vec<mamori_domain::isms::vendor::CertificateNotice>,
}

/// A vendor's assessment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VendorAssessmentView {
    pub id: String,
    pub assessed_on: String,
    /// Criterion → score 1 to 5.
    pub scores: std::collections::BTreeMap<String, i64>,
    pub total: i64,
    /// `low`, `medium`, `high`.
    pub tier: String,
    pub next_on: String,
    pub notes: String,
    pub recorded_by: String,
}

/// A site visit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VendorVisitView {
    pub id: String,
    pub visited_on: String,
    pub visitor: String,
    pub findings: String,
}

/// A vendor (the version in force) with its chain, clients, latest assessment and certificates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VendorView {
    pub id: String,
    pub version: i64,
    pub name: String,
    pub parent_id: Option<String>,
    pub parent_name: Option<String>,
    pub client_ids: Vec<String>,
    pub client_names: Vec<String>,
    pub data_handled: String,
    pub contact: String,
    pub review_on: Option<String>,
    pub notes: String,
    pub retired_at: Option<i64>,
    pub latest_assessment: Option<VendorAssessmentView>,
    pub certificates: Vec<CertificateView>,
    pub changed_at: i64,
    pub changed_by: String,
}

/// A vendor with its versions, assessments, visits and subcontractors.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VendorDetailView {
    pub vendor: VendorView,
    /// Versions, newest first (client companies by id).
    pub history: Vec<VendorView>,
    pub assessments: Vec<VendorAssessmentView>,
    pub visits: Vec<VendorVisitView>,
    /// (id, name) of the vendors working for it.
    pub subcontractors: Vec<(String, String)>,
}

/// A requirement of the legal register (ISMS-4): a law, regulation, guideline, contract or
/// certification rule the centre complies with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LegalView {
    pub id: String,
    pub version: i64,
    /// `law`, `regulation`, `guideline`, `contract`, `certification_rule`.
    pub kind: String,
    pub title: String,
    /// Articles, a contract's number.
    pub reference: String,
    /// What it requires of the centre.
    pub obligations: String,
    /// A contract's client company.
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    /// `YYYY-MM-DD`.
    pub review_on: Option<String>,
    pub notes: String,
    pub retired_at: Option<i64>,
    pub changed_at: i64,
    /// An audit actor (`user:<id>`).
    pub changed_by: String,
}

/// A requirement of the legal register with its versions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LegalDetailView {
    pub requirement: LegalView,
    /// Versions, newest first.
    pub history: Vec<LegalView>,
}

/// A record of the disposal register (LEAK-3): never changed once recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DisposalView {
    pub id: String,
    /// `pc`, `disk`, `medium`, `paper`.
    pub kind: String,
    /// `overwrite` (上書き消去), `degauss` (磁気消去), `physical_destruction` (物理破壊),
    /// `dissolving` (溶解).
    pub method: String,
    pub description: String,
    pub serial: String,
    pub quantity: Option<i64>,
    /// `YYYY-MM-DD`, the day in Japan.
    pub disposed_on: String,
    pub witness_id: String,
    pub witness_name: Option<String>,
    /// The disposal company, empty when done in-house.
    pub company: String,
    /// The company's certificate of disposal.
    pub certificate: String,
    pub notes: String,
    pub asset_id: Option<String>,
    pub asset_name: Option<String>,
    /// The ledger PC disposed of.
    pub device_id: Option<String>,
    pub device_hostname: Option<String>,
    pub recorded_at: i64,
    /// An audit actor (`user:<id>`).
    pub recorded_by: String,
    pub recorded_by_name: Option<String>,
}

/// The disposal register: its records, newest first, and the revoked PCs still to dispose of.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DisposalRegisterView {
    pub disposals: Vec<DisposalView>,
    /// Ledger PCs revoked whose disposal is not recorded.
    pub revoked_not_disposed: Vec<DeviceRef>,
}

/// A ledger PC by id and host name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceRef {
    pub id: String,
    pub hostname: String,
}

/// A review overdue or due within 30 days.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DueReviewView {
    /// `asset`, `risk`, `control`, `vendor`, `vendor_assessment`, `legal`.
    pub of: String,
    /// The record's id (a control's urn).
    pub id: String,
    pub name: String,
    pub due_on: String,
    /// Negative when overdue.
    pub days_left: i64,
}

/// A control whose live evidence fails or warns.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FailingControlView {
    pub urn: String,
    pub ref_id: String,
    pub name: String,
    pub name_ja: Option<String>,
    /// `fail` or `warn`.
    pub status: String,
    pub kinds: Vec<String>,
}

/// A risk above the appetite.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RiskAboveAppetiteView {
    pub id: String,
    pub name: String,
    pub level_en: String,
    pub level_ja: String,
    pub color: String,
}

/// The security admin's dashboard: what needs doing, worst first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IsmsDashboardView {
    /// Annex A controls: applicable, implemented, undecided, in all.
    pub controls_applicable: usize,
    pub controls_implemented: usize,
    pub controls_undecided: usize,
    pub controls_total: usize,
    pub failing_controls: Vec<FailingControlView>,
    pub risks_above_appetite: Vec<RiskAboveAppetiteView>,
    pub reviews: Vec<DueReviewView>,
    pub certificates: Vec<CertificateView>,
    pub open_alerts: usize,
    pub open_high_alerts: usize,
    pub open_incidents: usize,
}

// --- Policies with acknowledgements (issue 18, item 1; ISMS-2, ISMS-3, LEAK-7)

/// A person by id and display name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonRef {
    pub id: String,
    pub name: String,
}

/// Who a document is published to (each list empty: everyone).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyScopeView {
    pub roles: Vec<Role>,
    pub sites: Vec<String>,
    pub clients: Vec<String>,
}

/// A document with who must still acknowledge its version in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyStatusView {
    pub id: String,
    /// `basic_policy`, `standard`, `procedure`, `privacy_policy`, `confidentiality_pledge`.
    pub kind: String,
    pub title: String,
    pub scope: PolicyScopeView,
    /// The version in force (the highest published), if any.
    pub version_in_force: Option<i64>,
    /// The unpublished draft's version, if any.
    pub draft_version: Option<i64>,
    /// Active people in scope.
    pub in_scope: usize,
    /// Of them, those who acknowledged the version in force.
    pub acknowledged: usize,
    /// Those who have not, by name.
    pub pending: Vec<PersonRef>,
}

/// Every document, problems first is the reader's job: each with its pending people.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyOverviewView {
    /// Whether customer lookups require the current confidentiality pledge acknowledged.
    pub lookups_require_pledge: bool,
    pub policies: Vec<PolicyStatusView>,
}

/// A document published to the caller.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyPolicyView {
    pub id: String,
    pub kind: String,
    pub title: String,
    /// The version in force.
    pub version: i64,
    pub published_at: Option<i64>,
    /// When the caller acknowledged the version in force; null: still to do.
    pub acknowledged_at: Option<i64>,
}

/// Something the caller must do before looking customers up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PrerequisiteView {
    /// `policy_not_acknowledged`.
    pub reason: String,
    /// `isms_policy:<id>`.
    pub object: String,
    pub title: String,
    /// The console page where it is done.
    pub href: String,
}

/// The documents published to the caller, those to acknowledge first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyPoliciesView {
    pub policies: Vec<MyPolicyView>,
    /// What keeps the caller from looking customers up (the policy options), if anything.
    pub lookups_need: Vec<PrerequisiteView>,
}

/// One version of a document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyVersionView {
    pub version: i64,
    pub note: String,
    /// Markdown as written.
    pub body: String,
    /// The Markdown rendered as safe HTML (raw HTML shown as text).
    pub html: String,
    pub drafted_at: i64,
    pub drafted_by: String,
    pub drafted_by_name: Option<String>,
    /// Null: a draft.
    pub published_at: Option<i64>,
    pub published_by: Option<String>,
    pub published_by_name: Option<String>,
}

/// An acknowledgement: kept forever, whatever version follows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyAckView {
    pub user_id: String,
    pub user_name: Option<String>,
    pub version: i64,
    pub acknowledged_at: i64,
}

/// One document: its versions (drafts only for `isms.read`), the caller's acknowledgement,
/// and for `isms.read` its status and every acknowledgement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyDetailView {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub scope: PolicyScopeView,
    pub version_in_force: Option<i64>,
    pub draft_version: Option<i64>,
    /// Whether it is published to the caller.
    pub in_my_scope: bool,
    /// When the caller acknowledged the version in force.
    pub acknowledged_at: Option<i64>,
    /// Newest first.
    pub versions: Vec<PolicyVersionView>,
    pub status: Option<PolicyStatusView>,
    pub acknowledgements: Vec<PolicyAckView>,
}

/// The version acknowledged (the one in force, as read).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyVersionBody {
    pub version: i64,
}

/// What publishing did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyPublished {
    pub version: i64,
    /// How many people in scope must acknowledge it.
    pub pending: usize,
}

/// What a reminder did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyReminded {
    pub pending: usize,
    /// Of them, those sent a mail (with a mail address, once a day).
    pub mailed: usize,
}

/// The policy option.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyOption {
    /// Customer lookups require the current confidentiality pledge acknowledged.
    pub lookups_require_pledge: bool,
}

/// `from` and `to` versions of a diff.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PolicyDiffQuery {
    pub from: i64,
    pub to: i64,
}

/// The line diff between two versions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyDiffView {
    pub from: i64,
    pub to: i64,
    pub lines: Vec<mamori_domain::isms::policy::DiffLine>,
}

/// One person of a business-continuity plan's contact tree (ISMS-5).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContinuityContactView {
    /// The user's display name, or the name typed for someone outside Mamori.
    pub name: String,
    pub role: String,
    pub phone: String,
    /// The position (from 0) of the contact who calls them; none for the top of the tree.
    pub called_by: Option<usize>,
}

/// A business-continuity plan in force, with its next drill (ISMS-5).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContinuityPlanView {
    pub id: String,
    pub version: i64,
    /// `earthquake`, `power_loss`, `intrusion`, `server_failure`, `network_failure`,
    /// `pandemic`, `other`.
    pub scenario: String,
    pub title: String,
    pub steps: String,
    pub owner_id: String,
    pub owner_name: Option<String>,
    pub contacts: Vec<ContinuityContactView>,
    pub drill_every_months: i64,
    /// The day of its latest drill (`YYYY-MM-DD`).
    pub last_drill_on: Option<String>,
    /// When the next drill is due (`YYYY-MM-DD`).
    pub next_drill_on: String,
    /// Days to it; negative when overdue.
    pub days_left: i64,
}

/// A drill held.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContinuityDrillView {
    pub id: String,
    pub plan_id: String,
    pub plan_title: String,
    pub held_on: String,
    /// The participants' display names.
    pub participants: Vec<String>,
    /// `achieved`, `partly`, `failed`.
    pub result: String,
    pub findings: String,
    pub actions: String,
    pub recorded_at: i64,
}

/// The business-continuity register: plans (overdue drills first) and the drills held.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContinuityRegisterView {
    pub plans: Vec<ContinuityPlanView>,
    pub drills: Vec<ContinuityDrillView>,
}

/// An internal audit (ISMS-7).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InternalAuditView {
    pub id: String,
    /// `IA-<n>`.
    pub number: i64,
    pub title: String,
    pub scope: String,
    /// The SoA controls audited: urn and `ref_id name`.
    pub controls: Vec<NamedRef>,
    pub auditor_id: String,
    pub auditor_name: Option<String>,
    pub planned_on: String,
    /// Set when its report is recorded.
    pub held_on: Option<String>,
    pub report: String,
    pub findings: usize,
    pub findings_open: usize,
}

/// An id with the name a person reads.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

/// A step of a finding's corrective action, as taken.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindingStepView {
    /// `raise`, `plan`, `implemented`, `verify_effective`, `verify_not_effective`, `acknowledge`.
    pub step: String,
    pub state: String,
    pub at: i64,
    pub actor_name: Option<String>,
    pub note: String,
}

/// A finding of an internal audit and its CAPA.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditFindingView {
    pub id: String,
    /// `F-<n>`.
    pub number: i64,
    pub audit_id: String,
    pub audit: String,
    /// `major_nonconformity`, `minor_nonconformity`, `observation`, `improvement`.
    pub kind: String,
    pub control_urn: Option<String>,
    pub control: Option<String>,
    pub description: String,
    /// `open`, `action_planned`, `implemented`, `closed`.
    pub state: String,
    pub root_cause: String,
    pub corrective_action: String,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub due_on: Option<String>,
    /// Days to the due date while not closed; negative when overdue.
    pub days_left: Option<i64>,
    pub steps: Vec<FindingStepView>,
}

/// The internal audits and their findings (overdue first, closed last).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InternalAuditRegisterView {
    pub audits: Vec<InternalAuditView>,
    pub findings: Vec<AuditFindingView>,
}

/// An audit's report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditReportInput {
    /// The day it was held (`YYYY-MM-DD`), not after today.
    pub held_on: String,
    pub report: String,
}

// --- Checks (issue 18, item 4; ISMS-7, LEAK-2, LEAK-4)

/// A checklist in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChecklistView {
    pub id: String,
    pub title: String,
    pub items: Vec<String>,
    /// `self` (each operator, their own seat) or `supervisor` (a team's floor).
    pub performer: String,
    /// `daily`, `weekly`, `monthly`.
    pub frequency: String,
    pub site_id: Option<String>,
    pub team_id: Option<String>,
    /// The current period (`2026-11-30`, `2026-W49`, `2026-11`).
    pub period: String,
    /// Who owes it this period (people or teams), and how many have done it.
    pub owed: usize,
    pub done: usize,
}

/// A check missed: the last period passed without the run of someone who owes it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OverdueCheckView {
    pub checklist_id: String,
    pub title: String,
    /// The person (own seat) or the team (floor check) who owes it.
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub who: String,
    /// The period missed.
    pub period: String,
    /// Days since it ended.
    pub days: i64,
}

/// One item's answer in a run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckAnswerView {
    pub item: usize,
    pub text: String,
    /// `ok`, `not_ok`, `na`.
    pub result: String,
    pub note: String,
}

/// A photo of a run (its content: `GET /api/v1/checks/photos/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckPhotoView {
    pub id: String,
    pub item: Option<i64>,
    pub media_type: String,
    pub size: i64,
}

/// A check done.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckRunView {
    pub id: String,
    pub checklist_id: String,
    pub checklist_title: String,
    pub period: String,
    pub user_id: String,
    pub user_name: String,
    pub team_name: Option<String>,
    pub done_at: i64,
    pub answers: Vec<CheckAnswerView>,
    pub note: String,
    pub failed: i64,
    pub photos: Vec<CheckPhotoView>,
}

/// A failed item to put right (overdue after 7 days).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckFollowUpView {
    pub id: String,
    pub run_id: String,
    pub checklist_title: String,
    /// From 0.
    pub item: i64,
    pub item_text: String,
    pub note: String,
    pub user_name: String,
    pub opened_at: i64,
    pub due_on: String,
    pub overdue: bool,
    pub resolved_at: Option<i64>,
    pub resolved_by_name: Option<String>,
    pub resolution: String,
}

/// One checklist a person owes this period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyCheckView {
    pub checklist: ChecklistView,
    /// The run that did this period, if any.
    pub done_run_id: Option<String>,
    /// The last period was missed and this one is not done yet.
    pub overdue: bool,
}

/// A person's checks: owed (overdue first), follow-ups (a supervisor's team's, or one's own
/// open ones), the latest runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyChecksView {
    pub checks: Vec<MyCheckView>,
    pub follow_ups: Vec<CheckFollowUpView>,
    pub runs: Vec<CheckRunView>,
    pub supervisor: bool,
}

/// The security team's overview of the checks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChecksOverviewView {
    pub overdue: Vec<OverdueCheckView>,
    pub follow_ups: Vec<CheckFollowUpView>,
    pub checklists: Vec<ChecklistView>,
    pub runs: Vec<CheckRunView>,
}

/// A photo sent with a run: base64 of a JPEG, PNG or WebP image (5 MiB at most).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckPhotoInput {
    /// The item it shows (from 0); none for the run as a whole.
    #[serde(default)]
    pub item: Option<usize>,
    /// The type claimed; it must agree with the content.
    #[serde(default)]
    pub media_type: String,
    /// The image, base64 (standard alphabet).
    pub data: String,
}

/// A run as sent: every item of the checklist answered once, photos optional.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRunInput {
    pub checklist_id: String,
    pub answers: Vec<mamori_domain::isms::checks::Answer>,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub photos: Vec<CheckPhotoInput>,
}

/// How a follow-up was put right.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckResolveInput {
    pub note: String,
}
