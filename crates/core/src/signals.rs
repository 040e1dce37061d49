//! Signals (issue 14, item 4; MON-2, MON-4, LEAK-5): the one list where the people who act on
//! them see what the agents and the server raised — a USB stick, a PC off its approved
//! networks, a posture change, a PC gone silent, an abnormal keystroke rate — and the account
//! signals (a lockout, an account used from two places at once), and take-outs past their date
//! (issue 15); a signal a valid take-out explains is marked with it.
//!
//! It spans two areas, so it lives on [`Core`] like the demo: each area narrows its own part to
//! the caller's people scope (a supervisor sees their own team, a security admin and an auditor
//! everyone) and this merges them, newest first.

use crate::devices::DeviceRecord;
use crate::{Core, CoreError, Principal, User};
use mamori_audit::RequestContext;
use mamori_domain::UnixMillis;

/// Device event kinds that are signals (the rest — screen locks, logons, agent starts — are
/// the PC's ordinary life, shown on its page only).
pub const DEVICE_SIGNAL_KINDS: [&str; 6] = [
    "usb_attached",
    "off_network",
    "posture_changed",
    "heartbeat_lost",
    "abnormal_keystroke_rate",
    "events_dropped",
];

/// Account signals (the security-events table).
pub const ACCOUNT_SIGNAL_KINDS: [&str; 2] = ["account_locked", "shared_account_suspected"];

/// The most signals one list holds; a longer period is narrowed with the filters.
pub const MAX_SIGNALS: usize = 1000;

/// What the list is narrowed to. Unknown kinds find nothing (never everything).
#[derive(Debug, Clone)]
pub struct SignalFilter {
    pub since: UnixMillis,
    pub kind: Option<String>,
    pub team_id: Option<String>,
    pub device_id: Option<String>,
}

impl SignalFilter {
    /// The kinds of one source this filter asks for.
    pub(crate) fn kinds<'a>(&self, of: &[&'a str]) -> Vec<&'a str> {
        match &self.kind {
            Some(k) => of.iter().copied().filter(|o| o == k).collect(),
            None => of.to_vec(),
        }
    }
}

/// One signal, with the PC and the person it concerns.
#[derive(Debug, Clone)]
pub struct Signal {
    /// The event's id (the floor links to it).
    pub id: String,
    pub time: UnixMillis,
    /// One of [`DEVICE_SIGNAL_KINDS`] or [`ACCOUNT_SIGNAL_KINDS`].
    pub kind: String,
    pub device: Option<DeviceRecord>,
    pub person: Option<User>,
    /// The event's own details: a JSON object of codes, counts and addresses (no personal data
    /// beyond the address a PC connected from).
    pub details: serde_json::Map<String, serde_json::Value>,
    /// The take-out approval that explains it (an off-network PC, a USB stick), if one does.
    pub take_out: Option<String>,
}

/// The details of a stored event as an object (an unreadable one as empty, never an error: a
/// signal is still worth showing without them).
pub fn details_of(json: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

impl Core {
    /// The signals since `filter.since` that the principal may see (`devices.read`; account
    /// signals with `security_events.read`, or those of their own people for a supervisor),
    /// newest first, at most [`MAX_SIGNALS`].
    pub async fn signals(
        &self,
        principal: &Principal,
        filter: &SignalFilter,
        ctx: &RequestContext,
    ) -> Result<Vec<Signal>, CoreError> {
        let mut all = self.devices.device_signals(principal, filter, ctx).await?;
        all.extend(self.identity.account_signals(principal, filter).await?);
        self.take_out_signals(principal, &mut all, filter).await?;
        all.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id)));
        all.truncate(MAX_SIGNALS);
        Ok(all)
    }
}
