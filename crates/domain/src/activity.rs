//! Operator activity (issue 5; MON-1, MON-3, invariant 8): the per-minute activity bucket an
//! agent reports — counts only — the shift schedule that decides when activity may be collected
//! at all, the keystroke rate that is abnormal for a role, and an operator's state on the live
//! floor. The agent and the server judge shifts with this same code.

use crate::{Role, UnixMillis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One minute of an operator's activity. Counts and names only: key codes, typed text and window
/// contents never reach it, because the collector keeps nothing but these counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityBucket {
    /// Start of the minute, Unix milliseconds (a multiple of 60,000).
    pub minute: i64,
    pub keystrokes: u32,
    pub clicks: u32,
    /// Seconds of the minute with no input for at least a minute before them (0–60).
    pub idle_secs: u32,
    /// The application in front longest: its executable or window class, e.g. `chrome`.
    pub app: Option<String>,
    /// The host name of the page in a browser in front, e.g. `crm.example.co.jp`; never a path.
    pub browser_domain: Option<String>,
}

/// Keystrokes no person types in a minute (100 a second): a bucket above this is malformed.
pub const MAX_KEYSTROKES_PER_MINUTE: u32 = 6_000;

/// Why a bucket was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivityError {
    #[error("`minute` must be the start of a minute (a multiple of 60000)")]
    Minute,
    #[error("counts are out of range (at most {MAX_KEYSTROKES_PER_MINUTE} a minute, idle 0–60 s)")]
    Counts,
    #[error("`app` is at most 128 printable characters")]
    App,
    #[error("`browser_domain` must be a host name (letters, digits, '.', '-'), never a URL")]
    Domain,
}

impl ActivityBucket {
    pub fn checked(&self) -> Result<(), ActivityError> {
        if self.minute.rem_euclid(60_000) != 0 {
            return Err(ActivityError::Minute);
        }
        if self.keystrokes > MAX_KEYSTROKES_PER_MINUTE
            || self.clicks > MAX_KEYSTROKES_PER_MINUTE
            || self.idle_secs > 60
        {
            return Err(ActivityError::Counts);
        }
        if let Some(app) = &self.app
            && (app.is_empty() || app.chars().count() > 128 || app.chars().any(char::is_control))
        {
            return Err(ActivityError::App);
        }
        if let Some(d) = &self.browser_domain
            && !is_host_name(d)
        {
            return Err(ActivityError::Domain);
        }
        Ok(())
    }

    /// Whether the operator used the PC during the minute.
    pub fn active(&self) -> bool {
        self.idle_secs < 60 && (self.keystrokes > 0 || self.clicks > 0 || self.idle_secs == 0)
    }
}

/// A DNS host name: labels of letters, digits and '-', at most 253 characters.
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    /// The weekday of a count of days since 1970-01-01 (a Thursday).
    fn of_day(day: i64) -> Weekday {
        Weekday::ALL[usize::try_from((day + 3).rem_euclid(7)).unwrap_or(0)]
    }
}

/// One recurring shift: on these days, from `start` to `end` local time (`HH:MM`; an `end`
/// before `start` runs past midnight into the next day; `24:00` is the end of the day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    pub days: Vec<Weekday>,
    pub start: String,
    pub end: String,
}

/// An operator's shifts. Activity is collected only inside them; an operator with no shifts has
/// none collected (only heartbeats), which is also the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftSchedule {
    /// Minutes east of UTC of the times below; default 540 (Japan).
    #[serde(default = "japan")]
    pub utc_offset_minutes: i32,
    pub shifts: Vec<Shift>,
}

fn japan() -> i32 {
    540
}

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShiftError {
    #[error("`{0}` is not a time of day as HH:MM (00:00–24:00)")]
    Time(String),
    #[error("a shift needs at least one day and must not start when it ends")]
    Empty,
    #[error("the UTC offset must be within ±14 hours")]
    Offset,
    #[error("at most 50 shifts")]
    TooMany,
}

fn minute_of_day(hhmm: &str) -> Result<i64, ShiftError> {
    let err = || ShiftError::Time(hhmm.chars().take(16).collect());
    let (h, m) = hhmm.split_once(':').ok_or_else(err)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(err());
    }
    let (h, m): (i64, i64) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(err());
    }
    Ok(h * 60 + m)
}

impl ShiftSchedule {
    pub fn checked(self) -> Result<ShiftSchedule, ShiftError> {
        // `unsigned_abs`: `abs` of i32::MIN overflows (a panic in debug builds, and in release a
        // negative number that passed this check).
        if self.utc_offset_minutes.unsigned_abs() > 14 * 60 {
            return Err(ShiftError::Offset);
        }
        if self.shifts.len() > 50 {
            return Err(ShiftError::TooMany);
        }
        for s in &self.shifts {
            let (start, end) = (minute_of_day(&s.start)?, minute_of_day(&s.end)?);
            if s.days.is_empty() || start == end || start == 24 * 60 {
                return Err(ShiftError::Empty);
            }
        }
        Ok(self)
    }

