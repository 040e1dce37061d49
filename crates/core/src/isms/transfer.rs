//! Export and import of every register (issue 17, item 9) as one workbook: assets, risk
//! assessments, risks, the SoA, vendors, certificates, vendor assessments, site visits and the
//! legal register.
//!
//! - **Export** writes what is in force (and retired assets and vendors, marked, since risks
//!   and certificates still name them), in a fixed order, without versions or timestamps: the
//!   same registers give the same workbook, in any install.
//! - **Import** reads every sheet against the registers as they stand, then writes all of it in
//!   one transaction, or nothing: any row error (`sheet assets, row 5, column D
//!   (confidentiality): …`) refuses the whole file, and a dry run reports without writing. A row
//!   whose id is known makes a new version when it differs; an unknown or empty id makes a new
//!   record. Nothing is deleted. Certificates, vendor assessments and visits are records of a
//!   moment: a known id must match, and a renewal is a new row. Each record written has its
//!   usual audit entry, then one `isms.import` entry sums the import up.

use super::Isms;
use super::assets::{record_of, store_version};
use super::risks::{assessment_event, risk_event};
use super::vendors::certificate_event;
use crate::{CoreError, Principal, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::identity::UserStatus;
use mamori_domain::isms::asset::{
    AssetInput, AssetKind, AssetSource, Availability, Confidentiality, Integrity,
};
use mamori_domain::isms::legal::{LegalInput, LegalKind};
use mamori_domain::isms::risk::{Rating, RiskInput, RiskMatrix, Treatment};
use mamori_domain::isms::transfer::{Register, RowError, RowReader, Sheet, SheetReader, Workbook};
use mamori_domain::isms::vendor::{
    AssessmentInput, CertificateInput, Criterion, Scheme, VendorInput, VisitInput,
};
use mamori_domain::isms::{Implementation, SoaDecision};
use mamori_domain::{Permission, UnixMillis};
use mamori_store::{
    AssetRecord, CertificateRecord, LegalRecord, OrgKind, RatedRecord, RiskAssessmentRecord, RiskRecord,
    SoaEntryRecord, VendorAssessmentRecord, VendorRecord, VendorVisitRecord,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What one sheet's rows did (or would do, in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SheetCounts {
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// The outcome of an import: per sheet what its rows did, and every error found. Nothing was
/// written unless `applied`.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub sheets: Vec<(Register, SheetCounts)>,
    pub errors: Vec<RowError>,
    pub applied: bool,
}

/// Everything the registers hold, read once.
struct Registers {
    /// user id → sign-in name, and back (active users only).
    user_names: HashMap<String, String>,
    user_ids: HashMap<String, String>,
    /// client company id → name, and back.
    client_names: HashMap<String, String>,
    client_ids: HashMap<String, String>,
    assets: BTreeMap<String, AssetRecord>,
    assessments: BTreeMap<String, RiskAssessmentRecord>,
    risks: BTreeMap<String, RiskRecord>,
    /// control urn → (catalog ref id, ref id, name, assessable), in catalog order.
    controls: Vec<(String, String, String, String, bool)>,
    soa: HashMap<String, SoaEntryRecord>,
    vendors: BTreeMap<String, VendorRecord>,
    certificates: BTreeMap<String, CertificateRecord>,
    vendor_assessments: BTreeMap<String, VendorAssessmentRecord>,
    visits: BTreeMap<String, VendorVisitRecord>,
    legal: BTreeMap<String, LegalRecord>,
}

impl Registers {
    async fn read(read: &mut dyn mamori_store::StoreRead) -> Result<Registers, CoreError> {
        let users: Vec<_> =
            read.list_users().await?.into_iter().filter(|u| u.status == UserStatus::Active).collect();
        let clients = read.list_org_units(OrgKind::Client).await?;
        let assessments = read.risk_assessments().await?;
        let mut risks = BTreeMap::new();
        for a in &assessments {
            risks.extend(read.risks(&a.id).await?.into_iter().map(|r| (r.id.clone(), r)));
        }
        let mut catalogs = read.catalogs().await?;
        catalogs.sort_by(|a, b| a.urn.cmp(&b.urn));
        let all_controls = read.catalog_controls(None).await?;
        let mut controls = Vec::new();
        for catalog in &catalogs {
            let mut of: Vec<_> = all_controls.iter().filter(|c| c.catalog_urn == catalog.urn).collect();
            of.sort_by_key(|c| c.position);
            controls.extend(of.into_iter().map(|c| {
                (c.urn.clone(), catalog.ref_id.clone(), c.ref_id.clone(), c.name.clone(), c.assessable)
            }));
        }
        let vendors: BTreeMap<String, VendorRecord> =
            read.vendors(true).await?.into_iter().map(|v| (v.id.clone(), v)).collect();
        let mut visits = BTreeMap::new();
        for id in vendors.keys() {
            visits.extend(read.vendor_visits(id).await?.into_iter().map(|v| (v.id.clone(), v)));
        }
        Ok(Registers {
            user_names: users.iter().map(|u| (u.id.clone(), u.username.clone())).collect(),
            user_ids: users.iter().map(|u| (u.username.clone(), u.id.clone())).collect(),
            client_names: clients.iter().map(|c| (c.id.clone(), c.name.clone())).collect(),
            client_ids: clients.iter().map(|c| (c.name.clone(), c.id.clone())).collect(),
            assets: read.assets(true).await?.into_iter().map(|a| (a.id.clone(), a)).collect(),
            assessments: assessments.into_iter().map(|a| (a.id.clone(), a)).collect(),
            risks,
            controls,
            soa: read.soa_entries().await?.into_iter().map(|e| (e.control_urn.clone(), e)).collect(),
            vendors,
            certificates: read.certificates().await?.into_iter().map(|c| (c.id.clone(), c)).collect(),
            vendor_assessments: read
                .vendor_assessments(None)
                .await?
                .into_iter()
                .map(|a| (a.id.clone(), a))
                .collect(),
            visits,
            legal: read.legal_requirements(true).await?.into_iter().map(|l| (l.id.clone(), l)).collect(),
        })
    }

    fn user_name(&self, id: &Option<String>) -> String {
        id.as_ref().map(|i| self.user_names.get(i).cloned().unwrap_or_else(|| i.clone())).unwrap_or_default()
    }
}

/// The names of a coded value's variants, for an error that lists them.
fn codes<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

fn yes_no(b: bool) -> String {
    b.to_string()
}

fn lines<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items.into_iter().map(String::as_str).collect::<Vec<_>>().join("\n")
}

