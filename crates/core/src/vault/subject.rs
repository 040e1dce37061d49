//! Changes to one customer's record, and the data-subject requests of APPI (arts. 33–35): a
//! disclosure report of what is held and who read it, correction, and erasure by destroying the
//! record's data key (crypto-shredding).
//!
//! Requests are the security admin's (customers.manage) and name the request they answer
//! (`request_ref`, the ticket of the center's request desk), which goes into the audit entry.
//! Operators add notes to the customers of their own client companies.

use super::{Prepared, decode_field_set, encode_field_set, prepare};
use crate::{CoreError, Principal, Vault, check_id};
use mamori_audit::{AuditEntry, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::UnixMillis;
use mamori_domain::customer::{CustomerField, FieldClass};
use mamori_proto::ErrorCode;
use mamori_store::{AuditQuery, CustomerRecord};
use std::collections::BTreeMap;

/// Everything held on one customer, in full, for the person it is about.
#[derive(Debug, Clone)]
pub struct Disclosure {
    pub id: String,
    pub client_id: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub fields: Vec<(CustomerField, FieldClass, String)>,
    /// The audit log's entries about this customer still in the hot database (archived ones
    /// are in the archive bundles), newest first.
    pub accesses: Vec<AuditEntry>,
}

/// How many audit entries a disclosure report lists at most.
const DISCLOSURE_ACCESS_LIMIT: i64 = 1000;

/// The longest note an operator adds at once.
const NOTE_MAX_CHARS: usize = 2000;

/// A customer found for a data-subject request: which record, of which client company, since
/// when — enough to tell records apart, nothing of their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectMatch {
    pub id: String,
    pub client_id: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// Checks a data-subject request's reference (its ticket at the center's request desk): 1 to
/// 100 printable characters. Returns it trimmed.
pub fn check_request_ref(request_ref: &str) -> Result<&str, CoreError> {
    let r = request_ref.trim();
    if r.is_empty() || r.chars().count() > 100 || r.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "request_ref",
            ErrorCode::InvalidValue,
            "name the data-subject request this answers (its reference, 1 to 100 characters)",
        ));
    }
    Ok(r)
}

impl Vault {
    /// A record's fields in plaintext (in memory only), in field order.
    fn open_record(&self, record: &CustomerRecord) -> Result<BTreeMap<CustomerField, String>, CoreError> {
        let key = self.record_key(record)?;
        let mut out = BTreeMap::new();
        for (name, sealed) in decode_field_set(&record.fields)? {
            let Some(field) = CustomerField::parse(name) else { continue };
            let plain = key.open(&record.id, name, sealed)?;
            out.insert(field, String::from_utf8_lossy(&plain).into_owned());
        }
        Ok(out)
    }

    /// Seals changed values into the record (same data key, fresh nonces) and writes them with
    /// their new blind indexes on `tx`. Returns the names of the fields now held.
    async fn reseal(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        record: &CustomerRecord,
        values: &BTreeMap<CustomerField, String>,
    ) -> Result<(), CoreError> {
        let as_input: BTreeMap<String, String> =
            values.iter().map(|(f, v)| (f.as_str().to_owned(), v.clone())).collect();
        let Prepared { values, index } = prepare(&as_input)?;
        let key = self.record_key(record)?;
        let mut sealed = Vec::with_capacity(values.len());
        for (field, value) in &values {
            sealed.push((field.as_str().to_owned(), key.seal(&record.id, field.as_str(), value.as_bytes())?));
        }
        let digests: Vec<(String, Vec<u8>)> = index
            .iter()
            .map(|(kind, v)| ((*kind).to_owned(), self.vault_index.digest(kind, v).to_vec()))
            .collect();
        if !tx.update_customer(&record.id, &encode_field_set(&sealed), &digests, self.base.now()).await? {
            return Err(CoreError::NotFound { what: "customer" });
        }
        Ok(())
    }

    /// A customer of any client company (the security admin's data-subject work).
    async fn customer_of(
        &self,
        handle: &mut dyn mamori_store::StoreRead,
        id: &str,
    ) -> Result<CustomerRecord, CoreError> {
        check_id(id, "customer")?;
        handle.customer(id).await?.ok_or(CoreError::NotFound { what: "customer" })
    }

