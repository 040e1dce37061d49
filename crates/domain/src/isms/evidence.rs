//! Live evidence (issue 17, item 4): what Mamori measures of itself, judged against a rule, and
//! the Annex A controls each measurement supports. The measuring (reading the log, the
//! accounts, the vault, the PCs) is the services'; the judging is here, pure.

use serde::{Deserialize, Serialize};

/// The urn of a built-in Annex A control is this and its ref id in lower case (`a.8.15`).
pub const ANNEX_A_CONTROL_PREFIX: &str = "urn:mamori:control:iso27001-2022:";

/// One thing Mamori measures of the running system.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// The audit log verified against its signed checkpoints (ISMS-7, TW-10).
    AuditLogVerified,
    /// How far the slowest SIEM delivery lags behind the log, in entries.
    AuditForwardingLag,
    /// Share of accounts with privileged roles that have a second factor (TW-8).
    PrivilegedSecondFactor,
    /// Enabled accounts not used for 30 days (LEAK-6).
    DormantAccounts,
    /// Days since the last access-right review was finished (LEAK-6; issue 18, item 3).
    LastAccessReview,
    /// Share of vault records sealed under the current key version.
    VaultKeyCurrent,
    /// Days since the vault's current key was made (the last rotation).
    KeyRotationAge,
    /// Share of ledger PCs meeting their site's posture rules (TW-3, LEAK-12).
    CompliantDevices,
    /// The oldest antivirus signatures among the PCs, in days (TW-6).
    AntivirusSignatureAge,
    /// USB storage attached in the last 30 days with no take-out in force (LEAK-10).
    UsbWithoutTakeOut,
    /// Ledger PCs revoked whose disposal is not recorded (LEAK-3).
    DevicesNotDisposed,
    /// Incidents not closed, and those past a report deadline (LEAK-8).
    OpenIncidents,
    /// High-severity alerts still open, and those left more than a day.
    OpenHighAlerts,
    /// Median hours from an incident's opening to its containment, last 90 days.
    TimeToContain,
    /// Share of the acknowledgements owed that are given: each person in scope of each
    /// published policy, for its version in force (ISMS-2, ISMS-3, LEAK-7).
    PolicyAcknowledgements,
    /// Share of the training owed that is done: each person with each onboarding and annual
    /// course for them, and each topic course assigned (ISMS-8, TW-13).
    TrainingCompletion,
    /// Internal audits' nonconformities not closed, and those past their corrective action's
    /// due date (ISMS-7).
    OpenFindings,
    /// Checks overdue: a checklist's last period passed without the run of someone who owes it
    /// (ISMS-7, LEAK-2, LEAK-4).
    OverdueChecks,
}

/// The area of the SoA a measurement belongs to (its heading on the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceArea {
    Logging,
    AccessControl,
    Cryptography,
    Endpoint,
    IncidentManagement,
    /// People controls: policies acknowledged, training (Annex A 6).
    People,
    /// Running the ISMS itself: internal audits' findings (ISMS-7).
    Governance,
}

/// The verdict on one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceStatus {
    /// Failing: worst first when sorted.
    Fail,
    Warn,
    Pass,
    /// Nothing to measure (no SIEM configured, no PCs enrolled, no incidents).
    NotApplicable,
}

impl EvidenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceStatus::Fail => "fail",
            EvidenceStatus::Warn => "warn",
            EvidenceStatus::Pass => "pass",
            EvidenceStatus::NotApplicable => "not_applicable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Fail, Self::Warn, Self::Pass, Self::NotApplicable].into_iter().find(|k| k.as_str() == s)
    }
}

/// What a measurement found, as the services hand it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measured {
    /// The log verified up to `size` entries, or the first mismatch.
    Verification(Result<u64, String>),
    /// Entries behind (the slowest delivery); `None`: no delivery configured.
    Lag(Option<u64>),
    /// `part` of `whole` (accounts, records, PCs).
    Share { part: u64, whole: u64 },
    /// A count (dormant accounts, USB sticks).
    Count(u64),
    /// An age in days; `None`: nothing to measure.
    Days(Option<u64>),
    /// Open, and of them overdue.
    Open { open: u64, overdue: u64 },
    /// Hours; `None`: no incident in the period.
    Hours(Option<u64>),
}

/// A judged measurement: the verdict and the figure people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub status: EvidenceStatus,
    /// The figure as stored: `97/100`, `3`, `12 days`, `verified to 1234`…
    pub value: String,
}

