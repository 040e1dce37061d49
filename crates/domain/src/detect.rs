//! Detection (issue 16; ISMS-6, LEAK-5, LEAK-14, TW-10, MON-2): rules over the ordered stream of
//! what happened, each finding explainable — which value deviated, from which baseline, by how
//! much, and the entries behind it.
//!
//! Rules are data: [`RuleId`] names each, [`RuleSettings`] holds what the security admin tunes
//! (on or off, severity, threshold, window, automatic responses), [`RuleSet::defaults`] is what
//! ships. [`Detector`] is the pure state machine: it is fed events in log order
//! ([`Detector::observe`]) and answers findings; it keeps only windows in memory, so replaying
//! the log from any point rebuilds it (how the server resumes after a restart), and its time is
//! the events' own, never a clock.
//!
//! The detectors that read the audit log are here. What the log cannot see stays out: customer
//! ids are keyed hashes (no "sequential ids") and phone numbers are never logged (no "numbers
//! differing in the last digits"); those patterns need the vault's help.

use crate::UnixMillis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// How serious an alert is; problems come first in every list.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::High, Severity::Medium, Severity::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What Mamori does on its own when a rule raises a new alert; each is audited and a
/// supervisor can reverse it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Lock the screen of the person's PC through its agent's command path.
    LockPc,
    /// End the person's console sessions (they sign in again).
    EndSessions,
}

impl Response {
    pub const ALL: [Response; 2] = [Response::LockPc, Response::EndSessions];

