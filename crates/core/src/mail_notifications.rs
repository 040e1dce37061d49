//! Notifications by e-mail: reminders (issue 17, item 7), approval steps (issue 15, item 8),
//! alerts and incidents (issue 16, item 6). The services queue them, once per key, in the
//! transaction that makes them happen; the server's sending task claims what is due (replicas
//! share the queue), sends it and records the outcome. A failed attempt is tried again with
//! back-off (1 min, 2, 4 … 1 h), ten times at most.
//!
//! Who is told of alerts and incidents is [`MailRouting`], a setting the security admin keeps.
//! Words that have labels in the console are written `{{ja:key}}` / `{{en:key}}` and filled in
//! by the sending task from the console's catalogue, so a label lives in one place.

use crate::{Core, CoreError, Principal};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::detect::Severity;
pub use mamori_domain::notify::MailRouting;
use mamori_domain::notify::{Person, Subject};
use mamori_proto::ErrorCode;
pub use mamori_store::MailNotification;
use mamori_store::{AlertRecord, IncidentRecord, StoreTx};
use std::time::Duration;

/// The setting that holds the [`MailRouting`].
pub const MAIL_ROUTING: &str = "mail_routing";

/// Attempts before a reminder is given up.
pub const MAX_ATTEMPTS: i64 = 10;
/// How long a claim holds a reminder for the replica sending it.
const CLAIM: Duration = Duration::from_secs(120);