    /// Whether `t` falls inside one of the shifts. A schedule that does not parse is never on
    /// shift: collecting too little is the safe failure.
    pub fn on_shift(&self, t: UnixMillis) -> bool {
        let local_min = t.0.div_euclid(60_000) + i64::from(self.utc_offset_minutes);
        let day = local_min.div_euclid(1440);
        let minute = local_min.rem_euclid(1440);
        let (today, yesterday) = (Weekday::of_day(day), Weekday::of_day(day - 1));
        self.shifts.iter().any(|s| {
            let (Ok(start), Ok(end)) = (minute_of_day(&s.start), minute_of_day(&s.end)) else {
                return false;
            };
            if start < end {
                s.days.contains(&today) && (start..end).contains(&minute)
            } else {
                (s.days.contains(&today) && minute >= start) || (s.days.contains(&yesterday) && minute < end)
            }
        })
    }
}

/// The keystrokes a minute above which a bucket raises `abnormal_keystroke_rate` — per role, as
/// a fast typist on a live call differs from an automated keystroke injector (a "rubber ducky"
/// pasting data out) mostly in rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeystrokeLimits {
    pub per_role: BTreeMap<Role, u32>,
}

impl Default for KeystrokeLimits {
    fn default() -> Self {
        // 600 a minute is 120 words a minute sustained for the whole minute.
        KeystrokeLimits { per_role: Role::ALL.iter().map(|r| (*r, 600)).collect() }
    }
}

impl KeystrokeLimits {
    pub fn checked(self) -> Result<KeystrokeLimits, ActivityError> {
        if self.per_role.values().any(|l| *l == 0 || *l > MAX_KEYSTROKES_PER_MINUTE) {
            return Err(ActivityError::Counts);
        }
        Ok(self)
    }

    /// The limit for someone holding these roles: the most generous of them; None when no role
    /// has a limit.
    pub fn limit_for(&self, roles: &[Role]) -> Option<u32> {
        roles.iter().filter_map(|r| self.per_role.get(r).copied()).max()
    }
}

/// An operator's state on the live floor (MON-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FloorState {
    /// No PC, or it has not been heard from for 90 seconds.
    Offline,
    /// Outside the operator's shift: nothing is collected, so nothing is shown.
    OffShift,
    Locked,
    Idle,
    Working,
}

