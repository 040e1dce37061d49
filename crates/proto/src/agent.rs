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