impl EvidenceKind {
    pub const ALL: [EvidenceKind; 18] = [
        EvidenceKind::AuditLogVerified,
        EvidenceKind::AuditForwardingLag,
        EvidenceKind::PrivilegedSecondFactor,
        EvidenceKind::DormantAccounts,
        EvidenceKind::LastAccessReview,
        EvidenceKind::VaultKeyCurrent,
        EvidenceKind::KeyRotationAge,
        EvidenceKind::CompliantDevices,
        EvidenceKind::AntivirusSignatureAge,
        EvidenceKind::UsbWithoutTakeOut,
        EvidenceKind::DevicesNotDisposed,
        EvidenceKind::OpenIncidents,
        EvidenceKind::OpenHighAlerts,
        EvidenceKind::TimeToContain,
        EvidenceKind::PolicyAcknowledgements,
        EvidenceKind::TrainingCompletion,
        EvidenceKind::OpenFindings,
        EvidenceKind::OverdueChecks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::AuditLogVerified => "audit_log_verified",
            EvidenceKind::AuditForwardingLag => "audit_forwarding_lag",
            EvidenceKind::PrivilegedSecondFactor => "privileged_second_factor",
            EvidenceKind::DormantAccounts => "dormant_accounts",
            EvidenceKind::LastAccessReview => "last_access_review",
            EvidenceKind::VaultKeyCurrent => "vault_key_current",
            EvidenceKind::KeyRotationAge => "key_rotation_age",
            EvidenceKind::CompliantDevices => "compliant_devices",
            EvidenceKind::AntivirusSignatureAge => "antivirus_signature_age",
            EvidenceKind::UsbWithoutTakeOut => "usb_without_take_out",
            EvidenceKind::DevicesNotDisposed => "devices_not_disposed",
            EvidenceKind::OpenIncidents => "open_incidents",
            EvidenceKind::OpenHighAlerts => "open_high_alerts",
            EvidenceKind::TimeToContain => "time_to_contain",
            EvidenceKind::PolicyAcknowledgements => "policy_acknowledgements",
            EvidenceKind::TrainingCompletion => "training_completion",
            EvidenceKind::OpenFindings => "open_findings",
            EvidenceKind::OverdueChecks => "overdue_checks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn area(self) -> EvidenceArea {
        use EvidenceKind::*;
        match self {
            AuditLogVerified | AuditForwardingLag => EvidenceArea::Logging,
            PrivilegedSecondFactor | DormantAccounts | LastAccessReview => EvidenceArea::AccessControl,
            VaultKeyCurrent | KeyRotationAge => EvidenceArea::Cryptography,
            CompliantDevices | AntivirusSignatureAge | UsbWithoutTakeOut | DevicesNotDisposed => {
                EvidenceArea::Endpoint
            }
            OpenIncidents | OpenHighAlerts | TimeToContain => EvidenceArea::IncidentManagement,
            PolicyAcknowledgements | TrainingCompletion | OverdueChecks => EvidenceArea::People,
            OpenFindings => EvidenceArea::Governance,
        }
    }

