//! Alerts in the console (issue 16; ISMS-6, LEAK-5, MON-2, MON-3): the list of what the
//! detectors raised — problems first — each explained in words; one alert with the value that
//! deviated, from which baseline and by how much, the automatic responses taken (each
//! reversible after a confirmation), what people did with it, the actions on it and the audit
//! entries behind it; and the security admin's detection rules.
//!
//! Every code a page shows — rule, state, severity, response, skip reason — is worded through
//! the catalogue ([`rule_name`], [`state_label`], …); a test keeps each one labelled in both
//! languages.

use super::{Chrome, ConfirmPage, DoneQuery, Form, csrf_for, error_text, local_time, pc_of, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::detection::{
    ACTIVE_STATES, ALERT_STATES, Alert, AlertChange, AlertResponseRecord, MAX_REASON_CHARS,
    MAX_SUPPRESS_HOURS,
};
use mamori_core::{CoreError, Principal, User};
use mamori_domain::Permission::{AlertsManage, AlertsRead, DevicesRead, SettingsManage, UsersRead};
use mamori_domain::activity::{Shift, Weekday};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::detect::{
    MIN_HISTORY_HOURS, Response as AutoResponse, RuleId, RuleScope, RuleSet, RuleSettings, Severity, VOLUME_Z,
};
use std::collections::{BTreeMap, HashMap};

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/alerts", Needs(AlertsRead), list_page)
        .add(Method::GET, "/alerts/stream", Needs(AlertsRead), list_stream)
        .add(Method::GET, "/alerts/{id}", Needs(AlertsRead), alert_page)
        .add(Method::POST, "/alerts/{id}", Needs(AlertsManage), update)
        .add(Method::GET, "/alerts/{id}/responses/{response}/reverse", Needs(AlertsManage), confirm_reverse)
        .add(Method::POST, "/alerts/{id}/responses/{response}/reverse", Needs(AlertsManage), reverse)
        .add(Method::GET, "/admin/detection-rules", Needs(SettingsManage), rules_page)
        .add(Method::POST, "/admin/detection-rules", Needs(SettingsManage), save_rules)
}

/// The list's default period, in days.
const DEFAULT_DAYS: u32 = 7;
/// The periods the filter offers (any of 1–90 is taken from the URL).
const DAY_CHOICES: [u32; 4] = [1, 7, 30, 90];
/// The filter value for the states that still ask for attention.
const ACTIVE: &str = "active";

// ---------------------------------------------------------------------------------------------
// Codes in words.

fn label(tr: Tr, key: String, code: &str) -> String {
    tr.get(&key).map_or_else(|| code.to_owned(), str::to_owned)
}

/// "通話外の顧客参照" for `off_call_lookups`.
pub fn rule_name(tr: Tr, rule: &str) -> String {
    label(tr, format!("audit_value.rule.{rule}"), rule)
}

/// 高 / 中 / 低.
pub fn severity_label(tr: Tr, severity: &str) -> String {
    label(tr, format!("audit_value.severity.{severity}"), severity)
}

/// 未対応, 確認中, 一時抑止中, 誤検知, 解決済み.
pub fn state_label(tr: Tr, state: &str) -> String {
    label(tr, format!("alert_state.{state}"), state)
}

/// PCの画面ロック, セッションの終了.
pub fn response_label(tr: Tr, kind: &str) -> String {
    label(tr, format!("audit_value.kind.{kind}"), kind)
}

fn response_state_label(tr: Tr, state: &str) -> String {
    label(tr, format!("alert_response_state.{state}"), state)
}

/// Why a response was skipped, in words.
fn skip_reason(tr: Tr, reason: &str) -> String {
    label(tr, format!("audit_value.reason.{reason}"), reason)
}

/// The tag's look: red for high, amber for medium.
fn severity_class(severity: &str) -> &'static str {
    match severity {
        "high" => "warn",
        "medium" => "state-idle",
        _ => "",
    }
}

fn state_class(state: &str) -> &'static str {
    match state {
        "open" => "warn",
        "acknowledged" => "state-idle",
        "suppressed" => "state-offline",
        _ => "ok",
    }
}

/// "8 時間", "15 分", "1 hour".
fn window_text(tr: Tr, minutes: i64) -> String {
    let (key, n) = match minutes {
        60 => ("alerts.window_hour", 1),
        m if m > 0 && m % 60 == 0 => ("alerts.window_hours", m / 60),
        m => ("alerts.window_minutes", m),
    };
    tr.t(key).replace("{n}", &n.to_string())
}