impl Core {
    /// Reminders due now, claimed for this replica.
    pub async fn claim_mail_notifications(&self, limit: i64) -> Result<Vec<MailNotification>, CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        let due = tx.claim_mail_notifications(now, now.plus(CLAIM), MAX_ATTEMPTS, limit).await?;
        tx.commit().await?;
        Ok(due)
    }

    /// Records a sending: done, or tried again later.
    pub async fn record_mail_notification(
        &self,
        n: &MailNotification,
        outcome: Result<(), String>,
    ) -> Result<(), CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        match outcome {
            Ok(()) => tx.record_mail_notification(&n.id, Ok(now)).await?,
            Err(e) => {
                let backoff = Duration::from_secs(60 << n.attempts.clamp(0, 6));
                let error: String = e.chars().take(500).collect();
                tx.record_mail_notification(&n.id, Err((now.plus(backoff), &error))).await?
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A label of the console's catalogue in both languages, filled in when the mail is sent.
fn words(key: &str) -> String {
    format!("{{{{ja:{key}}}}} / {{{{en:{key}}}}}")
}

impl Core {
    /// Who is told of alerts and incidents by e-mail: the security admin's routing, else the
    /// defaults.
    pub async fn mail_routing(&self) -> Result<MailRouting, CoreError> {
        let json = self.base.store.read().await?.setting(MAIL_ROUTING).await?;
        routing_of(json)
    }

    /// Sets the routing (`settings.manage`), its client companies checked to exist.
    pub async fn set_mail_routing(
        &self,
        principal: &Principal,
        routing: MailRouting,
        ctx: &RequestContext,
    ) -> Result<MailRouting, CoreError> {
        self.base
            .permitted(principal, Permission::SettingsManage, &actions::NOTIFY_ROUTING_CHANGE, ctx)
            .await?;
        let routing = routing
            .checked()
            .map_err(|e| CoreError::invalid("clients", ErrorCode::InvalidValue, e.to_string()))?;
        let mut tx = self.base.store.begin().await?;
        for client in routing.clients.keys() {
            let named = uuid::Uuid::parse_str(client).is_ok()
                && tx
                    .org_unit(client)
                    .await?
                    .is_some_and(|u| u.kind == mamori_domain::identity::OrgKind::Client);
            if !named {
                return Err(CoreError::invalid(
                    "clients",
                    ErrorCode::InvalidValue,
                    "a route names a client company that does not exist",
                ));
            }
        }
        let json = serde_json::to_string(&routing).map_err(|e| CoreError::Internal(e.to_string()))?;
        tx.put_setting(MAIL_ROUTING, &json).await?;
        let severity = |s: Option<Severity>| s.map_or("", Severity::as_str);
        let e = AuditEvent::of(&actions::NOTIFY_ROUTING_CHANGE, principal.actor(), Outcome::Success)
            .object("mail_routing")
            .detail("security_team_from", severity(routing.security_team_from))
            .detail("supervisors_from", severity(routing.supervisors_from))
            .detail("incidents", routing.incidents_to_security_team.to_string())
            .detail("clients", routing.clients.len().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(routing)
    }
}

fn routing_of(json: Option<String>) -> Result<MailRouting, CoreError> {
    match json {
        Some(json) => serde_json::from_str::<MailRouting>(&json)
            .ok()
            .and_then(|r| r.checked().ok())
            .ok_or(CoreError::SettingUnreadable { key: MAIL_ROUTING.into() }),
        None => Ok(MailRouting::default()),
    }
}

impl crate::base::Base {
    /// Queues the mails of a new alert, in its transaction: to the security team's list and to
    /// the people the routing names. They say which rule, about whom, the value against the
    /// threshold (and the baseline), and link the alert — no customer is ever named in an alert.
    pub(crate) async fn mail_alert_in(
        &self,
        tx: &mut Box<dyn StoreTx>,
        alert: &AlertRecord,
    ) -> Result<(), CoreError> {
        if !self.policies.notify_mail {
            return Ok(());
        }
        let routing = routing_of(tx.setting(MAIL_ROUTING).await?)?;
        let severity = Severity::parse(&alert.severity).unwrap_or(Severity::High);
        let subject_user = match &alert.subject_user_id {
            Some(id) => tx.user_by_id(id).await?,
            None => None,
        };
        let people = match &subject_user {
            Some(_) => tx.list_users().await?,
            None => Vec::new(),
        };
        let clients = match &subject_user {
            Some(u) => tx.user_clients(&u.id).await?,
            None => Vec::new(),
        };
        let about = subject_user.as_ref().map(|u| Subject {
            id: &u.id,
            team_id: u.team_id.as_deref(),
            client_ids: &clients,
        });
        let persons: Vec<Person<'_>> = people
            .iter()
            .map(|u| Person {
                id: &u.id,
                roles: &u.roles,
                team_id: u.team_id.as_deref(),
                active: u.status == mamori_domain::identity::UserStatus::Active,
                mail_address: u.mail_address.as_deref(),
            })
            .collect();
        let to_people = routing.alert_people(severity, about.as_ref(), &persons);
        let to_team = routing.to_security_team(severity);
        if to_people.is_empty() && !to_team {
            return Ok(());
        }
        let who = subject_user.as_ref().map_or_else(|| alert.subject.clone(), |u| u.display_name.clone());
        let rule = words(&format!("audit_value.rule.{}", alert.rule));
        let level = words(&format!("audit_value.severity.{}", alert.severity));
        let subject = format!("[Mamori] アラート / alert ({level}): {rule} — {who}");
        let mut body = format!(
            "{rule}\n重要度 (severity): {level}\n対象 (about): {who}\n\
             値 (value): {value}（しきい値 threshold {threshold}、{minutes} 分 / minutes）\n",
            value = alert.value,
            threshold = alert.threshold,
            minutes = alert.window_minutes,
        );
        if let (Some(median), Some(z)) = (alert.baseline_median, alert.deviation) {
            body += &format!("平常時 (baseline median): {median:.1}、偏差 (deviation): {z:.1}\n");
        }
        body += &format!(
            "発生 (first seen): {}\n\nMamori で確認してください (see the alert):\n{}/alerts/{}\n",
            crate::jst::format_minute(alert.first_at),
            self.policies.public_url,
            alert.id
        );
        if to_team {
            self.queue_mail_to(
                tx,
                Vec::new(),
                format!("alert:{}:team", alert.id),
                subject.clone(),
                body.clone(),
            )
            .await?;
        }
        if !to_people.is_empty() {
            self.queue_mail_to(tx, to_people, format!("alert:{}:people", alert.id), subject, body).await?;
        }
        Ok(())
    }

    /// Queues the security team's mail of an incident step (opened; a report reminder), in its
    /// transaction — its number, kind, severity and the deadline, never its title or text.
    pub(crate) async fn mail_incident_in(
        &self,
        tx: &mut Box<dyn StoreTx>,
        incident: &IncidentRecord,
        event: &str,
        reminder: Option<(&str, mamori_domain::UnixMillis)>,
    ) -> Result<(), CoreError> {
        if !self.policies.notify_mail
            || !routing_of(tx.setting(MAIL_ROUTING).await?)?.incidents_to_security_team
        {
            return Ok(());
        }
        let kind = words(&format!("incident_kind.{}", incident.kind));
        let level = words(&format!("audit_value.severity.{}", incident.severity));
        let number = format!("INC-{}", incident.number);
        let (subject, what, key) = match reminder {
            None => (
                format!("[Mamori] インシデント / incident {number} ({level}): {kind}"),
                "インシデントが登録されました / an incident was opened".to_owned(),
                format!("incident:{}:{event}", incident.id),
            ),
            Some((report, due)) => {
                let named = if report == "preliminary" {
                    "速報 / preliminary report"
                } else {
                    "確報 / final report"
                };
                (
                    format!("[Mamori] 個人情報保護委員会への報告期限 / PPC report due: {number}"),
                    format!("{named}: {} まで / due", crate::jst::format_minute(due)),
                    format!("incident:{}:{event}:{report}:{}", incident.id, due.0),
                )
            }
        };
        let body = format!(
            "{what}\n\n{number}\n種類 (kind): {kind}\n重要度 (severity): {level}\n\n\
             Mamori で確認してください (see the incident):\n{}/incidents/{}\n",
            self.policies.public_url, incident.id
        );
        self.queue_mail_to(tx, Vec::new(), key, subject, body).await?;
        Ok(())
    }
}
