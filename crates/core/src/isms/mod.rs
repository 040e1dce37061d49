//! The ISMS registers (issue 17; ISMS-1…4, ISMS-7, ISMS-9): control catalogs (Annex A, the
//! telework measures TW-1…13 and the leak countermeasures LEAK-1…14 ship built in; a centre
//! imports its own), the Statement of Applicability — each control's line a versioned row —
//! and beside every control the live evidence Mamori measures of itself (`evidence.rs`).
//!
//! Who: `isms.read` (security admins, auditors) reads; `isms.manage` (security admins) imports
//! catalogs and decides the SoA. Every change is an audit entry in its transaction.

pub mod access_reviews;
pub mod assets;
pub mod checks;
pub mod continuity;
pub mod dashboard;
pub mod disposals;
pub mod evidence;
pub mod internal_audits;
pub mod legal;
pub mod policies;
pub mod risks;
pub mod training;
pub mod transfer;
pub mod vendor_files;
pub mod vendors;

use crate::{Base, CoreError, Principal};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::isms::SoaDecision;
use mamori_domain::isms::catalog::{BUILT_IN, Catalog, CatalogError, parse_catalog};
use mamori_domain::isms::evidence::{EvidenceKind, EvidenceStatus};
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
pub use mamori_store::{CatalogRecord, ControlRecord, EvidenceRecord, SoaEntryRecord};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The audit entry of an SoA line's new version.
fn soa_event(actor: Actor, entry: &SoaEntryRecord, version: i64) -> AuditEvent {
    let e = AuditEvent::of(&actions::SOA_CHANGE, actor, Outcome::Success)
        .object(format!("control:{}", entry.control_urn))
        .detail("version", version.to_string())
        .detail("applicable", entry.applicable.to_string())
        .detail("implementation", entry.implementation.clone());
    match &entry.owner_id {
        Some(owner) => e.detail("owner", owner.clone()),
        None => e,
    }
}

/// The ISMS registers' service.
#[derive(Debug)]
pub struct Isms {
    base: Arc<Base>,
    /// The vault's key-encryption key: vendor files are sealed like customer records.
    vault_kek: Arc<dyn mamori_crypto::envelope::KeyProvider>,
}

/// What an import found (and, unless a dry run, installed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSummary {
    pub urn: String,
    pub name: String,
    pub version: i64,
    pub controls: usize,
    pub assessable: usize,
    pub mappings: usize,
    /// It replaced an installed version.
    pub replaced: bool,
}

/// A control as a list shows it: enough to name and link it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRef {
    pub urn: String,
    pub ref_id: String,
    pub name: String,
    pub name_ja: Option<String>,
}

/// One live evidence result, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceItem {
    pub kind: EvidenceKind,
    pub status: EvidenceStatus,
    pub value: String,
    /// Since when this result holds.
    pub computed_at: UnixMillis,
    /// When it was last measured.
    pub checked_at: UnixMillis,
}

/// One control's line in the Statement of Applicability.
#[derive(Debug, Clone)]
pub struct SoaLine {
    pub control: ControlRecord,
    /// The line in force (at the date asked), none while undecided.
    pub entry: Option<SoaEntryRecord>,
    /// The owner's display name.
    pub owner: Option<String>,
    /// Live evidence for the control (its own, or through its mappings to Annex A).
    pub evidence: Vec<EvidenceItem>,
    /// Controls of other catalogs it maps to, and that map to it.
    pub mapped: Vec<ControlRef>,
    /// The risks it treats: (risk id, `R-<number> <title>`).
    pub risks: Vec<(String, String)>,
    /// The assets those risks threaten: (asset id, name), by name.
    pub assets: Vec<(String, String)>,
}

impl SoaLine {
    /// The worst status among its evidence (none without evidence).
    pub fn evidence_status(&self) -> Option<EvidenceStatus> {
        self.evidence.iter().map(|e| e.status).filter(|s| *s != EvidenceStatus::NotApplicable).min()
    }
}

/// The Statement of Applicability of one catalog.
#[derive(Debug, Clone)]
pub struct Soa {
    pub catalogs: Vec<CatalogRecord>,
    pub catalog: CatalogRecord,
    /// Every node of the catalog in order, themes included (their `entry` is none).
    pub lines: Vec<SoaLine>,
    /// The date it is shown as of (none: now).
    pub at: Option<UnixMillis>,
}

/// One control with the whole history of its line.
#[derive(Debug, Clone)]
pub struct ControlDetail {
    pub line: SoaLine,
    pub catalog: CatalogRecord,
    pub history: Vec<SoaEntryRecord>,
    /// Display names of the people in the history (`changed_by` actors and owners).
    pub names: HashMap<String, String>,
}

