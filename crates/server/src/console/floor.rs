//! The live floor (MON-1, issue 14 item 6): every operator in the viewer's people scope with
//! their PC's state, what needs attention first and why (in words, each reason linked to its
//! signals), filters by team, state and flag, and live updates.
//!
//! Live updates: the console's one first-party script (`/static/live.js`) listens on
//! `/floor/stream`, a server-sent event stream that sends the re-rendered live part of the page
//! whenever the floor changes in this process (an agent's event, a command's result, a PC coming
//! back) and at least every [`REFRESH`] (PCs going quiet, changes through another replica). The
//! script swaps that part in place and puts the focus back where it was; the page does not
//! reload. Without script, a `<noscript>` refresh every ten seconds takes over.

use super::devices::command_state_text;
use super::{Chrome, csrf_for, error_text, labels, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_core::devices::FloorRow;
use mamori_domain::Permission::{DevicesCommand, DevicesManage, DevicesRead, SecurityEventsRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::OrgKind;
use std::time::Duration;

/// The longest the live floor goes without a fresh rendering.
const REFRESH: Duration = Duration::from_secs(10);
/// Changes arriving together (a batch of events, several PCs) make one rendering.
const SETTLE: Duration = Duration::from_millis(100);

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/floor", Needs(DevicesRead), floor_page)
        .add(Method::GET, "/floor/stream", Needs(DevicesRead), floor_stream)
        .add(Method::GET, "/static/live.js", mamori_domain::authz::Access::Public, script)
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")],
        include_str!("../../static/live.js"),
    )
        .into_response()
}

/// Filters and the command the floor follows after sending it (`?device=…&command=…`).
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct FloorQuery {
    #[serde(default)]
    pub team: String,
    /// A floor state, or empty for all.
    #[serde(default)]
    pub state: String,
    /// `attention`, `usb`, `network` or `compliance`; empty for all.
    #[serde(default)]
    pub flag: String,
    pub device: Option<String>,
    pub command: Option<String>,
}

impl FloorQuery {
    /// The query again, for the stream's address (only the known fields, encoded).
    fn encoded(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("team", &self.team), ("state", &self.state), ("flag", &self.flag)] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        if let (Some(d), Some(c)) = (&self.device, &self.command) {
            q.append_pair("device", d).append_pair("command", c);
        }
        q.finish()
    }
}

/// Why a row needs attention, in words, with where to see its signals.
pub struct Reason {
    pub label: String,
    pub href: String,
    /// `usb`, `network` or `compliance`, for the filter and the style.
    pub flag: &'static str,
}

pub struct FloorView {
    pub name: String,
    pub team: String,
    pub device_id: Option<String>,
    pub hostname: String,
    /// `working`, `idle`, `locked`, `off_shift`, `offline` or `no_device`.
    pub state: &'static str,
    /// "keys / clicks" of the latest minute, when there is one.
    pub counts: String,
    pub app: String,
    /// The address the PC last connected from, as the server saw it (its global IP at home).
    pub ip: String,
    /// `compliant`, `not_compliant` or `unknown`.
    pub compliance: &'static str,
    pub reasons: Vec<Reason>,
    /// Out under a valid take-out approval (shown, not a concern).
    pub taken_out: bool,
}

