//! Information assets (issue 17, item 1; ISMS-1, TW-2): what the centre holds and how much each
//! matters — confidentiality, integrity, availability rated with the source article's scales —
//! and who answers for it. Ledger PCs and each client company's customer data are assets the
//! registers keep in step with the ledger and the vault (`AssetSource`).

use serde::{Deserialize, Serialize};

macro_rules! coded {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|k| k.as_str() == s)
            }
        }
    };
}

coded! {
    /// What kind of asset.
    AssetKind {
        CustomerData = "customer_data",
        Document = "document",
        Software = "software",
        CloudService = "cloud_service",
        Equipment = "equipment",
        Person = "person",
        Premises = "premises",
    }
}

coded! {
    /// Confidentiality, the article's three grades: public (公開), internal — not outside the
    /// company (社外秘), restricted — not outside the department (部外秘).
    Confidentiality {
        Public = "public",
        Internal = "internal",
        Restricted = "restricted",
    }
}

coded! {
    /// Integrity: how much harm an unnoticed change does — large (大), medium (中), small (小).
    Integrity {
        Low = "low",
        Medium = "medium",
        High = "high",
    }
}

coded! {
    /// Availability: how long it may be unavailable — may stop in the daytime (日中停止可), may
    /// stop at night (夜間停止可), needed around the clock (24時間365日).
    Availability {
        DaytimeStopOk = "daytime_stop_ok",
        NightStopOk = "night_stop_ok",
        AlwaysOn = "always_on",
    }
}

coded! {
    /// Where an asset comes from: typed in, or kept in step with the device ledger or a client
    /// company's records in the vault.
    AssetSource {
        Manual = "manual",
        Device = "device",
        ClientData = "client_data",
    }
}

/// An asset as a person describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetInput {
    pub kind: AssetKind,
    pub name: String,
    /// The user who answers for it.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// Where it is (a site, a room, a cloud region).
    #[serde(default)]
    pub location: String,
    pub confidentiality: Confidentiality,
    pub integrity: Integrity,
    pub availability: Availability,
    /// Software and cloud services: on the allowed list (TW-2). Not given for other kinds.
    #[serde(default)]
    pub allowed: Option<bool>,
    /// The next review (`YYYY-MM-DD`, ISMS-9).
    #[serde(default)]
    pub review_on: Option<String>,
    #[serde(default)]
    pub notes: String,
}

/// Why an asset was refused: the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct AssetError {
    pub field: &'static str,
    pub message: &'static str,
}

fn err(field: &'static str, message: &'static str) -> AssetError {
    AssetError { field, message }
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, AssetError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(err(field, "required"));
    }
    if value.chars().count() > max {
        return Err(err(field, "too long"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(err(field, "control characters are not allowed"));
    }
    Ok(value.to_owned())
}

impl AssetInput {
    /// The rules of an asset: a name, bounded texts, a real date, `allowed` only where the
    /// allowed list applies (software and cloud services — for them it must be said).
    pub fn checked(mut self) -> Result<AssetInput, AssetError> {
        self.name = text("name", &self.name, 200, true)?;
        self.location = text("location", &self.location, 200, false)?;
        self.notes = text("notes", &self.notes, 2000, false)?;
        self.owner_id = self.owner_id.map(|o| o.trim().to_owned()).filter(|o| !o.is_empty());
        self.review_on = self.review_on.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        if let Some(d) = &self.review_on
            && !super::is_date(d)
        {
            return Err(err("review_on", "a date as YYYY-MM-DD"));
        }
        let listed = matches!(self.kind, AssetKind::Software | AssetKind::CloudService);
        match (listed, self.allowed) {
            (true, None) => return Err(err("allowed", "say whether it is on the allowed list (TW-2)")),
            (false, Some(_)) => {
                return Err(err("allowed", "only software and cloud services are on the allowed list"));
            }
            _ => {}
        }
        Ok(self)
    }

    /// The ratings a PC of the ledger starts with (it holds customer data on screen, but
    /// nothing at rest: internal, medium, may stop in the daytime for a spare).
    pub fn device_defaults(name: String, location: String, owner_id: Option<String>) -> AssetInput {
        AssetInput {
            kind: AssetKind::Equipment,
            name,
            owner_id,
            location,
            confidentiality: Confidentiality::Internal,
            integrity: Integrity::Medium,
            availability: Availability::DaytimeStopOk,
            allowed: None,
            review_on: None,
            notes: String::new(),
        }
    }

    /// The ratings a client company's customer data starts with: restricted, high, needed
    /// whenever the centre is open to callers.
    pub fn client_data_defaults(name: String) -> AssetInput {
        AssetInput {
            kind: AssetKind::CustomerData,
            name,
            owner_id: None,
            location: String::new(),
            confidentiality: Confidentiality::Restricted,
            integrity: Integrity::High,
            availability: Availability::AlwaysOn,
            allowed: None,
            review_on: None,
            notes: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn software(allowed: Option<bool>) -> AssetInput {
        AssetInput {
            kind: AssetKind::Software,
            name: " CRM ".into(),
            owner_id: Some(" ".into()),
            location: String::new(),
            confidentiality: Confidentiality::Restricted,
            integrity: Integrity::High,
            availability: Availability::AlwaysOn,
            allowed,
            review_on: None,
            notes: String::new(),
        }
    }

    #[test]
    fn an_asset_is_checked() {
        let ok = software(Some(true)).checked().unwrap();
        assert_eq!((ok.name.as_str(), ok.owner_id), ("CRM", None));
        assert_eq!(software(None).checked().unwrap_err().field, "allowed");
        let mut desk = software(Some(false));
        desk.kind = AssetKind::Equipment;
        assert_eq!(desk.checked().unwrap_err().field, "allowed");
        let mut nameless = software(Some(true));
        nameless.name = "  ".into();
        assert_eq!(nameless.checked().unwrap_err().field, "name");
        let mut dated = software(Some(true));
        dated.review_on = Some("2027-13-01".into());
        assert_eq!(dated.checked().unwrap_err().field, "review_on");
    }

    #[test]
    fn codes_read_back() {
        for k in AssetKind::ALL {
            assert_eq!(AssetKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(Availability::parse("always_on"), Some(Availability::AlwaysOn));
        assert!(Confidentiality::Restricted > Confidentiality::Internal, "stricter sorts higher");
    }
}