impl Isms {
    pub(crate) fn new(base: Arc<Base>, vault_kek: Arc<dyn mamori_crypto::envelope::KeyProvider>) -> Self {
        Isms { base, vault_kek }
    }

    /// Installs the built-in catalogs that are missing or older than this binary's (at start,
    /// actor `system`). Returns how many were installed.
    pub async fn install_built_in_catalogs(&self) -> Result<usize, CoreError> {
        let installed: HashMap<String, i64> =
            self.base.store.read().await?.catalogs().await?.into_iter().map(|c| (c.urn, c.version)).collect();
        let mut count = 0;
        for text in BUILT_IN {
            let catalog =
                parse_catalog(text).map_err(|e| CoreError::Internal(format!("a built-in catalog: {e}")))?;
            if installed.get(&catalog.urn).is_some_and(|v| *v >= catalog.version) {
                continue;
            }
            self.install(&catalog, Actor::System, true, &RequestContext::default()).await?;
            count += 1;
        }
        Ok(count)
    }

    /// Reads a catalog file and, unless `dry_run`, installs it (replacing an older import of
    /// the same catalog). All or nothing: a file with any problem changes nothing.
    pub async fn import_catalog(
        &self,
        principal: &Principal,
        text: &str,
        dry_run: bool,
        ctx: &RequestContext,
    ) -> Result<CatalogSummary, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::CATALOG_IMPORT, ctx).await?;
        let catalog = parse_catalog(text).map_err(|e| {
            let field = match &e {
                CatalogError::Syntax { .. } => "file",
                CatalogError::Invalid { .. } => "catalog",
            };
            CoreError::invalid(field, ErrorCode::InvalidCatalog, e.to_string())
        })?;
        let mut read = self.base.store.read().await?;
        let stored = read.catalogs().await?;
        let existing = stored.iter().find(|c| c.urn == catalog.urn);
        if existing.is_some_and(|c| c.built_in) {
            return Err(CoreError::invalid(
                "catalog",
                ErrorCode::InvalidCatalog,
                format!(
                    "{} is built in and is updated with Mamori itself; give your catalog its own urn",
                    catalog.urn
                ),
            ));
        }
        // A control urn is one control: it may not belong to another catalog already.
        let others: HashMap<String, String> = read
            .catalog_controls(None)
            .await?
            .into_iter()
            .filter(|c| c.catalog_urn != catalog.urn)
            .map(|c| (c.urn, c.catalog_urn))
            .collect();
        drop(read);
        if let Some(c) = catalog.controls.iter().find(|c| others.contains_key(&c.urn)) {
            return Err(CoreError::invalid(
                "catalog",
                ErrorCode::InvalidCatalog,
                format!("control {} belongs to catalog {} already", c.urn, others[&c.urn]),
            ));
        }
        if let Some((from, to)) = catalog.mappings.iter().find(|(_, to)| !others.contains_key(to)) {
            return Err(CoreError::invalid(
                "catalog",
                ErrorCode::InvalidCatalog,
                format!("the mapping from {from} names {to}, which no installed catalog holds"),
            ));
        }
        let summary = summary_of(&catalog, existing.is_some());
        if !dry_run {
            self.install(&catalog, principal.actor(), false, ctx).await?;
        }
        Ok(summary)
    }

    async fn install(
        &self,
        catalog: &Catalog,
        actor: Actor,
        built_in: bool,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let now = self.base.now();
        let record = CatalogRecord {
            urn: catalog.urn.clone(),
            ref_id: catalog.ref_id.clone(),
            name: catalog.name.clone(),
            name_ja: catalog.name_ja.clone(),
            version: catalog.version,
            provider: catalog.provider.clone(),
            built_in,
            imported_at: now,
            imported_by: actor.encode(),
        };
        let controls: Vec<ControlRecord> = catalog
            .controls
            .iter()
            .enumerate()
            .map(|(i, c)| ControlRecord {
                urn: c.urn.clone(),
                catalog_urn: catalog.urn.clone(),
                parent_urn: c.parent.clone(),
                ref_id: c.ref_id.clone(),
                name: c.name.clone(),
                name_ja: c.name_ja.clone(),
                description: c.description.clone(),
                description_ja: c.description_ja.clone(),
                assessable: c.assessable,
                position: i as i64,
            })
            .collect();
        let summary = summary_of(catalog, false);
        let mut tx = self.base.store.begin().await?;
        tx.put_catalog(&record, &controls, &catalog.mappings).await?;
        let e = AuditEvent::of(&actions::CATALOG_IMPORT, actor, Outcome::Success)
            .object(format!("catalog:{}", catalog.urn))
            .detail("version", catalog.version.to_string())
            .detail("controls", summary.controls.to_string())
            .detail("mappings", summary.mappings.to_string())
            .detail("built_in", built_in.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The installed catalogs.
    pub async fn catalogs(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<CatalogRecord>, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        Ok(self.base.store.read().await?.catalogs().await?)
    }

    /// The SoA of one catalog (Annex A when none is named), as it stands or as it stood at `at`.
    pub async fn soa(
        &self,
        principal: &Principal,
        catalog_urn: Option<&str>,
        at: Option<UnixMillis>,
        ctx: &RequestContext,
    ) -> Result<Soa, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let catalogs = read.catalogs().await?;
        let catalog = match catalog_urn {
            Some(urn) => catalogs.iter().find(|c| c.urn == urn),
            None => catalogs.first(),
        }
        .cloned()
        .ok_or(CoreError::NotFound { what: "catalog" })?;
        let controls = read.catalog_controls(Some(&catalog.urn)).await?;
        let context = LineContext::read(&mut *read, at).await?;
        drop(read);
        let lines = controls.into_iter().map(|c| context.line(c)).collect();
        Ok(Soa { catalogs, catalog, lines, at })
    }

    /// One control, its line and the line's history.
    pub async fn control(
        &self,
        principal: &Principal,
        urn: &str,
        ctx: &RequestContext,
    ) -> Result<ControlDetail, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let control = read
            .catalog_controls(None)
            .await?
            .into_iter()
            .find(|c| c.urn == urn)
            .ok_or(CoreError::NotFound { what: "control" })?;
        let catalog = read
            .catalogs()
            .await?
            .into_iter()
            .find(|c| c.urn == control.catalog_urn)
            .ok_or(CoreError::NotFound { what: "catalog" })?;
        let history = read.soa_history(urn).await?;
        let context = LineContext::read(&mut *read, None).await?;
        drop(read);
        let names = context.names.clone();
        Ok(ControlDetail { line: context.line(control), catalog, history, names })
    }

    /// Decides (or changes) a control's line: a new version, audited.
    pub async fn decide(
        &self,
        principal: &Principal,
        urn: &str,
        decision: SoaDecision,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::SOA_CHANGE, ctx).await?;
        let decision = decision.checked().map_err(|e| {
            let code = if e.field == "justification" && !e.message.starts_with("at most") {
                ErrorCode::Required
            } else {
                ErrorCode::InvalidValue
            };
            CoreError::invalid(e.field, code, e.message)
        })?;
        let mut tx = self.base.store.begin().await?;
        let control = tx.catalog_controls(None).await?.into_iter().find(|c| c.urn == urn);
        let Some(control) = control.filter(|c| c.assessable) else {
            return Err(CoreError::NotFound { what: "control" });
        };
        if let Some(owner) = &decision.owner_id {
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
        let entry = SoaEntryRecord {
            control_urn: control.urn.clone(),
            version: 0,
            applicable: decision.applicable,
            justification: decision.justification,
            implementation: decision.implementation.as_str().to_owned(),
            owner_id: decision.owner_id,
            review_on: decision.review_on,
            changed_at: self.base.now(),
            changed_by: principal.actor().encode(),
        };
        let version = tx.put_soa_entry(&entry).await?;
        self.base.audit(&mut tx, ctx, soa_event(principal.actor(), &entry, version)).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Every live evidence result, as it stands or stood at `at`.
    pub async fn evidence(
        &self,
        principal: &Principal,
        at: Option<UnixMillis>,
        ctx: &RequestContext,
    ) -> Result<Vec<EvidenceItem>, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let records = match at {
            Some(at) => read.evidence_at(at).await?,
            None => read.evidence_current().await?,
        };
        Ok(records.into_iter().filter_map(item_of).collect())
    }

    /// One kind's results over time, newest first.
    pub async fn evidence_history(
        &self,
        principal: &Principal,
        kind: EvidenceKind,
        ctx: &RequestContext,
    ) -> Result<Vec<EvidenceItem>, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let records = self.base.store.read().await?.evidence_history(kind.as_str(), 200).await?;
        Ok(records.into_iter().filter_map(item_of).collect())
    }
}

