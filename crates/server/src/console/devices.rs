//! The device ledger in the console [資産台帳] (issue 5): every PC with its user, site, last
//! contact and online state; a PC's inventory and the history of its changes; remote commands
//! with their state, refreshed every two seconds while one is under way; enrolment tokens.

use super::{Chrome, DoneQuery, Form, csrf_for, error_text, local_time, render, tr_for};
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
use mamori_domain::Permission::{DevicesManage, DevicesRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::OrgKind;
use mamori_proto::agent::Inventory;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/devices", Needs(DevicesRead), ledger_page)
        .add(Method::POST, "/devices/enrolments", Needs(DevicesManage), create_enrolment)
        .add(Method::GET, "/devices/{id}", Needs(DevicesRead), device_page)
        .add(Method::POST, "/devices/{id}/commands", Needs(DevicesManage), issue_command)
        .add(Method::POST, "/devices/{id}/revoke", Needs(DevicesManage), revoke)
        .add(Method::POST, "/devices/{id}/shifts", Needs(DevicesManage), set_shifts)
        .add(Method::GET, "/floor", Needs(DevicesRead), floor_page)
        .add(Method::GET, "/my-pc", mamori_domain::authz::Access::SignedIn, my_pc_page)
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
    devices: Vec<DeviceRow>,
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
    done: Option<&str>,
    error: Option<String>,
) -> Response {
    let tr = tr_for(headers, Some(p));
    let (sites, users) = names(state, p, ctx).await;
    let now = state.core.now();
    let devices = state
        .core
        .devices
        .list_devices(p)
        .await
        .unwrap_or_default()
        .iter()
        .map(|d| device_row(d, &sites, &users, now))
        .collect();
    let c = Chrome::new(tr, "devices.title", Some(p), csrf_for(Some(p), None), "/devices")
        .notice_key(done)
        .error(error);
    render(&LedgerPage {
        c,
        devices,
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
    Query(q): Query<DoneQuery>,
) -> Response {
    ledger(&state, &headers, &p, &ctx, None, q.done.as_deref(), None).await
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
        Ok((_, token)) => ledger(&state, &headers, &p, &ctx, Some(token), None, None).await,
        Err(e) => ledger(&state, &headers, &p, &ctx, None, None, Some(error_text(tr, &e))).await,
    }
}

pub struct CommandRow {
    pub kind: String,
    pub state: String,
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
    can_manage: bool,
    revoked: bool,
    state_label: &'static str,
    /// None before the first inventory; else the failed rules (empty: compliant).
    failures: Option<Vec<mamori_domain::posture::PostureFailure>>,
    /// `approved`, `unapproved` or `unrestricted`.
    network: &'static str,
    /// The assigned operator's shifts ("mon tue 09:00–18:00"), when the PC has an operator.
    shifts: Option<Vec<String>>,
    /// The weekdays, for the shift form.
    weekdays: Vec<&'static str>,
}

/// Shifts as lines of days and times, in the schedule's own offset.
pub fn shift_lines(schedule: &mamori_domain::activity::ShiftSchedule) -> Vec<String> {
    schedule
        .shifts
        .iter()
        .map(|s| {
            let days: Vec<String> = s.days.iter().map(|d| weekday_key(*d).to_owned()).collect();
            let offset = f64::from(schedule.utc_offset_minutes) / 60.0;
            format!("{} {}–{} (UTC{offset:+})", days.join(" "), s.start, s.end)
        })
        .collect()
}

fn weekday_key(d: mamori_domain::activity::Weekday) -> &'static str {
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
    let refresh = commands.iter().any(|c| c.state == "pending" || c.state == "delivered");
    let shifts = match &device.user_id {
        Some(user) => state.core.devices.user_shifts(&p, user, &ctx).await.ok().map(|s| shift_lines(&s)),
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
                kind: c.kind,
                state: c.state,
                issued_by: name_of(&users, Some(&c.issued_by)),
                created: local_time(c.created_at.0),
                finished: c.finished_at.map(|t| local_time(t.0)).unwrap_or_default(),
                result: c.result.unwrap_or_default(),
            })
            .collect(),
        refresh,
        can_manage: p.can(DevicesManage),
        revoked: device.revoked_at.is_some(),
        state_label,
        failures: posture.failures,
        network: match posture.network_approved {
            Some(true) => "devices.network_approved",
            Some(false) => "devices.network_unapproved",
            None => "devices.network_unrestricted",
        },
        shifts,
        weekdays: mamori_domain::activity::Weekday::ALL.iter().map(|d| weekday_key(*d)).collect(),
    })
}

