//! Detection (issue 16; ISMS-6, LEAK-5, LEAK-14, TW-10, MON-2, MON-3): the alerts the detectors
//! raise from the audit log, and what people do with them — acknowledge, assign, suppress with
//! a reason and an expiry, mark a false positive, resolve, reverse an automatic response — and
//! the rules themselves (data, with defaults shipped; changes audited, turning one off
//! privileged).
//!
//! The detectors run in [`runner`]: one replica at a time reads the detection feed, feeds
//! `mamori_domain::detect::Detector`, and writes the alerts, their evidence, their automatic
//! responses and the feed's cursor in one transaction — so a crash loses and repeats nothing.
//!
//! Who sees what: `alerts.read` in one's people scope (a supervisor: alerts about their own
//! team; a security admin and an auditor: all); `alerts.manage` to act on them, in the same
//! scope. Alerts about no person (an address guessing passwords) are for those who see
//! everyone.

pub mod runner;

use crate::base::authorize::Attempt;
use crate::{Base, CoreError, Principal, User, check_id};
use mamori_audit::{AuditEntry, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::authz::Resource;
use mamori_domain::detect::{RuleId, RuleSet, RuleSettings};
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
pub use mamori_store::{AlertRecord, AlertResponseRecord, RuleAlertCount, RuleVersion};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Alert states, problems first.
pub const ALERT_STATES: [&str; 5] = ["open", "acknowledged", "suppressed", "resolved", "false_positive"];
/// States in which an alert still asks for someone's attention.
pub const ACTIVE_STATES: [&str; 2] = ["open", "acknowledged"];
/// The longest suppression.
pub const MAX_SUPPRESS_HOURS: u32 = 720;
/// The longest reason a person writes.
pub const MAX_REASON_CHARS: usize = 500;
/// The most alerts one list holds.
pub const MAX_ALERTS: i64 = 500;

/// The detection service.
#[derive(Debug)]
pub struct Detection {
    base: Arc<Base>,
    /// Raised by every rule change in this process, so the runner here reloads at once (other
    /// replicas reload within [`runner::RULES_RELOAD`]).
    rules_changed: AtomicU64,
    /// Raised by every alert written in this process (the console's live view).
    alerts_changed: tokio::sync::watch::Sender<u64>,
}

/// An alert with the people it names.
#[derive(Debug, Clone)]
pub struct Alert {
    pub record: AlertRecord,
    /// The person it is about, when it is one.
    pub person: Option<User>,
    pub assignee: Option<User>,
}

/// One alert in full: the entries behind it and the responses taken.
#[derive(Debug, Clone)]
pub struct AlertDetail {
    pub alert: Alert,
    pub evidence: Vec<AuditEntry>,
    /// How many entries are linked (the page shows the latest [`MAX_EVIDENCE_SHOWN`]).
    pub evidence_total: usize,
    pub responses: Vec<AlertResponseRecord>,
    /// The incidents it belongs to: (id, number), for those who may read incidents.
    pub incidents: Vec<(String, i64)>,
}

/// Evidence entries one alert page shows.
pub const MAX_EVIDENCE_SHOWN: usize = 200;

/// What a person does to an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertChange {
    Acknowledge,
    Assign { user_id: String },
    Suppress { hours: u32, reason: String },
    FalsePositive { reason: String },
    Resolve { reason: String },
}

/// The rules in force, with their version and how each has done.
#[derive(Debug, Clone)]
pub struct RulesView {
    pub rules: RuleSet,
    /// `None` while the shipped defaults apply.
    pub version: Option<RuleVersion>,
    /// Alerts per rule in the last 30 days, and false positives among them.
    pub counts: Vec<RuleAlertCount>,
}

fn reason_of(reason: &str, required: bool) -> Result<String, CoreError> {
    let reason = reason.trim();
    if reason.is_empty() && required {
        return Err(CoreError::invalid("reason", ErrorCode::Required, "say why, in a few words"));
    }
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CoreError::invalid("reason", ErrorCode::TooLong, "at most 500 characters of text"));
    }
    Ok(reason.to_owned())
}

impl Detection {
    pub(crate) fn new(base: Arc<Base>) -> Self {
        Detection { base, rules_changed: AtomicU64::new(0), alerts_changed: tokio::sync::watch::channel(0).0 }
    }

    /// Changes whenever an alert is raised or updated in this process.
    pub fn watch_alerts(&self) -> tokio::sync::watch::Receiver<u64> {
        self.alerts_changed.subscribe()
    }

