//! The legal register (issue 17, item 6; ISMS-4): the laws, regulations, guidelines, contracts
//! and certification rules the centre must comply with — the Act on the Protection of Personal
//! Information (個人情報保護法), the My Number Act (番号法), the Personal Information Protection
//! Commission's guidelines, each client company's outsourcing contract, JIS Q 15001 for the
//! Privacy Mark — each with what it requires of the centre, who answers for it and when it is
//! next reviewed.

use serde::{Deserialize, Serialize};

/// What kind of requirement.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LegalKind {
    /// An act (法律): APPI, the My Number Act, the Unfair Competition Prevention Act.
    Law,
    /// A cabinet order or ministerial ordinance (政令・施行規則).
    Regulation,
    /// A regulator's guideline (ガイドライン), e.g. the PPC's guidelines.
    Guideline,
    /// A contract with a client company (業務委託契約) or another party.
    Contract,
    /// The rules of a certification the centre holds (JIS Q 15001, ISO/IEC 27001).
    CertificationRule,
}

impl LegalKind {
    pub const ALL: &'static [LegalKind] = &[
        LegalKind::Law,
        LegalKind::Regulation,
        LegalKind::Guideline,
        LegalKind::Contract,
        LegalKind::CertificationRule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LegalKind::Law => "law",
            LegalKind::Regulation => "regulation",
            LegalKind::Guideline => "guideline",
            LegalKind::Contract => "contract",
            LegalKind::CertificationRule => "certification_rule",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// A requirement as a person describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalInput {
    pub kind: LegalKind,
    /// Its name (個人情報の保護に関する法律, 通販A社 業務委託契約).
    pub title: String,
    /// Where in it: articles, a contract's number (第23条〜第26条, 契約番号 2024-017).
    #[serde(default)]
    pub reference: String,
    /// What it requires of the centre.
    pub obligations: String,
    /// A contract's client company (only a contract names one).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The user who answers for it.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// The next review (`YYYY-MM-DD`, ISMS-9).
    #[serde(default)]
    pub review_on: Option<String>,
    #[serde(default)]
    pub notes: String,
}

/// Why a requirement was refused: the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct LegalError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> LegalError {
    LegalError { field, message: message.into() }
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, LegalError> {
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

fn some_id(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl LegalInput {
    /// The rules of a requirement: a title and what it asks of the centre, bounded texts, a
    /// real review date, and a client company only on a contract.
    pub fn checked(mut self) -> Result<LegalInput, LegalError> {
        self.title = text("title", &self.title, 200, true)?;
        self.reference = text("reference", &self.reference, 500, false)?;
        self.obligations = text("obligations", &self.obligations, 4000, true)?;
        self.notes = text("notes", &self.notes, 2000, false)?;
        self.client_id = some_id(self.client_id);
        self.owner_id = some_id(self.owner_id);
        self.review_on = some_id(self.review_on);
        if let Some(d) = &self.review_on
            && !super::is_date(d)
        {
            return Err(bad("review_on", "a date as YYYY-MM-DD"));
        }
        if self.client_id.is_some() && self.kind != LegalKind::Contract {
            return Err(bad("client_id", "only a contract names a client company"));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appi() -> LegalInput {
        LegalInput {
            kind: LegalKind::Law,
            title: " 個人情報の保護に関する法律 ".into(),
            reference: "第23条〜第25条".into(),
            obligations: "安全管理措置、従業者の監督、委託先の監督".into(),
            client_id: Some(" ".into()),
            owner_id: Some("".into()),
            review_on: Some(" 2027-04-01 ".into()),
            notes: String::new(),
        }
    }

    #[test]
    fn a_requirement_is_checked() {
        let ok = appi().checked().unwrap();
        assert_eq!(ok.title, "個人情報の保護に関する法律");
        assert_eq!((ok.client_id, ok.owner_id, ok.review_on.as_deref()), (None, None, Some("2027-04-01")));
        let mut untitled = appi();
        untitled.title = "  ".into();
        assert_eq!(untitled.checked().unwrap_err(), bad("title", "required"));
        let mut empty = appi();
        empty.obligations = String::new();
        assert_eq!(empty.checked().unwrap_err().field, "obligations");
        let mut long = appi();
        long.reference = "条".repeat(501);
        assert_eq!(long.checked().unwrap_err().field, "reference");
        let mut dated = appi();
        dated.review_on = Some("2027-02-29".into());
        assert_eq!(dated.checked().unwrap_err().field, "review_on");
        let mut control = appi();
        control.notes = "a\u{7}b".into();
        assert_eq!(control.checked().unwrap_err().field, "notes");
    }

    #[test]
    fn only_a_contract_names_a_client() {
        let mut law = appi();
        law.client_id = Some("c1".into());
        assert_eq!(law.checked().unwrap_err().field, "client_id");
        let mut contract = appi();
        contract.kind = LegalKind::Contract;
        contract.client_id = Some(" c1 ".into());
        assert_eq!(contract.checked().unwrap().client_id.as_deref(), Some("c1"));
        let mut unnamed = appi();
        unnamed.kind = LegalKind::Contract;
        assert!(unnamed.checked().is_ok(), "a contract with no client company (a landlord, a vendor)");
    }

    #[test]
    fn kinds_read_back() {
        for k in LegalKind::ALL {
            assert_eq!(LegalKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(LegalKind::parse("treaty"), None);
    }
}
