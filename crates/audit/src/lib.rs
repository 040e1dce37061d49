//! The audit log (TW-10, ISMS-6, LEAK-14): one shape for every access, authentication, login
//! and operation, kept as a transparency log.
//!
//! - [`AuditEvent`] is what happened; the store appends it in the same database transaction as
//!   the change it records, giving it an index and a time — an [`AuditEntry`].
//! - [`encoding`] is the entry's canonical bytes, [`merkle`] the RFC 9162 tree over them,
//!   [`checkpoint`] the signed tree heads (C2SP `tlog-checkpoint`), and [`bundle`] the export
//!   that an auditor verifies offline with nothing but the public key.
//!
//! Entries hold ids, never personal data: no user names typed at a sign-in form, no passwords,
//! no customer values — field names at most, and customer ids only as keyed hashes.

pub mod actions;
pub mod bundle;
pub mod checkpoint;
pub mod encoding;
pub mod merkle;
pub mod relp;
pub mod siem;
pub mod verify;

use mamori_domain::UnixMillis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The four kinds of log the telework guideline asks for (TW-10). Later features add device,
/// detection and incident categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Reads of protected data.
    Access,
    /// Password and second-factor checks, MFA changes.
    Authentication,
    /// Sessions starting and ending.
    Login,
    /// Changes.
    Operation,
    /// Raised by detection (shared accounts, lockouts).
    Security,
    /// Endpoint agents: enrolment, inventory, revocation, remote commands.
    Device,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Access => "access",
            Category::Authentication => "authentication",
            Category::Login => "login",
            Category::Operation => "operation",
            Category::Security => "security",
            Category::Device => "device",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Category::Access,
            Category::Authentication,
            Category::Login,
            Category::Operation,
            Category::Security,
            Category::Device,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Success, Outcome::Failure, Outcome::Denied].into_iter().find(|o| o.as_str() == s)
    }
}

/// Who acted, as `kind:id` (for example `user:3f2c…`, `token:…`, `device:…`, `system`,
/// `anonymous`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(String),
    ApiToken(String),
    /// An enrolled endpoint agent.
    Device(String),
    System,
    /// Someone not (yet) signed in.
    Anonymous,
}

impl Actor {
    pub fn encode(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::ApiToken(id) => format!("token:{id}"),
            Actor::Device(id) => format!("device:{id}"),
            Actor::System => "system".into(),
            Actor::Anonymous => "anonymous".into(),
        }
    }
}

/// One thing that happened, before the log gives it a sequence number and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub category: Category,
    /// Dotted verb, stable across versions: `signin.password`, `user.disable`, … — the name of
    /// an [`actions::Action`].
    pub action: &'static str,
    pub actor: Actor,
    /// What was acted on, as `kind:id`.
    pub object: Option<String>,
    pub outcome: Outcome,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    /// Ids, codes and field names; never personal values.
    pub details: BTreeMap<String, String>,
}

impl AuditEvent {
    /// An event of a catalogued action; its category is the action's for `outcome`
    /// ([`actions::Action::category_for`]). There is no other constructor: an action is named
    /// from [`actions`], not invented where it is written.
    pub fn of(action: &'static actions::Action, actor: Actor, outcome: Outcome) -> Self {
        AuditEvent {
            category: action.category_for(outcome),
            action: action.name,
            actor,
            object: None,
            outcome,
            source_ip: None,
            request_id: None,
            details: BTreeMap::new(),
        }
    }
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }
    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
    pub fn details_json(&self) -> String {
        serde_json::to_string(&self.details).unwrap_or_else(|_| "{}".into())
    }
}

/// Where the request came from; stamped onto every event it causes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
    /// The console's browser, recognised by a long-lived cookie: [`browser_digest`] of it.
    pub browser: Option<String>,
}

/// What the log keeps of a browser's recognition cookie: enough to tell browsers apart (64 bits
/// of its SHA-256), not the value, which would let a reader pose as that browser.
pub fn browser_digest(cookie: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(cookie.as_bytes())[..8])
}

impl RequestContext {
    pub fn stamp(&self, mut event: AuditEvent) -> AuditEvent {
        event.source_ip = self.source_ip.clone();
        event.request_id = self.request_id.clone();
        event
    }
}

/// An entry as stored and read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Position in the log, from 0; also the entry's leaf index in the Merkle tree.
    pub index: u64,
    #[schema(value_type = i64)]
    pub time: UnixMillis,
    pub category: Category,
    pub action: String,
    pub actor: String,
    pub object: Option<String>,
    pub outcome: Outcome,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: BTreeMap<String, String>,
}
