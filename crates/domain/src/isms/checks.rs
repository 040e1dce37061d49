//! Checks [点検] (issue 18, item 4; ISMS-7, LEAK-2, LEAK-4): recurring checklists — the
//! operators' self-check of their own seat (clean desk, no personal phone, screen lock, no USB
//! stick) and the supervisors' floor check (papers and media locked away, the take-out ledger
//! against the real things) — done each day, ISO week or month, each item ok, not ok or not
//! applicable. A not-ok item opens a follow-up for the person's supervisor, overdue after
//! [`FOLLOW_UP_DAYS`]. Pure rules; the register is in the core.

use serde::{Deserialize, Serialize};
use time::{Date, Duration};

/// Who does a checklist.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
pub enum Performer {
    /// Every operator in scope, each for their own seat.
    #[serde(rename = "self")]
    OwnSeat,
    /// A team's supervisor, for the team's floor (one run per team).
    #[serde(rename = "supervisor")]
    Supervisor,
}

impl Performer {
    pub const ALL: &'static [Performer] = &[Performer::OwnSeat, Performer::Supervisor];

    pub fn as_str(self) -> &'static str {
        match self {
            Performer::OwnSeat => "self",
            Performer::Supervisor => "supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// How often a checklist is done.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

impl Frequency {
    pub const ALL: &'static [Frequency] = &[Frequency::Daily, Frequency::Weekly, Frequency::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// One item's result.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ItemResult {
    Ok,
    /// Not as it should be: opens a follow-up.
    NotOk,
    /// Does not apply this time.
    Na,
}

impl ItemResult {
    pub const ALL: &'static [ItemResult] = &[ItemResult::Ok, ItemResult::NotOk, ItemResult::Na];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemResult::Ok => "ok",
            ItemResult::NotOk => "not_ok",
            ItemResult::Na => "na",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// A checklist as a security admin writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistInput {
    pub title: String,
    /// The items, in the order they are checked (1–30, each ≤ 300 characters).
    pub items: Vec<String>,
    pub performer: Performer,
    pub frequency: Frequency,
    /// Only this site's people (none: every site).
    #[serde(default)]
    pub site_id: Option<String>,
    /// Only this team (none: every team of the site, or every team).
    #[serde(default)]
    pub team_id: Option<String>,
}

/// One item's answer in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The item's position in the checklist, from 0.
    pub item: usize,
    pub result: ItemResult,
    #[serde(default)]
    pub note: String,
}

/// A run as the person doing it sends it: every item answered once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    pub checklist_id: String,
    pub answers: Vec<Answer>,
    /// A note on the run as a whole.
    #[serde(default)]
    pub note: String,
}

/// Why a checklist or a run was refused: the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ChecksError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> ChecksError {
    ChecksError { field, message: message.into() }
}

/// A text field trimmed, in length, without control characters but line breaks.
pub fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, ChecksError> {
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

/// Items of one checklist, at most.
pub const MAX_ITEMS: usize = 30;
/// Days a follow-up has before it is overdue.
pub const FOLLOW_UP_DAYS: i64 = 7;

impl ChecklistInput {
    pub fn checked(mut self) -> Result<ChecklistInput, ChecksError> {
        self.title = text("title", &self.title, 200, true)?;
        let mut items = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let item = text("items", item, 300, false)?;
            if item.contains('\n') {
                return Err(bad("items", "one line per item"));
            }
            if !item.is_empty() {
                items.push(item);
            }
        }
        if items.is_empty() {
            return Err(bad("items", "required"));
        }
        if items.len() > MAX_ITEMS {
            return Err(bad("items", format!("at most {MAX_ITEMS} items")));
        }
        self.items = items;
        let id = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        self.site_id = id(self.site_id.take());
        self.team_id = id(self.team_id.take());
        Ok(self)
    }
}

