//! Incidents (issue 16, items 4 and 5; ISMS-6, LEAK-8): alerts grouped into an incident, or one
//! opened by hand, or a possible leak anyone reported in one step (also anonymously); the
//! workflow new → triage → contained → recovered → closed with a post-incident review; an
//! assignee; a timeline filled from the incident's own entries, its alerts and their automatic
//! responses; the playbook's checklist; and Japan's breach-report clock with its reminders and
//! the draft report to the PPC and the notices to the client companies.
//!
//! Who: anyone signed in may report a possible leak; `incidents.read` (security admins,
//! auditors) reads them; `incidents.manage` (security admins) runs them.

use crate::detection::Alert;
use crate::{Base, CoreError, Principal, User, check_id, new_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::detect::Severity;
use mamori_domain::incident::{
    DEFAULT_PRELIMINARY_DAYS, DataAssessment, IncidentKind, IncidentState, PRELIMINARY_DAYS_RANGE,
    ReportDuty, report_duty,
};
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
pub use mamori_store::{IncidentEvent, IncidentRecord};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The settings key of the days to the preliminary report.
pub const PRELIMINARY_DAYS_SETTING: &str = "incident_preliminary_days";
/// The longest title and text a person writes.
pub const MAX_TITLE_CHARS: usize = 120;
pub const MAX_TEXT_CHARS: usize = 5000;
/// The most incidents one list holds.
pub const MAX_INCIDENTS: i64 = 500;

/// The incidents service.
#[derive(Debug)]
pub struct Incidents {
    base: Arc<Base>,
}

/// A possible leak, as anyone reports it.
#[derive(Debug, Clone)]
pub struct LeakReport {
    pub kind: IncidentKind,
    /// What happened, in the reporter's words.
    pub description: String,
    /// Reported to the security admin without the reporter's name.
    pub anonymous: bool,
}

/// An incident opened by a security admin.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub kind: IncidentKind,
    pub severity: Severity,
    pub description: String,
    /// Alerts it groups.
    pub alert_ids: Vec<String>,
}

