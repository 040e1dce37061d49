//! The disposal register (issue 18, item 7; LEAK-3): each PC, disk, medium (a USB stick, a
//! DVD, a tape) or batch of paper that left the centre for good — how it was made unreadable,
//! who witnessed it, and the disposal company's certificate (廃棄証明書). A record is never
//! changed: a mistake is corrected by a new record that names the old one in its notes.

use serde::{Deserialize, Serialize};

/// What was disposed of.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DisposalKind {
    /// A PC (パソコン), usually one of the device ledger.
    Pc,
    /// A hard disk or SSD taken out of a machine (ディスク).
    Disk,
    /// A removable medium: a USB stick, a DVD, a tape (記録媒体).
    Medium,
    /// A batch of paper: forms, printouts, notes (紙).
    Paper,
}

impl DisposalKind {
    pub const ALL: &'static [DisposalKind] =
        &[DisposalKind::Pc, DisposalKind::Disk, DisposalKind::Medium, DisposalKind::Paper];

    pub fn as_str(self) -> &'static str {
        match self {
            DisposalKind::Pc => "pc",
            DisposalKind::Disk => "disk",
            DisposalKind::Medium => "medium",
            DisposalKind::Paper => "paper",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// How it was made unreadable.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DisposalMethod {
    /// Overwritten with software (上書き消去): PCs, disks, media.
    Overwrite,
    /// Erased with a degausser (磁気消去): magnetic disks and tapes.
    Degauss,
    /// Shredded, drilled or crushed (物理破壊): anything.
    PhysicalDestruction,
    /// Dissolved at a paper mill (溶解): paper only.
    Dissolving,
}

impl DisposalMethod {
    pub const ALL: &'static [DisposalMethod] = &[
        DisposalMethod::Overwrite,
        DisposalMethod::Degauss,
        DisposalMethod::PhysicalDestruction,
        DisposalMethod::Dissolving,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisposalMethod::Overwrite => "overwrite",
            DisposalMethod::Degauss => "degauss",
            DisposalMethod::PhysicalDestruction => "physical_destruction",
            DisposalMethod::Dissolving => "dissolving",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Whether the method makes this kind unreadable: paper cannot be overwritten or degaussed,
    /// and only paper dissolves.
    pub fn fits(self, kind: DisposalKind) -> bool {
        match self {
            DisposalMethod::Overwrite | DisposalMethod::Degauss => kind != DisposalKind::Paper,
            DisposalMethod::PhysicalDestruction => true,
            DisposalMethod::Dissolving => kind == DisposalKind::Paper,
        }
    }
}

/// A disposal as a person records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisposalInput {
    pub kind: DisposalKind,
    pub method: DisposalMethod,
    /// What it was (ThinkPad L580 (旧 OP-07 席), 申込書 2023年度分).
    pub description: String,
    /// Its serial number (PCs, disks, media).
    #[serde(default)]
    pub serial: String,
    /// How many (sticks, boxes of paper); one of `serial` and `quantity` is required.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// The day it was disposed of (`YYYY-MM-DD`, Japan), not in the future.
    pub disposed_on: String,
    /// The user who witnessed it (立会者): active, and not the person recording it.
    pub witness_id: String,
    /// The disposal company (廃棄業者), when one did it.
    #[serde(default)]
    pub company: String,
    /// The company's certificate of disposal (廃棄証明書番号); required when a company is named.
    #[serde(default)]
    pub certificate: String,
    /// A correction names the record it corrects here.
    #[serde(default)]
    pub notes: String,
    /// The asset of the register it disposes of (issue 17).
    #[serde(default)]
    pub asset_id: Option<String>,
    /// The ledger PC it disposes of (revoked first).
    #[serde(default)]
    pub device_id: Option<String>,
}

