//! Incidents in the console (issue 16, items 4 and 5; ISMS-6, LEAK-8): anyone signed in reports
//! a possible leak in one step from any page (also anonymously); security admins run each
//! incident — the personal data involved and the breach-report clock that follows from it, the
//! playbook's checklist, the state, the assignee, comments, the alerts behind it and its
//! timeline in words — and print the draft report to the PPC with a notice to each client
//! company. Auditors read all of it.
//!
//! Every code a page shows — kind, state, severity, ground, checklist item, report, timeline
//! entry — is worded through the catalogue; a test keeps each one labelled in both languages.
//! The draft report itself is in Japanese whatever the console's language: it goes to the PPC.

use super::alerts::{AlertRow, rule_name, severity_label};
use super::{Chrome, ConfirmPage, DoneQuery, Form, csrf_for, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::incidents::{
    IncidentChange, IncidentDetail, IncidentRecord, LeakReport, MAX_TEXT_CHARS, MAX_TITLE_CHARS, NewIncident,
    ReportDraft, TimelineItem,
};
use mamori_core::{CoreError, Principal, User};
use mamori_domain::Permission::{
    AlertsRead, DevicesRead, IncidentsManage, IncidentsRead, SettingsManage, UsersRead,
};
use mamori_domain::UnixMillis;
use mamori_domain::authz::Access::{Permission as Needs, SignedIn};
use mamori_domain::detect::Severity;
use mamori_domain::identity::Language;
use mamori_domain::incident::{
    DataAssessment, IncidentKind, IncidentState, PRELIMINARY_DAYS_RANGE, ReportDuty, report_duty,
};
use std::collections::HashMap;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/report", SignedIn, report_page)
        .add(Method::POST, "/report", SignedIn, report_leak)
        .add(Method::GET, "/report/thanks", SignedIn, thanks_page)
        .add(Method::GET, "/incidents", Needs(IncidentsRead), list_page)
        .add(Method::POST, "/incidents", Needs(IncidentsManage), open_incident)
        .add(Method::GET, "/incidents/{id}", Needs(IncidentsRead), incident_page)
        .add(Method::POST, "/incidents/{id}", Needs(IncidentsManage), update)
        .add(Method::GET, "/incidents/{id}/reports/{report}", Needs(IncidentsManage), confirm_report)
        .add(Method::POST, "/incidents/{id}/reports/{report}", Needs(IncidentsManage), record_report)
        .add(Method::GET, "/incidents/{id}/draft", Needs(IncidentsRead), draft_page)
        .add(Method::POST, "/admin/incident-settings", Needs(SettingsManage), save_preliminary_days)
}

/// The reports an incident may record as made, in the order they are made.
pub const REPORTS: [&str; 4] = ["preliminary", "final", "people", "clients"];
/// The list's period for closed incidents, unless the URL says otherwise.
const DEFAULT_DAYS: u32 = 30;
const DAY_CHOICES: [u32; 3] = [30, 90, 366];
/// Recent alerts offered for linking.
const LINKABLE_ALERT_DAYS: u32 = 30;
const DAY_MS: i64 = 86_400_000;

// ---------------------------------------------------------------------------------------------
// Codes in words.

fn label(tr: Tr, key: String, code: &str) -> String {
    tr.get(&key).map_or_else(|| code.to_owned(), str::to_owned)
}

/// 1,200.
fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "USBメモリ・PCの紛失・盗難" for `lost_device`.
pub fn kind_label(tr: Tr, kind: &str) -> String {
    label(tr, format!("incident_kind.{kind}"), kind)
}

/// 新規, 初動対応中, 封じ込め済み, 復旧済み, 終了.
pub fn state_label(tr: Tr, state: &str) -> String {
    label(tr, format!("incident_state.{state}"), state)
}

fn ground_label(tr: Tr, ground: &str) -> String {
    label(tr, format!("report_ground.{ground}"), ground)
}

pub(crate) fn checklist_label(tr: Tr, item: &str) -> String {
    label(tr, format!("checklist_item.{item}"), item)
}

/// PPCへの速報, PPCへの確報, 本人への通知, 委託元への報告.
fn report_label(tr: Tr, report: &str) -> String {
    label(tr, format!("incident_report.{report}"), report)
}

/// "INC-12".
pub fn number(n: i64) -> String {
    format!("INC-{n}")
}

fn state_class(state: &str) -> &'static str {
    match state {
        "new" => "warn",
        "triage" | "contained" => "state-idle",
        "recovered" => "ok",
        _ => "state-offline",
    }
}

fn severity_class(severity: &str) -> &'static str {
    match severity {
        "high" => "warn",
        "medium" => "state-idle",
        _ => "",
    }
}

/// `2026-12-02 10:15` in Japan.
fn minute(ms: i64) -> String {
    local_time(ms).chars().take(16).collect()
}

/// The value of an `<input type="datetime-local">`: `2026-12-02T10:15`, Japan time.
fn datetime_local(ms: i64) -> String {
    minute(ms).replacen(' ', "T", 1)
}

/// `2026-12-02T10:15` (an HTML `datetime-local`, Japan time) as an instant.
fn parse_datetime_local(text: &str) -> Option<UnixMillis> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let at = time::PrimitiveDateTime::parse(text.trim(), format).ok()?;
    Some(UnixMillis(at.assume_utc().unix_timestamp() * 1000 - 9 * 3_600_000))
}

/// "あと 2 日", "あと 5 時間", "期限を 1 日過ぎています".
fn time_left(tr: Tr, due: UnixMillis, now: UnixMillis) -> String {
    let left = due.0 - now.0;
    if left >= DAY_MS {
        tr.t("incidents.days_left").replace("{n}", &(left / DAY_MS).to_string())
    } else if left > 0 {
        tr.t("incidents.hours_left").replace("{n}", &(left / 3_600_000).max(1).to_string())
    } else if -left >= DAY_MS {
        tr.t("incidents.days_overdue").replace("{n}", &(-left / DAY_MS).to_string())
    } else {
        tr.t("incidents.overdue").to_owned()
    }
}

/// The report still owed and its deadline: the preliminary one, then the final one.
fn next_due(i: &IncidentRecord, duty: &ReportDuty) -> Option<(&'static str, UnixMillis)> {
    if i.preliminary_reported_at.is_none() {
        Some(("preliminary", duty.preliminary_due))
    } else if i.final_reported_at.is_none() {
        Some(("final", duty.final_due))
    } else {
        None
    }
}

/// "PPCへの報告が必要: 速報期限 2026-12-02 10:15（あと 2 日）".
fn due_text(tr: Tr, report: &str, due: UnixMillis, now: UnixMillis) -> String {
    tr.t("incidents.report_due")
        .replace("{deadline}", tr.t(&format!("incidents.due_{report}")))
        .replace("{time}", &minute(due.0))
        .replace("{left}", &time_left(tr, due, now))
}

fn person_name(u: &User) -> String {
    format!("{} ({})", u.display_name, u.username)
}

/// A core refusal in words; a field of this page's forms in words of its own.
fn incident_error(tr: Tr, e: &CoreError) -> String {
    if let CoreError::Invalid { field, .. } = e
        && let Some(text) = tr.get(&format!("incidents.invalid_{field}"))
    {
        return text.to_owned();
    }
    error_text(tr, e)
}

fn refused_page(tr: Tr, e: &CoreError) -> Response {
    super::message_page_text(tr, crate::problem::status_of(e), incident_error(tr, e))
}