    /// An operator adds a note to a customer of their client companies: appended to the notes
    /// with the time and their user name, never replacing what is there.
    pub async fn add_customer_note(
        &self,
        principal: &Principal,
        customer_id: &str,
        text: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let text = text.trim();
        let n = text.chars().count();
        if n == 0 || n > NOTE_MAX_CHARS || text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(CoreError::invalid(
                "text",
                ErrorCode::InvalidValue,
                format!("a note is 1 to {NOTE_MAX_CHARS} characters of text"),
            ));
        }
        check_id(customer_id, "customer")?;
        // Scope first, outside the write transaction: a refusal is recorded through the reads'
        // group commit, which on SQLite needs the one writer this transaction would hold.
        let seen = self.base.store.read().await?.customer(customer_id).await?;
        self.in_client_scope(principal, seen, &actions::CUSTOMER_NOTE_ADD, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        let record = self.customer_of(&mut *tx, customer_id).await?;
        let mut values = self.open_record(&record)?;
        let stamp = self.base.now().rfc3339();
        let line = format!("[{stamp} {}] {text}", principal.user.username);
        let notes = values.entry(CustomerField::Notes).or_default();
        if !notes.is_empty() {
            notes.push('\n');
        }
        notes.push_str(&line);
        self.reseal(&mut tx, &record, &values).await?;
        let e = AuditEvent::of(&actions::CUSTOMER_NOTE_ADD, principal.actor(), Outcome::Success)
            .object(self.base.audit_object("customer", &record.id))
            .detail("chars", n.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Corrects fields of a record (a data-subject request, or a fix by the security admin): the
    /// given fields get the given values, an empty value removes a field. The whole record is
    /// checked again, as on creation; a refused correction changes nothing.
    pub async fn correct_customer(
        &self,
        principal: &Principal,
        customer_id: &str,
        request_ref: &str,
        changes: &BTreeMap<String, String>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::CustomersManage, &actions::CUSTOMER_CORRECT, ctx).await?;
        let request_ref = check_request_ref(request_ref)?;
        if changes.is_empty() {
            return Err(CoreError::invalid(
                "fields",
                ErrorCode::Required,
                "give at least one field to correct",
            ));
        }
        let mut parsed = Vec::with_capacity(changes.len());
        for (name, value) in changes {
            parsed.push((super::customer_field(name)?, value.trim().to_owned()));
        }
        let mut tx = self.base.store.begin().await?;
        let record = self.customer_of(&mut *tx, customer_id).await?;
        let mut values = self.open_record(&record)?;
        for (field, value) in &parsed {
            if value.is_empty() {
                values.remove(field);
            } else {
                values.insert(*field, value.clone());
            }
        }
        self.reseal(&mut tx, &record, &values).await?;
        let names: Vec<&str> = parsed.iter().map(|(f, _)| f.as_str()).collect();
        let e = AuditEvent::of(&actions::CUSTOMER_CORRECT, principal.actor(), Outcome::Success)
            .object(self.base.audit_object("customer", &record.id))
            .detail("fields", names.join(","))
            .detail("request_ref", request_ref.to_owned());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finds the records a data-subject request is about, by the key the person gave (phone,
    /// e-mail, or name with birth date), in every client company: the security admin answers
    /// for the center. Nothing of the records is opened; the search is recorded as a lookup for
    /// a data-subject request, naming the request, one entry per record found.
    pub async fn find_for_request(
        &self,
        principal: &Principal,
        key: &super::LookupKey,
        request_ref: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<SubjectMatch>, CoreError> {
        self.base.permitted(principal, Permission::CustomersManage, &actions::CUSTOMER_LOOKUP, ctx).await?;
        let request_ref = check_request_ref(request_ref)?;
        let (kind, digest) = self.index_digest(key)?;
        let records = self.base.store.read().await?.customers_by_index(kind, &digest).await?;
        let e = AuditEvent::of(&actions::CUSTOMER_LOOKUP, principal.actor(), Outcome::Success)
            .object("customer:none")
            .detail("by", kind)
            .detail("results", records.len().to_string())
            .detail("fields", "")
            .detail("purpose", "data_subject_request")
            .detail("request_ref", request_ref.to_owned());
        let events = match records.is_empty() {
            true => vec![e],
            false => {
                records.iter().map(|r| e.clone().object(self.base.audit_object("customer", &r.id))).collect()
            }
        };
        self.base.audit_access_all(ctx, events).await?;
        Ok(records
            .into_iter()
            .map(|r| SubjectMatch {
                id: r.id,
                client_id: r.client_id,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
            .collect())
    }

    /// The disclosure report: every field in full and the record's access history. Recorded
    /// before it is returned, like any read.
    pub async fn disclose_customer(
        &self,
        principal: &Principal,
        customer_id: &str,
        request_ref: &str,
        ctx: &RequestContext,
    ) -> Result<Disclosure, CoreError> {
        self.base.permitted(principal, Permission::CustomersManage, &actions::CUSTOMER_DISCLOSE, ctx).await?;
        let request_ref = check_request_ref(request_ref)?;
        let policy = self.policy_in_force().await?;
        let mut read = self.base.store.read().await?;
        let record = self.customer_of(&mut *read, customer_id).await?;
        let object = self.base.audit_object("customer", &record.id);
        let mut accesses = read
            .search_audit(&AuditQuery {
                object: Some(object.clone()),
                limit: DISCLOSURE_ACCESS_LIMIT,
                ..Default::default()
            })
            .await?;
        drop(read);
        // The reasons given for reading this customer, opened for the person they are about.
        let key = self.record_key(&record)?;
        for entry in &mut accesses {
            if let Some(sealed) = entry.details.remove(super::SEALED_REASON) {
                let text = super::open_reason(&key, &record.id, &sealed).unwrap_or_default();
                entry.details.insert("reason_text".into(), text);
            }
        }
        let fields = self
            .open_record(&record)?
            .into_iter()
            .map(|(field, value)| (field, policy.class(field), value))
            .collect::<Vec<_>>();
        let names: Vec<&str> = fields.iter().map(|(f, _, _)| f.as_str()).collect();
        let e = AuditEvent::of(&actions::CUSTOMER_DISCLOSE, principal.actor(), Outcome::Success)
            .object(object)
            .detail("fields", names.join(","))
            .detail("purpose", "data_subject_request")
            .detail("request_ref", request_ref.to_owned());
        self.base.audit_access(ctx, e).await?;
        Ok(Disclosure {
            id: record.id,
            client_id: record.client_id,
            created_at: record.created_at,
            updated_at: record.updated_at,
            fields,
            accesses,
        })
    }

    /// Erases a customer: the record's wrapped data key, its sealed fields and its blind-index
    /// entries are deleted together. Copies of the database made before (backups, WAL archives)
    /// still hold the wrapped key; they become unreadable for this customer once the key
    /// version that wrapped it is retired (`mamori keys rotate`, then `mamori keys retire`).
    ///
    /// A privileged action (issue 15, item 7): with a second security admin in the
    /// installation, it is asked for and approved first (`Core::request_privileged`) and done
    /// from the approval ([`Vault::erase_customer_approved`]); directly, it is refused with
    /// `ApprovalRequired`.
    pub async fn erase_customer(
        &self,
        principal: &Principal,
        customer_id: &str,
        request_ref: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.erase_customer_with(principal, customer_id, request_ref, None, ctx).await
    }

    /// The erasure a second security admin approved (the grant is used by the caller).
    pub(crate) async fn erase_customer_approved(
        &self,
        principal: &Principal,
        customer_id: &str,
        request_ref: &str,
        approval_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.erase_customer_with(principal, customer_id, request_ref, Some(approval_id), ctx).await
    }

    async fn erase_customer_with(
        &self,
        principal: &Principal,
        customer_id: &str,
        request_ref: &str,
        approval: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::CustomersManage, &actions::CUSTOMER_ERASE, ctx).await?;
        let request_ref = check_request_ref(request_ref)?;
        if approval.is_none() {
            crate::check_id(customer_id, "customer")?;
            let object = self.base.audit_object("customer", customer_id);
            self.base.privileged_gate(principal, &actions::CUSTOMER_ERASE, object, ctx).await?;
        }
        let mut tx = self.base.store.begin().await?;
        let record = self.customer_of(&mut *tx, customer_id).await?;
        if !tx.delete_customer(&record.id).await? {
            return Err(CoreError::NotFound { what: "customer" });
        }
        let e = AuditEvent::of(&actions::CUSTOMER_ERASE, principal.actor(), Outcome::Success)
            .object(self.base.audit_object("customer", &record.id))
            .detail("client", record.client_id.clone())
            .detail("kek_version", record.kek_version.to_string())
            .detail("request_ref", request_ref.to_owned());
        let e = match approval {
            Some(id) => e.detail("approval", id.to_owned()),
            None => e,
        };
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }
}
