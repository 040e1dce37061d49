//! The customer vault (issue 4; LEAK-14, TW-5, TW-9): records sealed under per-record data keys,
//! found through keyed blind indexes, shown masked per role, only to users of the customer's own
//! client company, and every read recorded before anything is returned.
//!
//! Here: creating records, lookups with a stated reason or an active call (CTI), reveals under a
//! per-user allowance, key rotation and retirement. Beside it: `subject.rs` (data-subject
//! requests), `policy.rs` (field classes and masks), `import.rs` (CSV imports), `gate.rs` (whether a
//! person may look customers up at all right now).

pub(crate) mod policy;
pub mod subject;

use crate::base::authorize::Attempt;
use crate::{CoreError, Principal, check_id, new_id};
use mamori_audit::{
    AuditEvent, Outcome, RequestContext,
    actions::{self, Action},
};
use mamori_crypto::envelope::{DataKey, WrappedKey};
use mamori_domain::Permission;
use mamori_domain::authz::Resource;
use mamori_domain::customer::{
    CustomerField, FieldClass, Mask, ValueError, mask, normalize_card_number, normalize_email,
    normalize_name, normalize_phone, refuse_security_code,
};
use mamori_proto::ErrorCode;
use mamori_store::{CustomerRecord, NewCustomerRows, OrgKind};
use std::collections::BTreeMap;
mod gate;
pub mod import;

/// What a lookup searched by: the blind index's kind and digest, and for a phone number with a
/// reason its block ([`Vault::phone_block`]).
struct Search<'a> {
    kind: &'a str,
    digest: &'a [u8],
    near: Option<Probe>,
}

/// A phone number's block and the number, as keyed hashes (recorded when it finds no one).
struct Probe {
    block: String,
    number: String,
}

/// The vault service.
#[derive(Debug)]
pub struct Vault {
    base: std::sync::Arc<crate::base::Base>,
    vault_kek: std::sync::Arc<dyn mamori_crypto::envelope::KeyProvider>,
    vault_index: mamori_crypto::keyed_id::IdHasher,
    vault_policy: policy::PolicyCache,
}

impl Vault {
    pub(crate) fn new(
        base: std::sync::Arc<crate::base::Base>,
        vault_kek: std::sync::Arc<dyn mamori_crypto::envelope::KeyProvider>,
        vault_index: mamori_crypto::keyed_id::IdHasher,
    ) -> Self {
        Vault { base, vault_kek, vault_index, vault_policy: Default::default() }
    }
}

/// A new record as it arrives (API body or CSV row): field name → value.
#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    pub client_id: String,
    pub fields: BTreeMap<String, String>,
}

/// What a lookup searches by: exact values only, through their blind indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupKey {
    Phone(String),
    Email(String),
    /// A name (kanji or kana) and a birth date (YYYY-MM-DD).
    NameBirth {
        name: String,
        birth_date: String,
    },
}

/// What a lookup asks for: the caller of one of the operator's active calls (by the telephony
/// system's call id), or a customer by one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Caller { call_id: String },
    Key(LookupKey),
}

impl Lookup {
    /// The one rule for the API and the console alike: `call_id` alone, or exactly one of a
    /// phone number, an e-mail address, or a name with a birth date (a reason, when given, goes
    /// with a key, never with a call).
    pub fn from_parts(
        call_id: Option<String>,
        phone: Option<String>,
        email: Option<String>,
        name: Option<String>,
        birth_date: Option<String>,
        reason_given: bool,
    ) -> Result<Lookup, CoreError> {
        if let Some(call_id) = call_id {
            if phone.is_some() || email.is_some() || name.is_some() || reason_given {
                return Err(CoreError::invalid(
                    "call_id",
                    ErrorCode::LookupKey,
                    "a lookup of a call's caller takes the call_id alone",
                ));
            }
            return Ok(Lookup::Caller { call_id });
        }
        match (phone, email, name, birth_date) {
            (Some(phone), None, None, None) => Ok(Lookup::Key(LookupKey::Phone(phone))),
            (None, Some(email), None, None) => Ok(Lookup::Key(LookupKey::Email(email))),
            (None, None, Some(name), Some(birth_date)) => {
                Ok(Lookup::Key(LookupKey::NameBirth { name, birth_date }))
            }
            _ => Err(CoreError::invalid(
                "phone",
                ErrorCode::LookupKey,
                "give exactly one of: phone, email, or name with birth_date",
            )),
        }
    }
}

/// Why a user looks a customer up. Every lookup states one; it is recorded with the read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// The number is the caller on one of the operator's active calls (reported by the CTI
    /// integration): nothing more is needed.
    ActiveCall,
    /// Not on a call with this customer: a reason code and free text, marked as such in the
    /// audit entry for the detectors.
    Reason { code: String, text: String },
}

impl Purpose {
    /// The purpose as the audit entry's `purpose` detail names it.
    pub fn name(&self) -> &'static str {
        match self {
            Purpose::ActiveCall => "active_call",
            Purpose::Reason { .. } => "reason",
        }
    }
}

/// The reason codes a lookup outside a call may give.
pub const REASON_CODES: [&str; 5] =
    ["callback", "complaint_follow_up", "data_subject_request", "quality_review", "fraud_check"];

/// One of the operator's calls under way, as the workspace lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCall {
    /// The telephony system's id for the call: the key a caller lookup names.
    pub external_id: String,
    /// The caller's number masked (`***-****-5678`); none for calls reported before Mamori
    /// kept it.
    pub caller: Option<String>,
    pub started_at: mamori_domain::UnixMillis,
}

/// One field of a card, as the caller may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownField {
    pub field: CustomerField,
    pub value: String,
    pub mask: Mask,
}

/// A customer as a lookup shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerCard {
    pub id: String,
    pub client_id: String,
    pub fields: Vec<ShownField>,
}

fn invalid(field: &'static str, e: ValueError) -> CoreError {
    let code = match e {
        ValueError::SecurityCode(_) => ErrorCode::CardSecurityCodeRefused,
        _ => ErrorCode::InvalidValue,
    };
    CoreError::invalid(field, code, e.to_string())
}