    /// The Annex A controls (ref ids) the measurement is evidence for. Controls of other
    /// catalogs show it through their mappings to these.
    pub fn controls(self) -> &'static [&'static str] {
        use EvidenceKind::*;
        match self {
            AuditLogVerified => &["A.8.15"],
            AuditForwardingLag => &["A.8.15", "A.8.16"],
            PrivilegedSecondFactor => &["A.8.2", "A.8.5"],
            DormantAccounts => &["A.5.16", "A.5.18"],
            LastAccessReview => &["A.5.18", "A.8.2"],
            VaultKeyCurrent | KeyRotationAge => &["A.8.24"],
            CompliantDevices => &["A.8.1", "A.8.8"],
            AntivirusSignatureAge => &["A.8.7"],
            UsbWithoutTakeOut => &["A.7.10", "A.8.12"],
            DevicesNotDisposed => &["A.7.14"],
            OpenIncidents => &["A.5.24", "A.5.26"],
            OpenHighAlerts => &["A.5.25", "A.8.16"],
            TimeToContain => &["A.5.26"],
            PolicyAcknowledgements => &["A.5.1", "A.6.2", "A.6.6"],
            TrainingCompletion => &["A.6.3", "A.7.7"],
            OpenFindings => &["A.5.35", "A.5.36"],
            OverdueChecks => &["A.5.10", "A.7.7", "A.7.10"],
        }
    }

    /// The audit actions after which the measurement may have changed: it is taken again
    /// within seconds of one (item 4: on events, not in a nightly batch). Measurements of
    /// time (dormancy, ages) and the log's verification are also taken on a schedule.
    pub fn changed_by(self, action: &str) -> bool {
        use EvidenceKind::*;
        let prefix = |p: &[&str]| p.iter().any(|p| action.starts_with(p));
        match self {
            AuditLogVerified => false,
            AuditForwardingLag => false,
            PrivilegedSecondFactor => {
                prefix(&["user.", "totp.", "setup.", "invitation."]) || action == "signin.totp"
            }
            DormantAccounts => prefix(&["user.", "setup.", "invitation.", "session.start"]),
            LastAccessReview => prefix(&["access_review."]),
            VaultKeyCurrent | KeyRotationAge => {
                prefix(&["keys.", "customer.import", "customer.create", "vendor.file_attach"])
            }
            CompliantDevices | AntivirusSignatureAge => {
                prefix(&["device.", "site.policy", "devices."]) || action == "device.signal"
            }
            UsbWithoutTakeOut => action == "device.signal" || prefix(&["take_out."]),
            DevicesNotDisposed => action == "device.revoke" || action == "disposal.record",
            OpenIncidents | TimeToContain => prefix(&["incident."]),
            OpenHighAlerts => prefix(&["alert."]),
            PolicyAcknowledgements => prefix(&["isms_policy.", "user.", "invitation.", "setup."]),
            TrainingCompletion => prefix(&["training.", "user.", "invitation.", "setup."]),
            OpenFindings => prefix(&["internal_audit."]),
            OverdueChecks => prefix(&["checks.", "user.", "invitation.", "setup."]),
        }
    }

    /// The urns of [`EvidenceKind::controls`] in the built-in Annex A catalog.
    pub fn control_urns(self) -> impl Iterator<Item = String> {
        self.controls().iter().map(|r| format!("{ANNEX_A_CONTROL_PREFIX}{}", r.to_lowercase()))
    }

    /// The rule: what passes, what warns, what fails.
    pub fn judge(self, measured: &Measured) -> Judged {
        use EvidenceKind::*;
        use EvidenceStatus::*;
        let judged = |status, value: String| Judged { status, value };
        match (self, measured) {
            (AuditLogVerified, Measured::Verification(Ok(size))) => judged(Pass, size.to_string()),
            (AuditLogVerified, Measured::Verification(Err(m))) => judged(Fail, m.chars().take(300).collect()),
            (AuditForwardingLag, Measured::Lag(None)) => judged(NotApplicable, String::new()),
            (AuditForwardingLag, Measured::Lag(Some(behind))) => {
                judged(at_most(*behind, 1_000, 10_000), behind.to_string())
            }
            (PrivilegedSecondFactor | VaultKeyCurrent, Measured::Share { part, whole }) => {
                let status = match (part, whole) {
                    (_, 0) => NotApplicable,
                    (p, w) if p >= w => Pass,
                    _ if self == VaultKeyCurrent => Warn,
                    _ => Fail,
                };
                judged(status, format!("{part}/{whole}"))
            }
            (
                CompliantDevices | PolicyAcknowledgements | TrainingCompletion,
                Measured::Share { part, whole },
            ) => {
                let status = match whole {
                    0 => NotApplicable,
                    w if part * 100 >= w * 95 => Pass,
                    w if part * 100 >= w * 80 => Warn,
                    _ => Fail,
                };
                judged(status, format!("{part}/{whole}"))
            }
            (DormantAccounts, Measured::Count(n)) => judged(at_most(*n, 0, u64::MAX), n.to_string()),
            // Quarterly with a margin passes, twice that warns; none finished yet warns.
            (LastAccessReview, Measured::Days(None)) => judged(Warn, String::new()),
            (LastAccessReview, Measured::Days(Some(d))) => judged(at_most(*d, 100, 200), d.to_string()),
            (UsbWithoutTakeOut, Measured::Count(n)) => judged(at_most(*n, 0, 0), n.to_string()),
            // A revoked PC waits for the disposal company a while: worth a look, not a failure.
            (DevicesNotDisposed, Measured::Count(n)) => judged(at_most(*n, 0, u64::MAX), n.to_string()),
            // A missed check or two is worth a look; more is a floor not being checked.
            (OverdueChecks, Measured::Count(n)) => judged(at_most(*n, 0, 5), n.to_string()),
            (KeyRotationAge | AntivirusSignatureAge, Measured::Days(None)) => {
                judged(NotApplicable, String::new())
            }
            (KeyRotationAge, Measured::Days(Some(d))) => judged(at_most(*d, 365, 730), d.to_string()),
            (AntivirusSignatureAge, Measured::Days(Some(d))) => judged(at_most(*d, 3, 7), d.to_string()),
            (OpenIncidents | OpenHighAlerts | OpenFindings, Measured::Open { open, overdue }) => {
                let status = match (open, overdue) {
                    (_, 1..) => Fail,
                    (1.., 0) => Warn,
                    _ => Pass,
                };
                judged(status, format!("{open}/{overdue}"))
            }
            (TimeToContain, Measured::Hours(None)) => judged(NotApplicable, String::new()),
            (TimeToContain, Measured::Hours(Some(h))) => judged(at_most(*h, 24, 72), h.to_string()),
            (kind, other) => judged(Fail, format!("{} cannot judge {other:?}", kind.as_str())),
        }
    }
}

