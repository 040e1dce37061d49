//! What every area's service stands on: storage, time, the tunable rules, the audit writer,
//! the one authorization rule and the state replicas share. Each service holds an
//! `Arc<Base>`; nothing here belongs to one area.

pub(crate) mod authorize;
mod denials;
mod read_log;
pub(crate) mod shared;

use crate::{CoreError, Policies};
use mamori_audit::{AuditEvent, RequestContext};
use mamori_crypto::keyed_id::IdHasher;
use mamori_domain::{Clock, UnixMillis};
use mamori_store::{Store, StoreTx};
use std::sync::{Arc, OnceLock};

/// The dependencies the services share.
#[derive(Debug)]
pub struct Base {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policies: Policies,
    /// Turns customer (and other personal) ids into the keyed hashes audit entries carry.
    audit_ids: IdHasher,
    /// Commits the audit entries of reads in groups (started on first use).
    read_log: Arc<OnceLock<read_log::ReadLog>>,
    /// Refusals, aggregated under a flood.
    denials: Arc<denials::DenialLog>,
    /// Single-use keys kept in memory where one process is all there is (see `shared.rs`).
    used_in_memory: shared::UsedInMemory,
    /// Commits claims of single-use keys in groups (started on first use).
    claims: OnceLock<shared::ClaimLog>,
}

impl Base {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policies: Policies,
        audit_ids: IdHasher,
    ) -> Self {
        Base {
            store,
            clock,
            policies,
            audit_ids,
            read_log: Default::default(),
            denials: Default::default(),
            used_in_memory: Default::default(),
            claims: Default::default(),
        }
    }

    pub(crate) fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// Whether the installation has two or more active security admins. Privileged actions
    /// (issue 15, item 7) then need a second one's approval; with a single admin there is
    /// nobody to approve, and they go ahead, marked `sole_admin` in the audit log.
    pub(crate) async fn has_second_admin(&self) -> Result<bool, CoreError> {
        let users = self.store.read().await?.list_users().await?;
        let admins = users
            .iter()
            .filter(|u| u.roles.contains(&mamori_domain::Role::SecurityAdmin))
            .filter(|u| u.status == mamori_domain::identity::UserStatus::Active)
            .count();
        Ok(admins >= 2)
    }

    /// The gate of a privileged action done directly (not from an approved request): refused
    /// with [`CoreError::ApprovalRequired`] — and the refusal recorded as `action` denied — when
    /// a second security admin exists to approve it.
    pub(crate) async fn privileged_gate(
        &self,
        principal: &crate::Principal,
        action: &'static mamori_audit::actions::Action,
        object: String,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        if !self.has_second_admin().await? {
            return Ok(());
        }
        let e = AuditEvent::of(action, principal.actor(), mamori_audit::Outcome::Denied)
            .object(object)
            .detail("reason", "approval_required");
        self.record_denied(ctx, e).await;
        Err(CoreError::ApprovalRequired)
    }

    /// Queues a notification for the webhook in `tx` (the transaction of what it tells of), when
    /// a webhook is configured. The payload names no customer and holds no free text.
    pub(crate) async fn queue_webhook(
        &self,
        tx: &mut Box<dyn StoreTx>,
        subject: String,
        event: &str,
        payload: serde_json::Value,
    ) -> Result<(), CoreError> {
        if !self.policies.notify_webhook {
            return Ok(());
        }
        let now = self.now();
        let n = mamori_store::WebhookNotification {
            id: crate::new_id(),
            subject,
            event: event.to_owned(),
            payload: payload.to_string(),
            created_at: now,
            status: "pending".into(),
            attempts: 0,
            next_at: now,
            last_error: None,
            delivered_at: None,
        };
        Ok(tx.insert_webhook_notification(&n).await?)
    }

    /// Queues a reminder by e-mail, once per `reminder` key (when e-mail is configured).
    /// Returns whether it was new.
    pub(crate) async fn queue_mail(
        &self,
        tx: &mut Box<dyn StoreTx>,
        reminder: String,
        subject: String,
        body: String,
    ) -> Result<bool, CoreError> {
        self.queue_mail_to(tx, Vec::new(), reminder, subject, body).await
    }

    /// Queues a notification by e-mail to `recipients` (the security team's list when empty),
    /// once per `reminder` key (when e-mail is configured). Returns whether it was new.
    pub(crate) async fn queue_mail_to(
        &self,
        tx: &mut Box<dyn StoreTx>,
        recipients: Vec<String>,
        reminder: String,
        subject: String,
        body: String,
    ) -> Result<bool, CoreError> {
        if !self.policies.notify_mail {
            return Ok(false);
        }
        let now = self.now();
        let n = mamori_store::MailNotification {
            id: crate::new_id(),
            reminder,
            subject,
            body,
            created_at: now,
            attempts: 0,
            next_at: now,
            last_error: None,
            sent_at: None,
            recipients,
        };
        Ok(tx.insert_mail_notification(&n).await?)
    }

    /// How an audit entry names a personal record: `kind:h:<keyed hash>`, never the id itself.
    pub(crate) fn audit_object(&self, kind: &str, id: &str) -> String {
        self.audit_ids.object(kind, id)
    }

    /// Appends an audit entry on `tx`, stamped with the request's origin and the current time.
    pub(crate) async fn audit(
        &self,
        tx: &mut Box<dyn StoreTx>,
        ctx: &RequestContext,
        event: AuditEvent,
    ) -> Result<(), CoreError> {
        tx.append_audit(self.now(), &ctx.stamp(event)).await?;
        Ok(())
    }

    /// Records a read (an access entry) and returns once it is committed, with its index. The
    /// caller returns the data only after this succeeds (fail closed). Concurrent reads share a
    /// transaction, so this costs far less than a transaction of its own.
    pub(crate) async fn audit_access(
        &self,
        ctx: &RequestContext,
        event: AuditEvent,
    ) -> Result<u64, CoreError> {
        self.read_log().append(ctx.stamp(event)).await
    }

    /// [`Base::audit_access`] for a read that touched several records: an entry for each.
    pub(crate) async fn audit_access_all(
        &self,
        ctx: &RequestContext,
        events: Vec<AuditEvent>,
    ) -> Result<Vec<u64>, CoreError> {
        self.read_log().append_all(events.into_iter().map(|e| ctx.stamp(e)).collect()).await
    }

    /// Records a refused attempt (DESIGN invariant 9): `event` has outcome `denied` and a
    /// `reason` detail. The first refusal of its kind is committed before this returns; repeats
    /// within a second are counted into one entry (see `denials.rs`). A refusal stands even if
    /// its entry cannot be written, so the failure is logged here, not returned. Never call it
    /// while holding a write transaction: on SQLite the entry needs the one writer it holds
    /// (check the scope first, then open the transaction — as `add_customer_note` does).
    pub(crate) async fn record_denied(&self, ctx: &RequestContext, event: AuditEvent) {
        self.read_log();
        if let Err(e) = self.denials.record(&self.read_log, ctx.stamp(event)).await {
            tracing::error!(error = %e, "a refusal could not be recorded in the audit log");
        }
    }

    fn read_log(&self) -> &read_log::ReadLog {
        self.read_log.get_or_init(|| read_log::ReadLog::start(self.store.clone(), self.clock.clone()))
    }
}
