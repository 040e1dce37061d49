//! Outgoing mail held for a check (issue 15, item 5; LEAK-9, TW-9 — 誤送信防止, ダブルチェック).
//!
//! The center's mail clients submit through Mamori's relay (the server speaks SMTP; this is
//! what it asks). A mail is read (`mamori_documents::mail`), searched for customer data, and
//! routed by the one rule in `mamori_domain::mail::route`:
//!
//! - internal recipients only: it passes at once ([`Submitted::Pass`]); the server relays it and
//!   reports back ([`Core::mail_passed`]), which writes its one audit entry;
//! - an external recipient: it is held, sealed, for the sender's check — after the policy's
//!   delay they confirm it or cancel it; with customer data, confirming asks the sender's
//!   supervisor ([`ApprovalKind::Mail`]), and the mail goes once that request is granted;
//! - a client company's domain limit refuses a recipient: it is returned to the sender.
//!
//! Mails leave through an outbox: [`Core::claim_mail`] hands the relay what is released (and
//! the bounces), [`Core::record_mail_relay`] records each attempt. [`Core::sweep_mail`] moves
//! held mails on — granted → released, denied or expired → returned, unchecked past the hold →
//! returned — and is run by the server every few seconds. Every move is a conditional update,
//! so replicas share the work without doing anything twice.

use crate::approvals::{Approval, NewRequest};
use crate::{Core, CoreError, Principal, check_id, new_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_documents::mail::{Attachment, read_mail};
use mamori_domain::approval::{ApprovalKind, ApprovalState};
use mamori_domain::mail::{Findings, Header, MailPolicy, Recipient, Route, candidates, route};
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
use mamori_store::{MailMove, OutgoingMail};
use sha2::Digest;

/// The settings key of the mail policy.
pub const MAIL_POLICY: &str = "mail_policy";
/// Most recipients of one mail.
pub const MAX_RECIPIENTS: usize = 100;
/// Characters of the text the check page shows.
const PREVIEW_CHARS: usize = 5_000;
/// A released mail is tried this many times before it is returned.
pub const RELAY_ATTEMPTS: i64 = 8;

/// A mail as the relay received it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// `MAIL FROM`.
    pub envelope_from: String,
    /// `RCPT TO`, in order.
    pub recipients: Vec<String>,
    /// The message as received (headers and body).
    pub message: Vec<u8>,
}

/// What became of a submitted mail.
#[derive(Debug, Clone)]
pub enum Submitted {
    /// Internal only: relay it now, then report with [`Core::mail_passed`].
    Pass(PassedMail),
    /// Held for the sender's check, at `/mail/{id}`.
    Held { id: String, needs_approval: bool },
    /// Refused by a client company's domain limit; a bounce is on its way to the sender.
    Returned { id: String, domain: String },
}

/// An internal mail on its way: what its audit entry says.
#[derive(Debug, Clone)]
pub struct PassedMail {
    pub id: String,
    pub recipients: usize,
    pub bytes: usize,
    /// The message as received, handed back for the relay to send (not copied).
    pub message: Vec<u8>,
}

/// What the check page and the supervisor see of a mail.
#[derive(Debug, Clone)]
pub struct MailView {
    pub mail: OutgoingMail,
    pub recipients: Vec<Recipient>,
    pub findings: Findings,
    pub summary: MailSummary,
    /// The sender's "display name (user name)".
    pub sender: String,
    /// Its request, when a supervisor decides it.
    pub approval: Option<Approval>,
    /// Names of the client companies in the findings, by id.
    pub client_names: std::collections::HashMap<String, String>,
}

/// The sealed part of a held mail's record: what names a customer.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct MailSummary {
    pub subject: String,
    pub attachments: Vec<Attachment>,
    /// The start of the text.
    pub text: String,
}

/// A mail the relay is to send now.
#[derive(Debug, Clone)]
pub struct MailToSend {
    pub mail: OutgoingMail,
    /// The envelope: from (empty for a bounce) and to.
    pub from: String,
    pub to: Vec<String>,
    pub content: MailContentToSend,
}

#[derive(Debug, Clone)]
pub enum MailContentToSend {
    /// The message as the sender wrote it.
    Message(Vec<u8>),
    /// A bounce, which the server words (in Japanese and English).
    Bounce(Bounce),
}

/// What a bounce tells its sender.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Bounce {
    /// The returned mail.
    pub mail_id: String,
    /// `domain_refused`, `denied`, `approval_expired`, `not_confirmed`, `upstream_failed`.
    pub reason: String,
    pub subject: String,
    /// The refused domain, for `domain_refused`.
    pub domain: Option<String>,
    /// The client company whose limit refused it.
    pub client: Option<String>,
    /// The supervisor's comment, for `denied`.
    pub comment: Option<String>,
}