/// The workbook of the registers as they stand.
fn export(r: &Registers) -> Workbook {
    let sheet = |register: Register, mut rows: Vec<Vec<String>>| {
        rows.insert(0, register.columns().iter().map(|c| (*c).to_owned()).collect());
        Sheet { name: register.as_str().to_owned(), rows }
    };
    let mut assets: Vec<&AssetRecord> = r.assets.values().collect();
    assets.sort_by(|a, b| (&a.kind, &a.name, &a.id).cmp(&(&b.kind, &b.name, &b.id)));
    let assets = assets
        .into_iter()
        .map(|a| {
            let follows = match (a.source.as_str(), &a.source_id) {
                ("client_data", Some(id)) => r.client_names.get(id).cloned().unwrap_or_else(|| id.clone()),
                (_, id) => id.clone().unwrap_or_default(),
            };
            vec![
                a.id.clone(),
                a.kind.clone(),
                a.name.clone(),
                r.user_name(&a.owner_id),
                a.location.clone(),
                a.confidentiality.clone(),
                a.integrity.clone(),
                a.availability.clone(),
                a.allowed.map(yes_no).unwrap_or_default(),
                a.review_on.clone().unwrap_or_default(),
                a.notes.clone(),
                a.source.clone(),
                follows,
                yes_no(a.retired_at.is_some()),
            ]
        })
        .collect();
    let mut assessments: Vec<&RiskAssessmentRecord> = r.assessments.values().collect();
    assessments.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let assessment_rows = assessments
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.name.clone(),
                a.appetite.to_string(),
                serde_json::to_string(&a.matrix).unwrap_or_default(),
            ]
        })
        .collect();
    let mut risks = Vec::new();
    for a in &assessments {
        let mut of: Vec<&RiskRecord> = r.risks.values().filter(|x| x.assessment_id == a.id).collect();
        of.sort_by_key(|x| x.number);
        let level = |l: i64| a.matrix.levels.get(l as usize).map(|l| l.en.clone()).unwrap_or_default();
        for x in of {
            let residual = x.residual.as_ref();
            risks.push(vec![
                x.id.clone(),
                x.assessment_id.clone(),
                x.number.to_string(),
                x.title.clone(),
                x.threat.clone(),
                x.vulnerability.clone(),
                lines(&x.asset_ids),
                (x.inherent.probability + 1).to_string(),
                (x.inherent.impact + 1).to_string(),
                level(x.inherent.level),
                residual.map(|v| (v.probability + 1).to_string()).unwrap_or_default(),
                residual.map(|v| (v.impact + 1).to_string()).unwrap_or_default(),
                residual.map(|v| level(v.level)).unwrap_or_default(),
                x.treatment.clone(),
                lines(&x.control_urns),
                r.user_name(&x.owner_id),
                x.due_on.clone().unwrap_or_default(),
                x.review_on.clone().unwrap_or_default(),
                x.notes.clone(),
            ]);
        }
    }
    let soa = r
        .controls
        .iter()
        .filter(|c| c.4)
        .map(|(urn, catalog, ref_id, name, _)| {
            let e = r.soa.get(urn);
            vec![
                catalog.clone(),
                ref_id.clone(),
                urn.clone(),
                name.clone(),
                e.map(|e| yes_no(e.applicable)).unwrap_or_default(),
                e.map(|e| e.justification.clone()).unwrap_or_default(),
                e.map(|e| e.implementation.clone()).unwrap_or_default(),
                e.map(|e| r.user_name(&e.owner_id)).unwrap_or_default(),
                e.and_then(|e| e.review_on.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    let mut vendors: Vec<&VendorRecord> = r.vendors.values().collect();
    vendors.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let vendors = vendors
        .into_iter()
        .map(|v| {
            let mut clients: Vec<String> = v
                .client_ids
                .iter()
                .map(|c| r.client_names.get(c).cloned().unwrap_or_else(|| c.clone()))
                .collect();
            clients.sort();
            vec![
                v.id.clone(),
                v.name.clone(),
                v.parent_id.clone().unwrap_or_default(),
                lines(&clients),
                v.data_handled.clone(),
                v.contact.clone(),
                v.review_on.clone().unwrap_or_default(),
                v.notes.clone(),
                yes_no(v.retired_at.is_some()),
            ]
        })
        .collect();
    let mut certificates: Vec<&CertificateRecord> = r.certificates.values().collect();
    certificates.sort_by(|a, b| {
        (&a.vendor_id, &a.scheme, &a.issued_on, &a.id).cmp(&(&b.vendor_id, &b.scheme, &b.issued_on, &b.id))
    });
    let certificates = certificates
        .into_iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.vendor_id.clone().unwrap_or_default(),
                c.scheme.clone(),
                c.number.clone(),
                c.issuer.clone(),
                c.first_obtained_on.clone(),
                c.issued_on.clone(),
                c.expires_on.clone(),
            ]
        })
        .collect();
    let mut vendor_assessments: Vec<&VendorAssessmentRecord> = r.vendor_assessments.values().collect();
    vendor_assessments
        .sort_by(|a, b| (&a.vendor_id, &a.assessed_on, &a.id).cmp(&(&b.vendor_id, &b.assessed_on, &b.id)));
    let vendor_assessments = vendor_assessments
        .into_iter()
        .map(|a| {
            let mut row = vec![a.id.clone(), a.vendor_id.clone(), a.assessed_on.clone()];
            for c in Criterion::ALL {
                let score = a.scores.iter().find(|(k, _)| k == c.as_str()).map(|(_, s)| s.to_string());
                row.push(score.unwrap_or_default());
            }
            row.extend([a.total.to_string(), a.tier.clone(), a.next_on.clone(), a.notes.clone()]);
            row
        })
        .collect();
    let mut visits: Vec<&VendorVisitRecord> = r.visits.values().collect();
    visits.sort_by(|a, b| (&a.vendor_id, &a.visited_on, &a.id).cmp(&(&b.vendor_id, &b.visited_on, &b.id)));
    let visits = visits
        .into_iter()
        .map(|v| {
            vec![
                v.id.clone(),
                v.vendor_id.clone(),
                v.visited_on.clone(),
                v.visitor.clone(),
                v.findings.clone(),
            ]
        })
        .collect();
    let mut legal: Vec<&LegalRecord> = r.legal.values().collect();
    legal.sort_by(|a, b| (&a.kind, &a.title, &a.id).cmp(&(&b.kind, &b.title, &b.id)));
    let legal = legal
        .into_iter()
        .map(|l| {
            vec![
                l.id.clone(),
                l.kind.clone(),
                l.title.clone(),
                l.reference.clone(),
                l.obligations.clone(),
                l.client_id
                    .as_ref()
                    .map(|c| r.client_names.get(c).cloned().unwrap_or_else(|| c.clone()))
                    .unwrap_or_default(),
                r.user_name(&l.owner_id),
                l.review_on.clone().unwrap_or_default(),
                l.notes.clone(),
                yes_no(l.retired_at.is_some()),
            ]
        })
        .collect();
    Workbook {
        sheets: vec![
            sheet(Register::Assets, assets),
            sheet(Register::RiskAssessments, assessment_rows),
            sheet(Register::Risks, risks),
            sheet(Register::Soa, soa),
            sheet(Register::Vendors, vendors),
            sheet(Register::Certificates, certificates),
            sheet(Register::VendorAssessments, vendor_assessments),
            sheet(Register::VendorVisits, visits),
            sheet(Register::Legal, legal),
        ],
    }
}

