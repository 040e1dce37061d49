//! Vendors, subcontractors and certificates (issue 17, items 5 and 6; VEND-1…6, ISMS-4): the
//! chain of outsourcers (再委託), each vendor's assessment on the source article's criteria,
//! and the certificates — the centre's own and its vendors' — whose expiry and renewal windows
//! are watched: a Privacy Mark is valid two years and its renewal is applied for from eight to
//! four months before it ends; an ISO/IEC 27001 certificate runs three years with surveillance
//! audits in years one and two.

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// Warnings at these days before an expiry.
pub const EXPIRY_WARNINGS: [i64; 2] = [90, 30];

/// A certification scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// プライバシーマーク (JIS Q 15001): valid 2 years.
    PrivacyMark,
    /// ISO/IEC 27001 (ISMS): a 3-year cycle.
    Iso27001,
}

impl Scheme {
    pub const ALL: [Scheme; 2] = [Scheme::PrivacyMark, Scheme::Iso27001];

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::PrivacyMark => "privacy_mark",
            Scheme::Iso27001 => "iso27001",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Something to act on about a certificate, as of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CertificateNotice {
    /// It has ended (no later certificate of the scheme recorded).
    Expired { days_ago: i64 },
    /// It ends within 30 days.
    ExpiresSoon { days: i64 },
    /// It ends within 90 days.
    ExpiresWithin90 { days: i64 },
    /// Privacy Mark: the renewal application window is open (8 to 4 months before the end).
    RenewalWindowOpen { closes_in_days: i64 },
    /// Privacy Mark: the window closed and no renewal is recorded.
    RenewalWindowMissed,
    /// ISO/IEC 27001: a surveillance audit falls due within 90 days (year 1 or 2).
    SurveillanceDue { year: u8, days: i64 },
}

impl CertificateNotice {
    /// Worth a reminder (an e-mail, the dashboard's "expiring" list): within 30 days, expired,
    /// or a missed renewal window.
    pub fn urgent(self) -> bool {
        matches!(
            self,
            CertificateNotice::Expired { .. }
                | CertificateNotice::ExpiresSoon { .. }
                | CertificateNotice::RenewalWindowMissed
        )
    }
}

/// `YYYY-MM-DD` → a date.
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = s[0..4].parse().ok()?;
    let month = Month::try_from(s[5..7].parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year, month, s[8..10].parse().ok()?).ok()
}

/// `months` months before `date` (the day clamped to the month's length).
fn months_before(date: Date, months: i32) -> Date {
    let total = date.year() * 12 + (date.month() as i32 - 1) - months;
    let (year, month) =
        (total.div_euclid(12), Month::try_from((total.rem_euclid(12) + 1) as u8).unwrap_or(Month::January));
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, date.day().min(last)).unwrap_or(date)
}

/// What to act on about a certificate that ends on `expires_on`, as of `today`. `renewed`:
/// a later certificate of the same scheme and holder is recorded (its successor).
pub fn certificate_notices(
    scheme: Scheme,
    issued_on: Date,
    expires_on: Date,
    renewed: bool,
    today: Date,
) -> Vec<CertificateNotice> {
    let mut out = Vec::new();
    if renewed {
        return out;
    }
    let days = (expires_on - today).whole_days();
    if days < 0 {
        out.push(CertificateNotice::Expired { days_ago: -days });
        return out;
    }
    if days <= EXPIRY_WARNINGS[1] {
        out.push(CertificateNotice::ExpiresSoon { days });
    } else if days <= EXPIRY_WARNINGS[0] {
        out.push(CertificateNotice::ExpiresWithin90 { days });
    }
    match scheme {
        Scheme::PrivacyMark => {
            let (opens, closes) = (months_before(expires_on, 8), months_before(expires_on, 4));
            if today >= opens && today <= closes {
                out.push(CertificateNotice::RenewalWindowOpen {
                    closes_in_days: (closes - today).whole_days(),
                });
            } else if today > closes {
                out.push(CertificateNotice::RenewalWindowMissed);
            }
        }
        Scheme::Iso27001 => {
            for year in [1u8, 2] {
                let due = months_before(issued_on, -12 * i32::from(year));
                let until = (due - today).whole_days();
                if (0..=90).contains(&until) {
                    out.push(CertificateNotice::SurveillanceDue { year, days: until });
                }
            }
        }
    }
    out
}

/// The criteria a vendor is assessed on (VEND-1…6; the source article's list).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// A security policy, and answers to questions about attacks and human error (VEND-1).
    SecurityPolicy,
    /// Privacy Mark, ISMS (VEND-2).
    Certifications,
    /// A track record in such outsourcing (VEND-3).
    TrackRecord,
    /// Specialised in the work (VEND-3).
    Specialisation,
    /// Fast response when trouble happens (VEND-3).
    Responsiveness,
    /// Every subcontractor checked, with site visits (VEND-4).
    SubcontractorChecks,
    /// The share of regular employees (VEND-5).
    RegularEmployees,
    /// Enough supervisors for the operators (VEND-5).
    SupervisorRatio,
    /// NDAs and personal-data confidentiality agreements (VEND-6).
    Nda,
    /// One shared handling standard and manual (VEND-4).
    SharedManual,
}