    pub(crate) fn alerts_changed(&self) {
        self.alerts_changed.send_modify(|n| *n += 1);
    }

    /// The rule set in force (the defaults for rules never changed).
    pub(crate) async fn rule_set(&self) -> Result<RuleSet, CoreError> {
        let mut rules = RuleSet::defaults();
        if let Some((_, stored)) = self.base.store.read().await?.detection_rules().await? {
            rules.0.extend(stored);
        }
        Ok(rules)
    }

    pub(crate) fn rules_generation(&self) -> u64 {
        self.rules_changed.load(Ordering::Acquire)
    }

    /// The rules, their version and their record (alerts and false positives, 30 days).
    pub async fn rules(&self, principal: &Principal, ctx: &RequestContext) -> Result<RulesView, CoreError> {
        self.base.permitted(principal, Permission::AlertsRead, &actions::DETECTION_RULES_CHANGE, ctx).await?;
        let mut read = self.base.store.read().await?;
        let stored = read.detection_rules().await?;
        let since = self.base.now().minus(Duration::from_secs(30 * 86_400));
        let counts = read.alert_counts_by_rule(since).await?;
        drop(read);
        let mut rules = RuleSet::defaults();
        let version = stored.map(|(version, stored)| {
            rules.0.extend(stored);
            version
        });
        Ok(RulesView { rules, version, counts })
    }

    /// Sets the rules (`settings.manage`). Turning a rule off is privileged: with a second
    /// security admin it needs their approval (`PrivilegedAction::SetDetectionRules`).
    pub async fn set_rules(
        &self,
        principal: &Principal,
        rules: RuleSet,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.base
            .permitted(principal, Permission::SettingsManage, &actions::DETECTION_RULES_CHANGE, ctx)
            .await?;
        let rules = checked_rules(rules)?;
        self.check_scopes(&rules).await?;
        let current = self.rule_set().await?;
        if turns_off(&current, &rules) {
            self.base
                .privileged_gate(principal, &actions::DETECTION_RULES_CHANGE, "detection_rules".into(), ctx)
                .await?;
        }
        self.apply_rules(principal, rules, None, ctx).await
    }

    /// Stores the rules (checked), audited; `approval` names a second admin's approval.
    pub(crate) async fn apply_rules(
        &self,
        principal: &Principal,
        rules: RuleSet,
        approval: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.check_scopes(&rules).await?;
        let current = self.rule_set().await?;
        let changed: Vec<&str> = RuleId::ALL
            .into_iter()
            .filter(|r| current.get(*r) != rules.get(*r))
            .map(RuleId::as_str)
            .collect();
        let disabled: Vec<&str> = RuleId::ALL
            .into_iter()
            .filter(|r| current.get(*r).enabled && !rules.get(*r).enabled)
            .map(RuleId::as_str)
            .collect();
        let rows: Vec<(RuleId, RuleSettings)> = RuleId::ALL.into_iter().map(|r| (r, rules.get(r))).collect();
        let mut tx = self.base.store.begin().await?;
        let version = tx.put_detection_rules(&rows, self.base.now(), &principal.actor().encode()).await?;
        let mut e = AuditEvent::of(&actions::DETECTION_RULES_CHANGE, principal.actor(), Outcome::Success)
            .object("detection_rules")
            .detail("version", version.to_string())
            .detail("changed", changed.join(","))
            .detail("disabled", disabled.join(","))
            .detail("narrowed", narrowed(&current, &rules).join(","));
        if let Some(a) = approval {
            e = e.detail("approval", a);
        }
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        self.rules_changed.fetch_add(1, Ordering::AcqRel);
        Ok(version)
    }

