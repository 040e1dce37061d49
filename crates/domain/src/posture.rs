//! Device posture and approved networks (issue 5; TW-6, TW-7, MON-2): the rules a site sets for
//! its PCs, judged against what a PC's agent reported, and whether an address is on an approved
//! network. A PC is compliant when no rule fails; otherwise each failure says exactly what.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A site's rules for its PCs. Every rule is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PosturePolicy {
    /// Lowest OS build allowed, per OS family (`linux`: kernel release, `windows`: build), e.g.
    /// `{"windows": "19045"}`; older builds (end of support) fail.
    #[serde(default)]
    pub min_os_build: std::collections::BTreeMap<String, String>,
    /// Antivirus signatures at most this many days old (an absent antivirus fails).
    pub max_av_age_days: Option<u32>,
    /// Screen lock after at most this many seconds of inactivity.
    pub max_screen_lock_secs: Option<u32>,
    #[serde(default)]
    pub require_disk_encryption: bool,
    /// When set, anything installed that matches none of these names (a trailing `*` matches a
    /// prefix) is shadow IT.
    pub software_allowlist: Option<Vec<String>>,
    /// Approved networks (CIDR, IPv4 or IPv6) the site's PCs may be seen from; empty = any.
    #[serde(default)]
    pub approved_networks: Vec<String>,
    /// The stored policy could not be read. Checking then fails closed: every PC fails
    /// `policy_unreadable` and no address is approved — never "no rules, all compliant".
    #[serde(skip)]
    pub unreadable: bool,
}

/// What posture is judged on, taken from a PC's latest inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFacts {
    pub os_family: String,
    pub os_build: String,
    /// None: no antivirus found. Some(None): found, signature age unknown.
    pub antivirus_age_days: Option<Option<u32>>,
    pub screen_lock_secs: Option<u32>,
    pub disk_encryption: Option<bool>,
    pub software: Vec<String>,
}

/// One rule a PC fails, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostureFailure {
    /// `os_build`, `antivirus`, `screen_lock`, `disk_encryption`, `shadow_it`, or
    /// `policy_unreadable` (the stored policy cannot be read: fails closed).
    pub rule: String,
    pub detail: String,
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("`{0}` is not a network in CIDR form (like 192.0.2.0/24 or 2001:db8::/32)")]
    Network(String),
    #[error("`{0}` is not an OS family (linux or windows)")]
    Family(String),
    #[error("a limit or name is out of range: {0}")]
    Range(&'static str),
}

/// A network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, PolicyError> {
        let err = || PolicyError::Network(s.to_owned());
        let (addr, prefix) = s.trim().split_once('/').ok_or_else(err)?;
        let addr: IpAddr = addr.parse().map_err(|_| err())?;
        let prefix: u8 = prefix.parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(err());
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u32) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => match v.to_ipv4_mapped() {
                    Some(v4) => (u128::from(u32::from(v4)), 32),
                    None => (u128::from(v), 128),
                },
            }
        };
        let (net, width) = bits(self.addr);
        let (addr, addr_width) = bits(ip);
        if width != addr_width {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= 128 || (net >> shift) == (addr >> shift)
    }
}

impl PosturePolicy {
    /// The policy, checked; refused whole if anything in it is malformed.
    pub fn checked(self) -> Result<PosturePolicy, PolicyError> {
        for n in &self.approved_networks {
            Cidr::parse(n)?;
        }
        for (family, build) in &self.min_os_build {
            if !matches!(family.as_str(), "linux" | "windows") {
                return Err(PolicyError::Family(family.clone()));
            }
            if build.is_empty() || build.len() > 64 {
                return Err(PolicyError::Range("min_os_build"));
            }
        }
        if self.max_av_age_days.is_some_and(|d| d > 3650)
            || self.max_screen_lock_secs.is_some_and(|s| s > 86_400)
        {
            return Err(PolicyError::Range("max_av_age_days / max_screen_lock_secs"));
        }
        if self.approved_networks.len() > 1000
            || self
                .software_allowlist
                .as_ref()
                .is_some_and(|l| l.len() > 5000 || l.iter().any(|n| n.len() > 256))
        {
            return Err(PolicyError::Range("approved_networks / software_allowlist"));
        }
        Ok(self)
    }

    /// The policy in force when the stored one cannot be read (fails closed).
    pub fn unreadable() -> Self {
        PosturePolicy { unreadable: true, ..Default::default() }
    }

    /// Whether a PC seen from `ip` is on an approved network (always, when none are listed;
    /// never, when the policy cannot be read).
    pub fn network_approved(&self, ip: IpAddr) -> bool {
        !self.unreadable
            && (self.approved_networks.is_empty()
                || self.approved_networks.iter().filter_map(|n| Cidr::parse(n).ok()).any(|c| c.contains(ip)))
    }