/// (code, label, chosen) of every kind.
fn kind_choices(tr: Tr, chosen: &str) -> Vec<(&'static str, String, bool)> {
    IncidentKind::ALL.iter().map(|k| (k.as_str(), kind_label(tr, k.as_str()), k.as_str() == chosen)).collect()
}

fn severity_choices(tr: Tr, chosen: &str) -> Vec<(&'static str, String, bool)> {
    Severity::ALL.iter().map(|s| (s.as_str(), severity_label(tr, s.as_str()), s.as_str() == chosen)).collect()
}

/// People by id ("name (user name)") when the principal may read them.
async fn user_names(
    state: &AppState,
    p: &Principal,
    ctx: &RequestContext,
) -> (Vec<User>, HashMap<String, String>) {
    let users = if p.can(UsersRead) {
        state.core.identity.list_users(p, ctx).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let names = users.iter().map(|u| (u.id.clone(), person_name(u))).collect();
    (users, names)
}

async fn device_names(state: &AppState, p: &Principal) -> HashMap<String, String> {
    if !p.can(DevicesRead) {
        return HashMap::new();
    }
    let devices = state.core.devices.list_devices(p).await.unwrap_or_default();
    devices.into_iter().map(|d| (d.id, d.hostname)).collect()
}

// ---------------------------------------------------------------------------------------------
// Reporting a possible leak (anyone signed in).

#[derive(Template)]
#[template(path = "incident_report.html")]
struct ReportPage {
    c: Chrome,
    /// (code, label, chosen)
    kinds: Vec<(&'static str, String, bool)>,
    description: String,
    anonymous: bool,
    max_text: usize,
    /// After sending: what happens next.
    thanks: Option<Thanks>,
}

struct Thanks {
    /// "INC-12", or empty for an anonymous report.
    number: String,
}

async fn report_view(
    tr: Tr,
    p: &Principal,
    sent: Option<&Form>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let text = |name: &str| sent.map(|f| f.text(name).to_owned()).unwrap_or_default();
    let page = ReportPage {
        c: Chrome::new(tr, "report.title", Some(p), csrf_for(Some(p), None), "/report").error(error),
        kinds: kind_choices(tr, &text("kind")),
        description: text("description"),
        anonymous: text("anonymous") == "on",
        max_text: MAX_TEXT_CHARS,
        thanks: None,
    };
    (status, render(&page)).into_response()
}

async fn report_page(headers: HeaderMap, Caller(p): Caller) -> Response {
    report_view(tr_for(&headers, Some(&p)), &p, None, None).await
}

async fn report_leak(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let Some(kind) = IncidentKind::parse(form.text("kind")) else {
        let e = (StatusCode::UNPROCESSABLE_ENTITY, tr.t("report.choose_kind").to_owned());
        return report_view(tr, &p, Some(&form), Some(e)).await;
    };
    let anonymous = form.text("anonymous") == "on";
    let report = LeakReport { kind, description: form.text("description").to_owned(), anonymous };
    match state.core.incidents.report_leak(&p, &report, &ctx).await {
        Ok(_) if anonymous => Redirect::to("/report/thanks?anonymous=1").into_response(),
        Ok(i) => Redirect::to(&format!("/report/thanks?number={}", i.number)).into_response(),
        Err(e) => {
            let refused = (crate::problem::status_of(&e), incident_error(tr, &e));
            report_view(tr, &p, Some(&form), Some(refused)).await
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct ThanksQuery {
    number: Option<String>,
}

async fn thanks_page(headers: HeaderMap, Caller(p): Caller, Query(q): Query<ThanksQuery>) -> Response {
    let tr = tr_for(&headers, Some(&p));
    // Only a number is shown from the URL, never free text.
    let number = q.number.and_then(|n| n.trim().parse::<i64>().ok()).map(number).unwrap_or_default();
    render(&ReportPage {
        c: Chrome::new(tr, "report.thanks_title", Some(&p), csrf_for(Some(&p), None), "/report"),
        kinds: Vec::new(),
        description: String::new(),
        anonymous: false,
        max_text: MAX_TEXT_CHARS,
        thanks: Some(Thanks { number }),
    })
}

// ---------------------------------------------------------------------------------------------
// The list.

#[derive(Debug, Default, serde::Deserialize)]
struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    days: String,
    done: Option<String>,
}

/// One incident as the list shows it.
pub struct IncidentRow {
    pub id: String,
    pub number: String,
    pub title: String,
    pub kind_label: String,
    pub state: String,
    pub state_label: String,
    pub state_class: &'static str,
    pub severity: String,
    pub severity_label: String,
    pub severity_class: &'static str,
    pub assignee: String,
    pub learned: String,
    /// "PPCへの報告が必要: 速報期限 …" while a required report is not recorded.
    pub report_due: String,
    pub closed: bool,
}

/// What was typed into the new-incident form, to show it again.
#[derive(Default)]
pub struct NewTyped {
    pub title: String,
    pub kind: String,
    pub severity: String,
    pub description: String,
    pub alert_id: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<IncidentRow>,
    state: String,
    days: u32,
    states: Vec<(&'static str, String)>,
    day_choices: Vec<(u32, String)>,
    refused: bool,
    can_manage: bool,
    kinds: Vec<(&'static str, String, bool)>,
    severities: Vec<(&'static str, String, bool)>,
    typed: NewTyped,
    /// The new-incident form is open (something was typed and refused).
    form_open: bool,
    max_title: usize,
    max_text: usize,
    /// "速報の期限: 認知から 3 日".
    clock_note: String,
}

fn incident_row(
    tr: Tr,
    i: &IncidentRecord,
    days: u32,
    now: UnixMillis,
    users: &HashMap<String, String>,
) -> (IncidentRow, Option<UnixMillis>) {
    let closed = i.state == IncidentState::Closed.as_str();
    let due = report_duty(&i.data, i.learned_at, days).and_then(|d| next_due(i, &d)).filter(|_| !closed);
    let row = IncidentRow {
        id: i.id.clone(),
        number: number(i.number),
        title: i.title.clone(),
        kind_label: kind_label(tr, &i.kind),
        state: i.state.clone(),
        state_label: state_label(tr, &i.state),
        state_class: state_class(&i.state),
        severity: i.severity.clone(),
        severity_label: severity_label(tr, &i.severity),
        severity_class: severity_class(&i.severity),
        assignee: i
            .assignee_id
            .as_ref()
            .map(|id| users.get(id).cloned().unwrap_or_else(|| tr.t("alerts.someone").to_owned()))
            .unwrap_or_default(),
        learned: minute(i.learned_at.0),
        report_due: due.map(|(report, at)| due_text(tr, report, at, now)).unwrap_or_default(),
        closed,
    };
    (row, due.map(|(_, at)| at))
}

#[allow(clippy::too_many_arguments)]
async fn list_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    q: ListQuery,
    typed: Option<NewTyped>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let chosen = q.state.trim().to_owned();
    let mut refused = None;
    if !chosen.is_empty() && IncidentState::parse(&chosen).is_none() {
        let allowed: Vec<String> = IncidentState::ALL
            .iter()
            .map(|s| {
                tr.t("alerts.state_choice")
                    .replace("{code}", s.as_str())
                    .replace("{label}", &state_label(tr, s.as_str()))
            })
            .collect();
        refused = Some(
            tr.t("incidents.unknown_state")
                .replace("{state}", &chosen)
                .replace("{allowed}", &allowed.join(tr.t("common.list_separator"))),
        );
    }
    let days = match q.days.trim() {
        "" => DEFAULT_DAYS,
        d => match d.parse::<u32>() {
            Ok(n) if (1..=366).contains(&n) => n,
            _ => {
                refused.get_or_insert_with(|| tr.t("incidents.invalid_days").to_owned());
                DEFAULT_DAYS
            }
        },
    };
    let preliminary_days = state.core.incidents.preliminary_days().await.unwrap_or(3);
    let now = state.core.now();
    let rows = match refused {
        Some(_) => Vec::new(),
        None => {
            let states: Vec<&str> = if chosen.is_empty() { Vec::new() } else { vec![chosen.as_str()] };
            match state.core.incidents.incidents(p, days, &states, ctx).await {
                Ok(incidents) => {
                    let (users, _) = user_names(state, p, ctx).await;
                    let users: HashMap<String, String> =
                        users.into_iter().map(|u| (u.id, u.display_name)).collect();
                    let mut rows: Vec<(IncidentRow, Option<UnixMillis>, i64)> = incidents
                        .iter()
                        .map(|i| {
                            let (row, due) = incident_row(tr, i, preliminary_days, now, &users);
                            (row, due, i.created_at.0)
                        })
                        .collect();
                    // Problems first: a report owed (nearest deadline first), then the open ones
                    // (high severity first, newest first), then the closed ones.
                    rows.sort_by_key(|(r, due, created)| {
                        let bucket = if due.is_some() {
                            0
                        } else if r.closed {
                            2
                        } else {
                            1
                        };
                        let severity = Severity::parse(&r.severity).filter(|_| !r.closed);
                        (
                            bucket,
                            due.map_or(0, |d| d.0),
                            std::cmp::Reverse(severity),
                            std::cmp::Reverse(*created),
                        )
                    });
                    rows.into_iter().map(|(r, _, _)| r).collect()
                }
                Err(e) => return refused_page(tr, &e),
            }
        }
    };
    let mut day_choices = DAY_CHOICES.to_vec();
    if !day_choices.contains(&days) {
        day_choices.push(days);
        day_choices.sort_unstable();
    }
    let (status, error) = match (error, &refused) {
        (Some((s, e)), _) => (s, Some(e)),
        (None, Some(r)) => (StatusCode::BAD_REQUEST, Some(r.clone())),
        (None, None) => (StatusCode::OK, None),
    };
    let form_open = typed.is_some();
    let typed = typed.unwrap_or_default();
    let page = ListPage {
        c: Chrome::new(tr, "incidents.title", Some(p), csrf_for(Some(p), None), "/incidents")
            .notice_key(q.done.as_deref())
            .error(error),
        rows,
        state: chosen,
        days,
        states: IncidentState::ALL.iter().map(|s| (s.as_str(), state_label(tr, s.as_str()))).collect(),
        day_choices: day_choices
            .into_iter()
            .map(|d| (d, tr.t("incidents.closed_within").replace("{n}", &d.to_string())))
            .collect(),
        refused: refused.is_some(),
        can_manage: p.can(IncidentsManage),
        kinds: kind_choices(tr, &typed.kind),
        severities: severity_choices(tr, if typed.severity.is_empty() { "medium" } else { &typed.severity }),
        typed,
        form_open,
        max_title: MAX_TITLE_CHARS,
        max_text: MAX_TEXT_CHARS,
        clock_note: tr.t("incidents.clock_note").replace("{days}", &preliminary_days.to_string()),
    };
    (status, render(&page)).into_response()
}

async fn list_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    list_view(&state, tr_for(&headers, Some(&p)), &p, &ctx, q, None, None).await
}

/// Opens an incident by hand, or from an alert (its page posts `alert_id`).
async fn open_incident(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = NewTyped {
        title: form.text("title").to_owned(),
        kind: form.text("kind").to_owned(),
        severity: form.text("severity").to_owned(),
        description: form.text("description").to_owned(),
        alert_id: form.text("alert_id").trim().to_owned(),
    };
    let (kind, severity) = match (IncidentKind::parse(&typed.kind), Severity::parse(&typed.severity)) {
        (Some(k), Some(s)) => (k, s),
        (None, _) => {
            let e = (StatusCode::UNPROCESSABLE_ENTITY, tr.t("report.choose_kind").to_owned());
            return list_view(&state, tr, &p, &ctx, ListQuery::default(), Some(typed), Some(e)).await;
        }
        (_, None) => {
            let e = (StatusCode::UNPROCESSABLE_ENTITY, tr.t("incidents.choose_severity").to_owned());
            return list_view(&state, tr, &p, &ctx, ListQuery::default(), Some(typed), Some(e)).await;
        }
    };
    let new = NewIncident {
        title: typed.title.clone(),
        kind,
        severity,
        description: typed.description.clone(),
        alert_ids: if typed.alert_id.is_empty() { Vec::new() } else { vec![typed.alert_id.clone()] },
    };
    match state.core.incidents.open_incident(&p, &new, &ctx).await {
        Ok(i) => Redirect::to(&format!("/incidents/{}?done=incident_opened", i.id)).into_response(),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = (crate::problem::status_of(&e), incident_error(tr, &e));
            list_view(&state, tr, &p, &ctx, ListQuery::default(), Some(typed), Some(refused)).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One incident.

/// The breach-report box.
pub struct ReportBox {
    pub required: bool,
    /// Nothing assessed yet: the clock cannot be told.
    pub unassessed: bool,
    /// Grounds in words.
    pub grounds: Vec<String>,
    /// (label, deadline, time left, overdue and not recorded)
    pub deadlines: Vec<(String, String, String, bool)>,
    /// A required report not recorded yet: the box is drawn red.
    pub owed: bool,
    /// (code, label, recorded at or empty)
    pub reports: Vec<(&'static str, String, String)>,
}

/// A timeline line.
pub struct TimelineRow {
    pub time: String,
    pub who: String,
    pub kind: String,
    pub what: String,
}

/// What was typed into a form that was refused, to show it again.
#[derive(Default)]
pub struct Typed {
    pub action: String,
    pub comment: String,
    pub review: String,
    pub people: String,
    pub learned_at: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    c: Chrome,
    id: String,
    number: String,
    title: String,
    description: String,
    kind_label: String,
    state: String,
    state_label: String,
    state_class: &'static str,
    severity_label: String,
    severity_class: &'static str,
    assignee: String,
    reporter: String,
    opened: String,
    learned: String,
    learned_input: String,
    review: String,
    report: ReportBox,
    /// Current assessment (or as typed).
    people: String,
    data: DataAssessment,
    /// (id, name, chosen)
    clients: Vec<(String, String, bool)>,
    /// Names of the client companies involved.
    client_names: String,
    /// (item, label, done at or empty)
    checklist: Vec<(String, String, String)>,
    /// (to, label) of the moves the workflow allows, besides closing.
    moves: Vec<(&'static str, String)>,
    can_close: bool,
    /// (id, name, current)
    handlers: Vec<(String, String, bool)>,
    /// (id, text) of recent alerts not linked yet.
    linkable: Vec<(String, String)>,
    alerts: Vec<AlertRow>,
    timeline: Vec<TimelineRow>,
    can_manage: bool,
    typed: Typed,
    max_text: usize,
    /// Training courses in force to assign to the people involved (issue 18, item 2): (id, title).
    courses: Vec<(String, String)>,
}

fn report_box(tr: Tr, d: &IncidentDetail, now: UnixMillis) -> ReportBox {
    let i = &d.incident;
    let recorded = |r: &str| match r {
        "preliminary" => i.preliminary_reported_at,
        "final" => i.final_reported_at,
        "people" => i.people_notified_at,
        _ => i.clients_notified_at,
    };
    let mut deadlines = Vec::new();
    if let Some(duty) = &d.duty {
        for (report, due) in [("preliminary", duty.preliminary_due), ("final", duty.final_due)] {
            let done = recorded(report).is_some();
            deadlines.push((
                report_label(tr, report),
                minute(due.0),
                if done { tr.t("incidents.recorded").to_owned() } else { time_left(tr, due, now) },
                !done && due <= now,
            ));
        }
    }
    let closed = i.state == IncidentState::Closed.as_str();
    ReportBox {
        required: d.duty.is_some(),
        unassessed: i.data == DataAssessment::default(),
        grounds: d
            .duty
            .iter()
            .flat_map(|duty| duty.grounds.iter().map(|g| ground_label(tr, g.as_str())))
            .collect(),
        deadlines,
        owed: !closed && d.duty.as_ref().is_some_and(|duty| next_due(i, duty).is_some()),
        reports: REPORTS
            .iter()
            .map(|r| (*r, report_label(tr, r), recorded(r).map(|t| minute(t.0)).unwrap_or_default()))
            .collect(),
    }
}

/// An actor (`user:<id>`, `anonymous`, `system`) as a name.
fn actor_name(tr: Tr, t: &TimelineItem) -> String {
    match (&t.person, t.actor.as_str()) {
        (Some(u), _) => person_name(u),
        (None, "system") => tr.t("alerts.by_mamori").to_owned(),
        (None, "anonymous") => tr.t("incidents.anonymous_reporter").to_owned(),
        _ => tr.t("alerts.someone").to_owned(),
    }
}

/// A timeline entry in words.
fn timeline_text(
    tr: Tr,
    t: &TimelineItem,
    users: &HashMap<String, String>,
    devices: &HashMap<String, String>,
) -> String {
    let parts: Vec<&str> = t.detail.split('|').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    let key = format!("timeline.{}", t.kind);
    let text = tr.get(&key).unwrap_or("{detail}");
    let filled = match t.kind.as_str() {
        "state" => {
            text.replace("{from}", &state_label(tr, part(0))).replace("{to}", &state_label(tr, part(1)))
        }
        "assessment" => {
            let grounds: Vec<String> =
                part(1).split(',').filter(|g| !g.is_empty()).map(|g| ground_label(tr, g)).collect();
            let duty = if grounds.is_empty() {
                tr.t("incidents.no_report_needed").to_owned()
            } else {
                tr.t("incidents.report_needed_for")
                    .replace("{grounds}", &grounds.join(tr.t("common.list_separator")))
            };
            text.replace("{people}", part(0)).replace("{duty}", &duty)
        }
        "assigned" => {
            let id = t.detail.strip_prefix("user:").unwrap_or(&t.detail);
            text.replace(
                "{who}",
                &users.get(id).cloned().unwrap_or_else(|| tr.t("alerts.someone").to_owned()),
            )
        }
        "checklist" => {
            let key = if part(1) == "true" { "timeline.checklist_done" } else { "timeline.checklist_undone" };
            tr.t(key).replace("{item}", &checklist_label(tr, part(0)))
        }
        "report_recorded" => text.replace("{report}", &report_label(tr, part(0))),
        "reminder" => {
            let due = part(2).parse::<i64>().map(minute).unwrap_or_default();
            let key = if part(1) == "0" { "timeline.reminder_today" } else { "timeline.reminder" };
            tr.t(key)
                .replace("{report}", &report_label(tr, part(0)))
                .replace("{days}", part(1))
                .replace("{due}", &due)
        }
        "learned_at" => text.replace("{time}", &t.detail.parse::<i64>().map(minute).unwrap_or_default()),
        "alerts_linked" => text.replace("{n}", &t.detail),
        "alert" => text
            .replace("{rule}", &rule_name(tr, part(0)))
            .replace("{value}", part(1))
            .replace("{hits}", part(2)),
        "response" | "response_reversed" => {
            let target = match part(2).split_once(':') {
                Some(("device", id)) => {
                    devices.get(id).cloned().unwrap_or_else(|| tr.t("alerts.pc").to_owned())
                }
                Some(("user", id)) => {
                    users.get(id).cloned().unwrap_or_else(|| tr.t("alerts.someone").to_owned())
                }
                Some(("ip", address)) => tr.t("alerts.subject_ip").replace("{address}", address),
                _ => "—".to_owned(),
            };
            text.replace("{response}", &super::alerts::response_label(tr, part(0)))
                .replace("{state}", &label(tr, format!("alert_response_state.{}", part(1)), part(1)))
                .replace("{target}", &target)
        }
        "approval" => text
            .replace("{kind}", &label(tr, format!("audit_value.kind.{}", part(0)), part(0)))
            .replace("{state}", &label(tr, format!("approvals.state_{}", part(1)), part(1))),
        "approval_decision" => {
            let key =
                if part(1) == "true" { "timeline.approval_approved" } else { "timeline.approval_denied" };
            tr.t(key).replace("{kind}", &label(tr, format!("audit_value.kind.{}", part(0)), part(0)))
        }
        _ => text.to_owned(),
    };
    filled.replace("{detail}", &t.detail)
}

/// What the header says of who reported it.
fn reporter_text(tr: Tr, d: &IncidentDetail, users: &HashMap<String, String>) -> String {
    let anonymous = d.timeline.iter().any(|t| t.kind == "reported" && t.actor == "anonymous");
    match (&d.reporter, &d.incident.reported_by) {
        (Some(u), _) => person_name(u),
        (None, Some(id)) => users.get(id).cloned().unwrap_or_else(|| tr.t("alerts.someone").to_owned()),
        (None, None) if anonymous => tr.t("incidents.anonymous").to_owned(),
        (None, None) => tr.t("alerts.someone").to_owned(),
    }
}

async fn incident_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    id: &str,
    ctx: &RequestContext,
    done: Option<&str>,
    refused: Option<(StatusCode, String, Typed, Option<&Form>)>,
) -> Response {
    let d = match state.core.incidents.incident(p, id, ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let now = state.core.now();
    let can_manage = p.can(IncidentsManage);
    let (users, names) = user_names(state, p, ctx).await;
    let devices = device_names(state, p).await;
    let i = &d.incident;
    let current = IncidentState::parse(&i.state).unwrap_or(IncidentState::New);
    let (status, error, typed, sent) = match refused {
        Some((s, e, t, f)) => (s, Some(e), t, f),
        None => (StatusCode::OK, None, Typed::default(), None),
    };
    // A refused assessment shows what was typed.
    let assessing = typed.action == "assess";
    let data = match sent.filter(|_| assessing) {
        Some(f) => DataAssessment {
            people: 0,
            sensitive: f.text("sensitive") == "on",
            financial: f.text("financial") == "on",
            wrongful_purpose: f.text("wrongful_purpose") == "on",
            encrypted_key_safe: f.text("encrypted_key_safe") == "on",
        },
        None => i.data.clone(),
    };
    let chosen_clients: Vec<String> = match sent.filter(|_| assessing) {
        Some(f) => f.all("client"),
        None => i.client_ids.clone(),
    };
    let clients = if can_manage {
        let units =
            state.core.identity.list_org(mamori_domain::identity::OrgKind::Client).await.unwrap_or_default();
        units.into_iter().map(|u| (u.id.clone(), u.name, chosen_clients.contains(&u.id))).collect()
    } else {
        Vec::new()
    };
    let handlers = if can_manage {
        users
            .iter()
            .filter(|u| {
                u.status == mamori_domain::identity::UserStatus::Active
                    && mamori_domain::authz::permissions_of(&u.roles).contains(&IncidentsManage)
            })
            .map(|u| (u.id.clone(), person_name(u), i.assignee_id.as_deref() == Some(u.id.as_str())))
            .collect()
    } else {
        Vec::new()
    };
    let linked: Vec<&str> = d.alerts.iter().map(|a| a.record.id.as_str()).collect();
    let linkable = if can_manage && p.can(AlertsRead) {
        let recent = state.core.detection.alerts(p, LINKABLE_ALERT_DAYS, &[], ctx).await.unwrap_or_default();
        recent
            .iter()
            .filter(|a| !linked.contains(&a.record.id.as_str()))
            .map(|a| {
                let row = super::alerts::alert_row(tr, a, &devices);
                (
                    row.id,
                    format!("{} · {} · {} · {}", row.severity_label, row.rule_name, row.subject, row.first),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let closed = current == IncidentState::Closed;
    let courses = if p.can(mamori_domain::Permission::IsmsManage) {
        let english = tr.0 == mamori_domain::identity::Language::En;
        let all = state.core.isms.training_courses(p, ctx).await.unwrap_or_default();
        all.iter().map(|c| (c.id().to_owned(), c.title_in(english).to_owned())).collect()
    } else {
        Vec::new()
    };
    let page = IncidentPage {
        c: Chrome::new(tr, "incidents.incident_title", Some(p), csrf_for(Some(p), None), "/incidents")
            .notice_key(done)
            .error(error),
        id: i.id.clone(),
        number: number(i.number),
        title: i.title.clone(),
        description: i.description.clone(),
        kind_label: kind_label(tr, &i.kind),
        state: i.state.clone(),
        state_label: state_label(tr, &i.state),
        state_class: state_class(&i.state),
        severity_label: severity_label(tr, &i.severity),
        severity_class: severity_class(&i.severity),
        assignee: d.assignee.as_ref().map(person_name).unwrap_or_default(),
        reporter: reporter_text(tr, &d, &names),
        opened: minute(i.created_at.0),
        learned: minute(i.learned_at.0),
        learned_input: if typed.action == "learned_at" {
            typed.learned_at.clone()
        } else {
            datetime_local(i.learned_at.0)
        },
        review: i.review.clone().unwrap_or_default(),
        report: report_box(tr, &d, now),
        people: if assessing { typed.people.clone() } else { i.data.people.to_string() },
        data,
        clients,
        client_names: d
            .clients
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join(tr.t("common.list_separator")),
        checklist: d
            .checklist
            .iter()
            .map(|(item, at)| {
                (item.clone(), checklist_label(tr, item), at.map(|t| minute(t.0)).unwrap_or_default())
            })
            .collect(),
        moves: IncidentState::ALL
            .iter()
            .filter(|s| **s != IncidentState::Closed && current.may_move_to(**s))
            .map(|s| (s.as_str(), tr.t(&format!("incidents.move_{}", s.as_str())).to_owned()))
            .collect(),
        can_close: !closed,
        handlers,
        linkable,
        alerts: d.alerts.iter().map(|a| super::alerts::alert_row(tr, a, &devices)).collect(),
        // Newest first.
        timeline: d
            .timeline
            .iter()
            .rev()
            .map(|t| TimelineRow {
                time: local_time(t.at.0),
                who: actor_name(tr, t),
                kind: t.kind.clone(),
                what: timeline_text(tr, t, &names, &devices),
            })
            .collect(),
        can_manage,
        typed,
        max_text: MAX_TEXT_CHARS,
        courses,
    };
    (status, render(&page)).into_response()
}

async fn incident_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    incident_view(&state, tr_for(&headers, Some(&p)), &p, &id, &ctx, q.done.as_deref(), None).await
}

/// The changes one form each posts here with `action`: state, close (after a confirmation),
/// assign, assess, learned_at, checklist, comment, link.
async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let action = form.text("action").to_owned();
    let typed = || Typed {
        action: action.clone(),
        comment: form.text("comment").to_owned(),
        review: form.text("review").to_owned(),
        people: form.text("people").to_owned(),
        learned_at: form.text("learned_at").to_owned(),
    };
    let refuse = |status: StatusCode, text: String| Some((status, text, typed(), Some(&form)));
    let invalid = |key: &str| refuse(StatusCode::UNPROCESSABLE_ENTITY, tr.t(key).to_owned());
    let changes: Vec<IncidentChange> = match action.as_str() {
        "state" => {
            let Some(to) = IncidentState::parse(form.text("to")) else {
                return incident_view(&state, tr, &p, &id, &ctx, None, invalid("incidents.invalid_state"))
                    .await;
            };
            let review = form.optional("review");
            if to == IncidentState::Closed {
                if review.is_none() {
                    return incident_view(
                        &state,
                        tr,
                        &p,
                        &id,
                        &ctx,
                        None,
                        invalid("incidents.invalid_review"),
                    )
                    .await;
                }
                if form.text("confirmed") != "1" {
                    return confirm_close(&state, tr, &p, &id, &ctx, review.unwrap_or_default()).await;
                }
            }
            vec![IncidentChange::State { to, review }]
        }
        "assign" => vec![IncidentChange::Assign { user_id: form.text("assignee").trim().to_owned() }],
        "assess" => {
            let Ok(people) = form.text("people").trim().parse::<u32>() else {
                return incident_view(&state, tr, &p, &id, &ctx, None, invalid("incidents.invalid_people"))
                    .await;
            };
            let data = DataAssessment {
                people,
                sensitive: form.text("sensitive") == "on",
                financial: form.text("financial") == "on",
                wrongful_purpose: form.text("wrongful_purpose") == "on",
                encrypted_key_safe: form.text("encrypted_key_safe") == "on",
            };
            vec![IncidentChange::Assess { data, client_ids: form.all("client") }]
        }
        "learned_at" => match parse_datetime_local(form.text("learned_at")) {
            Some(at) => vec![IncidentChange::LearnedAt { at }],
            None => {
                return incident_view(
                    &state,
                    tr,
                    &p,
                    &id,
                    &ctx,
                    None,
                    invalid("incidents.invalid_learned_at"),
                )
                .await;
            }
        },
        "checklist" => {
            // The form sends the items ticked; each item that changed is one change.
            let detail = match state.core.incidents.incident(&p, &id, &ctx).await {
                Ok(d) => d,
                Err(e) => return refused_page(tr, &e),
            };
            let ticked = form.all("done");
            detail
                .checklist
                .iter()
                .filter(|(item, at)| ticked.contains(item) != at.is_some())
                .map(|(item, at)| IncidentChange::Checklist { item: item.clone(), done: at.is_none() })
                .collect()
        }
        "comment" => vec![IncidentChange::Comment { text: form.text("comment").to_owned() }],
        "link" => match form.optional("alert_id") {
            Some(alert) => vec![IncidentChange::LinkAlerts { alert_ids: vec![alert] }],
            None => {
                return incident_view(
                    &state,
                    tr,
                    &p,
                    &id,
                    &ctx,
                    None,
                    invalid("incidents.invalid_alert_ids"),
                )
                .await;
            }
        },
        _ => return incident_view(&state, tr, &p, &id, &ctx, None, invalid("alerts.unknown_action")).await,
    };
    if changes.is_empty() {
        return Redirect::to(&format!("/incidents/{id}?done=incident_unchanged")).into_response();
    }
    for change in changes {
        match state.core.incidents.update_incident(&p, &id, change, &ctx).await {
            Ok(_) => {}
            Err(e @ (CoreError::NotFound { what: "incident" } | CoreError::Forbidden(_))) => {
                return refused_page(tr, &e);
            }
            Err(CoreError::NotFound { what: "alert" }) => {
                let refused = invalid("incidents.invalid_alert_ids");
                return incident_view(&state, tr, &p, &id, &ctx, None, refused).await;
            }
            Err(CoreError::Conflict(_)) => {
                let refused = refuse(StatusCode::CONFLICT, tr.t("incidents.changed_meanwhile").to_owned());
                return incident_view(&state, tr, &p, &id, &ctx, None, refused).await;
            }
            Err(e) => {
                let refused = refuse(crate::problem::status_of(&e), incident_error(tr, &e));
                return incident_view(&state, tr, &p, &id, &ctx, None, refused).await;
            }
        }
    }
    let done = match action.as_str() {
        "state" if form.text("to") == "closed" => "incident_closed".to_owned(),
        other => format!("incident_{other}"),
    };
    Redirect::to(&format!("/incidents/{id}?done={done}")).into_response()
}

/// "本当に INC-12 を終了しますか？" with the review carried along.
async fn confirm_close(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    id: &str,
    ctx: &RequestContext,
    review: String,
) -> Response {
    let d = match state.core.incidents.incident(p, id, ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let i = &d.incident;
    let mut effects = Vec::new();
    let days = state.core.incidents.preliminary_days().await.unwrap_or(3);
    if let Some(duty) = report_duty(&i.data, i.learned_at, days)
        && let Some((report, _)) = next_due(i, &duty)
    {
        effects.push(tr.t("incidents.close_report_owed").replace("{report}", &report_label(tr, report)));
    }
    effects.push(tr.t("incidents.close_effect").to_owned());
    let excerpt: String = review.chars().take(200).collect();
    effects.push(tr.t("incidents.close_review").replace("{review}", &excerpt));
    let c = Chrome::new(tr, "confirm.title", Some(p), csrf_for(Some(p), None), "/incidents");
    render(&ConfirmPage {
        c,
        question: tr
            .t("incidents.close_question")
            .replace("{number}", &number(i.number))
            .replace("{title}", &i.title),
        effects,
        action: format!("/incidents/{id}"),
        fields: vec![
            ("action".into(), "state".into()),
            ("to".into(), "closed".into()),
            ("review".into(), review),
            ("confirmed".into(), "1".into()),
        ],
        ask_message: false,
        cancel: format!("/incidents/{id}"),
        danger: false,
    })
}

/// "本当に INC-12 の PPCへの速報を提出済みとして記録しますか？"
async fn confirm_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path((id, report)): Path<(String, String)>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !REPORTS.contains(&report.as_str()) {
        return super::message_page(tr, StatusCode::NOT_FOUND, "error.not_found_page");
    }
    let d = match state.core.incidents.incident(&p, &id, &ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let i = &d.incident;
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), "/incidents");
    render(&ConfirmPage {
        c,
        question: tr
            .t("incidents.record_question")
            .replace("{number}", &number(i.number))
            .replace("{report}", &report_label(tr, &report)),
        effects: vec![
            tr.t(&format!("incidents.record_effect_{report}")).to_owned(),
            tr.t("incidents.record_final").to_owned(),
        ],
        action: format!("/incidents/{id}/reports/{report}"),
        fields: Vec::new(),
        ask_message: false,
        cancel: format!("/incidents/{id}"),
        danger: true,
    })
}

async fn record_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path((id, report)): Path<(String, String)>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.incidents.update_incident(&p, &id, IncidentChange::ReportMade { report }, &ctx).await {
        Ok(_) => Redirect::to(&format!("/incidents/{id}?done=incident_report_recorded")).into_response(),
        Err(CoreError::Conflict(_)) => {
            let refused = Some((
                StatusCode::CONFLICT,
                tr.t("incidents.report_already").to_owned(),
                Typed::default(),
                None,
            ));
            incident_view(&state, tr, &p, &id, &ctx, None, refused).await
        }
        Err(e) => refused_page(tr, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// The draft report to the PPC and the notices to the client companies (in Japanese).

/// One of the PPC's items: heading and text.
pub struct DraftItem {
    pub heading: &'static str,
    pub text: String,
}

/// A notice to one client company.
pub struct ClientNotice {
    pub name: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "incident_draft.html")]
struct DraftPage {
    c: Chrome,
    id: String,
    number: String,
    title: String,
    /// "速報期限: … ／ 確報期限: …" or that no report is required on what is known.
    deadlines: Vec<String>,
    required: bool,
    items: Vec<DraftItem>,
    notices: Vec<ClientNotice>,
}

/// The PPC's nine items, filled by the core, rules and checklist items in Japanese words.
fn draft_items(d: &ReportDraft) -> Vec<DraftItem> {
    let ja = Tr(Language::Ja);
    let items = d.items(&|r| rule_name(ja, r), &|c| checklist_label(ja, c));
    let (cause, other) = (items.cause.clone(), items.other.clone());
    let people = if items.people == 0 {
        "（記入してください）".to_owned()
    } else {
        format!("{} 人", thousands(items.people))
    };
    vec![
        DraftItem { heading: "事案の概要", text: items.summary },
        DraftItem {
            heading: "漏えい等が発生し、又は発生したおそれがある個人データの項目",
            text: items.data_items.join("、"),
        },
        DraftItem {
            heading: "漏えい等が発生し、又は発生したおそれがある個人データに係る本人の数",
            text: people,
        },
        DraftItem { heading: "原因", text: cause },
        DraftItem {
            heading: "二次被害又はそのおそれの有無及びその内容", text: items.secondary_damage
        },
        DraftItem { heading: "本人への対応の実施状況", text: items.response_to_people },
        DraftItem { heading: "公表の実施状況", text: items.publication },
        DraftItem { heading: "再発防止のための措置", text: items.prevention },
        DraftItem {
            heading: "その他参考となる事項",
            text: if other.is_empty() { "なし".into() } else { other },
        },
    ]
}

/// "速報期限: 2026-12-02 10:15（認知から 3 日）" and the final one, in Japanese.
fn draft_deadlines(d: &ReportDraft) -> Vec<String> {
    let Some(duty) = &d.duty else {
        return vec!["現時点の評価では、個人情報保護委員会への報告・本人への通知は必要ありません（評価が変われば必要になります）。".into()];
    };
    let ja = Tr(Language::Ja);
    let grounds: Vec<String> = duty.grounds.iter().map(|g| ground_label(ja, g.as_str())).collect();
    let recorded =
        |t: Option<UnixMillis>| t.map(|t| format!("（{} に報告済み）", minute(t.0))).unwrap_or_default();
    vec![
        format!("報告が必要な理由: {}", grounds.join("、")),
        format!(
            "速報の期限: {}{}",
            minute(duty.preliminary_due.0),
            recorded(d.incident.preliminary_reported_at)
        ),
        format!("確報の期限: {}{}", minute(duty.final_due.0), recorded(d.incident.final_reported_at)),
    ]
}

/// A short letter to one client company, from the incident.
fn client_notice(d: &ReportDraft, items: &[DraftItem], client: &str, contact: &str, today: &str) -> String {
    let i = &d.incident;
    let ja = Tr(Language::Ja);
    let done: Vec<String> = d.checklist_done.iter().map(|c| checklist_label(ja, c)).collect();
    let done = if done.is_empty() { "（記入してください）".to_owned() } else { done.join("、") };
    let next = match &d.duty {
        Some(duty) => format!(
            "個人情報保護委員会への報告（速報期限 {}、確報期限 {}）および本人への通知を予定しています。",
            minute(duty.preliminary_due.0),
            minute(duty.final_due.0)
        ),
        None => "調査を続け、判明したことを追ってご報告いたします。".to_owned(),
    };
    let people =
        if i.data.people == 0 { "調査中".to_owned() } else { format!("{} 人", thousands(i.data.people)) };
    let data_items = items.get(1).map(|it| it.text.clone()).unwrap_or_default();
    format!(
        "{client} 御中\n\n{today}\n\n個人データの漏えい等に関するご報告\n\n\
         平素より格別のご高配を賜り、厚く御礼申し上げます。\n\
         貴社からお預かりしている個人データについて、下記のとおり漏えい等の事案（またはそのおそれ）が発生いたしました。\
         ご迷惑とご心配をおかけしますことを深くお詫び申し上げます。\n\n記\n\n\
         1. 事案: {title}（{number}）\n\
         2. 当社が認知した日時: {learned}\n\
         3. 対象となる本人の数: {people}\n\
         4. 漏えい等した、またはそのおそれがある項目: {data_items}\n\
         5. これまでの対応: {done}\n\
         6. 今後の対応: {next}\n\
         7. 本件の連絡先: {contact}（電話・メール：（記入してください））\n\n以上\n",
        title = i.title,
        number = number(i.number),
        learned = minute(i.learned_at.0),
    )
}

fn draft_text(page: &DraftPage) -> String {
    let mut out = format!("個人情報の漏えい等報告書（案） {} {}\n\n", page.number, page.title);
    for line in &page.deadlines {
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    for (n, item) in page.items.iter().enumerate() {
        out.push_str(&format!("{}. {}\n{}\n\n", n + 1, item.heading, item.text));
    }
    for notice in &page.notices {
        out.push_str(&format!(
            "----------------------------------------\n[委託元への報告] {}\n\n{}\n",
            notice.name, notice.text
        ));
    }
    out
}

#[derive(Debug, Default, serde::Deserialize)]
struct DraftQuery {
    format: Option<String>,
}

async fn draft_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DraftQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let draft = match state.core.incidents.report_draft(&p, &id, &ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    // The contact: the assignee, else whoever prints it.
    let (users, _) = user_names(&state, &p, &ctx).await;
    let contact = draft
        .incident
        .assignee_id
        .as_ref()
        .and_then(|a| users.iter().find(|u| &u.id == a))
        .map_or_else(|| p.user.display_name.clone(), |u| u.display_name.clone());
    let contact = format!("セキュリティ管理者 {contact}");
    let today: String = local_time(state.core.now().0).chars().take(10).collect();
    let items = draft_items(&draft);
    let notices = draft
        .clients
        .iter()
        .map(|(_, name)| ClientNotice {
            name: name.clone(),
            text: client_notice(&draft, &items, name, &contact, &today),
        })
        .collect();
    let page = DraftPage {
        c: Chrome::new(tr, "incidents.draft_title", Some(&p), csrf_for(Some(&p), None), "/incidents"),
        id: draft.incident.id.clone(),
        number: number(draft.incident.number),
        title: draft.incident.title.clone(),
        deadlines: draft_deadlines(&draft),
        required: draft.duty.is_some(),
        items,
        notices,
    };
    if q.format.as_deref() == Some("txt") {
        let disposition =
            format!("attachment; filename=\"incident-{}-ppc-draft.txt\"", draft.incident.number);
        return (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            draft_text(&page),
        )
            .into_response();
    }
    render(&page)
}

// ---------------------------------------------------------------------------------------------
// The days to the preliminary report (the settings page's form).

async fn save_preliminary_days(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let days = form
        .text("preliminary_days")
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|d| PRELIMINARY_DAYS_RANGE.contains(d));
    let Some(days) = days else {
        return super::message_page_text(
            tr,
            StatusCode::UNPROCESSABLE_ENTITY,
            tr.t("incidents.invalid_preliminary_days").to_owned(),
        );
    };
    match state.core.incidents.set_preliminary_days(&p, days, &ctx).await {
        Ok(()) => Redirect::to("/admin/settings?done=preliminary_days_saved").into_response(),
        Err(e) => refused_page(tr, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// The home page's tile and the alert page's form.

/// Open incidents whose report to the PPC is owed, with the nearest deadline (for
/// `incidents.read` holders).
pub async fn reports_due_tile(state: &AppState, tr: Tr, p: &Principal) -> Option<super::home::Tile> {
    if !p.can(IncidentsRead) {
        return None;
    }
    let due = state.core.incidents.reports_due(p).await.ok();
    let mut label = tr.t("home.incident_reports").to_owned();
    if let Some((_, at)) = due.as_ref().and_then(|d| d.first()) {
        label = tr.t("home.incident_reports_next").replace("{time}", &minute(at.0));
    }
    Some(super::home::Tile {
        label,
        count: due.map(|d| d.len() as u64),
        href: "/incidents".into(),
        alarm: true,
        id: "home-incident-reports",
    })
}

/// The playbook an alert most likely belongs to.
pub fn kind_for_rule(rule: &str) -> IncidentKind {
    match rule {
        "off_call_lookups"
        | "lookup_volume"
        | "other_client_lookups"
        | "reveal_allowance"
        | "usb_storage"
        | "admin_bulk"
        | "shared_account" => IncidentKind::InsiderCopying,
        "keystroke_rate" | "heartbeat_lost" | "posture_failure" => IncidentKind::Malware,
        _ => IncidentKind::Other,
    }
}

/// The alert page's "インシデントとして扱う" form: title, kind and severity prefilled.
pub struct FromAlert {
    pub title: String,
    pub kinds: Vec<(&'static str, String, bool)>,
    pub severities: Vec<(&'static str, String, bool)>,
}

pub fn from_alert(tr: Tr, p: &Principal, a: &AlertRow) -> Option<FromAlert> {
    if !p.can(IncidentsManage) {
        return None;
    }
    let title: String = tr
        .t("incidents.from_alert_title")
        .replace("{rule}", &a.rule_name)
        .replace("{subject}", &a.subject)
        .chars()
        .take(MAX_TITLE_CHARS)
        .collect();
    Some(FromAlert {
        title,
        kinds: kind_choices(tr, kind_for_rule(&a.rule).as_str()),
        severities: severity_choices(tr, &a.severity),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_core::incidents::ReportDraft;

    /// The grounds of a required report (`ReportGround::as_str`).
    const GROUNDS: [&str; 4] = ["sensitive", "financial", "wrongful_purpose", "over_thousand"];
    /// The incident's own timeline entries, and those from its alerts.
    const TIMELINE_KINDS: [&str; 13] = [
        "opened",
        "reported",
        "comment",
        "state",
        "assessment",
        "assigned",
        "checklist",
        "alerts_linked",
        "report_recorded",
        "reminder",
        "learned_at",
        "alert",
        "response",
    ];

    /// Every code the incident pages show has its words in both languages.
    #[test]
    fn every_code_has_a_label() {
        for lang in [Language::Ja, Language::En] {
            let cat = crate::i18n::catalogue(lang);
            let mut keys: Vec<String> = Vec::new();
            for k in IncidentKind::ALL {
                keys.push(format!("incident_kind.{}", k.as_str()));
                keys.push(format!("audit_value.kind.{}", k.as_str()));
                keys.extend(k.checklist().iter().map(|i| format!("checklist_item.{i}")));
                keys.extend(k.checklist().iter().map(|i| format!("audit_value.item.{i}")));
            }
            for s in IncidentState::ALL {
                keys.push(format!("incident_state.{}", s.as_str()));
                keys.push(format!("audit_value.from.{}", s.as_str()));
                keys.push(format!("audit_value.to.{}", s.as_str()));
                if s != IncidentState::Closed {
                    keys.push(format!("incidents.move_{}", s.as_str()));
                }
            }
            keys.extend(GROUNDS.iter().map(|g| format!("report_ground.{g}")));
            for r in REPORTS {
                keys.push(format!("incident_report.{r}"));
                keys.push(format!("audit_value.report.{r}"));
                keys.push(format!("incidents.record_effect_{r}"));
                if r == "preliminary" || r == "final" {
                    keys.push(format!("incidents.due_{r}"));
                }
            }
            keys.extend(TIMELINE_KINDS.iter().map(|k| format!("timeline.{k}")));
            keys.extend(
                ["timeline.checklist_done", "timeline.checklist_undone", "timeline.reminder_today"]
                    .map(String::from),
            );
            keys.extend(
                [
                    "state",
                    "assign",
                    "assessment",
                    "checklist",
                    "comment",
                    "alerts",
                    "report",
                    "learned_at",
                    "preliminary_days",
                ]
                .map(|c| format!("audit_value.change.{c}")),
            );
            keys.extend(["report", "alerts", "hand"].map(|v| format!("audit_value.via.{v}")));
            keys.push("audit_value.reason.not_allowed".into());
            keys.extend(
                [
                    "incident_opened",
                    "incident_state",
                    "incident_closed",
                    "incident_assign",
                    "incident_assess",
                    "incident_learned_at",
                    "incident_checklist",
                    "incident_comment",
                    "incident_link",
                    "incident_report_recorded",
                    "incident_unchanged",
                    "preliminary_days_saved",
                ]
                .map(|s| format!("done.{s}")),
            );
            keys.extend(
                [
                    "title",
                    "description",
                    "review",
                    "comment",
                    "people",
                    "client_ids",
                    "assignee",
                    "learned_at",
                    "item",
                    "alert_ids",
                    "report",
                    "state",
                    "days",
                    "preliminary_days",
                ]
                .map(|f| format!("incidents.invalid_{f}")),
            );
            let missing: Vec<_> = keys.iter().filter(|k| !cat.contains_key(*k)).collect();
            assert!(missing.is_empty(), "without a label in {}: {missing:?}", lang.as_str());
        }
    }

    fn detail(kind: &str, actor: &str, person: Option<User>, text: &str) -> TimelineItem {
        TimelineItem {
            at: UnixMillis(0),
            actor: actor.into(),
            person,
            kind: kind.into(),
            detail: text.into(),
        }
    }

    #[test]
    fn the_timeline_reads_as_sentences() {
        let users: HashMap<String, String> = [("u1".to_owned(), "山田 花子 (yamada)".to_owned())].into();
        let devices = HashMap::new();
        for tr in [Tr(Language::Ja), Tr(Language::En)] {
            let cases = [
                detail("opened", "user:u1", None, ""),
                detail("reported", "anonymous", None, ""),
                detail("comment", "user:u1", None, "USBメモリを駅で紛失"),
                detail("state", "user:u1", None, "new|triage"),
                detail("assessment", "user:u1", None, "1200|financial,over_thousand"),
                detail("assessment", "user:u1", None, "3|"),
                detail("assigned", "user:u1", None, "user:u1"),
                detail("checklist", "user:u1", None, "police_report|true"),
                detail("checklist", "user:u1", None, "police_report|false"),
                detail("alerts_linked", "user:u1", None, "2"),
                detail("report_recorded", "user:u1", None, "preliminary"),
                detail("reminder", "system", None, "final|7|1800000000000"),
                detail("reminder", "system", None, "preliminary|0|1800000000000"),
                detail("learned_at", "user:u1", None, "1800000000000"),
                detail("alert", "system", None, "usb_storage|1|1"),
                detail("response", "system", None, "end_sessions|done|user:u1"),
            ];
            for t in &cases {
                let text = timeline_text(tr, t, &users, &devices);
                assert!(
                    !text.contains('{') && !text.contains('|') && !text.contains('_'),
                    "{}: {text}",
                    t.kind
                );
                assert!(!text.contains("user:"), "{text}");
            }
        }
        let ja = Tr(Language::Ja);
        let text = timeline_text(ja, &detail("state", "user:u1", None, "new|triage"), &users, &devices);
        assert!(text.contains("新規") && text.contains("初動対応中"), "{text}");
        let who = actor_name(ja, &detail("reported", "anonymous", None, ""));
        assert_eq!(who, "匿名の報告者");
    }

    #[test]
    fn datetime_local_is_japan_time() {
        let at = parse_datetime_local("2026-12-01T18:30").unwrap();
        assert_eq!(at.rfc3339(), "2026-12-01T09:30:00.000Z");
        assert_eq!(datetime_local(at.0), "2026-12-01T18:30");
        assert!(parse_datetime_local("2026-12-01 18:30").is_none());
        assert!(parse_datetime_local("").is_none());
    }

    #[test]
    fn time_left_in_words() {
        let ja = Tr(Language::Ja);
        let now = UnixMillis(1_800_000_000_000);
        assert_eq!(time_left(ja, UnixMillis(now.0 + 2 * DAY_MS + 5), now), "あと 2 日");
        assert_eq!(time_left(ja, UnixMillis(now.0 + 5 * 3_600_000), now), "あと 5 時間");
        assert_eq!(time_left(ja, UnixMillis(now.0 - 3 * DAY_MS), now), "期限を 3 日過ぎています");
    }

    fn record() -> IncidentRecord {
        IncidentRecord {
            id: "i1".into(),
            number: 12,
            title: "USBメモリの紛失".into(),
            kind: "lost_device".into(),
            state: "triage".into(),
            severity: "high".into(),
            description: "駅で紛失".into(),
            reported_by: None,
            assignee_id: None,
            learned_at: UnixMillis(1_800_000_000_000),
            created_at: UnixMillis(1_800_000_000_000),
            updated_at: UnixMillis(1_800_000_000_000),
            data: DataAssessment { people: 1200, financial: true, ..Default::default() },
            client_ids: vec!["c1".into()],
            preliminary_reported_at: None,
            final_reported_at: None,
            people_notified_at: None,
            clients_notified_at: None,
            review: None,
            closed_at: None,
        }
    }

    #[test]
    fn the_draft_is_in_japanese_words() {
        let incident = record();
        let draft = ReportDraft {
            duty: report_duty(&incident.data, incident.learned_at, 3),
            incident,
            clients: vec![("c1".into(), "通販A社".into())],
            alert_rules: vec!["usb_storage".into()],
            comments: vec![(UnixMillis(1_800_000_000_000), "警察に届け出".into())],
            checklist_done: vec!["police_report".into(), "lock_or_revoke_device".into()],
        };
        let items = draft_items(&draft);
        assert_eq!(items.len(), 9);
        assert_eq!(items[0].heading, "事案の概要");
        for item in &items {
            assert!(
                !item.text.contains("usb_storage") && !item.text.contains("police_report"),
                "{}",
                item.text
            );
        }
        assert!(items[3].text.contains("USBストレージの接続"), "{}", items[3].text);
        assert_eq!(items[2].text, "1,200 人");
        assert_eq!(
            (thousands(0), thousands(999), thousands(1_000_000)),
            ("0".into(), "999".into(), "1,000,000".into())
        );
        let letter = client_notice(&draft, &items, "通販A社", "セキュリティ管理者 山田", "2027-01-15");
        assert!(letter.starts_with("通販A社 御中"), "{letter}");
        assert!(
            letter.contains("INC-12")
                && letter.contains("1,200 人")
                && letter.contains("クレジットカード番号"),
            "{letter}"
        );
        let deadlines = draft_deadlines(&draft);
        assert!(deadlines[0].contains("カード番号"), "{deadlines:?}");
    }
}
