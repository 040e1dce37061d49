//! The device ledger in the console [資産台帳] (issue 5): every PC with its user, site, last
//! contact and online state; a PC's inventory and the history of its changes; remote commands
//! with their state, refreshed every two seconds while one is under way; enrolment tokens.
//! Supervisors lock, sign out and message their own team's PCs from the floor or the PC's page
//! (issue 14): each command, and a revocation, goes through a confirmation page that names the
//! PC and its operator (GET shows it, POST does it).

use super::{Chrome, ConfirmPage, DoneQuery, Form, csrf_for, error_text, local_time, pc_of, render, tr_for};
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_core::devices::{NewEnrolment, is_online};
use mamori_domain::Permission::{DevicesCommand, DevicesManage, DevicesRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::OrgKind;
use mamori_proto::agent::Inventory;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/devices", Needs(DevicesRead), ledger_page)
        .add(Method::POST, "/devices/enrolments", Needs(DevicesManage), create_enrolment)
        .add(Method::GET, "/devices/{id}", Needs(DevicesRead), device_page)
        .add(Method::GET, "/devices/{id}/activity", Needs(DevicesRead), activity_page)
        .add(Method::GET, "/devices/{id}/commands", Needs(DevicesCommand), confirm_command)
        .add(Method::POST, "/devices/{id}/commands", Needs(DevicesCommand), issue_command)
        .add(Method::GET, "/devices/{id}/revoke", Needs(DevicesManage), confirm_revoke)
        .add(Method::POST, "/devices/{id}/revoke", Needs(DevicesManage), revoke)
        .add(Method::GET, "/my-pc", mamori_domain::authz::Access::SignedIn, my_pc_page)
}

/// The ledger's search: words of the host name or user, a state, a compliance.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LedgerQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub compliance: String,
    pub done: Option<String>,
}

/// What the ledger shows beyond the device: compliance, antivirus, a recent USB stick.
pub struct LedgerExtra {
    /// `compliant`, `not_compliant` or `unknown`.
    pub compliance: &'static str,
    /// The rules failed, in words.
    pub failures: String,
    /// "Defender (2 日)"; empty when none was reported.
    pub antivirus: String,
    pub recent_usb: bool,
}

pub struct DeviceRow {
    pub id: String,
    pub hostname: String,
    pub user: String,
    pub site: String,
    pub last_seen: String,
    pub last_ip: String,
    /// `online`, `offline` or `revoked`.
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct LedgerPage {
    c: Chrome,
    devices: Vec<(DeviceRow, LedgerExtra)>,
    query: LedgerQuery,
    /// Devices in the viewer's scope before the search.
    total: usize,
    can_manage: bool,
    sites: Vec<(String, String)>,
    users: Vec<(String, String)>,
    /// A token just created, shown once, with the command that uses it.
    new_token: Option<String>,
    public_url: String,
}

async fn names(
    state: &AppState,
    p: &Principal,
    ctx: &RequestContext,
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let sites = state
        .core
        .identity
        .list_org(OrgKind::Site)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let users = state
        .core
        .identity
        .list_users(p, ctx)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| (u.id, format!("{} ({})", u.display_name, u.username)))
        .collect();
    (sites, users)
}

fn name_of(list: &[(String, String)], id: Option<&String>) -> String {
    id.and_then(|id| list.iter().find(|(i, _)| i == id)).map(|(_, n)| n.clone()).unwrap_or_default()
}

fn device_row(
    d: &mamori_core::devices::DeviceRecord,
    sites: &[(String, String)],
    users: &[(String, String)],
    now: mamori_domain::UnixMillis,
) -> DeviceRow {
    DeviceRow {
        id: d.id.clone(),
        hostname: d.hostname.clone(),
        user: name_of(users, d.user_id.as_ref()),
        site: name_of(sites, d.site_id.as_ref()),
        last_seen: d.last_seen_at.map(|t| local_time(t.0)).unwrap_or_default(),
        last_ip: d.last_ip.clone().unwrap_or_default(),
        state: if d.revoked_at.is_some() {
            "revoked"
        } else if is_online(d, now) {
            "online"
        } else {
            "offline"
        },
    }
}