    /// Every rule the PC fails; empty when it is compliant.
    pub fn evaluate(&self, facts: &DeviceFacts) -> Vec<PostureFailure> {
        if self.unreadable {
            return vec![PostureFailure {
                rule: "policy_unreadable".into(),
                detail:
                    "the site's stored device policy cannot be read; set it again on the device rules page"
                        .into(),
            }];
        }
        let mut failures = Vec::new();
        let mut fail =
            |rule: &str, detail: String| failures.push(PostureFailure { rule: rule.into(), detail });
        if let Some(min) = self.min_os_build.get(&facts.os_family)
            && version_less(&facts.os_build, min)
        {
            fail("os_build", format!("build {} is older than the minimum {min}", facts.os_build));
        }
        if let Some(max) = self.max_av_age_days {
            match facts.antivirus_age_days {
                None => fail("antivirus", "no antivirus found".into()),
                Some(Some(age)) if age > max => {
                    fail("antivirus", format!("signatures are {age} days old (at most {max})"));
                }
                Some(_) => {}
            }
        }
        if let Some(max) = self.max_screen_lock_secs {
            match facts.screen_lock_secs {
                None => fail("screen_lock", "the screen-lock timeout is not known (not reported)".into()),
                Some(0) => fail("screen_lock", "the screen never locks".into()),
                Some(s) if s > max => fail("screen_lock", format!("locks after {s} s (at most {max} s)")),
                Some(_) => {}
            }
        }
        if self.require_disk_encryption {
            match facts.disk_encryption {
                Some(true) => {}
                Some(false) => fail("disk_encryption", "the disk is not encrypted".into()),
                None => fail("disk_encryption", "disk encryption is not known (not reported)".into()),
            }
        }
        if let Some(allow) = &self.software_allowlist {
            let allowed = |name: &str| {
                allow.iter().any(|a| match a.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => name == a,
                })
            };
            let shadow: Vec<&str> =
                facts.software.iter().map(String::as_str).filter(|n| !allowed(n)).collect();
            if !shadow.is_empty() {
                let shown = shadow.iter().take(20).copied().collect::<Vec<_>>().join(", ");
                let more = if shadow.len() > 20 {
                    format!(" and {} more", shadow.len() - 20)
                } else {
                    String::new()
                };
                fail("shadow_it", format!("not on the allowlist: {shown}{more}"));
            }
        }
        failures
    }
}

/// Compares dotted or dashed version strings by their numeric parts (`6.1.0-26` < `6.10`).
fn version_less(a: &str, b: &str) -> bool {
    let parts = |s: &str| -> Vec<u64> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    parts(a) < parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn networks() {
        let c = Cidr::parse("192.0.2.0/24");
        assert!(c.is_ok());
        let c = c.unwrap_or(Cidr { addr: ip("0.0.0.0"), prefix: 32 });
        assert!(c.contains(ip("192.0.2.77")));
        assert!(c.contains(ip("::ffff:192.0.2.77")), "IPv4-mapped IPv6");
        assert!(!c.contains(ip("192.0.3.1")));
        assert!(!c.contains(ip("2001:db8::1")));
        let any = Cidr::parse("0.0.0.0/0").unwrap_or(c);
        assert!(any.contains(ip("203.0.113.9")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap_or(c);
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        for bad in ["192.0.2.0", "192.0.2.0/33", "::/129", "x/8", "10.0.0.0/-1"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        let policy = PosturePolicy { approved_networks: vec!["10.1.0.0/16".into()], ..Default::default() };
        assert!(policy.network_approved(ip("10.1.2.3")));
        assert!(!policy.network_approved(ip("198.51.100.4")));
        assert!(PosturePolicy::default().network_approved(ip("198.51.100.4")), "no list: anywhere");
    }

    #[test]
    fn posture() {
        let policy = PosturePolicy {
            min_os_build: [("windows".to_owned(), "19045".to_owned())].into(),
            max_av_age_days: Some(3),
            max_screen_lock_secs: Some(900),
            require_disk_encryption: true,
            software_allowlist: Some(vec!["Microsoft *".into(), "7-Zip".into()]),
            approved_networks: vec![],
            unreadable: false,
        };
        let good = DeviceFacts {
            os_family: "windows".into(),
            os_build: "22631.4169".into(),
            antivirus_age_days: Some(Some(1)),
            screen_lock_secs: Some(600),
            disk_encryption: Some(true),
            software: vec!["Microsoft Edge".into(), "7-Zip".into()],
        };
        assert!(policy.evaluate(&good).is_empty(), "compliant");
        let bad = DeviceFacts {
            os_build: "17763.1".into(),
            antivirus_age_days: Some(Some(9)),
            screen_lock_secs: Some(0),
            disk_encryption: None,
            software: vec!["Microsoft Edge".into(), "AnyDesk".into()],
            ..good.clone()
        };
        let rules: Vec<String> = policy.evaluate(&bad).into_iter().map(|f| f.rule).collect();
        assert_eq!(rules, vec!["os_build", "antivirus", "screen_lock", "disk_encryption", "shadow_it"]);
        let details = policy.evaluate(&bad);
        assert!(details[4].detail.contains("AnyDesk") && !details[4].detail.contains("Edge"));
        assert!(version_less("6.1.0-26-amd64", "6.10"));
        assert!(!version_less("22631", "19045"));
        let refused = PosturePolicy {
            approved_networks: vec!["10.0.0.0/8".into(), "nope".into()],
            ..Default::default()
        };
        assert_eq!(refused.checked(), Err(PolicyError::Network("nope".into())));
        let refused = PosturePolicy {
            min_os_build: [("macos".to_owned(), "1".to_owned())].into(),
            ..Default::default()
        };
        assert_eq!(refused.checked(), Err(PolicyError::Family("macos".into())));
    }

    #[test]
    fn an_unreadable_policy_fails_closed() {
        let p = PosturePolicy::unreadable();
        let failures = p.evaluate(&DeviceFacts::default());
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].rule, "policy_unreadable");
        assert!(!p.network_approved("192.0.2.1".parse().unwrap()), "no address is approved");
        assert!(PosturePolicy::default().evaluate(&DeviceFacts::default()).is_empty());
    }
}
