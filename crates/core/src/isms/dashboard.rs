//! The security admin's morning page (issue 17, items 7 and 8; ISMS-9): what needs doing, worst
//! first — controls whose live evidence fails, risks above the appetite, reviews overdue or
//! due within 30 days (assets, risks, SoA lines, vendors and their reassessments, the legal
//! register), certificates about to lapse (the centre's own and its vendors'), and open alerts
//! and incidents.

use super::Isms;
use super::vendors::WatchedCertificate;
use crate::{CoreError, Principal};
use mamori_audit::{RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::isms::evidence::{EvidenceKind, EvidenceStatus};
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
    /// A requirement of the legal register (ISMS-4).
    Legal,
    /// A business-continuity plan's next drill (ISMS-5).
    Drill,
    /// An internal audit's finding, by its corrective action's due date (ISMS-7).
    Finding,
    /// A checklist whose last period was missed by someone who owes it (ISMS-7, LEAK-4).
    Check,
}

impl ReviewOf {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewOf::Asset => "asset",
            ReviewOf::Risk => "risk",
            ReviewOf::Control => "control",
            ReviewOf::Vendor => "vendor",
            ReviewOf::VendorAssessment => "vendor_assessment",
            ReviewOf::Legal => "legal",
            ReviewOf::Drill => "drill",
            ReviewOf::Finding => "finding",
            ReviewOf::Check => "check",
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
    /// The people controls' measurements (issue 18, item 9): acknowledgements, training,
    /// the last access review, checks, internal audits' findings — as last measured.
    pub people: Vec<super::EvidenceItem>,
}

/// What the dashboard's people section shows, in this order.
pub const PEOPLE_EVIDENCE: [EvidenceKind; 5] = [
    EvidenceKind::PolicyAcknowledgements,
    EvidenceKind::TrainingCompletion,
    EvidenceKind::LastAccessReview,
    EvidenceKind::OverdueChecks,
    EvidenceKind::OpenFindings,
];