    /// Alerts seen in the last `days` in the principal's scope, problems first (active ones,
    /// high severity), then newest; `states` narrows them.
    pub async fn alerts(
        &self,
        principal: &Principal,
        days: u32,
        states: &[&str],
        ctx: &RequestContext,
    ) -> Result<Vec<Alert>, CoreError> {
        self.base.permitted(principal, Permission::AlertsRead, &actions::ALERT_UPDATE, ctx).await?;
        if let Some(bad) = states.iter().find(|s| !ALERT_STATES.contains(s)) {
            return Err(CoreError::invalid(
                "state",
                ErrorCode::InvalidValue,
                format!("`{bad}` is not one of: {}", ALERT_STATES.join(", ")),
            ));
        }
        if !(1..=90).contains(&days) {
            return Err(CoreError::invalid("days", ErrorCode::OutOfRange, "between 1 and 90 days"));
        }
        let since = self.base.now().minus(Duration::from_secs(u64::from(days) * 86_400));
        let mut read = self.base.store.read().await?;
        let records = read.alerts_since(since, states, MAX_ALERTS).await?;
        let users: HashMap<String, mamori_store::UserRecord> =
            read.list_users().await?.into_iter().map(|u| (u.id.clone(), u)).collect();
        drop(read);
        let mut alerts: Vec<Alert> = records
            .into_iter()
            .filter(|a| self.sees(principal, a, &users))
            .map(|a| with_people(a, &users))
            .collect();
        alerts.sort_by_key(|a| {
            let active = ACTIVE_STATES.contains(&a.record.state.as_str());
            (
                std::cmp::Reverse(active),
                std::cmp::Reverse(severity_rank(&a.record.severity)),
                std::cmp::Reverse(a.record.last_at),
            )
        });
        Ok(alerts)
    }

    /// How many active alerts of high severity the principal sees (the home page's tile).
    pub async fn active_high_alerts(&self, principal: &Principal) -> Result<usize, CoreError> {
        if !principal.can(Permission::AlertsRead) {
            return Ok(0);
        }
        let alerts = self.alerts(principal, 30, &ACTIVE_STATES, &RequestContext::default()).await?;
        Ok(alerts.iter().filter(|a| a.record.severity == "high").count())
    }

    fn sees(
        &self,
        principal: &Principal,
        alert: &AlertRecord,
        users: &HashMap<String, mamori_store::UserRecord>,
    ) -> bool {
        let user = alert.subject_user_id.as_ref().and_then(|id| users.get(id));
        let resource = Resource::Person {
            user_id: alert.subject_user_id.as_deref(),
            team_id: user.and_then(|u| u.team_id.as_deref()),
        };
        mamori_domain::authz::authorize(&Base::subject(principal), Permission::AlertsRead, resource).is_ok()
    }

