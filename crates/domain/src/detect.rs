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
use crate::activity::{Shift, ShiftSchedule, Weekday};
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
    /// Pause the person's customer lookups until a supervisor releases them (reverses it).
    HoldLookups,
}

impl Response {
    pub const ALL: [Response; 3] = [Response::LockPc, Response::EndSessions, Response::HoldLookups];

    pub fn as_str(self) -> &'static str {
        match self {
            Response::LockPc => "lock_pc",
            Response::EndSessions => "end_sessions",
            Response::HoldLookups => "hold_lookups",
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
    /// An account signed in outside its owner's shifts (`off_shift`, marked by the caller).
    SigninOffShift,
    /// A person signing in from a network (an IPv4 /24, an IPv6 /48) not seen for them in the
    /// last days ([`RuleSettings::memory_days`]); a person with no known network is learnt, not
    /// judged.
    FirstSeenNetwork,
    /// Administrative actions (those [`RuleId::AdminBulk`] counts) outside the change window
    /// ([`RuleSettings::change_window`]).
    AdminOffWindow,
    /// Distinct customers an operator looked up per call they handled (the telephony's
    /// `cti.call_start`) in the window: browsing while on few calls, on a call or not.
    LookupsPerCall,
    /// Lookups, not on a call, of phone numbers that find no one and differ only in their last
    /// two digits (`near`: a keyed hash of the rest, `probe`: of the number, which the vault
    /// adds): walking through a block of numbers to see who is a customer.
    NeighbouringNumbers,
    /// Software not on the site's allowlist found on a PC (TW-2; `posture_changed` with
    /// `shadow_it` among its `failures`).
    ShadowIt,
    /// A person signing in from a browser not seen for them in the last days (`browser`, a
    /// digest of the console's long-lived recognition cookie); learnt like
    /// [`RuleId::FirstSeenNetwork`].
    FirstSeenDevice,
    /// Anything else a person did outside their shifts (`off_shift`, marked by the caller):
    /// reveals, prints, exports, mails, pages read — an account used after its owner went home
    /// by a session begun in the shift. Lookups and sign-ins have their own rules.
    UsedOffShift,
    /// Lookups with a reason that find no one (`probe`: a keyed hash of the key searched):
    /// trying a list of numbers, addresses or names with birth dates to see who is a customer.
    /// The vault matches whole keys only, so there is no alphabetical list to walk; a sweep of
    /// names shows as misses.
    LookupMisses,
}

impl RuleId {
    pub const ALL: [RuleId; 24] = [
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
        RuleId::SigninOffShift,
        RuleId::FirstSeenNetwork,
        RuleId::AdminOffWindow,
        RuleId::LookupsPerCall,
        RuleId::NeighbouringNumbers,
        RuleId::ShadowIt,
        RuleId::FirstSeenDevice,
        RuleId::UsedOffShift,
        RuleId::LookupMisses,
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
            RuleId::SigninOffShift => "signin_off_shift",
            RuleId::FirstSeenNetwork => "first_seen_network",
            RuleId::AdminOffWindow => "admin_off_window",
            RuleId::LookupsPerCall => "lookups_per_call",
            RuleId::NeighbouringNumbers => "neighbouring_numbers",
            RuleId::ShadowIt => "shadow_it",
            RuleId::FirstSeenDevice => "first_seen_device",
            RuleId::UsedOffShift => "used_off_shift",
            RuleId::LookupMisses => "lookup_misses",
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
                | RuleId::LookupsPerCall
                | RuleId::NeighbouringNumbers
                | RuleId::LookupMisses
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
            RuleId::SigninOffShift => (Severity::Medium, 1, 480, &[]),
            RuleId::FirstSeenNetwork => (Severity::Medium, 1, 480, &[]),
            RuleId::AdminOffWindow => (Severity::Medium, 1, 60, &[]),
            RuleId::LookupsPerCall => (Severity::Medium, 3, 60, &[]),
            RuleId::NeighbouringNumbers => (Severity::High, 5, 60, &[]),
            RuleId::ShadowIt => (Severity::Medium, 1, 1440, &[]),
            // Cleared browser data makes a known browser new again: low, for the record.
            RuleId::FirstSeenDevice => (Severity::Low, 1, 480, &[]),
            RuleId::UsedOffShift => (Severity::Medium, 5, 60, &[]),
            RuleId::LookupMisses => (Severity::Medium, 10, 60, &[]),
        };
        RuleSettings {
            // A change window is each organisation's own: the rule ships with office hours set
            // and off, for the security admin to adjust and turn on (tightening, not privileged).
            enabled: self != RuleId::AdminOffWindow,
            severity,
            threshold,
            window_minutes,
            responses: responses.to_vec(),
            scope: RuleScope::default(),
            change_window: (self == RuleId::AdminOffWindow).then(office_hours),
            memory_days: self.has_memory().then_some(DEFAULT_MEMORY_DAYS),
        }
    }

    /// Whether the rule reads [`RuleSettings::change_window`].
    pub fn has_change_window(self) -> bool {
        self == RuleId::AdminOffWindow
    }

    /// Whether the rule reads [`RuleSettings::memory_days`].
    pub fn has_memory(self) -> bool {
        matches!(self, RuleId::FirstSeenNetwork | RuleId::FirstSeenDevice)
    }
}

/// How long before a shift a sign-in still belongs to it (people sign in a few minutes early).
pub const EARLY_SIGNIN_MS: i64 = 30 * 60_000;

/// Whether a sign-in at `t` belongs to a shift (`on_shift` tells whether a time is in one): in
/// it, or at most [`EARLY_SIGNIN_MS`] before it begins. The caller marks the others `off_shift`.
pub fn signin_in_shift(on_shift: impl Fn(i64) -> bool, t: i64) -> bool {
    on_shift(t) || on_shift(t + EARLY_SIGNIN_MS)
}

/// Monday to Friday, 09:00–18:00 JST: the change window that ships.
pub fn office_hours() -> ShiftSchedule {
    let days = vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
    ShiftSchedule {
        utc_offset_minutes: 540,
        shifts: vec![Shift { days, start: "09:00".into(), end: "18:00".into() }],
    }
}

/// How long a network or a browser stays known to a person, by default (days).
pub const DEFAULT_MEMORY_DAYS: u32 = 30;
/// The limits of [`RuleSettings::memory_days`].
pub const MEMORY_RANGE_DAYS: std::ops::RangeInclusive<u32> = 1..=365;
/// Networks (and browsers) remembered per person, at most (the most recently seen).
pub const MAX_NETWORKS: usize = 32;
/// Ids one scope list names, at most.
pub const MAX_SCOPE_IDS: usize = 200;

/// Where a rule applies: sites, teams and client companies (org unit ids). An empty list does
/// not narrow; a person is in scope when they match every list that names something (any one
/// id of it). A rule with a scope judges only people: findings about an address, a token or a
/// PC with nobody on it are out of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleScope {
    #[serde(default)]
    pub sites: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub clients: Vec<String>,
}

