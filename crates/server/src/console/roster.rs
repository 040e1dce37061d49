//! A person's roster and own networks (issue 14, item 9c; MON-1, MON-2, MON-3): the shifts inside which
//! their PC's activity is collected — several a week — and, for a home worker, the networks
//! their PC may connect from besides their site's. Reached from the user's page; the forms are
//! filled with what is in force, so saving never silently replaces it. Core checks the scope
//! (a supervisor reads their own team's) and audits the change.

use super::devices::weekday_key;
use super::{Chrome, DoneQuery, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_domain::Permission::{DevicesManage, DevicesRead};
use mamori_domain::activity::{Shift, ShiftError, ShiftSchedule, Weekday};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::posture::Cidr;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/admin/users/{id}/roster", Needs(DevicesRead), roster_page)
        .add(Method::POST, "/admin/users/{id}/shifts", Needs(DevicesManage), save_shifts)
        .add(Method::POST, "/admin/users/{id}/networks", Needs(DevicesManage), save_networks)
}

/// Rows of the shift form: at least this many, and always one empty row besides the shifts.
const SHIFT_ROWS: usize = 7;
/// The console's schedules are in Japan time, like every time it shows.
const JST_MINUTES: i32 = 540;

/// "月〜金 09:00–18:00": a shift in words, from the page language's day names. Three or more
/// days in a row read as a range; an end at or before the start is on the next day; a schedule
/// kept in another offset than Japan's says so.
pub fn shift_text(tr: Tr, shift: &Shift, utc_offset_minutes: i32) -> String {
    let mut days = shift.days.clone();
    days.sort();
    days.dedup();
    let index = |d: &Weekday| Weekday::ALL.iter().position(|w| w == d).unwrap_or(0);
    let name = |d: &Weekday| tr.t(&format!("weekday.{}", weekday_key(*d))).to_owned();
    // Runs of consecutive days.
    let mut runs: Vec<(Weekday, Weekday, usize)> = Vec::new();
    for d in &days {
        match runs.last_mut() {
            Some((_, last, n)) if index(last) + 1 == index(d) => {
                *last = *d;
                *n += 1;
            }
            _ => runs.push((*d, *d, 1)),
        }
    }
    let mut parts = Vec::new();
    for (first, last, n) in runs {
        match n {
            1 => parts.push(name(&first)),
            2 => {
                parts.push(name(&first));
                parts.push(name(&last));
            }
            _ => parts.push(format!("{}{}{}", name(&first), tr.t("roster.day_range"), name(&last))),
        }
    }
    let end = if shift.end.as_str() <= shift.start.as_str() {
        tr.t("roster.next_day").replace("{time}", &shift.end)
    } else {
        shift.end.clone()
    };
    let mut text = format!("{} {}–{end}", parts.join(tr.t("roster.day_separator")), shift.start);
    if utc_offset_minutes != JST_MINUTES {
        let (h, m) = (utc_offset_minutes / 60, (utc_offset_minutes % 60).abs());
        text.push_str(&format!(" (UTC{h:+03}:{m:02})"));
    }
    text
}

/// A shift as the form holds it: day codes, start, end.
type SentShift = (Vec<String>, String, String);