    pub fn as_str(self) -> &'static str {
        match self {
            Response::LockPc => "lock_pc",
            Response::EndSessions => "end_sessions",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The rules that read the audit log.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    /// Customers looked up outside any call, with no call or note of theirs by this operator
    /// in the window (the 2015 case: 23 records copied by hand — no rate rule sees them).
    OffCallLookups,
    /// Distinct customers an operator looked up in the window, against their own history.
    LookupVolume,
    /// Lookups of another client company's customers (refused by client isolation).
    OtherClientLookups,
    /// Refused attempts by one account (any route, any record).
    DeniedAccess,
    /// Reveals refused because the allowance was used up (near-allowance behaviour).
    RevealAllowance,
    /// Failed sign-ins for one account or from one address.
    SigninFailures,
    /// An account locked after failed sign-ins.
    AccountLocked,
    /// One account signed in from two places at once.
    SharedAccount,
    /// Administrative actions in bulk: exports, role changes, key operations, rule changes.
    AdminBulk,
    /// A USB storage device plugged into a PC with no take-out granted for it (LEAK-5).
    UsbStorage,
    /// A PC off its approved networks with no take-out granted for it (MON-2).
    OffNetwork,
    /// A PC's posture no longer meets its site's policy.
    PostureFailure,
    /// A PC stopped reporting: possibly switched off, possibly the agent tampered with.
    HeartbeatLost,
    /// Typing far faster than the role's limit (a script or a key-logger-like tool).
    KeystrokeRate,
    /// Customers looked up outside the operator's shifts (`off_shift`, marked by the caller,
    /// who knows the shifts): an account used after its owner went home.
    OffShiftLookups,
}

impl RuleId {
    pub const ALL: [RuleId; 15] = [
        RuleId::OffCallLookups,
        RuleId::LookupVolume,
        RuleId::OtherClientLookups,
        RuleId::DeniedAccess,
        RuleId::RevealAllowance,
        RuleId::SigninFailures,
        RuleId::AccountLocked,
        RuleId::SharedAccount,
        RuleId::AdminBulk,
        RuleId::UsbStorage,
        RuleId::OffNetwork,
        RuleId::PostureFailure,
        RuleId::HeartbeatLost,
        RuleId::KeystrokeRate,
        RuleId::OffShiftLookups,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::OffCallLookups => "off_call_lookups",
            RuleId::LookupVolume => "lookup_volume",
            RuleId::OtherClientLookups => "other_client_lookups",
            RuleId::DeniedAccess => "denied_access",
            RuleId::RevealAllowance => "reveal_allowance",
            RuleId::SigninFailures => "signin_failures",
            RuleId::AccountLocked => "account_locked",
            RuleId::SharedAccount => "shared_account",
            RuleId::AdminBulk => "admin_bulk",
            RuleId::UsbStorage => "usb_storage",
            RuleId::OffNetwork => "off_network",
            RuleId::PostureFailure => "posture_failure",
            RuleId::HeartbeatLost => "heartbeat_lost",
            RuleId::KeystrokeRate => "keystroke_rate",
            RuleId::OffShiftLookups => "off_shift_lookups",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the rule counts distinct objects (customers) rather than events.
    pub fn counts_distinct(self) -> bool {
        matches!(
            self,
            RuleId::OffCallLookups
                | RuleId::LookupVolume
                | RuleId::OffShiftLookups
                | RuleId::OtherClientLookups
        )
    }

    /// The settings that ship.
    pub fn defaults(self) -> RuleSettings {
        let (severity, threshold, window_minutes, responses): (_, _, _, &[Response]) = match self {
            RuleId::OffCallLookups => (Severity::High, 15, 480, &[]),
            RuleId::LookupVolume => (Severity::High, 60, 60, &[Response::LockPc]),
            RuleId::OtherClientLookups => (Severity::High, 5, 60, &[]),
            RuleId::DeniedAccess => (Severity::Medium, 10, 60, &[]),
            RuleId::RevealAllowance => (Severity::Medium, 1, 480, &[]),
            RuleId::SigninFailures => (Severity::Medium, 10, 15, &[]),
            RuleId::AccountLocked => (Severity::Medium, 1, 60, &[]),
            RuleId::SharedAccount => (Severity::High, 1, 480, &[]),
            RuleId::AdminBulk => (Severity::Medium, 20, 60, &[]),
            RuleId::UsbStorage => (Severity::High, 1, 60, &[]),
            RuleId::OffNetwork => (Severity::High, 1, 480, &[]),
            RuleId::PostureFailure => (Severity::Low, 1, 1440, &[]),
            RuleId::HeartbeatLost => (Severity::Medium, 1, 60, &[]),
            RuleId::KeystrokeRate => (Severity::Medium, 1, 60, &[]),
            RuleId::OffShiftLookups => (Severity::Medium, 3, 60, &[]),
        };
        RuleSettings { enabled: true, severity, threshold, window_minutes, responses: responses.to_vec() }
    }
}

/// What the security admin tunes for one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    pub enabled: bool,
    pub severity: Severity,
    /// Events (or distinct customers) in the window at which the rule fires; for
    /// `lookup_volume` the absolute floor under which the operator's own history is not asked.
    pub threshold: u32,
    /// The sliding window, in minutes; also how long one cause stays one alert.
    pub window_minutes: u32,
    pub responses: Vec<Response>,
}

/// The limits of a rule's settings.
pub const THRESHOLD_RANGE: std::ops::RangeInclusive<u32> = 1..=100_000;
pub const WINDOW_RANGE_MINUTES: std::ops::RangeInclusive<u32> = 1..=1440;

/// Why settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleSettingsError {
    #[error("the threshold is between 1 and 100000")]
    Threshold,
    #[error("the window is between 1 and 1440 minutes")]
    Window,
}

impl RuleSettings {
    pub fn check(&self) -> Result<(), RuleSettingsError> {
        if !THRESHOLD_RANGE.contains(&self.threshold) {
            return Err(RuleSettingsError::Threshold);
        }
        if !WINDOW_RANGE_MINUTES.contains(&self.window_minutes) {
            return Err(RuleSettingsError::Window);
        }
        Ok(())
    }

    pub fn window_ms(&self) -> i64 {
        i64::from(self.window_minutes) * 60_000
    }
}

/// Every rule's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet(pub BTreeMap<RuleId, RuleSettings>);

impl RuleSet {
    pub fn defaults() -> Self {
        RuleSet(RuleId::ALL.into_iter().map(|r| (r, r.defaults())).collect())
    }

    /// The settings of `rule` (its defaults when the set lacks it).
    pub fn get(&self, rule: RuleId) -> RuleSettings {
        self.0.get(&rule).cloned().unwrap_or_else(|| rule.defaults())
    }
}

