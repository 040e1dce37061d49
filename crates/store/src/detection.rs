//! Detection (issue 16): the alerts the detectors raised (deduplicated per rule and subject),
//! the entries behind each, the automatic responses taken, each person's hourly counts the
//! volume baseline is built from, and the detection rules with their history.

use super::*;
use mamori_domain::detect::{HourStat, RuleId, RuleSettings};

/// One alert: a rule that fired for a subject, with the explanation of its latest firing.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub id: String,
    /// A [`RuleId`]'s name.
    pub rule: String,
    /// `user:<id>`, `token:<id>`, `ip:<address>`.
    pub subject: String,
    /// The person it is about, when it is a person (the supervisor's scope).
    pub subject_user_id: Option<String>,
    pub severity: String,
    /// `open`, `acknowledged`, `suppressed`, `false_positive`, `resolved`.
    pub state: String,
    pub first_at: UnixMillis,
    pub last_at: UnixMillis,
    /// How many times the rule fired into this alert.
    pub hits: i64,
    /// The counted value of the latest firing, and the rule's limits then.
    pub value: i64,
    pub threshold: i64,
    pub window_minutes: i64,
    pub baseline_median: Option<f64>,
    pub baseline_mad: Option<f64>,
    pub baseline_hours: Option<i64>,
    /// The robust z-score of the latest firing.
    pub deviation: Option<f64>,
    /// The audit entry that first raised it.
    pub raised_index: i64,
    pub assignee_id: Option<String>,
    /// Why it was suppressed, marked a false positive or resolved.
    pub state_reason: Option<String>,
    pub suppressed_until: Option<UnixMillis>,
    pub updated_at: UnixMillis,
    /// An audit actor.
    pub updated_by: Option<String>,
}

/// An automatic response taken for an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertResponseRecord {
    pub id: String,
    pub alert_id: String,
    /// A `Response`'s name.
    pub kind: String,
    /// `device:<id>` or `user:<id>`.
    pub target: String,
    /// `done`, `skipped` (nothing to act on), `reversed`.
    pub state: String,
    /// The device command's id, or why it was skipped.
    pub detail: Option<String>,
    pub created_at: UnixMillis,
    pub reversed_at: Option<UnixMillis>,
    pub reversed_by: Option<String>,
}

/// Alerts of one rule: how many, and how many were marked false positives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleAlertCount {
    pub rule: String,
    pub alerts: i64,
    pub false_positives: i64,
}

/// What a read handle may do in this area.
#[async_trait]
pub trait DetectionRead: Send {
    async fn alert(&mut self, id: &str) -> StoreResult<Option<AlertRecord>>;
    /// The newest alert of a rule for a subject.
    async fn latest_alert_for(&mut self, rule: &str, subject: &str) -> StoreResult<Option<AlertRecord>>;
    /// Alerts seen since `since` (last firing), newest first; with `states`, only those.
    async fn alerts_since(
        &mut self,
        since: UnixMillis,
        states: &[&str],
        limit: i64,
    ) -> StoreResult<Vec<AlertRecord>>;
    /// The audit indexes behind an alert, in log order.
    async fn alert_evidence(&mut self, alert_id: &str) -> StoreResult<Vec<u64>>;
    async fn alert_responses(&mut self, alert_id: &str) -> StoreResult<Vec<AlertResponseRecord>>;
    /// The newest `hold_lookups` response on this person not reversed: their lookups wait for a
    /// supervisor while there is one.
    async fn lookup_hold(&mut self, user_id: &str) -> StoreResult<Option<AlertResponseRecord>>;
    async fn alert_response(&mut self, id: &str) -> StoreResult<Option<AlertResponseRecord>>;
    /// A subject's distinct customers per active hour in `[from, to)`, oldest first.
    async fn detector_hours(&mut self, subject: &str, from: i64, to: i64) -> StoreResult<Vec<u64>>;
    /// The rules in force and their version; `None` when never changed (the defaults apply).
    async fn detection_rules(&mut self) -> StoreResult<Option<(RuleVersion, Vec<(RuleId, RuleSettings)>)>>;
    /// Per rule, alerts raised since `since` and those marked false positives.
    async fn alert_counts_by_rule(&mut self, since: UnixMillis) -> StoreResult<Vec<RuleAlertCount>>;
    /// The networks or browsers a person signed in from since `since` (first seen): (place,
    /// last seen), the most recent [`mamori_domain::detect::MAX_NETWORKS`].
    async fn detector_places(
        &mut self,
        kind: mamori_domain::detect::PlaceKind,
        subject: &str,
        since: i64,
    ) -> StoreResult<Vec<(String, i64)>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait DetectionWrite: DetectionRead {
    async fn insert_alert(&mut self, alert: &AlertRecord) -> StoreResult<()>;
    /// A further firing: the explanation, `last_at` and the hit count change.
    async fn record_alert_hit(&mut self, alert: &AlertRecord) -> StoreResult<()>;
    /// Moves an alert to `to.state` from one of `from`; false when it was in none of them.
    async fn move_alert(&mut self, id: &str, from: &[&str], to: &AlertRecord) -> StoreResult<bool>;
    /// Links entries to an alert (those linked already are kept once).
    async fn insert_alert_evidence(&mut self, alert_id: &str, indexes: &[u64]) -> StoreResult<()>;
    async fn insert_alert_response(&mut self, response: &AlertResponseRecord) -> StoreResult<()>;
    /// Marks a response reversed; false when it was not `done`.
    async fn reverse_alert_response(&mut self, id: &str, at: UnixMillis, by: &str) -> StoreResult<bool>;
    /// Stores (or replaces) hourly counts.
    async fn put_detector_hours(&mut self, stats: &[HourStat]) -> StoreResult<()>;
    /// Stores (or moves on) the networks or browsers (`kind`) people signed in from; a person's
    /// places of that kind unused since `forget_before` are dropped.
    async fn put_detector_places(
        &mut self,
        kind: mamori_domain::detect::PlaceKind,
        seen: &[mamori_domain::detect::SeenPlace],
        forget_before: i64,
    ) -> StoreResult<()>;
    /// Stores a new version of the rules; returns its number.
    async fn put_detection_rules(
        &mut self,
        rules: &[(RuleId, RuleSettings)],
        changed_at: UnixMillis,
        changed_by: &str,
    ) -> StoreResult<i64>;
}