fn summary_of(catalog: &Catalog, replaced: bool) -> CatalogSummary {
    CatalogSummary {
        urn: catalog.urn.clone(),
        name: catalog.name.clone(),
        version: catalog.version,
        controls: catalog.controls.len(),
        assessable: catalog.controls.iter().filter(|c| c.assessable).count(),
        mappings: catalog.mappings.len(),
        replaced,
    }
}

fn item_of(r: EvidenceRecord) -> Option<EvidenceItem> {
    Some(EvidenceItem {
        kind: EvidenceKind::parse(&r.kind)?,
        status: EvidenceStatus::parse(&r.status)?,
        value: r.value,
        computed_at: r.computed_at,
        checked_at: r.checked_at,
    })
}

/// What every line of a SoA is built from, read once.
struct LineContext {
    entries: HashMap<String, SoaEntryRecord>,
    names: HashMap<String, String>,
    evidence: Vec<EvidenceItem>,
    /// A control → the controls it maps to and that map to it.
    mapped: HashMap<String, Vec<String>>,
    refs: HashMap<String, ControlRef>,
    /// Control urn → the risks it treats, named.
    risks: HashMap<String, Vec<(String, String)>>,
    /// Risk id → the assets it threatens, named.
    risk_assets: HashMap<String, Vec<(String, String)>>,
}