/// A record's sealed fields in one value: `0x01`, then per field its name (u8 length, bytes)
/// and its sealed value (u32 big-endian length, bytes). Each value is sealed on its own, bound
/// to the record and field name.
fn encode_field_set(fields: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![1u8];
    for (name, sealed) in fields {
        out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&u32::try_from(sealed.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(sealed);
    }
    out
}

fn decode_field_set(bytes: &[u8]) -> Result<Vec<(&str, &[u8])>, CoreError> {
    let corrupt = || CoreError::Store(mamori_store::StoreError::Corrupt("a customer's sealed fields".into()));
    let mut rest = bytes.strip_prefix(&[1u8]).ok_or_else(corrupt)?;
    let mut fields = Vec::new();
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n);
        let name = tail.get(..n).and_then(|b| std::str::from_utf8(b).ok()).ok_or_else(corrupt)?;
        let len_bytes: [u8; 4] = tail.get(n..n + 4).and_then(|b| b.try_into().ok()).ok_or_else(corrupt)?;
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| corrupt())?;
        let value = tail.get(n + 4..n + 4 + len).ok_or_else(corrupt)?;
        fields.push((name, value));
        rest = &tail[n + 4 + len..];
    }
    Ok(fields)
}

/// A record ready to store, and the names of its fields (for the audit entry).
pub(crate) struct Sealed {
    rows: NewCustomerRows,
    field_names: String,
}

/// An import's transaction, written a chunk of records at a time so that no more than a chunk
/// is held sealed in memory. Dropped before [`Vault::finish_import`], it rolls back: nothing of
/// the file is written.
pub(crate) struct ImportTx {
    tx: Box<dyn mamori_store::StoreTx>,
    client_id: String,
    records: u64,
}

impl ImportTx {
    /// Inserts the sealed records (emptying `sealed`), checking that each is of the client
    /// company the import is for.
    pub(crate) async fn insert(&mut self, sealed: &mut Vec<Sealed>) -> Result<(), CoreError> {
        if sealed.iter().any(|s| s.rows.record.client_id != self.client_id) {
            return Err(CoreError::Internal("an import's records are of one client company".into()));
        }
        let rows: Vec<NewCustomerRows> = sealed.drain(..).map(|s| s.rows).collect();
        self.tx.insert_customers(&rows).await?;
        self.records += rows.len() as u64;
        Ok(())
    }
}

/// A record's fields checked and normalised: the values to seal, and the blind-index values
/// (kind, normalised value).
struct Prepared {
    values: Vec<(CustomerField, String)>,
    index: Vec<(&'static str, String)>,
}

/// A field name as input gives it: a security-code field is refused (PCI DSS 3.3.1), an unknown
/// one named.
pub(crate) fn customer_field(name: &str) -> Result<CustomerField, CoreError> {
    refuse_security_code(name).map_err(|e| invalid("fields", e))?;
    CustomerField::parse(name).ok_or_else(|| {
        CoreError::invalid("fields", ErrorCode::UnknownField, format!("`{name}` is not a customer field"))
    })
}

fn prepare(fields: &BTreeMap<String, String>) -> Result<Prepared, CoreError> {
    let mut values = Vec::new();
    let mut index = Vec::new();
    for (name, value) in fields {
        let field = customer_field(name)?;
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if value.len() > 10_000 {
            return Err(CoreError::invalid(
                "fields",
                ErrorCode::TooLong,
                format!("`{name}` is longer than 10,000 bytes"),
            ));
        }
        let stored = match field {
            CustomerField::Phones => {
                let mut phones = Vec::new();
                for p in value.split([',', '\n', ';']).map(str::trim).filter(|p| !p.is_empty()) {
                    let e164 = normalize_phone(p).map_err(|e| invalid("phones", e))?;
                    index.push(("phone", e164.clone()));
                    phones.push(e164);
                }
                phones.join(",")
            }
            CustomerField::Email => {
                let e = normalize_email(value).map_err(|e| invalid("email", e))?;
                index.push(("email", e.clone()));
                e
            }
            CustomerField::CardNumber => {
                normalize_card_number(value).map_err(|e| invalid("card_number", e))?
            }
            CustomerField::BirthDate => {
                let ok = value.len() == 10
                    && value.as_bytes()[4] == b'-'
                    && value.as_bytes()[7] == b'-'
                    && value.split('-').all(|p| p.chars().all(|c| c.is_ascii_digit()));
                if !ok {
                    return Err(CoreError::invalid(
                        "birth_date",
                        ErrorCode::InvalidValue,
                        "a birth date is YYYY-MM-DD",
                    ));
                }
                value.to_owned()
            }
            _ => value.to_owned(),
        };
        values.push((field, stored));
    }
    let get = |f: CustomerField| values.iter().find(|(g, _)| *g == f).map(|(_, v)| v.clone());
    if get(CustomerField::NameKanji).is_none() && get(CustomerField::NameKana).is_none() {
        return Err(CoreError::invalid(
            "name_kanji",
            ErrorCode::Required,
            "a customer needs a name (kanji or kana)",
        ));
    }
    if let Some(birth) = get(CustomerField::BirthDate) {
        for name in [get(CustomerField::NameKanji), get(CustomerField::NameKana)].into_iter().flatten() {
            if let Ok(n) = normalize_name(&name) {
                index.push(("name_birth", format!("{n}|{birth}")));
            }
        }
    }
    Ok(Prepared { values, index })
}

/// The audit detail that keeps a reason's free text. The text may quote the customer, so it is
/// sealed under that customer's data key: readable while the customer exists (the disclosure
/// report shows it), destroyed with the key when the customer is erased.
pub(crate) const SEALED_REASON: &str = "reason_text_sealed";

/// The refusal of a reveal beyond the allowance; the console offers to ask a supervisor then.
pub const ALLOWANCE_SPENT: &str =
    "you have revealed as many values as allowed for now; ask your supervisor to approve this reveal";
/// What a sealed reason is bound to besides the record: not a field of the record.
const REASON_AAD: &str = "audit:reason_text";

fn seal_reason(key: &DataKey, record_id: &str, text: &str) -> Result<String, CoreError> {
    use base64::Engine;
    let sealed = key.seal(record_id, REASON_AAD, text.trim().as_bytes())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

pub(crate) fn open_reason(key: &DataKey, record_id: &str, sealed: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
    let plain = key.open(record_id, REASON_AAD, &bytes).ok()?;
    Some(String::from_utf8_lossy(&plain).into_owned())
}

/// What a reveal (or a request for one) asks, checked: a customer id, a known field, a reason
/// code and text — never an active call alone.
pub(crate) fn reveal_asked<'a>(
    customer_id: &str,
    field: &str,
    purpose: &'a Purpose,
) -> Result<(CustomerField, &'a String, &'a String), CoreError> {
    check_id(customer_id, "customer")?;
    let field = CustomerField::parse(field).ok_or_else(|| {
        CoreError::invalid("field", ErrorCode::UnknownField, format!("`{field}` is not a customer field"))
    })?;
    let Purpose::Reason { code, text } = purpose else {
        return Err(CoreError::invalid(
            "reason_code",
            ErrorCode::ReasonRequired,
            "a reveal needs a reason code and text",
        ));
    };
    check_purpose(purpose)?;
    Ok((field, code, text))
}

pub(crate) fn check_purpose(purpose: &Purpose) -> Result<(), CoreError> {
    match purpose {
        Purpose::ActiveCall => Ok(()),
        Purpose::Reason { code, text } => {
            if !REASON_CODES.contains(&code.as_str()) {
                return Err(CoreError::invalid(
                    "reason_code",
                    ErrorCode::UnknownReason,
                    format!("a lookup outside a call needs one of: {}", REASON_CODES.join(", ")),
                ));
            }
            let n = text.trim().chars().count();
            if !(5..=500).contains(&n) || text.chars().any(char::is_control) {
                return Err(CoreError::invalid(
                    "reason_text",
                    ErrorCode::InvalidReason,
                    "explain the reason in 5 to 500 characters",
                ));
            }
            Ok(())
        }
    }
}

impl Vault {
    /// Creates a customer record: fields checked and normalised, sealed under a new data key,
    /// the data key wrapped, blind indexes written, and the creation audited — in one transaction.
    pub async fn create_customer(
        &self,
        principal: &Principal,
        new: &NewCustomer,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        let ids = self.create_customers(principal, std::slice::from_ref(new), ctx).await.map_err(|e| {
            e.into_iter().next().map_or_else(|| CoreError::Internal("creation failed".into()), |(_, e)| e)
        })?;
        ids.into_iter().next().ok_or_else(|| CoreError::Internal("no record created".into()))
    }

