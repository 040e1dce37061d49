//! The endpoint agent's messages (issue 5). Every request after enrolment is signed with the
//! device key (`mamori_crypto::device_auth`); the server checks each message's size and fields
//! before it stores anything.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /api/v1/agent/enroll`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The one-time enrolment token an admin created.
    pub token: String,
    /// The device's Ed25519 public key, base64; the private key never leaves the PC.
    pub public_key: String,
    pub hostname: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Enrolled {
    pub device_id: String,
}

/// Installed software, as the package manager or the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Software {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Antivirus {
    pub product: String,
    /// Days since the signatures were updated, when known.
    pub signature_age_days: Option<u32>,
}

/// Body of `POST /api/v1/agent/inventory`: what the PC is. A field the agent could not learn is
/// absent, and `unavailable` says why (e.g. no desktop session for the screen-lock timeout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub hostname: String,
    /// `linux` or `windows`.
    pub os_family: String,
    /// e.g. "Debian GNU/Linux 12 (bookworm)", "Windows 11 Pro".
    pub os_name: String,
    /// e.g. "12", "10.0.22631".
    pub os_version: String,
    /// Kernel release or Windows build.
    pub os_build: String,
    pub uptime_secs: u64,
    pub cpu_model: Option<String>,
    pub cpu_count: u32,
    pub memory_mb: u64,
    pub disk_encryption: Option<bool>,
    pub firewall_enabled: Option<bool>,
    pub screen_lock_timeout_secs: Option<u32>,
    pub antivirus: Option<Antivirus>,
    pub local_admins: Vec<String>,
    pub software: Vec<Software>,
    /// Collector → why it could not run here.
    pub unavailable: std::collections::BTreeMap<String, String>,
}

/// What the server answers a heartbeat or an inventory with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentAck {
    /// The server's time (Unix ms), so an agent can see its clock drifting.
    pub server_time: i64,
    /// The shifts of the PC's operator: the agent collects activity only inside them (empty:
    /// never; only heartbeats).
    #[serde(default)]
    pub shifts: mamori_domain::activity::ShiftSchedule,
}

/// Body of `POST /api/v1/devices/enrolments`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnrolment {
    pub site_id: Option<String>,
    /// The operator the PC is assigned to.
    pub user_id: Option<String>,
    /// 1–720; default 24.
    pub valid_hours: Option<u32>,
}

/// A new enrolment token: shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentCreated {
    pub id: String,
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// A device in the ledger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceSummary {
    pub id: String,
    pub hostname: String,
    pub site_id: Option<String>,
    pub user_id: Option<String>,
    pub enrolled_at: String,
    pub last_seen_at: Option<String>,
    /// The public address the server last saw it from.
    pub last_ip: Option<String>,
    /// Seen within the last 90 seconds.
    pub online: bool,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub device: DeviceSummary,
    /// The latest inventory, if one was reported.
    pub inventory: Option<Inventory>,
    /// When the inventory changed (RFC 3339), newest first.
    pub inventory_changes: Vec<String>,
    /// Against its site's policy: None before the first inventory, else the failures (empty:
    /// compliant).
    pub posture_failures: Option<Vec<mamori_domain::posture::PostureFailure>>,
    /// On an approved network? None when neither its site nor its user lists any.
    pub network_approved: Option<bool>,
}

/// Body of `PUT /api/v1/users/{id}/approved-networks`: a home worker's networks (CIDR).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovedNetworks {
    pub networks: Vec<String>,
}

/// Body of `POST /api/v1/agent/commands/poll`: wait up to this long for a command (0–30 s).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    pub wait_secs: u32,
}

/// A command for the agent to carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Command {
    pub id: String,
    /// `lock`, `sign_out`, `message` or `refresh_inventory`.
    pub kind: String,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Commands {
    pub commands: Vec<Command>,
}

/// Body of `POST /api/v1/agent/commands/{id}/result`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandResult {
    pub ok: bool,
    /// What happened; on failure, why (e.g. no desktop session to lock).
    pub detail: String,
}

/// Body of `POST /api/v1/devices/{id}/commands`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCommand {
    pub kind: String,
    /// The text to show, for `message`.
    pub message: Option<String>,
}

/// A command as the ledger shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommandView {
    pub id: String,
    pub kind: String,
    /// `pending`, `delivered`, `done` or `failed`.
    pub state: String,
    pub issued_by: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub finished_at: Option<String>,
    pub result: Option<String>,
}

/// What happened on the PC. Counts and identifiers only: never key codes or screen contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventData {
    /// The agent started (a PC booted, or the service restarted).
    AgentStarted {
        version: String,
    },
    /// The server answered again after this long without it.
    ConnectionRestored {
        offline_secs: u64,
    },
    /// A USB device was plugged in; `mass_storage` when it offers storage (class 08).
    UsbAttached(UsbDevice),
    UsbRemoved(UsbDevice),
    ScreenLocked {},
    ScreenUnlocked {},
    SessionLogon {
        user: String,
    },
    SessionLogoff {
        user: String,
    },
    /// The offline queue was full and this many oldest events were dropped.
    EventsDropped {
        count: u64,
    },
    /// One minute of the operator's activity: counts only (sent only inside their shifts).
    Activity(mamori_domain::activity::ActivityBucket),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsbDevice {
    /// Four hex digits each.
    pub vendor_id: String,
    pub product_id: String,
    pub product: Option<String>,
    pub serial: Option<String>,
    pub mass_storage: bool,
}

impl EventData {
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::AgentStarted { .. } => "agent_started",
            EventData::ConnectionRestored { .. } => "connection_restored",
            EventData::UsbAttached(_) => "usb_attached",
            EventData::UsbRemoved(_) => "usb_removed",
            EventData::ScreenLocked {} => "screen_locked",
            EventData::ScreenUnlocked {} => "screen_unlocked",
            EventData::SessionLogon { .. } => "session_logon",
            EventData::SessionLogoff { .. } => "session_logoff",
            EventData::EventsDropped { .. } => "events_dropped",
            EventData::Activity(_) => "activity",
        }
    }
}

/// One event, with the agent's id for it: a retry sends the same id, and the server keeps one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentEvent {
    pub id: String,
    /// When it happened (Unix ms, the PC's clock).
    pub time: i64,
    #[serde(flatten)]
    pub event: EventData,
}

/// Body of `POST /api/v1/agent/events`: up to 500 events, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    pub events: Vec<AgentEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventsAccepted {
    /// How many were new (the rest had been received before).
    pub stored: u64,
    pub server_time: i64,
}

/// Query of `GET /api/v1/devices/{id}/activity`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// How far back, 1–744 hours; default 24.
    pub hours: Option<u32>,
}

/// A PC's activity, one bucket a minute, newest first (counts only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActivityList {
    pub buckets: Vec<mamori_domain::activity::ActivityBucket>,
}
