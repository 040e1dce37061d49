//! Business continuity (issue 18, item 6; ISMS-5): a plan per scenario the centre prepares for
//! — an earthquake, a power cut, an intruder, a server or network failure, a pandemic — with
//! its owner, its contact tree [緊急連絡網] and how often it is drilled; and the drills held,
//! with their date, participants and result. A plan whose next drill is past its date is
//! overdue, and shows as such on the security admin's dashboard. Pure rules; the register is in
//! the core.

use serde::{Deserialize, Serialize};
use time::Date;

/// What a plan prepares for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// 地震 (and what follows: no transport, the building unsafe).
    Earthquake,
    /// 停電.
    PowerLoss,
    /// 不審者の侵入: someone on the floor who should not be.
    Intrusion,
    /// サーバー障害: the systems the operators work with are down.
    ServerFailure,
    /// ネットワーク・回線障害: the floor cut off from the systems or the phones.
    NetworkFailure,
    /// 感染症の流行: too few people can come in.
    Pandemic,
    Other,
}

impl Scenario {
    pub const ALL: &'static [Scenario] = &[
        Scenario::Earthquake,
        Scenario::PowerLoss,
        Scenario::Intrusion,
        Scenario::ServerFailure,
        Scenario::NetworkFailure,
        Scenario::Pandemic,
        Scenario::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Earthquake => "earthquake",
            Scenario::PowerLoss => "power_loss",
            Scenario::Intrusion => "intrusion",
            Scenario::ServerFailure => "server_failure",
            Scenario::NetworkFailure => "network_failure",
            Scenario::Pandemic => "pandemic",
            Scenario::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// How a drill went.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DrillResult {
    /// The plan worked as written.
    Achieved,
    /// It worked with gaps to fix (written in the findings).
    Partly,
    /// It did not work: the plan needs changing.
    Failed,
}

impl DrillResult {
    pub const ALL: &'static [DrillResult] =
        &[DrillResult::Achieved, DrillResult::Partly, DrillResult::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            DrillResult::Achieved => "achieved",
            DrillResult::Partly => "partly",
            DrillResult::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// One person of a contact tree: a user of Mamori or someone outside it (the building's
/// manager, the client company's contact), and whom they are called by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// A user of Mamori; their name is shown from the user register.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Someone outside Mamori (required without `user_id`).
    #[serde(default)]
    pub name: String,
    /// What they do in the plan (責任者, 連絡係, ビル管理会社).
    pub role: String,
    /// How to reach them when the office systems are down.
    #[serde(default)]
    pub phone: String,
    /// The position (from 0) of the contact who calls them, earlier in the list; none for the
    /// top of the tree.
    #[serde(default)]
    pub called_by: Option<usize>,
}

/// A plan as a security admin writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub scenario: Scenario,
    pub title: String,
    /// What to do, in order (plain text; lines are kept).
    pub steps: String,
    /// The user who answers for the plan.
    pub owner_id: String,
    /// The contact tree, top first.
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// How often it is drilled, in months (1–24).
    pub drill_every_months: u32,
}

/// A drill as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillInput {
    pub plan_id: String,
    /// The day it was held (`YYYY-MM-DD`, Japan), not in the future.
    pub held_on: String,
    /// The users who took part (at least one).
    pub participants: Vec<String>,
    pub result: DrillResult,
    /// What went well and what did not.
    #[serde(default)]
    pub findings: String,
    /// What will change (required unless achieved).
    #[serde(default)]
    pub actions: String,
}