/// A write the import will make.
enum Write {
    Asset(AssetRecord, &'static str),
    Assessment(RiskAssessmentRecord),
    Risk(RiskRecord, &'static str),
    Soa(SoaEntryRecord),
    Vendor(VendorRecord, &'static str),
    Certificate(CertificateRecord),
    VendorAssessment(VendorAssessmentRecord),
    Visit(VendorVisitRecord),
    Legal(LegalRecord, &'static str),
}

/// What a row came to.
enum RowOutcome {
    Created,
    Changed,
    Unchanged,
}

/// Reads a workbook against the registers: the writes it means and the errors it holds.
struct Planner<'r> {
    now: mamori_domain::UnixMillis,
    actor: String,
    r: &'r mut Registers,
    writes: Vec<Write>,
    errors: Vec<RowError>,
    counts: Vec<(Register, SheetCounts)>,
}

type RowResult<T> = Result<T, RowError>;

impl Planner<'_> {
    fn plan(&mut self, workbook: &Workbook) {
        let mut seen = HashSet::new();
        for sheet in &workbook.sheets {
            let known = Register::parse(sheet.name.trim());
            if known.is_none() || !seen.insert(sheet.name.trim().to_owned()) {
                let names: Vec<&str> = Register::ALL.iter().map(|r| r.as_str()).collect();
                self.errors.push(RowError {
                    sheet: sheet.name.clone(),
                    row: 1,
                    column: None,
                    message: match known {
                        None => format!("no register has this name; the sheets are: {}", names.join(", ")),
                        Some(_) => "this sheet appears twice".to_owned(),
                    },
                });
            }
        }
        for register in Register::ALL {
            let Some(sheet) = workbook.sheet(register) else { continue };
            let reader = match SheetReader::new(register, sheet) {
                Ok(reader) => reader,
                Err(errors) => {
                    self.errors.extend(errors);
                    continue;
                }
            };
            let mut counts = SheetCounts::default();
            let mut keys = HashSet::new();
            let rows: Vec<RowReader> = reader.rows().collect();
            if register == Register::Vendors {
                self.vendors_named(&rows);
            }
            for row in rows {
                let key = row.get(register.key());
                if !key.is_empty() && !keys.insert(key.to_lowercase()) {
                    self.errors.push(row.error(Some(register.key()), "this id appears twice in the sheet"));
                    continue;
                }
                let outcome = match register {
                    Register::Assets => self.asset(&row),
                    Register::RiskAssessments => self.assessment(&row),
                    Register::Risks => self.risk(&row),
                    Register::Soa => self.soa(&row),
                    Register::Vendors => self.vendor(&row),
                    Register::Certificates => self.certificate(&row),
                    Register::VendorAssessments => self.vendor_assessment(&row),
                    Register::VendorVisits => self.visit(&row),
                    Register::Legal => self.legal(&row),
                };
                match outcome {
                    Ok(RowOutcome::Created) => counts.created += 1,
                    Ok(RowOutcome::Changed) => counts.changed += 1,
                    Ok(RowOutcome::Unchanged) => counts.unchanged += 1,
                    Err(e) => self.errors.push(e),
                }
            }
            if register == Register::Vendors {
                self.check_vendor_chains(&reader);
            }
            self.counts.push((register, counts));
        }
    }

    /// The row's id: the cell's (a UUID) or a new one; and whether a record has it.
    fn id_of(row: &RowReader, known: impl Fn(&str) -> bool) -> RowResult<(String, bool)> {
        match row.get("id") {
            "" => Ok((new_id(), false)),
            id => match uuid::Uuid::parse_str(id) {
                Ok(u) => {
                    let id = u.to_string();
                    let exists = known(&id);
                    Ok((id, exists))
                }
                Err(_) => Err(row.error(Some("id"), "an id as exported (a UUID), or empty for a new record")),
            },
        }
    }

    fn user(&self, row: &RowReader, column: &'static str) -> RowResult<Option<String>> {
        match row.get(column) {
            "" => Ok(None),
            name => self.r.user_ids.get(name).cloned().map(Some).ok_or_else(|| {
                row.error(
                    Some(column),
                    format!(
                        "no active user signs in as {name}; create the user first or leave the cell empty"
                    ),
                )
            }),
        }
    }

    fn date(row: &RowReader, column: &'static str) -> RowResult<Option<String>> {
        match row.optional(column) {
            Some(d) if !mamori_domain::isms::is_date(&d) => {
                Err(row.error(Some(column), "a date as YYYY-MM-DD"))
            }
            other => Ok(other),
        }
    }

    fn asset(&mut self, row: &RowReader) -> RowResult<RowOutcome> {
        let (id, exists) = Self::id_of(row, |id| self.r.assets.contains_key(id))?;
        let input = AssetInput {
            kind: row.code("kind", AssetKind::parse, &codes(AssetKind::ALL, AssetKind::as_str))?,
            name: row.get("name").to_owned(),
            owner_id: self.user(row, "owner")?,
            location: row.get("location").to_owned(),
            confidentiality: row.code(
                "confidentiality",
                Confidentiality::parse,
                &codes(Confidentiality::ALL, Confidentiality::as_str),
            )?,
            integrity: row.code("integrity", Integrity::parse, &codes(Integrity::ALL, Integrity::as_str))?,
            availability: row.code(
                "availability",
                Availability::parse,
                &codes(Availability::ALL, Availability::as_str),
            )?,
            allowed: row.flag("allowed")?,
            review_on: row.optional("review_on"),
            notes: row.get("notes").to_owned(),
        }
        .checked()
        .map_err(|e| row.error(Some(e.field), e.message))?;
        let source = match row.get("source") {
            "" => AssetSource::Manual,
            s => AssetSource::parse(s)
                .ok_or_else(|| row.error(Some("source"), "one of: manual, device, client_data"))?,
        };
        let source_id = match (source, row.get("follows")) {
            (AssetSource::Manual, "") => None,
            (AssetSource::Manual, _) => {
                return Err(row.error(Some("follows"), "a manual asset follows nothing; leave it empty"));
            }
            (_, "") => {
                return Err(row.error(Some("follows"), "the device id or client company name it follows"));
            }
            (AssetSource::ClientData, name) => {
                Some(self.r.client_ids.get(name).cloned().ok_or_else(|| {
                    row.error(Some("follows"), format!("no client company is named {name}; add it first"))
                })?)
            }
            (AssetSource::Device, device) => Some(device.to_owned()),
        };
        let retired = row.flag("retired")?.unwrap_or(false);
        let mut record = record_of(id.clone(), input, source, source_id);
        if !exists {
            if let Some(s) = &record.source_id {
                let taken = self
                    .r
                    .assets
                    .values()
                    .find(|a| a.source == record.source && a.source_id.as_ref() == Some(s));
                if let Some(other) = taken {
                    return Err(row.error(
                        Some("follows"),
                        format!("asset {} already follows this; use its id", other.id),
                    ));
                }
            }
        } else {
            let current = &self.r.assets[&id];
            if current.source != record.source {
                return Err(row.error(
                    Some("source"),
                    format!("an asset's source does not change (it is {})", current.source),
                ));
            }
            if source != AssetSource::Manual {
                // A followed asset's kind, name, place and what it follows are its source's.
                record.kind.clone_from(&current.kind);
                record.name.clone_from(&current.name);
                record.location.clone_from(&current.location);
                record.source_id.clone_from(&current.source_id);
            }
        }
        // Equipment in force leaves the register only with its disposal record (LEAK-3).
        let in_force = exists && self.r.assets[&id].retired_at.is_none();
        if retired
            && in_force
            && (record.kind == AssetKind::Equipment.as_str() || source == AssetSource::Device)
        {
            return Err(row.error(
                Some("retired"),
                "equipment retires with its disposal: record it in the disposal register, which retires it",
            ));
        }
        versioned(row, self.now, exists, retired, record, &mut self.r.assets, &mut self.writes, Write::Asset)
    }

    fn assessment(&mut self, row: &RowReader) -> RowResult<RowOutcome> {
        let (id, exists) = Self::id_of(row, |id| self.r.assessments.contains_key(id))?;
        let name = row.required("name")?.to_owned();
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(row.error(Some("name"), "a name of 1 to 100 characters"));
        }
        let matrix: RiskMatrix = serde_json::from_str(row.required("matrix")?)
            .map_err(|e| row.error(Some("matrix"), format!("a matrix as exported (JSON): {e}")))?;
        let matrix = matrix.checked().map_err(|e| row.error(Some("matrix"), e.to_string()))?;
        let appetite = row
            .number("appetite", 0, matrix.levels.len() as i64 - 1)?
            .ok_or_else(|| row.error(Some("appetite"), "required"))?;
        if exists {
            let current = &self.r.assessments[&id];
            if current.name == name && current.appetite == appetite && current.matrix == matrix {
                return Ok(RowOutcome::Unchanged);
            }
            return Err(row.error(
                None,
                "an assessment is frozen once made: its name, appetite and matrix do not change; start a new one (empty id)",
            ));
        }
        let record = RiskAssessmentRecord {
            id: id.clone(),
            name,
            appetite,
            matrix,
            created_at: self.now,
            created_by: self.actor.clone(),
        };
        self.r.assessments.insert(id, record.clone());
        self.writes.push(Write::Assessment(record));
        Ok(RowOutcome::Created)
    }

    fn risk(&mut self, row: &RowReader) -> RowResult<RowOutcome> {
        let (id, exists) = Self::id_of(row, |id| self.r.risks.contains_key(id))?;
        let assessment_id = row.required("assessment")?;
        let assessment = self.r.assessments.get(assessment_id).cloned().ok_or_else(|| {
            row.error(
                Some("assessment"),
                "no risk assessment has this id (in this install or the sheet risk_assessments)",
            )
        })?;
        let grades = |column: &'static str, n: usize| row.number(column, 1, n as i64);
        let (p, i) = (assessment.matrix.probability.len(), assessment.matrix.impact.len());
        let rating = |probability: i64, impact: i64| Rating {
            probability: (probability - 1) as u8,
            impact: (impact - 1) as u8,
        };
        let inherent = match (grades("inherent_probability", p)?, grades("inherent_impact", i)?) {
            (Some(a), Some(b)) => rating(a, b),
            _ => {
                return Err(row.error(
                    Some("inherent_probability"),
                    "the inherent probability and impact are required",
                ));
            }
        };
        let residual = match (grades("residual_probability", p)?, grades("residual_impact", i)?) {
            (Some(a), Some(b)) => Some(rating(a, b)),
            (None, None) => None,
            _ => {
                return Err(row.error(
                    Some("residual_probability"),
                    "give both the residual probability and impact, or neither",
                ));
            }
        };
        let input = RiskInput {
            title: row.get("title").to_owned(),
            threat: row.get("threat").to_owned(),
            vulnerability: row.get("vulnerability").to_owned(),
            asset_ids: row.list("assets"),
            inherent,
            residual,
            treatment: row.code("treatment", Treatment::parse, &codes(&Treatment::ALL, Treatment::as_str))?,
            control_urns: row.list("controls"),
            owner_id: self.user(row, "owner")?,
            due_on: Self::date(row, "due_on")?,
            review_on: Self::date(row, "review_on")?,
            notes: row.get("notes").to_owned(),
        }
        .checked(&assessment.matrix)
        .map_err(|e| row.error(Some(e.field), e.message))?;
        // A risk may name an asset retired since it was rated; the link stays history.
        if let Some(a) = input.asset_ids.iter().find(|a| !self.r.assets.contains_key(*a)) {
            return Err(row.error(
                Some("assets"),
                format!("no asset has the id {a} (in this install or the sheet assets)"),
            ));
        }
        if let Some(c) = input.control_urns.iter().find(|c| !self.r.controls.iter().any(|x| &x.0 == *c)) {
            return Err(row.error(
                Some("controls"),
                format!("no catalog holds the control {c}; import its catalog first"),
            ));
        }
        let number = row.number("number", 1, 1_000_000)?;
        let rated = |r: Rating| RatedRecord {
            probability: i64::from(r.probability),
            impact: i64::from(r.impact),
            level: i64::from(assessment.matrix.level(r.probability, r.impact).unwrap_or(0)),
        };
        let mut record = RiskRecord {
            id: id.clone(),
            assessment_id: assessment.id.clone(),
            number: 0,
            version: 0,
            title: input.title,
            threat: input.threat,
            vulnerability: input.vulnerability,
            inherent: rated(input.inherent),
            residual: input.residual.map(rated),
            treatment: input.treatment.as_str().to_owned(),
            owner_id: input.owner_id,
            due_on: input.due_on,
            review_on: input.review_on,
            notes: input.notes,
            asset_ids: input.asset_ids,
            control_urns: input.control_urns,
            changed_at: self.now,
            changed_by: self.actor.clone(),
        };
        if exists {
            let current = &self.r.risks[&id];
            if current.assessment_id != record.assessment_id {
                return Err(row.error(
                    Some("assessment"),
                    "a risk stays in its assessment; register it anew in the other one",
                ));
            }
            if number.is_some_and(|n| n != current.number) {
                return Err(
                    row.error(Some("number"), format!("a risk keeps its number (R-{})", current.number))
                );
            }
            record.number = current.number;
            let same = RiskRecord {
                version: current.version,
                changed_at: current.changed_at,
                changed_by: current.changed_by.clone(),
                ..record.clone()
            } == *current;
            if same {
                return Ok(RowOutcome::Unchanged);
            }
            self.r.risks.insert(id, record.clone());
            self.writes.push(Write::Risk(record, "update"));
            return Ok(RowOutcome::Changed);
        }
        let taken: HashSet<i64> =
            self.r.risks.values().filter(|x| x.assessment_id == assessment.id).map(|x| x.number).collect();
        record.number = match number {
            Some(n) if taken.contains(&n) => {
                return Err(row.error(
                    Some("number"),
                    format!("R-{n} is taken in this assessment; leave the number empty for the next one"),
                ));
            }
            Some(n) => n,
            None => taken.iter().max().copied().unwrap_or(0) + 1,
        };
        self.r.risks.insert(id, record.clone());
        self.writes.push(Write::Risk(record, "create"));
        Ok(RowOutcome::Created)
    }

    fn soa(&mut self, row: &RowReader) -> RowResult<RowOutcome> {
        let urn = row.required("urn")?.to_lowercase();
        let control = self.r.controls.iter().find(|c| c.0 == urn);
        if !control.is_some_and(|c| c.4) {
            return Err(
                row.error(Some("urn"), "no catalog holds this assessable control; import its catalog first")
            );
        }
        // A blank decision leaves the line as it is (an undecided control exports so).
        let Some(applicable) = row.flag("applicable")? else { return Ok(RowOutcome::Unchanged) };
        let decision = SoaDecision {
            applicable,
            justification: row.get("justification").to_owned(),
            implementation: row.code(
                "implementation",
                Implementation::parse,
                &codes(&Implementation::ALL, Implementation::as_str),
            )?,
            owner_id: self.user(row, "owner")?,
            review_on: row.optional("review_on"),
        }
        .checked()
        .map_err(|e| row.error(Some(e.field), e.message))?;
        let entry = SoaEntryRecord {
            control_urn: urn.clone(),
            version: 0,
            applicable: decision.applicable,
            justification: decision.justification,
            implementation: decision.implementation.as_str().to_owned(),
            owner_id: decision.owner_id,
            review_on: decision.review_on,
            changed_at: self.now,
            changed_by: self.actor.clone(),
        };
        let current = self.r.soa.get(&urn);
        let same = current.is_some_and(|c| {
            SoaEntryRecord {
                version: c.version,
                changed_at: c.changed_at,
                changed_by: c.changed_by.clone(),
                ..entry.clone()
            } == *c
        });
        if same {
            return Ok(RowOutcome::Unchanged);
        }
        let outcome = if current.is_some() { RowOutcome::Changed } else { RowOutcome::Created };
        self.r.soa.insert(urn, entry.clone());
        self.writes.push(Write::Soa(entry));
        Ok(outcome)
    }

    /// Vendors the sheet names, so a subcontractor's row may come before its outsourcer's.
    fn vendors_named(&mut self, rows: &[RowReader]) {
        for row in rows {
            if let Ok(u) = uuid::Uuid::parse_str(row.get("id")) {
                let id = u.to_string();
                self.r.vendors.entry(id.clone()).or_insert_with(|| VendorRecord {
                    id,
                    version: -1,
                    name: String::new(),
                    parent_id: None,
                    client_ids: Vec::new(),
                    data_handled: String::new(),
                    contact: String::new(),
                    review_on: None,
                    notes: String::new(),
                    retired_at: None,
                    changed_at: self.now,
                    changed_by: String::new(),
                });
            }
        }
    }

    fn vendor(&mut self, row: &RowReader) -> RowResult<RowOutcome> {
        // `version` -1 marks a vendor only named by the sheet so far.
        let (id, exists) = Self::id_of(row, |id| self.r.vendors.get(id).is_some_and(|v| v.version >= 0))?;
        let mut client_ids = Vec::new();
        for name in row.list("clients") {
            let id = self.r.client_ids.get(&name).cloned().ok_or_else(|| {
                row.error(Some("clients"), format!("no client company is named {name}; add it first"))
            })?;
            client_ids.push(id);
        }
        let input = VendorInput {
            name: row.get("name").to_owned(),
            parent_id: row.optional("parent"),
            client_ids,
            data_handled: row.get("data_handled").to_owned(),
            contact: row.get("contact").to_owned(),
            review_on: row.optional("review_on"),
            notes: row.get("notes").to_owned(),
        }
        .checked()
        .map_err(|e| row.error(Some(e.field), e.message))?;
        if let Some(p) = &input.parent_id
            && !self.r.vendors.contains_key(p)
        {
            return Err(
                row.error(Some("parent"), "no vendor has this id (in this install or the sheet vendors)")
            );
        }
        let retired = row.flag("retired")?.unwrap_or(false);
        let record = VendorRecord {
            id: id.clone(),
            version: 0,
            name: input.name,
            parent_id: input.parent_id,
            client_ids: input.client_ids,
            data_handled: input.data_handled,
            contact: input.contact,
            review_on: input.review_on,
            notes: input.notes,
            retired_at: None,
            changed_at: self.now,
            changed_by: self.actor.clone(),
        };
        versioned(
            row,
            self.now,
            exists,
            retired,
            record,
            &mut self.r.vendors,
            &mut self.writes,
            Write::Vendor,
        )
    }

    /// No chain of outsourcers loops. (An outsourcer may have retired since its subcontractor
    /// was registered: the link stays as it was, as in the console.)
    fn check_vendor_chains(&mut self, reader: &SheetReader) {
        let written: HashSet<&str> = self
            .writes
            .iter()
            .filter_map(|w| match w {
                Write::Vendor(v, _) => Some(v.id.as_str()),
                _ => None,
            })
            .collect();
        let mut loops = Vec::new();
        for row in reader.rows() {
            let Ok(u) = uuid::Uuid::parse_str(row.get("id")) else { continue };
            let id = u.to_string();
            if !written.contains(id.as_str()) {
                continue;
            }
            let mut at = self.r.vendors.get(&id).and_then(|v| v.parent_id.clone());
            let mut seen = HashSet::from([id]);
            while let Some(p) = at {
                if !seen.insert(p.clone()) {
                    loops.push(row.error(Some("parent"), "the chain of outsourcers would loop"));
                    break;
                }
                at = self.r.vendors.get(&p).and_then(|v| v.parent_id.clone());
            }
        }
        self.errors.extend(loops);
    }

    fn legal(&mut self, row: &RowReader) -> RowResult<RowOutcome> {
        let (id, exists) = Self::id_of(row, |id| self.r.legal.contains_key(id))?;
        let client_id = match row.get("client") {
            "" => None,
            name => Some(self.r.client_ids.get(name).cloned().ok_or_else(|| {
                row.error(Some("client"), format!("no client company is named {name}; add it first"))
            })?),
        };
        let input = LegalInput {
            kind: row.code("kind", LegalKind::parse, &codes(LegalKind::ALL, LegalKind::as_str))?,
            title: row.get("title").to_owned(),
            reference: row.get("reference").to_owned(),
            obligations: row.get("obligations").to_owned(),
            client_id,
            owner_id: self.user(row, "owner")?,
            review_on: row.optional("review_on"),
            notes: row.get("notes").to_owned(),
        }
        .checked()
        .map_err(|e| row.error(Some(e.field), e.message))?;
        let retired = row.flag("retired")?.unwrap_or(false);
        let record = super::legal::record_of(id.clone(), input);
        versioned(row, self.now, exists, retired, record, &mut self.r.legal, &mut self.writes, Write::Legal)
    }

    fn vendor_of(&self, row: &RowReader, column: &'static str) -> RowResult<String> {
        let id = row.required(column)?;
        match self.r.vendors.get(id) {
            Some(v) if v.version >= 0 => Ok(id.to_owned()),
            _ => Err(row.error(Some(column), "no vendor has this id (in this install or the sheet vendors)")),
        }
    }

    /// A record of a moment: a known id must match it.
    fn recorded<T: PartialEq>(row: &RowReader, current: Option<&T>, new: &T) -> RowResult<bool> {
        match current {
            None => Ok(false),
            Some(c) if c == new => Ok(true),
            Some(_) => Err(row.error(
                None,
                "this record is kept as it was recorded; record a change (a renewal, a new assessment) as a new row with an empty id",
            )),
        }
    }

    fn certificate(&mut self, row: &RowReader) -> RowResult<RowOutcome> {
        let (id, _) = Self::id_of(row, |_| false)?;
        let vendor_id = match row.get("holder") {
            "" => None,
            _ => Some(self.vendor_of(row, "holder")?),
        };
        let input = CertificateInput {
            scheme: row.code("scheme", Scheme::parse, &codes(&Scheme::ALL, Scheme::as_str))?,
            number: row.get("number").to_owned(),
            issuer: row.get("issuer").to_owned(),
            first_obtained_on: row.get("first_obtained_on").to_owned(),
            issued_on: row.get("issued_on").to_owned(),
            expires_on: row.get("expires_on").to_owned(),
        }
        .checked()
        .map_err(|e| row.error(Some(e.field), e.message))?;
        let mut record = CertificateRecord {
            id: id.clone(),
            vendor_id,
            scheme: input.scheme.as_str().to_owned(),
            number: input.number,
            issuer: input.issuer,
            first_obtained_on: input.first_obtained_on,
            issued_on: input.issued_on,
            expires_on: input.expires_on,
            recorded_at: self.now,
            recorded_by: self.actor.clone(),
        };
        let current = self.r.certificates.get(&id).cloned();
        if let Some(c) = &current {
            record.recorded_at = c.recorded_at;
            record.recorded_by.clone_from(&c.recorded_by);
        }
        if Self::recorded(row, current.as_ref(), &record)? {
            return Ok(RowOutcome::Unchanged);
        }
        self.r.certificates.insert(id, record.clone());
        self.writes.push(Write::Certificate(record));
        Ok(RowOutcome::Created)
    }

    fn vendor_assessment(&mut self, row: &RowReader) -> RowResult<RowOutcome> {
        let (id, _) = Self::id_of(row, |_| false)?;
        let vendor_id = self.vendor_of(row, "vendor")?;
        let mut scores = BTreeMap::new();
        for c in Criterion::ALL {
            let score = row
                .number(c.as_str(), 1, 5)?
                .ok_or_else(|| row.error(Some(c.as_str()), "a score from 1 (poor) to 5 (good)"))?;
            scores.insert(c, score as u8);
        }
        let mut input = AssessmentInput {
            assessed_on: row.get("assessed_on").to_owned(),
            scores,
            notes: row.get("notes").to_owned(),
        };
        let (total, tier, next) = input.judged().map_err(|e| row.error(Some(e.field), e.message))?;
        let mut record = VendorAssessmentRecord {
            id: id.clone(),
            vendor_id,
            assessed_on: input.assessed_on,
            scores: input.scores.iter().map(|(c, s)| (c.as_str().to_owned(), i64::from(*s))).collect(),
            total: i64::from(total),
            tier: tier.as_str().to_owned(),
            next_on: next.to_string(),
            notes: input.notes,
            recorded_at: self.now,
            recorded_by: self.actor.clone(),
        };
        let current = self.r.vendor_assessments.get(&id).cloned();
        if let Some(c) = &current {
            record.recorded_at = c.recorded_at;
            record.recorded_by.clone_from(&c.recorded_by);
            record.scores.sort();
            let mut sorted = c.clone();
            sorted.scores.sort();
            return Self::recorded(row, Some(&sorted), &record).map(|_| RowOutcome::Unchanged);
        }
        self.r.vendor_assessments.insert(id, record.clone());
        self.writes.push(Write::VendorAssessment(record));
        Ok(RowOutcome::Created)
    }

    fn visit(&mut self, row: &RowReader) -> RowResult<RowOutcome> {
        let (id, _) = Self::id_of(row, |_| false)?;
        let vendor_id = self.vendor_of(row, "vendor")?;
        let input = VisitInput {
            visited_on: row.get("visited_on").to_owned(),
            visitor: row.get("visitor").to_owned(),
            findings: row.get("findings").to_owned(),
        }
        .checked()
        .map_err(|e| row.error(Some(e.field), e.message))?;
        let mut record = VendorVisitRecord {
            id: id.clone(),
            vendor_id,
            visited_on: input.visited_on,
            visitor: input.visitor,
            findings: input.findings,
            recorded_at: self.now,
            recorded_by: self.actor.clone(),
        };
        let current = self.r.visits.get(&id).cloned();
        if let Some(c) = &current {
            record.recorded_at = c.recorded_at;
            record.recorded_by.clone_from(&c.recorded_by);
        }
        if Self::recorded(row, current.as_ref(), &record)? {
            return Ok(RowOutcome::Unchanged);
        }
        self.r.visits.insert(id, record.clone());
        self.writes.push(Write::Visit(record));
        Ok(RowOutcome::Created)
    }
}

impl Isms {
    /// Every register as a workbook (see the module's docs). `format` is recorded in the audit
    /// entry.
    pub async fn export_registers(
        &self,
        principal: &Principal,
        format: &str,
        ctx: &RequestContext,
    ) -> Result<Workbook, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::REGISTERS_EXPORT, ctx).await?;
        let registers = Registers::read(&mut *self.base.store.read().await?).await?;
        let workbook = export(&registers);
        let names: Vec<&str> = workbook.sheets.iter().map(|s| s.name.as_str()).collect();
        let e = AuditEvent::of(&actions::REGISTERS_EXPORT, principal.actor(), Outcome::Success)
            .detail("format", format.to_owned())
            .detail("registers", names.join(","));
        self.base.audit_access(ctx, e).await?;
        Ok(workbook)
    }

    /// Imports a workbook (any subset of the sheets): all of it or, at the first row error,
    /// nothing; a dry run only reports. See the module's docs.
    pub async fn import_registers(
        &self,
        principal: &Principal,
        workbook: &Workbook,
        format: &str,
        dry_run: bool,
        ctx: &RequestContext,
    ) -> Result<ImportReport, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::REGISTERS_IMPORT, ctx).await?;
        let mut registers = Registers::read(&mut *self.base.store.read().await?).await?;
        let mut planner = Planner {
            now: self.base.now(),
            actor: principal.actor().encode(),
            r: &mut registers,
            writes: Vec::new(),
            errors: Vec::new(),
            counts: Vec::new(),
        };
        planner.plan(workbook);
        let Planner { writes, errors, counts, .. } = planner;
        let mut report = ImportReport { sheets: counts, errors, applied: false };
        if dry_run || !report.errors.is_empty() {
            return Ok(report);
        }
        let actor = principal.actor();
        let mut tx = self.base.store.begin().await?;
        for write in order_vendors(writes) {
            match write {
                Write::Asset(a, change) => {
                    store_version(&self.base, &mut tx, a, actor.clone(), change, ctx).await?;
                }
                Write::Assessment(a) => {
                    tx.insert_risk_assessment(&a).await?;
                    self.base.audit(&mut tx, ctx, assessment_event(actor.clone(), &a)).await?;
                }
                Write::Risk(r, change) => {
                    let (number, version) = tx.put_risk(&r).await?;
                    self.base
                        .audit(&mut tx, ctx, risk_event(actor.clone(), &r, change, number, version))
                        .await?;
                }
                Write::Soa(e) => {
                    let version = tx.put_soa_entry(&e).await?;
                    self.base.audit(&mut tx, ctx, super::soa_event(actor.clone(), &e, version)).await?;
                }
                Write::Vendor(v, change) => {
                    let version = tx.put_vendor(&v).await?;
                    self.audit_vendor(&mut tx, principal, &v.id, change, Some(version), ctx).await?;
                }
                Write::Certificate(c) => {
                    tx.insert_certificate(&c).await?;
                    self.base.audit(&mut tx, ctx, certificate_event(actor.clone(), &c)).await?;
                }
                Write::VendorAssessment(a) => {
                    tx.insert_vendor_assessment(&a).await?;
                    self.audit_vendor(&mut tx, principal, &a.vendor_id, "assess", None, ctx).await?;
                }
                Write::Visit(v) => {
                    tx.insert_vendor_visit(&v).await?;
                    self.audit_vendor(&mut tx, principal, &v.vendor_id, "visit", None, ctx).await?;
                }
                Write::Legal(l, change) => {
                    self.store_legal(&mut tx, principal, l, change, ctx).await?;
                }
            }
        }
        let sum =
            |f: fn(&SheetCounts) -> usize| report.sheets.iter().map(|(_, c)| f(c)).sum::<usize>().to_string();
        let e = AuditEvent::of(&actions::REGISTERS_IMPORT, actor, Outcome::Success)
            .detail("format", format.to_owned())
            .detail("created", sum(|c| c.created))
            .detail("changed", sum(|c| c.changed))
            .detail("unchanged", sum(|c| c.unchanged));
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        report.applied = true;
        Ok(report)
    }
}