    /// Creates many records at once, all or nothing: every record is checked first, and if any
    /// fails, nothing is written and every failure is returned with its position.
    pub async fn create_customers(
        &self,
        principal: &Principal,
        records: &[NewCustomer],
        ctx: &RequestContext,
    ) -> Result<Vec<String>, Vec<(usize, CoreError)>> {
        let action = if records.len() == 1 { &actions::CUSTOMER_CREATE } else { &actions::CUSTOMER_IMPORT };
        self.base
            .permitted(principal, Permission::CustomersManage, action, ctx)
            .await
            .map_err(|e| vec![(0, e)])?;
        let mut sealed_records = Vec::with_capacity(records.len());
        let mut failures = Vec::new();
        let now = self.base.now();
        for (n, new) in records.iter().enumerate() {
            match self.seal_customer(new, now) {
                Ok(r) => sealed_records.push(r),
                Err(e) => failures.push((n, e)),
            }
        }
        if !failures.is_empty() {
            return Err(failures);
        }
        let import = records.len() > 1;
        self.insert_sealed(principal, &sealed_records, import, ctx).await.map_err(|e| vec![(0, e)])?;
        Ok(sealed_records.into_iter().map(|r| r.rows.record.id).collect())
    }

    pub(crate) fn seal_customer(
        &self,
        new: &NewCustomer,
        now: mamori_domain::UnixMillis,
    ) -> Result<Sealed, CoreError> {
        check_id(&new.client_id, "client company")?;
        let Prepared { values, index } = prepare(&new.fields)?;
        let id = new_id();
        let key = DataKey::generate()?;
        let mut fields = Vec::with_capacity(values.len());
        for (field, value) in &values {
            fields.push((field.as_str().to_owned(), key.seal(&id, field.as_str(), value.as_bytes())?));
        }
        let wrapped = self.vault_kek.wrap(&id, &key)?;
        let digests = index
            .iter()
            .map(|(kind, v)| ((*kind).to_owned(), self.vault_index.digest(kind, v).to_vec()))
            .collect();
        let record = CustomerRecord {
            id,
            client_id: new.client_id.clone(),
            wrapped_key: wrapped.as_bytes().to_vec(),
            kek_version: wrapped.kek_version(),
            fields: encode_field_set(&fields),
            created_at: now,
            updated_at: now,
        };
        let field_names = values.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(",");
        Ok(Sealed { rows: NewCustomerRows { record, index: digests }, field_names })
    }

    /// Checks a new record as [`Vault::seal_customer`] does, without sealing it.
    pub(crate) fn check_customer(&self, new: &NewCustomer) -> Result<(), CoreError> {
        check_id(&new.client_id, "client company")?;
        prepare(&new.fields).map(|_| ())
    }

    /// Starts an import's one transaction, for the records of one client company.
    pub(crate) async fn begin_import(&self, client_id: &str) -> Result<ImportTx, CoreError> {
        let mut tx = self.base.store.begin().await?;
        match tx.org_unit(client_id).await? {
            Some(unit) if unit.kind == OrgKind::Client => {}
            _ => return Err(CoreError::NotFound { what: "client company" }),
        }
        Ok(ImportTx { tx, client_id: client_id.to_owned(), records: 0 })
    }