/// The robust z-score above which an operator's hour is far from their own history.
pub const VOLUME_Z: f64 = 3.5;
/// Completed hours of history needed before the z-score is asked; below it, the floor alone.
pub const MIN_HISTORY_HOURS: usize = 8;
/// Hours of history kept per operator (two weeks of active hours).
pub const MAX_HISTORY_HOURS: usize = 336;
/// Entries named as evidence of one finding, at most (the latest).
pub const MAX_EVIDENCE: usize = 200;

/// One event of the stream, as the detectors see it (an audit entry, borrowed).
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Position in the log.
    pub index: u64,
    pub time: UnixMillis,
    pub action: &'a str,
    /// `user:<id>`, `token:<id>`, `anonymous`, `system`, …
    pub actor: &'a str,
    pub object: Option<&'a str>,
    /// `success`, `failure` or `denied`.
    pub outcome: &'a str,
    pub source_ip: Option<&'a str>,
    pub details: &'a BTreeMap<String, String>,
}

impl Observed<'_> {
    fn detail(&self, key: &str) -> Option<&str> {
        self.details.get(key).map(String::as_str)
    }
    fn is_person(&self) -> bool {
        self.actor.starts_with("user:") || self.actor.starts_with("token:")
    }
}

/// The operator's own history behind a volume finding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Median distinct customers per active hour.
    pub median: f64,
    /// Median absolute deviation from it.
    pub mad: f64,
    /// Completed active hours it was computed from.
    pub hours: usize,
    /// The robust z-score of the value: 0.6745 × (value − median) / MAD.
    pub z: f64,
}

/// One rule firing for one subject: what deviated, by how much, and the entries behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: RuleId,
    /// Who or what it is about: `user:<id>`, `token:<id>`, `ip:<address>`.
    pub subject: String,
    pub severity: Severity,
    /// The time of the event that made it fire.
    pub time: UnixMillis,
    /// The index of that event.
    pub index: u64,
    /// The counted value in the window.
    pub value: u64,
    pub threshold: u32,
    pub window_minutes: u32,
    pub baseline: Option<Baseline>,
    /// The entries in the window (the latest [`MAX_EVIDENCE`]).
    pub evidence: Vec<u64>,
}

/// Per person and hour: what the volume baseline is built from (stored, so history outlives a
/// restart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourStat {
    pub subject: String,
    /// The hour's start (ms, a multiple of 3,600,000).
    pub hour: i64,
    /// Distinct customers looked up.
    pub customers: u64,
    pub lookups: u64,
    /// Of them, looked up outside any call.
    pub off_call: u64,
}

const HOUR_MS: i64 = 3_600_000;

/// The events of one rule and subject inside the window.
#[derive(Debug, Default)]
struct Window {
    /// (time, index, key) in log order; `key` is the counted object for distinct rules.
    events: VecDeque<(i64, u64, Option<Box<str>>)>,
    /// How often each key is in `events`.
    keys: HashMap<Box<str>, u32>,
}

impl Window {
    fn push(&mut self, time: i64, index: u64, key: Option<&str>, window_ms: i64) {
        while let Some(&(t, _, _)) = self.events.front() {
            if t > time - window_ms {
                break;
            }
            if let Some((_, _, Some(k))) = self.events.pop_front() {
                self.unkey(&k);
            }
        }
        let key = key.map(Box::<str>::from);
        if let Some(k) = &key {
            *self.keys.entry(k.clone()).or_insert(0) += 1;
        }
        self.events.push_back((time, index, key));
    }

    fn unkey(&mut self, key: &str) {
        if let Some(n) = self.keys.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.keys.remove(key);
            }
        }
    }

    /// Drops every event of `key` (a customer later explained by a call or a note).
    fn forget(&mut self, key: &str) {
        if self.keys.remove(key).is_some() {
            self.events.retain(|(_, _, k)| k.as_deref() != Some(key));
        }
    }

    fn value(&self, distinct: bool) -> u64 {
        if distinct { self.keys.len() as u64 } else { self.events.len() as u64 }
    }

    fn evidence(&self) -> Vec<u64> {
        let skip = self.events.len().saturating_sub(MAX_EVIDENCE);
        self.events.iter().skip(skip).map(|(_, i, _)| *i).collect()
    }
}