async fn ledger(
    state: &AppState,
    headers: &HeaderMap,
    p: &Principal,
    ctx: &RequestContext,
    new_token: Option<String>,
    query: LedgerQuery,
    error: Option<String>,
) -> Response {
    let tr = tr_for(headers, Some(p));
    let (sites, users) = names(state, p, ctx).await;
    let now = state.core.now();
    let rows = state.core.devices.ledger(p).await.unwrap_or_default();
    let total = rows.len();
    let words = query.q.trim().to_lowercase();
    let devices = rows
        .iter()
        .map(|r| {
            let failures = r.posture.failures.clone();
            let extra = LedgerExtra {
                compliance: match &failures {
                    Some(f) if f.is_empty() => "compliant",
                    Some(_) => "not_compliant",
                    None => "unknown",
                },
                failures: failures
                    .unwrap_or_default()
                    .iter()
                    .map(|f| super::labels::posture_rule(tr, &f.rule))
                    .collect::<Vec<_>>()
                    .join(tr.t("common.list_separator")),
                antivirus: r
                    .antivirus
                    .as_ref()
                    .map(|av| match av.signature_age_days {
                        Some(days) => tr
                            .t("devices.av_age")
                            .replace("{product}", &av.product)
                            .replace("{days}", &days.to_string()),
                        None => av.product.clone(),
                    })
                    .unwrap_or_default(),
                recent_usb: r.recent_usb,
            };
            (device_row(&r.device, &sites, &users, now), extra)
        })
        .filter(|(d, x)| {
            (words.is_empty()
                || d.hostname.to_lowercase().contains(&words)
                || d.user.to_lowercase().contains(&words)
                || d.last_ip.contains(&words))
                && (query.state.is_empty() || d.state == query.state)
                && (query.compliance.is_empty() || x.compliance == query.compliance)
        })
        .collect();
    let c = Chrome::new(tr, "devices.title", Some(p), csrf_for(Some(p), None), "/devices")
        .notice_key(query.done.as_deref())
        .error(error);
    render(&LedgerPage {
        c,
        devices,
        query,
        total,
        can_manage: p.can(DevicesManage),
        sites,
        users,
        new_token,
        public_url: state.config.public_url.clone(),
    })
}

async fn ledger_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<LedgerQuery>,
) -> Response {
    ledger(&state, &headers, &p, &ctx, None, q, None).await
}

async fn create_enrolment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let new = NewEnrolment {
        site_id: form.optional("site_id"),
        user_id: form.optional("user_id"),
        valid_hours: form.text("valid_hours").trim().parse().unwrap_or(0),
    };
    match state.core.devices.create_enrolment(&p, &new, &ctx).await {
        Ok((_, token)) => ledger(&state, &headers, &p, &ctx, Some(token), LedgerQuery::default(), None).await,
        Err(e) => {
            ledger(&state, &headers, &p, &ctx, None, LedgerQuery::default(), Some(error_text(tr, &e))).await
        }
    }
}

pub struct CommandRow {
    pub kind: String,
    /// `pending`, `delivered`, `done`, `failed` or `expired`, for the tag's class.
    pub state: String,
    /// The state in words (失敗（理由）for a failure with a reason).
    pub state_text: String,
    pub issued_by: String,
    pub created: String,
    pub finished: String,
    pub result: String,
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    c: Chrome,
    device: DeviceRow,
    inventory: Option<Inventory>,
    changes: Vec<String>,
    commands: Vec<CommandRow>,
    /// A command is under way: the page refreshes itself to show its state.
    refresh: bool,
    /// Lock, sign-out, message (supervisors of the PC's team, admins).
    can_command: bool,
    can_manage: bool,
    revoked: bool,
    state_label: &'static str,
    /// None before the first inventory; else the failed rules (empty: compliant).
    failures: Option<Vec<FailureView>>,
    /// `approved`, `unapproved` or `unrestricted`.
    network: &'static str,
    /// The assigned operator's shifts ("月〜金 09:00–18:00"), when the PC has an operator.
    shifts: Option<Vec<String>>,
    /// Where the operator's shifts and networks are set.
    roster: Option<String>,
    /// The PC's latest events, newest first.
    events: Vec<EventRow>,
}

