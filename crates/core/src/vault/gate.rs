//! Whether a person may look customers up at all right now, before any lookup is made. Today
//! one gate: an alert's automatic response (`hold_lookups`, issue 16) pauses the person's
//! lookups until a supervisor releases them by reversing it. The refusal is recorded and says
//! why; nothing about a customer is read.

use crate::{CoreError, Principal, Vault};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};

impl Vault {
    pub(crate) async fn lookup_gate(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let hold = self.base.store.read().await?.lookup_hold(&principal.user.id).await?;
        let Some(hold) = hold else { return Ok(()) };
        let e = AuditEvent::of(&actions::CUSTOMER_LOOKUP, principal.actor(), Outcome::Denied)
            .object("customer:none")
            .detail("reason", "lookups_held")
            .detail("alert", hold.alert_id);
        self.base.record_denied(ctx, e).await;
        Err(CoreError::ApprovalRefused {
            reason: "lookups_held",
            message: "your customer lookups are paused until your supervisor releases them: an alert asked for a check",
        })
    }
}
