//! The ISMS registers (issue 17): control catalogs, the Statement of Applicability and the live
//! evidence Mamori measures of itself. Pure: reading catalog files, judging measurements, and
//! the rules of an SoA decision.

pub mod access_review;
pub mod asset;
pub mod catalog;
pub mod checks;
pub mod continuity;
pub mod disposal;
pub mod evidence;
pub mod internal_audit;
pub mod legal;
pub mod policy;
pub mod risk;
pub mod training;
pub mod transfer;
pub mod vendor;

use serde::{Deserialize, Serialize};

/// How far a control is put into practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Implementation {
    NotStarted,
    Planned,
    Partial,
    Implemented,
}

impl Implementation {
    pub const ALL: [Implementation; 4] = [
        Implementation::NotStarted,
        Implementation::Planned,
        Implementation::Partial,
        Implementation::Implemented,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Implementation::NotStarted => "not_started",
            Implementation::Planned => "planned",
            Implementation::Partial => "partial",
            Implementation::Implemented => "implemented",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One control's line in the Statement of Applicability, as decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SoaDecision {
    pub applicable: bool,
    /// Why the control applies (or why not: required then).
    #[serde(default)]
    pub justification: String,
    pub implementation: Implementation,
    /// The user who answers for the control.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// The next review (`YYYY-MM-DD`, ISMS-9).
    #[serde(default)]
    pub review_on: Option<String>,
}

/// Why an SoA decision was refused: the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SoaError {
    pub field: &'static str,
    pub message: &'static str,
}

impl SoaDecision {
    /// The rules of a line: a control left out says why; text is bounded; a review date is a date.
    pub fn checked(mut self) -> Result<SoaDecision, SoaError> {
        self.justification = self.justification.trim().to_owned();
        if !self.applicable && self.justification.is_empty() {
            return Err(SoaError {
                field: "justification",
                message: "a control that does not apply needs a justification (ISO/IEC 27001 6.1.3 d)",
            });
        }
        if self.justification.chars().count() > 2000 {
            return Err(SoaError { field: "justification", message: "at most 2000 characters" });
        }
        if self.justification.chars().any(|c| c.is_control() && c != '\n') {
            return Err(SoaError { field: "justification", message: "control characters are not allowed" });
        }
        if !self.applicable && self.implementation != Implementation::NotStarted {
            self.implementation = Implementation::NotStarted;
        }
        self.owner_id = self.owner_id.map(|o| o.trim().to_owned()).filter(|o| !o.is_empty());
        self.review_on = self.review_on.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        if let Some(d) = &self.review_on
            && !is_date(d)
        {
            return Err(SoaError { field: "review_on", message: "a date as YYYY-MM-DD" });
        }
        Ok(self)
    }
}

/// `YYYY-MM-DD` with a real month and day.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else { return false };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (2000..=2200).contains(&y) && (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_is_checked() {
        let d = |applicable, justification: &str, review: Option<&str>| SoaDecision {
            applicable,
            justification: justification.into(),
            implementation: Implementation::Implemented,
            owner_id: None,
            review_on: review.map(Into::into),
        };
        assert_eq!(d(false, " ", None).checked().unwrap_err().field, "justification");
        let left_out = d(false, "在宅勤務なし", None).checked().unwrap();
        assert_eq!(left_out.implementation, Implementation::NotStarted);
        assert!(d(true, "", Some("2027-02-28")).checked().is_ok());
        assert_eq!(d(true, "", Some("2027-02-29")).checked().unwrap_err().field, "review_on");
        assert!(is_date("2028-02-29") && !is_date("2028-13-01") && !is_date("28-02-2029"));
    }
}
