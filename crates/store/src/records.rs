//! Rows as the storage layer hands them over. Times are [`UnixMillis`], ids are UUID strings.

use mamori_domain::identity::UserStatus;
pub use mamori_domain::identity::{LinkPurpose, OrgKind};
use mamori_domain::{Role, UnixMillis};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub status: UserStatus,
    pub language: Option<String>,
    pub team_id: Option<String>,
    pub site_id: Option<String>,
    /// Where mail reaches them, and the only sender address the relay lets them use.
    pub mail_address: Option<String>,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<UnixMillis>,
    /// AES-GCM sealed base32 secret; present once TOTP is enrolled.
    pub totp_secret: Option<Vec<u8>>,
    /// A secret shown for enrolment but not yet confirmed with a code.
    pub totp_pending: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub failed_signins: i64,
    pub locked_until: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl UserRecord {
    /// A user with no password, second factor, team, site or language yet.
    pub fn new(
        id: String,
        username: String,
        display_name: String,
        roles: Vec<Role>,
        status: UserStatus,
        now: UnixMillis,
    ) -> Self {
        UserRecord {
            id,
            username,
            display_name,
            roles,
            status,
            language: None,
            team_id: None,
            site_id: None,
            mail_address: None,
            password_hash: None,
            password_changed_at: None,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: None,
            failed_signins: 0,
            locked_until: None,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn totp_enabled(&self) -> bool {
        self.totp_secret.is_some()
    }
}

/// The fields of a user an administrator edits in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub display_name: String,
    pub team_id: Option<String>,
    pub site_id: Option<String>,
    pub mail_address: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Password accepted; the second factor (or its enrolment) is still to come.
    AwaitingSecondFactor,
    Active,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::AwaitingSecondFactor => "awaiting_second_factor",
            SessionState::Active => "active",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "awaiting_second_factor" => Some(SessionState::AwaitingSecondFactor),
            "active" => Some(SessionState::Active),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Public id (shown in the profile's session list).
    pub id: String,
    /// SHA-256 of the cookie value; the cookie itself is never stored.
    pub digest: String,
    pub user_id: String,
    pub state: SessionState,
    pub csrf_token: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: UnixMillis,
    pub last_seen_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeLink {
    pub digest: String,
    pub purpose: LinkPurpose,
    pub user_id: Option<String>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub used_at: Option<UnixMillis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: String,
    pub digest: String,
    pub name: String,
    /// The user whose rights bound the token's.
    pub owner_id: String,
    /// Permission names (`users.read`, …).
    pub permissions: Vec<String>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
    pub last_used_at: Option<UnixMillis>,
}

/// A site, a team (which may belong to a site) or a client company (委託元).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUnit {
    pub id: String,
    pub kind: OrgKind,
    pub name: String,
    pub site_id: Option<String>,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    pub id: String,
    /// `shared_account_suspected`, `account_locked`, …
    pub kind: String,
    pub user_id: Option<String>,
    /// JSON object of ids and codes.
    pub details: String,
    pub created_at: UnixMillis,
}

/// A search of the audit log; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Entries by any of these actors (`user:<id>`, …); `None`: any actor. An empty list
    /// matches nothing.
    pub actors: Option<Vec<String>>,
    /// Entries of any of these actions; `None`: any action. An empty list matches nothing.
    pub actions: Option<Vec<String>>,
    /// Entries of none of these actions (system noise such as CTI call events).
    pub hidden_actions: Vec<String>,
    pub object: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<UnixMillis>,
    pub to: Option<UnixMillis>,
    /// Only entries with an index below this (paging backwards from the newest).
    pub before_index: Option<u64>,
    /// Only entries with this detail (a key and a code, both `[a-z0-9_.]`).
    pub detail: Option<(String, String)>,
    pub limit: i64,
}

/// A signed tree head of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRecord {
    pub size: u64,
    pub root: mamori_audit::merkle::Hash,
    pub time: UnixMillis,
    /// The C2SP signed note.
    pub note: String,
}

/// A customer record as stored: who it belongs to, its wrapped data key and its sealed fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub id: String,
    pub client_id: String,
    pub wrapped_key: Vec<u8>,
    pub kek_version: u32,
    /// Every field, sealed; opaque to the store.
    pub fields: Vec<u8>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// A customer record with its blind-index entries (kind, digest), ready to insert.
#[derive(Debug, Clone)]
pub struct NewCustomerRows {
    pub record: CustomerRecord,
    pub index: Vec<(String, Vec<u8>)>,
}

/// A call the telephony integration reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub id: String,
    /// The telephony system's own id for the call.
    pub external_id: String,
    pub operator_id: String,
    /// Blind-index digest of the caller's number.
    pub caller_digest: Vec<u8>,
    /// The caller's number masked as a card shows it in part (`***-****-5678`), never more;
    /// none for calls reported before it was kept.
    pub caller_masked: Option<String>,
    pub started_at: UnixMillis,
    pub ended_at: Option<UnixMillis>,
}