/// 12 or 12.5: a median without trailing zeros.
fn number(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// The alert in one line: "通話外で参照した顧客 23 人（8 時間、しきい値 15）".
pub fn explanation(tr: Tr, a: &mamori_core::detection::AlertRecord) -> String {
    let key = match (a.rule.as_str(), a.baseline_median) {
        ("lookup_volume", None) => "alert_explain.lookup_volume_floor".to_owned(),
        (rule, _) => format!("alert_explain.{rule}"),
    };
    let Some(text) = tr.get(&key) else {
        return format!("{}: {} ({})", rule_name(tr, &a.rule), a.value, window_text(tr, a.window_minutes));
    };
    text.replace("{value}", &a.value.to_string())
        .replace("{threshold}", &a.threshold.to_string())
        .replace("{window}", &window_text(tr, a.window_minutes))
        .replace("{median}", &a.baseline_median.map(number).unwrap_or_default())
        .replace("{deviation}", &a.deviation.map(|z| format!("{z:+.1}")).unwrap_or_default())
}

/// The explanation in sentences: what the rule counts, the baseline and how far the value is
/// from it, how often it fired.
fn explanation_lines(tr: Tr, a: &mamori_core::detection::AlertRecord) -> Vec<String> {
    let mut lines = vec![label(tr, format!("rule_about.{}", a.rule), "")];
    match (a.rule.as_str(), a.baseline_median) {
        (_, Some(median)) => lines.push(
            tr.t("alerts.baseline")
                .replace("{median}", &number(median))
                .replace("{hours}", &a.baseline_hours.unwrap_or_default().to_string())
                .replace("{mad}", &a.baseline_mad.map(number).unwrap_or_default())
                .replace("{value}", &a.value.to_string())
                .replace("{diff}", &number(a.value as f64 - median))
                .replace("{deviation}", &a.deviation.map(|z| format!("{z:+.1}")).unwrap_or_default())
                .replace("{z}", &number(VOLUME_Z)),
        ),
        ("lookup_volume", None) => lines.push(
            tr.t("alerts.no_baseline")
                .replace("{min}", &MIN_HISTORY_HOURS.to_string())
                .replace("{threshold}", &a.threshold.to_string()),
        ),
        _ => lines.push(
            tr.t("alerts.against_threshold")
                .replace("{value}", &a.value.to_string())
                .replace("{threshold}", &a.threshold.to_string())
                .replace("{window}", &window_text(tr, a.window_minutes)),
        ),
    }
    lines.push(
        tr.t("alerts.hits")
            .replace("{hits}", &a.hits.to_string())
            .replace("{first}", &local_time(a.first_at.0))
            .replace("{last}", &local_time(a.last_at.0)),
    );
    lines.retain(|l| !l.is_empty());
    lines
}

/// Who an alert is about, in words: the person's name, a PC's host name, an address, an API
/// token — never an id.
fn subject_text(tr: Tr, a: &Alert, with_username: bool, devices: &HashMap<String, String>) -> String {
    if let Some(u) = &a.person {
        return if with_username {
            format!("{} ({})", u.display_name, u.username)
        } else {
            u.display_name.clone()
        };
    }
    match a.record.subject.split_once(':') {
        Some(("ip", address)) => tr.t("alerts.subject_ip").replace("{address}", address),
        Some(("token", _)) => tr.t("alerts.subject_token").to_owned(),
        Some(("device", id)) => {
            let host = devices.get(id).cloned().unwrap_or_else(|| tr.t("alerts.pc").to_owned());
            tr.t("alerts.subject_device").replace("{host}", &host)
        }
        _ => "—".to_owned(),
    }
}

fn person_name(u: &User) -> String {
    format!("{} ({})", u.display_name, u.username)
}

/// An audit actor (`user:<id>`, `system`) as a name.
fn actor_name(tr: Tr, actor: &str, users: &HashMap<String, String>) -> String {
    match actor.strip_prefix("user:") {
        Some(id) => users.get(id).cloned().unwrap_or_else(|| tr.t("alerts.someone").to_owned()),
        None if actor == "system" => tr.t("alerts.by_mamori").to_owned(),
        None => tr.t("alerts.someone").to_owned(),
    }
}

/// A core refusal in words; a field of this page's forms in words of its own.
fn alert_error(tr: Tr, e: &CoreError) -> String {
    if let CoreError::Invalid { field, .. } = e
        && let Some(text) = tr.get(&format!("alerts.invalid_{field}"))
    {
        return text.to_owned();
    }
    error_text(tr, e)
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

/// One alert as the list shows it.
pub struct AlertRow {
    pub id: String,
    pub severity: String,
    pub severity_label: String,
    pub severity_class: &'static str,
    pub rule: String,
    pub rule_name: String,
    pub subject: String,
    pub explanation: String,
    pub hits: i64,
    pub first: String,
    pub last: String,
    pub state: String,
    pub state_label: String,
    pub state_class: &'static str,
    /// Until when a suppression holds, when it does.
    pub suppressed_until: String,
    pub assignee: String,
    /// Active and high: drawn as needing attention.
    pub attention: bool,
}

pub(super) fn alert_row(tr: Tr, a: &Alert, devices: &HashMap<String, String>) -> AlertRow {
    let r = &a.record;
    AlertRow {
        id: r.id.clone(),
        severity: r.severity.clone(),
        severity_label: severity_label(tr, &r.severity),
        severity_class: severity_class(&r.severity),
        rule: r.rule.clone(),
        rule_name: rule_name(tr, &r.rule),
        subject: subject_text(tr, a, false, devices),
        explanation: explanation(tr, r),
        hits: r.hits,
        first: local_time(r.first_at.0),
        last: local_time(r.last_at.0),
        state: r.state.clone(),
        state_label: state_label(tr, &r.state),
        state_class: state_class(&r.state),
        suppressed_until: r
            .suppressed_until
            .filter(|_| r.state == "suppressed")
            .map(|t| local_time(t.0))
            .unwrap_or_default(),
        assignee: a.assignee.as_ref().map(|u| u.display_name.clone()).unwrap_or_default(),
        attention: ACTIVE_STATES.contains(&r.state.as_str()) && r.severity == "high",
    }
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct ListPage {
    c: Chrome,
    /// The live part, rendered ([`ListLive`]).
    live: String,
    /// The filter as chosen (`""` for every state).
    state: String,
    days: u32,
    /// (value, label) of the state filter.
    states: Vec<(&'static str, String)>,
    day_choices: Vec<(u32, String)>,
    /// The filter was refused: no list, only the message.
    refused: bool,
    can_rules: bool,
}

/// The list's live part: the table (or why there is none), swapped in place as alerts come.
#[derive(Template)]
#[template(path = "alerts_live.html")]
struct ListLive {
    tr: Tr,
    rows: Vec<AlertRow>,
    refused: bool,
}

/// The rows the filter asks for, or a problem page.
async fn list_rows(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    days: u32,
    states: &[&str],
) -> Result<Vec<AlertRow>, Response> {
    match state.core.detection.alerts(p, days, states, ctx).await {
        Ok(alerts) => {
            // PCs by name, for alerts about a PC with no person.
            let about_pc = alerts.iter().any(|a| a.record.subject.starts_with("device:"));
            let devices = if about_pc { device_names(state, p).await } else { HashMap::new() };
            Ok(alerts.iter().map(|a| alert_row(tr, a, &devices)).collect())
        }
        Err(e) => Err(super::message_page_text(tr, crate::problem::status_of(&e), alert_error(tr, &e))),
    }
}

/// The list as server-sent events: at once, then after each alert raised or changed in this
/// process (and at least every 15 s, for another replica's); a stream ends after a minute and
/// the browser comes back through the session check. A filter the page refused streams nothing.
async fn list_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let Ok((days, chosen)) = list_filter(tr, &q) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    super::live_stream(state.core.detection.watch_alerts(), super::LIVE_LISTS, move || {
        let (state, p, ctx, chosen) = (state.clone(), p.clone(), ctx.clone(), chosen.clone());
        async move {
            let rows = list_rows(&state, tr, &p, &ctx, days, &chosen_states(&chosen)).await.ok()?;
            ListLive { tr, rows, refused: false }.render().ok()
        }
    })
}

/// The states a filter value stands for.
fn chosen_states(chosen: &str) -> Vec<&str> {
    match chosen {
        "" => Vec::new(),
        ACTIVE => ACTIVE_STATES.to_vec(),
        s => vec![s],
    }
}

/// The period and the state filter of the list, or why they are refused (in words).
fn list_filter(tr: Tr, q: &ListQuery) -> Result<(u32, String), (u32, String, String)> {
    let chosen = q.state.trim().to_owned();
    let states = chosen_states(&chosen);
    let mut refused = None;
    if let Some(bad) = states.iter().find(|s| !ALERT_STATES.contains(s)) {
        let allowed: Vec<String> = std::iter::once(ACTIVE)
            .chain(ALERT_STATES)
            .map(|s| {
                let label =
                    if s == ACTIVE { tr.t("alerts.state_active").to_owned() } else { state_label(tr, s) };
                tr.t("alerts.state_choice").replace("{code}", s).replace("{label}", &label)
            })
            .collect();
        refused = Some(
            tr.t("alerts.unknown_state")
                .replace("{state}", bad)
                .replace("{allowed}", &allowed.join(tr.t("common.list_separator"))),
        );
    }
    let days = match q.days.trim() {
        "" => DEFAULT_DAYS,
        d => match d.parse::<u32>() {
            Ok(n) if (1..=90).contains(&n) => n,
            _ => {
                refused.get_or_insert_with(|| tr.t("alerts.invalid_days").to_owned());
                DEFAULT_DAYS
            }
        },
    };
    match refused {
        None => Ok((days, chosen)),
        Some(why) => Err((days, chosen, why)),
    }
}

async fn list_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let (days, chosen, refused) = match list_filter(tr, &q) {
        Ok((days, chosen)) => (days, chosen, None),
        Err((days, chosen, why)) => (days, chosen, Some(why)),
    };
    let rows = match &refused {
        Some(_) => Vec::new(),
        None => match list_rows(&state, tr, &p, &ctx, days, &chosen_states(&chosen)).await {
            Ok(rows) => rows,
            Err(page) => return page,
        },
    };
    let live = ListLive { tr, rows, refused: refused.is_some() }.render().unwrap_or_default();
    let mut day_choices: Vec<u32> = DAY_CHOICES.to_vec();
    if !day_choices.contains(&days) {
        day_choices.push(days);
        day_choices.sort_unstable();
    }
    let status = if refused.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = ListPage {
        c: Chrome::new(tr, "alerts.title", Some(&p), csrf_for(Some(&p), None), "/alerts")
            .notice_key(q.done.as_deref())
            .error(refused.clone()),
        live,
        state: chosen,
        days,
        states: std::iter::once((ACTIVE, tr.t("alerts.state_active").to_owned()))
            .chain(ALERT_STATES.iter().map(|s| (*s, state_label(tr, s))))
            .collect(),
        day_choices: day_choices
            .into_iter()
            .map(|d| {
                let key = if d == 1 { "alerts.last_day" } else { "alerts.last_days" };
                (d, tr.t(key).replace("{n}", &d.to_string()))
            })
            .collect(),
        refused: refused.is_some(),
        can_rules: p.can(SettingsManage),
    };
    (status, render(&page)).into_response()
}

// ---------------------------------------------------------------------------------------------
// One alert.

/// A response as the page shows it.
pub struct ResponseRow {
    pub id: String,
    pub kind: String,
    pub label: String,
    /// "DEMO-PC-07", "PC", or the person.
    pub target: String,
    pub time: String,
    pub state: String,
    pub state_label: String,
    pub state_class: &'static str,
    /// What was done or why not, in words.
    pub detail: String,
    pub reversible: bool,
}

/// An evidence entry as the page shows it.
pub struct EvidenceRow {
    pub index: u64,
    pub time: String,
    pub action: String,
    pub outcome: String,
    pub outcome_code: &'static str,
    pub object: String,
    /// The object in full (a customer's keyed hash, shortened in `object`).
    pub object_full: String,
    /// The lookup's purpose or the refusal's reason, in words.
    pub purpose: String,
}

/// What was typed into a form that was refused, to show it again.
#[derive(Default)]
pub struct Typed {
    pub action: String,
    pub hours: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    c: Chrome,
    a: AlertRow,
    /// The person, with their user name.
    subject: String,
    lines: Vec<String>,
    /// "2026-11-28 10:00:00 に 山田 花子 が更新".
    updated: String,
    state_reason: String,
    responses: Vec<ResponseRow>,
    evidence: Vec<EvidenceRow>,
    /// "最新の 200 件を表示（全 1,204 件）".
    evidence_note: String,
    can_manage: bool,
    closed: bool,
    can_acknowledge: bool,
    /// (user id, name, the current assignee) of those who may handle it.
    handlers: Vec<(String, String, bool)>,
    max_hours: u32,
    max_reason: usize,
    typed: Typed,
    /// "インシデントとして扱う", for those who run incidents.
    incident: Option<super::incidents::FromAlert>,
    /// The incidents it belongs to: (id, "INC-12").
    in_incidents: Vec<(String, String)>,
}

/// Host names of the PCs the principal may see, by id.
async fn device_names(state: &AppState, p: &Principal) -> HashMap<String, String> {
    if !p.can(DevicesRead) {
        return HashMap::new();
    }
    let devices = state.core.devices.list_devices(p).await.unwrap_or_default();
    devices.into_iter().map(|d| (d.id, d.hostname)).collect()
}

/// Names of users (id → "name (user name)") when the principal may read them, and of devices.
async fn names(
    state: &AppState,
    p: &Principal,
    ctx: &RequestContext,
) -> (Vec<User>, HashMap<String, String>, HashMap<String, String>) {
    let users = if p.can(UsersRead) {
        state.core.identity.list_users(p, ctx).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let user_names = users.iter().map(|u| (u.id.clone(), person_name(u))).collect();
    (users, user_names, device_names(state, p).await)
}

fn response_row(
    tr: Tr,
    r: &AlertResponseRecord,
    a: &Alert,
    users: &HashMap<String, String>,
    devices: &HashMap<String, String>,
    can_manage: bool,
) -> ResponseRow {
    let person = a.person.as_ref().map(|u| u.display_name.clone());
    let target = match r.target.split_once(':') {
        Some(("device", id)) => {
            let host = devices.get(id).cloned().unwrap_or_else(|| tr.t("alerts.pc").to_owned());
            pc_of(tr, &host, person.as_deref())
        }
        Some(("user", id)) => {
            users.get(id).cloned().or(person).unwrap_or_else(|| tr.t("alerts.someone").to_owned())
        }
        Some(("ip", address)) => tr.t("alerts.subject_ip").replace("{address}", address),
        _ => "—".to_owned(),
    };
    let detail = match (r.state.as_str(), r.kind.as_str()) {
        ("skipped", _) => skip_reason(tr, r.detail.as_deref().unwrap_or_default()),
        ("reversed", _) => tr
            .t("alerts.reversed_by")
            .replace("{time}", &r.reversed_at.map(|t| local_time(t.0)).unwrap_or_default())
            .replace("{who}", &actor_name(tr, r.reversed_by.as_deref().unwrap_or_default(), users)),
        (_, "end_sessions") => {
            tr.t("alerts.sessions_ended").replace("{n}", r.detail.as_deref().unwrap_or("0"))
        }
        (_, "lock_pc") => tr.t("alerts.lock_sent").to_owned(),
        _ => String::new(),
    };
    ResponseRow {
        id: r.id.clone(),
        kind: r.kind.clone(),
        label: response_label(tr, &r.kind),
        target,
        time: local_time(r.created_at.0),
        state: r.state.clone(),
        state_label: response_state_label(tr, &r.state),
        state_class: match r.state.as_str() {
            "done" => "warn",
            "reversed" => "ok",
            _ => "state-offline",
        },
        detail,
        reversible: can_manage && r.state == "done",
    }
}

/// A customer's keyed hash shortened for the table (the full one is in the cell's title).
fn short_object(object: &str, users: &HashMap<String, String>, devices: &HashMap<String, String>) -> String {
    match object.split_once(':') {
        Some(("user", id)) => users.get(id).cloned().unwrap_or_else(|| object.to_owned()),
        Some(("device", id)) => devices.get(id).cloned().unwrap_or_else(|| object.to_owned()),
        _ if object.starts_with("customer:h:") && object.len() > 23 => format!("{}…", &object[..23]),
        _ => object.to_owned(),
    }
}

fn evidence_row(
    tr: Tr,
    e: &mamori_audit::AuditEntry,
    users: &HashMap<String, String>,
    devices: &HashMap<String, String>,
) -> EvidenceRow {
    let object = e.object.clone().unwrap_or_default();
    // A lookup's purpose, a refusal's reason, a PC signal's kind (with its address or stick).
    let purpose = match e.action.as_str() {
        "device.signal" => {
            let kind = e.details.get("kind").map(|k| super::labels::event_kind(tr, k)).unwrap_or_default();
            match e.details.get("ip").or(e.details.get("serial")) {
                Some(extra) => format!("{kind} ({extra})"),
                None => kind,
            }
        }
        _ => ["purpose", "reason"]
            .iter()
            .find_map(|k| e.details.get(*k).map(|v| super::audit::detail_value(tr, k, v)))
            .unwrap_or_default(),
    };
    EvidenceRow {
        index: e.index,
        time: local_time(e.time.0),
        action: tr.get(&format!("audit_action.{}", e.action)).map_or_else(|| e.action.clone(), str::to_owned),
        outcome: tr.t(&format!("audit_outcome.{}", e.outcome.as_str())).to_owned(),
        outcome_code: e.outcome.as_str(),
        object: short_object(&object, users, devices),
        object_full: object,
        purpose,
    }
}

async fn alert_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    id: &str,
    ctx: &RequestContext,
    done: Option<&str>,
    refused: Option<(StatusCode, String, Typed)>,
) -> Response {
    let detail = match state.core.detection.alert(p, id, ctx).await {
        Ok(d) => d,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), alert_error(tr, &e)),
    };
    let can_manage = p.can(AlertsManage);
    let (users, user_names, devices) = names(state, p, ctx).await;
    let a = &detail.alert;
    let r = &a.record;
    let handlers = if can_manage {
        users
            .iter()
            .filter(|u| {
                u.status == mamori_domain::identity::UserStatus::Active
                    && mamori_domain::authz::permissions_of(&u.roles).contains(&AlertsManage)
            })
            .map(|u| (u.id.clone(), person_name(u), r.assignee_id.as_deref() == Some(u.id.as_str())))
            .collect()
    } else {
        Vec::new()
    };
    let updated = r
        .updated_by
        .as_deref()
        .map(|by| {
            tr.t("alerts.updated")
                .replace("{time}", &local_time(r.updated_at.0))
                .replace("{who}", &actor_name(tr, by, &user_names))
        })
        .unwrap_or_default();
    let shown = detail.evidence.len();
    let evidence_note = if shown < detail.evidence_total {
        tr.t("alerts.evidence_some")
            .replace("{n}", &shown.to_string())
            .replace("{total}", &detail.evidence_total.to_string())
    } else {
        tr.t("alerts.evidence_all").replace("{total}", &detail.evidence_total.to_string())
    };
    let (status, error, typed) = match refused {
        Some((s, e, t)) => (s, Some(e), t),
        None => (StatusCode::OK, None, Typed::default()),
    };
    let closed = mamori_core::detection::is_closed(&r.state);
    let mut lines = explanation_lines(tr, r);
    // What the raising entry adds: the new network, the change window, the team's median, …
    let context = state.core.detection.alert_context(r).await.unwrap_or_default();
    lines.extend(context.iter().map(|(k, v)| {
        let name = tr.get(&format!("audit_detail.{k}")).unwrap_or(k.as_str());
        let value = tr.get(&format!("audit_value.{k}.{v}")).unwrap_or(v.as_str());
        format!("{name}: {value}")
    }));
    let mut page = AlertPage {
        c: Chrome::new(tr, "alerts.alert_title", Some(p), csrf_for(Some(p), None), "/alerts")
            .notice_key(done)
            .error(error),
        subject: subject_text(tr, a, true, &devices),
        lines,
        updated,
        state_reason: r.state_reason.clone().unwrap_or_default(),
        responses: detail
            .responses
            .iter()
            .map(|resp| response_row(tr, resp, a, &user_names, &devices, can_manage))
            .collect(),
        // Newest first, like the audit log.
        evidence: detail.evidence.iter().rev().map(|e| evidence_row(tr, e, &user_names, &devices)).collect(),
        evidence_note,
        can_manage,
        closed,
        can_acknowledge: r.state == "open",
        handlers,
        max_hours: MAX_SUPPRESS_HOURS,
        max_reason: MAX_REASON_CHARS,
        typed,
        incident: None,
        in_incidents: detail.incidents.iter().map(|(id, n)| (id.clone(), format!("INC-{n}"))).collect(),
        a: alert_row(tr, a, &devices),
    };
    page.incident = super::incidents::from_alert(tr, p, &page.a);
    (status, render(&page)).into_response()
}