impl Isms {
    pub async fn dashboard(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Dashboard, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut out = Dashboard::default();
        let soa = self.soa(principal, None, None, ctx).await?;
        for line in soa.lines.iter().filter(|l| l.control.assessable) {
            out.controls.3 += 1;
            match &line.entry {
                None => out.controls.2 += 1,
                Some(e) if e.applicable => {
                    out.controls.0 += 1;
                    out.controls.1 += usize::from(e.implementation == "implemented");
                }
                Some(_) => {}
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
        for kind in PEOPLE_EVIDENCE {
            let measured = soa.lines.iter().flat_map(|l| l.evidence.iter()).find(|e| e.kind == kind);
            out.people.extend(measured.cloned());
        }

        let register = self.risks(principal, None, ctx).await?;
        let levels = &register.assessment.matrix.levels;
        for r in register.risks.iter().filter(|r| r.above_appetite) {
            let name = format!("R-{} {}", r.record.number, r.record.title);
            let level = super::risks::current_level(&r.record) as usize;
            let l = levels.get(level).cloned().unwrap_or_else(|| levels[0].clone());
            out.risks_above_appetite.push((r.record.id.clone(), name, l.en, l.ja, l.color));
        }

        let mut read = self.base.store.read().await?;
        out.reviews = due_reviews(&mut *read, self.today()).await?;
        let names: HashMap<String, String> =
            read.vendors(true).await?.into_iter().map(|v| (v.id, v.name)).collect();
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
        Ok(out)
    }
}

/// Reviews overdue or due within [`REVIEW_SOON_DAYS`] of `today`, overdue first: assets in
/// force, the newest assessment's risks, decided SoA lines, vendors and their reassessments,
/// the legal register's requirements in force.
pub(crate) async fn due_reviews(
    read: &mut dyn mamori_store::StoreRead,
    today: time::Date,
) -> Result<Vec<DueReview>, CoreError> {
    let mut reviews = Vec::new();
    let mut push = |of, id: &str, name: &str, due: Option<&String>| {
        if let Some(due) = due
            && let Some(day) = mamori_domain::isms::vendor::parse_date(due)
            && (day - today).whole_days() <= REVIEW_SOON_DAYS
        {
            let days_left = (day - today).whole_days();
            reviews.push(DueReview {
                of,
                id: id.to_owned(),
                name: name.to_owned(),
                due_on: due.clone(),
                days_left,
            });
        }
    };
    for a in read.assets(false).await? {
        push(ReviewOf::Asset, &a.id, &a.name, a.review_on.as_ref());
    }
    if let Some(assessment) = read.risk_assessments().await?.into_iter().next() {
        for r in read.risks(&assessment.id).await? {
            push(ReviewOf::Risk, &r.id, &format!("R-{} {}", r.number, r.title), r.review_on.as_ref());
        }
    }
    let controls: HashMap<String, String> = read
        .catalog_controls(None)
        .await?
        .into_iter()
        .map(|c| (c.urn, format!("{} {}", c.ref_id, c.name_ja.unwrap_or(c.name))))
        .collect();
    for e in read.soa_entries().await? {
        let name = controls.get(&e.control_urn).cloned().unwrap_or_else(|| e.control_urn.clone());
        push(ReviewOf::Control, &e.control_urn, &name, e.review_on.as_ref());
    }
    let vendors = read.vendors(false).await?;
    let mut next: HashMap<String, String> = HashMap::new();
    for a in read.vendor_assessments(None).await? {
        next.entry(a.vendor_id.clone()).or_insert(a.next_on);
    }
    for v in &vendors {
        push(ReviewOf::Vendor, &v.id, &v.name, v.review_on.as_ref());
        push(ReviewOf::VendorAssessment, &v.id, &v.name, next.get(&v.id));
    }
    for l in read.legal_requirements(false).await? {
        push(ReviewOf::Legal, &l.id, &l.title, l.review_on.as_ref());
    }
    for (id, title, due) in super::continuity::drills_due(read).await? {
        push(ReviewOf::Drill, &id, &title, Some(&due));
    }
    for (id, name, due) in super::internal_audits::findings_due(read).await? {
        push(ReviewOf::Finding, &id, &name, Some(&due));
    }
    for (id, name, due) in super::checks::checks_due(read, today).await? {
        push(ReviewOf::Check, &id, &name, Some(&due));
    }
    reviews.sort_by_key(|r| r.days_left);
    Ok(reviews)
}

impl Isms {
    /// Queues the reminders that are due by e-mail (actor `system`, every few minutes):
    /// certificates within 30 days of their end, ended, or past their renewal window; reviews
    /// overdue. Each is sent once: its key names the record and the threshold. Returns how
    /// many were new.
    pub async fn queue_reminders(&self) -> Result<usize, CoreError> {
        use mamori_domain::isms::vendor::CertificateNotice;
        let today = self.today();
        let mut read = self.base.store.read().await?;
        let names: HashMap<String, String> =
            read.vendors(true).await?.into_iter().map(|v| (v.id, v.name)).collect();
        let certificates = self.watch(read.certificates().await?, &names);
        let overdue: Vec<DueReview> =
            due_reviews(&mut *read, today).await?.into_iter().filter(|r| r.days_left < 0).collect();
        drop(read);
        let mut tx = self.base.store.begin().await?;
        let mut queued = 0;
        for c in &certificates {
            let words: Vec<(&str, String, String)> = c
                .notices
                .iter()
                .filter(|n| n.urgent())
                .map(|notice| match notice {
                    CertificateNotice::Expired { days_ago } => (
                        "expired",
                        format!("{days_ago} 日前に期限切れ"),
                        format!("expired {days_ago} days ago"),
                    ),
                    CertificateNotice::ExpiresSoon { days } => (
                        "expires_soon",
                        format!("あと {days} 日で期限切れ"),
                        format!("expires in {days} days"),
                    ),
                    _ => (
                        "renewal_window_missed",
                        "更新申請期間を過ぎています".into(),
                        "the renewal window has closed".into(),
                    ),
                })
                .collect();
            // One mail per certificate, named by its most urgent notice (they come worst first).
            let Some((kind, ja, en)) = words.first() else { continue };
            let holder = if c.holder.is_empty() {
                "当センター (this centre)".to_owned()
            } else {
                c.holder.clone()
            };
            let scheme = if c.record.scheme == "privacy_mark" {
                "プライバシーマーク (Privacy Mark)"
            } else {
                "ISO/IEC 27001"
            };
            let subject = format!("[Mamori] {scheme} {ja} / {en}: {holder}");
            let lines: Vec<String> = words.iter().map(|(_, ja, en)| format!("- {ja} / {en}")).collect();
            let body = format!(
                "{holder}\n{scheme} {number}\n有効期限 (expires): {expires}\n{lines}\n\n\
                 Mamori の ISMS ダッシュボードで確認してください (see the ISMS dashboard).\n",
                number = c.record.number,
                expires = c.record.expires_on,
                lines = lines.join("\n"),
            );
            let key = format!("certificate:{}:{kind}", c.record.id);
            queued += usize::from(self.base.queue_mail(&mut tx, key, subject, body).await?);
        }
        for r in overdue {
            let subject = format!("[Mamori] 見直し期限切れ / review overdue: {}", r.name);
            let body = format!(
                "{name}\n見直し予定日 (review due): {due}（{days} 日超過 / {days} days overdue）\n\n\
                 Mamori の ISMS ダッシュボードで確認してください (see the ISMS dashboard).\n",
                name = r.name,
                due = r.due_on,
                days = -r.days_left,
            );
            let key = format!("review:{}:{}:{}", r.of.as_str(), r.id, r.due_on);
            queued += usize::from(self.base.queue_mail(&mut tx, key, subject, body).await?);
        }
        tx.commit().await?;
        Ok(queued)
    }
}