/// One person's current hour and completed history (the volume baseline).
#[derive(Debug, Default)]
struct Hours {
    hour: i64,
    customers: HashSet<Box<str>>,
    lookups: u64,
    off_call: u64,
    history: VecDeque<u64>,
    history_loaded: bool,
    dirty: bool,
}

/// The state machine the detection task feeds.
#[derive(Debug)]
pub struct Detector {
    rules: RuleSet,
    windows: HashMap<(RuleId, Box<str>), Window>,
    /// Per operator, customers explained by a call or a note: key → last time.
    explained: HashMap<Box<str>, HashMap<Box<str>, i64>>,
    hours: HashMap<Box<str>, Hours>,
    /// When a window was last pruned of idle subjects.
    pruned_at: i64,
}

/// Actions an administrator's bulk is counted from.
const ADMIN_ACTIONS: [&str; 12] = [
    "customer.export",
    "customer.import",
    "customer.erase",
    "user.roles",
    "user.disable",
    "user.clients",
    "token.create",
    "audit.export",
    "keys.rotate",
    "keys.retire",
    "vault.policy_change",
    "detection.rules_change",
];

impl Detector {
    pub fn new(rules: RuleSet) -> Self {
        Detector {
            rules,
            windows: HashMap::new(),
            explained: HashMap::new(),
            hours: HashMap::new(),
            pruned_at: 0,
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// New settings take effect from the next event; windows already counted stay.
    pub fn set_rules(&mut self, rules: RuleSet) {
        self.rules = rules;
    }

    /// Whether the volume history of `subject` was handed in yet ([`Detector::set_history`]).
    pub fn has_history(&self, subject: &str) -> bool {
        self.hours.get(subject).is_some_and(|h| h.history_loaded)
    }

    /// The person's completed hours' distinct-customer counts, oldest first (from storage).
    pub fn set_history(&mut self, subject: &str, counts: Vec<u64>) {
        let h = self.hours.entry(subject.into()).or_default();
        let skip = counts.len().saturating_sub(MAX_HISTORY_HOURS);
        // Hours completed in memory meanwhile come after the stored ones.
        let mut merged: VecDeque<u64> = counts.into_iter().skip(skip).collect();
        merged.extend(h.history.drain(..));
        while merged.len() > MAX_HISTORY_HOURS {
            merged.pop_front();
        }
        h.history = merged;
        h.history_loaded = true;
    }

    /// The hours whose counts changed since the last call (to be stored).
    pub fn take_hour_stats(&mut self) -> Vec<HourStat> {
        let mut out = Vec::new();
        for (subject, h) in &mut self.hours {
            if h.dirty {
                h.dirty = false;
                out.push(HourStat {
                    subject: subject.to_string(),
                    hour: h.hour,
                    customers: h.customers.len() as u64,
                    lookups: h.lookups,
                    off_call: h.off_call,
                });
            }
        }
        out
    }

    /// Feeds one event (in log order); returns what fired.
    pub fn observe(&mut self, e: &Observed<'_>) -> Vec<Finding> {
        let mut found = Vec::new();
        self.prune(e.time.0);
        match (e.action, e.outcome) {
            ("customer.lookup", "success") => self.lookup(e, &mut found),
            ("customer.note_add", "success") => {
                if let Some(customer) = e.object {
                    self.explain(e.actor, customer, e.time.0);
                }
            }
            // A caller's number that is also another client's customer is refused on a live
            // call without the operator asking for anyone else: not counted, here or below.
            ("customer.lookup", "denied")
                if e.detail("reason") == Some("client_scope")
                    && e.detail("purpose") == Some("active_call") =>
            {
                return found;
            }
            ("customer.lookup" | "customer.reveal" | "customer.note_add" | "customer.print", "denied")
                if e.detail("reason") == Some("client_scope") =>
            {
                self.count(RuleId::OtherClientLookups, e.actor, e.object, e, &mut found);
            }
            ("customer.reveal", "denied") if e.detail("reason") == Some("allowance") => {
                self.count(RuleId::RevealAllowance, e.actor, None, e, &mut found);
            }
            ("signin.password" | "signin.totp" | "signin.recovery_code", "failure") => {
                let subject = match (e.object, e.source_ip) {
                    (Some(user), _) => user.to_owned(),
                    (None, Some(ip)) => format!("ip:{ip}"),
                    (None, None) => return found,
                };
                self.count(RuleId::SigninFailures, &subject, None, e, &mut found);
            }
            ("account.lock", _) => {
                if let Some(user) = e.object {
                    self.count(RuleId::AccountLocked, user, None, e, &mut found);
                }
            }
            ("device.signal", "success") => self.device_signal(e, &mut found),
            ("account.shared_suspected", _) => {
                if let Some(user) = e.object {
                    self.count(RuleId::SharedAccount, user, None, e, &mut found);
                }
            }
            _ => {}
        }
        if e.outcome == "denied" && e.is_person() {
            self.count(RuleId::DeniedAccess, e.actor, None, e, &mut found);
        }
        if e.outcome == "success" && e.is_person() && ADMIN_ACTIONS.contains(&e.action) {
            self.count(RuleId::AdminBulk, e.actor, None, e, &mut found);
        }
        found
    }

    /// A PC's signal, about its person when it has one (else the PC). A take-out in force
    /// (`take_out`, added by the caller, who knows the grants) explains a stick or a network.
    fn device_signal(&mut self, e: &Observed<'_>, found: &mut Vec<Finding>) {
        let rule = match e.detail("kind") {
            Some("usb_attached") if e.detail("mass_storage") == Some("true") => RuleId::UsbStorage,
            Some("off_network") => RuleId::OffNetwork,
            Some("posture_changed") => RuleId::PostureFailure,
            Some("heartbeat_lost") => RuleId::HeartbeatLost,
            Some("abnormal_keystroke_rate") => RuleId::KeystrokeRate,
            _ => return,
        };
        if e.detail("take_out").is_some() {
            return;
        }
        // A PC switched off after its person's shift (marked by the caller, who knows shifts).
        if rule == RuleId::HeartbeatLost && e.detail("off_shift") == Some("true") {
            return;
        }
        let Some(subject) = e.detail("user").or(e.object) else { return };
        let subject = subject.to_owned();
        self.count(rule, &subject, None, e, found);
    }

    fn lookup(&mut self, e: &Observed<'_>, found: &mut Vec<Finding>) {
        let Some(customer) = e.object.filter(|o| *o != "customer:none") else { return };
        let on_call = e.detail("purpose") == Some("active_call");
        self.tally_hour(e, customer, on_call);
        if on_call {
            self.explain(e.actor, customer, e.time.0);
        } else {
            let window_ms = self.rules.get(RuleId::OffCallLookups).window_ms();
            let explained = self
                .explained
                .get(e.actor)
                .and_then(|m| m.get(customer))
                .is_some_and(|&t| t > e.time.0 - window_ms);
            if !explained {
                self.count(RuleId::OffCallLookups, e.actor, Some(customer), e, found);
            }
        }
        self.count(RuleId::LookupVolume, e.actor, Some(customer), e, found);
        if e.detail("off_shift") == Some("true") {
            self.count(RuleId::OffShiftLookups, e.actor, Some(customer), e, found);
        }
    }

    /// A call or a note with this customer explains the operator's off-call lookups of them,
    /// before and after.
    fn explain(&mut self, actor: &str, customer: &str, time: i64) {
        self.explained.entry(actor.into()).or_default().insert(customer.into(), time);
        if let Some(w) = self.windows.get_mut(&(RuleId::OffCallLookups, actor.into())) {
            w.forget(customer);
        }
    }

    fn tally_hour(&mut self, e: &Observed<'_>, customer: &str, on_call: bool) {
        let hour = e.time.0.div_euclid(HOUR_MS) * HOUR_MS;
        let h = self.hours.entry(e.actor.into()).or_default();
        if h.hour != hour {
            if h.lookups > 0 && hour > h.hour {
                h.history.push_back(h.customers.len() as u64);
                if h.history.len() > MAX_HISTORY_HOURS {
                    h.history.pop_front();
                }
            }
            h.hour = hour;
            h.customers.clear();
            h.lookups = 0;
            h.off_call = 0;
        }
        if !h.customers.contains(customer) {
            h.customers.insert(customer.into());
        }
        h.lookups += 1;
        h.off_call += u64::from(!on_call);
        h.dirty = true;
    }

    fn count(
        &mut self,
        rule: RuleId,
        subject: &str,
        key: Option<&str>,
        e: &Observed<'_>,
        found: &mut Vec<Finding>,
    ) {
        let settings = self.rules.get(rule);
        if !settings.enabled {
            return;
        }
        let window_ms = settings.window_ms();
        let w = self.windows.entry((rule, subject.into())).or_default();
        w.push(e.time.0, e.index, key, window_ms);
        let value = w.value(rule.counts_distinct());
        if value < u64::from(settings.threshold) {
            return;
        }
        let baseline = if rule == RuleId::LookupVolume {
            match self.hours.get(subject).map(|h| baseline_of(&h.history, value)) {
                Some(Some(b)) if b.z < VOLUME_Z => return,
                Some(b) => b,
                None => None,
            }
        } else {
            None
        };
        let evidence = w.evidence();
        found.push(Finding {
            rule,
            subject: subject.to_owned(),
            severity: settings.severity,
            time: e.time,
            index: e.index,
            value,
            threshold: settings.threshold,
            window_minutes: settings.window_minutes,
            baseline,
            evidence,
        });
    }

    /// Forgets subjects idle for longer than any window (a day of windows stays bounded).
    fn prune(&mut self, now: i64) {
        if now - self.pruned_at < HOUR_MS {
            return;
        }
        self.pruned_at = now;
        let longest = self.rules.0.values().map(RuleSettings::window_ms).max().unwrap_or(HOUR_MS);
        let cutoff = now - longest;
        self.windows.retain(|_, w| w.events.back().is_some_and(|&(t, _, _)| t > cutoff));
        for m in self.explained.values_mut() {
            m.retain(|_, t| *t > cutoff);
        }
        self.explained.retain(|_, m| !m.is_empty());
    }
}

/// The median/MAD baseline of `history` and the robust z-score of `value` against it; `None`
/// with fewer than [`MIN_HISTORY_HOURS`] hours.
pub fn baseline_of(history: &VecDeque<u64>, value: u64) -> Option<Baseline> {
    if history.len() < MIN_HISTORY_HOURS {
        return None;
    }
    let median = median(history.iter().map(|&v| v as f64).collect());
    let mad = median_abs_dev(history, median);
    // A perfectly regular history has no spread: one customer is then the unit of deviation.
    let z = 0.6745 * (value as f64 - median) / mad.max(1.0);
    Some(Baseline { median, mad, hours: history.len(), z })
}

fn median_abs_dev(history: &VecDeque<u64>, median_value: f64) -> f64 {
    median(history.iter().map(|&v| (v as f64 - median_value).abs()).collect())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Log {
        index: u64,
    }

    fn lookup_details(on_call: bool) -> BTreeMap<String, String> {
        let purpose = if on_call { "active_call" } else { "reason" };
        BTreeMap::from([("purpose".to_owned(), purpose.to_owned())])
    }

    impl Log {
        fn new() -> Self {
            Log { index: 0 }
        }
        // One argument per field of an entry: the tests read like the log.
        #[allow(clippy::too_many_arguments)]
        fn feed(
            &mut self,
            d: &mut Detector,
            time_ms: i64,
            action: &str,
            actor: &str,
            object: Option<&str>,
            outcome: &str,
            details: &BTreeMap<String, String>,
        ) -> Vec<Finding> {
            self.index += 1;
            d.observe(&Observed {
                index: self.index,
                time: UnixMillis(time_ms),
                action,
                actor,
                object,
                outcome,
                source_ip: Some("10.0.0.9"),
                details,
            })
        }
    }

    const T0: i64 = 1_800_000_000_000;

    #[test]
    fn twenty_three_customers_off_call_over_a_shift() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let off = lookup_details(false);
        let mut found = Vec::new();
        for i in 0..23 {
            let customer = format!("customer:h:{i:04}");
            let t = T0 + i * 20 * 60_000; // one every 20 minutes: no rate rule sees it
            found.extend(log.feed(&mut d, t, "customer.lookup", "user:op", Some(&customer), "success", &off));
        }
        let off_call: Vec<_> = found.iter().filter(|f| f.rule == RuleId::OffCallLookups).collect();
        assert_eq!(off_call.first().unwrap().value, 15, "fires at the threshold");
        assert_eq!(off_call.last().unwrap().value, 23);
        assert_eq!(off_call.last().unwrap().evidence.len(), 23, "every lookup behind it");
        assert!(found.iter().all(|f| f.rule != RuleId::LookupVolume), "no rate rule fires");
    }

    #[test]
    fn a_call_or_a_note_explains_an_off_call_lookup() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let (off, on) = (lookup_details(false), lookup_details(true));
        for i in 0..30 {
            let customer = format!("customer:h:{i:04}");
            let t = T0 + i * 60_000;
            // Half were on a call earlier; the other half get a note after the lookup.
            if i % 2 == 0 {
                log.feed(&mut d, t, "customer.lookup", "user:op", Some(&customer), "success", &on);
            }
            let f = log.feed(&mut d, t + 1, "customer.lookup", "user:op", Some(&customer), "success", &off);
            assert!(f.iter().all(|f| f.rule != RuleId::OffCallLookups), "{f:?}");
            if i % 2 == 1 {
                let empty = BTreeMap::new();
                log.feed(&mut d, t + 2, "customer.note_add", "user:op", Some(&customer), "success", &empty);
            }
        }
    }

