//! Whether a person may look customers up at all right now, before any lookup is made. The
//! gates, in one place:
//!
//! - an alert's automatic response (`hold_lookups`, issue 16) pauses the person's lookups until
//!   a supervisor releases them by reversing it;
//! - the policy option "customer lookups require the current confidentiality pledge
//!   acknowledged" (issue 18, item 1; LEAK-7): a person in a pledge's scope who has not
//!   acknowledged its version in force is refused, with the page to do it on.
//!
//! - the policy option "customer lookups require the onboarding courses passed" (issue 18,
//!   item 2; ISMS-8): a person an onboarding course is for who has not passed it is refused,
//!   with the course to take.
//!
//! Both prerequisites are listed by [`Vault::lookup_prerequisites`]; the refusal names every
//! one missing (`prerequisites_missing` when both are). Each refusal is recorded and says why;
//! nothing about a customer is read.

use crate::{CoreError, Principal, Vault};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};

/// Something a person must do before looking customers up, and where they do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prerequisite {
    /// The audit entry's `reason` and the console's words: `policy_not_acknowledged`,
    /// `training_not_passed`.
    pub reason: &'static str,
    /// What is missing: `isms_policy:<id>`, `training_course:<id>`.
    pub object: String,
    /// Its name (the document's or course's title).
    pub title: String,
    /// The console page where it is done.
    pub href: String,
}

impl Vault {
    /// What the person still has to do before the policy options let them look customers up.
    pub async fn lookup_prerequisites(&self, principal: &Principal) -> Result<Vec<Prerequisite>, CoreError> {
        let mut read = self.base.store.read().await?;
        let pledges = crate::isms::policies::unacknowledged_pledges(&mut *read, principal).await?;
        let courses = crate::isms::training::unpassed_onboarding(&mut *read, principal).await?;
        let pledges = pledges.into_iter().map(|(id, title)| Prerequisite {
            reason: "policy_not_acknowledged",
            object: format!("isms_policy:{id}"),
            href: format!("/policies/{id}"),
            title,
        });
        let courses = courses.into_iter().map(|(id, title)| Prerequisite {
            reason: "training_not_passed",
            object: format!("training_course:{id}"),
            href: format!("/training/{id}"),
            title,
        });
        Ok(pledges.chain(courses).collect())
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
        let missing = self.lookup_prerequisites(principal).await?;
        if !missing.is_empty() {
            let policy = missing.iter().find(|m| m.reason == "policy_not_acknowledged");
            let course = missing.iter().find(|m| m.reason == "training_not_passed");
            let (reason, message) = match (policy, course) {
                (Some(_), Some(_)) => (
                    "prerequisites_missing",
                    "customer lookups require the current confidentiality pledge acknowledged and the onboarding training passed: acknowledge it under /policies and pass the course under /training first",
                ),
                (None, Some(_)) => (
                    "training_not_passed",
                    "customer lookups require the onboarding training passed: take the course and pass its quiz under /training first",
                ),
                _ => (
                    "policy_not_acknowledged",
                    "customer lookups require the current confidentiality pledge acknowledged: read and acknowledge it under /policies first",
                ),
            };
            let mut e = AuditEvent::of(&actions::CUSTOMER_LOOKUP, principal.actor(), Outcome::Denied)
                .object("customer:none")
                .detail("reason", reason);
            if let Some(p) = policy {
                e = e.detail("policy", p.object.clone());
            }
            if let Some(c) = course {
                e = e.detail("course", c.object.clone());
            }
            self.base.record_denied(ctx, e).await;
            return Err(CoreError::ApprovalRefused { reason, message });
        }
        Ok(())
    }
}
