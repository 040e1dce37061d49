//! Exporting customers (issue 15, item 3; LEAK-1, LEAK-13 — データ持ち出し): a filter over one
//! client company's customers and chosen fields, asked for, approved by a supervisor, then
//! downloaded once as an AES-256 encrypted ZIP whose password is shown on screen only.
//!
//! - **What is asked** is fixed when asked: the client company, the fields, the registration
//!   dates, and "registered before now" — so customers added after the approval are not in it.
//!   The approver sees how many customers that is.
//! - **The password** is never stored: it is derived from the vault's index key, the request and
//!   a random ticket ([`Core::prepare_export`]), and derived again for the download
//!   ([`Core::export_customers`]). Opening the download page again shows a new password for a new
//!   ticket; only one download ever happens (the grant is used by it).
//! - **What leaves.** The chosen fields in full — the approval is what lifts the masks — except
//!   that a field hidden from the requester's role cannot be chosen, and a card number leaves
//!   masked (last four digits): a full card number never leaves Mamori in a file (PCI DSS 3.4).
//! - **It streams**: a page of records at a time is decrypted, written as CSV into the archive
//!   and handed out ([`ExportStream::next_chunk`]); memory does not grow with the rows.
//! - The grant's use and a `customer.export` entry (client, fields, how many) commit before the
//!   first byte leaves.

use crate::approvals::{Approval, NewRequest};
use crate::base::authorize::Attempt;
use crate::vault::Vault;
use crate::{Core, CoreError, Principal, check_id, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_documents::ExportArchive;
use mamori_domain::approval::{ApprovalKind, ApprovalState};
use mamori_domain::authz::Resource;
use mamori_domain::customer::{CustomerField, Mask};
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
use std::sync::Arc;

/// What an export request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSpec {
    pub client_id: String,
    /// In the record's natural order, each once.
    pub fields: Vec<CustomerField>,
    /// Registered on or after this day (JST), `YYYY-MM-DD`.
    pub registered_from: Option<String>,
    /// Registered on or before this day (JST), `YYYY-MM-DD`.
    pub registered_to: Option<String>,
}

/// A download prepared: the password to show once, and the ticket the download brings back.
#[derive(Debug, Clone)]
pub struct ExportTicket {
    pub ticket: String,
    pub password: String,
    /// How many customers were approved (erasures since may make the file hold fewer).
    pub customers: u64,
    pub file_name: String,
}

/// Records read and written per step of the stream.
const PAGE: i64 = 500;
use crate::jst::DAY_MS;

/// `YYYY-MM-DD` (a day in Japan) → its first millisecond.
fn day_start_jst(field: &'static str, day: &str) -> Result<UnixMillis, CoreError> {
    crate::jst::day_start(day)
        .ok_or_else(|| CoreError::invalid(field, ErrorCode::InvalidValue, "a day is written YYYY-MM-DD"))
}

impl ExportSpec {
    /// The spec checked: at least one field, known days in order. `[from, before)` in
    /// milliseconds, `before` no later than just after `now`.
    fn bounds(&self, now: UnixMillis) -> Result<(UnixMillis, UnixMillis), CoreError> {
        if self.fields.is_empty() {
            return Err(CoreError::invalid("fields", ErrorCode::InvalidValue, "choose at least one field"));
        }
        let from = match &self.registered_from {
            Some(day) => day_start_jst("registered_from", day)?,
            None => UnixMillis(0),
        };
        // Up to and including this millisecond.
        let now = UnixMillis(now.0 + 1);
        let before = match &self.registered_to {
            Some(day) => UnixMillis(day_start_jst("registered_to", day)?.0 + DAY_MS).min(now),
            None => now,
        };
        if before <= from {
            return Err(CoreError::invalid(
                "registered_to",
                ErrorCode::InvalidValue,
                "the last day comes after the first",
            ));
        }
        Ok((from, before))
    }

    /// The request's content: what the grant is bound to.
    fn content(&self, before: UnixMillis, customers: i64) -> serde_json::Value {
        let mut content = serde_json::json!({
            "document": "customer_export",
            "client": self.client_id,
            "fields": self.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "customers": customers,
            "registered_before": before.0,
        });
        if let Some(day) = &self.registered_from {
            content["registered_from"] = day.trim().into();
        }
        if let Some(day) = &self.registered_to {
            content["registered_to"] = day.trim().into();
        }
        content
    }

    /// Reads a stored request's content back (with its `registered_before` and count).
    fn from_content(content: &serde_json::Value) -> Option<(ExportSpec, UnixMillis, i64)> {
        let fields = content["fields"]
            .as_array()?
            .iter()
            .map(|f| f.as_str().and_then(CustomerField::parse))
            .collect::<Option<Vec<_>>>()?;
        let spec = ExportSpec {
            client_id: content["client"].as_str()?.to_owned(),
            fields,
            registered_from: content["registered_from"].as_str().map(str::to_owned),
            registered_to: content["registered_to"].as_str().map(str::to_owned),
        };
        Some((spec, UnixMillis(content["registered_before"].as_i64()?), content["customers"].as_i64()?))
    }
}