/// Why a plan or a drill was refused: the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ContinuityError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> ContinuityError {
    ContinuityError { field, message: message.into() }
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, ContinuityError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(bad(field, "required"));
    }
    if value.chars().count() > max {
        return Err(bad(field, format!("at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(bad(field, "control characters are not allowed"));
    }
    Ok(value.replace("\r\n", "\n"))
}

/// How often a plan may be drilled, in months.
pub const DRILL_MONTHS: std::ops::RangeInclusive<u32> = 1..=24;
/// People in one contact tree, at most.
pub const MAX_CONTACTS: usize = 100;
/// Participants of one drill, at most.
pub const MAX_PARTICIPANTS: usize = 500;

impl PlanInput {
    /// The rules of a plan that need nothing but itself: a title and steps, an owner, a drill
    /// interval in range, and a contact tree whose every person is someone, has a role, and is
    /// called by someone listed before them (so the tree has no cycle).
    pub fn checked(mut self) -> Result<PlanInput, ContinuityError> {
        self.title = text("title", &self.title, 200, true)?;
        self.steps = text("steps", &self.steps, 20_000, true)?;
        self.owner_id = text("owner_id", &self.owner_id, 100, true)?;
        if !DRILL_MONTHS.contains(&self.drill_every_months) {
            return Err(bad("drill_every_months", "every 1 to 24 months"));
        }
        if self.contacts.len() > MAX_CONTACTS {
            return Err(bad("contacts", format!("at most {MAX_CONTACTS} people")));
        }
        for (i, c) in self.contacts.iter_mut().enumerate() {
            c.user_id = c.user_id.take().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
            c.name = text("contacts.name", &c.name, 100, c.user_id.is_none())?;
            c.role = text("contacts.role", &c.role, 100, true)?;
            c.phone = text("contacts.phone", &c.phone, 40, false)?;
            if !c.phone.chars().all(|ch| ch.is_ascii_digit() || "+-() ".contains(ch)) {
                return Err(bad("contacts.phone", "digits, spaces, +, - and brackets only"));
            }
            match c.called_by {
                Some(_) if i == 0 => {
                    return Err(bad("contacts.called_by", "the first person is the top of the tree"));
                }
                Some(p) if p >= i => {
                    return Err(bad("contacts.called_by", "called by someone listed before them"));
                }
                None if i > 0 => {
                    return Err(bad("contacts.called_by", "say who calls each person after the first"));
                }
                _ => {}
            }
        }
        Ok(self)
    }
}

impl DrillInput {
    /// The rules of a drill that need nothing but itself and today (`YYYY-MM-DD` in Japan).
    pub fn checked(mut self, today: &str) -> Result<DrillInput, ContinuityError> {
        self.plan_id = text("plan_id", &self.plan_id, 100, true)?;
        self.held_on = self.held_on.trim().to_owned();
        if !super::is_date(&self.held_on) {
            return Err(bad("held_on", "a date as YYYY-MM-DD"));
        }
        if self.held_on.as_str() > today {
            return Err(bad("held_on", format!("the day it was held, not after today ({today})")));
        }
        self.participants =
            self.participants.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
        self.participants.sort();
        self.participants.dedup();
        if self.participants.is_empty() {
            return Err(bad("participants", "name who took part"));
        }
        if self.participants.len() > MAX_PARTICIPANTS {
            return Err(bad("participants", format!("at most {MAX_PARTICIPANTS}")));
        }
        self.findings = text("findings", &self.findings, 5000, false)?;
        self.actions = text("actions", &self.actions, 5000, self.result != DrillResult::Achieved)?;
        Ok(self)
    }
}

/// The day a plan's next drill is due: `every_months` after its last drill, or after the plan
/// was made when it was never drilled (the day of month kept, or the month's last day).
pub fn next_drill_on(last: Date, every_months: u32) -> Date {
    let months = last.year() * 12 + i32::from(u8::from(last.month())) - 1 + every_months as i32;
    let (year, month) = (months.div_euclid(12), (months.rem_euclid(12) + 1) as u8);
    let month = time::Month::try_from(month).unwrap_or(time::Month::December);
    let day = last.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> PlanInput {
        let contact = |name: &str, role: &str, called_by| Contact {
            user_id: None,
            name: name.into(),
            role: role.into(),
            phone: "090-1234-5678".into(),
            called_by,
        };
        PlanInput {
            scenario: Scenario::Earthquake,
            title: " 地震発生時の対応 ".into(),
            steps: "1. 身の安全\r\n2. 点呼".into(),
            owner_id: "u1".into(),
            contacts: vec![contact("センター長", "責任者", None), contact("SV 加藤", "連絡係", Some(0))],
            drill_every_months: 6,
        }
    }

    #[test]
    fn a_plan_is_checked() {
        let ok = plan().checked().unwrap();
        assert_eq!((ok.title.as_str(), ok.steps.as_str()), ("地震発生時の対応", "1. 身の安全\n2. 点呼"));
        let field = |f: fn(&mut PlanInput)| {
            let mut p = plan();
            f(&mut p);
            p.checked().unwrap_err().field
        };
        assert_eq!(field(|p| p.title = " ".into()), "title");
        assert_eq!(field(|p| p.drill_every_months = 0), "drill_every_months");
        assert_eq!(field(|p| p.drill_every_months = 25), "drill_every_months");
        assert_eq!(field(|p| p.contacts[1].called_by = Some(1)), "contacts.called_by", "no cycle");
        assert_eq!(field(|p| p.contacts[1].called_by = None), "contacts.called_by");
        assert_eq!(field(|p| p.contacts[0].called_by = Some(0)), "contacts.called_by");
        assert_eq!(field(|p| p.contacts[0].role = String::new()), "contacts.role");
        assert_eq!(field(|p| p.contacts[0].name = String::new()), "contacts.name", "nobody");
        assert_eq!(field(|p| p.contacts[0].phone = "call me".into()), "contacts.phone");
        let mut user = plan();
        (user.contacts[0].name, user.contacts[0].user_id) = (String::new(), Some("u2".into()));
        assert!(user.checked().is_ok(), "a user needs no name typed");
    }

    #[test]
    fn a_drill_is_checked() {
        let drill = DrillInput {
            plan_id: "p1".into(),
            held_on: "2026-11-20".into(),
            participants: vec![" u2".into(), "u1".into(), "u2".into(), " ".into()],
            result: DrillResult::Partly,
            findings: "連絡網の 2 名に繋がらず".into(),
            actions: "連絡先を更新".into(),
        };
        let ok = drill.clone().checked("2026-11-29").unwrap();
        assert_eq!(ok.participants, ["u1", "u2"]);
        let mut future = drill.clone();
        future.held_on = "2026-11-30".into();
        assert_eq!(future.checked("2026-11-29").unwrap_err().field, "held_on");
        let mut nobody = drill.clone();
        nobody.participants = vec![" ".into()];
        assert_eq!(nobody.checked("2026-11-29").unwrap_err().field, "participants");
        let mut no_action = drill.clone();
        no_action.actions = String::new();
        assert_eq!(no_action.checked("2026-11-29").unwrap_err().field, "actions");
        let mut achieved = drill;
        (achieved.actions, achieved.result) = (String::new(), DrillResult::Achieved);
        assert!(achieved.checked("2026-11-29").is_ok());
    }

    #[test]
    fn the_next_drill() {
        let d = |s: &str| super::super::vendor::parse_date(s).unwrap();
        assert_eq!(next_drill_on(d("2026-05-31"), 6), d("2026-11-30"));
        assert_eq!(next_drill_on(d("2026-11-15"), 3), d("2027-02-15"));
        assert_eq!(next_drill_on(d("2027-11-30"), 3), d("2028-02-29"));
        assert_eq!(next_drill_on(d("2026-01-10"), 24), d("2028-01-10"));
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.as_str()), Some(*s));
        }
    }
}