impl FloorState {
    pub fn as_str(self) -> &'static str {
        match self {
            FloorState::Offline => "offline",
            FloorState::OffShift => "off_shift",
            FloorState::Locked => "locked",
            FloorState::Idle => "idle",
            FloorState::Working => "working",
        }
    }

    /// The state from what is known: the PC online, the shift, the last screen lock event, and
    /// the latest activity bucket (only one from the last three minutes counts).
    pub fn judge(
        online: bool,
        on_shift: bool,
        locked: bool,
        latest: Option<&ActivityBucket>,
        now: UnixMillis,
    ) -> FloorState {
        if !online {
            return FloorState::Offline;
        }
        if !on_shift {
            return FloorState::OffShift;
        }
        if locked {
            return FloorState::Locked;
        }
        match latest {
            Some(b) if now.0 - b.minute < 3 * 60_000 && b.active() => FloorState::Working,
            _ => FloorState::Idle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23 is a Monday; 00:00 JST is 2026-11-22T15:00Z.
    const MON_0000_JST: i64 = 1_795_359_600_000;

    fn at(day: i64, hh: i64, mm: i64) -> UnixMillis {
        UnixMillis(MON_0000_JST + day * 86_400_000 + (hh * 60 + mm) * 60_000)
    }

    fn schedule(days: &[Weekday], start: &str, end: &str) -> ShiftSchedule {
        ShiftSchedule {
            utc_offset_minutes: 540,
            shifts: vec![Shift { days: days.to_vec(), start: start.into(), end: end.into() }],
        }
        .checked()
        .expect("valid schedule")
    }

    #[test]
    fn the_reference_monday_is_a_monday() {
        assert_eq!(UnixMillis(MON_0000_JST).rfc3339(), "2026-11-22T15:00:00.000Z");
        assert_eq!(Weekday::of_day((MON_0000_JST / 60_000 + 540).div_euclid(1440)), Weekday::Mon);
    }

    #[test]
    fn a_day_shift_covers_its_hours_on_its_days_only() {
        let s = schedule(&[Weekday::Mon, Weekday::Tue], "09:00", "18:00");
        assert!(!s.on_shift(at(0, 8, 59)));
        assert!(s.on_shift(at(0, 9, 0)));
        assert!(s.on_shift(at(1, 17, 59)));
        assert!(!s.on_shift(at(1, 18, 0)));
        assert!(!s.on_shift(at(2, 12, 0)), "Wednesday is not a shift day");
    }

    #[test]
    fn a_night_shift_runs_past_midnight_from_its_start_day() {
        let s = schedule(&[Weekday::Fri], "22:00", "06:00");
        assert!(s.on_shift(at(4, 23, 0)), "Friday night");
        assert!(s.on_shift(at(5, 5, 59)), "Saturday morning, same shift");
        assert!(!s.on_shift(at(5, 6, 0)));
        assert!(!s.on_shift(at(3, 2, 0)), "Thursday early morning belongs to no shift");
    }

    #[test]
    fn a_whole_day_and_no_schedule() {
        let s = schedule(&Weekday::ALL, "00:00", "24:00");
        assert!((0..7).all(|d| s.on_shift(at(d, 0, 0)) && s.on_shift(at(d, 23, 59))));
        assert!(!ShiftSchedule::default().on_shift(at(0, 12, 0)), "no shifts: nothing is collected");
    }

    #[test]
    fn bad_schedules_are_refused() {
        let bad = |start: &str, end: &str, days: Vec<Weekday>| {
            ShiftSchedule {
                utc_offset_minutes: 540,
                shifts: vec![Shift { days, start: start.into(), end: end.into() }],
            }
            .checked()
        };
        assert!(matches!(bad("9:00", "18:00", vec![Weekday::Mon]), Err(ShiftError::Time(_))));
        assert!(matches!(bad("09:00", "24:30", vec![Weekday::Mon]), Err(ShiftError::Time(_))));
        assert!(matches!(bad("09:60", "18:00", vec![Weekday::Mon]), Err(ShiftError::Time(_))));
        assert_eq!(bad("09:00", "09:00", vec![Weekday::Mon]), Err(ShiftError::Empty));
        assert_eq!(bad("09:00", "18:00", vec![]), Err(ShiftError::Empty));
        let far = ShiftSchedule { utc_offset_minutes: 15 * 60, shifts: vec![] };
        assert_eq!(far.checked(), Err(ShiftError::Offset));
        let farthest = ShiftSchedule { utc_offset_minutes: i32::MIN, shifts: vec![] };
        assert_eq!(farthest.checked(), Err(ShiftError::Offset));
    }

    #[test]
    fn buckets_are_checked() {
        let ok = ActivityBucket {
            minute: 60_000 * 5,
            keystrokes: 120,
            clicks: 4,
            idle_secs: 0,
            app: Some("chrome".into()),
            browser_domain: Some("crm.example.co.jp".into()),
        };
        assert_eq!(ok.checked(), Ok(()));
        assert_eq!(ActivityBucket { minute: 61_000, ..ok.clone() }.checked(), Err(ActivityError::Minute));
        assert_eq!(ActivityBucket { idle_secs: 61, ..ok.clone() }.checked(), Err(ActivityError::Counts));
        assert_eq!(ActivityBucket { keystrokes: 6_001, ..ok.clone() }.checked(), Err(ActivityError::Counts));
        for domain in ["https://crm.example.co.jp/", "crm.example.co.jp/customers?id=1", "a..b", ""] {
            let b = ActivityBucket { browser_domain: Some(domain.into()), ..ok.clone() };
            assert_eq!(b.checked(), Err(ActivityError::Domain), "{domain}");
        }
        assert_eq!(ActivityBucket { app: Some("a\u{7}".into()), ..ok }.checked(), Err(ActivityError::App));
    }

    #[test]
    fn keystroke_limits_take_the_most_generous_role() {
        let mut limits = KeystrokeLimits::default();
        limits.per_role.insert(Role::Supervisor, 900);
        assert_eq!(limits.limit_for(&[Role::Operator, Role::Supervisor]), Some(900));
        assert_eq!(limits.limit_for(&[]), None);
        limits.per_role.insert(Role::Operator, 0);
        assert_eq!(limits.checked(), Err(ActivityError::Counts));
    }

    #[test]
    fn floor_states() {
        let now = UnixMillis(600_000);
        let recent = ActivityBucket { minute: 540_000, keystrokes: 10, ..Default::default() };
        let stale = ActivityBucket { minute: 360_000, keystrokes: 10, ..Default::default() };
        let idle = ActivityBucket { minute: 540_000, idle_secs: 60, ..Default::default() };
        let judge = |online, shift, locked, b: Option<&ActivityBucket>| {
            FloorState::judge(online, shift, locked, b, now)
        };
        assert_eq!(judge(false, true, false, Some(&recent)), FloorState::Offline);
        assert_eq!(judge(true, false, false, Some(&recent)), FloorState::OffShift);
        assert_eq!(judge(true, true, true, Some(&recent)), FloorState::Locked);
        assert_eq!(judge(true, true, false, Some(&recent)), FloorState::Working);
        assert_eq!(judge(true, true, false, Some(&stale)), FloorState::Idle);
        assert_eq!(judge(true, true, false, Some(&idle)), FloorState::Idle);
        assert_eq!(judge(true, true, false, None), FloorState::Idle);
    }
}