impl FloorView {
    pub fn needs_attention(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// States in the order a supervisor scans them, after the rows needing attention.
const STATE_ORDER: [&str; 6] = ["locked", "idle", "working", "off_shift", "offline", "no_device"];

fn view(tr: Tr, r: FloorRow, teams: &[(String, String)]) -> FloorView {
    let device_id = r.device.as_ref().map(|d| d.id.clone());
    let signals = |kind: &str, period: &str| match &device_id {
        Some(id) => format!("/signals?device={id}&kind={kind}&period={period}"),
        None => String::new(),
    };
    let failures = r.posture.as_ref().and_then(|p| p.failures.clone());
    let mut reasons = Vec::new();
    if r.recent_usb {
        reasons.push(Reason {
            label: tr.t("floor.usb").to_owned(),
            href: signals("usb_attached", "today"),
            flag: "usb",
        });
    }
    if r.off_network() && !r.taken_out {
        reasons.push(Reason {
            label: tr.t("floor.network_unapproved").to_owned(),
            href: signals("off_network", "7d"),
            flag: "network",
        });
    }
    for f in failures.iter().flatten() {
        reasons.push(Reason {
            label: labels::posture_rule(tr, &f.rule),
            href: signals("posture_changed", "30d"),
            flag: "compliance",
        });
    }
    FloorView {
        name: r.user.display_name.clone(),
        team: r
            .user
            .team_id
            .as_ref()
            .and_then(|t| teams.iter().find(|(id, _)| id == t))
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        hostname: r.device.as_ref().map(|d| d.hostname.clone()).unwrap_or_default(),
        ip: r.device.as_ref().and_then(|d| d.last_ip.clone()).unwrap_or_default(),
        state: if r.device.is_none() { "no_device" } else { r.state.as_str() },
        counts: r.activity.as_ref().map(|a| format!("{} / {}", a.keystrokes, a.clicks)).unwrap_or_default(),
        app: r.activity.as_ref().map(labels::app_in_front).unwrap_or_default(),
        taken_out: r.taken_out,
        compliance: match &failures {
            Some(f) if f.is_empty() => "compliant",
            Some(_) => "not_compliant",
            None => "unknown",
        },
        reasons,
        device_id,
    }
}

/// The part of the page the stream replaces.
#[derive(Template)]
#[template(path = "floor_live.html")]
struct FloorLive {
    tr: Tr,
    rows: Vec<FloorView>,
    /// Operators in the viewer's scope, before the filters.
    total: usize,
    online: usize,
    attention: usize,
    can_command: bool,
    /// The command just sent from the floor, in words ("DEMO-PC-07 への画面ロック: 完了").
    command: Option<String>,
    /// Requests waiting for the viewer's decision (the approvals badge).
    approvals: mamori_core::approvals::Badge,
}

#[derive(Template)]
#[template(path = "floor.html")]
struct FloorPage {
    c: Chrome,
    /// The live part, rendered ([`FloorLive`]).
    live: String,
    query: FloorQuery,
    stream: String,
    /// (id, name) of the teams, for those who see every team.
    teams: Vec<(String, String)>,
    states: &'static [&'static str],
}

async fn team_names(state: &AppState) -> Vec<(String, String)> {
    let teams = state.core.identity.list_org(OrgKind::Team).await.unwrap_or_default();
    teams.into_iter().map(|t| (t.id, t.name)).collect()
}

async fn live_part(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    q: &FloorQuery,
    teams: &[(String, String)],
) -> Result<FloorLive, mamori_core::CoreError> {
    // The followed command is read before the floor: once it shows done, the rows show its effect.
    let followed = match (&q.device, &q.command) {
        (Some(device), Some(id)) => state
            .core
            .devices
            .device_commands(p, device, ctx)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|c| &c.id == id),
        _ => None,
    };
    let all: Vec<FloorView> = state.core.floor(p).await?.into_iter().map(|r| view(tr, r, teams)).collect();
    let total = all.len();
    let online = all.iter().filter(|r| !matches!(r.state, "offline" | "no_device")).count();
    let attention = all.iter().filter(|r| r.needs_attention()).count();
    let command = match (&q.device, followed) {
        (Some(device), Some(cmd)) => {
            let pc = all
                .iter()
                .find(|r| r.device_id.as_ref() == Some(device))
                .map(|r| r.hostname.clone())
                .unwrap_or_default();
            Some(
                tr.t("floor.command_result")
                    .replace("{pc}", &pc)
                    .replace("{kind}", tr.t(&format!("devices.command_{}", cmd.kind)))
                    .replace("{state}", &command_state_text(tr, &cmd)),
            )
        }
        _ => None,
    };
    let team = teams.iter().find(|(id, _)| id == &q.team).map(|(_, n)| n.as_str());
    let mut rows: Vec<FloorView> = all
        .into_iter()
        .filter(|r| team.is_none_or(|t| r.team == t))
        .filter(|r| q.state.is_empty() || r.state == q.state)
        .filter(|r| match q.flag.as_str() {
            "" => true,
            "attention" => r.needs_attention(),
            flag => r.reasons.iter().any(|x| x.flag == flag),
        })
        .collect();
    let rank = |r: &FloorView| STATE_ORDER.iter().position(|s| *s == r.state).unwrap_or(STATE_ORDER.len());
    rows.sort_by(|a, b| {
        b.needs_attention()
            .cmp(&a.needs_attention())
            .then_with(|| rank(a).cmp(&rank(b)))
            .then_with(|| a.name.cmp(&b.name))
    });
    let can_command = p.can(DevicesCommand) || p.can(DevicesManage);
    let approvals = state.core.approvals.badge(p).await?;
    Ok(FloorLive { tr, rows, total, online, attention, can_command, command, approvals })
}

/// The floor page: filters, and the live part.
async fn floor_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Query(q): Query<FloorQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let teams = team_names(&state).await;
    let live = match live_part(&state, tr, &p, &ctx, &q, &teams).await.map(|l| l.render()) {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "template failed");
            return super::internal_error_page(&headers);
        }
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let c = Chrome::new(tr, "floor.title", Some(&p), csrf_for(Some(&p), None), "/floor");
    let stream = format!("/floor/stream?{}", q.encoded());
    // A supervisor's floor is their own team already: the team filter is for those who see all.
    let teams = if p.can(SecurityEventsRead) { teams } else { Vec::new() };
    render(&FloorPage { c, live, query: q, stream, teams, states: &STATE_ORDER })
}

/// The live part of the floor as server-sent events: one at once, then one after each change.
async fn floor_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Query(q): Query<FloorQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let how = super::Liveness { refresh: REFRESH, settle: SETTLE };
    super::live_stream(state.core.devices.watch_floor(), how, move || {
        let (state, p, ctx, q) = (state.clone(), p.clone(), ctx.clone(), q.clone());
        async move {
            let teams = team_names(&state).await;
            live_part(&state, tr, &p, &ctx, &q, &teams).await.ok()?.render().ok()
        }
    })
}