/// Pass up to `pass`, warn up to `warn`, fail above.
fn at_most(value: u64, pass: u64, warn: u64) -> EvidenceStatus {
    if value <= pass {
        EvidenceStatus::Pass
    } else if value <= warn {
        EvidenceStatus::Warn
    } else {
        EvidenceStatus::Fail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EvidenceKind::*;
    use EvidenceStatus::*;

    #[test]
    fn each_kind_judges_its_measurement() {
        let cases = [
            (AuditLogVerified, Measured::Verification(Ok(10)), Pass),
            (AuditLogVerified, Measured::Verification(Err("entry 3 was changed".into())), Fail),
            (AuditForwardingLag, Measured::Lag(None), NotApplicable),
            (AuditForwardingLag, Measured::Lag(Some(5_000)), Warn),
            (PrivilegedSecondFactor, Measured::Share { part: 4, whole: 5 }, Fail),
            (PrivilegedSecondFactor, Measured::Share { part: 5, whole: 5 }, Pass),
            (VaultKeyCurrent, Measured::Share { part: 4, whole: 5 }, Warn),
            (CompliantDevices, Measured::Share { part: 19, whole: 20 }, Pass),
            (CompliantDevices, Measured::Share { part: 17, whole: 20 }, Warn),
            (CompliantDevices, Measured::Share { part: 10, whole: 20 }, Fail),
            (CompliantDevices, Measured::Share { part: 0, whole: 0 }, NotApplicable),
            (DormantAccounts, Measured::Count(2), Warn),
            (UsbWithoutTakeOut, Measured::Count(1), Fail),
            (DevicesNotDisposed, Measured::Count(0), Pass),
            (DevicesNotDisposed, Measured::Count(2), Warn),
            (OverdueChecks, Measured::Count(0), Pass),
            (OverdueChecks, Measured::Count(1), Warn),
            (OverdueChecks, Measured::Count(6), Fail),
            (AntivirusSignatureAge, Measured::Days(Some(5)), Warn),
            (KeyRotationAge, Measured::Days(Some(800)), Fail),
            (OpenIncidents, Measured::Open { open: 2, overdue: 0 }, Warn),
            (OpenHighAlerts, Measured::Open { open: 2, overdue: 1 }, Fail),
            (TimeToContain, Measured::Hours(Some(12)), Pass),
            // A measurement of the wrong shape is a failure, never a pass.
            (TimeToContain, Measured::Count(0), Fail),
        ];
        for (kind, measured, status) in cases {
            assert_eq!(kind.judge(&measured).status, status, "{kind:?} {measured:?}");
        }
    }

    #[test]
    fn every_kind_names_annex_a_controls() {
        for kind in EvidenceKind::ALL {
            assert_eq!(EvidenceKind::parse(kind.as_str()), Some(kind));
            assert!(kind.controls().iter().all(|c| c.starts_with("A.")), "{kind:?}");
            let annex_a = super::super::catalog::parse_catalog(super::super::catalog::BUILT_IN[0]).unwrap();
            for urn in kind.control_urns() {
                assert!(annex_a.controls.iter().any(|c| c.urn == urn && c.assessable), "{urn}");
            }
        }
    }

    #[test]
    fn people_and_audit_measurements_follow_their_actions() {
        assert!(PolicyAcknowledgements.changed_by("isms_policy.acknowledge"));
        assert!(PolicyAcknowledgements.changed_by("isms_policy.publish"));
        assert!(OpenFindings.changed_by("internal_audit.finding"));
        assert!(!OpenFindings.changed_by("customer.lookup"));
    }
}
