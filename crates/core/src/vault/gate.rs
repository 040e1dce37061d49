//! Whether a person may look customers up at all right now, before any lookup is made. The
//! gates, in one place:
//!
//! - an alert's automatic response (`hold_lookups`, issue 16) pauses the person's lookups until
//!   a supervisor releases them by reversing it;
//! - the policy option "customer lookups require the current confidentiality pledge
//!   acknowledged" (issue 18, item 1; LEAK-7): a person in a pledge's scope who has not
//!   acknowledged its version in force is refused, with the page to do it on.
//!
//! A later prerequisite (onboarding training passed, item 2) joins [`Vault::lookup_prerequisites`].
//! Each refusal is recorded and says why; nothing about a customer is read.

use crate::{CoreError, Principal, Vault};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};

/// Something a person must do before looking customers up, and where they do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prerequisite {
    /// The audit entry's `reason` and the console's words: `policy_not_acknowledged`.
    pub reason: &'static str,
    /// What is missing: `isms_policy:<id>`.
    pub object: String,
    /// Its name (the document's title).
    pub title: String,
    /// The console page where it is done.
    pub href: String,
}

impl Vault {
    /// What the person still has to do before the policy options let them look customers up.
    pub async fn lookup_prerequisites(&self, principal: &Principal) -> Result<Vec<Prerequisite>, CoreError> {
        let mut read = self.base.store.read().await?;
        let pledges = crate::isms::policies::unacknowledged_pledges(&mut *read, principal).await?;
        Ok(pledges
            .into_iter()
            .map(|(id, title)| Prerequisite {
                reason: "policy_not_acknowledged",
                object: format!("isms_policy:{id}"),
                href: format!("/policies/{id}"),
                title,
            })
            .collect())
    }

    pub(crate) async fn lookup_gate(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let hold = self.base.store.read().await?.lookup_hold(&principal.user.id).await?;
        if let Some(hold) = hold {
            let e = AuditEvent::of(&actions::CUSTOMER_LOOKUP, principal.actor(), Outcome::Denied)
                .object("customer:none")
                .detail("reason", "lookups_held")
                .detail("alert", hold.alert_id);
            self.base.record_denied(ctx, e).await;
            return Err(CoreError::ApprovalRefused {
                reason: "lookups_held",
                message: "your customer lookups are paused until your supervisor releases them: an alert asked for a check",
            });
        }
        if let Some(missing) = self.lookup_prerequisites(principal).await?.into_iter().next() {
            let e = AuditEvent::of(&actions::CUSTOMER_LOOKUP, principal.actor(), Outcome::Denied)
                .object("customer:none")
                .detail("reason", missing.reason)
                .detail("policy", missing.object);
            self.base.record_denied(ctx, e).await;
            return Err(CoreError::ApprovalRefused {
                reason: "policy_not_acknowledged",
                message: "customer lookups require the current confidentiality pledge acknowledged: read and acknowledge it under /policies first",
            });
        }
        Ok(())
    }
}