async fn alert_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    alert_view(&state, tr_for(&headers, Some(&p)), &p, &id, &ctx, q.done.as_deref(), None).await
}

/// Acknowledge, assign, suppress, false positive, resolve: one form each, posted here with
/// `action`.
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
    let reason = form.text("reason").to_owned();
    let typed =
        || Typed { action: action.clone(), hours: form.text("hours").to_owned(), reason: reason.clone() };
    let refuse = |status: StatusCode, text: String| Some((status, text, typed()));
    let change = match action.as_str() {
        "acknowledge" => AlertChange::Acknowledge,
        "assign" => AlertChange::Assign { user_id: form.text("assignee").trim().to_owned() },
        "suppress" => match form.text("hours").trim().parse::<u32>() {
            Ok(hours) => AlertChange::Suppress { hours, reason: reason.clone() },
            Err(_) => {
                let e = refuse(StatusCode::UNPROCESSABLE_ENTITY, tr.t("alerts.invalid_hours").to_owned());
                return alert_view(&state, tr, &p, &id, &ctx, None, e).await;
            }
        },
        "false_positive" => AlertChange::FalsePositive { reason: reason.clone() },
        "resolve" => AlertChange::Resolve { reason: reason.clone() },
        _ => {
            let e = refuse(StatusCode::UNPROCESSABLE_ENTITY, tr.t("alerts.unknown_action").to_owned());
            return alert_view(&state, tr, &p, &id, &ctx, None, e).await;
        }
    };
    match state.core.detection.update_alert(&p, &id, change, &ctx).await {
        Ok(_) => Redirect::to(&format!("/alerts/{id}?done=alert_{action}")).into_response(),
        // No such person to assign (the select offers only those who may handle it).
        Err(CoreError::NotFound { what: "user" }) => {
            let refused =
                refuse(StatusCode::UNPROCESSABLE_ENTITY, tr.t("alerts.invalid_assignee").to_owned());
            alert_view(&state, tr, &p, &id, &ctx, None, refused).await
        }
        Err(e @ (CoreError::NotFound { .. } | CoreError::Forbidden(_))) => {
            super::message_page_text(tr, crate::problem::status_of(&e), alert_error(tr, &e))
        }
        Err(e) => {
            let refused = refuse(crate::problem::status_of(&e), alert_error(tr, &e));
            alert_view(&state, tr, &p, &id, &ctx, None, refused).await
        }
    }
}