    /// An alert the principal may act on with `needs`; outside the scope it is not found.
    async fn alert_in_scope(
        &self,
        principal: &Principal,
        needs: Permission,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<AlertRecord, CoreError> {
        check_id(id, "alert")?;
        let mut read = self.base.store.read().await?;
        let alert = read.alert(id).await?.ok_or(CoreError::NotFound { what: "alert" })?;
        let team = match &alert.subject_user_id {
            Some(u) => read.user_by_id(u).await?.and_then(|u| u.team_id),
            None => None,
        };
        drop(read);
        let resource =
            Resource::Person { user_id: alert.subject_user_id.as_deref(), team_id: team.as_deref() };
        let attempt = Attempt::of(&actions::ALERT_UPDATE).on(format!("alert:{id}"), "alert");
        self.base.authorize(principal, needs, resource, attempt, ctx).await?;
        Ok(alert)
    }

    /// One alert with the entries behind it (the latest [`MAX_EVIDENCE_SHOWN`]) and its responses.
    pub async fn alert(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<AlertDetail, CoreError> {
        let record = self.alert_in_scope(principal, Permission::AlertsRead, id, ctx).await?;
        let mut read = self.base.store.read().await?;
        let indexes = read.alert_evidence(id).await?;
        let evidence_total = indexes.len();
        let shown = &indexes[indexes.len().saturating_sub(MAX_EVIDENCE_SHOWN)..];
        let mut evidence = Vec::with_capacity(shown.len());
        // Consecutive indexes are read as one range.
        let mut i = 0;
        while i < shown.len() {
            let mut j = i + 1;
            while j < shown.len() && shown[j] == shown[j - 1] + 1 {
                j += 1;
            }
            evidence.extend(read.audit_entries(shown[i], shown[j - 1] + 1).await?);
            i = j;
        }
        let responses = read.alert_responses(id).await?;
        let mut incidents = Vec::new();
        if principal.can(Permission::IncidentsRead) {
            for incident_id in read.incidents_of_alert(id).await? {
                if let Some(i) = read.incident(&incident_id).await? {
                    incidents.push((i.id, i.number));
                }
            }
        }
        let users: HashMap<String, mamori_store::UserRecord> =
            read.list_users().await?.into_iter().map(|u| (u.id.clone(), u)).collect();
        Ok(AlertDetail { alert: with_people(record, &users), evidence, evidence_total, responses, incidents })
    }

    /// Acknowledges, assigns, suppresses, marks a false positive or resolves an alert.
    pub async fn update_alert(
        &self,
        principal: &Principal,
        id: &str,
        change: AlertChange,
        ctx: &RequestContext,
    ) -> Result<AlertRecord, CoreError> {
        let alert = self.alert_in_scope(principal, Permission::AlertsManage, id, ctx).await?;
        let now = self.base.now();
        let mut to = alert.clone();
        to.updated_at = now;
        to.updated_by = Some(principal.actor().encode());
        let mut e = AuditEvent::of(&actions::ALERT_UPDATE, principal.actor(), Outcome::Success)
            .object(format!("alert:{id}"))
            .detail("from", alert.state.clone());
        let from: &[&str] = match &change {
            AlertChange::Acknowledge => {
                to.state = "acknowledged".into();
                &["open"]
            }
            AlertChange::Assign { user_id } => {
                check_id(user_id, "user")?;
                let user = self.base.store.read().await?.user_by_id(user_id).await?;
                let can_handle = user.as_ref().is_some_and(|u| {
                    u.status == mamori_domain::identity::UserStatus::Active
                        && mamori_domain::authz::permissions_of(&u.roles).contains(&Permission::AlertsManage)
                });
                if !can_handle {
                    return Err(CoreError::invalid(
                        "assignee",
                        ErrorCode::InvalidValue,
                        "assign to an active supervisor or security admin",
                    ));
                }
                to.assignee_id = Some(user_id.clone());
                e = e.detail("assignee", format!("user:{user_id}"));
                &["open", "acknowledged", "suppressed"]
            }
            AlertChange::Suppress { hours, reason } => {
                if !(1..=MAX_SUPPRESS_HOURS).contains(hours) {
                    return Err(CoreError::invalid(
                        "hours",
                        ErrorCode::OutOfRange,
                        "between 1 and 720 hours",
                    ));
                }
                let reason = reason_of(reason, true)?;
                let until = now.plus(Duration::from_secs(u64::from(*hours) * 3600));
                e = e
                    .detail("suppressed_until", until.0.to_string())
                    .detail("reason_chars", reason.chars().count().to_string());
                to.state = "suppressed".into();
                to.suppressed_until = Some(until);
                to.state_reason = Some(reason);
                &["open", "acknowledged", "suppressed"]
            }
            AlertChange::FalsePositive { reason } | AlertChange::Resolve { reason } => {
                let reason = reason_of(reason, true)?;
                e = e.detail("reason_chars", reason.chars().count().to_string());
                to.state = if matches!(change, AlertChange::FalsePositive { .. }) {
                    "false_positive"
                } else {
                    "resolved"
                }
                .into();
                to.state_reason = Some(reason);
                to.suppressed_until = None;
                &["open", "acknowledged", "suppressed"]
            }
        };
        let to_word =
            if matches!(change, AlertChange::Assign { .. }) { "assigned" } else { to.state.as_str() };
        e = e.detail("to", to_word);
        let mut tx = self.base.store.begin().await?;
        if !tx.move_alert(id, from, &to).await? {
            drop(tx);
            let refused = AuditEvent::of(&actions::ALERT_UPDATE, principal.actor(), Outcome::Denied)
                .object(format!("alert:{id}"))
                .detail("reason", "not_in_state");
            self.base.record_denied(ctx, refused).await;
            return Err(CoreError::Conflict(format!(
                "the alert is {} now; reload the page to see it",
                alert.state
            )));
        }
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        self.alerts_changed();
        Ok(to)
    }

    /// Reverses an automatic response: a locked PC is told it was released (its operator signs
    /// in again), ended sessions are recorded as reversed (the person signs in again).
    pub(crate) async fn reversible_response(
        &self,
        principal: &Principal,
        alert_id: &str,
        response_id: &str,
        ctx: &RequestContext,
    ) -> Result<AlertResponseRecord, CoreError> {
        self.alert_in_scope(principal, Permission::AlertsManage, alert_id, ctx).await?;
        check_id(response_id, "response")?;
        let response = self.base.store.read().await?.alert_response(response_id).await?;
        match response {
            Some(r) if r.alert_id == alert_id && r.state == "done" => Ok(r),
            Some(r) if r.alert_id == alert_id => {
                Err(CoreError::Conflict(format!("the response is {} already; nothing to reverse", r.state)))
            }
            _ => Err(CoreError::NotFound { what: "response" }),
        }
    }
}

impl Detection {
    /// Refuses a rule scope naming a site, team or client company that does not exist (the
    /// field and the rule named).
    async fn check_scopes(&self, rules: &RuleSet) -> Result<(), CoreError> {
        use mamori_domain::identity::OrgKind;
        if !rules.has_scopes() {
            return Ok(());
        }
        let mut read = self.base.store.read().await?;
        let kinds = [
            (OrgKind::Site, "scope.sites"),
            (OrgKind::Team, "scope.teams"),
            (OrgKind::Client, "scope.clients"),
        ];
        for (kind, field) in kinds {
            let known: std::collections::HashSet<String> =
                read.list_org_units(kind).await?.into_iter().map(|u| u.id).collect();
            for (rule, settings) in &rules.0 {
                let s = &settings.scope;
                let ids = match kind {
                    OrgKind::Site => &s.sites,
                    OrgKind::Team => &s.teams,
                    OrgKind::Client => &s.clients,
                };
                if let Some(bad) = ids.iter().find(|id| !known.contains(*id)) {
                    let shown: String = bad.chars().take(64).collect();
                    return Err(CoreError::invalid(
                        field,
                        ErrorCode::InvalidValue,
                        format!("{}: no {} `{shown}`", rule.as_str(), kind.as_str()),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The rules checked (every rule's settings in range).
pub(crate) fn checked_rules(rules: RuleSet) -> Result<RuleSet, CoreError> {
    for (rule, settings) in &rules.0 {
        settings.check().map_err(|e| {
            CoreError::invalid("rules", ErrorCode::OutOfRange, format!("{}: {e}", rule.as_str()))
        })?;
    }
    Ok(rules)
}

/// Whether `next` turns off a rule that `current` has on, or narrows where one applies.
fn turns_off(current: &RuleSet, next: &RuleSet) -> bool {
    RuleId::ALL.into_iter().any(|r| current.get(r).enabled && !next.get(r).enabled)
        || !narrowed(current, next).is_empty()
}

/// The rules on in `current` whose scope `next` narrows (they judge fewer people).
fn narrowed(current: &RuleSet, next: &RuleSet) -> Vec<&'static str> {
    RuleId::ALL
        .into_iter()
        .filter(|r| current.get(*r).enabled && !next.get(*r).scope.covers(&current.get(*r).scope))
        .map(RuleId::as_str)
        .collect()
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "high" => 2,
        "medium" => 1,
        _ => 0,
    }
}

fn with_people(record: AlertRecord, users: &HashMap<String, mamori_store::UserRecord>) -> Alert {
    let person = record.subject_user_id.as_ref().and_then(|u| users.get(u)).cloned().map(User::from);
    let assignee = record.assignee_id.as_ref().and_then(|u| users.get(u)).cloned().map(User::from);
    Alert { record, person, assignee }
}

/// When an alert's state may no longer change.
pub fn is_closed(state: &str) -> bool {
    matches!(state, "resolved" | "false_positive")
}

/// The time a suppression ends, when it is in force at `now`.
pub fn suppressed_at(alert: &AlertRecord, now: UnixMillis) -> Option<UnixMillis> {
    alert.suppressed_until.filter(|u| alert.state == "suppressed" && *u > now)
}

/// The details of an `alert.raise` entry that explain a finding beyond its value and baseline:
/// the new network, the change window, the shifts, the calls, the team's median.
pub const CONTEXT_KEYS: [&str; 16] = [
    "network",
    "known_networks",
    "last_network",
    "known_browsers",
    "memory_days",
    "action",
    "change_window",
    "shifts",
    "calls",
    "customers_per_call",
    "min_customers",
    "peer_group",
    "peers",
    "peers_median",
    "peers_mad",
    "peers_deviation",
];

impl Detection {
    /// What else explains an alert, from the `alert.raise` entry that raised it: (key, value)
    /// of [`CONTEXT_KEYS`], in that order. For an alert the caller was allowed to read.
    pub async fn alert_context(&self, alert: &AlertRecord) -> Result<Vec<(String, String)>, CoreError> {
        let query = mamori_store::AuditQuery {
            actions: Some(vec![actions::ALERT_RAISE.name.to_owned()]),
            object: Some(format!("alert:{}", alert.id)),
            from: Some(alert.first_at),
            limit: 1,
            ..Default::default()
        };
        let raised = self.base.store.read().await?.search_audit(&query).await?;
        let Some(entry) = raised.into_iter().next() else { return Ok(Vec::new()) };
        Ok(CONTEXT_KEYS
            .iter()
            .filter_map(|k| entry.details.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect())
    }
}
