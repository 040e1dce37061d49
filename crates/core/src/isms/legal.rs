//! The legal register (issue 17, item 6; ISMS-4): the laws, regulations, guidelines, contracts
//! with client companies and certification rules the centre complies with, each with what it
//! requires of the centre, an owner and a review date. Every change is a new version, audited
//! as `legal.change`; a retired requirement keeps its history. Its review dates join the
//! dashboard's reviews and the e-mail reminders (`dashboard.rs`).

use super::Isms;
use super::assets::display_names;
use crate::{CoreError, Principal, check_id, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::isms::legal::{LegalError, LegalInput};
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
pub use mamori_store::LegalRecord;
use mamori_store::{OrgKind, StoreTx};
use std::collections::HashMap;

fn refused(e: LegalError) -> CoreError {
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    CoreError::Invalid { field: e.field, code, message: e.message }
}

/// A requirement as a list shows it: the record with its owner's and client company's names.
#[derive(Debug, Clone)]
pub struct LegalView {
    pub record: LegalRecord,
    pub owner: Option<String>,
    /// A contract's client company.
    pub client: Option<String>,
}

/// One requirement with every version.
#[derive(Debug, Clone)]
pub struct LegalDetail {
    pub requirement: LegalView,
    /// Newest first.
    pub history: Vec<LegalRecord>,
    /// Display names of the people (`user:<id>` and ids) and client companies (ids) in the
    /// history.
    pub names: HashMap<String, String>,
}

impl Isms {
    /// The requirements in force (retired ones too when asked), by kind and title, with the
    /// names of their owners and client companies.
    pub async fn legal_register(
        &self,
        principal: &Principal,
        include_retired: bool,
        ctx: &RequestContext,
    ) -> Result<Vec<LegalView>, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let names = legal_names(&mut *read).await?;
        let requirements = read.legal_requirements(include_retired).await?;
        Ok(requirements.into_iter().map(|r| view_of(r, &names)).collect())
    }

    /// One requirement and its history.
    pub async fn legal_requirement(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<LegalDetail, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        check_id(id, "legal requirement")?;
        let mut read = self.base.store.read().await?;
        let record =
            read.legal_requirement(id).await?.ok_or(CoreError::NotFound { what: "legal requirement" })?;
        let history = read.legal_history(id).await?;
        let names = legal_names(&mut *read).await?;
        Ok(LegalDetail { requirement: view_of(record, &names), history, names })
    }

    /// Registers a requirement; returns its id.
    pub async fn create_legal(
        &self,
        principal: &Principal,
        input: LegalInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::LEGAL_CHANGE, ctx).await?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        check_links(&mut tx, &input).await?;
        let id = new_id();
        self.store_legal(&mut tx, principal, record_of(id.clone(), input), "create", ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes a requirement in force: a new version.
    pub async fn update_legal(
        &self,
        principal: &Principal,
        id: &str,
        input: LegalInput,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::LEGAL_CHANGE, ctx).await?;
        check_id(id, "legal requirement")?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        in_force(&mut tx, id).await?;
        check_links(&mut tx, &input).await?;
        let version =
            self.store_legal(&mut tx, principal, record_of(id.to_owned(), input), "update", ctx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Retires a requirement (a last version, retired): it leaves the register and the
    /// reviews; its history stays.
    pub async fn retire_legal(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::LEGAL_CHANGE, ctx).await?;
        check_id(id, "legal requirement")?;
        let mut tx = self.base.store.begin().await?;
        let mut record = in_force(&mut tx, id).await?;
        record.retired_at = Some(self.base.now());
        let version = self.store_legal(&mut tx, principal, record, "retire", ctx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Stores a version and its audit entry in `tx`.
    pub(super) async fn store_legal(
        &self,
        tx: &mut Box<dyn StoreTx>,
        principal: &Principal,
        mut record: LegalRecord,
        change: &'static str,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        record.changed_at = self.base.now();
        record.changed_by = principal.actor().encode();
        let version = tx.put_legal_requirement(&record).await?;
        let e = AuditEvent::of(&actions::LEGAL_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("legal:{}", record.id))
            .detail("change", change)
            .detail("version", version.to_string())
            .detail("kind", record.kind.clone());
        self.base.audit(tx, ctx, e).await?;
        Ok(version)
    }
}

pub(super) fn record_of(id: String, input: LegalInput) -> LegalRecord {
    LegalRecord {
        id,
        version: 0,
        kind: input.kind.as_str().to_owned(),
        title: input.title,
        reference: input.reference,
        obligations: input.obligations,
        client_id: input.client_id,
        owner_id: input.owner_id,
        review_on: input.review_on,
        notes: input.notes,
        retired_at: None,
        changed_at: UnixMillis(0),
        changed_by: String::new(),
    }
}

fn view_of(record: LegalRecord, names: &HashMap<String, String>) -> LegalView {
    LegalView {
        owner: record.owner_id.as_ref().and_then(|o| names.get(o)).cloned(),
        client: record.client_id.as_ref().and_then(|c| names.get(c)).cloned(),
        record,
    }
}

/// People (by id and as `user:<id>`) and client companies (by id), named.
async fn legal_names(read: &mut dyn mamori_store::StoreRead) -> Result<HashMap<String, String>, CoreError> {
    let mut names = display_names(read).await?;
    names.extend(read.list_org_units(OrgKind::Client).await?.into_iter().map(|u| (u.id, u.name)));
    Ok(names)
}

async fn in_force(tx: &mut Box<dyn StoreTx>, id: &str) -> Result<LegalRecord, CoreError> {
    let current = tx.legal_requirement(id).await?;
    current.filter(|r| r.retired_at.is_none()).ok_or(CoreError::NotFound { what: "legal requirement" })
}

/// The owner is an active user; a contract's client company exists.
async fn check_links(tx: &mut Box<dyn StoreTx>, input: &LegalInput) -> Result<(), CoreError> {
    if let Some(owner) = &input.owner_id {
        let active = tx
            .user_by_id(owner)
            .await?
            .is_some_and(|u| u.status == mamori_domain::identity::UserStatus::Active);
        if !active {
            return Err(CoreError::invalid(
                "owner_id",
                ErrorCode::InvalidValue,
                "the owner is not an active user",
            ));
        }
    }
    if let Some(client) = &input.client_id {
        let known = tx.list_org_units(OrgKind::Client).await?.iter().any(|u| &u.id == client);
        if !known {
            return Err(CoreError::invalid(
                "client_id",
                ErrorCode::InvalidValue,
                format!("no client company has the id {client}"),
            ));
        }
    }
    Ok(())
}