/// "本当に DEMO-PC-07（山田 花子）の画面ロックを取り消しますか？"
async fn confirm_reverse(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path((id, response)): Path<(String, String)>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let detail = match state.core.detection.alert(&p, &id, &ctx).await {
        Ok(d) => d,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), alert_error(tr, &e)),
    };
    let Some(r) = detail.responses.iter().find(|r| r.id == response) else {
        return super::message_page(tr, StatusCode::NOT_FOUND, "error.not_found_page");
    };
    if r.state != "done" {
        return super::message_page_text(tr, StatusCode::CONFLICT, tr.t("alerts.not_reversible").to_owned());
    }
    let (_, users, devices) = names(&state, &p, &ctx).await;
    let row = response_row(tr, r, &detail.alert, &users, &devices, true);
    let kind = if r.kind == "lock_pc" { "lock_pc" } else { "end_sessions" };
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), "/alerts");
    render(&ConfirmPage {
        c,
        question: tr.t(&format!("alerts.reverse_{kind}")).replace("{target}", &row.target),
        effects: vec![
            tr.t(&format!("alerts.reverse_{kind}_effect")).to_owned(),
            tr.t("alerts.reverse_recorded").to_owned(),
        ],
        action: format!("/alerts/{id}/responses/{response}/reverse"),
        fields: Vec::new(),
        ask_message: false,
        cancel: format!("/alerts/{id}"),
        danger: false,
    })
}

