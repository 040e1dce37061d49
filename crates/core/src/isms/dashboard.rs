//! The security admin's morning page (issue 17, items 7 and 8; ISMS-9): what needs doing, worst
//! first — controls whose live evidence fails, risks above the appetite, reviews overdue or
//! due within 30 days (assets, risks, SoA lines, vendors and their reassessments), certificates
//! about to lapse (the centre's own and its vendors'), and open alerts and incidents.

use super::Isms;
use super::vendors::WatchedCertificate;
use crate::{CoreError, Principal};
use mamori_audit::{RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::isms::evidence::EvidenceStatus;
use std::collections::HashMap;

/// Reviews due within this many days are listed with the overdue ones.
pub const REVIEW_SOON_DAYS: i64 = 30;

/// What a review is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReviewOf {
    Asset,
    Risk,
    Control,
    Vendor,
    /// A vendor's next assessment.
    VendorAssessment,
}

impl ReviewOf {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewOf::Asset => "asset",
            ReviewOf::Risk => "risk",
            ReviewOf::Control => "control",
            ReviewOf::Vendor => "vendor",
            ReviewOf::VendorAssessment => "vendor_assessment",
        }
    }
}

/// A review that is overdue or due soon.
#[derive(Debug, Clone)]
pub struct DueReview {
    pub of: ReviewOf,
    /// The record's id (the control's urn).
    pub id: String,
    pub name: String,
    /// `YYYY-MM-DD`.
    pub due_on: String,
    /// Negative when overdue.
    pub days_left: i64,
}

/// A control whose live evidence fails or warns.
#[derive(Debug, Clone)]
pub struct FailingControl {
    pub urn: String,
    pub ref_id: String,
    pub name: String,
    pub name_ja: Option<String>,
    pub status: EvidenceStatus,
    /// The evidence kinds not passing.
    pub kinds: Vec<String>,
}

/// The dashboard.
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    /// Annex A: (applicable, implemented, undecided, assessable in all).
    pub controls: (usize, usize, usize, usize),
    pub failing_controls: Vec<FailingControl>,
    /// (id, `R-<n> <title>`, level name en, level name ja, colour) of risks above the appetite.
    pub risks_above_appetite: Vec<(String, String, String, String, String)>,
    pub reviews: Vec<DueReview>,
    /// Certificates with something urgent (within 30 days, expired, renewal window missed) or
    /// within 90 days.
    pub certificates: Vec<WatchedCertificate>,
    pub open_alerts: usize,
    pub open_high_alerts: usize,
    pub open_incidents: usize,
}

impl Isms {
    pub async fn dashboard(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Dashboard, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let today = self.today();
        let days_left =
            |d: &str| mamori_domain::isms::vendor::parse_date(d).map(|d| (d - today).whole_days());
        let mut out = Dashboard::default();
        let mut reviews = Vec::new();
        let mut push = |of, id: &str, name: &str, due: Option<&String>| {
            if let Some(due) = due
                && let Some(left) = days_left(due)
                && left <= REVIEW_SOON_DAYS
            {
                reviews.push(DueReview {
                    of,
                    id: id.to_owned(),
                    name: name.to_owned(),
                    due_on: due.clone(),
                    days_left: left,
                });
            }
        };

        let soa = self.soa(principal, None, None, ctx).await?;
        for line in soa.lines.iter().filter(|l| l.control.assessable) {
            out.controls.3 += 1;
            match &line.entry {
                None => out.controls.2 += 1,
                Some(e) => {
                    if e.applicable {
                        out.controls.0 += 1;
                        out.controls.1 += usize::from(e.implementation == "implemented");
                    }
                    let name = format!(
                        "{} {}",
                        line.control.ref_id,
                        line.control.name_ja.as_ref().unwrap_or(&line.control.name)
                    );
                    push(ReviewOf::Control, &line.control.urn, &name, e.review_on.as_ref());
                }
            }
            if let Some(status @ (EvidenceStatus::Fail | EvidenceStatus::Warn)) = line.evidence_status() {
                out.failing_controls.push(FailingControl {
                    urn: line.control.urn.clone(),
                    ref_id: line.control.ref_id.clone(),
                    name: line.control.name.clone(),
                    name_ja: line.control.name_ja.clone(),
                    status,
                    kinds: line
                        .evidence
                        .iter()
                        .filter(|e| matches!(e.status, EvidenceStatus::Fail | EvidenceStatus::Warn))
                        .map(|e| e.kind.as_str().to_owned())
                        .collect(),
                });
            }
        }
        out.failing_controls.sort_by_key(|c| c.status);

        let register = self.risks(principal, None, ctx).await?;
        let levels = &register.assessment.matrix.levels;
        for r in &register.risks {
            let name = format!("R-{} {}", r.record.number, r.record.title);
            push(ReviewOf::Risk, &r.record.id, &name, r.record.review_on.as_ref());
            if r.above_appetite {
                let level = super::risks::current_level(&r.record) as usize;
                let l = levels.get(level).cloned().unwrap_or_else(|| levels[0].clone());
                out.risks_above_appetite.push((r.record.id.clone(), name, l.en, l.ja, l.color));
            }
        }

        let mut read = self.base.store.read().await?;
        for a in read.assets(false).await? {
            push(ReviewOf::Asset, &a.id, &a.name, a.review_on.as_ref());
        }
        let vendors = read.vendors(false).await?;
        let names: HashMap<String, String> = vendors.iter().map(|v| (v.id.clone(), v.name.clone())).collect();
        let mut latest: HashMap<String, String> = HashMap::new();
        for a in read.vendor_assessments(None).await? {
            latest.entry(a.vendor_id.clone()).or_insert(a.next_on);
        }
        for v in &vendors {
            push(ReviewOf::Vendor, &v.id, &v.name, v.review_on.as_ref());
            push(ReviewOf::VendorAssessment, &v.id, &v.name, latest.get(&v.id));
        }
        let certificates = read.certificates().await?;
        let alerts =
            read.alerts_since(mamori_domain::UnixMillis(0), &crate::detection::ACTIVE_STATES, 10_000).await?;
        out.open_alerts = alerts.len();
        out.open_high_alerts = alerts.iter().filter(|a| a.severity == "high").count();
        out.open_incidents = read.open_incidents().await?.len();
        drop(read);
        out.certificates =
            self.watch(certificates, &names).into_iter().filter(|c| !c.notices.is_empty()).collect();
        out.certificates.sort_by_key(|c| !c.notices.iter().any(|n| n.urgent()));
        reviews.sort_by_key(|r| r.days_left);
        out.reviews = reviews;
        Ok(out)
    }
}
