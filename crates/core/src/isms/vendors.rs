//! Vendors and certificates (issue 17, items 5 and 6; VEND-1…6): the chain of outsourcers and
//! subcontractors with the client companies whose data each handles, their assessments and
//! site visits, and the certificates — the centre's own and the vendors' — watched for expiry
//! and renewal windows. Every change is audited; a vendor's versions stay; a renewal is a new
//! certificate, so how long a mark has been held shows.

use super::Isms;
use crate::{CoreError, Principal, check_id, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::isms::vendor::{
    AssessmentInput, CertificateInput, CertificateNotice, Scheme, VendorError, VendorInput, VisitInput,
    certificate_notices, parse_date,
};
use mamori_proto::ErrorCode;
pub use mamori_store::{CertificateRecord, VendorAssessmentRecord, VendorRecord, VendorVisitRecord};
use mamori_store::{OrgKind, StoreTx};
use std::collections::{HashMap, HashSet};

fn refused(e: VendorError) -> CoreError {
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    CoreError::Invalid { field: e.field, code, message: e.message }
}

/// A certificate with what to act on, as of today (JST).
#[derive(Debug, Clone)]
pub struct WatchedCertificate {
    pub record: CertificateRecord,
    /// The centre itself, or the vendor's name.
    pub holder: String,
    pub notices: Vec<CertificateNotice>,
    /// Whole years since the scheme was first obtained.
    pub held_years: i64,
    /// A later certificate of the same holder and scheme is recorded.
    pub renewed: bool,
}

/// A vendor as a list shows it.
#[derive(Debug, Clone)]
pub struct VendorView {
    pub record: VendorRecord,
    /// The outsourcer's name, for a subcontractor.
    pub parent: Option<String>,
    pub clients: Vec<String>,
    pub latest_assessment: Option<VendorAssessmentRecord>,
    pub certificates: Vec<WatchedCertificate>,
}

/// One vendor with everything about it.
#[derive(Debug, Clone)]
pub struct VendorDetail {
    pub vendor: VendorView,
    pub history: Vec<VendorRecord>,
    pub assessments: Vec<VendorAssessmentRecord>,
    pub visits: Vec<VendorVisitRecord>,
    /// Its subcontractors.
    pub subcontractors: Vec<(String, String)>,
}

impl Isms {
    /// Today in Japan.
    pub(crate) fn today(&self) -> time::Date {
        parse_date(&crate::jst::day(self.base.now())).unwrap_or(time::Date::MIN)
    }

    /// Every certificate (the centre's own and its vendors'), judged as of today.
    pub async fn certificates(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<WatchedCertificate>, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let vendors: HashMap<String, String> =
            read.vendors(true).await?.into_iter().map(|v| (v.id, v.name)).collect();
        let certificates = read.certificates().await?;
        Ok(self.watch(certificates, &vendors))
    }

    pub(crate) fn watch(
        &self,
        certificates: Vec<CertificateRecord>,
        vendors: &HashMap<String, String>,
    ) -> Vec<WatchedCertificate> {
        let today = self.today();
        // The latest end per holder and scheme: an earlier certificate has been renewed.
        let mut latest: HashMap<(Option<String>, String), String> = HashMap::new();
        for c in &certificates {
            let slot = latest.entry((c.vendor_id.clone(), c.scheme.clone())).or_default();
            if c.expires_on > *slot {
                slot.clone_from(&c.expires_on);
            }
        }
        certificates
            .into_iter()
            .map(|c| {
                let renewed =
                    latest.get(&(c.vendor_id.clone(), c.scheme.clone())).is_some_and(|l| *l > c.expires_on);
                let dates =
                    (parse_date(&c.issued_on), parse_date(&c.expires_on), parse_date(&c.first_obtained_on));
                let (notices, held_years) = match (Scheme::parse(&c.scheme), dates) {
                    (Some(scheme), (Some(issued), Some(expires), Some(first))) => (
                        certificate_notices(scheme, issued, expires, renewed, today),
                        i64::from(today.year() - first.year())
                            - i64::from((today.ordinal() < first.ordinal()) as u8),
                    ),
                    _ => (Vec::new(), 0),
                };
                let holder = match &c.vendor_id {
                    Some(v) => vendors.get(v).cloned().unwrap_or_default(),
                    None => String::new(),
                };
                WatchedCertificate { record: c, holder, notices, held_years: held_years.max(0), renewed }
            })
            .collect()
    }

    /// Vendors in force (retired too when asked), each with its chain, clients, latest
    /// assessment and certificates.
    pub async fn vendors(
        &self,
        principal: &Principal,
        include_retired: bool,
        ctx: &RequestContext,
    ) -> Result<Vec<VendorView>, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let vendors = read.vendors(true).await?;
        let names: HashMap<String, String> = vendors.iter().map(|v| (v.id.clone(), v.name.clone())).collect();
        let clients: HashMap<String, String> =
            read.list_org_units(OrgKind::Client).await?.into_iter().map(|u| (u.id, u.name)).collect();
        let mut assessments: HashMap<String, VendorAssessmentRecord> = HashMap::new();
        for a in read.vendor_assessments(None).await? {
            assessments.entry(a.vendor_id.clone()).or_insert(a);
        }
        let mut certificates: HashMap<String, Vec<WatchedCertificate>> = HashMap::new();
        for c in self.watch(read.certificates().await?, &names) {
            if let Some(v) = c.record.vendor_id.clone() {
                certificates.entry(v).or_default().push(c);
            }
        }
        Ok(vendors
            .into_iter()
            .filter(|v| include_retired || v.retired_at.is_none())
            .map(|record| VendorView {
                parent: record.parent_id.as_ref().and_then(|p| names.get(p)).cloned(),
                clients: record.client_ids.iter().filter_map(|c| clients.get(c)).cloned().collect(),
                latest_assessment: assessments.remove(&record.id),
                certificates: certificates.remove(&record.id).unwrap_or_default(),
                record,
            })
            .collect())
    }

    pub async fn vendor(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<VendorDetail, CoreError> {
        check_id(id, "vendor")?;
        let all = self.vendors(principal, true, ctx).await?;
        let subcontractors = all
            .iter()
            .filter(|v| v.record.parent_id.as_deref() == Some(id))
            .map(|v| (v.record.id.clone(), v.record.name.clone()))
            .collect();
        let vendor =
            all.into_iter().find(|v| v.record.id == id).ok_or(CoreError::NotFound { what: "vendor" })?;
        let mut read = self.base.store.read().await?;
        Ok(VendorDetail {
            history: read.vendor_history(id).await?,
            assessments: read.vendor_assessments(Some(id)).await?,
            visits: read.vendor_visits(id).await?,
            subcontractors,
            vendor,
        })
    }

    /// Registers a vendor; returns its id.
    pub async fn create_vendor(
        &self,
        principal: &Principal,
        input: VendorInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::VENDOR_CHANGE, ctx).await?;
        let id = new_id();
        self.store_vendor(principal, &id, input, None, "create", ctx).await?;
        Ok(id)
    }

    /// Changes a vendor (a new version).
    pub async fn update_vendor(
        &self,
        principal: &Principal,
        id: &str,
        input: VendorInput,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::VENDOR_CHANGE, ctx).await?;
        let current = self.vendor_in_force(id).await?;
        self.store_vendor(principal, &current.id, input, None, "update", ctx).await
    }

    /// Ends a vendor (a last version, retired); its history, assessments and certificates stay.
    pub async fn retire_vendor(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::VENDOR_CHANGE, ctx).await?;
        let v = self.vendor_in_force(id).await?;
        let input = VendorInput {
            name: v.name,
            parent_id: v.parent_id,
            client_ids: v.client_ids,
            data_handled: v.data_handled,
            contact: v.contact,
            review_on: v.review_on,
            notes: v.notes,
        };
        self.store_vendor(principal, &v.id, input, Some(self.base.now()), "retire", ctx).await
    }

    async fn vendor_in_force(&self, id: &str) -> Result<VendorRecord, CoreError> {
        check_id(id, "vendor")?;
        let current = self.base.store.read().await?.vendor(id).await?;
        current.filter(|v| v.retired_at.is_none()).ok_or(CoreError::NotFound { what: "vendor" })
    }

    async fn store_vendor(
        &self,
        principal: &Principal,
        id: &str,
        input: VendorInput,
        retired_at: Option<mamori_domain::UnixMillis>,
        change: &'static str,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        // A vendor retiring keeps its links as they were, whatever became of its outsourcer.
        if let Some(parent) = input.parent_id.as_ref().filter(|_| retired_at.is_none()) {
            // The chain goes up to a direct vendor, never round to this one.
            let mut at = Some(parent.clone());
            let mut seen = HashSet::new();
            while let Some(p) = at {
                if p == id || !seen.insert(p.clone()) {
                    return Err(CoreError::invalid(
                        "parent_id",
                        ErrorCode::InvalidValue,
                        "the chain of outsourcers would loop",
                    ));
                }
                let found = tx.vendor(&p).await?.filter(|v| v.retired_at.is_none());
                let found = found.ok_or_else(|| {
                    CoreError::invalid("parent_id", ErrorCode::InvalidValue, "no vendor in force has this id")
                })?;
                at = found.parent_id;
            }
        }
        let clients: HashSet<String> =
            tx.list_org_units(OrgKind::Client).await?.into_iter().map(|u| u.id).collect();
        if let Some(c) = input.client_ids.iter().find(|c| retired_at.is_none() && !clients.contains(*c)) {
            return Err(CoreError::invalid(
                "client_ids",
                ErrorCode::InvalidValue,
                format!("no client company has the id {c}"),
            ));
        }
        let record = VendorRecord {
            id: id.to_owned(),
            version: 0,
            name: input.name,
            parent_id: input.parent_id,
            client_ids: input.client_ids,
            data_handled: input.data_handled,
            contact: input.contact,
            review_on: input.review_on,
            notes: input.notes,
            retired_at,
            changed_at: self.base.now(),
            changed_by: principal.actor().encode(),
        };
        let version = tx.put_vendor(&record).await?;
        self.audit_vendor(&mut tx, principal, id, change, Some(version), ctx).await?;
        tx.commit().await?;
        Ok(version)
    }

    pub(super) async fn audit_vendor(
        &self,
        tx: &mut Box<dyn StoreTx>,
        principal: &Principal,
        vendor_id: &str,
        change: &'static str,
        version: Option<i64>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let mut e = AuditEvent::of(&actions::VENDOR_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("vendor:{vendor_id}"))
            .detail("change", change);
        if let Some(v) = version {
            e = e.detail("version", v.to_string());
        }
        self.base.audit(tx, ctx, e).await
    }

    /// Records a certificate — the centre's own (`vendor_id` none) or a vendor's; a renewal
    /// is recorded as a new certificate. Returns its id.
    pub async fn record_certificate(
        &self,
        principal: &Principal,
        vendor_id: Option<&str>,
        input: CertificateInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::CERTIFICATE_RECORD, ctx).await?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        if let Some(v) = vendor_id {
            check_id(v, "vendor")?;
            tx.vendor(v)
                .await?
                .filter(|v| v.retired_at.is_none())
                .ok_or(CoreError::NotFound { what: "vendor" })?;
        }
        let record = CertificateRecord {
            id: new_id(),
            vendor_id: vendor_id.map(str::to_owned),
            scheme: input.scheme.as_str().to_owned(),
            number: input.number,
            issuer: input.issuer,
            first_obtained_on: input.first_obtained_on,
            issued_on: input.issued_on,
            expires_on: input.expires_on.clone(),
            recorded_at: self.base.now(),
            recorded_by: principal.actor().encode(),
        };
        tx.insert_certificate(&record).await?;
        self.base.audit(&mut tx, ctx, certificate_event(principal.actor(), &record)).await?;
        tx.commit().await?;
        Ok(record.id)
    }

    /// Records an assessment of a vendor: the total, the tier and the next assessment's date
    /// follow from the scores. Returns its id.
    pub async fn assess_vendor(
        &self,
        principal: &Principal,
        vendor_id: &str,
        mut input: AssessmentInput,
        ctx: &RequestContext,
    ) -> Result<VendorAssessmentRecord, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::VENDOR_CHANGE, ctx).await?;
        check_id(vendor_id, "vendor")?;
        let (total, tier, next) = input.judged().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        tx.vendor(vendor_id)
            .await?
            .filter(|v| v.retired_at.is_none())
            .ok_or(CoreError::NotFound { what: "vendor" })?;
        let record = VendorAssessmentRecord {
            id: new_id(),
            vendor_id: vendor_id.to_owned(),
            assessed_on: input.assessed_on,
            scores: input.scores.iter().map(|(c, s)| (c.as_str().to_owned(), i64::from(*s))).collect(),
            total: i64::from(total),
            tier: tier.as_str().to_owned(),
            next_on: next.to_string(),
            notes: input.notes,
            recorded_at: self.base.now(),
            recorded_by: principal.actor().encode(),
        };
        tx.insert_vendor_assessment(&record).await?;
        self.audit_vendor(&mut tx, principal, vendor_id, "assess", None, ctx).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Records a visit to a vendor's site (VEND-4).
    pub async fn record_vendor_visit(
        &self,
        principal: &Principal,
        vendor_id: &str,
        input: VisitInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::VENDOR_CHANGE, ctx).await?;
        check_id(vendor_id, "vendor")?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        tx.vendor(vendor_id).await?.ok_or(CoreError::NotFound { what: "vendor" })?;
        let record = VendorVisitRecord {
            id: new_id(),
            vendor_id: vendor_id.to_owned(),
            visited_on: input.visited_on,
            visitor: input.visitor,
            findings: input.findings,
            recorded_at: self.base.now(),
            recorded_by: principal.actor().encode(),
        };
        tx.insert_vendor_visit(&record).await?;
        self.audit_vendor(&mut tx, principal, vendor_id, "visit", None, ctx).await?;
        tx.commit().await?;
        Ok(record.id)
    }
}

/// The audit entry of a recorded certificate.
pub(super) fn certificate_event(actor: mamori_audit::Actor, c: &CertificateRecord) -> AuditEvent {
    let holder = c.vendor_id.as_ref().map_or_else(|| "centre".to_owned(), |v| format!("vendor:{v}"));
    AuditEvent::of(&actions::CERTIFICATE_RECORD, actor, Outcome::Success)
        .object(format!("certificate:{}", c.id))
        .detail("holder", holder)
        .detail("scheme", c.scheme.clone())
        .detail("expires_on", c.expires_on.clone())
}