/// Where a person works, as a rule's scope asks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub site: Option<String>,
    pub team: Option<String>,
    pub clients: Vec<String>,
}

impl RuleScope {
    /// Everywhere: nothing named.
    pub fn is_everywhere(&self) -> bool {
        self.sites.is_empty() && self.teams.is_empty() && self.clients.is_empty()
    }

    /// Whether a finding about a person placed so (`None`: not a person) is in scope.
    pub fn admits(&self, place: Option<&Placement>) -> bool {
        if self.is_everywhere() {
            return true;
        }
        let Some(p) = place else { return false };
        let one = |ids: &[String], v: Option<&String>| ids.is_empty() || v.is_some_and(|v| ids.contains(v));
        one(&self.sites, p.site.as_ref())
            && one(&self.teams, p.team.as_ref())
            && (self.clients.is_empty() || p.clients.iter().any(|c| self.clients.contains(c)))
    }

    /// Whether everyone `other` admits is admitted by this scope too (so changing `other` to
    /// this does not narrow the rule).
    pub fn covers(&self, other: &RuleScope) -> bool {
        let list = |mine: &[String], theirs: &[String]| {
            mine.is_empty() || (!theirs.is_empty() && theirs.iter().all(|id| mine.contains(id)))
        };
        list(&self.sites, &other.sites)
            && list(&self.teams, &other.teams)
            && list(&self.clients, &other.clients)
    }

    /// Sorted and without repeats, as stored.
    pub fn normalised(mut self) -> Self {
        for ids in [&mut self.sites, &mut self.teams, &mut self.clients] {
            ids.sort();
            ids.dedup();
        }
        self
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
    /// Where the rule applies (empty: everywhere).
    #[serde(default, skip_serializing_if = "RuleScope::is_everywhere")]
    pub scope: RuleScope,
    /// `admin_off_window`: when administrators' changes are expected (days and local hours);
    /// outside it each administrative action counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_window: Option<ShiftSchedule>,
    /// `first_seen_network`, `first_seen_device`: days a network or a browser stays known to a
    /// person after they last used it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_days: Option<u32>,
}

/// The settings a rule's row holds beyond the first five (stored as one JSON value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleOptions {
    #[serde(default, skip_serializing_if = "RuleScope::is_everywhere")]
    pub scope: RuleScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_window: Option<ShiftSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_days: Option<u32>,
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
    #[error("a scope names at most 200 ids of each kind")]
    Scope,
    #[error("the change window: {0}")]
    ChangeWindow(String),
    #[error("a network or a browser is remembered for 1 to 365 days")]
    Memory,
}

impl RuleSettings {
    pub fn check(&self) -> Result<(), RuleSettingsError> {
        if !THRESHOLD_RANGE.contains(&self.threshold) {
            return Err(RuleSettingsError::Threshold);
        }
        if !WINDOW_RANGE_MINUTES.contains(&self.window_minutes) {
            return Err(RuleSettingsError::Window);
        }
        let s = &self.scope;
        if [&s.sites, &s.teams, &s.clients].iter().any(|ids| ids.len() > MAX_SCOPE_IDS) {
            return Err(RuleSettingsError::Scope);
        }
        if let Some(w) = &self.change_window {
            if w.shifts.is_empty() {
                return Err(RuleSettingsError::ChangeWindow("at least one period".into()));
            }
            w.clone().checked().map_err(|e| RuleSettingsError::ChangeWindow(e.to_string()))?;
        }
        if self.memory_days.is_some_and(|d| !MEMORY_RANGE_DAYS.contains(&d)) {
            return Err(RuleSettingsError::Memory);
        }
        Ok(())
    }

    /// The settings beyond the first five, as stored.
    pub fn options(&self) -> RuleOptions {
        RuleOptions {
            scope: self.scope.clone().normalised(),
            change_window: self.change_window.clone(),
            memory_days: self.memory_days,
        }
    }

    /// These settings with stored options.
    pub fn with_options(mut self, o: RuleOptions) -> Self {
        self.scope = o.scope;
        self.change_window = o.change_window;
        self.memory_days = o.memory_days;
        self
    }

    /// The change window in force for `rule` (its default when unset).
    pub fn change_window_or_default(&self) -> ShiftSchedule {
        self.change_window.clone().unwrap_or_else(office_hours)
    }

    /// How long a network stays known, in ms.
    pub fn memory_ms(&self) -> i64 {
        i64::from(self.memory_days.unwrap_or(DEFAULT_MEMORY_DAYS)) * 86_400_000
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

    /// Whether a finding stands under its rule's scope, its subject placed so (`None`: not a
    /// person, or no longer one).
    pub fn admits(&self, f: &Finding, place: Option<&Placement>) -> bool {
        match self.0.get(&f.rule) {
            Some(s) => s.scope.admits(place),
            None => true,
        }
    }

    /// Whether any rule is narrowed to a scope.
    pub fn has_scopes(&self) -> bool {
        self.0.values().any(|s| !s.scope.is_everywhere())
    }
}

/// The robust z-score above which an operator's hour is far from their own history.
pub const VOLUME_Z: f64 = 3.5;
/// Completed hours of history needed before the z-score is asked; below it, the floor alone.
pub const MIN_HISTORY_HOURS: usize = 8;
/// Teammates who looked up someone in the same hour needed before `lookup_volume` compares an
/// operator with them.
pub const MIN_PEERS: usize = 4;
/// Hours of history kept per operator (two weeks of active hours).
pub const MAX_HISTORY_HOURS: usize = 336;
/// `lookups_per_call` judges an operator's window only from this many distinct customers on
/// (fewer is ordinary: a callback or two between calls, the first minutes of a shift).
pub const PER_CALL_MIN_CUSTOMERS: u64 = 10;
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

/// Whom an operator's hour was compared with (`lookup_volume`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerGroup {
    /// The same team, serving one of the same client companies.
    TeamAndClient,
    /// The same team (too few of the same client at work, or no client assigned).
    Team,
    /// People serving one of the same client companies (no team assigned).
    Client,
}

impl PeerGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerGroup::TeamAndClient => "team_and_client",
            PeerGroup::Team => "team",
            PeerGroup::Client => "client",
        }
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
    /// What else explains it, by rule: the new network and how many were known, the change
    /// window an action fell outside of, the shifts a sign-in fell outside of.
    pub context: Vec<(&'static str, String)>,
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

/// What a person is recognised by when they sign in, each with its first-seen rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaceKind {
    /// The network the sign-in came from ([`network_of`]).
    Network,
    /// The browser: a digest of the console's long-lived recognition cookie.
    Browser,
}

impl PlaceKind {
    pub const ALL: [PlaceKind; 2] = [PlaceKind::Network, PlaceKind::Browser];

    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::Network => "network",
            PlaceKind::Browser => "browser",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The rule that judges a place of this kind new to a person.
    pub fn rule(self) -> RuleId {
        match self {
            PlaceKind::Network => RuleId::FirstSeenNetwork,
            PlaceKind::Browser => RuleId::FirstSeenDevice,
        }
    }
}