/// Sets the shifts of the operator a PC is assigned to: one weekly shift from the form (no day
/// ticked clears them: nothing is collected). Several shifts a week go through the API.
async fn set_shifts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    form: Form,
) -> Response {
    use mamori_domain::activity::{Shift, ShiftSchedule, Weekday};
    let tr = tr_for(&headers, Some(&p));
    let fail = |e: &mamori_core::CoreError| {
        super::message_page_text(tr, crate::problem::status_of(e), error_text(tr, e))
    };
    let user = match state.core.devices.device_detail(&p, &id, &ctx).await {
        Ok((d, _)) => d.user_id,
        Err(e) => return fail(&e),
    };
    let Some(user) = user else {
        return super::message_page_text(
            tr,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            tr.t("devices.no_operator").into(),
        );
    };
    let days: Vec<Weekday> = form
        .all("days")
        .iter()
        .filter_map(|d| Weekday::ALL.iter().copied().find(|w| weekday_key(*w) == d.as_str()))
        .collect();
    let shifts = if days.is_empty() {
        Vec::new()
    } else {
        vec![Shift {
            days,
            start: form.text("start").trim().to_owned(),
            end: form.text("end").trim().to_owned(),
        }]
    };
    let schedule = ShiftSchedule { utc_offset_minutes: 540, shifts };
    match state.core.devices.set_user_shifts(&p, &user, schedule, &ctx).await {
        Ok(()) => Redirect::to(&format!("/devices/{id}?done=shifts_saved")).into_response(),
        Err(e) => fail(&e),
    }
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
        Ok(_) => Redirect::to(&format!("/devices/{id}?done=command_sent")).into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
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

pub struct FloorView {
    pub name: String,
    pub device_id: Option<String>,
    pub hostname: String,
    /// `working`, `idle`, `locked`, `off_shift`, `offline` or `no_device`.
    pub state: &'static str,
    /// "keys / clicks" of the latest minute, when there is one.
    pub counts: String,
    pub app: String,
    /// `compliant`, `not_compliant` or `unknown`.
    pub compliance: &'static str,
    pub failures: String,
    /// `approved`, `unapproved` or `unrestricted`.
    pub network: &'static str,
    pub recent_usb: bool,
}

#[derive(Template)]
#[template(path = "floor.html")]
struct FloorPage {
    c: Chrome,
    rows: Vec<FloorView>,
    online: usize,
    alerts: usize,
}

/// The live floor (MON-1): every operator's PC state, compliance, network and a recent USB
/// stick, refreshed every five seconds.
async fn floor_page(State(state): State<AppState>, headers: HeaderMap, Caller(p): Caller) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let rows = match state.core.devices.floor(&p).await {
        Ok(rows) => rows,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let rows: Vec<FloorView> = rows
        .into_iter()
        .map(|r| {
            let failures = r.posture.as_ref().and_then(|p| p.failures.clone());
            FloorView {
                name: r.user.display_name.clone(),
                device_id: r.device.as_ref().map(|d| d.id.clone()),
                hostname: r.device.as_ref().map(|d| d.hostname.clone()).unwrap_or_default(),
                state: if r.device.is_none() { "no_device" } else { r.state.as_str() },
                counts: r
                    .activity
                    .as_ref()
                    .map(|a| format!("{} / {}", a.keystrokes, a.clicks))
                    .unwrap_or_default(),
                app: r
                    .activity
                    .as_ref()
                    .map(|a| match (&a.app, &a.browser_domain) {
                        (Some(app), Some(domain)) => format!("{app} · {domain}"),
                        (Some(app), None) => app.clone(),
                        (None, Some(domain)) => domain.clone(),
                        (None, None) => String::new(),
                    })
                    .unwrap_or_default(),
                compliance: match &failures {
                    Some(f) if f.is_empty() => "compliant",
                    Some(_) => "not_compliant",
                    None => "unknown",
                },
                failures: failures
                    .unwrap_or_default()
                    .iter()
                    .map(|f| f.rule.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                network: match r.posture.and_then(|p| p.network_approved) {
                    Some(true) => "approved",
                    Some(false) => "unapproved",
                    None => "unrestricted",
                },
                recent_usb: r.recent_usb,
            }
        })
        .collect();
    let online = rows.iter().filter(|r| !matches!(r.state, "offline" | "no_device")).count();
    let alerts = rows
        .iter()
        .filter(|r| r.network == "unapproved" || r.recent_usb || r.compliance == "not_compliant")
        .count();
    let c = Chrome::new(tr, "floor.title", Some(&p), csrf_for(Some(&p), None), "/floor");
    render(&FloorPage { c, rows, online, alerts })
}

pub struct MyPcView {
    pub hostname: String,
    pub inventory: Option<Inventory>,
    /// (time, kind, data)
    pub events: Vec<(String, String, String)>,
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
            events: pc.events.into_iter().map(|e| (local_time(e.occurred_at.0), e.kind, e.data)).collect(),
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
    let shifts = shift_lines(&schedule);
    let c = Chrome::new(tr, "mypc.title", Some(&p), csrf_for(Some(&p), None), "/my-pc");
    render(&MyPcPage { c, pcs, shifts })
}