impl RunInput {
    /// The rules of a run against its checklist's items: each item answered exactly once (the
    /// answers put in the items' order), notes in length.
    pub fn checked(mut self, items: usize) -> Result<RunInput, ChecksError> {
        self.checklist_id = text("checklist_id", &self.checklist_id, 100, true)?;
        self.note = text("note", &self.note, 2000, false)?;
        let mut seen = vec![false; items];
        for a in &mut self.answers {
            match seen.get_mut(a.item) {
                None => return Err(bad("answers", format!("item {} is not on the checklist", a.item + 1))),
                Some(true) => return Err(bad("answers", format!("item {} is answered twice", a.item + 1))),
                Some(s) => *s = true,
            }
            a.note = text("answers.note", &a.note, 1000, false)?;
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(bad("answers", format!("item {} is not answered", missing + 1)));
        }
        self.answers.sort_by_key(|a| a.item);
        Ok(self)
    }
}

/// The period a day falls in: its key (`2026-11-30`, `2026-W49`, `2026-11`) and its first and
/// last days.
pub fn period_of(frequency: Frequency, day: Date) -> (String, Date, Date) {
    match frequency {
        Frequency::Daily => (day.to_string(), day, day),
        Frequency::Weekly => {
            let (year, week, _) = day.to_iso_week_date();
            let start = day - Duration::days(i64::from(day.weekday().number_days_from_monday()));
            (format!("{year}-W{week:02}"), start, start + Duration::days(6))
        }
        Frequency::Monthly => {
            let start = day.replace_day(1).unwrap_or(day);
            let end = day.replace_day(day.month().length(day.year())).unwrap_or(day);
            (format!("{:04}-{:02}", day.year(), u8::from(day.month())), start, end)
        }
    }
}

/// The period before the one `day` falls in.
pub fn previous_period(frequency: Frequency, day: Date) -> (String, Date, Date) {
    let (_, start, _) = period_of(frequency, day);
    period_of(frequency, start.previous_day().unwrap_or(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        super::super::vendor::parse_date(s).unwrap()
    }

    #[test]
    fn periods() {
        assert_eq!(period_of(Frequency::Daily, d("2026-11-30")).0, "2026-11-30");
        let (key, start, end) = period_of(Frequency::Weekly, d("2026-11-30"));
        assert_eq!((key.as_str(), start, end), ("2026-W49", d("2026-11-30"), d("2026-12-06")));
        assert_eq!(period_of(Frequency::Weekly, d("2027-01-01")).0, "2026-W53");
        let (key, start, end) = period_of(Frequency::Monthly, d("2028-02-10"));
        assert_eq!((key.as_str(), start, end), ("2028-02", d("2028-02-01"), d("2028-02-29")));
        assert_eq!(previous_period(Frequency::Monthly, d("2026-01-15")).0, "2025-12");
        assert_eq!(previous_period(Frequency::Weekly, d("2026-11-30")).0, "2026-W48");
        assert_eq!(previous_period(Frequency::Daily, d("2026-12-01")).0, "2026-11-30");
    }

    #[test]
    fn a_checklist_is_checked() {
        let list = ChecklistInput {
            title: " 自席点検 ".into(),
            items: vec!["机の上に紙がない".into(), " ".into(), "画面ロック".into()],
            performer: Performer::OwnSeat,
            frequency: Frequency::Daily,
            site_id: Some(" ".into()),
            team_id: None,
        };
        let ok = list.clone().checked().unwrap();
        assert_eq!((ok.title.as_str(), ok.items.len(), ok.site_id), ("自席点検", 2, None));
        let mut empty = list.clone();
        empty.items = vec![" ".into()];
        assert_eq!(empty.checked().unwrap_err().field, "items");
        let mut many = list;
        many.items = vec!["x".into(); 31];
        assert_eq!(many.checked().unwrap_err().field, "items");
    }

    #[test]
    fn a_run_answers_every_item_once() {
        let a = |item, result| Answer { item, result, note: String::new() };
        let run = |answers| RunInput { checklist_id: "c".into(), answers, note: String::new() };
        let ok = run(vec![a(1, ItemResult::NotOk), a(0, ItemResult::Ok)]).checked(2).unwrap();
        assert_eq!(ok.answers[0].item, 0);
        assert_eq!(run(vec![a(0, ItemResult::Ok)]).checked(2).unwrap_err().field, "answers");
        assert_eq!(
            run(vec![a(0, ItemResult::Ok), a(0, ItemResult::Na)]).checked(1).unwrap_err().field,
            "answers"
        );
        assert_eq!(run(vec![a(2, ItemResult::Ok)]).checked(2).unwrap_err().field, "answers");
    }
}
