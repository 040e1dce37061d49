//! Incidents (issue 16, items 4 and 5; ISMS-6, LEAK-8): the workflow an incident runs through,
//! the playbooks' checklists, and Japan's breach-report clock (APPI art. 26 and its rules).
//!
//! **The clock.** A report to the Personal Information Protection Commission (PPC) and a notice
//! to each person are required when personal data leaked, was lost or damaged — or may have —
//! and it involves sensitive personal information, data whose misuse risks financial loss (card
//! numbers), a possibly wrongful purpose (theft, unauthorised access, an insider), or more than
//! 1,000 people; unless the data was protected by advanced encryption whose key did not leak.
//! The preliminary report is due promptly (a number of days the security admin sets, 3 by
//! default), the final report within 30 days of learning of it, or 60 with a wrongful purpose.

use crate::UnixMillis;
use serde::{Deserialize, Serialize};

/// Where an incident is in its response.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    New,
    Triage,
    Contained,
    Recovered,
    Closed,
}

impl IncidentState {
    pub const ALL: [IncidentState; 5] = [
        IncidentState::New,
        IncidentState::Triage,
        IncidentState::Contained,
        IncidentState::Recovered,
        IncidentState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::New => "new",
            IncidentState::Triage => "triage",
            IncidentState::Contained => "contained",
            IncidentState::Recovered => "recovered",
            IncidentState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether an incident may move from this state to `to`: forward only (steps may be
    /// skipped: a false report goes from triage to closed), and a closed one may be reopened
    /// into triage when something new comes to light.
    pub fn may_move_to(self, to: IncidentState) -> bool {
        to > self || (self == IncidentState::Closed && to == IncidentState::Triage)
    }
}

/// What happened, which picks the playbook.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// A PC, phone or USB stick lost or stolen.
    LostDevice,
    /// A mail (or fax, or letter) sent to the wrong address.
    MisdirectedMail,
    Malware,
    /// Someone inside copying or taking out customer data.
    InsiderCopying,
    /// An incident at a vendor that handles our data.
    VendorIncident,
    Other,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 6] = [
        IncidentKind::LostDevice,
        IncidentKind::MisdirectedMail,
        IncidentKind::Malware,
        IncidentKind::InsiderCopying,
        IncidentKind::VendorIncident,
        IncidentKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::LostDevice => "lost_device",
            IncidentKind::MisdirectedMail => "misdirected_mail",
            IncidentKind::Malware => "malware",
            IncidentKind::InsiderCopying => "insider_copying",
            IncidentKind::VendorIncident => "vendor_incident",
            IncidentKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The playbook's checklist: item codes in the order they are usually done (the console
    /// labels each in Japanese and English).
    pub fn checklist(self) -> &'static [&'static str] {
        match self {
            IncidentKind::LostDevice => &[
                "lock_or_revoke_device",
                "check_disk_encryption",
                "list_data_on_device",
                "police_report",
                "assess_personal_data",
                "notify_client",
            ],
            IncidentKind::MisdirectedMail => &[
                "ask_recipient_to_delete",
                "confirm_deletion_in_writing",
                "identify_people",
                "assess_personal_data",
                "notify_client",
                "notify_people",
            ],
            IncidentKind::Malware => &[
                "isolate_pc",
                "lock_or_revoke_device",
                "check_exfiltration",
                "reset_credentials",
                "restore_clean",
                "assess_personal_data",
            ],
            IncidentKind::InsiderCopying => &[
                "preserve_audit_evidence",
                "suspend_account",
                "end_sessions",
                "identify_people",
                "interview",
                "assess_personal_data",
                "notify_client",
                "police_report",
            ],
            IncidentKind::VendorIncident => &[
                "contact_vendor",
                "obtain_vendor_report",
                "identify_people",
                "assess_personal_data",
                "notify_client",
                "review_contract",
            ],
            IncidentKind::Other => &["contain", "identify_people", "assess_personal_data", "recover"],
        }
    }
}

/// What personal data the incident involves, as far as known; the clock follows from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataAssessment {
    /// People whose data is involved (an estimate is fine; raise it as more is known).
    pub people: u32,
    /// Sensitive personal information (要配慮個人情報): health, criminal record, creed…
    pub sensitive: bool,
    /// Data whose misuse risks financial loss: card numbers, bank log-ins.
    pub financial: bool,
    /// Possibly a wrongful purpose: theft, unauthorised access, an insider taking data.
    pub wrongful_purpose: bool,
    /// The data was protected by advanced encryption and its key did not leak (exempt).
    pub encrypted_key_safe: bool,
}

/// Why a report is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportGround {
    Sensitive,
    Financial,
    WrongfulPurpose,
    OverThousand,
}

impl ReportGround {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportGround::Sensitive => "sensitive",
            ReportGround::Financial => "financial",
            ReportGround::WrongfulPurpose => "wrongful_purpose",
            ReportGround::OverThousand => "over_thousand",
        }
    }
}

/// More than this many people makes a report required on its own.
pub const PEOPLE_THRESHOLD: u32 = 1000;
/// Days to the preliminary report, unless the security admin sets otherwise (3–5 in practice).
pub const DEFAULT_PRELIMINARY_DAYS: u32 = 3;
pub const PRELIMINARY_DAYS_RANGE: std::ops::RangeInclusive<u32> = 1..=5;
const DAY_MS: i64 = 86_400_000;

