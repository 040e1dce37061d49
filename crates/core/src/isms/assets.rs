//! Information assets (issue 17, item 1; ISMS-1, TW-2): the register a person keeps, and the
//! assets Mamori keeps in step — each ledger PC, and each client company's customer data in the
//! vault. A followed asset takes its name, place and owner from its source; its ratings,
//! review date and notes are the register's. Every version stays; every change is audited.
//! Equipment — a ledger PC or a registered machine — retires only with its disposal record
//! (`disposals.rs`, LEAK-3): a revoked PC's asset stays in force, flagged, until then.

use super::Isms;
use crate::{Core, CoreError, Principal, check_id, new_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::isms::asset::{AssetError, AssetInput, AssetKind, AssetSource, Confidentiality};
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
pub use mamori_store::AssetRecord;
pub use mamori_store::{AssetListQuery, AssetOwnerFilter, AssetSort};
use mamori_store::{OrgKind, StoreTx};
use std::collections::HashMap;

/// An asset as a list shows it: the record and its owner's name.
#[derive(Debug, Clone)]
pub struct AssetView {
    pub record: AssetRecord,
    pub owner: Option<String>,
    /// A ledger PC's asset in force whose PC is revoked: its disposal is still to be recorded.
    pub revoked_not_disposed: bool,
}

/// The ledger PCs that are revoked (their assets in force await a disposal record).
async fn revoked_devices(
    read: &mut dyn mamori_store::StoreRead,
) -> Result<std::collections::HashSet<String>, CoreError> {
    Ok(read.list_devices().await?.into_iter().filter(|d| d.revoked_at.is_some()).map(|d| d.id).collect())
}

fn view_of(
    record: AssetRecord,
    names: &HashMap<String, String>,
    revoked: &std::collections::HashSet<String>,
) -> AssetView {
    AssetView {
        owner: record.owner_id.as_ref().and_then(|o| names.get(o)).cloned(),
        revoked_not_disposed: record.retired_at.is_none()
            && record.source == AssetSource::Device.as_str()
            && record.source_id.as_ref().is_some_and(|d| revoked.contains(d)),
        record,
    }
}

/// A page of the asset register: its assets with their owners' names, and the counts of
/// everything the query matches.
#[derive(Debug, Clone)]
pub struct AssetPageView {
    pub assets: Vec<AssetView>,
    /// Assets the query matches, on every page.
    pub total: i64,
    /// Of them, those in force whose review date has passed (today in Japan).
    pub overdue: i64,
    pub offset: i64,
    pub limit: i64,
}

/// A page holds this many assets unless asked otherwise…
pub const ASSET_PAGE_DEFAULT: i64 = 100;
/// …and at most this many.
pub const ASSET_PAGE_MAX: i64 = 500;
/// The longest text searched for.
pub const ASSET_SEARCH_MAX: usize = 200;

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

pub(super) fn record_of(
    id: String,
    input: AssetInput,
    source: AssetSource,
    source_id: Option<String>,
) -> AssetRecord {
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
pub(super) async fn store_version(
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
        let revoked = revoked_devices(&mut *read).await?;
        let assets = read.assets(include_retired).await?;
        Ok(assets.into_iter().map(|record| view_of(record, &names, &revoked)).collect())
    }

    /// One page of the assets `query` matches, in its order, with their owners' names; the
    /// filters and the sort run in the store, so a page costs the same however large the
    /// register. A value out of range is refused by name (`invalid_query`).
    pub async fn asset_page(
        &self,
        principal: &Principal,
        mut query: AssetListQuery,
        ctx: &RequestContext,
    ) -> Result<AssetPageView, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let bad =
            |field: &'static str, message: &str| CoreError::invalid(field, ErrorCode::InvalidQuery, message);
        if !(1..=ASSET_PAGE_MAX).contains(&query.limit) {
            return Err(bad("limit", &format!("limit must be 1 to {ASSET_PAGE_MAX}")));
        }
        if query.offset < 0 {
            return Err(bad("offset", "offset must be 0 or more"));
        }
        if query.kind.as_deref().is_some_and(|k| AssetKind::parse(k).is_none()) {
            return Err(bad("kind", "an unknown kind of asset"));
        }
        if query.confidentiality.as_deref().is_some_and(|c| Confidentiality::parse(c).is_none()) {
            return Err(bad("confidentiality", "an unknown confidentiality grade"));
        }
        if query.source.as_deref().is_some_and(|s| AssetSource::parse(s).is_none()) {
            return Err(bad("source", "an unknown source"));
        }
        if let Some(AssetOwnerFilter::User(id)) = &query.owner
            && uuid::Uuid::parse_str(id).is_err()
        {
            return Err(bad("owner", "a user's id, or `none`"));
        }
        query.text = query.text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if let Some(t) = &query.text
            && (t.chars().count() > ASSET_SEARCH_MAX || t.chars().any(char::is_control))
        {
            return Err(bad("q", &format!("at most {ASSET_SEARCH_MAX} characters, no control characters")));
        }
        query.overdue_before = Some(crate::jst::day(self.base.now()));
        let mut read = self.base.store.read().await?;
        let page = read.asset_page(&query).await?;
        let names = display_names(&mut *read).await?;
        let revoked = revoked_devices(&mut *read).await?;
        Ok(AssetPageView {
            assets: page.assets.into_iter().map(|record| view_of(record, &names, &revoked)).collect(),
            total: page.total,
            overdue: page.overdue,
            offset: query.offset,
            limit: query.limit,
        })
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
        let revoked = revoked_devices(&mut *read).await?;
        Ok(AssetDetail { asset: view_of(record, &names, &revoked), history, names })
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

    /// Retires an asset a person registered (a followed one retires with its source). Equipment
    /// retires only with its disposal record (LEAK-3).
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
        if current.source == AssetSource::Device.as_str() {
            return Err(CoreError::Conflict(
                "this asset follows a PC of the device ledger: revoke the PC, then record its disposal in the \
                 disposal register, which retires it"
                    .into(),
            ));
        }
        if current.source != AssetSource::Manual.as_str() {
            return Err(CoreError::Conflict(
                "this asset follows a client company's data: it retires when its source does".into(),
            ));
        }
        if current.kind == AssetKind::Equipment.as_str() {
            return Err(CoreError::Conflict(
                "equipment retires with its disposal: record how it was disposed of in the disposal register \
                 (POST /api/v1/isms/disposals, naming this asset), which retires it"
                    .into(),
            ));
        }
        current.retired_at = Some(self.base.now());
        store_version(&self.base, &mut tx, current, principal.actor(), "retire", ctx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The id of a client company's customer-data asset: the same in every install for the same
/// company name, so a register exported from one install (risks naming the asset) imports into
/// another where the company was set up by hand.
pub(super) fn client_data_asset_id(client_name: &str) -> String {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d61_6d6f_7269_4153_5345_5400_0000_0001);
    uuid::Uuid::new_v5(&NAMESPACE, format!("client_data:{client_name}").as_bytes()).to_string()
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
    /// is followed. A revoked PC's asset stays as it is, in force, until its disposal is
    /// recorded (which retires it). Returns how many assets changed.
    pub async fn sync_followed_assets(&self) -> Result<usize, CoreError> {
        // Two replicas (or the evidence task and a request) may sync at once; the loser of the
        // race meets the winner's row, and a fresh look finds nothing left to do.
        let mut attempt = 0;
        loop {
            match self.sync_followed_assets_once().await {
                Err(CoreError::Store(mamori_store::StoreError::Conflict(_))) if attempt < 3 => attempt += 1,
                done => return done,
            }
        }
    }

    async fn sync_followed_assets_once(&self) -> Result<usize, CoreError> {
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
        // (`revoked` for a PC: no asset is made for it, and its asset is left alone.)
        let mut wanted: Vec<(AssetSource, String, AssetInput, bool, String)> = Vec::new();
        for d in devices {
            let place = d.site_id.as_ref().and_then(|s| sites.get(s)).cloned().unwrap_or_default();
            let input = AssetInput::device_defaults(d.hostname.clone(), place, d.user_id.clone());
            wanted.push((AssetSource::Device, d.id, input, d.revoked_at.is_some(), new_id()));
        }
        for c in clients {
            let input = AssetInput::client_data_defaults(format!("顧客データ: {}", c.name));
            wanted.push((AssetSource::ClientData, c.id, input, false, client_data_asset_id(&c.name)));
        }
        let mut changed = 0;
        let mut tx = self.base.store.begin().await?;
        let ctx = RequestContext::default();
        for (source, source_id, input, retired, new_asset_id) in wanted {
            let change = match followed.get(&(source.as_str().to_owned(), source_id.clone())) {
                None if retired => None,
                None => Some(("create", record_of(new_asset_id, input, source, Some(source_id)))),
                Some(a) if a.retired_at.is_some() => None,
                // Revoking cuts the agent; the machine still exists until it is disposed of.
                Some(_) if retired => None,
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
