//! Users, their names and their state.

use crate::authz::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited; has not yet chosen a password.
    Invited,
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invited" => Some(UserStatus::Invited),
            "active" => Some(UserStatus::Active),
            "disabled" => Some(UserStatus::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Ja,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Ja => "ja",
            Language::En => "en",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ja" => Some(Language::Ja),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

/// Why a name was refused. The variants are stable: the API reports them as codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("must be 3 to 64 characters")]
    Length,
    #[error(
        "may hold only lower-case letters a-z, digits, '.', '_' and '-', starting with a letter or digit"
    )]
    Characters,
    #[error("must be 1 to 100 characters without control characters")]
    DisplayName,
}

/// A sign-in name: 3–64 of `a-z 0-9 . _ -`, starting with a letter or digit. Compared as given
/// (callers lower-case before storing and looking up).
pub fn validate_username(name: &str) -> Result<(), NameProblem> {
    let len = name.chars().count();
    if !(3..=64).contains(&len) {
        return Err(NameProblem::Length);
    }
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok { Ok(()) } else { Err(NameProblem::Characters) }
}

/// A display name (any script, Japanese included) of 1–100 characters, no control characters.
pub fn validate_display_name(name: &str) -> Result<(), NameProblem> {
    let len = name.trim().chars().count();
    if (1..=100).contains(&len) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(NameProblem::DisplayName)
    }
}

/// A person's mail address as stored and compared: trimmed and lower-cased, one `@`, a local
/// part of 1–64 printable ASCII characters without spaces, quotes, brackets, commas or
/// semicolons, and a domain name with a dot. `None` when it is not such an address.
pub fn normalize_mail_address(address: &str) -> Option<String> {
    let a = address.trim().to_ascii_lowercase();
    let (local, domain) = a.split_once('@')?;
    let local_ok = (1..=64).contains(&local.len())
        && local.bytes().all(|b| b.is_ascii_graphic() && !b"\"<>()[],;:@\\".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.');
    let domain = crate::mail::normalize_domain(domain).ok()?;
    local_ok.then(|| format!("{local}@{domain}"))
}

/// Names of teams, sites and client companies follow the display-name rule.
pub fn validate_org_name(name: &str) -> Result<(), NameProblem> {
    validate_display_name(name)
}

/// Whether a user with these roles must have TOTP (TW-8). `required_for_everyone` is the
/// system-wide setting that extends the rule to operators.
pub fn totp_required(roles: &[Role], required_for_everyone: bool) -> bool {
    required_for_everyone || roles.iter().any(|r| r.requires_totp())
}

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Creates the first security admin.
    Setup,
    /// Lets an invited user choose a password.
    Invitation,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Setup => "setup",
            LinkPurpose::Invitation => "invitation",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "setup" => Some(LinkPurpose::Setup),
            "invitation" => Some(LinkPurpose::Invitation),
            _ => None,
        }
    }
}

/// The kinds of organisation unit: a site, a team, a client company (委託元).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    Site,
    Team,
    Client,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Site => "site",
            OrgKind::Team => "team",
            OrgKind::Client => "client",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "site" => Some(OrgKind::Site),
            "team" => Some(OrgKind::Team),
            "client" => Some(OrgKind::Client),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mail_addresses_are_checked_and_lower_cased() {
        use super::normalize_mail_address as n;
        assert_eq!(n(" Sato.Hanako@Example.CO.JP ").as_deref(), Some("sato.hanako@example.co.jp"));
        assert_eq!(n("a+tag@center.example").as_deref(), Some("a+tag@center.example"));
        for bad in [
            "",
            "no-at",
            "@example.jp",
            "a@b",
            "a b@example.jp",
            "a@@example.jp",
            "\"a\"@example.jp",
            "a,b@example.jp",
            ".a@example.jp",
            "a@example..jp",
            "佐藤@example.jp",
            "a@-x.jp",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    use super::*;

    #[test]
    fn usernames() {
        assert!(validate_username("op.tanaka-01").is_ok());
        assert_eq!(validate_username("ab"), Err(NameProblem::Length));
        assert_eq!(validate_username("Tanaka"), Err(NameProblem::Characters));
        assert_eq!(validate_username("-tanaka"), Err(NameProblem::Characters));
        assert_eq!(validate_username("tanaka'; drop table users;--"), Err(NameProblem::Characters));
        assert_eq!(validate_username("田中さん"), Err(NameProblem::Characters));
    }

    #[test]
    fn display_names_take_japanese_but_no_control_characters() {
        assert!(validate_display_name("田中 花子").is_ok());
        assert!(validate_display_name("  ").is_err());
        assert!(validate_display_name("a\u{0}b").is_err());
    }

    #[test]
    fn totp_rule() {
        assert!(!totp_required(&[Role::Operator], false));
        assert!(totp_required(&[Role::Operator], true));
        assert!(totp_required(&[Role::Operator, Role::Auditor], false));
    }
}