/// A one-time enrolment token for an endpoint agent (only its digest is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentRecord {
    pub id: String,
    pub token_hash: String,
    pub site_id: Option<String>,
    pub user_id: Option<String>,
    pub created_by: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// An enrolled operator PC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub id: String,
    /// Ed25519, base64: what the device's requests are verified with.
    pub public_key: String,
    pub hostname: String,
    pub site_id: Option<String>,
    pub user_id: Option<String>,
    pub enrolled_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
    pub last_seen_at: Option<UnixMillis>,
    pub last_ip: Option<String>,
}

/// One inventory report of a device, as it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRecord {
    pub id: String,
    pub device_id: String,
    pub collected_at: UnixMillis,
    pub digest: String,
    /// JSON.
    pub inventory: String,
}

/// A remote command to a device and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub id: String,
    pub device_id: String,
    /// `lock`, `sign_out`, `message`, `refresh_inventory`.
    pub kind: String,
    pub message: Option<String>,
    /// `pending`, `delivered`, `done`, `failed`, `expired` (not finished within the time limit).
    pub state: String,
    pub issued_by: String,
    pub created_at: UnixMillis,
    pub delivered_at: Option<UnixMillis>,
    pub finished_at: Option<UnixMillis>,
    /// What the agent reported (the reason, when it failed).
    pub result: Option<String>,
}

/// An event an agent reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEventRecord {
    pub device_id: String,
    /// The agent's id for the event (dedupes retries).
    pub event_id: String,
    pub kind: String,
    pub occurred_at: UnixMillis,
    pub received_at: UnixMillis,
    /// JSON.
    pub data: String,
}

/// One minute of a PC's activity, counts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRecord {
    pub device_id: String,
    pub bucket: mamori_domain::activity::ActivityBucket,
    pub received_at: UnixMillis,
}

/// A four-eyes request as stored (issue 15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRecord {
    pub id: String,
    pub kind: mamori_domain::approval::ApprovalKind,
    pub requester_id: String,
    /// The requester's team when they asked (whose supervisor decides).
    pub requester_team: Option<String>,
    /// What is asked, as deciders see it: a JSON object of ids, codes and counts — never a
    /// customer's data.
    pub content: String,
    /// SHA-256 (hex) of the canonical content: the grant is for exactly this.
    pub digest: String,
    /// The requester's reason, in their words.
    pub reason: String,
    pub state: mamori_domain::approval::ApprovalState,
    pub created_at: UnixMillis,
    pub decide_by: UnixMillis,
    /// When it was granted, denied, cancelled, expired or used.
    pub closed_at: Option<UnixMillis>,
    pub grant_expires_at: Option<UnixMillis>,
}

/// One person's decision on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalDecision {
    pub approval_id: String,
    pub decider_id: String,
    pub approve: bool,
    pub at: UnixMillis,
    pub comment: String,
}

/// A notification for the webhook, as the outbox holds it: an approval step (issue 15, item 8),
/// an alert raised, an incident opened or a breach-report reminder (issue 16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookNotification {
    pub id: String,
    /// What it tells of: `approval:<id>`, `alert:<id>`, `incident:<id>`.
    pub subject: String,
    /// `approval.request`, `approval.approve`, …, `alert.raise`, `incident.open`, `incident.reminder`
    pub event: String,
    /// The JSON body sent.
    pub payload: String,
    pub created_at: UnixMillis,
    /// `pending`, `delivered` or `failed` (given up after the last retry).
    pub status: String,
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_at: UnixMillis,
    pub last_error: Option<String>,
    pub delivered_at: Option<UnixMillis>,
}

/// An outgoing mail as stored (issue 15, item 5), without its sealed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub id: String,
    pub sender_id: String,
    /// `mail` (submitted through the relay) or `bounce` (Mamori's return of one to its sender).
    pub kind: String,
    /// The envelope sender (`MAIL FROM`); empty for a bounce.
    pub envelope_from: String,
    /// The recipients as JSON (`mamori_domain::mail::Recipient`s).
    pub recipients: String,
    /// What may be customer data, as JSON (`mamori_domain::mail::Findings`): counts and client ids.
    pub findings: String,
    /// The subject, the attachments' names and sizes and the text's start, sealed (they may
    /// name a customer).
    pub summary: Vec<u8>,
    pub size: i64,
    /// `held`, `awaiting_approval`, `released`, `sent`, `cancelled` or `returned`.
    pub state: String,
    /// Why it was returned (`denied`, `not_confirmed`, `domain_refused`, …).
    pub reason: Option<String>,
    pub approval_id: Option<String>,
    pub created_at: UnixMillis,
    /// The sender may confirm from then.
    pub confirm_after: UnixMillis,
    /// Not confirmed by then, it is returned.
    pub hold_until: UnixMillis,
    pub attempts: i64,
    pub next_at: UnixMillis,
    pub last_error: Option<String>,
    pub closed_at: Option<UnixMillis>,
}

/// A change of an outgoing mail's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMove {
    pub to: String,
    pub at: UnixMillis,
    pub closed: bool,
    pub reason: Option<String>,
    pub approval_id: Option<String>,
}