/// What a security admin does to an incident.
#[derive(Debug, Clone)]
pub enum IncidentChange {
    /// Moves it on; closing needs the post-incident review.
    State {
        to: IncidentState,
        review: Option<String>,
    },
    Assign {
        user_id: String,
    },
    /// The personal data involved and the client companies whose customers they are.
    Assess {
        data: DataAssessment,
        client_ids: Vec<String>,
    },
    /// When the centre learned of it (the clock's start), if earlier than it was opened.
    LearnedAt {
        at: UnixMillis,
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
    /// A report made: `preliminary`, `final` (to the PPC), `people` (the notice to each person),
    /// `clients` (the notice to the client companies).
    ReportMade {
        report: String,
    },
}

/// One line of an incident's timeline.
#[derive(Debug, Clone)]
pub struct TimelineItem {
    pub at: UnixMillis,
    /// Who: a person, `anonymous` or `system`.
    pub actor: String,
    pub person: Option<User>,
    /// The incident's own kinds (`opened`, `comment`, …), `alert` (an alert raised or firing
    /// again), `response` (an automatic response to one of its alerts), `response_reversed`
    /// (a supervisor undid one), `approval` and `approval_decision` (what the people involved
    /// asked for and who decided, around the incident).
    pub kind: String,
    pub detail: String,
}

/// An incident in full.
#[derive(Debug, Clone)]
pub struct IncidentDetail {
    pub incident: IncidentRecord,
    pub reporter: Option<User>,
    pub assignee: Option<User>,
    pub alerts: Vec<Alert>,
    pub timeline: Vec<TimelineItem>,
    /// The playbook's items and when each was done.
    pub checklist: Vec<(String, Option<UnixMillis>)>,
    /// The reports required, with their deadlines; `None` when none is.
    pub duty: Option<ReportDuty>,
    /// Names of the client companies involved.
    pub clients: Vec<(String, String)>,
}

/// The PPC's items (施行規則8条1項), filled from the incident, for the draft report.
#[derive(Debug, Clone)]
pub struct ReportDraft {
    pub incident: IncidentRecord,
    pub duty: Option<ReportDuty>,
    /// Client companies involved: (id, name).
    pub clients: Vec<(String, String)>,
    /// The alerts' rules, for the cause.
    pub alert_rules: Vec<String>,
    /// Comments in order, for the response so far.
    pub comments: Vec<(UnixMillis, String)>,
    pub checklist_done: Vec<String>,
}

fn text_of(field: &'static str, text: &str, max: usize, required: bool) -> Result<String, CoreError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(CoreError::invalid(field, ErrorCode::Required, "write a few words"));
    }
    if text.chars().count() > max {
        return Err(CoreError::invalid(field, ErrorCode::TooLong, format!("at most {max} characters")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(CoreError::invalid(field, ErrorCode::InvalidValue, "text only, no control characters"));
    }
    Ok(text.to_owned())
}

/// How far before an incident was learned of its people's approvals are shown on its timeline.
const APPROVALS_BEFORE_MS: i64 = 30 * 86_400_000;
/// The latest approvals of each person read for it.
const APPROVALS_PER_PERSON: i64 = 200;

impl Incidents {
    pub(crate) fn new(base: Arc<Base>) -> Self {
        Incidents { base }
    }

    /// Days to the preliminary report (the security admin's setting, 3 by default).
    pub async fn preliminary_days(&self) -> Result<u32, CoreError> {
        let stored = self.base.store.read().await?.setting(PRELIMINARY_DAYS_SETTING).await?;
        Ok(stored
            .and_then(|v| v.parse().ok())
            .filter(|d| PRELIMINARY_DAYS_RANGE.contains(d))
            .unwrap_or(DEFAULT_PRELIMINARY_DAYS))
    }

    /// Sets the days to the preliminary report, 1–5 (`settings.manage`).
    pub async fn set_preliminary_days(
        &self,
        principal: &Principal,
        days: u32,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::SettingsManage, &actions::INCIDENT_UPDATE, ctx).await?;
        if !PRELIMINARY_DAYS_RANGE.contains(&days) {
            return Err(CoreError::invalid(
                "preliminary_days",
                ErrorCode::OutOfRange,
                "between 1 and 5 days",
            ));
        }
        let mut tx = self.base.store.begin().await?;
        tx.put_setting(PRELIMINARY_DAYS_SETTING, &days.to_string()).await?;
        let e = AuditEvent::of(&actions::INCIDENT_UPDATE, principal.actor(), Outcome::Success)
            .object("incident_settings")
            .detail("change", "preliminary_days")
            .detail("to", days.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Anyone signed in reports a possible leak in one step (LEAK-8): a lost USB stick, a mail
    /// to the wrong address. Anonymous reports keep neither the name nor the address.
    pub async fn report_leak(
        &self,
        principal: &Principal,
        report: &LeakReport,
        ctx: &RequestContext,
    ) -> Result<IncidentRecord, CoreError> {
        let description = text_of("description", &report.description, MAX_TEXT_CHARS, true)?;
        let title: String = description.lines().next().unwrap_or_default().chars().take(60).collect();
        let (reporter, actor, ctx) = if report.anonymous {
            (None, Actor::Anonymous, RequestContext::default())
        } else {
            (Some(principal.user.id.clone()), principal.actor(), ctx.clone())
        };
        let severity = match report.kind {
            IncidentKind::LostDevice | IncidentKind::MisdirectedMail | IncidentKind::InsiderCopying => {
                Severity::High
            }
            _ => Severity::Medium,
        };
        let incident = self.blank(title, report.kind, severity, description, reporter);
        let mut tx = self.base.store.begin().await?;
        let incident = self.insert(&mut tx, incident, &actor, "reported", &[]).await?;
        let e = AuditEvent::of(&actions::INCIDENT_OPEN, actor, Outcome::Success)
            .object(format!("incident:{}", incident.id))
            .detail("kind", report.kind.as_str())
            .detail("severity", severity.as_str())
            .detail("via", "report")
            .detail("anonymous", report.anonymous.to_string())
            .detail("description_chars", incident.description.chars().count().to_string());
        self.base.audit(&mut tx, &ctx, e).await?;
        tx.commit().await?;
        Ok(incident)
    }

    /// A security admin opens an incident, grouping alerts or by hand.
    pub async fn open_incident(
        &self,
        principal: &Principal,
        new: &NewIncident,
        ctx: &RequestContext,
    ) -> Result<IncidentRecord, CoreError> {
        self.base.permitted(principal, Permission::IncidentsManage, &actions::INCIDENT_OPEN, ctx).await?;
        let title = text_of("title", &new.title, MAX_TITLE_CHARS, true)?;
        let description = text_of("description", &new.description, MAX_TEXT_CHARS, false)?;
        let alert_ids = self.known_alerts(&new.alert_ids).await?;
        let incident =
            self.blank(title, new.kind, new.severity, description, Some(principal.user.id.clone()));
        let mut tx = self.base.store.begin().await?;
        let incident = self.insert(&mut tx, incident, &principal.actor(), "opened", &alert_ids).await?;
        let via = if alert_ids.is_empty() { "hand" } else { "alerts" };
        let e = AuditEvent::of(&actions::INCIDENT_OPEN, principal.actor(), Outcome::Success)
            .object(format!("incident:{}", incident.id))
            .detail("kind", new.kind.as_str())
            .detail("severity", new.severity.as_str())
            .detail("alerts", alert_ids.len().to_string())
            .detail("via", via)
            .detail("description_chars", incident.description.chars().count().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(incident)
    }

    fn blank(
        &self,
        title: String,
        kind: IncidentKind,
        severity: Severity,
        description: String,
        reporter: Option<String>,
    ) -> IncidentRecord {
        let now = self.base.now();
        IncidentRecord {
            id: new_id(),
            number: 0,
            title,
            kind: kind.as_str().into(),
            state: IncidentState::New.as_str().into(),
            severity: severity.as_str().into(),
            description,
            reported_by: reporter,
            assignee_id: None,
            learned_at: now,
            created_at: now,
            updated_at: now,
            data: DataAssessment::default(),
            client_ids: Vec::new(),
            preliminary_reported_at: None,
            final_reported_at: None,
            people_notified_at: None,
            clients_notified_at: None,
            review: None,
            closed_at: None,
        }
    }

    async fn insert(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        mut incident: IncidentRecord,
        actor: &Actor,
        kind: &str,
        alert_ids: &[String],
    ) -> Result<IncidentRecord, CoreError> {
        incident.number = tx.insert_incident(&incident).await?;
        tx.link_incident_alerts(&incident.id, alert_ids, incident.created_at).await?;
        self.event(tx, &incident.id, actor, kind, String::new()).await?;
        self.notify(tx, &incident, "incident.open", serde_json::json!({ "via": kind })).await?;
        Ok(incident)
    }

    /// Queues the webhook's notice of an incident step: its number, kind, severity and state,
    /// never its title or text (they may name a customer).
    async fn notify(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        incident: &IncidentRecord,
        event: &str,
        extra: serde_json::Value,
    ) -> Result<(), CoreError> {
        let payload = serde_json::json!({
            "event": event,
            "incident": {
                "id": incident.id,
                "number": incident.number,
                "kind": incident.kind,
                "severity": incident.severity,
                "state": incident.state,
            },
            "detail": extra,
            "path": format!("/incidents/{}", incident.id),
        });
        self.base.queue_webhook(tx, format!("incident:{}", incident.id), event, payload).await?;
        match event {
            "incident.open" => self.base.mail_incident_in(tx, incident, event, None).await,
            "incident.reminder" => {
                let report = extra["report"].as_str().unwrap_or("final");
                let due = extra["due_ms"].as_i64().map(mamori_domain::UnixMillis);
                match due {
                    Some(due) => self.base.mail_incident_in(tx, incident, event, Some((report, due))).await,
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    async fn event(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        incident_id: &str,
        actor: &Actor,
        kind: &str,
        detail: String,
    ) -> Result<(), CoreError> {
        let e = IncidentEvent {
            id: new_id(),
            incident_id: incident_id.to_owned(),
            at: self.base.now(),
            actor: actor.encode(),
            kind: kind.into(),
            detail,
        };
        Ok(tx.insert_incident_event(&e).await?)
    }

    /// The alert ids that exist (an unknown one is an error, not silently dropped).
    async fn known_alerts(&self, ids: &[String]) -> Result<Vec<String>, CoreError> {
        let mut read = self.base.store.read().await?;
        let mut out = Vec::new();
        for id in ids {
            check_id(id, "alert")?;
            if read.alert(id).await?.is_none() {
                return Err(CoreError::NotFound { what: "alert" });
            }
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        Ok(out)
    }

    /// Incidents: those not closed, and those closed in the last `days`; newest first.
    pub async fn incidents(
        &self,
        principal: &Principal,
        days: u32,
        states: &[&str],
        ctx: &RequestContext,
    ) -> Result<Vec<IncidentRecord>, CoreError> {
        self.base.permitted(principal, Permission::IncidentsRead, &actions::INCIDENT_UPDATE, ctx).await?;
        if let Some(bad) = states.iter().find(|s| IncidentState::parse(s).is_none()) {
            return Err(CoreError::invalid(
                "state",
                ErrorCode::InvalidValue,
                format!("`{bad}` is not an incident state"),
            ));
        }
        if !(1..=366).contains(&days) {
            return Err(CoreError::invalid("days", ErrorCode::OutOfRange, "between 1 and 366 days"));
        }
        let since = self.base.now().minus(Duration::from_secs(u64::from(days) * 86_400));
        Ok(self.base.store.read().await?.incidents_since(since, states, MAX_INCIDENTS).await?)
    }

    async fn incident_record(
        &self,
        principal: &Principal,
        needs: Permission,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<IncidentRecord, CoreError> {
        self.base.permitted(principal, needs, &actions::INCIDENT_UPDATE, ctx).await?;
        check_id(id, "incident")?;
        self.base.store.read().await?.incident(id).await?.ok_or(CoreError::NotFound { what: "incident" })
    }

    /// One incident in full: its alerts, timeline, checklist and the reports due.
    pub async fn incident(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<IncidentDetail, CoreError> {
        let incident = self.incident_record(principal, Permission::IncidentsRead, id, ctx).await?;
        let preliminary_days = self.preliminary_days().await?;
        let mut read = self.base.store.read().await?;
        let users: HashMap<String, mamori_store::UserRecord> =
            read.list_users().await?.into_iter().map(|u| (u.id.clone(), u)).collect();
        let user = |id: Option<&str>| id.and_then(|i| users.get(i)).cloned().map(User::from);
        let mut alerts = Vec::new();
        let mut timeline = Vec::new();
        // The people involved: the reporter and whom its alerts are about.
        let mut involved: Vec<String> = incident.reported_by.iter().cloned().collect();
        for alert_id in read.incident_alert_ids(id).await? {
            let Some(record) = read.alert(&alert_id).await? else { continue };
            let detail = format!("{}|{}|{}", record.rule, record.value, record.hits);
            timeline.push(TimelineItem {
                at: record.first_at,
                actor: "system".into(),
                person: None,
                kind: "alert".into(),
                detail,
            });
            for r in read.alert_responses(&alert_id).await? {
                let detail = format!("{}|{}|{}", r.kind, r.state, r.target);
                if let (Some(at), Some(by)) = (r.reversed_at, &r.reversed_by) {
                    timeline.push(TimelineItem {
                        at,
                        actor: format!("user:{by}"),
                        person: user(Some(by)),
                        kind: "response_reversed".into(),
                        detail: detail.clone(),
                    });
                }
                timeline.push(TimelineItem {
                    at: r.created_at,
                    actor: "system".into(),
                    person: None,
                    kind: "response".into(),
                    detail,
                });
            }
            involved.extend(record.subject_user_id.clone());
            alerts.push(Alert {
                person: user(record.subject_user_id.as_deref()),
                assignee: user(record.assignee_id.as_deref()),
                record,
            });
        }
        for e in read.incident_events(id).await? {
            let person = user(e.actor.strip_prefix("user:"));
            timeline.push(TimelineItem { at: e.at, actor: e.actor, person, kind: e.kind, detail: e.detail });
        }
        // Their approvals from a month before it was learned of (a take-out of the PC since
        // lost, the mail released to the wrong address) until it closed, with the decisions.
        involved.sort();
        involved.dedup();
        let from = incident.learned_at.0 - APPROVALS_BEFORE_MS;
        let until = incident.closed_at.map_or(i64::MAX, |t| t.0);
        for person in &involved {
            for a in read.approvals_of(person, APPROVALS_PER_PERSON).await? {
                if a.created_at.0 < from || a.created_at.0 > until {
                    continue;
                }
                let kind = a.kind.as_str();
                timeline.push(TimelineItem {
                    at: a.created_at,
                    actor: format!("user:{person}"),
                    person: user(Some(person)),
                    kind: "approval".into(),
                    detail: format!("{kind}|{}|{}", a.state.as_str(), a.id),
                });
                for d in read.approval_decisions(&a.id).await? {
                    timeline.push(TimelineItem {
                        at: d.at,
                        actor: format!("user:{}", d.decider_id),
                        person: user(Some(&d.decider_id)),
                        kind: "approval_decision".into(),
                        detail: format!("{kind}|{}|{}", d.approve, a.id),
                    });
                }
            }
        }
        timeline.sort_by_key(|t| t.at);
        let done: HashMap<String, UnixMillis> =
            read.incident_checklist(id).await?.into_iter().map(|(item, at, _)| (item, at)).collect();
        let kind = IncidentKind::parse(&incident.kind).unwrap_or(IncidentKind::Other);
        let checklist =
            kind.checklist().iter().map(|item| ((*item).to_owned(), done.get(*item).copied())).collect();
        let mut clients = Vec::new();
        for c in &incident.client_ids {
            let name = read.org_unit(c).await?.map(|u| u.name).unwrap_or_else(|| c.clone());
            clients.push((c.clone(), name));
        }
        Ok(IncidentDetail {
            reporter: user(incident.reported_by.as_deref()),
            assignee: user(incident.assignee_id.as_deref()),
            duty: report_duty(&incident.data, incident.learned_at, preliminary_days),
            incident,
            alerts,
            timeline,
            checklist,
            clients,
        })
    }

    /// Applies one change, audited, with a timeline entry.
    pub async fn update_incident(
        &self,
        principal: &Principal,
        id: &str,
        change: IncidentChange,
        ctx: &RequestContext,
    ) -> Result<IncidentRecord, CoreError> {
        let mut incident = self.incident_record(principal, Permission::IncidentsManage, id, ctx).await?;
        let now = self.base.now();
        let actor = principal.actor();
        let object = format!("incident:{id}");
        let mut e =
            AuditEvent::of(&actions::INCIDENT_UPDATE, actor.clone(), Outcome::Success).object(object.clone());
        let mut tx_work: Vec<(String, String)> = Vec::new(); // timeline (kind, detail)
        let mut checklist: Option<(String, bool)> = None;
        let mut link: Vec<String> = Vec::new();
        match change {
            IncidentChange::State { to, review } => {
                let from = IncidentState::parse(&incident.state).unwrap_or(IncidentState::New);
                if !from.may_move_to(to) {
                    let refused = AuditEvent::of(&actions::INCIDENT_UPDATE, actor, Outcome::Denied)
                        .object(object)
                        .detail("change", "state")
                        .detail("reason", "not_allowed");
                    self.base.record_denied(ctx, refused).await;
                    return Err(CoreError::Conflict(format!(
                        "an incident moves forward only (it is {}); a closed one may be reopened into triage",
                        from.as_str()
                    )));
                }
                if to == IncidentState::Closed {
                    let review = text_of("review", review.as_deref().unwrap_or(""), MAX_TEXT_CHARS, true)?;
                    e = e.detail("chars", review.chars().count().to_string());
                    incident.review = Some(review);
                    incident.closed_at = Some(now);
                } else {
                    incident.closed_at = None;
                }
                incident.state = to.as_str().into();
                e = e.detail("change", "state").detail("from", from.as_str()).detail("to", to.as_str());
                tx_work.push(("state".into(), format!("{}|{}", from.as_str(), to.as_str())));
            }
            IncidentChange::Assign { user_id } => {
                check_id(&user_id, "user")?;
                let user = self.base.store.read().await?.user_by_id(&user_id).await?;
                let ok = user.as_ref().is_some_and(|u| {
                    u.status == mamori_domain::identity::UserStatus::Active
                        && mamori_domain::authz::permissions_of(&u.roles)
                            .contains(&Permission::IncidentsManage)
                });
                if !ok {
                    return Err(CoreError::invalid(
                        "assignee",
                        ErrorCode::InvalidValue,
                        "assign to an active security admin",
                    ));
                }
                incident.assignee_id = Some(user_id.clone());
                e = e.detail("change", "assign").detail("assignee", format!("user:{user_id}"));
                tx_work.push(("assigned".into(), format!("user:{user_id}")));
            }
            IncidentChange::Assess { data, client_ids } => {
                if data.people > 100_000_000 {
                    return Err(CoreError::invalid(
                        "people",
                        ErrorCode::OutOfRange,
                        "at most 100,000,000 people",
                    ));
                }
                let mut read = self.base.store.read().await?;
                let mut clients = Vec::new();
                for c in client_ids {
                    check_id(&c, "client").map_err(|_| {
                        CoreError::invalid("client_ids", ErrorCode::InvalidValue, "not a client company")
                    })?;
                    let is_client = read
                        .org_unit(&c)
                        .await?
                        .is_some_and(|u| u.kind == mamori_domain::identity::OrgKind::Client);
                    if !is_client {
                        return Err(CoreError::invalid(
                            "client_ids",
                            ErrorCode::InvalidValue,
                            "not a client company",
                        ));
                    }
                    if !clients.contains(&c) {
                        clients.push(c);
                    }
                }
                drop(read);
                let duty = report_duty(&data, incident.learned_at, self.preliminary_days().await?);
                let grounds: Vec<&str> =
                    duty.iter().flat_map(|d| d.grounds.iter().map(|g| g.as_str())).collect();
                e = e
                    .detail("change", "assessment")
                    .detail("people", data.people.to_string())
                    .detail("report_required", duty.is_some().to_string())
                    .detail("grounds", grounds.join(","));
                tx_work.push(("assessment".into(), format!("{}|{}", data.people, grounds.join(","))));
                incident.data = data;
                incident.client_ids = clients;
            }
            IncidentChange::LearnedAt { at } => {
                if at > now || at < incident.created_at.minus(Duration::from_secs(366 * 86_400)) {
                    return Err(CoreError::invalid(
                        "learned_at",
                        ErrorCode::OutOfRange,
                        "not in the future, at most a year before it was opened",
                    ));
                }
                incident.learned_at = at;
                e = e.detail("change", "learned_at");
                tx_work.push(("learned_at".into(), at.0.to_string()));
            }
            IncidentChange::Checklist { item, done } => {
                let kind = IncidentKind::parse(&incident.kind).unwrap_or(IncidentKind::Other);
                if !kind.checklist().contains(&item.as_str()) {
                    return Err(CoreError::invalid(
                        "item",
                        ErrorCode::InvalidValue,
                        "not an item of this incident's checklist",
                    ));
                }
                e = e
                    .detail("change", "checklist")
                    .detail("item", item.clone())
                    .detail("done", done.to_string());
                tx_work.push(("checklist".into(), format!("{item}|{done}")));
                checklist = Some((item, done));
            }
            IncidentChange::Comment { text } => {
                let text = text_of("comment", &text, MAX_TEXT_CHARS, true)?;
                e = e.detail("change", "comment").detail("chars", text.chars().count().to_string());
                tx_work.push(("comment".into(), text));
            }
            IncidentChange::LinkAlerts { alert_ids } => {
                link = self.known_alerts(&alert_ids).await?;
                if link.is_empty() {
                    return Err(CoreError::invalid(
                        "alert_ids",
                        ErrorCode::Required,
                        "name the alerts to link",
                    ));
                }
                e = e.detail("change", "alerts").detail("linked", link.len().to_string());
                tx_work.push(("alerts_linked".into(), link.len().to_string()));
            }
            IncidentChange::ReportMade { report } => {
                let slot = match report.as_str() {
                    "preliminary" => &mut incident.preliminary_reported_at,
                    "final" => &mut incident.final_reported_at,
                    "people" => &mut incident.people_notified_at,
                    "clients" => &mut incident.clients_notified_at,
                    _ => {
                        return Err(CoreError::invalid(
                            "report",
                            ErrorCode::InvalidValue,
                            "one of: preliminary, final, people, clients",
                        ));
                    }
                };
                if slot.is_some() {
                    return Err(CoreError::Conflict("this report is recorded already".into()));
                }
                *slot = Some(now);
                e = e.detail("change", "report").detail("report", report.clone());
                tx_work.push(("report_recorded".into(), report));
            }
        }
        incident.updated_at = now;
        let mut tx = self.base.store.begin().await?;
        if let Some((item, done)) = &checklist {
            let by = actor.encode();
            let mark = done.then_some((now, by.as_str()));
            if !tx.set_incident_checklist_item(id, item, mark).await? {
                return Err(CoreError::Conflict("the checklist already says so".into()));
            }
        }
        if !link.is_empty() {
            tx.link_incident_alerts(id, &link, now).await?;
        }
        tx.update_incident(&incident).await?;
        for (kind, detail) in tx_work {
            self.event(&mut tx, id, &actor, &kind, detail).await?;
        }
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(incident)
    }

    /// The draft report to the PPC and the notices to the client companies, filled from the
    /// incident (the security admin completes and sends them).
    pub async fn report_draft(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<ReportDraft, CoreError> {
        let detail = self.incident(principal, id, ctx).await?;
        let comments = detail
            .timeline
            .iter()
            .filter(|t| t.kind == "comment")
            .map(|t| (t.at, t.detail.clone()))
            .collect();
        let mut alert_rules: Vec<String> = detail.alerts.iter().map(|a| a.record.rule.clone()).collect();
        alert_rules.dedup();
        let checklist_done =
            detail.checklist.iter().filter(|(_, at)| at.is_some()).map(|(i, _)| i.clone()).collect();
        Ok(ReportDraft {
            duty: detail.duty,
            clients: detail.clients,
            incident: detail.incident,
            alert_rules,
            comments,
            checklist_done,
        })
    }

    /// Sends the reminders that are due (run every minute): a day before the preliminary
    /// report and on its day, a week and a day before the final one and on its day — while the
    /// report is not recorded. Each once across replicas (`incident.reminder`, a timeline
    /// entry). Returns how many were sent.
    pub async fn send_reminders(&self) -> Result<usize, CoreError> {
        let now = self.base.now();
        let days = self.preliminary_days().await?;
        let open = self.base.store.read().await?.open_incidents().await?;
        let mut sent = 0;
        for incident in open {
            let Some(duty) = report_duty(&incident.data, incident.learned_at, days) else { continue };
            for r in mamori_domain::incident::reminders(&duty) {
                let recorded = match r.report {
                    "preliminary" => incident.preliminary_reported_at.is_some(),
                    _ => incident.final_reported_at.is_some(),
                };
                // Only the latest reminder due is sent: a clock set late sends one, not all.
                let next_due = r.at.0 + 86_400_000;
                if recorded || r.at > now || (now.0 >= next_due && r.days_before > 0) {
                    continue;
                }
                let key = format!("{}:{}:{}:{}", incident.id, r.report, r.days_before, r.at.0);
                let due = if r.report == "preliminary" { duty.preliminary_due } else { duty.final_due };
                let keep_until = due.plus(Duration::from_secs(86_400 * 2));
                if !self.base.first_use(crate::base::shared::INCIDENT_REMINDERS, &key, keep_until).await? {
                    continue;
                }
                let mut tx = self.base.store.begin().await?;
                let detail = format!("{}|{}|{}", r.report, r.days_before, due.0);
                self.event(&mut tx, &incident.id, &Actor::System, "reminder", detail).await?;
                let e = AuditEvent::of(&actions::INCIDENT_REMINDER, Actor::System, Outcome::Success)
                    .object(format!("incident:{}", incident.id))
                    .detail("report", r.report)
                    .detail("due", due.0.to_string())
                    .detail("days_before", r.days_before.to_string());
                self.base.audit(&mut tx, &RequestContext::default(), e).await?;
                let extra = serde_json::json!({ "report": r.report, "due": due.rfc3339(), "due_ms": due.0, "days_before": r.days_before });
                self.notify(&mut tx, &incident, "incident.reminder", extra).await?;
                tx.commit().await?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Open incidents whose report is required and not yet recorded, for a home page: (incident,
    /// the next deadline).
    pub async fn reports_due(
        &self,
        principal: &Principal,
    ) -> Result<Vec<(IncidentRecord, UnixMillis)>, CoreError> {
        if !principal.can(Permission::IncidentsRead) {
            return Ok(Vec::new());
        }
        let days = self.preliminary_days().await?;
        let open = self.base.store.read().await?.open_incidents().await?;
        let mut due = Vec::new();
        for i in open {
            let Some(duty) = report_duty(&i.data, i.learned_at, days) else { continue };
            let next = if i.preliminary_reported_at.is_none() {
                duty.preliminary_due
            } else if i.final_reported_at.is_none() {
                duty.final_due
            } else {
                continue;
            };
            due.push((i, next));
        }
        due.sort_by_key(|(_, at)| *at);
        Ok(due)
    }
}

/// The PPC's items in Japanese (the report is made to the PPC in Japanese), filled from what
/// the incident records; what Mamori cannot know is marked for the security admin to write.
#[derive(Debug, Clone)]
pub struct ReportItems {
    pub summary: String,
    pub data_items: Vec<String>,
    pub people: u32,
    pub cause: String,
    pub secondary_damage: String,
    pub response_to_people: String,
    pub publication: String,
    pub prevention: String,
    pub other: String,
}

const TO_WRITE: &str = "（記入してください）";

impl ReportDraft {
    /// The items; `rule_name` and `item_name` put a detection rule's and a checklist item's
    /// code in Japanese words (the console's labels).
    pub fn items(
        &self,
        rule_name: &dyn Fn(&str) -> String,
        item_name: &dyn Fn(&str) -> String,
    ) -> ReportItems {
        let i = &self.incident;
        let jst = |t: UnixMillis| crate::jst::format_minute(t);
        let kind = match IncidentKind::parse(&i.kind) {
            Some(IncidentKind::LostDevice) => "PC・記録媒体の紛失・盗難",
            Some(IncidentKind::MisdirectedMail) => "メール等の誤送信",
            Some(IncidentKind::Malware) => "マルウェア感染",
            Some(IncidentKind::InsiderCopying) => "従業者による個人データの持ち出し",
            Some(IncidentKind::VendorIncident) => "委託先における事故",
            _ => "その他",
        };
        let mut summary = format!("{kind}。{}に認知。", jst(i.learned_at));
        // A reported leak's title is the start of its description: not said twice.
        if !i.description.starts_with(&i.title) {
            summary.push('\n');
            summary.push_str(&i.title);
        }
        if !i.description.is_empty() {
            summary.push('\n');
            summary.push_str(&i.description);
        }
        let mut data_items = vec!["氏名".to_owned(), "電話番号".to_owned()];
        if i.data.financial {
            data_items.push("クレジットカード番号".into());
        }
        if i.data.sensitive {
            data_items.push("要配慮個人情報（内容を記入してください）".into());
        }
        let cause = if self.alert_rules.is_empty() {
            TO_WRITE.to_owned()
        } else {
            let rules: Vec<String> = self.alert_rules.iter().map(|r| rule_name(r)).collect();
            format!("検知ルール（{}）による検知を契機に判明。詳細な原因：{TO_WRITE}", rules.join("、"))
        };
        let secondary_damage = if i.data.financial {
            format!("クレジットカードの不正利用のおそれ。{TO_WRITE}")
        } else {
            TO_WRITE.to_owned()
        };
        let response_to_people = match i.people_notified_at {
            Some(t) => format!("{}に本人へ通知済み。", jst(t)),
            None => format!("本人への通知は未実施。予定：{TO_WRITE}"),
        };
        let done: Vec<String> = self.checklist_done.iter().map(|c| item_name(c)).collect();
        let mut other = Vec::new();
        if let Some(t) = i.clients_notified_at {
            other.push(format!("委託元への報告：{}に実施。", jst(t)));
        } else if !self.clients.is_empty() {
            let names: Vec<&str> = self.clients.iter().map(|(_, n)| n.as_str()).collect();
            other.push(format!("委託元（{}）への報告：未実施。", names.join("、")));
        }
        if !done.is_empty() {
            other.push(format!("実施済みの対応項目：{}", done.join("、")));
        }
        for (at, text) in &self.comments {
            other.push(format!("{} {}", jst(*at), text));
        }
        ReportItems {
            summary,
            data_items,
            people: i.data.people,
            cause,
            secondary_damage,
            response_to_people,
            publication: TO_WRITE.to_owned(),
            prevention: i.review.clone().unwrap_or_else(|| TO_WRITE.to_owned()),
            other: other.join("\n"),
        }
    }
}