/// The places of one kind one person signed in from: (place, last seen), most recent last.
#[derive(Debug, Default)]
struct Places {
    seen: Vec<(Box<str>, i64)>,
    loaded: bool,
    /// Places whose last time changed since [`Detector::take_place_updates`].
    dirty: HashSet<Box<str>>,
}

/// A person's network as the first-seen rule keys it: an IPv4 /24 or an IPv6 /48 (an IPv4
/// address mapped into IPv6 as IPv4); `None` for what is not an address.
pub fn network_of(ip: &str) -> Option<String> {
    let ip: std::net::IpAddr = ip.trim().parse().ok()?;
    let v4 = match ip {
        std::net::IpAddr::V4(a) => Some(a),
        std::net::IpAddr::V6(a) => a.to_ipv4_mapped(),
    };
    match (v4, ip) {
        (Some(a), _) => {
            let [a, b, c, _] = a.octets();
            Some(format!("{a}.{b}.{c}.0/24"))
        }
        (None, std::net::IpAddr::V6(a)) => {
            let s = a.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
        (None, std::net::IpAddr::V4(_)) => None,
    }
}

/// One remembered network or browser of a person (stored, so first-seen outlives a restart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenPlace {
    pub subject: String,
    pub kind: PlaceKind,
    pub place: String,
    pub last_seen: i64,
}