    /// Ends an import: one `customer.import` audit entry for every record inserted, and the commit.
    pub(crate) async fn finish_import(
        &self,
        mut import: ImportTx,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<u64, CoreError> {
        let e = AuditEvent::of(&actions::CUSTOMER_IMPORT, principal.actor(), Outcome::Success)
            .object("customers")
            .detail("records", import.records.to_string())
            .detail("clients", import.client_id.clone());
        self.base.audit(&mut import.tx, ctx, e).await?;
        import.tx.commit().await?;
        Ok(import.records)
    }

    pub(crate) async fn insert_sealed(
        &self,
        principal: &Principal,
        records: &[Sealed],
        import: bool,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let mut tx = self.base.store.begin().await?;
        let clients: std::collections::BTreeSet<&str> =
            records.iter().map(|r| r.rows.record.client_id.as_str()).collect();
        for client in &clients {
            match tx.org_unit(client).await? {
                Some(unit) if unit.kind == OrgKind::Client => {}
                _ => return Err(CoreError::NotFound { what: "client company" }),
            }
        }
        let rows: Vec<NewCustomerRows> = records.iter().map(|r| r.rows.clone()).collect();
        tx.insert_customers(&rows).await?;
        let e = match records {
            [one] if !import => {
                AuditEvent::of(&actions::CUSTOMER_CREATE, principal.actor(), Outcome::Success)
                    .object(self.base.audit_object("customer", &one.rows.record.id))
                    .detail("client", one.rows.record.client_id.clone())
                    .detail("fields", one.field_names.clone())
            }
            many => AuditEvent::of(&actions::CUSTOMER_IMPORT, principal.actor(), Outcome::Success)
                .object("customers")
                .detail("records", many.len().to_string())
                .detail("clients", clients.into_iter().collect::<Vec<_>>().join(",")),
        };
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finds the caller's client companies' customers with this phone number and shows them
    /// masked for the caller's roles. The read is recorded (keyed-hash ids, field names, purpose)
    /// before anything is returned; if it cannot be, nothing is.
    pub async fn find_customers_by_phone(
        &self,
        principal: &Principal,
        phone: &str,
        purpose: &Purpose,
        ctx: &RequestContext,
    ) -> Result<Vec<CustomerCard>, CoreError> {
        self.find_customers(principal, &LookupKey::Phone(phone.to_owned()), purpose, ctx).await
    }

    /// [`Vault::find_customers_by_phone`] for any exact key: phone, e-mail, or name with birth
    /// date. Only a phone lookup can rest on an active call; the others always need a reason.
    pub async fn find_customers(
        &self,
        principal: &Principal,
        key: &LookupKey,
        purpose: &Purpose,
        ctx: &RequestContext,
    ) -> Result<Vec<CustomerCard>, CoreError> {
        let (kind, digest) = self.index_digest(key)?;
        check_purpose(purpose)?;
        let mut read = self.base.store.read().await?;
        let call = match purpose {
            Purpose::ActiveCall if kind != "phone" => {
                return Err(CoreError::invalid(
                    "reason_code",
                    ErrorCode::ReasonRequired,
                    "only a lookup by the caller's phone number can rest on an active call: give a reason code and text",
                ));
            }
            Purpose::ActiveCall => Some(
                read.active_calls(&principal.user.id)
                    .await?
                    .into_iter()
                    .find(|c| c.caller_digest == digest)
                    .ok_or_else(|| {
                        CoreError::invalid(
                            "reason_code",
                            ErrorCode::ReasonRequired,
                            "this number is not the caller on one of your active calls: give a reason code and text",
                        )
                    })?,
            ),
            Purpose::Reason { .. } => None,
        };
        drop(read);
        let near = match (key, purpose) {
            (LookupKey::Phone(p), Purpose::Reason { .. }) => self.phone_block(p),
            _ => None,
        };
        self.show_customers(principal, Search { kind, digest: &digest, near }, purpose, call, ctx).await
    }

    /// The block a phone number is in — all but its last two digits — and the number itself,
    /// each as a keyed hash, for the detector to see someone probing neighbouring numbers
    /// (issue 16) without the log holding a number or anything that leads back to one without
    /// the audit-ids key.
    fn phone_block(&self, phone: &str) -> Option<Probe> {
        let number = normalize_phone(phone).ok()?;
        let digits = number.len().checked_sub(2).filter(|n| *n >= 6)?;
        Some(Probe {
            block: self.base.audit_object("phone_block", &number[..digits]),
            number: self.base.audit_object("phone", &number),
        })
    }

    /// The blind-index digest of a value already normalized for its kind.
    pub(crate) fn index_digest_of(&self, kind: &str, normalized: &str) -> Vec<u8> {
        self.vault_index.digest(kind, normalized).to_vec()
    }

    /// The blind-index kind and digest a lookup key searches by.
    pub(crate) fn index_digest(&self, key: &LookupKey) -> Result<(&'static str, Vec<u8>), CoreError> {
        let (kind, normalized) = match key {
            LookupKey::Phone(p) => ("phone", normalize_phone(p).map_err(|e| invalid("phone", e))?),
            LookupKey::Email(e) => ("email", normalize_email(e).map_err(|e| invalid("email", e))?),
            LookupKey::NameBirth { name, birth_date } => {
                let n = normalize_name(name).map_err(|e| invalid("name", e))?;
                ("name_birth", format!("{n}|{}", birth_date.trim()))
            }
        };
        Ok((kind, self.vault_index.digest(kind, &normalized).to_vec()))
    }

    /// A lookup of either kind ([`Lookup`]); `purpose` applies to a lookup by key.
    pub async fn look_up(
        &self,
        principal: &Principal,
        lookup: &Lookup,
        purpose: &Purpose,
        ctx: &RequestContext,
    ) -> Result<Vec<CustomerCard>, CoreError> {
        match lookup {
            Lookup::Caller { call_id } => self.find_caller(principal, call_id, ctx).await,
            Lookup::Key(key) => self.find_customers(principal, key, purpose, ctx).await,
        }
    }

    /// Looks up the caller on one of the operator's active calls (by the telephony system's
    /// call id): the number itself is never needed, only its digest kept with the call.
    pub async fn find_caller(
        &self,
        principal: &Principal,
        call_id: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<CustomerCard>, CoreError> {
        let call = self
            .base
            .store
            .read()
            .await?
            .active_calls(&principal.user.id)
            .await?
            .into_iter()
            .find(|c| c.external_id == call_id.trim())
            .ok_or(CoreError::NotFound { what: "active call" })?;
        let digest = call.caller_digest.clone();
        let search = Search { kind: "phone", digest: &digest, near: None };
        self.show_customers(principal, search, &Purpose::ActiveCall, Some(call), ctx).await
    }

    /// The operator's calls that have not ended, newest first, each with its caller's number
    /// masked as the operator's cards show a phone: in part, or not at all where the field
    /// policy hides phones from the operator's roles.
    pub async fn my_active_calls(&self, principal: &Principal) -> Result<Vec<ActiveCall>, CoreError> {
        let mut calls = self.base.store.read().await?.active_calls(&principal.user.id).await?;
        calls.sort_by_key(|c| std::cmp::Reverse(c.started_at));
        let hidden =
            self.policy_in_force().await?.mask(&principal.user.roles, CustomerField::Phones) == Mask::Hidden;
        Ok(calls
            .into_iter()
            .map(|c| ActiveCall {
                caller: match hidden {
                    true => {
                        c.caller_masked.as_ref().map(|_| mask(CustomerField::Phones.kind(), "", Mask::Hidden))
                    }
                    false => c.caller_masked,
                },
                external_id: c.external_id,
                started_at: c.started_at,
            })
            .collect())
    }

    /// The customers a blind-index digest points to, of the caller's client companies only,
    /// masked for the caller's roles; the read recorded before anything is returned.
    async fn show_customers(
        &self,
        principal: &Principal,
        search: Search<'_>,
        purpose: &Purpose,
        call: Option<mamori_store::CallRecord>,
        ctx: &RequestContext,
    ) -> Result<Vec<CustomerCard>, CoreError> {
        let Search { kind, digest, near } = search;
        self.base.permitted(principal, Permission::CustomersRead, &actions::CUSTOMER_LOOKUP, ctx).await?;
        self.lookup_gate(principal, ctx).await?;
        let policy = self.policy_in_force().await?;
        let mut read = self.base.store.read().await?;
        // Client isolation: another client's customers are not found, not even as "forbidden";
        // the attempt is recorded.
        let (records, others): (Vec<CustomerRecord>, Vec<CustomerRecord>) = read
            .customers_by_index(kind, digest)
            .await?
            .into_iter()
            .partition(|c| crate::Base::reads_client(principal, &c.client_id));
        for other in &others {
            let resource = Resource::Customer { client_id: &other.client_id };
            let mut attempt = self.customer_attempt(&actions::CUSTOMER_LOOKUP, other);
            // The purpose tells a caller's shared number on a live call (not the operator's
            // doing) from a search for another client's customer.
            attempt.details.push(("purpose", purpose.name().to_owned()));
            // Refused and recorded; the lookup goes on with the customers in scope.
            let _ = self.base.authorize(principal, Permission::CustomersRead, resource, attempt, ctx).await;
        }
        let mut cards = Vec::with_capacity(records.len());
        let mut sealed_reasons = Vec::with_capacity(records.len());
        let mut shown_fields = std::collections::BTreeSet::new();
        for record in &records {
            if let Purpose::Reason { text, .. } = purpose {
                sealed_reasons.push(seal_reason(&self.record_key(record)?, &record.id, text)?);
            }
            cards.push(self.masked_card(record, &policy, principal, &mut shown_fields)?);
        }
        drop(read);
        let confidential: Vec<&str> = shown_fields
            .iter()
            .copied()
            .filter(|f| CustomerField::parse(f).map(|f| policy.class(f)) == Some(FieldClass::Confidential))
            .collect();
        let mut e = AuditEvent::of(&actions::CUSTOMER_LOOKUP, principal.actor(), Outcome::Success)
            .object("customer:none")
            .detail("by", kind)
            .detail("results", records.len().to_string())
            .detail("fields", shown_fields.iter().copied().collect::<Vec<_>>().join(","))
            .detail("confidential", confidential.join(","));
        e = match (purpose, call) {
            (Purpose::Reason { code, text }, _) => e
                .detail("purpose", "reason")
                .detail("reason_code", code.clone())
                .detail("reason_text_chars", text.trim().chars().count().to_string()),
            (Purpose::ActiveCall, Some(call)) => e.detail("purpose", "active_call").detail("call", call.id),
            (Purpose::ActiveCall, None) => e.detail("purpose", "active_call"),
        };
        // A key that finds no one is what probing looks like (a block of numbers, a list of
        // names to see who is a customer); one that finds a customer is counted by the lookup
        // rules already.
        if records.is_empty() && matches!(purpose, Purpose::Reason { .. }) {
            e = match near {
                Some(probe) => e.detail("near", probe.block).detail("probe", probe.number),
                // Any other key that finds no one: which one, as a keyed hash (lookup misses).
                None => e.detail("probe", self.base.audit_object(kind, &hex::encode(digest))),
            };
        }
        // One entry per customer shown, so "who read this customer" is a lookup by object.
        let events = if records.is_empty() {
            vec![e]
        } else {
            records
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let entry = e.clone().object(self.base.audit_object("customer", &r.id));
                    match sealed_reasons.get(i) {
                        Some(sealed) => entry.detail(SEALED_REASON, sealed.clone()),
                        None => entry,
                    }
                })
                .collect()
        };
        self.base.audit_access_all(ctx, events).await?;
        Ok(cards)
    }
}

/// How a key rotation went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The key version every data key is now wrapped with.
    pub version: u32,
    /// Whether this run added the version (false: it finished an interrupted rotation).
    pub started: bool,
    pub rewrapped: u64,
}

impl Vault {
    /// Rotates the vault's key-encryption key online: makes a new version current, then re-wraps
    /// every record's data key with it, a batch per transaction, while the records stay readable
    /// (the old version opens what is not re-wrapped yet). Field ciphertexts do not change and
    /// no data key is ever written unwrapped. Interrupted — even by `kill -9` — it resumes where
    /// it stopped when run again. `progress` is told (re-wrapped so far, total).
    pub async fn rotate_vault_keys(
        &self,
        batch: i64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Rotation, CoreError> {
        let current = self.vault_kek.current_version();
        let pending = self.to_rewrap(current).await?;
        let started = pending == 0;
        let version = if started { self.vault_kek.add_version()? } else { current };
        let total = u64::try_from(self.to_rewrap(version).await?).unwrap_or(0);
        let event = |phase: &str| {
            AuditEvent::of(&actions::KEYS_ROTATE, mamori_audit::Actor::System, Outcome::Success)
                .object("vault_kek")
                .detail("version", version.to_string())
                .detail("phase", phase.to_owned())
        };
        self.base
            .audit_access(
                &RequestContext::default(),
                event(if started { "start" } else { "resume" }).detail("records", total.to_string()),
            )
            .await?;
        let mut done = 0u64;
        loop {
            let rows = self.base.store.read().await?.customers_to_rewrap(version, batch.max(1)).await?;
            if rows.is_empty() {
                break;
            }
            let mut rewrapped = Vec::with_capacity(rows.len());
            for (id, old) in rows {
                let key = self.vault_kek.unwrap(&id, &WrappedKey::from_bytes(old.clone())?)?;
                let new = self.vault_kek.wrap(&id, &key)?;
                rewrapped.push((id, old, new));
            }
            let mut tx = self.base.store.begin().await?;
            for (id, old, new) in &rewrapped {
                // A record changed meanwhile is simply found again by the next batch.
                if tx.rewrap_customer(id, old, new.as_bytes(), new.kek_version()).await? {
                    done += 1;
                }
            }
            tx.commit().await?;
            progress(done, total);
        }
        // Vendors' evidence files are sealed under the same key (crate::isms::vendor_files).
        done += crate::isms::vendor_files::rewrap_vendor_files(
            &self.base,
            self.vault_kek.as_ref(),
            version,
            batch,
        )
        .await?;
        // And the checks' photos (crate::isms::checks).
        done += crate::isms::checks::rewrap_check_photos(&self.base, self.vault_kek.as_ref(), version, batch)
            .await?;
        progress(done, total);
        self.base
            .audit_access(&RequestContext::default(), event("done").detail("rewrapped", done.to_string()))
            .await?;
        Ok(Rotation { version, started, rewrapped: done })
    }
}

impl Vault {
    /// The telephony integration reports that `operator` (a user name) took a call from
    /// `caller`. Returns the call's id in Mamori. The caller's number is kept only as its
    /// blind-index digest.
    pub async fn call_started(
        &self,
        reporter: mamori_audit::Actor,
        external_id: &str,
        operator: &str,
        caller: &str,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        let external_id = external_id.trim();
        if external_id.is_empty() || external_id.len() > 100 || external_id.chars().any(char::is_control) {
            return Err(CoreError::invalid(
                "call_id",
                ErrorCode::InvalidValue,
                "a call id is 1 to 100 printable characters",
            ));
        }
        let e164 = normalize_phone(caller).map_err(|e| invalid("caller", e))?;
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        let user = tx
            .user_by_username(operator)
            .await?
            .filter(|u| u.status == mamori_domain::identity::UserStatus::Active)
            .ok_or(CoreError::NotFound { what: "operator" })?;
        let call = mamori_store::CallRecord {
            id: new_id(),
            external_id: external_id.to_owned(),
            operator_id: user.id.clone(),
            caller_digest: self.vault_index.digest("phone", &e164).to_vec(),
            // Only the masked form: the number itself stays a digest (TW-9).
            caller_masked: Some(mask(CustomerField::Phones.kind(), &e164, Mask::Partial)),
            started_at: now,
            ended_at: None,
        };
        tx.insert_call(&call).await?;
        let e = AuditEvent::of(&actions::CTI_CALL_START, reporter, Outcome::Success)
            .object(format!("call:{}", call.id))
            .detail("operator", user.id);
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(call.id)
    }