/// The reports an incident needs, with their deadlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportDuty {
    pub grounds: Vec<ReportGround>,
    /// The preliminary report (速報) is due by then.
    pub preliminary_due: UnixMillis,
    /// The final report (確報) is due by then: 30 days, or 60 with a wrongful purpose.
    pub final_due: UnixMillis,
}

/// Whether reporting to the PPC and notifying the people is required, and by when, counted
/// from `learned_at` (when the centre learned of it). `None`: not required (no ground, or the
/// data was encrypted with its key safe).
pub fn report_duty(
    data: &DataAssessment,
    learned_at: UnixMillis,
    preliminary_days: u32,
) -> Option<ReportDuty> {
    if data.encrypted_key_safe {
        return None;
    }
    let grounds: Vec<ReportGround> = [
        (data.sensitive, ReportGround::Sensitive),
        (data.financial, ReportGround::Financial),
        (data.wrongful_purpose, ReportGround::WrongfulPurpose),
        (data.people > PEOPLE_THRESHOLD, ReportGround::OverThousand),
    ]
    .into_iter()
    .filter_map(|(applies, ground)| applies.then_some(ground))
    .collect();
    if grounds.is_empty() {
        return None;
    }
    let final_days = if data.wrongful_purpose { 60 } else { 30 };
    Some(ReportDuty {
        grounds,
        preliminary_due: UnixMillis(learned_at.0 + i64::from(preliminary_days) * DAY_MS),
        final_due: UnixMillis(learned_at.0 + final_days * DAY_MS),
    })
}

/// A reminder of a deadline: which report, and when to remind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reminder {
    /// `preliminary` or `final`.
    pub report: &'static str,
    /// Days before the deadline (0: the deadline itself).
    pub days_before: i64,
    pub at: UnixMillis,
}

/// The reminders of a duty: a day before the preliminary report and on its day; a week, a day
/// before the final one and on its day.
pub fn reminders(duty: &ReportDuty) -> Vec<Reminder> {
    let at = |due: UnixMillis, days: i64| UnixMillis(due.0 - days * DAY_MS);
    let mut out = Vec::new();
    for days in [1, 0] {
        out.push(Reminder { report: "preliminary", days_before: days, at: at(duty.preliminary_due, days) });
    }
    for days in [7, 1, 0] {
        out.push(Reminder { report: "final", days_before: days, at: at(duty.final_due, days) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: UnixMillis = UnixMillis(1_800_000_000_000);

    #[test]
    fn card_numbers_need_a_report_in_three_and_thirty_days() {
        let data = DataAssessment { people: 1, financial: true, ..Default::default() };
        let duty = report_duty(&data, T, DEFAULT_PRELIMINARY_DAYS).unwrap();
        assert_eq!(duty.grounds, [ReportGround::Financial]);
        assert_eq!(duty.preliminary_due.0 - T.0, 3 * DAY_MS);
        assert_eq!(duty.final_due.0 - T.0, 30 * DAY_MS);
        let r = reminders(&duty);
        assert_eq!(r.len(), 5);
        assert_eq!(r[0].at.0, T.0 + 2 * DAY_MS);
        assert_eq!(r[2].at.0, T.0 + 23 * DAY_MS);
    }

    #[test]
    fn the_grounds_of_article_26() {
        let none = DataAssessment { people: 1000, ..Default::default() };
        assert_eq!(report_duty(&none, T, 3), None, "1,000 people is not more than 1,000");
        let many = DataAssessment { people: 1001, ..Default::default() };
        assert_eq!(report_duty(&many, T, 3).unwrap().grounds, [ReportGround::OverThousand]);
        let insider = DataAssessment { people: 23, wrongful_purpose: true, ..Default::default() };
        let duty = report_duty(&insider, T, 5).unwrap();
        assert_eq!(duty.final_due.0 - T.0, 60 * DAY_MS, "60 days with a wrongful purpose");
        assert_eq!(duty.preliminary_due.0 - T.0, 5 * DAY_MS);
        let sealed =
            DataAssessment { people: 5000, financial: true, encrypted_key_safe: true, ..Default::default() };
        assert_eq!(report_duty(&sealed, T, 3), None, "encrypted with the key safe: exempt");
        let sensitive = DataAssessment { people: 1, sensitive: true, ..Default::default() };
        assert_eq!(report_duty(&sensitive, T, 3).unwrap().grounds, [ReportGround::Sensitive]);
    }

    #[test]
    fn the_workflow_moves_forward() {
        use IncidentState::*;
        assert!(New.may_move_to(Triage) && Triage.may_move_to(Closed) && Contained.may_move_to(Recovered));
        assert!(!Contained.may_move_to(Triage) && !Closed.may_move_to(New) && !Triage.may_move_to(Triage));
        assert!(Closed.may_move_to(Triage), "reopened");
        for k in IncidentKind::ALL {
            assert!(k.checklist().contains(&"assess_personal_data"), "{k:?}");
            assert_eq!(IncidentKind::parse(k.as_str()), Some(k));
        }
    }
}