impl Criterion {
    pub const ALL: [Criterion; 10] = [
        Criterion::SecurityPolicy,
        Criterion::Certifications,
        Criterion::TrackRecord,
        Criterion::Specialisation,
        Criterion::Responsiveness,
        Criterion::SubcontractorChecks,
        Criterion::RegularEmployees,
        Criterion::SupervisorRatio,
        Criterion::Nda,
        Criterion::SharedManual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Criterion::SecurityPolicy => "security_policy",
            Criterion::Certifications => "certifications",
            Criterion::TrackRecord => "track_record",
            Criterion::Specialisation => "specialisation",
            Criterion::Responsiveness => "responsiveness",
            Criterion::SubcontractorChecks => "subcontractor_checks",
            Criterion::RegularEmployees => "regular_employees",
            Criterion::SupervisorRatio => "supervisor_ratio",
            Criterion::Nda => "nda",
            Criterion::SharedManual => "shared_manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A vendor's risk tier from its assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Scores well: reassessed every two years.
    Low,
    /// Reassessed every year.
    Medium,
    /// A weak point on a must-have (no NDA, no policy) or a low score: reassessed in six months.
    High,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Medium => "medium",
            Tier::High => "high",
        }
    }

    /// Months until the next assessment.
    pub fn reassess_after_months(self) -> i32 {
        match self {
            Tier::Low => 24,
            Tier::Medium => 12,
            Tier::High => 6,
        }
    }
}

/// Scores 1 (poor) to 5 (good) on every criterion → (total out of 50, tier). Missing a
/// must-have — an NDA, a security policy — (score 1) makes the tier high whatever the rest.
pub fn assess(scores: &[(Criterion, u8)]) -> Result<(u32, Tier), String> {
    for c in Criterion::ALL {
        match scores.iter().filter(|(k, _)| *k == c).count() {
            1 => {}
            0 => return Err(format!("{} is not scored", c.as_str())),
            _ => return Err(format!("{} is scored twice", c.as_str())),
        }
    }
    if let Some((c, s)) = scores.iter().find(|(_, s)| !(1..=5).contains(s)) {
        return Err(format!("{} is scored {s}; scores are 1 to 5", c.as_str()));
    }
    let total: u32 = scores.iter().map(|(_, s)| u32::from(*s)).sum();
    let must_fail =
        scores.iter().any(|(c, s)| matches!(c, Criterion::Nda | Criterion::SecurityPolicy) && *s == 1);
    let tier = match total {
        _ if must_fail => Tier::High,
        0..=29 => Tier::High,
        30..=39 => Tier::Medium,
        _ => Tier::Low,
    };
    Ok((total, tier))
}

/// The date `months` after `date` (for reassessment dates).
pub fn months_after(date: Date, months: i32) -> Date {
    months_before(date, -months)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn a_privacy_mark_is_watched() {
        let pm = |today| {
            certificate_notices(Scheme::PrivacyMark, d("2025-06-01"), d("2027-05-31"), false, d(today))
        };
        assert_eq!(pm("2026-06-01"), []);
        // The window opens eight months before the end and closes four months before.
        assert_eq!(pm("2026-09-30"), [CertificateNotice::RenewalWindowOpen { closes_in_days: 123 }]);
        assert_eq!(pm("2027-02-01"), [CertificateNotice::RenewalWindowMissed]);
        assert_eq!(
            pm("2027-05-11"),
            [CertificateNotice::ExpiresSoon { days: 20 }, CertificateNotice::RenewalWindowMissed]
        );
        assert_eq!(pm("2027-06-02"), [CertificateNotice::Expired { days_ago: 2 }]);
        let renewed =
            certificate_notices(Scheme::PrivacyMark, d("2025-06-01"), d("2027-05-31"), true, d("2027-06-02"));
        assert_eq!(renewed, [], "its successor is recorded");
    }

    #[test]
    fn an_iso_certificate_has_surveillance_audits() {
        let iso =
            |today| certificate_notices(Scheme::Iso27001, d("2026-03-15"), d("2029-03-14"), false, d(today));
        assert_eq!(iso("2027-01-14"), [CertificateNotice::SurveillanceDue { year: 1, days: 60 }]);
        assert_eq!(iso("2028-03-15"), [CertificateNotice::SurveillanceDue { year: 2, days: 0 }]);
        assert_eq!(iso("2029-01-01"), [CertificateNotice::ExpiresWithin90 { days: 72 }]);
        assert!(
            CertificateNotice::ExpiresSoon { days: 3 }.urgent()
                && !CertificateNotice::ExpiresWithin90 { days: 72 }.urgent()
        );
    }

    #[test]
    fn a_vendor_is_assessed() {
        let all = |score: u8| Criterion::ALL.iter().map(|c| (*c, score)).collect::<Vec<_>>();
        assert_eq!(assess(&all(5)), Ok((50, Tier::Low)));
        assert_eq!(assess(&all(3)), Ok((30, Tier::Medium)));
        let mut no_nda = all(5);
        no_nda.retain(|(c, _)| *c != Criterion::Nda);
        assert!(assess(&no_nda).unwrap_err().contains("nda"));
        no_nda.push((Criterion::Nda, 1));
        assert_eq!(assess(&no_nda), Ok((46, Tier::High)), "a must-have missing");
        let mut six = all(5);
        six[0].1 = 6;
        assert!(assess(&six).is_err());
        assert_eq!(months_after(d("2026-08-31"), 6), d("2027-02-28"));
    }
}