impl LineContext {
    async fn read(read: &mut dyn mamori_store::StoreRead, at: Option<UnixMillis>) -> Result<Self, CoreError> {
        let entries = match at {
            // As of a date: the latest version changed by then.
            Some(at) => {
                let mut latest: HashMap<String, SoaEntryRecord> = HashMap::new();
                for urn in read.soa_entries().await?.into_iter().map(|e| e.control_urn) {
                    if let Some(e) = read.soa_history(&urn).await?.into_iter().find(|e| e.changed_at <= at) {
                        latest.insert(urn, e);
                    }
                }
                latest
            }
            None => read.soa_entries().await?.into_iter().map(|e| (e.control_urn.clone(), e)).collect(),
        };
        let names = read
            .list_users()
            .await?
            .into_iter()
            .flat_map(|u| {
                [(u.id.clone(), u.display_name.clone()), (format!("user:{}", u.id), u.display_name)]
            })
            .collect();
        let evidence = match at {
            Some(at) => read.evidence_at(at).await?,
            None => read.evidence_current().await?,
        }
        .into_iter()
        .filter_map(item_of)
        .collect();
        let mut mapped: HashMap<String, Vec<String>> = HashMap::new();
        for (from, to) in read.control_mappings().await? {
            mapped.entry(from.clone()).or_default().push(to.clone());
            mapped.entry(to).or_default().push(from);
        }
        let refs = read
            .catalog_controls(None)
            .await?
            .into_iter()
            .map(|c| {
                let r = ControlRef { urn: c.urn.clone(), ref_id: c.ref_id, name: c.name, name_ja: c.name_ja };
                (c.urn, r)
            })
            .collect();
        let mut titles = HashMap::new();
        for a in read.risk_assessments().await? {
            for r in read.risks(&a.id).await? {
                titles.insert(r.id.clone(), format!("R-{} {}", r.number, r.title));
            }
        }
        let mut risks: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (urn, risk) in read.risk_control_links().await? {
            if let Some(title) = titles.get(&risk) {
                risks.entry(urn).or_default().push((risk, title.clone()));
            }
        }
        let mut risk_assets: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (risk, asset, name) in read.risk_asset_links().await? {
            risk_assets.entry(risk).or_default().push((asset, name));
        }
        Ok(LineContext { entries, names, evidence, mapped, refs, risks, risk_assets })
    }

    fn line(&self, control: ControlRecord) -> SoaLine {
        let entry = self.entries.get(&control.urn).cloned();
        let owner = entry.as_ref().and_then(|e| e.owner_id.as_ref()).and_then(|o| self.names.get(o)).cloned();
        let mapped_urns = self.mapped.get(&control.urn).cloned().unwrap_or_default();
        // Its own evidence, or that of the Annex A controls it maps to.
        let mut kinds: BTreeMap<EvidenceKind, ()> = BTreeMap::new();
        for urn in std::iter::once(&control.urn).chain(&mapped_urns) {
            for kind in EvidenceKind::ALL {
                if kind.control_urns().any(|u| &u == urn) {
                    kinds.insert(kind, ());
                }
            }
        }
        let evidence = if control.assessable {
            self.evidence.iter().filter(|e| kinds.contains_key(&e.kind)).cloned().collect()
        } else {
            Vec::new()
        };
        let mapped = mapped_urns.iter().filter_map(|u| self.refs.get(u).cloned()).collect();
        let risks = self.risks.get(&control.urn).cloned().unwrap_or_default();
        let mut assets: Vec<(String, String)> =
            risks.iter().flat_map(|(r, _)| self.risk_assets.get(r).into_iter().flatten().cloned()).collect();
        assets.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        assets.dedup();
        SoaLine { control, entry, owner, evidence, mapped, risks, assets }
    }
}

/// Refuses `id` in `field` unless it is a user's (an owner, a participant, an auditor).
pub(crate) async fn check_user(
    tx: &mut Box<dyn mamori_store::StoreTx>,
    field: &'static str,
    id: &str,
) -> Result<(), CoreError> {
    let known = if uuid::Uuid::parse_str(id).is_ok() { tx.user_by_id(id).await? } else { None };
    if known.is_none() {
        return Err(CoreError::invalid(
            field,
            mamori_proto::ErrorCode::InvalidValue,
            format!("no user has the id {id}"),
        ));
    }
    Ok(())
}