/// One row of the shift form.
pub struct ShiftRow {
    /// (day code, its label, ticked)
    pub days: Vec<(&'static str, String, bool)>,
    pub start: String,
    pub end: String,
}

fn shift_rows(tr: Tr, shifts: &[SentShift]) -> Vec<ShiftRow> {
    let n = SHIFT_ROWS.max(shifts.len() + 1);
    (0..n)
        .map(|i| {
            let (days, start, end) = shifts.get(i).cloned().unwrap_or_default();
            ShiftRow {
                days: Weekday::ALL
                    .iter()
                    .map(|d| {
                        let key = weekday_key(*d);
                        (key, tr.t(&format!("weekday.{key}")).to_owned(), days.iter().any(|x| x == key))
                    })
                    .collect(),
                start,
                end,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "roster.html")]
struct RosterPage {
    c: Chrome,
    user_id: String,
    who: String,
    /// The shifts in force, in words; empty: none (nothing is collected).
    shifts_in_force: Vec<String>,
    rows: Vec<ShiftRow>,
    /// The networks, one a line, as the form shows them.
    networks: String,
    can_manage: bool,
    /// Problems with what was sent, a sentence each.
    problems: Vec<String>,
}

/// What the forms show when they are not the stored values: what was sent, refused.
#[derive(Default)]
struct Sent {
    shifts: Option<Vec<SentShift>>,
    networks: Option<String>,
    problems: Vec<String>,
}

async fn roster_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    done: Option<&str>,
    sent: Sent,
) -> Response {
    let fail = |e: &mamori_core::CoreError| {
        super::message_page_text(tr, crate::problem::status_of(e), error_text(tr, e))
    };
    let (user, _) = match state.core.identity.user(p, id, ctx).await {
        Ok(u) => u,
        Err(e) => return fail(&e),
    };
    let schedule = match state.core.devices.user_shifts(p, id, ctx).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let networks = match state.core.devices.user_networks(p, id, ctx).await {
        Ok(n) => n,
        Err(e) => return fail(&e),
    };
    let stored: Vec<SentShift> = schedule
        .shifts
        .iter()
        .map(|s| {
            (s.days.iter().map(|d| weekday_key(*d).to_owned()).collect(), s.start.clone(), s.end.clone())
        })
        .collect();
    let status = if sent.problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let c = Chrome::new(tr, "roster.title", Some(p), csrf_for(Some(p), None), "/admin/users")
        .notice_key(done)
        .error((!sent.problems.is_empty()).then(|| tr.t("roster.refused").to_owned()));
    let page = RosterPage {
        c,
        user_id: user.id.clone(),
        who: format!("{} ({})", user.display_name, user.username),
        shifts_in_force: schedule
            .shifts
            .iter()
            .map(|s| shift_text(tr, s, schedule.utc_offset_minutes))
            .collect(),
        rows: shift_rows(tr, sent.shifts.as_deref().unwrap_or(&stored)),
        networks: sent.networks.unwrap_or_else(|| networks.join("\n")),
        can_manage: p.can(DevicesManage),
        problems: sent.problems,
    };
    (status, render(&page)).into_response()
}

async fn roster_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    roster_view(&state, tr, &p, &ctx, &id, q.done.as_deref(), Sent::default()).await
}

/// The shift form's rows as sent (`days.N`, `start.N`, `end.N`), and the schedule they make or
/// a sentence per row that is wrong. A row with no day and no time is left out.
fn shifts_from_form(tr: Tr, form: &Form) -> (Vec<SentShift>, Result<ShiftSchedule, Vec<String>>) {
    let mut sent = Vec::new();
    let mut shifts = Vec::new();
    let mut problems = Vec::new();
    for i in 0..50 {
        let days = form.all(&format!("days.{i}"));
        let (start, end) = (form.text(&format!("start.{i}")).trim(), form.text(&format!("end.{i}")).trim());
        if days.is_empty() && start.is_empty() && end.is_empty() {
            continue;
        }
        sent.push((days.clone(), start.to_owned(), end.to_owned()));
        let row = tr.t("roster.row").replace("{n}", &(i + 1).to_string());
        let parsed: Vec<Weekday> =
            Weekday::ALL.iter().copied().filter(|d| days.iter().any(|x| x == weekday_key(*d))).collect();
        if start.is_empty() || end.is_empty() {
            problems.push(format!("{row}: {}", tr.t("roster.times_missing")));
            continue;
        }
        let shift = Shift { days: parsed, start: start.to_owned(), end: end.to_owned() };
        let one = ShiftSchedule { utc_offset_minutes: JST_MINUTES, shifts: vec![shift.clone()] };
        match one.checked() {
            Ok(_) => shifts.push(shift),
            Err(ShiftError::Time(t)) => {
                problems.push(format!("{row}: {}", tr.t("roster.bad_time").replace("{time}", &t)))
            }
            Err(_) => problems.push(format!("{row}: {}", tr.t("roster.no_days"))),
        }
    }
    let result = match problems.is_empty() {
        true => Ok(ShiftSchedule { utc_offset_minutes: JST_MINUTES, shifts }),
        false => Err(problems),
    };
    (sent, result)
}

async fn save_shifts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let (sent, parsed) = shifts_from_form(tr, &form);
    let result = match parsed {
        Ok(schedule) => state
            .core
            .devices
            .set_user_shifts(&p, &id, schedule, &ctx)
            .await
            .map_err(|e| vec![error_text(tr, &e)]),
        Err(problems) => Err(problems),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/admin/users/{id}/roster?done=shifts_saved")).into_response(),
        Err(problems) => {
            let sent = Sent { shifts: Some(sent), problems, ..Sent::default() };
            roster_view(&state, tr, &p, &ctx, &id, None, sent).await
        }
    }
}

async fn save_networks(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let text = form.text("networks");
    let mut networks = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match Cidr::parse(line) {
            Ok(_) => networks.push(line.to_owned()),
            Err(_) => problems.push(format!(
                "{}: {}",
                tr.t("roster.line").replace("{n}", &(i + 1).to_string()),
                tr.t("roster.bad_network").replace("{network}", line)
            )),
        }
    }
    let result = match problems.is_empty() {
        true => state
            .core
            .devices
            .set_user_networks(&p, &id, networks, &ctx)
            .await
            .map_err(|e| vec![error_text(tr, &e)]),
        false => Err(problems),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/admin/users/{id}/roster?done=networks_saved")).into_response(),
        Err(problems) => {
            let sent = Sent { networks: Some(text.to_owned()), problems, ..Sent::default() };
            roster_view(&state, tr, &p, &ctx, &id, None, sent).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_domain::identity::Language as Lang;

    fn shift(days: &[Weekday], start: &str, end: &str) -> Shift {
        Shift { days: days.to_vec(), start: start.into(), end: end.into() }
    }

    #[test]
    fn shifts_read_as_words() {
        use Weekday::*;
        let (ja, en) = (Tr(Lang::Ja), Tr(Lang::En));
        let weekdays = shift(&[Mon, Tue, Wed, Thu, Fri], "09:00", "18:00");
        assert_eq!(shift_text(ja, &weekdays, 540), "月〜金 09:00–18:00");
        assert_eq!(shift_text(en, &weekdays, 540), "Mon–Fri 09:00–18:00");
        let some = shift(&[Fri, Mon, Wed], "13:00", "17:30");
        assert_eq!(shift_text(ja, &some, 540), "月・水・金 13:00–17:30");
        assert_eq!(shift_text(en, &some, 540), "Mon, Wed, Fri 13:00–17:30");
        let night = shift(&[Sat, Sun], "22:00", "06:00");
        assert_eq!(shift_text(ja, &night, 540), "土・日 22:00–翌06:00");
        assert_eq!(shift_text(en, &night, 540), "Sat, Sun 22:00–06:00 next day");
        assert_eq!(shift_text(en, &shift(&[Mon], "09:00", "12:00"), 0), "Mon 09:00–12:00 (UTC+00:00)");
    }
}