/// The writes with every new vendor after the outsourcer it works for (the store keeps the
/// link as a reference).
fn order_vendors(writes: Vec<Write>) -> Vec<Write> {
    let (vendors, mut rest): (Vec<Write>, Vec<Write>) =
        writes.into_iter().partition(|w| matches!(w, Write::Vendor(..)));
    let mut pending: Vec<Write> = vendors;
    let mut placed: HashSet<String> = HashSet::new();
    let new: HashSet<String> = pending
        .iter()
        .filter_map(|w| match w {
            Write::Vendor(v, _) => Some(v.id.clone()),
            _ => None,
        })
        .collect();
    let mut ordered = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let (ready, wait): (Vec<Write>, Vec<Write>) = pending.into_iter().partition(|w| match w {
            Write::Vendor(v, _) => {
                v.parent_id.as_ref().is_none_or(|p| !new.contains(p) || placed.contains(p))
            }
            _ => true,
        });
        for w in &ready {
            if let Write::Vendor(v, _) = w {
                placed.insert(v.id.clone());
            }
        }
        ordered.extend(ready);
        pending = wait;
        if pending.len() == before {
            // A loop is refused by the planner; should one slip through, keep the sheet's order.
            ordered.append(&mut pending);
        }
    }
    // Vendors go before what names them (certificates, assessments, visits): after the SoA.
    let at = rest
        .iter()
        .position(|w| matches!(w, Write::Certificate(_) | Write::VendorAssessment(_) | Write::Visit(_)))
        .unwrap_or(rest.len());
    let tail = rest.split_off(at);
    rest.extend(ordered);
    rest.extend(tail);
    rest
}