/// A posture rule the PC fails, in words. The domain's detail ("build 19044 is older than the
/// minimum 19045") is English: shown on English pages only.
pub struct FailureView {
    pub label: String,
    pub detail: String,
}

fn failure_views(
    tr: crate::i18n::Tr,
    failures: Option<Vec<mamori_domain::posture::PostureFailure>>,
) -> Option<Vec<FailureView>> {
    let english = tr.lang() == "en";
    failures.map(|list| {
        list.into_iter()
            .map(|f| FailureView {
                label: super::labels::posture_rule(tr, &f.rule),
                detail: if english { f.detail } else { String::new() },
            })
            .collect()
    })
}

/// A device event in words.
pub struct EventRow {
    pub time: String,
    pub kind: String,
    pub label: String,
    pub details: Vec<String>,
    /// A signal (USB, off network…), shown marked.
    pub signal: bool,
}

fn event_rows(tr: crate::i18n::Tr, events: Vec<mamori_core::devices::DeviceEventRecord>) -> Vec<EventRow> {
    events
        .into_iter()
        .map(|e| EventRow {
            time: local_time(e.occurred_at.0),
            label: super::labels::event_kind(tr, &e.kind),
            details: super::labels::event_details(tr, &mamori_core::signals::details_of(&e.data)),
            signal: mamori_core::signals::DEVICE_SIGNAL_KINDS.contains(&e.kind.as_str()),
            kind: e.kind,
        })
        .collect()
}

/// Shifts as lines in words ("月〜金 09:00–18:00").
pub fn shift_lines(tr: crate::i18n::Tr, schedule: &mamori_domain::activity::ShiftSchedule) -> Vec<String> {
    schedule.shifts.iter().map(|s| super::roster::shift_text(tr, s, schedule.utc_offset_minutes)).collect()
}

pub(super) fn weekday_key(d: mamori_domain::activity::Weekday) -> &'static str {
    use mamori_domain::activity::Weekday::*;
    match d {
        Mon => "mon",
        Tue => "tue",
        Wed => "wed",
        Thu => "thu",
        Fri => "fri",
        Sat => "sat",
        Sun => "sun",
    }
}

async fn device_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let (device, history) = match state.core.devices.device_detail(&p, &id, &ctx).await {
        Ok(d) => d,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let (sites, users) = names(&state, &p, &ctx).await;
    let posture = state
        .core
        .devices
        .device_posture(&device)
        .await
        .unwrap_or(mamori_core::devices::Posture { failures: None, network_approved: None });
    let commands = state.core.devices.device_commands(&p, &id, &ctx).await.unwrap_or_default();
    let events = state.core.devices.device_events(&p, &id, 50, &ctx).await.unwrap_or_default();
    let refresh = commands.iter().any(|c| c.state == "pending" || c.state == "delivered");
    let shifts = match &device.user_id {
        Some(user) => state.core.devices.user_shifts(&p, user, &ctx).await.ok().map(|s| shift_lines(tr, &s)),
        None => None,
    };
    let now = state.core.now();
    let row = device_row(&device, &sites, &users, now);
    let state_label = match row.state {
        "online" => "devices.online",
        "offline" => "devices.offline",
        _ => "devices.revoked",
    };
    let c = Chrome::new(tr, "devices.device_title", Some(&p), csrf_for(Some(&p), None), "/devices")
        .notice_key(q.done.as_deref());
    render(&DevicePage {
        c,
        device: row,
        inventory: history.first().and_then(|i| serde_json::from_str(&i.inventory).ok()),
        changes: history.iter().map(|i| local_time(i.collected_at.0)).collect(),
        commands: commands
            .into_iter()
            .map(|c| CommandRow {
                state_text: command_state_text(tr, &c),
                kind: c.kind,
                state: c.state,
                issued_by: name_of(&users, Some(&c.issued_by)),
                created: local_time(c.created_at.0),
                finished: c.finished_at.map(|t| local_time(t.0)).unwrap_or_default(),
                result: c.result.unwrap_or_default(),
            })
            .collect(),
        refresh,
        can_command: p.can(DevicesCommand) || p.can(DevicesManage),
        can_manage: p.can(DevicesManage),
        revoked: device.revoked_at.is_some(),
        state_label,
        failures: failure_views(tr, posture.failures),
        network: match posture.network_approved {
            Some(true) => "devices.network_approved",
            Some(false) => "devices.network_unapproved",
            None => "devices.network_unrestricted",
        },
        shifts,
        events: event_rows(tr, events),
        roster: device.user_id.as_ref().map(|u| format!("/admin/users/{u}/roster")),
    })
}