/// Why a disposal was refused: the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DisposalError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> DisposalError {
    DisposalError { field, message: message.into() }
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, DisposalError> {
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

/// The most of one thing a record counts.
pub const QUANTITY_MAX: i64 = 1_000_000;

impl DisposalInput {
    /// The rules of a record that need nothing but itself and today (`YYYY-MM-DD` in Japan):
    /// a method that fits the kind, a description, a serial or a quantity, a real day not in
    /// the future, a witness, and a certificate whenever a company is named.
    pub fn checked(mut self, today: &str) -> Result<DisposalInput, DisposalError> {
        if !self.method.fits(self.kind) {
            let why = match self.kind {
                DisposalKind::Paper => {
                    "paper is dissolved or physically destroyed (shredded), not overwritten or degaussed"
                }
                _ => "only paper is dissolved: overwrite, degauss or physically destroy it",
            };
            return Err(bad("method", why));
        }
        self.description = text("description", &self.description, 500, true)?;
        self.serial = text("serial", &self.serial, 200, false)?;
        self.company = text("company", &self.company, 200, false)?;
        self.certificate = text("certificate", &self.certificate, 200, false)?;
        self.notes = text("notes", &self.notes, 2000, false)?;
        if let Some(q) = self.quantity
            && !(1..=QUANTITY_MAX).contains(&q)
        {
            return Err(bad("quantity", format!("1 to {QUANTITY_MAX}")));
        }
        if self.serial.is_empty() && self.quantity.is_none() {
            return Err(bad("serial", "give its serial number, or how many (quantity)"));
        }
        self.disposed_on = self.disposed_on.trim().to_owned();
        if !super::is_date(&self.disposed_on) {
            return Err(bad("disposed_on", "a date as YYYY-MM-DD"));
        }
        if self.disposed_on.as_str() > today {
            return Err(bad("disposed_on", format!("the day it was disposed of, not after today ({today})")));
        }
        self.witness_id = self.witness_id.trim().to_owned();
        if self.witness_id.is_empty() {
            return Err(bad("witness_id", "required"));
        }
        if !self.company.is_empty() && self.certificate.is_empty() {
            return Err(bad("certificate", "a disposal company gives a certificate: enter its number"));
        }
        if self.company.is_empty() && !self.certificate.is_empty() {
            return Err(bad("company", "name the company that issued the certificate"));
        }
        self.asset_id = some_id(self.asset_id);
        self.device_id = some_id(self.device_id);
        if self.device_id.is_some() && !matches!(self.kind, DisposalKind::Pc | DisposalKind::Disk) {
            return Err(bad("device_id", "only a PC or its disk is a device of the ledger"));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old_pc() -> DisposalInput {
        DisposalInput {
            kind: DisposalKind::Pc,
            method: DisposalMethod::PhysicalDestruction,
            description: " ThinkPad L580 ".into(),
            serial: "PF-1X2Y3Z".into(),
            quantity: None,
            disposed_on: "2026-11-20".into(),
            witness_id: " w1 ".into(),
            company: "東京リサイクル株式会社".into(),
            certificate: "TRC-2026-1120-07".into(),
            notes: String::new(),
            asset_id: Some(" ".into()),
            device_id: Some(" d1 ".into()),
        }
    }

    const TODAY: &str = "2026-11-29";

    #[test]
    fn a_disposal_is_checked() {
        let ok = old_pc().checked(TODAY).unwrap();
        assert_eq!((ok.description.as_str(), ok.witness_id.as_str()), ("ThinkPad L580", "w1"));
        assert_eq!((ok.asset_id, ok.device_id.as_deref()), (None, Some("d1")));
        let field = |f: fn(&mut DisposalInput)| {
            let mut i = old_pc();
            f(&mut i);
            i.checked(TODAY).unwrap_err().field
        };
        assert_eq!(field(|i| i.description = " ".into()), "description");
        assert_eq!(field(|i| i.disposed_on = "2026-11-30".into()), "disposed_on", "not in the future");
        assert_eq!(field(|i| i.disposed_on = "2026-02-30".into()), "disposed_on");
        assert_eq!(field(|i| i.certificate = String::new()), "certificate");
        assert_eq!(field(|i| i.company = String::new()), "company");
        assert_eq!(field(|i| i.witness_id = String::new()), "witness_id");
        assert_eq!(field(|i| i.serial = String::new()), "serial");
        assert_eq!(field(|i| i.quantity = Some(0)), "quantity");
        assert_eq!(field(|i| i.kind = DisposalKind::Medium), "device_id");
        let mut today = old_pc();
        today.disposed_on = TODAY.into();
        (today.company, today.certificate) = (String::new(), String::new());
        assert!(today.checked(TODAY).is_ok(), "done in-house, witnessed, today");
    }

    #[test]
    fn the_method_fits_the_kind() {
        let mut paper = old_pc();
        (paper.kind, paper.device_id, paper.serial, paper.quantity) =
            (DisposalKind::Paper, None, String::new(), Some(12));
        for (method, fits) in [
            (DisposalMethod::Overwrite, false),
            (DisposalMethod::Degauss, false),
            (DisposalMethod::PhysicalDestruction, true),
            (DisposalMethod::Dissolving, true),
        ] {
            paper.method = method;
            assert_eq!(paper.clone().checked(TODAY).is_ok(), fits, "{method:?}");
        }
        let mut pc = old_pc();
        pc.method = DisposalMethod::Dissolving;
        assert_eq!(pc.checked(TODAY).unwrap_err().field, "method");
        for k in DisposalKind::ALL {
            assert_eq!(DisposalKind::parse(k.as_str()), Some(*k));
        }
        for m in DisposalMethod::ALL {
            assert_eq!(DisposalMethod::parse(m.as_str()), Some(*m));
        }
    }
}
