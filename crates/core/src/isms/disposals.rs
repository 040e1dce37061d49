//! The disposal register (issue 18, item 7; LEAK-3): each PC, disk, medium or batch of paper
//! disposed of, with its method, witness and the disposal company's certificate. Records are
//! only added, each audited as `disposal.record`. A ledger PC leaves the asset register only
//! here: a revoked PC's asset stays in force (flagged) until its disposal is recorded, and so
//! does a registered piece of equipment — the record retires the asset it names (`asset.change`
//! `dispose`) in the same transaction.

use super::Isms;
use super::assets::{display_names, store_version};
use crate::{CoreError, Principal, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::isms::asset::{AssetKind, AssetSource};
use mamori_domain::isms::disposal::{DisposalError, DisposalInput};
use mamori_proto::ErrorCode;
pub use mamori_store::DisposalRecord;
use mamori_store::StoreTx;
use std::collections::HashMap;

fn refused(e: DisposalError) -> CoreError {
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    CoreError::Invalid { field: e.field, code, message: e.message }
}

/// A record as the register shows it: with the names of the people, the asset and the PC.
#[derive(Debug, Clone)]
pub struct DisposalView {
    pub record: DisposalRecord,
    pub witness: Option<String>,
    /// Who recorded it.
    pub recorder: Option<String>,
    pub asset: Option<String>,
    /// The ledger PC's host name.
    pub device: Option<String>,
}

/// The register with what its form offers.
#[derive(Debug, Clone)]
pub struct DisposalRegister {
    /// Newest first.
    pub disposals: Vec<DisposalView>,
    /// Ledger PCs revoked whose disposal is not recorded: (device id, host name).
    pub revoked_not_disposed: Vec<(String, String)>,
    /// Assets in force a disposal may name: (asset id, name).
    pub disposable_assets: Vec<(String, String)>,
}

/// Kinds of asset that are disposed of (a carrier of information); people, premises, software
/// and cloud services are not.
fn disposable(kind: &str) -> bool {
    [AssetKind::Equipment, AssetKind::Document, AssetKind::CustomerData].iter().any(|k| k.as_str() == kind)
}

impl Isms {
    /// The disposal register, the latest disposed first, named.
    pub async fn disposals(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<DisposalRegister, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let records = read.disposals().await?;
        let people = display_names(&mut *read).await?;
        let devices = read.list_devices().await?;
        let assets = read.assets(true).await?;
        drop(read);
        let hosts: HashMap<&str, &str> =
            devices.iter().map(|d| (d.id.as_str(), d.hostname.as_str())).collect();
        let asset_names: HashMap<&str, &str> =
            assets.iter().map(|a| (a.id.as_str(), a.name.as_str())).collect();
        let disposals = records
            .into_iter()
            .map(|r| DisposalView {
                witness: people.get(&r.witness_id).cloned(),
                recorder: people.get(&r.recorded_by).cloned(),
                asset: r.asset_id.as_deref().and_then(|a| asset_names.get(a)).map(|n| (*n).to_owned()),
                device: r.device_id.as_deref().and_then(|d| hosts.get(d)).map(|h| (*h).to_owned()),
                record: r,
            })
            .collect::<Vec<_>>();
        let revoked_not_disposed = revoked_not_disposed(&devices, &disposals);
        let disposable_assets = assets
            .iter()
            .filter(|a| {
                a.retired_at.is_none() && disposable(&a.kind) && a.source != AssetSource::ClientData.as_str()
            })
            .map(|a| (a.id.clone(), a.name.clone()))
            .collect();
        Ok(DisposalRegister { disposals, revoked_not_disposed, disposable_assets })
    }

    /// Records a disposal; returns its id. The witness is an active user other than the
    /// recorder; a named PC must be revoked already; the asset it names (a PC's own asset when
    /// only the PC is named) retires with it.
    pub async fn record_disposal(
        &self,
        principal: &Principal,
        input: DisposalInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::DISPOSAL_RECORD, ctx).await?;
        let today = crate::jst::day(self.base.now());
        let input = input.checked(&today).map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        check_witness(&mut tx, principal, &input.witness_id).await?;
        let asset = linked_asset(&mut tx, &input).await?;
        let id = new_id();
        let record = DisposalRecord {
            id: id.clone(),
            kind: input.kind.as_str().to_owned(),
            method: input.method.as_str().to_owned(),
            description: input.description,
            serial: input.serial,
            quantity: input.quantity,
            disposed_on: input.disposed_on,
            witness_id: input.witness_id,
            company: input.company,
            certificate: input.certificate,
            notes: input.notes,
            asset_id: asset.as_ref().map(|a| a.id.clone()),
            device_id: input.device_id,
            recorded_at: self.base.now(),
            recorded_by: principal.actor().encode(),
        };
        tx.insert_disposal(&record).await?;
        let mut e = AuditEvent::of(&actions::DISPOSAL_RECORD, principal.actor(), Outcome::Success)
            .object(format!("disposal:{id}"))
            .detail("kind", record.kind.clone())
            .detail("method", record.method.clone())
            .detail("witness", record.witness_id.clone());
        if let Some(a) = &record.asset_id {
            e = e.detail("asset", a.clone());
        }
        if let Some(d) = &record.device_id {
            e = e.detail("device", d.clone());
        }
        self.base.audit(&mut tx, ctx, e).await?;
        if let Some(mut asset) = asset.filter(|a| a.retired_at.is_none()) {
            asset.retired_at = Some(self.base.now());
            store_version(&self.base, &mut tx, asset, principal.actor(), "dispose", ctx).await?;
        }
        tx.commit().await?;
        Ok(id)
    }
}