/// A register kept as versions with a retired mark (assets, vendors, legal requirements).
trait Versioned: Clone + PartialEq {
    fn id(&self) -> &str;
    fn retired_at(&self) -> Option<UnixMillis>;
    fn set_retired_at(&mut self, at: Option<UnixMillis>);
    /// This content with `current`'s version and stamps: equal to `current` when nothing changed.
    fn stamped_as(&self, current: &Self) -> Self;
}

macro_rules! versioned_record {
    ($($record:ty),+) => {$(
        impl Versioned for $record {
            fn id(&self) -> &str {
                &self.id
            }
            fn retired_at(&self) -> Option<UnixMillis> {
                self.retired_at
            }
            fn set_retired_at(&mut self, at: Option<UnixMillis>) {
                self.retired_at = at;
            }
            fn stamped_as(&self, current: &Self) -> Self {
                Self {
                    version: current.version,
                    changed_at: current.changed_at,
                    changed_by: current.changed_by.clone(),
                    ..self.clone()
                }
            }
        }
    )+};
}
versioned_record!(AssetRecord, VendorRecord, LegalRecord);

/// What a row of a versioned register does: a new record (retired at once when marked so), a
/// new version when its content or its retirement differs, or nothing. A retired record stays
/// retired.
#[allow(clippy::too_many_arguments)]
fn versioned<T: Versioned>(
    row: &RowReader,
    now: UnixMillis,
    exists: bool,
    retired: bool,
    mut record: T,
    register: &mut BTreeMap<String, T>,
    writes: &mut Vec<Write>,
    write: fn(T, &'static str) -> Write,
) -> RowResult<RowOutcome> {
    let current = register.get(record.id()).filter(|_| exists);
    let (outcome, change) = match (current.map(|c| c.retired_at()), retired) {
        (None, _) => {
            record.set_retired_at(retired.then_some(now));
            (RowOutcome::Created, if retired { "retire" } else { "create" })
        }
        (Some(Some(_)), false) => {
            return Err(row.error(Some("retired"), "a retired record stays retired; register it anew"));
        }
        (Some(at), true) => {
            record.set_retired_at(Some(at.unwrap_or(now)));
            (RowOutcome::Changed, if at.is_some() { "update" } else { "retire" })
        }
        (Some(None), false) => (RowOutcome::Changed, "update"),
    };
    if let Some(current) = current
        && record.stamped_as(current) == *current
    {
        return Ok(RowOutcome::Unchanged);
    }
    register.insert(record.id().to_owned(), record.clone());
    writes.push(write(record, change));
    Ok(outcome)
}