/// The state machine the detection task feeds.
#[derive(Debug)]
pub struct Detector {
    rules: RuleSet,
    /// Per person and kind, the networks and browsers they signed in from (first seen).
    places: HashMap<(PlaceKind, Box<str>), Places>,
    /// Per operator, their team (`team`, marked on their lookups by the caller).
    team_of: HashMap<Box<str>, Box<str>>,
    /// Per operator, their client companies (`clients`, marked likewise).
    clients_of: HashMap<Box<str>, Box<str>>,
    /// Per operator, the calls they took in the `lookups_per_call` window: (time, index).
    calls: HashMap<Box<str>, VecDeque<(i64, u64)>>,
    /// Per operator, when the telephony last reported a call of theirs (those with none within
    /// the longest window are forgotten, and not judged by `lookups_per_call`).
    calls_seen: HashMap<Box<str>, i64>,
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
            places: HashMap::new(),
            calls: HashMap::new(),
            calls_seen: HashMap::new(),
            team_of: HashMap::new(),
            clients_of: HashMap::new(),
            pruned_at: 0,
        }
    }

    /// Whether the places of `kind` of `subject` were handed in yet ([`Detector::set_places`]).
    pub fn has_places(&self, kind: PlaceKind, subject: &str) -> bool {
        self.places.get(&(kind, subject.into())).is_some_and(|n| n.loaded)
    }

    /// The person's remembered places of `kind` (from storage): (place, last seen).
    pub fn set_places(&mut self, kind: PlaceKind, subject: &str, stored: Vec<(String, i64)>) {
        let n = self.places.entry((kind, subject.into())).or_default();
        for (net, t) in stored {
            match n.seen.iter_mut().find(|(k, _)| **k == *net) {
                Some((_, last)) => *last = (*last).max(t),
                None => n.seen.push((net.into(), t)),
            }
        }
        n.seen.sort_by_key(|(_, t)| *t);
        let excess = n.seen.len().saturating_sub(MAX_NETWORKS);
        n.seen.drain(..excess);
        n.loaded = true;
    }

    /// The places whose last time changed since the last call (to be stored).
    pub fn take_place_updates(&mut self) -> Vec<SeenPlace> {
        let mut out = Vec::new();
        for ((kind, subject), n) in &mut self.places {
            for place in n.dirty.drain() {
                if let Some((_, t)) = n.seen.iter().find(|(k, _)| *k == place) {
                    out.push(SeenPlace {
                        subject: subject.to_string(),
                        kind: *kind,
                        place: place.to_string(),
                        last_seen: *t,
                    });
                }
            }
        }
        out
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
            ("customer.lookup", "success") => {
                self.lookup(e, &mut found);
                self.neighbours(e, &mut found);
                if e.object == Some("customer:none")
                    && e.detail("purpose") == Some("reason")
                    && let Some(probe) = e.detail("probe")
                {
                    self.count(RuleId::LookupMisses, e.actor, Some(probe), e, &mut found);
                }
            }
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
            ("session.start", "success") if e.actor.starts_with("user:") => self.signin(e, &mut found),
            ("cti.call_start", "success") => {
                if let Some(operator) = e.detail("operator") {
                    self.call_taken(&format!("user:{operator}"), e);
                }
            }
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
        if e.outcome == "success"
            && e.detail("off_shift") == Some("true")
            && !matches!(e.action, "customer.lookup" | "session.start")
        {
            let mut context = vec![("action", e.action.to_owned())];
            context.extend(e.detail("shifts").map(|s| ("shifts", s.to_owned())));
            self.count_with(RuleId::UsedOffShift, e.actor, None, e, &mut found, context);
        }
        if e.outcome == "success" && e.is_person() && ADMIN_ACTIONS.contains(&e.action) {
            self.count(RuleId::AdminBulk, e.actor, None, e, &mut found);
            let settings = self.rules.get(RuleId::AdminOffWindow);
            let window = settings.change_window_or_default();
            if settings.enabled && !window.on_shift(e.time) {
                let context = vec![("action", e.action.to_owned()), ("change_window", window_text(&window))];
                self.count_with(RuleId::AdminOffWindow, e.actor, None, e, &mut found, context);
            }
        }
        found
    }

    /// A session begun: outside the owner's shifts (`off_shift`, marked by the caller, who knows
    /// the shifts, with `shifts` in words), and from a network new to them.
    fn signin(&mut self, e: &Observed<'_>, found: &mut Vec<Finding>) {
        if e.detail("off_shift") == Some("true") {
            let context = e.detail("shifts").map(|s| vec![("shifts", s.to_owned())]).unwrap_or_default();
            self.count_with(RuleId::SigninOffShift, e.actor, None, e, found, context);
        }
        if let Some(net) = e.source_ip.and_then(network_of) {
            self.first_seen(PlaceKind::Network, net, e, found);
        }
        if let Some(browser) = e.detail("browser") {
            self.first_seen(PlaceKind::Browser, browser.to_owned(), e, found);
        }
    }

    /// A sign-in from `place`: remembered, and judged when the person has other places of the
    /// kind known (someone with none — new, or back after the memory ran out — is learnt).
    fn first_seen(&mut self, kind: PlaceKind, place: String, e: &Observed<'_>, found: &mut Vec<Finding>) {
        let rule = kind.rule();
        let settings = self.rules.get(rule);
        let since = e.time.0 - settings.memory_ms();
        let n = self.places.entry((kind, e.actor.into())).or_default();
        n.seen.retain(|(_, t)| *t > since);
        let known = n.seen.len();
        let last_known = n.seen.last().map(|(k, _)| k.to_string());
        let is_new = match n.seen.iter().position(|(k, _)| **k == *place) {
            Some(i) => {
                let (k, _) = n.seen.remove(i);
                n.seen.push((k, e.time.0));
                false
            }
            None => {
                n.seen.push((place.as_str().into(), e.time.0));
                if n.seen.len() > MAX_NETWORKS {
                    let (old, _) = n.seen.remove(0);
                    n.dirty.remove(&old);
                }
                true
            }
        };
        n.dirty.insert(place.as_str().into());
        if !is_new || known == 0 {
            return;
        }
        let memory = ("memory_days", settings.memory_days.unwrap_or(DEFAULT_MEMORY_DAYS).to_string());
        let context = match kind {
            PlaceKind::Network => {
                let mut context = vec![("network", place), ("known_networks", known.to_string())];
                context.extend(last_known.map(|k| ("last_network", k)));
                context.push(memory);
                context
            }
            // A digest means nothing to a reader: how many browsers were known says enough.
            PlaceKind::Browser => vec![("known_browsers", known.to_string()), memory],
        };
        self.count_with(rule, e.actor, None, e, found, context);
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
        // Shadow IT is its own rule, with the software named; the PC's other failures (if any)
        // stay a posture failure. A change with no failure listed (older entries) is one too.
        if rule == RuleId::PostureFailure
            && let Some(failures) = e.detail("failures")
        {
            let failures: Vec<&str> = failures.split(',').filter(|f| !f.is_empty()).collect();
            if failures.contains(&"shadow_it") {
                let context =
                    e.detail("shadow_it").map(|s| vec![("software", s.to_owned())]).unwrap_or_default();
                self.count_with(RuleId::ShadowIt, &subject, None, e, found, context);
            }
            if failures.iter().all(|f| *f == "shadow_it") {
                return;
            }
        }
        self.count(rule, &subject, None, e, found);
    }

    fn lookup(&mut self, e: &Observed<'_>, found: &mut Vec<Finding>) {
        let Some(customer) = e.object.filter(|o| *o != "customer:none") else { return };
        let on_call = e.detail("purpose") == Some("active_call");
        for (key, map) in [("team", &mut self.team_of), ("clients", &mut self.clients_of)] {
            match e.detail(key) {
                Some(v) if map.get(e.actor).is_none_or(|t| **t != *v) => {
                    map.insert(e.actor.into(), v.into());
                }
                None if map.contains_key(e.actor) => {
                    map.remove(e.actor);
                }
                _ => {}
            }
        }
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
        self.per_call(e, customer, found);
        if e.detail("off_shift") == Some("true") {
            self.count(RuleId::OffShiftLookups, e.actor, Some(customer), e, found);
        }
    }

    /// A number that found no one near others the person tried (`near` and `probe`, added by
    /// the vault for lookups by phone with a reason): distinct numbers per block.
    fn neighbours(&mut self, e: &Observed<'_>, found: &mut Vec<Finding>) {
        let (Some(near), Some(probe)) = (e.detail("near"), e.detail("probe")) else { return };
        let rule = RuleId::NeighbouringNumbers;
        let settings = self.rules.get(rule);
        if !settings.enabled {
            return;
        }
        // One window per person and block, in the map the hourly pruning already walks.
        let w = self.windows.entry((rule, format!("{}\n{near}", e.actor).into())).or_default();
        w.push(e.time.0, e.index, Some(probe), settings.window_ms());
        let value = w.value(true);
        if value < u64::from(settings.threshold) {
            return;
        }
        found.push(Finding {
            rule,
            subject: e.actor.to_owned(),
            severity: settings.severity,
            time: e.time,
            index: e.index,
            value,
            threshold: settings.threshold,
            window_minutes: settings.window_minutes,
            baseline: None,
            evidence: w.evidence(),
            context: Vec::new(),
        });
    }

    /// A call the operator took (the telephony reports it): the denominator of
    /// `lookups_per_call`.
    fn call_taken(&mut self, operator: &str, e: &Observed<'_>) {
        let window_ms = self.rules.get(RuleId::LookupsPerCall).window_ms();
        let calls = self.calls.entry(operator.into()).or_default();
        while calls.front().is_some_and(|&(t, _)| t <= e.time.0 - window_ms) {
            calls.pop_front();
        }
        calls.push_back((e.time.0, e.index));
        self.calls_seen.insert(operator.into(), e.time.0);
    }

    /// Distinct customers looked up per call taken in the window, against the threshold (a
    /// ratio), once the operator looked up [`PER_CALL_MIN_CUSTOMERS`].
    fn per_call(&mut self, e: &Observed<'_>, customer: &str, found: &mut Vec<Finding>) {
        let settings = self.rules.get(RuleId::LookupsPerCall);
        if !settings.enabled {
            return;
        }
        let window_ms = settings.window_ms();
        let w = self.windows.entry((RuleId::LookupsPerCall, e.actor.into())).or_default();
        w.push(e.time.0, e.index, Some(customer), window_ms);
        let customers = w.value(true);
        if customers < PER_CALL_MIN_CUSTOMERS {
            return;
        }
        // An operator whose calls the telephony has not reported lately (no integration, or
        // not on the phones) is not judged: nothing to divide by.
        let Some(c) = self.calls.get_mut(e.actor) else { return };
        while c.front().is_some_and(|&(t, _)| t <= e.time.0 - window_ms) {
            c.pop_front();
        }
        let calls = c.len() as u64;
        if customers < u64::from(settings.threshold) * calls.max(1) {
            return;
        }
        let mut evidence = w.evidence();
        if let Some(c) = self.calls.get(e.actor) {
            evidence.extend(c.iter().map(|&(_, i)| i));
            evidence.sort_unstable();
            let skip = evidence.len().saturating_sub(MAX_EVIDENCE);
            evidence.drain(..skip);
        }
        let ratio = customers as f64 / calls.max(1) as f64;
        found.push(Finding {
            rule: RuleId::LookupsPerCall,
            subject: e.actor.to_owned(),
            severity: settings.severity,
            time: e.time,
            index: e.index,
            value: customers,
            threshold: settings.threshold,
            window_minutes: settings.window_minutes,
            baseline: None,
            evidence,
            context: vec![
                ("calls", calls.to_string()),
                ("customers_per_call", format!("{ratio:.1}")),
                ("min_customers", PER_CALL_MIN_CUSTOMERS.to_string()),
            ],
        });
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

    /// [`Detector::count`], with what else explains a finding of it.
    fn count_with(
        &mut self,
        rule: RuleId,
        subject: &str,
        key: Option<&str>,
        e: &Observed<'_>,
        found: &mut Vec<Finding>,
        context: Vec<(&'static str, String)>,
    ) {
        let before = found.len();
        self.count(rule, subject, key, e, found);
        if let Some(f) = found.get_mut(before) {
            f.context = context;
        }
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
        // Against the team too: an hour as busy as the teammates' (a campaign, a storm of
        // calls) is not an anomaly.
        let mut context = Vec::new();
        if rule == RuleId::LookupVolume
            && let Some((p, group)) = self.peers_of(subject, e)
        {
            if p.z < VOLUME_Z {
                return;
            }
            context = vec![
                ("peer_group", group.as_str().to_owned()),
                ("peers", p.hours.to_string()),
                ("peers_median", format!("{:.1}", p.median)),
                ("peers_mad", format!("{:.1}", p.mad)),
                ("peers_deviation", format!("{:.1}", p.z)),
            ];
        }
        let Some(w) = self.windows.get(&(rule, subject.into())) else { return };
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
            context,
        });
    }

    /// The median/MAD of the distinct customers this clock hour of the operator's peers who
    /// looked up anyone in it, and the robust z-score of the operator's own hour against it
    /// (`hours`: the peers), with the group they were taken from; `None` with fewer than
    /// [`MIN_PEERS`] of them. Peers are people of the same team (`team`) serving one of the
    /// same client companies (`clients`, comma-separated; both marked by the caller, who knows
    /// them) — a campaign for one client is busy for its operators only; with too few of
    /// those at work, the whole team.
    fn peers_of(&self, subject: &str, e: &Observed<'_>) -> Option<(Baseline, PeerGroup)> {
        let team = e.detail("team");
        let clients: Vec<&str> = e.detail("clients").map(|c| c.split(',').collect()).unwrap_or_default();
        let hour = e.time.0.div_euclid(HOUR_MS) * HOUR_MS;
        let mine = self.hours.get(subject).filter(|h| h.hour == hour)?.customers.len() as u64;
        let same_team = |k: &str| team.is_none_or(|team| self.team_of.get(k).is_some_and(|t| **t == *team));
        let same_client = |k: &str| {
            clients.is_empty()
                || self
                    .clients_of
                    .get(k)
                    .is_some_and(|theirs| theirs.split(',').any(|c| clients.contains(&c)))
        };
        let counts = |judge_clients: bool| -> Vec<f64> {
            self.hours
                .iter()
                .filter(|(k, h)| &***k != subject && h.hour == hour && h.lookups > 0)
                .filter(|(k, _)| same_team(k) && (!judge_clients || same_client(k)))
                .map(|(_, h)| h.customers.len() as f64)
                .collect()
        };
        let groups = match (team.is_some(), clients.is_empty()) {
            (false, true) => return None,
            (false, false) => vec![(PeerGroup::Client, true)],
            (true, true) => vec![(PeerGroup::Team, false)],
            (true, false) => vec![(PeerGroup::TeamAndClient, true), (PeerGroup::Team, false)],
        };
        let (counts, group) = groups
            .into_iter()
            .map(|(group, judge_clients)| (counts(judge_clients), group))
            .find(|(counts, _)| counts.len() >= MIN_PEERS)?;
        let n = counts.len();
        let median = median(counts.clone());
        let mad = median_of_deviations(&counts, median);
        let z = 0.6745 * (mine as f64 - median) / mad.max(1.0);
        Some((Baseline { median, mad, hours: n, z }, group))
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
        self.calls_seen.retain(|_, t| *t > cutoff);
        let seen = &self.calls_seen;
        self.calls.retain(|k, _| seen.contains_key(k));
    }
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// A change window in words, for an alert: `mon,tue,wed,thu,fri 09:00–18:00 (UTC+09:00)`.
pub fn window_text(w: &ShiftSchedule) -> String {
    let periods: Vec<String> = w
        .shifts
        .iter()
        .map(|s| {
            let days: Vec<&str> = s.days.iter().map(|d| weekday_name(*d)).collect();
            format!("{} {}–{}", days.join(","), s.start, s.end)
        })
        .collect();
    let o = w.utc_offset_minutes;
    let sign = if o < 0 { '-' } else { '+' };
    format!("{} (UTC{sign}{:02}:{:02})", periods.join("; "), o.abs() / 60, o.abs() % 60)
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

fn median_of_deviations(values: &[f64], center: f64) -> f64 {
    median(values.iter().map(|v| (v - center).abs()).collect())
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
    fn shadow_it_is_its_own_alert() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let signal = |failures: Option<&str>| {
            let mut details = BTreeMap::from([
                ("kind".to_owned(), "posture_changed".to_owned()),
                ("user".to_owned(), "user:op".to_owned()),
            ]);
            if let Some(f) = failures {
                details.insert("failures".into(), f.into());
                details.insert("shadow_it".into(), "not on the allowlist: Dropbox".into());
            }
            details
        };
        let mut rules = |d: &mut Detector, i: i64, failures: Option<&str>| -> Vec<RuleId> {
            let details = signal(failures);
            let found = log.feed(
                d,
                T0 + i * 86_400_000,
                "device.signal",
                "system",
                Some("device:pc"),
                "success",
                &details,
            );
            found.iter().map(|f| f.rule).collect()
        };
        assert_eq!(rules(&mut d, 0, Some("shadow_it")), [RuleId::ShadowIt]);
        let f = rules(&mut d, 2, Some("antivirus,shadow_it"));
        assert!(f.contains(&RuleId::ShadowIt) && f.contains(&RuleId::PostureFailure), "{f:?}");
        assert_eq!(rules(&mut d, 4, None), [RuleId::PostureFailure], "an entry without its failures");
        assert_eq!(rules(&mut d, 6, Some("screen_lock")), [RuleId::PostureFailure]);
    }

    #[test]
    fn a_block_of_neighbouring_numbers_is_seen() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let probe = |block: &str, number: &str| {
            let mut details = lookup_details(false);
            details.insert("near".into(), format!("phone_block:h:{block}"));
            details.insert("probe".into(), format!("phone:h:{number}"));
            details
        };
        let none = Some("customer:none");
        let mut feed = |d: &mut Detector, i: i64, details: &BTreeMap<String, String>| {
            log.feed(d, T0 + i * 60_000, "customer.lookup", "user:op", none, "success", details)
        };
        // Four numbers of one block (one tried twice), one of another: quiet.
        for (i, (block, number)) in
            [("a", "1"), ("a", "1"), ("a", "2"), ("a", "3"), ("b", "9"), ("a", "4")].into_iter().enumerate()
        {
            assert!(feed(&mut d, i as i64, &probe(block, number)).is_empty(), "{i}");
        }
        // The fifth distinct number of the block fires, about the person.
        let found = feed(&mut d, 6, &probe("a", "5"));
        let f = found.iter().find(|f| f.rule == RuleId::NeighbouringNumbers).expect("fired");
        assert_eq!((f.subject.as_str(), f.value, f.threshold), ("user:op", 5, 5));
        assert_eq!(f.evidence.len(), 6, "every try in the block is behind it");
        // Lookups without a probe (found someone, on a call, by e-mail) are not counted.
        let mut d = Detector::new(RuleSet::defaults());
        let plain = lookup_details(false);
        for i in 0..10 {
            let found = feed(&mut d, i, &plain);
            assert!(found.iter().all(|f| f.rule != RuleId::NeighbouringNumbers));
        }
    }

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

    fn signin(
        log: &mut Log,
        d: &mut Detector,
        t: i64,
        ip: &str,
        details: &BTreeMap<String, String>,
    ) -> Vec<Finding> {
        log.index += 1;
        d.observe(&Observed {
            index: log.index,
            time: UnixMillis(t),
            action: "session.start",
            actor: "user:op",
            object: Some("session:s"),
            outcome: "success",
            source_ip: Some(ip),
            details,
        })
    }

    #[test]
    fn signing_in_just_before_the_shift_belongs_to_it() {
        let (start, end) = (T0, T0 + 9 * HOUR_MS);
        let on = |t: i64| (start..end).contains(&t);
        assert!(signin_in_shift(on, start - 5 * 60_000), "five minutes early");
        assert!(signin_in_shift(on, start + HOUR_MS));
        assert!(!signin_in_shift(on, start - 45 * 60_000));
        assert!(!signin_in_shift(on, end + 60_000), "after the shift");
    }

    #[test]
    fn signing_in_outside_the_shift() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let empty = BTreeMap::new();
        assert!(signin(&mut log, &mut d, T0, "10.0.0.9", &empty).is_empty(), "in the shift");
        let off = BTreeMap::from([
            ("off_shift".to_owned(), "true".to_owned()),
            ("shifts".to_owned(), "mon 09:00–18:00 (UTC+09:00)".to_owned()),
        ]);
        let f = signin(&mut log, &mut d, T0 + 60_000, "10.0.0.9", &off);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].rule, f[0].subject.as_str(), f[0].value), (RuleId::SigninOffShift, "user:op", 1));
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].context, vec![("shifts", "mon 09:00–18:00 (UTC+09:00)".to_owned())]);
        assert_eq!(f[0].evidence, vec![2]);
    }

    #[test]
    fn networks_of_addresses() {
        assert_eq!(network_of("203.0.113.77").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(network_of("::ffff:203.0.113.77").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(network_of("2001:db8:12:34::1").as_deref(), Some("2001:db8:12::/48"));
        assert_eq!(network_of("not an address"), None);
    }

    #[test]
    fn a_first_seen_network() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let empty = BTreeMap::new();
        // The first sign-in is learnt; the same /24 again is known.
        assert!(signin(&mut log, &mut d, T0, "10.0.0.9", &empty).is_empty());
        assert!(signin(&mut log, &mut d, T0 + 1000, "10.0.0.200", &empty).is_empty());
        let f = signin(&mut log, &mut d, T0 + 2000, "198.51.100.7", &empty);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, RuleId::FirstSeenNetwork);
        assert_eq!(f[0].evidence, vec![3]);
        assert_eq!(
            f[0].context,
            vec![
                ("network", "198.51.100.0/24".to_owned()),
                ("known_networks", "1".to_owned()),
                ("last_network", "10.0.0.0/24".to_owned()),
                ("memory_days", "30".to_owned()),
            ]
        );
        // Known now; and the updates to store name both networks once.
        assert!(signin(&mut log, &mut d, T0 + 3000, "198.51.100.8", &empty).is_empty());
        let mut updates = d.take_place_updates();
        updates.sort_by(|a, b| a.place.cmp(&b.place));
        assert_eq!(updates.len(), 2);
        assert_eq!((updates[0].place.as_str(), updates[0].last_seen), ("10.0.0.0/24", T0 + 1000));
        assert_eq!(updates[0].kind, PlaceKind::Network);
        assert!(d.take_place_updates().is_empty(), "only what changed");

        // After the memory (30 days) nothing is known: learnt again, not judged.
        let later = T0 + 31 * 86_400_000;
        assert!(signin(&mut log, &mut d, later, "192.0.2.1", &empty).is_empty());

        // A restarted detector knows what was stored; a person's networks stay bounded.
        let mut d = Detector::new(RuleSet::defaults());
        assert!(!d.has_places(PlaceKind::Network, "user:op"));
        d.set_places(PlaceKind::Network, "user:op", vec![("10.0.0.0/24".into(), T0)]);
        assert!(d.has_places(PlaceKind::Network, "user:op"));
        assert!(signin(&mut log, &mut d, T0 + 1000, "10.0.0.1", &empty).is_empty());
        for i in 0..100 {
            signin(&mut log, &mut d, T0 + 2000 + i, &format!("172.16.{i}.1"), &empty);
        }
        assert_eq!(d.places[&(PlaceKind::Network, "user:op".into())].seen.len(), MAX_NETWORKS);
        assert_eq!(d.take_place_updates().len(), MAX_NETWORKS, "evicted ones are not stored");
        // The oldest went first: 10.0.0.0/24 is new again.
        assert_eq!(signin(&mut log, &mut d, T0 + 5000, "10.0.0.1", &empty).len(), 1);
    }

    #[test]
    fn administrators_outside_the_change_window() {
        let admin = |d: &mut Detector, log: &mut Log, t: i64| {
            let empty = BTreeMap::new();
            log.feed(d, t, "user.roles", "user:admin", Some("user:x"), "success", &empty)
        };
        // 2027-01-04 is a Monday; 10:00 JST is 01:00 UTC.
        let monday_10 = 1_799_024_400_000;
        let mut log = Log::new();
        let mut d = Detector::new(RuleSet::defaults());
        assert!(admin(&mut d, &mut log, monday_10 + 13 * 3_600_000).is_empty(), "off by default");
        let mut rules = RuleSet::defaults();
        rules.0.get_mut(&RuleId::AdminOffWindow).unwrap().enabled = true;
        let mut d = Detector::new(rules);
        assert!(admin(&mut d, &mut log, monday_10).is_empty(), "Monday 10:00 JST");
        let f = admin(&mut d, &mut log, monday_10 + 9 * 3_600_000); // 19:00 JST
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, RuleId::AdminOffWindow);
        assert_eq!(f[0].context[0], ("action", "user.roles".to_owned()));
        assert_eq!(f[0].context[1].1, "mon,tue,wed,thu,fri 09:00–18:00 (UTC+09:00)");
        let saturday = monday_10 + 5 * 86_400_000;
        assert_eq!(admin(&mut d, &mut log, saturday).len(), 1, "Saturday 10:00 JST");
    }

    #[test]
    fn scopes_narrow_where_a_rule_applies() {
        let place =
            Placement { site: Some("s1".into()), team: Some("t1".into()), clients: vec!["c1".into()] };
        let everywhere = RuleScope::default();
        assert!(everywhere.admits(Some(&place)) && everywhere.admits(None));
        let teams = RuleScope { teams: vec!["t2".into(), "t1".into()], ..Default::default() };
        assert!(teams.admits(Some(&place)));
        assert!(!teams.admits(None), "not a person");
        assert!(!teams.admits(Some(&Placement { team: Some("t3".into()), ..place.clone() })));
        assert!(!teams.admits(Some(&Placement { team: None, ..place.clone() })));
        let both = RuleScope { sites: vec!["s1".into()], clients: vec!["c2".into()], ..Default::default() };
        assert!(!both.admits(Some(&place)), "every list that names something");
        let both = RuleScope { clients: vec!["c2".into(), "c1".into()], ..both };
        assert!(both.admits(Some(&place)));

        let mut rules = RuleSet::defaults();
        rules.0.get_mut(&RuleId::OffCallLookups).unwrap().scope = teams.clone();
        let mut d = Detector::new(rules.clone());
        let mut log = Log::new();
        let off = lookup_details(false);
        let mut found = Vec::new();
        for i in 0..15 {
            let c = format!("customer:h:{i}");
            found.extend(log.feed(&mut d, T0 + i, "customer.lookup", "user:op", Some(&c), "success", &off));
        }
        assert_eq!(found.len(), 1);
        assert!(rules.admits(&found[0], Some(&place)));
        assert!(!rules.admits(&found[0], Some(&Placement::default())));
        assert!(rules.has_scopes() && !RuleSet::defaults().has_scopes());
        assert!(everywhere.covers(&teams) && !teams.covers(&everywhere), "narrowing");
        let more = RuleScope { teams: vec!["t1".into(), "t2".into(), "t3".into()], ..Default::default() };
        assert!(more.covers(&teams) && !teams.covers(&more));
        assert!(!both.covers(&teams) && teams.covers(&teams));
        let options = rules.get(RuleId::OffCallLookups).options();
        assert_eq!(options.scope.teams, ["t1", "t2"], "stored sorted");
        let back = RuleId::OffCallLookups.defaults().with_options(options);
        assert_eq!(back.scope.teams, ["t1", "t2"]);
    }

    #[test]
    fn volume_against_the_teams_hour() {
        let mut rules = RuleSet::defaults();
        rules.0.get_mut(&RuleId::LookupVolume).unwrap().threshold = 20;
        let on = |team: &str| {
            let mut d = lookup_details(true);
            d.insert("team".into(), team.into());
            d
        };
        let hour0 = T0 - T0 % HOUR_MS;
        // A busy hour for the whole team: five teammates at 30 customers; op at 32.
        let run = |peer_customers: u64, mine: u64| {
            let mut d = Detector::new(rules.clone());
            let mut log = Log::new();
            let team_a = on("team-a");
            for p in 0..5 {
                for i in 0..peer_customers {
                    let c = format!("customer:h:p{p}-{i}");
                    log.feed(
                        &mut d,
                        hour0 + i as i64,
                        "customer.lookup",
                        &format!("user:peer{p}"),
                        Some(&c),
                        "success",
                        &team_a,
                    );
                }
            }
            // Another team's people are no peers.
            let team_b = on("team-b");
            for p in 0..5 {
                log.feed(
                    &mut d,
                    hour0,
                    "customer.lookup",
                    &format!("user:b{p}"),
                    Some("customer:h:b"),
                    "success",
                    &team_b,
                );
            }
            let mut found = Vec::new();
            for i in 0..mine {
                let c = format!("customer:h:me{i}");
                let f = log.feed(
                    &mut d,
                    hour0 + 1000 + i as i64,
                    "customer.lookup",
                    "user:op",
                    Some(&c),
                    "success",
                    &team_a,
                );
                found.extend(f.into_iter().filter(|f| f.rule == RuleId::LookupVolume));
            }
            found
        };
        assert!(run(30, 32).is_empty(), "as busy as the team");
        let found = run(3, 32);
        let first = found.first().expect("far above the team");
        assert_eq!(first.value, 20);
        assert_eq!(first.context[0], ("peer_group", "team".to_owned()));
        assert_eq!(first.context[1], ("peers", "5".to_owned()));
        assert_eq!(first.context[2], ("peers_median", "3.0".to_owned()));
        assert!(first.baseline.is_none(), "no history of their own yet");
        // Fewer than four teammates at work: the floor (and their own history) alone.
        let mut d = Detector::new(rules.clone());
        let mut log = Log::new();
        let team_a = on("team-a");
        for i in 0..20 {
            let c = format!("customer:h:me{i}");
            let f = log.feed(&mut d, hour0 + i, "customer.lookup", "user:op", Some(&c), "success", &team_a);
            if i == 19 {
                assert_eq!(f.len(), 1);
                assert!(f[0].context.is_empty());
            }
        }
    }

    #[test]
    fn lookups_per_handled_call() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let on = lookup_details(true);
        let call = |log: &mut Log, d: &mut Detector, t: i64| {
            let op = BTreeMap::from([("operator".to_owned(), "op".to_owned())]);
            log.feed(d, t, "cti.call_start", "token:cti", Some("call:c"), "success", &op)
        };
        // An ordinary hour: ten calls, a customer or two on each.
        let mut found = Vec::new();
        for i in 0..10 {
            let t = T0 + i * 5 * 60_000;
            call(&mut log, &mut d, t);
            for j in 0..2 {
                let c = format!("customer:h:{i}-{j}");
                found.extend(log.feed(
                    &mut d,
                    t + 10_000,
                    "customer.lookup",
                    "user:op",
                    Some(&c),
                    "success",
                    &on,
                ));
            }
        }
        assert!(found.is_empty(), "{found:?}");

        // Two calls, and on them 30 customers looked up: 15 a call.
        let t1 = T0 + 3 * HOUR_MS;
        call(&mut log, &mut d, t1);
        call(&mut log, &mut d, t1 + 60_000);
        let mut found = Vec::new();
        for i in 0..30 {
            let c = format!("customer:h:x{i}");
            let f =
                log.feed(&mut d, t1 + 120_000 + i, "customer.lookup", "user:op", Some(&c), "success", &on);
            found.extend(f.into_iter().filter(|f| f.rule == RuleId::LookupsPerCall));
        }
        let first = found.first().unwrap();
        assert_eq!((first.value, first.threshold), (10, 3), "from the tenth customer");
        assert_eq!(first.context[0], ("calls", "2".to_owned()));
        assert_eq!(first.context[1], ("customers_per_call", "5.0".to_owned()));
        assert_eq!(first.evidence.len(), 12, "the two calls and ten lookups");
        assert_eq!(found.last().unwrap().value, 30);
        assert_eq!(first.severity, Severity::Medium);

        // An operator whose calls the telephony never reported is not judged.
        for i in 0..30 {
            let c = format!("customer:h:y{i}");
            let f = log.feed(&mut d, t1 + i, "customer.lookup", "user:no-cti", Some(&c), "success", &on);
            assert!(f.iter().all(|f| f.rule != RuleId::LookupsPerCall), "{f:?}");
        }
    }

    #[test]
    fn a_first_seen_browser() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let browser = |b: &str| BTreeMap::from([("browser".to_owned(), b.to_owned())]);
        // Learnt first; the same browser again is known, from any network of theirs.
        assert!(signin(&mut log, &mut d, T0, "10.0.0.9", &browser("b1")).is_empty());
        assert!(signin(&mut log, &mut d, T0 + 1000, "10.0.0.10", &browser("b1")).is_empty());
        let f = signin(&mut log, &mut d, T0 + 2000, "10.0.0.11", &browser("b2"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].rule, f[0].severity), (RuleId::FirstSeenDevice, Severity::Low));
        assert_eq!(f[0].context, vec![("known_browsers", "1".to_owned()), ("memory_days", "30".to_owned())]);
        // A new browser on a new network: two alerts, one per rule.
        let f = signin(&mut log, &mut d, T0 + 3000, "198.51.100.7", &browser("b3"));
        let rules: Vec<RuleId> = f.iter().map(|f| f.rule).collect();
        assert_eq!(rules, vec![RuleId::FirstSeenNetwork, RuleId::FirstSeenDevice]);
        let updates = d.take_place_updates();
        assert_eq!(updates.iter().filter(|u| u.kind == PlaceKind::Browser).count(), 3);
        // Stored browsers come back after a restart.
        let mut d = Detector::new(RuleSet::defaults());
        d.set_places(PlaceKind::Browser, "user:op", vec![("b1".into(), T0)]);
        assert!(signin(&mut log, &mut d, T0 + 4000, "10.0.0.9", &browser("b1")).is_empty());
        assert_eq!(signin(&mut log, &mut d, T0 + 5000, "10.0.0.9", &browser("b9")).len(), 1);
    }

    #[test]
    fn keys_that_find_no_one() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let miss = |probe: &str, purpose: &str| {
            BTreeMap::from([
                ("purpose".to_owned(), purpose.to_owned()),
                ("probe".to_owned(), probe.to_owned()),
            ])
        };
        let none = Some("customer:none");
        // The same name tried again is one key; on a call a miss is the caller's, not counted.
        for _ in 0..5 {
            let f = log.feed(
                &mut d,
                T0,
                "customer.lookup",
                "user:op",
                none,
                "success",
                &miss("name_birth:h:1", "reason"),
            );
            assert!(f.is_empty());
        }
        for i in 0..20 {
            let f = log.feed(
                &mut d,
                T0,
                "customer.lookup",
                "user:op",
                none,
                "success",
                &miss(&format!("phone:h:c{i}"), "active_call"),
            );
            assert!(f.is_empty());
        }
        let mut found = Vec::new();
        for i in 2..=10 {
            let probe = format!("name_birth:h:{i}");
            found.extend(log.feed(
                &mut d,
                T0 + i,
                "customer.lookup",
                "user:op",
                none,
                "success",
                &miss(&probe, "reason"),
            ));
        }
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].rule, found[0].value, found[0].severity),
            (RuleId::LookupMisses, 10, Severity::Medium)
        );
    }

    #[test]
    fn an_account_used_after_the_shift() {
        let mut d = Detector::new(RuleSet::defaults());
        let mut log = Log::new();
        let off = BTreeMap::from([
            ("off_shift".to_owned(), "true".to_owned()),
            ("shifts".to_owned(), "mon 09:00–18:00 (UTC+09:00)".to_owned()),
        ]);
        let empty = BTreeMap::new();
        // In the shift: nothing; lookups off shift are their own rule, not this one.
        for i in 0..10 {
            assert!(
                log.feed(&mut d, T0 + i, "customer.reveal", "user:op", Some("customer:c"), "success", &empty)
                    .is_empty()
            );
            let f = log.feed(
                &mut d,
                T0 + 100 + i,
                "customer.lookup",
                "user:op",
                Some("customer:c"),
                "success",
                &off,
            );
            assert!(f.iter().all(|f| f.rule != RuleId::UsedOffShift));
        }
        let mut found = Vec::new();
        for i in 0..5 {
            found.extend(log.feed(
                &mut d,
                T0 + 1000 + i,
                "customer.print",
                "user:op",
                Some("customer:c"),
                "success",
                &off,
            ));
        }
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].rule, found[0].value), (RuleId::UsedOffShift, 5));
        assert_eq!(found[0].context[0], ("action", "customer.print".to_owned()));
        assert_eq!(found[0].context[1].0, "shifts");
    }

    #[test]
    fn volume_against_the_same_clients_operators() {
        let mut rules = RuleSet::defaults();
        rules.0.get_mut(&RuleId::LookupVolume).unwrap().threshold = 20;
        let hour0 = T0 - T0 % HOUR_MS;
        let placed = |clients: &str| {
            let mut d = lookup_details(true);
            d.insert("team".into(), "team-a".into());
            d.insert("clients".into(), clients.into());
            d
        };
        // A campaign for client X: its four operators busy; the team's other six quiet.
        let run = |my_clients: &str| {
            let mut d = Detector::new(rules.clone());
            let mut log = Log::new();
            for (who, clients, n, people) in [("x", "client-x", 40, 4), ("y", "client-y", 2, 6)] {
                for p in 0..people {
                    for i in 0..n {
                        let c = format!("customer:h:{who}{p}-{i}");
                        let actor = format!("user:{who}{p}");
                        log.feed(
                            &mut d,
                            hour0 + i as i64,
                            "customer.lookup",
                            &actor,
                            Some(&c),
                            "success",
                            &placed(clients),
                        );
                    }
                }
            }
            let mut found = Vec::new();
            for i in 0..40 {
                let c = format!("customer:h:me{i}");
                let f = log.feed(
                    &mut d,
                    hour0 + 1000 + i,
                    "customer.lookup",
                    "user:op",
                    Some(&c),
                    "success",
                    &placed(my_clients),
                );
                found.extend(f.into_iter().filter(|f| f.rule == RuleId::LookupVolume));
            }
            found
        };
        assert!(run("client-x,client-z").is_empty(), "as busy as the campaign's operators");
        let found = run("client-y");
        let first = found.first().expect("far above the other client's operators");
        assert_eq!(first.context[0], ("peer_group", "team_and_client".to_owned()));
        assert_eq!(first.context[1], ("peers", "6".to_owned()));
        // A client of nobody else at work: the whole team (ten, most of them quiet).
        let found = run("client-q");
        let first = found.first().expect("compared with the team");
        assert_eq!(first.context[0], ("peer_group", "team".to_owned()));
        assert_eq!(first.context[1], ("peers", "10".to_owned()));
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
        let mut s = RuleId::FirstSeenNetwork.defaults();
        s.memory_days = Some(0);
        assert_eq!(s.check(), Err(RuleSettingsError::Memory));
        let mut s = RuleId::AdminOffWindow.defaults();
        s.change_window.as_mut().unwrap().shifts[0].start = "25:00".into();
        assert!(matches!(s.check(), Err(RuleSettingsError::ChangeWindow(_))));
        s.change_window.as_mut().unwrap().shifts.clear();
        assert!(matches!(s.check(), Err(RuleSettingsError::ChangeWindow(_))));
        let mut s = RuleId::DeniedAccess.defaults();
        s.scope.teams = (0..201).map(|i| i.to_string()).collect();
        assert_eq!(s.check(), Err(RuleSettingsError::Scope));
        // Settings written before scopes and options still read (the API, approvals).
        let old = r#"{"enabled":true,"severity":"high","threshold":5,"window_minutes":60,"responses":[]}"#;
        let s: RuleSettings = yaml_serde::from_str(old).unwrap();
        assert!(s.scope.is_everywhere() && s.change_window.is_none());
    }
}