/// Why a vendor, certificate, assessment or visit was refused: the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct VendorError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> VendorError {
    VendorError { field, message: message.into() }
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, VendorError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(bad(field, "required"));
    }
    if value.chars().count() > max {
        return Err(bad(field, format!("at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(bad(field, "control characters are not allowed"));
    }
    Ok(value.to_owned())
}

fn day(field: &'static str, value: &str) -> Result<Date, VendorError> {
    parse_date(value.trim()).ok_or_else(|| bad(field, "a date as YYYY-MM-DD"))
}

/// A vendor as a person describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VendorInput {
    pub name: String,
    /// The outsourcer it works for (a subcontractor, 再委託); none for a direct vendor.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The client companies whose data it handles.
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// What data it handles (e.g. 氏名・電話番号・購入履歴).
    #[serde(default)]
    pub data_handled: String,
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub review_on: Option<String>,
    #[serde(default)]
    pub notes: String,
}

impl VendorInput {
    pub fn checked(mut self) -> Result<VendorInput, VendorError> {
        self.name = text("name", &self.name, 200, true)?;
        self.data_handled = text("data_handled", &self.data_handled, 1000, false)?;
        self.contact = text("contact", &self.contact, 500, false)?;
        self.notes = text("notes", &self.notes, 2000, false)?;
        self.parent_id = self.parent_id.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        self.client_ids.sort();
        self.client_ids.dedup();
        self.review_on = self.review_on.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        if let Some(d) = &self.review_on {
            day("review_on", d)?;
        }
        Ok(self)
    }
}

/// A certificate as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateInput {
    pub scheme: Scheme,
    /// The registration number (Privacy Mark: 第XXXXXXXX(XX)号).
    pub number: String,
    /// Who certified (JIPDEC, a certification body).
    #[serde(default)]
    pub issuer: String,
    /// When the holder first obtained this scheme (how long it has been held, VEND-2).
    pub first_obtained_on: String,
    pub issued_on: String,
    pub expires_on: String,
}

impl CertificateInput {
    /// The dates are real and in order: first obtained ≤ issued < expires.
    pub fn checked(mut self) -> Result<CertificateInput, VendorError> {
        self.number = text("number", &self.number, 100, true)?;
        self.issuer = text("issuer", &self.issuer, 200, false)?;
        let first = day("first_obtained_on", &self.first_obtained_on)?;
        let issued = day("issued_on", &self.issued_on)?;
        let expires = day("expires_on", &self.expires_on)?;
        if first > issued {
            return Err(bad("first_obtained_on", "on or before the issue date"));
        }
        if expires <= issued {
            return Err(bad("expires_on", "after the issue date"));
        }
        let years = match self.scheme {
            Scheme::PrivacyMark => 2,
            Scheme::Iso27001 => 3,
        };
        if expires > months_after(issued, 12 * years) {
            return Err(bad("expires_on", format!("this scheme is valid at most {years} years")));
        }
        for d in [&mut self.first_obtained_on, &mut self.issued_on, &mut self.expires_on] {
            *d = d.trim().to_owned();
        }
        Ok(self)
    }
}

/// A vendor's assessment as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentInput {
    pub assessed_on: String,
    /// Every criterion scored 1 (poor) to 5 (good).
    pub scores: std::collections::BTreeMap<Criterion, u8>,
    #[serde(default)]
    pub notes: String,
}

/// A site visit as recorded (VEND-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitInput {
    pub visited_on: String,
    pub visitor: String,
    #[serde(default)]
    pub findings: String,
}

impl AssessmentInput {
    /// (total, tier, the next assessment's date).
    pub fn judged(&mut self) -> Result<(u32, Tier, Date), VendorError> {
        let on = day("assessed_on", &self.assessed_on)?;
        self.assessed_on = self.assessed_on.trim().to_owned();
        self.notes = text("notes", &self.notes, 2000, false)?;
        let scores: Vec<(Criterion, u8)> = self.scores.iter().map(|(c, s)| (*c, *s)).collect();
        let (total, tier) = assess(&scores).map_err(|m| bad("scores", m))?;
        Ok((total, tier, months_after(on, tier.reassess_after_months())))
    }
}

impl VisitInput {
    pub fn checked(mut self) -> Result<VisitInput, VendorError> {
        day("visited_on", &self.visited_on)?;
        self.visited_on = self.visited_on.trim().to_owned();
        self.visitor = text("visitor", &self.visitor, 200, true)?;
        self.findings = text("findings", &self.findings, 4000, false)?;
        Ok(self)
    }
}