    /// The telephony integration reports that a call ended: lookups for its caller now need a reason.
    pub async fn call_ended(
        &self,
        reporter: mamori_audit::Actor,
        external_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let mut tx = self.base.store.begin().await?;
        if !tx.end_call(external_id.trim(), self.base.now()).await? {
            return Err(CoreError::NotFound { what: "active call" });
        }
        let e = AuditEvent::of(&actions::CTI_CALL_END, reporter, Outcome::Success)
            .object("call")
            .detail("external_id", external_id.trim().to_owned());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Vault {
    /// The key-encryption key's current version (records under older ones await re-wrapping).
    pub(crate) fn key_version(&self) -> u32 {
        self.vault_kek.current_version()
    }

    /// Client isolation, the one rule: a customer of a client company the principal does not
    /// work on is not found (not even "forbidden"), and the attempt is recorded as denied.
    pub(crate) async fn in_client_scope(
        &self,
        principal: &Principal,
        record: Option<CustomerRecord>,
        action: &'static Action,
        ctx: &RequestContext,
    ) -> Result<CustomerRecord, CoreError> {
        let record = record.ok_or(CoreError::NotFound { what: "customer" })?;
        let resource = Resource::Customer { client_id: &record.client_id };
        self.base
            .authorize(
                principal,
                Permission::CustomersRead,
                resource,
                self.customer_attempt(action, &record),
                ctx,
            )
            .await?;
        Ok(record)
    }

    /// A refused attempt on a customer: its keyed hash and its client company are recorded.
    /// A record's card as the principal's roles see it (masked by the field policy); the names
    /// of the fields shown are added to `shown`.
    fn masked_card(
        &self,
        record: &CustomerRecord,
        policy: &mamori_domain::vault_policy::VaultPolicy,
        principal: &Principal,
        shown: &mut std::collections::BTreeSet<&'static str>,
    ) -> Result<CustomerCard, CoreError> {
        let sealed = decode_field_set(&record.fields)?;
        let key = self.record_key(record)?;
        let mut fields = Vec::with_capacity(sealed.len());
        for (name, ciphertext) in sealed {
            let Some(field) = CustomerField::parse(name) else { continue };
            let level = policy.mask(&principal.user.roles, field);
            if level != Mask::Hidden {
                shown.insert(field.as_str());
            }
            let plain = key.open(&record.id, field.as_str(), ciphertext)?;
            let text = String::from_utf8_lossy(&plain);
            let value = match field {
                CustomerField::Phones => {
                    text.split(',').map(|p| mask(field.kind(), p, level)).collect::<Vec<_>>().join(", ")
                }
                _ => mask(field.kind(), &text, level),
            };
            fields.push(ShownField { field, value, mask: level });
        }
        // In the record's natural order (name first), not the order they are stored in.
        fields.sort_by_key(|f| f.field);
        Ok(CustomerCard { id: record.id.clone(), client_id: record.client_id.clone(), fields })
    }

    /// The card of one customer the principal may read (their client companies), for a print:
    /// masked as their roles see it, read in the caller's transaction with its `customer.print`
    /// entry, so the print and its record commit together. Another client's customer is not
    /// found.
    pub(crate) async fn card_for_print_in(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        principal: &Principal,
        customer_id: &str,
        approval_id: &str,
        ctx: &RequestContext,
    ) -> Result<CustomerCard, CoreError> {
        let record =
            tx.customer(customer_id).await?.filter(|r| crate::Base::reads_client(principal, &r.client_id));
        let record = record.ok_or(CoreError::NotFound { what: "customer" })?;
        let policy = self.policy_in_force().await?;
        let mut shown = std::collections::BTreeSet::new();
        let card = self.masked_card(&record, &policy, principal, &mut shown)?;
        let e = AuditEvent::of(&actions::CUSTOMER_PRINT, principal.actor(), Outcome::Success)
            .object(self.base.audit_object("customer", &record.id))
            .detail("fields", shown.iter().copied().collect::<Vec<_>>().join(","))
            .detail("approval", approval_id.to_owned());
        self.base.audit(tx, ctx, e).await?;
        Ok(card)
    }

    /// Whether the principal may read this customer (a print may be asked for it); the client
    /// company's id if so. Another client's customer is not found (and the attempt recorded).
    pub(crate) async fn readable_customer(
        &self,
        principal: &Principal,
        customer_id: &str,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        check_id(customer_id, "customer")?;
        self.base.permitted(principal, Permission::CustomersRead, &actions::CUSTOMER_PRINT, ctx).await?;
        let record = self.base.store.read().await?.customer(customer_id).await?;
        let record = record.ok_or(CoreError::NotFound { what: "customer" })?;
        let resource = Resource::Customer { client_id: &record.client_id };
        let attempt = self.customer_attempt(&actions::CUSTOMER_PRINT, &record);
        self.base.authorize(principal, Permission::CustomersRead, resource, attempt, ctx).await?;
        Ok(record.client_id)
    }

    fn customer_attempt(&self, action: &'static Action, record: &CustomerRecord) -> Attempt {
        let mut attempt = Attempt::of(action).on(self.base.audit_object("customer", &record.id), "customer");
        attempt.details.push(("client", record.client_id.clone()));
        attempt
    }

    /// The password of an export's download: derived from the index key, the request and the
    /// ticket, so it is never stored and only this installation can derive it again. 20
    /// characters of an alphabet without look-alikes (0/O, 1/I), in groups of four: 100 bits.
    pub(crate) fn export_password(&self, approval_id: &str, ticket: &str) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let digest = self.vault_index.digest("export_password", &format!("{approval_id}:{ticket}"));
        let mut password = String::with_capacity(24);
        for (i, byte) in digest.iter().take(20).enumerate() {
            if i > 0 && i % 4 == 0 {
                password.push('-');
            }
            password.push(char::from(ALPHABET[usize::from(byte % 32)]));
        }
        password
    }

    /// A page of a client company's records registered in `[from, before)`, after `after_id`.
    pub(crate) async fn client_page(
        &self,
        client_id: &str,
        from: mamori_domain::UnixMillis,
        before: mamori_domain::UnixMillis,
        after_id: &str,
        limit: i64,
    ) -> Result<Vec<CustomerRecord>, CoreError> {
        let mut read = self.base.store.read().await?;
        Ok(read.client_customers_page(client_id, from, before, after_id, limit).await?)
    }

    /// A record's `fields` for an export, opened in full — but a card number masked to its last
    /// four digits (a full card number never leaves in a file). A field the record lacks is
    /// empty.
    pub(crate) fn export_values(
        &self,
        record: &CustomerRecord,
        fields: &[CustomerField],
    ) -> Result<Vec<String>, CoreError> {
        let sealed = decode_field_set(&record.fields)?;
        let key = self.record_key(record)?;
        let mut values = Vec::with_capacity(fields.len());
        for field in fields {
            let value = match sealed.iter().find(|(name, _)| *name == field.as_str()) {
                Some((_, ciphertext)) => {
                    let plain = key.open(&record.id, field.as_str(), ciphertext)?;
                    let text = String::from_utf8_lossy(&plain).into_owned();
                    match field {
                        CustomerField::CardNumber => mask(field.kind(), &text, Mask::Partial),
                        _ => text,
                    }
                }
                None => String::new(),
            };
            values.push(value);
        }
        Ok(values)
    }

    /// A record's data key, unwrapped (in memory only).
    fn record_key(&self, record: &CustomerRecord) -> Result<DataKey, CoreError> {
        Ok(self.vault_kek.unwrap(&record.id, &WrappedKey::from_bytes(record.wrapped_key.clone())?)?)
    }

    /// One field of a record, opened (with the record's data key, for sealing what goes with it).
    fn open_field(
        &self,
        record: &CustomerRecord,
        field: CustomerField,
    ) -> Result<(DataKey, String), CoreError> {
        let sealed = decode_field_set(&record.fields)?;
        let ciphertext = sealed
            .iter()
            .find(|(name, _)| *name == field.as_str())
            .map(|(_, c)| *c)
            .ok_or(CoreError::NotFound { what: "value of this field" })?;
        let key = self.record_key(record)?;
        let value = String::from_utf8_lossy(&key.open(&record.id, field.as_str(), ciphertext)?).into_owned();
        Ok((key, value))
    }

    /// Whether the principal's roles see this field masked — what a reveal, and a request for
    /// one beyond the allowance, is for. A hidden field is refused (and recorded), a field shown
    /// in full needs no reveal.
    pub(crate) async fn revealable(
        &self,
        principal: &Principal,
        record: &CustomerRecord,
        field: CustomerField,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        match self.policy_in_force().await?.mask(&principal.user.roles, field) {
            Mask::Partial => Ok(()),
            Mask::Full => Err(CoreError::invalid(
                "field",
                ErrorCode::InvalidValue,
                "your role sees this field in full already",
            )),
            Mask::Hidden => {
                let e = AuditEvent::of(&actions::CUSTOMER_REVEAL, principal.actor(), Outcome::Denied)
                    .object(self.base.audit_object("customer", &record.id))
                    .detail("field", field.as_str())
                    .detail("reason", "field_hidden");
                self.base.record_denied(ctx, e).await;
                Err(CoreError::Forbidden("your role does not see this field"))
            }
        }
    }

    /// A reveal a supervisor approved beyond the allowance (issue 15, item 6): the field opened
    /// in the caller's transaction (where the grant is used), with its `customer.reveal` entry
    /// (purpose `approval`). Not counted against the allowance: the approval is what allows it.
    pub(crate) async fn reveal_approved_in(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        principal: &Principal,
        customer_id: &str,
        field: CustomerField,
        approval_id: &str,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        let record =
            tx.customer(customer_id).await?.filter(|r| crate::Base::reads_client(principal, &r.client_id));
        let record = record.ok_or(CoreError::NotFound { what: "customer" })?;
        if self.policy_in_force().await?.mask(&principal.user.roles, field) == Mask::Hidden {
            return Err(CoreError::Forbidden("your role does not see this field"));
        }
        let (_, value) = self.open_field(&record, field)?;
        let e = AuditEvent::of(&actions::CUSTOMER_REVEAL, principal.actor(), Outcome::Success)
            .object(self.base.audit_object("customer", &record.id))
            .detail("field", field.as_str())
            .detail("purpose", "approval")
            .detail("approval", approval_id.to_owned());
        self.base.audit(tx, ctx, e).await?;
        Ok(value)
    }

    /// Shows one masked field of one customer in full: a separate action, with a reason, counted
    /// against the user's reveal allowance and recorded before the value is returned. Beyond the
    /// allowance it is refused with [`ALLOWANCE_SPENT`]; the user may then ask their supervisor
    /// (`Core::request_reveal`).
    pub async fn reveal_field(
        &self,
        principal: &Principal,
        customer_id: &str,
        field: &str,
        purpose: &Purpose,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        let (field, code, text) = reveal_asked(customer_id, field, purpose)?;
        let record = self.base.store.read().await?.customer(customer_id).await?;
        let record = self.in_client_scope(principal, record, &actions::CUSTOMER_REVEAL, ctx).await?;
        let refused = |reason: &str| {
            AuditEvent::of(&actions::CUSTOMER_REVEAL, principal.actor(), Outcome::Denied)
                .object(self.base.audit_object("customer", &record.id))
                .detail("field", field.as_str())
                .detail("reason", reason)
        };
        let level = self.policy_in_force().await?.mask(&principal.user.roles, field);
        if level == Mask::Hidden {
            self.base.record_denied(ctx, refused("field_hidden")).await;
            return Err(CoreError::Forbidden("your role does not see this field"));
        }
        if level == Mask::Partial {
            // Counted once across replicas, and kept across restarts.
            let allowed = self
                .base
                .take_token(&format!("reveal:{}", principal.user.id), self.base.policies.reveals)
                .await?;
            if !allowed {
                self.base.record_denied(ctx, refused("allowance")).await;
                return Err(CoreError::Forbidden(ALLOWANCE_SPENT));
            }
        }
        let (key, value) = self.open_field(&record, field)?;
        let e = AuditEvent::of(&actions::CUSTOMER_REVEAL, principal.actor(), Outcome::Success)
            .object(self.base.audit_object("customer", &record.id))
            .detail("field", field.as_str())
            .detail("purpose", "reason")
            .detail("reason_code", code.clone())
            .detail("reason_text_chars", text.trim().chars().count().to_string())
            .detail(SEALED_REASON, seal_reason(&key, &record.id, text)?);
        self.base.audit_access(ctx, e).await?;
        Ok(value)
    }
}

impl Vault {
    /// How many data keys — customers' and vendor files' — are wrapped below `version`.
    async fn to_rewrap(&self, version: u32) -> Result<i64, CoreError> {
        let mut read = self.base.store.read().await?;
        Ok(read.count_customers_to_rewrap(version).await?
            + read.count_vendor_files_to_rewrap(version).await?
            + read.count_check_photos_to_rewrap(version).await?)
    }

    /// Destroys the key versions older than the current one, once no record needs them (a
    /// rotation has finished). Database copies made before — backups, WAL archives, PostgreSQL's
    /// dead rows — can then no longer be opened, and so neither can the customers erased since.
    /// Returns the versions destroyed.
    pub async fn retire_vault_keys(&self) -> Result<Vec<u32>, CoreError> {
        let current = self.vault_kek.current_version();
        let pending = self.to_rewrap(current).await?;
        if pending > 0 {
            return Err(CoreError::Conflict(format!(
                "{pending} records are still wrapped by older key versions: run `mamori keys rotate` to finish the rotation first"
            )));
        }
        let retired = self.vault_kek.retire_before(current)?;
        let versions = retired.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let e = AuditEvent::of(&actions::KEYS_RETIRE, mamori_audit::Actor::System, Outcome::Success)
            .object("vault_kek")
            .detail("retired", versions)
            .detail("current", current.to_string());
        self.base.audit_access(&RequestContext::default(), e).await?;
        Ok(retired)
    }
}
