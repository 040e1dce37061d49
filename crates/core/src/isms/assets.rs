//! Information assets (issue 17, item 1; ISMS-1, TW-2): the register a person keeps, and the
//! assets Mamori keeps in step — each ledger PC, and each client company's customer data in the
//! vault. A followed asset takes its name, place and owner from its source; its ratings,
//! review date and notes are the register's. Every version stays; every change is audited.

use super::Isms;
use crate::{Core, CoreError, Principal, check_id, new_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::isms::asset::{AssetError, AssetInput, AssetKind, AssetSource};
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
pub use mamori_store::AssetRecord;
use mamori_store::{OrgKind, StoreTx};
use std::collections::HashMap;

/// An asset as a list shows it: the record and its owner's name.
#[derive(Debug, Clone)]
pub struct AssetView {
    pub record: AssetRecord,
    pub owner: Option<String>,
}

/// One asset with every version.
#[derive(Debug, Clone)]
pub struct AssetDetail {
    pub asset: AssetView,
    pub history: Vec<AssetRecord>,
    /// Display names of the people in the history.
    pub names: HashMap<String, String>,
}

fn refused(e: AssetError) -> CoreError {
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    CoreError::invalid(e.field, code, e.message)
}

fn record_of(id: String, input: AssetInput, source: AssetSource, source_id: Option<String>) -> AssetRecord {
    AssetRecord {
        id,
        version: 0,
        kind: input.kind.as_str().to_owned(),
        name: input.name,
        owner_id: input.owner_id,
        location: input.location,
        confidentiality: input.confidentiality.as_str().to_owned(),
        integrity: input.integrity.as_str().to_owned(),
        availability: input.availability.as_str().to_owned(),
        allowed: input.allowed,
        review_on: input.review_on,
        notes: input.notes,
        source: source.as_str().to_owned(),
        source_id,
        retired_at: None,
        changed_at: UnixMillis(0),
        changed_by: String::new(),
    }
}

/// Stores a version and its audit entry in `tx`.
async fn store_version(
    base: &crate::Base,
    tx: &mut Box<dyn StoreTx>,
    mut record: AssetRecord,
    actor: Actor,
    change: &'static str,
    ctx: &RequestContext,
) -> Result<i64, CoreError> {
    record.changed_at = base.now();
    record.changed_by = actor.encode();
    let version = tx.put_asset(&record).await?;
    let e = AuditEvent::of(&actions::ASSET_CHANGE, actor, Outcome::Success)
        .object(format!("asset:{}", record.id))
        .detail("change", change)
        .detail("version", version.to_string())
        .detail("kind", record.kind.clone());
    base.audit(tx, ctx, e).await?;
    Ok(version)
}

impl Isms {
    /// The assets in force (retired ones too when asked), with their owners' names.
    pub async fn assets(
        &self,
        principal: &Principal,
        include_retired: bool,
        ctx: &RequestContext,
    ) -> Result<Vec<AssetView>, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let names = display_names(&mut *read).await?;
        let assets = read.assets(include_retired).await?;
        Ok(assets
            .into_iter()
            .map(|record| AssetView {
                owner: record.owner_id.as_ref().and_then(|o| names.get(o)).cloned(),
                record,
            })
            .collect())
    }

    pub async fn asset(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<AssetDetail, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        check_id(id, "asset")?;
        let mut read = self.base.store.read().await?;
        let record = read.asset(id).await?.ok_or(CoreError::NotFound { what: "asset" })?;
        let history = read.asset_history(id).await?;
        let names = display_names(&mut *read).await?;
        let owner = record.owner_id.as_ref().and_then(|o| names.get(o)).cloned();
        Ok(AssetDetail { asset: AssetView { record, owner }, history, names })
    }

    /// Registers an asset a person describes; returns its id.
    pub async fn create_asset(
        &self,
        principal: &Principal,
        input: AssetInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::ASSET_CHANGE, ctx).await?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        check_owner(&mut tx, input.owner_id.as_deref()).await?;
        let id = new_id();
        let record = record_of(id.clone(), input, AssetSource::Manual, None);
        store_version(&self.base, &mut tx, record, principal.actor(), "create", ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes an asset: a new version. A followed asset keeps its kind, name and place from
    /// its source; the rest is the register's.
    pub async fn update_asset(
        &self,
        principal: &Principal,
        id: &str,
        input: AssetInput,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::ASSET_CHANGE, ctx).await?;
        check_id(id, "asset")?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        let current = tx
            .asset(id)
            .await?
            .filter(|a| a.retired_at.is_none())
            .ok_or(CoreError::NotFound { what: "asset" })?;
        check_owner(&mut tx, input.owner_id.as_deref()).await?;
        let source = AssetSource::parse(&current.source).unwrap_or(AssetSource::Manual);
        let mut record = record_of(id.to_owned(), input, source, current.source_id.clone());
        if source != AssetSource::Manual {
            record.kind = current.kind;
            record.name = current.name;
            record.location = current.location;
        }
        let version = store_version(&self.base, &mut tx, record, principal.actor(), "update", ctx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Retires an asset a person registered (a followed one retires with its source).
    pub async fn retire_asset(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::ASSET_CHANGE, ctx).await?;
        check_id(id, "asset")?;
        let mut tx = self.base.store.begin().await?;
        let mut current = tx
            .asset(id)
            .await?
            .filter(|a| a.retired_at.is_none())
            .ok_or(CoreError::NotFound { what: "asset" })?;
        if current.source != AssetSource::Manual.as_str() {
            return Err(CoreError::Conflict(
                "this asset follows the device ledger or a client company: it retires when its source does"
                    .into(),
            ));
        }
        current.retired_at = Some(self.base.now());
        store_version(&self.base, &mut tx, current, principal.actor(), "retire", ctx).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn check_owner(tx: &mut Box<dyn StoreTx>, owner: Option<&str>) -> Result<(), CoreError> {
    let Some(owner) = owner else { return Ok(()) };
    let active =
        tx.user_by_id(owner).await?.is_some_and(|u| u.status == mamori_domain::identity::UserStatus::Active);
    if active {
        Ok(())
    } else {
        Err(CoreError::invalid("owner_id", ErrorCode::InvalidValue, "the owner is not an active user"))
    }
}

pub(crate) async fn display_names(
    read: &mut dyn mamori_store::StoreRead,
) -> Result<HashMap<String, String>, CoreError> {
    Ok(read
        .list_users()
        .await?
        .into_iter()
        .flat_map(|u| [(u.id.clone(), u.display_name.clone()), (format!("user:{}", u.id), u.display_name)])
        .collect())
}

impl Core {
    /// Keeps the followed assets in step with their sources (actor `system`): a new ledger PC
    /// or client company gets its asset with default ratings; a changed name, place or person
    /// is followed; a revoked PC's asset is retired. Returns how many assets changed.
    pub async fn sync_followed_assets(&self) -> Result<usize, CoreError> {
        let mut read = self.base.store.read().await?;
        let devices = read.list_devices().await?;
        let sites: HashMap<String, String> =
            read.list_org_units(OrgKind::Site).await?.into_iter().map(|u| (u.id, u.name)).collect();
        let clients = read.list_org_units(OrgKind::Client).await?;
        let followed: HashMap<(String, String), AssetRecord> = read
            .assets(true)
            .await?
            .into_iter()
            .filter_map(|a| a.source_id.clone().map(|s| ((a.source.clone(), s), a)))
            .collect();
        drop(read);
        // What each source says now: its defaults (name, place, person) and whether it is gone.
        let mut wanted: Vec<(AssetSource, String, AssetInput, bool)> = Vec::new();
        for d in devices {
            let place = d.site_id.as_ref().and_then(|s| sites.get(s)).cloned().unwrap_or_default();
            let input = AssetInput::device_defaults(d.hostname.clone(), place, d.user_id.clone());
            wanted.push((AssetSource::Device, d.id, input, d.revoked_at.is_some()));
        }
        for c in clients {
            let input = AssetInput::client_data_defaults(format!("顧客データ: {}", c.name));
            wanted.push((AssetSource::ClientData, c.id, input, false));
        }
        let mut changed = 0;
        let mut tx = self.base.store.begin().await?;
        let ctx = RequestContext::default();
        for (source, source_id, input, retired) in wanted {
            let change = match followed.get(&(source.as_str().to_owned(), source_id.clone())) {
                None if retired => None,
                None => Some(("create", record_of(new_id(), input, source, Some(source_id)))),
                Some(a) if a.retired_at.is_some() => None,
                Some(a) if retired => {
                    Some(("retire", AssetRecord { retired_at: Some(self.base.now()), ..a.clone() }))
                }
                Some(a) => {
                    let owner =
                        if input.kind == AssetKind::Equipment { input.owner_id } else { a.owner_id.clone() };
                    let now = AssetRecord {
                        name: input.name,
                        location: input.location,
                        owner_id: owner,
                        ..a.clone()
                    };
                    (now.name != a.name || now.location != a.location || now.owner_id != a.owner_id)
                        .then_some(("sync", now))
                }
            };
            if let Some((change, record)) = change {
                store_version(&self.base, &mut tx, record, Actor::System, change, &ctx).await?;
                changed += 1;
            }
        }
        tx.commit().await?;
        Ok(changed)
    }
}

/// Whether an audit action may change what followed assets follow.
pub(crate) fn moves_followed_assets(action: &str) -> bool {
    matches!(action, "device.enrol" | "device.revoke" | "site.create" | "client.create")
}