/// One minute of an operator's activity, as the activity page shows it.
pub struct MinuteRow {
    pub minute: String,
    pub keystrokes: u32,
    pub clicks: u32,
    pub idle_secs: u32,
    pub app: String,
}

#[derive(Template)]
#[template(path = "device_activity.html")]
struct ActivityPage {
    c: Chrome,
    device_id: String,
    hostname: String,
    person: String,
    hours: u32,
    minutes: Vec<MinuteRow>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct HoursQuery {
    hours: Option<u32>,
}

/// A PC's minutes of activity (counts and the application in front, never what was typed),
/// opened on purpose from its page: who looked is recorded, since it is about a person.
async fn activity_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<HoursQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let hours = q.hours.unwrap_or(8).clamp(1, 24 * 7);
    let fail = |e: &mamori_core::CoreError| {
        super::message_page_text(tr, crate::problem::status_of(e), error_text(tr, e))
    };
    let device = match state.core.devices.device_detail(&p, &id, &ctx).await {
        Ok((d, _)) => d,
        Err(e) => return fail(&e),
    };
    let buckets = match state.core.devices.device_activity(&p, &id, hours, &ctx).await {
        Ok(b) => b,
        Err(e) => return fail(&e),
    };
    let (_, users) = names(&state, &p, &ctx).await;
    let minutes = buckets
        .into_iter()
        .map(|a| {
            let b = a.bucket;
            let app = super::labels::app_in_front(&b);
            MinuteRow {
                minute: local_time(b.minute),
                keystrokes: b.keystrokes,
                clicks: b.clicks,
                idle_secs: b.idle_secs,
                app,
            }
        })
        .collect();
    let c = Chrome::new(tr, "devices.activity_title", Some(&p), csrf_for(Some(&p), None), "/devices");
    render(&ActivityPage {
        c,
        person: name_of(&users, device.user_id.as_ref()),
        device_id: device.id,
        hostname: device.hostname,
        hours,
        minutes,
    })
}

async fn issue_command(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let message = form.optional("message");
    match state.core.devices.issue_command(&p, &id, form.text("kind"), message.as_deref(), &ctx).await {
        // From the floor, back to it, following this command until it is done.
        Ok(c) if form.text("from") == "floor" => {
            Redirect::to(&format!("/floor?device={id}&command={}", c.id)).into_response()
        }
        Ok(_) => Redirect::to(&format!("/devices/{id}?done=command_sent")).into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}

/// A command's state in words: 送信待ち, 配信済み, 完了, 失敗（理由）, 時間切れ.
pub fn command_state_text(tr: crate::i18n::Tr, c: &mamori_core::devices::CommandRecord) -> String {
    match c.result.as_deref().filter(|r| !r.is_empty()) {
        Some(reason) if c.state == "failed" => tr.t("devices.cmd_failed_reason").replace("{reason}", reason),
        _ => tr.t(&format!("devices.cmd_{}", c.state)).to_owned(),
    }
}

#[derive(serde::Deserialize)]
struct CommandQuery {
    #[serde(default)]
    kind: String,
    /// `floor` when asked from the floor: back there afterwards.
    from: Option<String>,
}

/// The confirmation of a command: "本当に DEMO-PC-07（山田 花子）をロックしますか？". Refused as
/// the command itself would be (another team's PC is not found).
async fn confirm_command(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<CommandQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let target = match state.core.devices.command_target(&p, &id, &q.kind, &ctx).await {
        Ok(t) => t,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let who = pc_of(tr, &target.device.hostname, target.user.as_ref().map(|u| u.display_name.as_str()));
    let kind = q.kind.as_str();
    let from_floor = q.from.as_deref() == Some("floor");
    let mut fields = vec![("kind".to_owned(), kind.to_owned())];
    if from_floor {
        fields.push(("from".into(), "floor".into()));
    }
    let timeout = state.config.command_timeout.as_secs().to_string();
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), "/devices");
    render(&ConfirmPage {
        c,
        question: tr.t(&format!("confirm.{kind}")).replace("{target}", &who),
        effects: vec![
            tr.t(&format!("confirm.{kind}_effect")).to_owned(),
            tr.t("confirm.command_timeout").replace("{secs}", &timeout),
        ],
        action: format!("/devices/{id}/commands"),
        fields,
        ask_message: kind == "message",
        cancel: if from_floor { "/floor".into() } else { format!("/devices/{id}") },
        danger: matches!(kind, "lock" | "sign_out"),
    })
}