impl Core {
    /// The fields the principal's roles see, which an export may hold.
    pub async fn exportable_fields(&self, principal: &Principal) -> Result<Vec<CustomerField>, CoreError> {
        let policy = self.vault.policy_in_force().await?;
        Ok(CustomerField::ALL
            .into_iter()
            .filter(|f| policy.mask(&principal.user.roles, *f) != Mask::Hidden)
            .collect())
    }

    /// The client company in the principal's scope, and the fields their roles may see; a
    /// client they do not work on is not found (and the attempt recorded).
    async fn check_export(
        &self,
        principal: &Principal,
        spec: &mut ExportSpec,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        check_id(&spec.client_id, "client company")?;
        self.base.permitted(principal, Permission::CustomersRead, &actions::CUSTOMER_EXPORT, ctx).await?;
        let attempt =
            Attempt::of(&actions::CUSTOMER_EXPORT).on(format!("org:{}", spec.client_id), "client company");
        let resource = Resource::Customer { client_id: &spec.client_id };
        self.base.authorize(principal, Permission::CustomersRead, resource, attempt, ctx).await?;
        spec.fields.sort();
        spec.fields.dedup();
        let policy = self.vault.policy_in_force().await?;
        if let Some(hidden) =
            spec.fields.iter().find(|f| policy.mask(&principal.user.roles, **f) == Mask::Hidden)
        {
            return Err(CoreError::invalid(
                "fields",
                ErrorCode::UnknownField,
                format!("your role does not see `{}`: leave it out", hidden.as_str()),
            ));
        }
        Ok(())
    }

    /// Asks to export customers: of a client company the principal works on, fields their roles
    /// see. The count and "registered before now" go into the request.
    pub async fn request_export(
        &self,
        principal: &Principal,
        spec: &ExportSpec,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<Approval, CoreError> {
        let mut spec = spec.clone();
        self.check_export(principal, &mut spec, ctx).await?;
        let (from, before) = spec.bounds(self.now())?;
        let customers =
            self.base.store.read().await?.count_client_customers(&spec.client_id, from, before).await?;
        if customers == 0 {
            return Err(CoreError::invalid(
                "registered_from",
                ErrorCode::InvalidValue,
                "no customer of this client company was registered in these days",
            ));
        }
        let new = NewRequest {
            kind: ApprovalKind::Export,
            content: spec.content(before, customers),
            reason: reason.into(),
        };
        self.approvals.request(principal, &new, ctx).await
    }

    /// The requester's granted export request, read back.
    async fn granted_export(
        &self,
        principal: &Principal,
        approval_id: &str,
        ctx: &RequestContext,
    ) -> Result<(Approval, ExportSpec, UnixMillis, i64), CoreError> {
        let view = self.approvals.approval(principal, approval_id, ctx).await?;
        let request = view.request;
        let usable = request.kind == ApprovalKind::Export
            && request.requester_id == principal.user.id
            && request.state == ApprovalState::Granted
            && request.grant_expires_at.is_some_and(|t| t > self.now());
        let content: serde_json::Value = serde_json::from_str(&request.content).unwrap_or_default();
        match ExportSpec::from_content(&content) {
            Some((spec, before, customers)) if usable => Ok((request, spec, before, customers)),
            _ => Err(self.approvals.not_usable(principal, approval_id, ApprovalKind::Export, ctx).await),
        }
    }

    /// Prepares the download of a granted export: a new ticket and the password it opens with,
    /// to be shown once. The grant is not used yet.
    pub async fn prepare_export(
        &self,
        principal: &Principal,
        approval_id: &str,
        ctx: &RequestContext,
    ) -> Result<ExportTicket, CoreError> {
        let (request, _, _, customers) = self.granted_export(principal, approval_id, ctx).await?;
        let ticket = new_id();
        Ok(ExportTicket {
            password: self.vault.export_password(&request.id, &ticket),
            ticket,
            customers: u64::try_from(customers).unwrap_or(0),
            file_name: export_file_name(&request.id),
        })
    }

    /// The download, once: uses the grant and records `customer.export` (committed before the
    /// first byte), then streams the archive, encrypted under the ticket's password. `header`
    /// names a field in the requester's language.
    pub async fn export_customers(
        &self,
        principal: &Principal,
        approval_id: &str,
        ticket: &str,
        header: &(dyn Fn(CustomerField) -> String + Sync),
        ctx: &RequestContext,
    ) -> Result<ExportStream, CoreError> {
        check_id(ticket, "export ticket")?;
        let (request, mut spec, before, customers) = self.granted_export(principal, approval_id, ctx).await?;
        // Roles and client assignments may have changed since the request.
        self.check_export(principal, &mut spec, ctx).await?;
        let (from, _) = spec.bounds(before)?;
        let content: serde_json::Value = serde_json::from_str(&request.content).unwrap_or_default();
        let mut tx = self.base.store.begin().await?;
        if let Err(refused) = self
            .approvals
            .use_grant_in(&mut tx, principal, approval_id, ApprovalKind::Export, &content, ctx)
            .await?
        {
            drop(tx);
            return Err(self.approvals.refused(ctx, refused).await);
        }
        let e = AuditEvent::of(&actions::CUSTOMER_EXPORT, principal.actor(), Outcome::Success)
            .object(format!("org:{}", spec.client_id))
            .detail("fields", spec.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(","))
            .detail("customers", customers.to_string())
            .detail("approval", approval_id.to_owned());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        self.approvals.changed();
        let password = self.vault.export_password(approval_id, ticket);
        let archive = ExportArchive::new("customers.csv", &password)
            .map_err(|e| CoreError::Internal(format!("the export could not start: {e}")))?;
        let mut first = vec![0xEF, 0xBB, 0xBF]; // a BOM: Excel in Japan reads the CSV as UTF-8
        let mut csv = csv::Writer::from_writer(&mut first);
        csv.write_record(spec.fields.iter().map(|f| header(*f)))
            .and_then(|()| csv.flush().map_err(csv::Error::from))
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        drop(csv);
        Ok(ExportStream {
            vault: Arc::clone(&self.vault),
            client_id: spec.client_id,
            fields: spec.fields,
            from,
            before,
            after_id: String::new(),
            header: Some(first),
            archive: Some(archive),
            file_name: export_file_name(approval_id),
            rows: 0,
        })
    }
}

fn export_file_name(approval_id: &str) -> String {
    format!("mamori-export-{}.zip", approval_id.get(..8).unwrap_or(approval_id))
}

/// An export being written: [`ExportStream::next_chunk`] gives the archive's next bytes.
pub struct ExportStream {
    vault: Arc<Vault>,
    client_id: String,
    fields: Vec<CustomerField>,
    from: UnixMillis,
    before: UnixMillis,
    /// The last record written (pages go in id order).
    after_id: String,
    /// The CSV's BOM and header row, until written.
    header: Option<Vec<u8>>,
    /// `None` once finished.
    archive: Option<ExportArchive>,
    pub file_name: String,
    /// Records written so far.
    pub rows: u64,
}

impl std::fmt::Debug for ExportStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportStream").field("rows", &self.rows).finish_non_exhaustive()
    }
}

