//! Printing a customer sheet (issue 15, item 2; LEAK-9 — 印刷はSVの承認制): an operator asks, a
//! supervisor approves, and the operator downloads the sheet once — a PDF whose every page
//! carries a diagonal watermark and a footer with who printed it, when, for which request and
//! client company. Without a grant there is nothing that renders a sheet.
//!
//! It spans two areas (the vault's card, the approval's grant), so it lives on [`Core`]: the
//! grant is used, the card read and recorded (`customer.print`) and the PDF rendered in one
//! transaction — a sheet that fails to render leaves the grant unused.

use crate::approvals::{Approval, NewRequest};
use crate::{Core, CoreError, Principal};
use mamori_audit::RequestContext;
use mamori_documents::{Language, Sheet, Watermark};
use mamori_domain::approval::ApprovalKind;
use mamori_domain::customer::CustomerField;

/// What a print request asks for: this customer's sheet. A grant is bound to exactly this.
fn print_content(customer_id: &str) -> serde_json::Value {
    serde_json::json!({ "document": "customer_sheet", "customer": customer_id })
}

/// Words the sheet needs from the console's catalogue, in the printer's language.
pub struct SheetWords<'a> {
    pub title: &'a str,
    pub field: &'a (dyn Fn(CustomerField) -> String + Sync),
}

impl Core {
    /// Asks to print a customer's sheet: only of a customer the principal may read.
    pub async fn request_print(
        &self,
        principal: &Principal,
        customer_id: &str,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<Approval, CoreError> {
        self.vault.readable_customer(principal, customer_id, ctx).await?;
        let new = NewRequest {
            kind: ApprovalKind::Print,
            content: print_content(customer_id),
            reason: reason.into(),
        };
        self.approvals.request(principal, &new, ctx).await
    }

    /// The approved sheet, once: uses the grant, reads the card (masked as the printer's roles
    /// see it), records the print and renders the PDF, all in one transaction.
    pub async fn print_customer_sheet(
        &self,
        principal: &Principal,
        approval_id: &str,
        lang: Language,
        words: &SheetWords<'_>,
        ctx: &RequestContext,
    ) -> Result<Vec<u8>, CoreError> {
        let view = self.approvals.approval(principal, approval_id, ctx).await?;
        let asked: serde_json::Value = serde_json::from_str(&view.request.content).unwrap_or_default();
        let customer_id = asked["customer"].as_str().unwrap_or_default().to_owned();
        let mut tx = self.base.store.begin().await?;
        if let Err(refused) = self
            .approvals
            .use_grant_in(
                &mut tx,
                principal,
                approval_id,
                ApprovalKind::Print,
                &print_content(&customer_id),
                ctx,
            )
            .await?
        {
            drop(tx);
            return Err(self.approvals.refused(ctx, refused).await);
        }
        let card = self.vault.card_for_print_in(&mut tx, principal, &customer_id, approval_id, ctx).await?;
        let client = tx.org_unit(&card.client_id).await?.map(|u| u.name).unwrap_or_default();
        let sheet = Sheet {
            title: words.title.to_owned(),
            rows: card
                .fields
                .iter()
                .filter(|f| f.mask != mamori_domain::customer::Mask::Hidden)
                .map(|f| ((words.field)(f.field), f.value.clone()))
                .collect(),
            notes: Vec::new(),
        };
        let mark = Watermark {
            user: format!("{} ({})", principal.user.display_name, principal.user.username),
            time_jst: crate::jst::format_minute(self.now()),
            request_id: approval_id.to_owned(),
            client,
        };
        let pdf = mamori_documents::customer_sheet_pdf(&sheet, &mark, lang)
            .map_err(|e| CoreError::Internal(format!("the sheet could not be rendered: {e}")))?;
        tx.commit().await?;
        Ok(pdf)
    }
}