/// Revoked ledger PCs no disposal names, by host name.
fn revoked_not_disposed(
    devices: &[mamori_store::DeviceRecord],
    disposals: &[DisposalView],
) -> Vec<(String, String)> {
    let disposed: std::collections::HashSet<&str> =
        disposals.iter().filter_map(|d| d.record.device_id.as_deref()).collect();
    let mut left: Vec<(String, String)> = devices
        .iter()
        .filter(|d| d.revoked_at.is_some() && !disposed.contains(d.id.as_str()))
        .map(|d| (d.id.clone(), d.hostname.clone()))
        .collect();
    left.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    left
}

/// How many revoked ledger PCs have no disposal recorded (the live evidence of A.7.14).
pub(crate) async fn count_revoked_not_disposed(
    read: &mut dyn mamori_store::StoreRead,
) -> Result<usize, CoreError> {
    let devices = read.list_devices().await?;
    let disposed: std::collections::HashSet<String> =
        read.disposals().await?.into_iter().filter_map(|d| d.device_id).collect();
    Ok(devices.iter().filter(|d| d.revoked_at.is_some() && !disposed.contains(&d.id)).count())
}

async fn check_witness(
    tx: &mut Box<dyn StoreTx>,
    principal: &Principal,
    witness: &str,
) -> Result<(), CoreError> {
    let bad = |m: &str| CoreError::invalid("witness_id", ErrorCode::InvalidValue, m);
    if uuid::Uuid::parse_str(witness).is_err() {
        return Err(bad("no user has this id: choose the witness from the users"));
    }
    if principal.user.id == witness {
        return Err(bad("the witness is someone other than the person recording the disposal"));
    }
    let active = tx
        .user_by_id(witness)
        .await?
        .is_some_and(|u| u.status == mamori_domain::identity::UserStatus::Active);
    if !active {
        return Err(bad("the witness is not an active user"));
    }
    Ok(())
}

/// The asset the record retires: the one named, else the named PC's own. A named PC is in the
/// ledger and revoked; a named asset is in force (or already retired by an earlier record
/// this one corrects), of a kind that is disposed of, and follows the named PC if both are
/// named.
async fn linked_asset(
    tx: &mut Box<dyn StoreTx>,
    input: &DisposalInput,
) -> Result<Option<mamori_store::AssetRecord>, CoreError> {
    let device_bad = |m: String| CoreError::invalid("device_id", ErrorCode::InvalidValue, m);
    let asset_bad = |m: String| CoreError::invalid("asset_id", ErrorCode::InvalidValue, m);
    let followed = |device: &str, a: &mamori_store::AssetRecord| {
        a.source == AssetSource::Device.as_str() && a.source_id.as_deref() == Some(device)
    };
    let mut device_asset = None;
    if let Some(device) = &input.device_id {
        let known = if uuid::Uuid::parse_str(device).is_ok() { tx.device(device).await? } else { None };
        let Some(d) = known else {
            return Err(device_bad(format!("no PC in the device ledger has the id {device}")));
        };
        if d.revoked_at.is_none() {
            return Err(device_bad(format!(
                "{} is still enrolled: revoke it in the device ledger first (that cuts its agent), then record its disposal",
                d.hostname
            )));
        }
        device_asset = tx.assets(true).await?.into_iter().find(|a| followed(device, a));
    }
    let Some(asset_id) = &input.asset_id else { return Ok(device_asset) };
    let known = if uuid::Uuid::parse_str(asset_id).is_ok() { tx.asset(asset_id).await? } else { None };
    let Some(asset) = known else {
        return Err(asset_bad(format!("no asset has the id {asset_id}")));
    };
    if !disposable(&asset.kind) || asset.source == AssetSource::ClientData.as_str() {
        return Err(asset_bad(
            "only equipment, documents and registered customer data are disposed of; a client company's data follows the company"
                .into(),
        ));
    }
    if asset.source == AssetSource::Device.as_str() {
        let device = asset.source_id.clone().unwrap_or_default();
        match &input.device_id {
            Some(named) if *named == device => {}
            Some(_) => {
                return Err(asset_bad(
                    "this asset follows another PC of the ledger than the one named".into(),
                ));
            }
            None => {
                return Err(device_bad(
                    "this asset follows a PC of the ledger: name the PC (device_id), revoked first".into(),
                ));
            }
        }
    }
    Ok(Some(asset))
}