impl ExportStream {
    /// The archive's next bytes (a page of records), or `None` when it is complete.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, CoreError> {
        use std::io::Write;
        let failed = |e: &dyn std::fmt::Display| CoreError::Internal(format!("the export failed: {e}"));
        let Some(archive) = self.archive.as_mut() else { return Ok(None) };
        if let Some(header) = self.header.take() {
            archive.write_all(&header).map_err(|e| failed(&e))?;
        }
        let page =
            self.vault.client_page(&self.client_id, self.from, self.before, &self.after_id, PAGE).await?;
        let Some(last) = page.last() else {
            let archive = self.archive.take().ok_or_else(|| failed(&"finished twice"))?;
            return archive.finish().map(Some).map_err(|e| failed(&e));
        };
        self.after_id = last.id.clone();
        let mut csv = csv::Writer::from_writer(Vec::with_capacity(page.len() * 160));
        for record in &page {
            let values = self.vault.export_values(record, &self.fields)?;
            csv.write_record(&values).map_err(|e| failed(&e))?;
        }
        let bytes = csv.into_inner().map_err(|e| failed(&e))?;
        archive.write_all(&bytes).map_err(|e| failed(&e))?;
        self.rows += page.len() as u64;
        Ok(Some(archive.take()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_japanese_days() {
        // 2026-11-29 00:00 JST is 2026-11-28 15:00 UTC.
        assert_eq!(day_start_jst("d", "2026-11-29").unwrap().rfc3339(), "2026-11-28T15:00:00.000Z");
        assert!(day_start_jst("d", "2026-13-01").is_err());
        assert!(day_start_jst("d", "29/11/2026").is_err());
        let spec = |from: &str, to: &str| ExportSpec {
            client_id: String::new(),
            fields: vec![CustomerField::NameKanji],
            registered_from: Some(from.into()),
            registered_to: Some(to.into()),
        };
        let now = day_start_jst("d", "2026-12-01").unwrap();
        let (from, before) = spec("2026-11-01", "2026-11-29").bounds(now).unwrap();
        assert_eq!(before.0 - from.0, 29 * DAY_MS, "the last day is included");
        assert!(spec("2026-11-29", "2026-11-01").bounds(now).is_err(), "days in order");
        let (_, before) = spec("2026-11-01", "2027-01-01").bounds(now).unwrap();
        assert_eq!(before.0, now.0 + 1, "nothing registered after the request");
        let none = ExportSpec { fields: vec![], ..spec("2026-11-01", "2026-11-29") };
        assert!(none.bounds(now).is_err(), "at least one field");
    }

    #[test]
    fn content_reads_back() {
        let spec = ExportSpec {
            client_id: "c".into(),
            fields: vec![CustomerField::NameKanji, CustomerField::Phones],
            registered_from: Some("2026-11-01".into()),
            registered_to: None,
        };
        let content = spec.content(UnixMillis(42), 7);
        assert_eq!(ExportSpec::from_content(&content), Some((spec, UnixMillis(42), 7)));
    }
}