/// The confirmation of a revocation, naming the PC and its operator.
async fn confirm_revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let device = match state.core.devices.device_detail(&p, &id, &ctx).await {
        Ok((d, _)) if d.revoked_at.is_none() => d,
        Ok(_) => {
            return super::message_page(tr, axum::http::StatusCode::NOT_FOUND, "devices.already_revoked");
        }
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let (_, users) = names(&state, &p, &ctx).await;
    let person = device.user_id.as_ref().map(|u| name_of(&users, Some(u))).filter(|n| !n.is_empty());
    let who = pc_of(tr, &device.hostname, person.as_deref());
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), "/devices");
    render(&ConfirmPage {
        c,
        question: tr.t("confirm.revoke").replace("{target}", &who),
        effects: vec![tr.t("confirm.revoke_effect").to_owned()],
        action: format!("/devices/{id}/revoke"),
        fields: Vec::new(),
        ask_message: false,
        cancel: format!("/devices/{id}"),
        danger: true,
    })
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.devices.revoke_device(&p, &id, &ctx).await {
        Ok(()) => Redirect::to(&format!("/devices/{id}?done=device_revoked")).into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}

pub struct MyPcView {
    pub hostname: String,
    pub inventory: Option<Inventory>,
    pub events: Vec<EventRow>,
    /// (minute, keystrokes, clicks, idle seconds, application, browser domain)
    pub activity: Vec<(String, u32, u32, u32, String, String)>,
}

#[derive(Template)]
#[template(path = "my_pc.html")]
struct MyPcPage {
    c: Chrome,
    pcs: Vec<MyPcView>,
    /// The user's shifts, as "mon tue 09:00–18:00" lines; empty: none (nothing collected).
    shifts: Vec<String>,
}

/// What the agent collects about the signed-in user's own PC (invariant 8).
async fn my_pc_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let shifts = state.core.devices.user_shifts(&p, &p.user.id, &ctx).await;
    let (pcs, schedule) = match (state.core.devices.my_devices(&p).await, shifts) {
        (Ok(pcs), Ok(schedule)) => (pcs, schedule),
        (Err(e), _) | (_, Err(e)) => {
            return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e));
        }
    };
    let pcs = pcs
        .into_iter()
        .map(|pc| MyPcView {
            hostname: pc.device.hostname,
            inventory: pc.inventory.and_then(|i| serde_json::from_str(&i.inventory).ok()),
            events: event_rows(tr, pc.events),
            activity: pc
                .activity
                .into_iter()
                .map(|a| {
                    let b = a.bucket;
                    let (app, domain) = (b.app.unwrap_or_default(), b.browser_domain.unwrap_or_default());
                    (local_time(b.minute), b.keystrokes, b.clicks, b.idle_secs, app, domain)
                })
                .collect(),
        })
        .collect();
    let shifts = shift_lines(tr, &schedule);
    let c = Chrome::new(tr, "mypc.title", Some(&p), csrf_for(Some(&p), None), "/my-pc");
    render(&MyPcPage { c, pcs, shifts })
}