    #[test]
    fn volume_against_the_operators_own_history() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let on = lookup_details(true);
        // Two weeks of about 12 customers an hour.
        d.set_history("user:op", (0..100).map(|i| 10 + i % 5).collect());
        let mut found = Vec::new();
        for i in 0..200 {
            let customer = format!("customer:h:{i:04}");
            let t = T0 + i * 3_000; // 200 customers in 10 minutes
            found.extend(log.feed(&mut d, t, "customer.lookup", "user:op", Some(&customer), "success", &on));
        }
        let first = found.iter().find(|f| f.rule == RuleId::LookupVolume).unwrap();
        assert_eq!(first.value, 60, "the floor");
        let b = first.baseline.unwrap();
        assert_eq!(b.median, 12.0);
        assert!(b.z > VOLUME_Z, "{b:?}");
        assert_eq!(first.severity, Severity::High);

        // An operator whose usual hour is 80 customers does not fire at 70.
        let mut d = Detector::new(RuleSet::defaults());
        d.set_history("user:busy", (0..100).map(|i| 75 + i % 10).collect());
        let mut log = Log::new();
        for i in 0..70 {
            let customer = format!("customer:h:{i:04}");
            let f = log.feed(
                &mut d,
                T0 + i * 1000,
                "customer.lookup",
                "user:busy",
                Some(&customer),
                "success",
                &on,
            );
            assert!(f.is_empty(), "{f:?}");
        }
    }

    #[test]
    fn windows_slide_and_disabled_rules_stay_quiet() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let empty = BTreeMap::new();
        // Nine failures in 15 minutes, then more spread out: never ten in one window.
        for i in 0..40 {
            let f = log.feed(
                &mut d,
                T0 + i * 110_000,
                "signin.password",
                "anonymous",
                Some("user:x"),
                "failure",
                &empty,
            );
            assert!(f.is_empty(), "{i}: {f:?}");
        }
        let mut burst = Vec::new();
        for i in 0..10 {
            burst.extend(log.feed(
                &mut d,
                T0 + 10_000_000 + i,
                "signin.password",
                "anonymous",
                Some("user:x"),
                "failure",
                &empty,
            ));
        }
        assert_eq!(burst.len(), 1);
        assert_eq!(burst[0].subject, "user:x");

        let mut rules = RuleSet::defaults();
        rules.0.get_mut(&RuleId::AccountLocked).unwrap().enabled = false;
        let mut d = Detector::new(rules);
        let f = log.feed(&mut d, T0, "account.lock", "system", Some("user:x"), "success", &empty);
        assert!(f.is_empty());
    }

    #[test]
    fn hour_stats_and_history() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let on = lookup_details(true);
        for hour in 0..3 {
            for i in 0..5 {
                let customer = format!("customer:h:{i}");
                let t = T0 - T0 % HOUR_MS + hour * HOUR_MS + i * 1000;
                log.feed(&mut d, t, "customer.lookup", "user:op", Some(&customer), "success", &on);
                log.feed(&mut d, t, "customer.lookup", "user:op", Some(&customer), "success", &on);
            }
        }
        let stats = d.take_hour_stats();
        assert_eq!(stats.len(), 1);
        assert_eq!((stats[0].customers, stats[0].lookups, stats[0].off_call), (5, 10, 0));
        assert!(d.take_hour_stats().is_empty(), "only what changed");
        assert_eq!(d.hours["user:op"].history, [5, 5]);
        assert!(!d.has_history("user:op"));
        d.set_history("user:op", vec![1, 2, 3]);
        assert_eq!(d.hours["user:op"].history, [1, 2, 3, 5, 5]);
    }

    #[test]
    fn device_signals_unless_a_take_out_explains_them() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let signal = |kind: &str, extra: &[(&str, &str)]| {
            let mut m = BTreeMap::from([
                ("kind".to_owned(), kind.to_owned()),
                ("user".to_owned(), "user:op".to_owned()),
            ]);
            m.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            m
        };
        let usb = signal("usb_attached", &[("mass_storage", "true"), ("serial", "S1")]);
        let f = log.feed(&mut d, T0, "device.signal", "device:pc", Some("device:pc"), "success", &usb);
        assert_eq!(
            (f[0].rule, f[0].subject.as_str(), f[0].severity),
            (RuleId::UsbStorage, "user:op", Severity::High)
        );
        let mouse = signal("usb_attached", &[("mass_storage", "false")]);
        assert!(
            log.feed(&mut d, T0, "device.signal", "device:pc", Some("device:pc"), "success", &mouse)
                .is_empty()
        );
        let granted = signal("off_network", &[("ip", "198.51.100.7"), ("take_out", "approval-1")]);
        assert!(
            log.feed(&mut d, T0, "device.signal", "system", Some("device:pc"), "success", &granted)
                .is_empty()
        );
        let mut off = signal("off_network", &[("ip", "198.51.100.7")]);
        off.remove("user");
        let f = log.feed(&mut d, T0, "device.signal", "system", Some("device:pc"), "success", &off);
        assert_eq!(
            (f[0].rule, f[0].subject.as_str()),
            (RuleId::OffNetwork, "device:pc"),
            "a PC with no person"
        );
    }

    #[test]
    fn lookups_outside_the_shift() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let mut off = lookup_details(true);
        off.insert("off_shift".into(), "true".into());
        let on = lookup_details(true);
        let mut found = Vec::new();
        for i in 0..3 {
            let c = format!("customer:h:{i}");
            found.extend(log.feed(&mut d, T0 + i, "customer.lookup", "user:op", Some(&c), "success", &on));
        }
        assert!(found.is_empty(), "on shift");
        for i in 0..3 {
            let c = format!("customer:h:{i}");
            found.extend(log.feed(
                &mut d,
                T0 + 10 + i,
                "customer.lookup",
                "user:op",
                Some(&c),
                "success",
                &off,
            ));
        }
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].rule, found[0].value), (RuleId::OffShiftLookups, 3));
    }

    #[test]
    fn settings_are_checked() {
        let mut s = RuleId::LookupVolume.defaults();
        assert!(s.check().is_ok());
        s.threshold = 0;
        assert_eq!(s.check(), Err(RuleSettingsError::Threshold));
        s.threshold = 5;
        s.window_minutes = 1441;
        assert_eq!(s.check(), Err(RuleSettingsError::Window));
        for r in RuleId::ALL {
            assert_eq!(RuleId::parse(r.as_str()), Some(r));
            assert!(r.defaults().check().is_ok());
        }
    }
}