/// The sealing context of a mail's parts: its id and which part.
fn context(id: &str, part: &str) -> String {
    format!("mail:{id}:{part}")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// An address as written on the envelope, lower-cased, and its domain.
fn address_and_domain(address: &str) -> Result<(String, String), CoreError> {
    let a = address.trim().trim_start_matches('<').trim_end_matches('>').to_ascii_lowercase();
    let domain = a.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    let domain = mamori_domain::mail::normalize_domain(&domain).map_err(|_| {
        CoreError::invalid(
            "recipient",
            ErrorCode::InvalidValue,
            "a recipient is an address like name@example.co.jp",
        )
    })?;
    Ok((a, domain))
}

impl Core {
    /// The outgoing-mail rules the security admin set, else the defaults.
    pub async fn mail_policy(&self) -> Result<MailPolicy, CoreError> {
        match self.base.store.read().await?.setting(MAIL_POLICY).await? {
            Some(json) => serde_json::from_str::<MailPolicy>(&json)
                .ok()
                .and_then(|p| p.checked().ok())
                .ok_or(CoreError::SettingUnreadable { key: MAIL_POLICY.into() }),
            None => Ok(MailPolicy::default()),
        }
    }

    /// Sets the outgoing-mail rules (`settings.manage`) — directly only where there is no
    /// second security admin to approve it (a privileged action, like an approval policy).
    pub async fn set_mail_policy(
        &self,
        principal: &Principal,
        policy: MailPolicy,
        ctx: &RequestContext,
    ) -> Result<MailPolicy, CoreError> {
        self.base.permitted(principal, Permission::SettingsManage, &actions::MAIL_POLICY_CHANGE, ctx).await?;
        let policy = self.checked_mail_policy(policy).await?;
        self.base.privileged_gate(principal, &actions::MAIL_POLICY_CHANGE, "mail_policy".into(), ctx).await?;
        self.apply_mail_policy(principal, policy, None, ctx).await
    }

    /// The policy normalized, its client companies existing — or what is wrong with it.
    pub(crate) async fn checked_mail_policy(&self, policy: MailPolicy) -> Result<MailPolicy, CoreError> {
        let policy = policy
            .checked()
            .map_err(|e| CoreError::invalid("mail_policy", ErrorCode::InvalidValue, e.to_string()))?;
        let mut read = self.base.store.read().await?;
        for client in policy.client_domains.keys() {
            let named = uuid::Uuid::parse_str(client).is_ok()
                && read
                    .org_unit(client)
                    .await?
                    .is_some_and(|u| u.kind == mamori_domain::identity::OrgKind::Client);
            if !named {
                return Err(CoreError::invalid(
                    "client_domains",
                    ErrorCode::InvalidValue,
                    "a domain limit names a client company that does not exist",
                ));
            }
        }
        Ok(policy)
    }

    /// Keeps the rules (checked) and records the change, with the approval that allowed it.
    pub(crate) async fn apply_mail_policy(
        &self,
        principal: &Principal,
        policy: MailPolicy,
        approval: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<MailPolicy, CoreError> {
        let json = serde_json::to_string(&policy).map_err(|e| CoreError::Internal(e.to_string()))?;
        let mut tx = self.base.store.begin().await?;
        tx.put_setting(MAIL_POLICY, &json).await?;
        let mut e = AuditEvent::of(&actions::MAIL_POLICY_CHANGE, principal.actor(), Outcome::Success)
            .object("mail_policy")
            .detail("internal_domains", policy.internal_domains.join(","))
            .detail("self_check_delay_secs", policy.self_check_delay_secs.to_string())
            .detail("hold_hours", policy.hold_hours.to_string())
            .detail("client_limits", policy.client_domains.len().to_string());
        if let Some(id) = approval {
            e = e.detail("approval", id.to_owned());
        }
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// Makes a new password for the mail relay for the principal, shown once; the old one
    /// stops working. Only a signed-in person makes their own (not an API token).
    pub async fn new_mail_password(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        if principal.session_id().is_none() {
            return Err(CoreError::Forbidden("sign in to the console to make a mail password"));
        }
        let secret = format!("mml_{}", mamori_crypto::tokens::new_secret()?);
        let mut tx = self.base.store.begin().await?;
        tx.set_mail_password_digest(&principal.user.id, &mamori_crypto::tokens::digest(&secret), self.now())
            .await?;
        let e = AuditEvent::of(&actions::MAIL_PASSWORD_SET, principal.actor(), Outcome::Success)
            .object(format!("user:{}", principal.user.id));
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Whether the principal has a mail password.
    pub async fn has_mail_password(&self, principal: &Principal) -> Result<bool, CoreError> {
        Ok(self.base.store.read().await?.mail_password_digest(&principal.user.id).await?.is_some())
    }

    /// A mail client's sign-in to the relay: a user name and that person's mail password. A
    /// refusal says nothing of why (and is recorded).
    pub async fn mail_sender(
        &self,
        username: &str,
        password: &str,
        ctx: &RequestContext,
    ) -> Result<Principal, CoreError> {
        let mut read = self.base.store.read().await?;
        let user = read.user_by_username(username.trim()).await?;
        let digest = match &user {
            Some(u) => read.mail_password_digest(&u.id).await?,
            None => None,
        };
        let clients = match &user {
            Some(u) => read.user_clients(&u.id).await?,
            None => Vec::new(),
        };
        drop(read);
        let given = mamori_crypto::tokens::digest(password);
        let matches = digest.as_deref().is_some_and(|d| {
            use subtle::ConstantTimeEq;
            bool::from(d.as_bytes().ct_eq(given.as_bytes()))
        });
        match user {
            Some(u) if matches && u.status == mamori_domain::identity::UserStatus::Active => {
                Ok(Principal::direct(&u, clients))
            }
            other => {
                let actor = other.as_ref().map_or(Actor::Anonymous, |u| Actor::User(u.id.clone()));
                let mut e = AuditEvent::of(&actions::MAIL_AUTH, actor, Outcome::Denied)
                    .detail("reason", "bad_password");
                if let Some(u) = &other {
                    e = e.object(format!("user:{}", u.id));
                }
                self.base.record_denied(ctx, e).await;
                Err(CoreError::SignInFailed)
            }
        }
    }

    /// Records a mail client's sign-in refused by the per-address throttle (before any check).
    pub async fn mail_sign_in_throttled(&self, ctx: &RequestContext) {
        let e = AuditEvent::of(&actions::MAIL_AUTH, Actor::Anonymous, Outcome::Denied)
            .detail("reason", "throttled");
        self.base.record_denied(ctx, e).await;
    }

    /// A person with a mail address on record sends as that address only: on the envelope and
    /// in From (a signed-in operator cannot pass a mail off as a colleague's or the
    /// supervisor's). Someone with no address on record is not checked.
    async fn check_sender_address(
        &self,
        principal: &Principal,
        envelope_from: &str,
        from: &[String],
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let Some(own) = principal.user.mail_address.as_deref() else {
            return Ok(());
        };
        let envelope =
            envelope_from.trim().trim_start_matches('<').trim_end_matches('>').to_ascii_lowercase();
        if envelope == own && !from.is_empty() && from.iter().all(|a| a == own) {
            return Ok(());
        }
        let e = AuditEvent::of(&actions::MAIL_SUBMIT, principal.actor(), Outcome::Denied)
            .detail("reason", "not_own_address");
        self.base.record_denied(ctx, e).await;
        Err(CoreError::Forbidden(
            "send as your own address (the one on your Mamori account) in MAIL FROM and From",
        ))
    }

    /// Reads, searches and routes a submitted mail.
    pub async fn submit_mail(
        &self,
        principal: &Principal,
        submission: Submission,
        ctx: &RequestContext,
    ) -> Result<Submitted, CoreError> {
        if submission.recipients.is_empty() || submission.recipients.len() > MAX_RECIPIENTS {
            return Err(CoreError::invalid(
                "recipients",
                ErrorCode::InvalidValue,
                format!("a mail has 1 to {MAX_RECIPIENTS} recipients"),
            ));
        }
        let content = read_mail(&submission.message)
            .map_err(|e| CoreError::invalid("message", ErrorCode::InvalidValue, e.to_string()))?;
        self.check_sender_address(principal, &submission.envelope_from, &content.from, ctx).await?;
        let policy = self.mail_policy().await?;
        let mut recipients = Vec::with_capacity(submission.recipients.len());
        for address in &submission.recipients {
            let (address, domain) = address_and_domain(address)?;
            let header = if content.to.contains(&address) {
                Header::To
            } else if content.cc.contains(&address) {
                Header::Cc
            } else {
                Header::Bcc
            };
            recipients.push(Recipient { external: !policy.is_internal(&domain), address, domain, header });
        }
        let id = new_id();
        // Internal only: nothing to search, nothing to hold.
        if recipients.iter().all(|r| !r.external) {
            return Ok(Submitted::Pass(PassedMail {
                id,
                recipients: recipients.len(),
                bytes: submission.message.len(),
                message: submission.message,
            }));
        }
        let findings = self.find_customer_data(&content).await?;
        let now = self.now();
        let routed = route(&policy, &recipients, &findings, &principal.client_ids);
        let mut external: Vec<&str> =
            recipients.iter().filter(|r| r.external).map(|r| r.domain.as_str()).collect();
        external.sort();
        external.dedup();
        let summary = MailSummary {
            subject: content.subject.clone(),
            attachments: content.attachments.clone(),
            text: content.text.chars().take(PREVIEW_CHARS).collect(),
        };
        let seal = |part: &str, bytes: &[u8]| self.mail_box.seal(bytes, &context(&id, part));
        let summary_json = serde_json::to_vec(&summary).map_err(|e| CoreError::Internal(e.to_string()))?;
        let to_json = |v: serde_json::Result<String>| v.map_err(|e| CoreError::Internal(e.to_string()));
        let mut record = OutgoingMail {
            id: id.clone(),
            sender_id: principal.user.id.clone(),
            kind: "mail".into(),
            envelope_from: submission.envelope_from.trim().to_owned(),
            recipients: to_json(serde_json::to_string(&recipients))?,
            findings: to_json(serde_json::to_string(&findings))?,
            summary: seal("summary", &summary_json)?,
            size: i64::try_from(submission.message.len()).unwrap_or(i64::MAX),
            state: "held".into(),
            reason: None,
            approval_id: None,
            created_at: now,
            confirm_after: now.plus(std::time::Duration::from_secs(u64::from(policy.self_check_delay_secs))),
            hold_until: now.plus(std::time::Duration::from_secs(u64::from(policy.hold_hours) * 3600)),
            attempts: 0,
            next_at: now,
            last_error: None,
            closed_at: None,
        };
        let (route_name, submitted, bounce) = match &routed {
            Route::Refuse { domain, client } => {
                record.state = "returned".into();
                record.reason = Some("domain_refused".into());
                record.closed_at = Some(now);
                let bounce = Bounce {
                    mail_id: id.clone(),
                    reason: "domain_refused".into(),
                    subject: summary.subject.clone(),
                    domain: Some(domain.clone()),
                    client: Some(self.client_name(client).await?),
                    comment: None,
                };
                ("returned", Submitted::Returned { id: id.clone(), domain: domain.clone() }, Some(bounce))
            }
            Route::Hold { needs_approval } => {
                ("held", Submitted::Held { id: id.clone(), needs_approval: *needs_approval }, None)
            }
            // Only mail to internal recipients alone passes, and that went above; held is the safe side.
            Route::Pass => ("held", Submitted::Held { id: id.clone(), needs_approval: false }, None),
        };
        let sealed_message = seal("message", &submission.message)?;
        let mut tx = self.base.store.begin().await?;
        tx.insert_outgoing_mail(&record, &sealed_message).await?;
        let e = AuditEvent::of(&actions::MAIL_SUBMIT, principal.actor(), Outcome::Success)
            .object(format!("mail:{id}"))
            .detail("route", route_name)
            .detail("recipients", recipients.len().to_string())
            .detail("external_domains", external.join(","))
            .detail("customer_data", findings_text(&findings))
            .detail("needs_approval", matches!(routed, Route::Hold { needs_approval: true }).to_string())
            .detail("bytes", submission.message.len().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        if let Some(bounce) = bounce {
            self.queue_bounce_in(&mut tx, &record, bounce, ctx).await?;
        }
        tx.commit().await?;
        Ok(submitted)
    }

    /// Records an internal mail the server relayed (or could not).
    pub async fn mail_passed(
        &self,
        principal: &Principal,
        passed: &PassedMail,
        relayed: Result<(), String>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let outcome = if relayed.is_ok() { Outcome::Success } else { Outcome::Failure };
        let mut e = AuditEvent::of(&actions::MAIL_SUBMIT, principal.actor(), outcome)
            .object(format!("mail:{}", passed.id))
            .detail("route", "pass")
            .detail("recipients", passed.recipients.to_string())
            .detail("bytes", passed.bytes.to_string());
        if let Err(error) = relayed {
            e = e.detail("error", error.chars().take(300).collect::<String>());
        }
        let mut tx = self.base.store.begin().await?;
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts what in a mail may be customer data: attachments, card numbers, and phone numbers
    /// and e-mail addresses that are customers' (by blind index, of any client company).
    async fn find_customer_data(
        &self,
        content: &mamori_documents::mail::MailContent,
    ) -> Result<Findings, CoreError> {
        let found = candidates(&format!("{}\n{}", content.subject, content.text));
        let mut findings = Findings {
            attachments: content.attachments.len(),
            card_numbers: found.card_numbers.len(),
            ..Findings::default()
        };
        let mut read = self.base.store.read().await?;
        for (kind, values) in [("phone", &found.phones), ("email", &found.emails)] {
            for value in values {
                let digest = self.vault.index_digest_of(kind, value);
                let customers = read.customers_by_index(kind, &digest).await?;
                if customers.is_empty() {
                    continue;
                }
                if kind == "phone" {
                    findings.customer_phones += 1;
                } else {
                    findings.customer_emails += 1;
                }
                findings.clients.extend(customers.into_iter().map(|c| c.client_id));
            }
        }
        findings.clients.sort();
        findings.clients.dedup();
        Ok(findings)
    }

    async fn client_name(&self, client_id: &str) -> Result<String, CoreError> {
        let unit = self.base.store.read().await?.org_unit(client_id).await?;
        Ok(unit.map_or_else(|| client_id.to_owned(), |u| u.name))
    }

    /// Queues a bounce of `mail` to its sender, in the caller's transaction.
    async fn queue_bounce_in(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        mail: &OutgoingMail,
        bounce: Bounce,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let now = self.now();
        let id = new_id();
        let body = serde_json::to_vec(&bounce).map_err(|e| CoreError::Internal(e.to_string()))?;
        let to = serde_json::json!([{ "address": mail.envelope_from, "domain": "", "external": false, "header": "to" }]);
        let record = OutgoingMail {
            id: id.clone(),
            sender_id: mail.sender_id.clone(),
            kind: "bounce".into(),
            envelope_from: String::new(),
            recipients: to.to_string(),
            findings: "{}".into(),
            summary: Vec::new(),
            size: i64::try_from(body.len()).unwrap_or(0),
            state: "released".into(),
            reason: Some(bounce.reason.clone()),
            approval_id: None,
            created_at: now,
            confirm_after: now,
            hold_until: now,
            attempts: 0,
            next_at: now,
            last_error: None,
            closed_at: None,
        };
        tx.insert_outgoing_mail(&record, &self.mail_box.seal(&body, &context(&id, "bounce"))?).await?;
        let e = AuditEvent::of(&actions::MAIL_RETURN, Actor::System, Outcome::Success)
            .object(format!("mail:{}", mail.id))
            .detail("reason", bounce.reason);
        self.base.audit(tx, ctx, e).await?;
        Ok(())
    }

    /// A mail for its sender or a person who may decide its request; to anyone else it is not
    /// found, and the attempt recorded.
    pub async fn outgoing_mail(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<MailView, CoreError> {
        check_id(id, "mail")?;
        let mail = self.base.store.read().await?.outgoing_mail(id).await?;
        let mail = mail.filter(|m| m.kind == "mail").ok_or(CoreError::NotFound { what: "mail" })?;
        let mut approval = None;
        if let Some(approval_id) = &mail.approval_id {
            approval = self.base.store.read().await?.approval(approval_id).await?;
        }
        // Its text may carry customer data: the sender and those who decide its request read it
        // (an auditor reads the log of what happened to it, not the mail).
        let sees = mail.sender_id == principal.user.id
            || match &approval {
                Some(a) => self.approvals.decides(principal, a).await?,
                None => false,
            };
        if !sees {
            let e = AuditEvent::of(&actions::MAIL_READ, principal.actor(), Outcome::Denied)
                .object(format!("mail:{id}"))
                .detail("reason", "not_involved");
            self.base.record_denied(ctx, e).await;
            return Err(CoreError::NotFound { what: "mail" });
        }
        self.mail_view(mail, approval).await
    }

    async fn mail_view(&self, mail: OutgoingMail, approval: Option<Approval>) -> Result<MailView, CoreError> {
        let recipients: Vec<Recipient> = serde_json::from_str(&mail.recipients).unwrap_or_default();
        let findings: Findings = serde_json::from_str(&mail.findings).unwrap_or_default();
        let opened = self.mail_box.open(&mail.summary, &context(&mail.id, "summary"))?;
        let summary: MailSummary = serde_json::from_slice(&opened).unwrap_or_default();
        let mut read = self.base.store.read().await?;
        let sender = read
            .user_by_id(&mail.sender_id)
            .await?
            .map_or_else(String::new, |u| format!("{} ({})", u.display_name, u.username));
        let mut client_names = std::collections::HashMap::new();
        for client in &findings.clients {
            if let Some(unit) = read.org_unit(client).await? {
                client_names.insert(unit.id, unit.name);
            }
        }
        Ok(MailView { mail, recipients, findings, summary, sender, approval, client_names })
    }

    /// The principal's latest mails through the relay (50), newest first.
    pub async fn my_outgoing_mail(&self, principal: &Principal) -> Result<Vec<MailView>, CoreError> {
        let mails = self.base.store.read().await?.outgoing_mails_of(&principal.user.id, 50).await?;
        let mut views = Vec::with_capacity(mails.len());
        for mail in mails {
            let approval = match &mail.approval_id {
                Some(id) => self.base.store.read().await?.approval(id).await?,
                None => None,
            };
            views.push(self.mail_view(mail, approval).await?);
        }
        Ok(views)
    }

    /// How many of the principal's latest mails wait for their own check (their home page).
    pub async fn mail_to_check(&self, principal: &Principal) -> Result<usize, CoreError> {
        let mails = self.base.store.read().await?.outgoing_mails_of(&principal.user.id, 50).await?;
        Ok(mails.iter().filter(|m| m.state == "held").count())
    }

    /// A held mail's sender refuses what they may not do to it, recorded.
    async fn refuse_mail(
        &self,
        principal: &Principal,
        action: &'static mamori_audit::actions::Action,
        id: &str,
        reason: &'static str,
        ctx: &RequestContext,
    ) -> CoreError {
        let e = AuditEvent::of(action, principal.actor(), Outcome::Denied)
            .object(format!("mail:{id}"))
            .detail("reason", reason);
        self.base.record_denied(ctx, e).await;
        match reason {
            "not_sender" => CoreError::NotFound { what: "mail" },
            "too_early" => CoreError::ApprovalRefused {
                reason: "too_early",
                message: "read the mail through once more: it can be confirmed when the self-check time has passed",
            },
            _ => CoreError::Conflict("this mail is no longer held".into()),
        }
    }

    /// The sender's check: after the delay, a held mail goes — or, with customer data, its
    /// request goes to the sender's supervisor and the mail waits for the grant.
    pub async fn confirm_mail(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<OutgoingMail, CoreError> {
        check_id(id, "mail")?;
        let mail = self.base.store.read().await?.outgoing_mail(id).await?;
        let mail = mail.filter(|m| m.kind == "mail").ok_or(CoreError::NotFound { what: "mail" })?;
        if mail.sender_id != principal.user.id {
            return Err(self.refuse_mail(principal, &actions::MAIL_CONFIRM, id, "not_sender", ctx).await);
        }
        if mail.state != "held" {
            return Err(self.refuse_mail(principal, &actions::MAIL_CONFIRM, id, "not_held", ctx).await);
        }
        let now = self.now();
        if now < mail.confirm_after {
            return Err(self.refuse_mail(principal, &actions::MAIL_CONFIRM, id, "too_early", ctx).await);
        }
        let findings: Findings = serde_json::from_str(&mail.findings).unwrap_or_default();
        let approval = if findings.customer_data() {
            let content = self.mail_request_content(&mail).await?;
            let reason = "社外宛てのメールに顧客データが含まれます / an external mail with customer data";
            let new = NewRequest { kind: ApprovalKind::Mail, content, reason: reason.into() };
            Some(self.approvals.request(principal, &new, ctx).await?)
        } else {
            None
        };
        let to = MailMove {
            to: if approval.is_some() { "awaiting_approval" } else { "released" }.into(),
            at: now,
            closed: false,
            reason: None,
            approval_id: approval.as_ref().map(|a| a.id.clone()),
        };
        // Read before the transaction: attachments may leave as links at the release.
        let policy = if approval.is_none() { Some(self.mail_policy().await?) } else { None };
        let mut tx = self.base.store.begin().await?;
        if !tx.move_outgoing_mail(id, "held", &to).await? {
            drop(tx);
            if let Some(a) = &approval {
                // The mail was cancelled or returned meanwhile: its request goes too.
                let _ = self.approvals.cancel(principal, &a.id, ctx).await;
            }
            return Err(CoreError::Conflict("this mail is no longer held".into()));
        }
        let mut e = AuditEvent::of(&actions::MAIL_CONFIRM, principal.actor(), Outcome::Success)
            .object(format!("mail:{id}"));
        if let Some(a) = &approval {
            e = e.detail("approval", a.id.clone());
        }
        self.base.audit(&mut tx, ctx, e).await?;
        if let Some(policy) = &policy {
            let links = self.attachments_to_links_in(&mut tx, &mail, policy).await?;
            let mut e = AuditEvent::of(&actions::MAIL_RELEASE, principal.actor(), Outcome::Success)
                .object(format!("mail:{id}"));
            if links > 0 {
                e = e.detail("attachment_links", links.to_string());
            }
            self.base.audit(&mut tx, ctx, e).await?;
        }
        tx.commit().await?;
        self.approvals.changed();
        Ok(self.base.store.read().await?.outgoing_mail(id).await?.unwrap_or(mail))
    }

    /// What a mail's request asks: this mail, this exact message, these domains, these findings
    /// — no address and no content.
    async fn mail_request_content(&self, mail: &OutgoingMail) -> Result<serde_json::Value, CoreError> {
        let sealed = self.base.store.read().await?.outgoing_mail_message(&mail.id).await?;
        let sealed = sealed.ok_or(CoreError::NotFound { what: "mail" })?;
        let message = self.mail_box.open(&sealed, &context(&mail.id, "message"))?;
        let recipients: Vec<Recipient> = serde_json::from_str(&mail.recipients).unwrap_or_default();
        let mut domains: Vec<&str> =
            recipients.iter().filter(|r| r.external).map(|r| r.domain.as_str()).collect();
        domains.sort();
        domains.dedup();
        let findings: Findings = serde_json::from_str(&mail.findings).unwrap_or_default();
        Ok(serde_json::json!({
            "mail": mail.id,
            "message_digest": sha256_hex(&message),
            "external_domains": domains,
            "recipients": recipients.len(),
            "attachments": findings.attachments,
            "card_numbers": findings.card_numbers,
            "customer_phones": findings.customer_phones,
            "customer_emails": findings.customer_emails,
        }))
    }

    /// The sender stops a held mail (before it is confirmed, or while its request waits).
    pub async fn cancel_mail(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        check_id(id, "mail")?;
        let mail = self.base.store.read().await?.outgoing_mail(id).await?;
        let mail = mail.filter(|m| m.kind == "mail").ok_or(CoreError::NotFound { what: "mail" })?;
        if mail.sender_id != principal.user.id {
            return Err(self.refuse_mail(principal, &actions::MAIL_CANCEL, id, "not_sender", ctx).await);
        }
        if !matches!(mail.state.as_str(), "held" | "awaiting_approval") {
            return Err(self.refuse_mail(principal, &actions::MAIL_CANCEL, id, "not_held", ctx).await);
        }
        let to = MailMove {
            to: "cancelled".into(),
            at: self.now(),
            closed: true,
            reason: None,
            approval_id: None,
        };
        let mut tx = self.base.store.begin().await?;
        if !tx.move_outgoing_mail(id, &mail.state, &to).await? {
            return Err(CoreError::Conflict("this mail is no longer held".into()));
        }
        let e = AuditEvent::of(&actions::MAIL_CANCEL, principal.actor(), Outcome::Success)
            .object(format!("mail:{id}"));
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        if let Some(approval_id) = &mail.approval_id {
            // Its request is withdrawn too (it may have been decided meanwhile: then nothing to do).
            let _ = self.approvals.cancel(principal, approval_id, ctx).await;
        }
        self.approvals.changed();
        Ok(())
    }

    /// Moves held mails on: a granted request releases its mail (using the grant); a denied,
    /// expired or withdrawn one returns it; a mail not checked within the hold is returned.
    /// Returns how many mails moved.
    pub async fn sweep_mail(&self) -> Result<usize, CoreError> {
        let now = self.now();
        let ctx = RequestContext::default();
        let mut moved = 0;
        let waiting = self.base.store.read().await?.mails_with_decided_requests(200).await?;
        for mail in waiting {
            let Some(approval_id) = mail.approval_id.clone() else { continue };
            let Some(approval) = self.base.store.read().await?.approval(&approval_id).await? else {
                continue;
            };
            match approval.state {
                ApprovalState::Pending => {}
                ApprovalState::Granted => moved += usize::from(self.release_granted(&mail, &approval).await?),
                ApprovalState::Denied
                | ApprovalState::Expired
                | ApprovalState::Cancelled
                | ApprovalState::Used => {
                    let reason = match approval.state {
                        ApprovalState::Denied => "denied",
                        _ => "approval_expired",
                    };
                    let comment = if approval.state == ApprovalState::Denied {
                        let decisions =
                            self.base.store.read().await?.approval_decisions(&approval.id).await?;
                        decisions
                            .into_iter()
                            .rev()
                            .find(|d| !d.approve)
                            .map(|d| d.comment)
                            .filter(|c| !c.is_empty())
                    } else {
                        None
                    };
                    moved += usize::from(self.return_mail(&mail, reason, comment, &ctx).await?);
                }
            }
        }
        let unchecked = self.base.store.read().await?.held_mails_past(now, 200).await?;
        for mail in unchecked {
            moved += usize::from(self.return_mail(&mail, "not_confirmed", None, &ctx).await?);
        }
        Ok(moved)
    }

    /// Uses a mail's grant and releases it, in one transaction (on behalf of its sender).
    async fn release_granted(&self, mail: &OutgoingMail, approval: &Approval) -> Result<bool, CoreError> {
        let Some(sender) = self.base.store.read().await?.user_by_id(&mail.sender_id).await? else {
            return Ok(false);
        };
        let principal = Principal::direct(&sender, Vec::new());
        let content = self.mail_request_content(mail).await?;
        let policy = self.mail_policy().await?;
        let ctx = RequestContext::default();
        let mut tx = self.base.store.begin().await?;
        if let Err(refused) = self
            .approvals
            .use_grant_in(&mut tx, &principal, &approval.id, ApprovalKind::Mail, &content, &ctx)
            .await?
        {
            drop(tx);
            let _ = self.approvals.refused(&ctx, refused).await;
            return Ok(false);
        }
        let to = MailMove {
            to: "released".into(),
            at: self.now(),
            closed: false,
            reason: None,
            approval_id: None,
        };
        if !tx.move_outgoing_mail(&mail.id, "awaiting_approval", &to).await? {
            return Ok(false);
        }
        // The approved message's digest was checked above; what leaves is its rewrite.
        let links = self.attachments_to_links_in(&mut tx, mail, &policy).await?;
        let mut e = AuditEvent::of(&actions::MAIL_RELEASE, Actor::System, Outcome::Success)
            .object(format!("mail:{}", mail.id))
            .detail("approval", approval.id.clone());
        if links > 0 {
            e = e.detail("attachment_links", links.to_string());
        }
        self.base.audit(&mut tx, &ctx, e).await?;
        tx.commit().await?;
        self.approvals.changed();
        Ok(true)
    }

    /// Returns a mail to its sender: closes it and queues the bounce, in one transaction.
    async fn return_mail(
        &self,
        mail: &OutgoingMail,
        reason: &str,
        comment: Option<String>,
        ctx: &RequestContext,
    ) -> Result<bool, CoreError> {
        let summary = self
            .mail_box
            .open(&mail.summary, &context(&mail.id, "summary"))
            .ok()
            .and_then(|s| serde_json::from_slice::<MailSummary>(&s).ok())
            .unwrap_or_default();
        let to = MailMove {
            to: "returned".into(),
            at: self.now(),
            closed: true,
            reason: Some(reason.to_owned()),
            approval_id: None,
        };
        let mut tx = self.base.store.begin().await?;
        if !tx.move_outgoing_mail(&mail.id, &mail.state, &to).await? {
            return Ok(false);
        }
        let bounce = Bounce {
            mail_id: mail.id.clone(),
            reason: reason.to_owned(),
            subject: summary.subject,
            domain: None,
            client: None,
            comment,
        };
        self.queue_bounce_in(&mut tx, mail, bounce, ctx).await?;
        tx.commit().await?;
        self.approvals.changed();
        Ok(true)
    }

    /// Released mails and bounces due now, claimed for two minutes, opened for the relay.
    pub async fn claim_mail(&self, limit: i64) -> Result<Vec<MailToSend>, CoreError> {
        let now = self.now();
        let mut tx = self.base.store.begin().await?;
        let claimed =
            tx.claim_outgoing_mails(now, now.plus(std::time::Duration::from_secs(120)), limit).await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(claimed.len());
        for mail in claimed {
            let Some(sealed) = self.base.store.read().await?.outgoing_mail_message(&mail.id).await? else {
                continue;
            };
            let recipients: Vec<Recipient> = serde_json::from_str(&mail.recipients).unwrap_or_default();
            let to = recipients.into_iter().map(|r| r.address).collect();
            let content = if mail.kind == "bounce" {
                let opened = self.mail_box.open(&sealed, &context(&mail.id, "bounce"))?;
                let bounce: Bounce =
                    serde_json::from_slice(&opened).map_err(|e| CoreError::Internal(e.to_string()))?;
                MailContentToSend::Bounce(bounce)
            } else {
                MailContentToSend::Message(
                    self.mail_box.open(&sealed, &context(&mail.id, "message"))?.to_vec(),
                )
            };
            out.push(MailToSend { from: mail.envelope_from.clone(), to, content, mail });
        }
        Ok(out)
    }

    /// Records an attempt at relaying a claimed mail: sent; or failed — tried again after
    /// 30 s, 1, 2, 4 … minutes, and after [`RELAY_ATTEMPTS`] attempts returned to its sender
    /// (a bounce that cannot be sent is given up).
    pub async fn record_mail_relay(
        &self,
        sent: &MailToSend,
        outcome: Result<(), String>,
    ) -> Result<(), CoreError> {
        let mail = &sent.mail;
        let now = self.now();
        let attempts = mail.attempts + 1;
        let ctx = RequestContext::default();
        match outcome {
            Ok(()) => {
                let to =
                    MailMove { to: "sent".into(), at: now, closed: true, reason: None, approval_id: None };
                let mut tx = self.base.store.begin().await?;
                if tx.move_outgoing_mail(&mail.id, "released", &to).await? {
                    let e = AuditEvent::of(&actions::MAIL_SEND, Actor::System, Outcome::Success)
                        .object(format!("mail:{}", mail.id))
                        .detail("kind", mail.kind.clone())
                        .detail("attempts", attempts.to_string());
                    self.base.audit(&mut tx, &ctx, e).await?;
                }
                tx.commit().await?;
            }
            Err(error) if attempts >= RELAY_ATTEMPTS => {
                let error: String = error.chars().take(300).collect();
                let mut tx = self.base.store.begin().await?;
                tx.record_mail_attempt(&mail.id, attempts, now, &error).await?;
                let e = AuditEvent::of(&actions::MAIL_SEND, Actor::System, Outcome::Failure)
                    .object(format!("mail:{}", mail.id))
                    .detail("kind", mail.kind.clone())
                    .detail("attempts", attempts.to_string())
                    .detail("error", error);
                self.base.audit(&mut tx, &ctx, e).await?;
                tx.commit().await?;
                if mail.kind == "bounce" {
                    let to = MailMove {
                        to: "failed".into(),
                        at: now,
                        closed: true,
                        reason: None,
                        approval_id: None,
                    };
                    let mut tx = self.base.store.begin().await?;
                    tx.move_outgoing_mail(&mail.id, "released", &to).await?;
                    tx.commit().await?;
                } else {
                    self.return_mail(mail, "upstream_failed", None, &ctx).await?;
                }
            }
            Err(error) => {
                let wait = (30_000i64 << (attempts - 1).min(10)).min(3_600_000);
                let error: String = error.chars().take(300).collect();
                let mut tx = self.base.store.begin().await?;
                tx.record_mail_attempt(&mail.id, attempts, UnixMillis(now.0 + wait), &error).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

/// `attachments=1,card_numbers=2` — the non-zero counts.
fn findings_text(f: &Findings) -> String {
    [
        ("attachments", f.attachments),
        ("card_numbers", f.card_numbers),
        ("customer_phones", f.customer_phones),
        ("customer_emails", f.customer_emails),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| format!("{k}={n}"))
    .collect::<Vec<_>>()
    .join(",")
}
