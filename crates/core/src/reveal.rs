//! Reveals beyond the allowance (issue 15, item 6): when an operator has revealed as many masked
//! values as the allowance lets them, a further reveal becomes a request to their supervisor;
//! once approved, the operator sees that one field of that one customer, once.
//!
//! It spans the vault (the customer, the field, the masks) and the approvals (the grant), so it
//! lives on [`Core`], like printing: the grant's use, the field's opening and its
//! `customer.reveal` entry (purpose `approval`) are one transaction.

use crate::approvals::{Approval, NewRequest};
use crate::vault::Purpose;
use crate::{Core, CoreError, Principal};
use mamori_audit::{RequestContext, actions};
use mamori_domain::approval::ApprovalKind;
use mamori_domain::customer::CustomerField;

/// What a reveal request asks for: this field of this customer, for this stated reason.
fn reveal_content(customer_id: &str, field: CustomerField, reason_code: &str) -> serde_json::Value {
    serde_json::json!({ "customer": customer_id, "field": field.as_str(), "reason_code": reason_code })
}

/// A field revealed under an approval.
#[derive(Debug, Clone)]
pub struct ApprovedReveal {
    pub customer_id: String,
    pub field: CustomerField,
    pub value: String,
}

impl Core {
    /// Asks the supervisor to approve a reveal: of a customer the principal may read, of a field
    /// their role sees masked, with a reason code and text like any reveal (the text becomes
    /// the request's reason, which the approver reads).
    pub async fn request_reveal(
        &self,
        principal: &Principal,
        customer_id: &str,
        field: &str,
        purpose: &Purpose,
        ctx: &RequestContext,
    ) -> Result<Approval, CoreError> {
        let (field, code, text) = crate::vault::reveal_asked(customer_id, field, purpose)?;
        let record = self.base.store.read().await?.customer(customer_id).await?;
        let record = self.vault.in_client_scope(principal, record, &actions::CUSTOMER_REVEAL, ctx).await?;
        self.vault.revealable(principal, &record, field, ctx).await?;
        let new = NewRequest {
            kind: ApprovalKind::Reveal,
            content: reveal_content(&record.id, field, code),
            reason: text.trim().to_owned(),
        };
        self.approvals.request(principal, &new, ctx).await
    }

    /// The approved reveal, once: uses the grant and opens the field in one transaction.
    pub async fn reveal_approved(
        &self,
        principal: &Principal,
        approval_id: &str,
        ctx: &RequestContext,
    ) -> Result<ApprovedReveal, CoreError> {
        let view = self.approvals.approval(principal, approval_id, ctx).await?;
        let asked: serde_json::Value = serde_json::from_str(&view.request.content).unwrap_or_default();
        let text = |key: &str| asked[key].as_str().unwrap_or_default().to_owned();
        let (customer_id, reason_code) = (text("customer"), text("reason_code"));
        let field = CustomerField::parse(&text("field"));
        let mut tx = self.base.store.begin().await?;
        // A request of another kind, or whose field is unreadable, fails the digest check.
        let content = match field {
            Some(field) => reveal_content(&customer_id, field, &reason_code),
            None => serde_json::Value::Null,
        };
        if let Err(refused) = self
            .approvals
            .use_grant_in(&mut tx, principal, approval_id, ApprovalKind::Reveal, &content, ctx)
            .await?
        {
            drop(tx);
            return Err(self.approvals.refused(ctx, refused).await);
        }
        let field = field.ok_or(CoreError::NotFound { what: "value of this field" })?;
        let value =
            self.vault.reveal_approved_in(&mut tx, principal, &customer_id, field, approval_id, ctx).await?;
        tx.commit().await?;
        self.approvals.changed();
        Ok(ApprovedReveal { customer_id, field, value })
    }
}