async fn reverse(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path((id, response)): Path<(String, String)>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.reverse_alert_response(&p, &id, &response, &ctx).await {
        Ok(()) => Redirect::to(&format!("/alerts/{id}?done=alert_response_reversed")).into_response(),
        // Reversed meanwhile (by someone else, or a second click).
        Err(CoreError::Conflict(_)) => {
            let refused =
                Some((StatusCode::CONFLICT, tr.t("alerts.not_reversible").to_owned(), Typed::default()));
            alert_view(&state, tr, &p, &id, &ctx, None, refused).await
        }
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), alert_error(tr, &e)),
    }
}

// ---------------------------------------------------------------------------------------------
// The detection rules.

/// One rule as the form shows it (numbers as typed, so a refused form shows them again).
pub struct RuleRow {
    pub code: &'static str,
    pub name: String,
    /// What it counts.
    pub about: String,
    /// What the threshold means for it.
    pub threshold_hint: String,
    pub enabled: bool,
    pub severity: String,
    pub threshold: String,
    pub window: String,
    /// (code, label, chosen)
    pub responses: Vec<(&'static str, String, bool)>,
    /// "30日間: アラート 4 件（うち誤検知 1 件）".
    pub record: String,
    /// "既定: 高・しきい値 15・8 時間".
    pub defaults: String,
    /// Where it applies: (id, name, chosen) of each kind; `scope_text` in words.
    pub sites: Vec<(String, String, bool)>,
    pub teams: Vec<(String, String, bool)>,
    pub clients: Vec<(String, String, bool)>,
    pub scoped: bool,
    pub scope_text: String,
    /// `admin_off_window`: its change window's first period (days, start, end).
    pub has_window: bool,
    pub window_days: Vec<(&'static str, String, bool)>,
    pub window_start: String,
    pub window_end: String,
    /// `first_seen_network`: days a network stays known.
    pub has_memory: bool,
    pub memory: String,
}

/// The sites, teams and client companies a rule's scope may name: (id, name).
#[derive(Debug, Default, Clone)]
pub struct ScopeUnits {
    pub sites: Vec<(String, String)>,
    pub teams: Vec<(String, String)>,
    pub clients: Vec<(String, String)>,
}

impl ScopeUnits {
    async fn read(state: &AppState) -> ScopeUnits {
        use mamori_domain::identity::OrgKind;
        let list = |kind| async move {
            let units = state.core.identity.list_org(kind).await.unwrap_or_default();
            units.into_iter().map(|u| (u.id, u.name)).collect::<Vec<_>>()
        };
        ScopeUnits {
            sites: list(OrgKind::Site).await,
            teams: list(OrgKind::Team).await,
            clients: list(OrgKind::Client).await,
        }
    }

    /// A scope in words: "チーム: Team A、Team B" (ids no longer known shown as they are).
    fn text(&self, tr: Tr, scope: &RuleScope) -> String {
        if scope.is_everywhere() {
            return tr.t("rules.scope_everywhere").to_owned();
        }
        let sep = tr.t("common.list_separator");
        let kinds = [
            ("rules.scope_sites", &scope.sites, &self.sites),
            ("rules.scope_teams", &scope.teams, &self.teams),
            ("rules.scope_clients", &scope.clients, &self.clients),
        ];
        kinds
            .iter()
            .filter(|(_, ids, _)| !ids.is_empty())
            .map(|(key, ids, units)| {
                let names: Vec<String> = ids
                    .iter()
                    .map(|id| {
                        units.iter().find(|(u, _)| u == id).map_or_else(|| id.clone(), |(_, n)| n.clone())
                    })
                    .collect();
                format!("{}: {}", tr.t(key), names.join(sep))
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

fn units_chosen(units: &[(String, String)], ids: &[String]) -> Vec<(String, String, bool)> {
    units.iter().map(|(id, name)| (id.clone(), name.clone(), ids.contains(id))).collect()
}

#[derive(Template)]
#[template(path = "detection_rules.html")]
struct RulesPage {
    c: Chrome,
    rows: Vec<RuleRow>,
    /// (code, label)
    severities: Vec<(&'static str, String)>,
    /// "版 3（2026-11-28 10:00:00、山田 花子）" or that the defaults apply.
    version: String,
    reason: String,
}

fn settings_summary(tr: Tr, s: &RuleSettings) -> String {
    tr.t("rules.defaults")
        .replace("{severity}", &severity_label(tr, s.severity.as_str()))
        .replace("{threshold}", &s.threshold.to_string())
        .replace("{window}", &window_text(tr, i64::from(s.window_minutes)))
}

fn rule_row(
    tr: Tr,
    rule: RuleId,
    s: &RuleSettings,
    counts: &HashMap<String, (i64, i64)>,
    units: &ScopeUnits,
) -> RuleRow {
    let code = rule.as_str();
    let (alerts, false_positives) = counts.get(code).copied().unwrap_or((0, 0));
    let window = s.change_window_or_default();
    let first = window.shifts.first();
    RuleRow {
        code,
        name: rule_name(tr, code),
        about: label(tr, format!("rule_about.{code}"), ""),
        threshold_hint: label(tr, format!("rule_threshold.{code}"), ""),
        enabled: s.enabled,
        severity: s.severity.as_str().to_owned(),
        threshold: s.threshold.to_string(),
        window: s.window_minutes.to_string(),
        responses: AutoResponse::ALL
            .iter()
            .map(|r| (r.as_str(), response_label(tr, r.as_str()), s.responses.contains(r)))
            .collect(),
        record: tr
            .t("rules.record")
            .replace("{alerts}", &alerts.to_string())
            .replace("{false_positives}", &false_positives.to_string()),
        defaults: settings_summary(tr, &rule.defaults()),
        sites: units_chosen(&units.sites, &s.scope.sites),
        teams: units_chosen(&units.teams, &s.scope.teams),
        clients: units_chosen(&units.clients, &s.scope.clients),
        scoped: !s.scope.is_everywhere(),
        scope_text: units.text(tr, &s.scope),
        has_window: rule.has_change_window(),
        window_days: Weekday::ALL
            .iter()
            .map(|d| {
                let key = super::devices::weekday_key(*d);
                (key, tr.t(&format!("weekday.{key}")).to_owned(), first.is_some_and(|f| f.days.contains(d)))
            })
            .collect(),
        window_start: first.map(|f| f.start.clone()).unwrap_or_default(),
        window_end: first.map(|f| f.end.clone()).unwrap_or_default(),
        has_memory: rule.has_memory(),
        memory: s.memory_days.unwrap_or(mamori_domain::detect::DEFAULT_MEMORY_DAYS).to_string(),
    }
}

/// A privileged rule change in words, for the second security admin who decides it: the rules
/// it turns off, then each rule left on with its settings ("通話外の顧客参照（高・15・8 時間）").
/// The approvals page shows a request's `rules` with it.
pub fn rules_summary(tr: Tr, rules: &BTreeMap<RuleId, RuleSettings>) -> String {
    rules_summary_with(tr, rules, &ScopeUnits::default())
}

/// [`rules_summary`], naming the scopes' sites, teams and clients.
pub fn rules_summary_with(tr: Tr, rules: &BTreeMap<RuleId, RuleSettings>, units: &ScopeUnits) -> String {
    let set = RuleSet(rules.clone());
    let sep = tr.t("common.list_separator");
    let off: Vec<String> =
        RuleId::ALL.into_iter().filter(|r| !set.get(*r).enabled).map(|r| rule_name(tr, r.as_str())).collect();
    let on: Vec<String> = RuleId::ALL
        .into_iter()
        .filter(|r| set.get(*r).enabled)
        .map(|r| {
            let s = set.get(r);
            let mut parts = vec![
                severity_label(tr, s.severity.as_str()),
                s.threshold.to_string(),
                window_text(tr, i64::from(s.window_minutes)),
            ];
            parts.extend(s.responses.iter().map(|x| response_label(tr, x.as_str())));
            if !s.scope.is_everywhere() {
                parts.push(tr.t("rules.summary_scope").replace("{scope}", &units.text(tr, &s.scope)));
            }
            if r.has_change_window() {
                parts.push(mamori_domain::detect::window_text(&s.change_window_or_default()));
            }
            tr.t("rules.summary_rule")
                .replace("{rule}", &rule_name(tr, r.as_str()))
                .replace("{settings}", &parts.join(sep))
        })
        .collect();
    let none = tr.t("rules.summary_none");
    tr.t("rules.summary")
        .replace("{off}", &if off.is_empty() { none.to_owned() } else { off.join(sep) })
        .replace("{on}", &if on.is_empty() { none.to_owned() } else { on.join(sep) })
}

/// The rules as posted: the rows to show again, and the rule set or why it was refused.
fn posted_rules(
    tr: Tr,
    form: &Form,
    counts: &HashMap<String, (i64, i64)>,
    units: &ScopeUnits,
    current: &RuleSet,
) -> (Vec<RuleRow>, Result<RuleSet, String>) {
    let mut rows = Vec::new();
    let mut rules = BTreeMap::new();
    let mut problems = Vec::new();
    for rule in RuleId::ALL {
        let code = rule.as_str();
        let field = |name: &str| form.text(&format!("{name}_{code}")).trim().to_owned();
        let chosen = form.all(&format!("responses_{code}"));
        let severity = Severity::parse(&field("severity"));
        let threshold = field("threshold").parse::<u32>();
        let window = field("window").parse::<u32>();
        let responses: Vec<AutoResponse> =
            AutoResponse::ALL.into_iter().filter(|r| chosen.iter().any(|c| c == r.as_str())).collect();
        let name = rule_name(tr, code);
        let ids = |kind: &str, known: &[(String, String)]| -> Vec<String> {
            let posted = form.all(&format!("scope_{kind}_{code}"));
            known.iter().filter(|(id, _)| posted.contains(id)).map(|(id, _)| id.clone()).collect()
        };
        let scope = RuleScope {
            sites: ids("sites", &units.sites),
            teams: ids("teams", &units.teams),
            clients: ids("clients", &units.clients),
        };
        let days = form.all(&format!("window_days_{code}"));
        let change_window = rule.has_change_window().then(|| {
            let mut w = current.get(rule).change_window_or_default();
            let first = Shift {
                days: Weekday::ALL
                    .into_iter()
                    .filter(|d| days.iter().any(|x| x == super::devices::weekday_key(*d)))
                    .collect(),
                start: field("window_start"),
                end: field("window_end"),
            };
            match w.shifts.first_mut() {
                Some(f) => *f = first,
                None => w.shifts.push(first),
            }
            w
        });
        let memory = field("memory");
        let memory_days = if rule.has_memory() {
            match memory.parse::<u32>() {
                Ok(d) => Some(d),
                Err(_) => {
                    problems.push(tr.t("rules.invalid_memory").replace("{rule}", &name));
                    None
                }
            }
        } else {
            None
        };
        match (severity, threshold, window) {
            (Some(severity), Ok(threshold), Ok(window_minutes)) => {
                let s = RuleSettings {
                    enabled: form.text(&format!("enabled_{code}")) == "on",
                    severity,
                    threshold,
                    window_minutes,
                    responses,
                    scope: scope.clone(),
                    change_window,
                    memory_days,
                };
                use mamori_domain::detect::RuleSettingsError as E;
                let problem = match s.check() {
                    Ok(()) => None,
                    Err(E::Threshold) => Some("rules.invalid_threshold"),
                    Err(E::Window) => Some("rules.invalid_window"),
                    Err(E::Scope) => Some("rules.invalid_scope"),
                    Err(E::ChangeWindow(_)) => Some("rules.invalid_change_window"),
                    Err(E::Memory) => Some("rules.invalid_memory"),
                };
                problems.extend(problem.map(|key| tr.t(key).replace("{rule}", &name)));
                rules.insert(rule, s);
            }
            (None, _, _) => problems.push(tr.t("rules.invalid_severity").replace("{rule}", &name)),
            (_, Err(_), _) => problems.push(tr.t("rules.invalid_threshold").replace("{rule}", &name)),
            (_, _, Err(_)) => problems.push(tr.t("rules.invalid_window").replace("{rule}", &name)),
        }
        let mut row = rule_row(tr, rule, &rule.defaults(), counts, units);
        row.enabled = form.text(&format!("enabled_{code}")) == "on";
        row.severity = field("severity");
        row.threshold = field("threshold");
        row.window = field("window");
        row.sites = units_chosen(&units.sites, &scope.sites);
        row.teams = units_chosen(&units.teams, &scope.teams);
        row.clients = units_chosen(&units.clients, &scope.clients);
        row.scoped = !scope.is_everywhere();
        row.scope_text = units.text(tr, &scope);
        for (key, _, on) in &mut row.window_days {
            *on = days.iter().any(|x| x == key);
        }
        row.window_start = field("window_start");
        row.window_end = field("window_end");
        row.memory = memory;
        for (c, _, on) in &mut row.responses {
            *on = chosen.iter().any(|x| x == c);
        }
        rows.push(row);
    }
    let result = if problems.is_empty() { Ok(RuleSet(rules)) } else { Err(problems.join(" ")) };
    (rows, result)
}

async fn rules_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    posted: Option<(Vec<RuleRow>, String)>,
    done: Option<&str>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let view = match state.core.detection.rules(p, ctx).await {
        Ok(v) => v,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), alert_error(tr, &e)),
    };
    let counts: HashMap<String, (i64, i64)> =
        view.counts.iter().map(|c| (c.rule.clone(), (c.alerts, c.false_positives))).collect();
    let units = ScopeUnits::read(state).await;
    let (rows, reason) = match posted {
        Some((rows, reason)) => (rows, reason),
        None => (
            RuleId::ALL.iter().map(|r| rule_row(tr, *r, &view.rules.get(*r), &counts, &units)).collect(),
            String::new(),
        ),
    };
    let version = match &view.version {
        Some(v) => {
            let (_, users, _) = names(state, p, ctx).await;
            tr.t("rules.version")
                .replace("{version}", &v.version.to_string())
                .replace("{time}", &local_time(v.changed_at.0))
                .replace("{who}", &actor_name(tr, &v.changed_by, &users))
        }
        None => tr.t("rules.version_defaults").to_owned(),
    };
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let page = RulesPage {
        c: Chrome::new(tr, "rules.title", Some(p), csrf_for(Some(p), None), "/admin/settings")
            .notice_key(done)
            .error(error),
        rows,
        severities: Severity::ALL.iter().map(|s| (s.as_str(), severity_label(tr, s.as_str()))).collect(),
        version,
        reason,
    };
    (status, render(&page)).into_response()
}

async fn rules_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<DoneQuery>,
) -> Response {
    rules_view(&state, tr_for(&headers, Some(&p)), &p, &ctx, None, q.done.as_deref(), None).await
}

async fn save_rules(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let (counts, current) = match state.core.detection.rules(&p, &ctx).await {
        Ok(v) => {
            (v.counts.iter().map(|c| (c.rule.clone(), (c.alerts, c.false_positives))).collect(), v.rules)
        }
        Err(_) => (HashMap::new(), RuleSet::defaults()),
    };
    let units = ScopeUnits::read(&state).await;
    let reason = form.text("reason").to_owned();
    let (rows, rules) = posted_rules(tr, &form, &counts, &units, &current);
    let rules = match rules {
        Ok(r) => r,
        Err(problems) => {
            let e = (StatusCode::UNPROCESSABLE_ENTITY, problems);
            return rules_view(&state, tr, &p, &ctx, Some((rows, reason)), None, Some(e)).await;
        }
    };
    match state.core.detection.set_rules(&p, rules.clone(), &ctx).await {
        Ok(_) => Redirect::to("/admin/detection-rules?done=detection_rules_saved").into_response(),
        // Turning a rule off: a second security admin approves it first (a privileged action).
        Err(CoreError::ApprovalRequired) => {
            let action = mamori_domain::approval::PrivilegedAction::SetDetectionRules { rules: rules.0 };
            super::privileged::ask(&state, tr, &p, &action, &reason, &ctx).await
        }
        Err(e) => {
            let refused = (crate::problem::status_of(&e), alert_error(tr, &e));
            rules_view(&state, tr, &p, &ctx, Some((rows, reason)), None, Some(refused)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_domain::identity::Language;

    /// Response states (`AlertResponseRecord::state`).
    const RESPONSE_STATES: [&str; 3] = ["done", "skipped", "reversed"];
    /// Why a response was not taken (`AlertResponseRecord::detail` when skipped).
    const SKIP_REASONS: [&str; 2] = ["no_device", "not_a_person"];

    /// Every code the alert pages show has its words in both languages.
    #[test]
    fn every_code_has_a_label() {
        for lang in [Language::Ja, Language::En] {
            let cat = crate::i18n::catalogue(lang);
            let mut keys: Vec<String> = Vec::new();
            for r in RuleId::ALL {
                let code = r.as_str();
                keys.extend([
                    format!("audit_value.rule.{code}"),
                    format!("rule_about.{code}"),
                    format!("rule_threshold.{code}"),
                    format!("alert_explain.{code}"),
                ]);
            }
            keys.push("alert_explain.lookup_volume_floor".into());
            keys.extend(mamori_core::detection::CONTEXT_KEYS.iter().map(|k| format!("audit_detail.{k}")));
            keys.extend(Severity::ALL.iter().map(|s| format!("audit_value.severity.{}", s.as_str())));
            keys.extend(AutoResponse::ALL.iter().map(|r| format!("audit_value.kind.{}", r.as_str())));
            keys.extend(ALERT_STATES.iter().map(|s| format!("alert_state.{s}")));
            keys.extend(ALERT_STATES.iter().map(|s| format!("audit_value.from.{s}")));
            keys.extend(ALERT_STATES.iter().filter(|s| **s != "open").map(|s| format!("audit_value.to.{s}")));
            keys.push("audit_value.to.assigned".into());
            keys.extend(RESPONSE_STATES.iter().map(|s| format!("alert_response_state.{s}")));
            keys.extend(SKIP_REASONS.iter().map(|s| format!("audit_value.reason.{s}")));
            keys.extend(["not_in_state", "approval_required"].map(|s| format!("audit_value.reason.{s}")));
            keys.extend(
                [
                    "alert_acknowledge",
                    "alert_assign",
                    "alert_suppress",
                    "alert_false_positive",
                    "alert_resolve",
                ]
                .map(|s| format!("done.{s}")),
            );
            let missing: Vec<_> = keys.iter().filter(|k| !cat.contains_key(*k)).collect();
            assert!(missing.is_empty(), "without a label in {}: {missing:?}", lang.as_str());
        }
    }

    fn record(rule: &str) -> mamori_core::detection::AlertRecord {
        mamori_core::detection::AlertRecord {
            id: "a1".into(),
            rule: rule.into(),
            subject: "user:u1".into(),
            subject_user_id: Some("u1".into()),
            severity: "high".into(),
            state: "open".into(),
            first_at: mamori_domain::UnixMillis(0),
            last_at: mamori_domain::UnixMillis(0),
            hits: 1,
            value: 23,
            threshold: 15,
            window_minutes: 480,
            baseline_median: None,
            baseline_mad: None,
            baseline_hours: None,
            deviation: None,
            raised_index: 1,
            assignee_id: None,
            state_reason: None,
            suppressed_until: None,
            updated_at: mamori_domain::UnixMillis(0),
            updated_by: None,
        }
    }

    #[test]
    fn explanations_read_as_sentences() {
        let ja = Tr(Language::Ja);
        assert_eq!(
            explanation(ja, &record("off_call_lookups")),
            "通話外で参照した顧客 23 人（8 時間、しきい値 15）"
        );
        let mut volume = record("lookup_volume");
        (volume.value, volume.threshold, volume.window_minutes) = (200, 60, 60);
        (volume.baseline_median, volume.baseline_mad, volume.deviation) =
            (Some(12.0), Some(2.0), Some(45.19));
        assert_eq!(
            explanation(ja, &volume),
            "1 時間に 200 人の顧客を参照（本人の通常 12 人、偏差 +45.2、しきい値 60）"
        );
        let en = Tr(Language::En);
        assert!(explanation(en, &volume).contains("200"), "{}", explanation(en, &volume));
        for rule in RuleId::ALL {
            for tr in [ja, en] {
                let text = explanation(tr, &record(rule.as_str()));
                assert!(!text.contains('{') && !text.contains(rule.as_str()), "{text}");
                for line in explanation_lines(tr, &record(rule.as_str())) {
                    assert!(!line.contains('{'), "{line}");
                }
            }
        }
    }

    #[test]
    fn a_rule_change_reads_as_words() {
        let mut rules = RuleSet::defaults().0;
        rules.get_mut(&RuleId::AdminBulk).unwrap().enabled = false;
        let text = rules_summary(Tr(Language::Ja), &rules);
        assert!(text.starts_with("無効にするルール: 管理操作の大量実行"), "{text}");
        assert!(text.contains("顧客参照の急増（高、60、1 時間、PCの画面ロック）"), "{text}");
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn windows_in_words() {
        let ja = Tr(Language::Ja);
        assert_eq!(window_text(ja, 480), "8 時間");
        assert_eq!(window_text(ja, 15), "15 分");
        assert_eq!(window_text(Tr(Language::En), 60), "1 hour");
        assert_eq!(window_text(Tr(Language::En), 90), "90 minutes");
    }
}
