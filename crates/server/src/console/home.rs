//! The home page per role (issue 14, item 1; MON-1, MON-4, ISMS-6): what each role opens first
//! in the morning — counts that link to the work, problems first. A person with several roles
//! sees a section for each. Counts are read with the viewer's own rights, so a supervisor's are
//! their team's.
//!
//! Requests come from the approvals inbox (issue 15): an operator's own open requests, and what
//! waits for a supervisor's or an admin's decision. Not here yet: policies to acknowledge, with
//! the ISMS registers (issue 18).

use super::signals::start_of_today_jst;
use super::{Chrome, csrf_for, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_core::audit_log::AuditSearch;
use mamori_core::signals::SignalFilter;
use mamori_domain::approval::ApprovalState;
use mamori_domain::{Permission, Role, UnixMillis};

/// One count on the home page, and where its work is.
pub struct Tile {
    pub label: String,
    /// None when it could not be read (shown as "—", never as 0).
    pub count: Option<u64>,
    pub href: String,
    /// Needs someone's attention when above zero: drawn in red and put first.
    pub alarm: bool,
    pub id: &'static str,
}

impl Tile {
    fn new(tr: Tr, label: &str, count: Option<u64>, href: impl Into<String>, id: &'static str) -> Self {
        Tile { label: tr.t(label).to_owned(), count, href: href.into(), alarm: false, id }
    }

    fn alarm(mut self) -> Self {
        self.alarm = true;
        self
    }

    pub fn raised(&self) -> bool {
        self.alarm && self.count.is_some_and(|n| n > 0)
    }
}

/// A section of the home page: one role's work.
pub struct Section {
    pub title: String,
    pub tiles: Vec<Tile>,
    /// Lines of state below the counts (the log's verification, forwarding).
    pub lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct HomePage {
    c: Chrome,
    sections: Vec<Section>,
    roles: Vec<&'static str>,
    totp_enabled: bool,
    totp_required: bool,
}

/// `YYYY-MM-DD` of today in Japan, for the audit page's date filter.
fn today_jst(now: UnixMillis) -> String {
    local_time(start_of_today_jst(now).0).chars().take(10).collect()
}

pub async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let mut sections = Vec::new();
    let has = |r: Role| p.user.roles.contains(&r);
    if has(Role::Operator) && p.can(Permission::CustomersRead) {
        sections.push(operator(&state, tr, &p).await);
    }
    if has(Role::Supervisor) && p.can(Permission::DevicesRead) {
        sections.push(supervisor(&state, tr, &p, &ctx).await);
    }
    if has(Role::SecurityAdmin) {
        sections.push(security_admin(&state, tr, &p, &ctx).await);
    }
    if has(Role::Auditor) && p.can(Permission::AuditRead) {
        sections.push(auditor(&state, tr, &p, &ctx).await);
    }
    for s in &mut sections {
        // Problems first: a raised alarm before everything else, the order kept otherwise.
        s.tiles.sort_by_key(|t| !t.raised());
    }
    let everyone = state.core.identity.totp_required_for_everyone().await.unwrap_or(false);
    let c = Chrome::new(tr, "dashboard.title", Some(&p), csrf_for(Some(&p), None), "/dashboard");
    render(&HomePage {
        c,
        sections,
        roles: p.user.roles.iter().map(|r| super::auth::role_key(*r)).collect(),
        totp_enabled: p.user.totp_enabled,
        totp_required: mamori_domain::identity::totp_required(&p.user.roles, everyone),
    })
}

async fn operator(state: &AppState, tr: Tr, p: &Principal) -> Section {
    let calls = state.core.vault.my_active_calls(p).await.ok().map(|c| c.len() as u64);
    let open = state.core.approvals.inbox(p).await.ok().map(|i| {
        let open = |s| matches!(s, ApprovalState::Pending | ApprovalState::Granted);
        i.mine.iter().filter(|v| open(v.request.state)).count() as u64
    });
    let to_check = state.core.mail_to_check(p).await.ok().map(|n| n as u64);
    Section {
        title: tr.t("home.operator").to_owned(),
        tiles: vec![
            Tile::new(tr, "home.active_calls", calls, "/workspace", "home-active-calls"),
            Tile::new(tr, "home.my_requests", open, "/approvals", "home-my-requests"),
            Tile::new(tr, "home.mail_to_check", to_check, "/mail", "home-mail-to-check").alarm(),
        ],
        lines: Vec::new(),
    }
}

/// Requests waiting for the principal's decision.
async fn to_decide(state: &AppState, tr: Tr, p: &Principal) -> Tile {
    let waiting = state.core.approvals.inbox(p).await.ok().map(|i| i.to_decide.len() as u64);
    Tile::new(tr, "home.to_decide", waiting, "/approvals", "home-to-decide").alarm()
}

/// Active high-severity alerts the principal may see (none without `alerts.read`).
async fn high_alerts(state: &AppState, tr: Tr, p: &Principal) -> Option<Tile> {
    if !p.can(Permission::AlertsRead) {
        return None;
    }
    let count = state.core.detection.active_high_alerts(p).await.ok().map(|n| n as u64);
    Some(Tile::new(tr, "home.high_alerts", count, "/alerts?state=active&days=30", "home-high-alerts").alarm())
}

/// Today's signals the principal may see.
async fn signals_today(state: &AppState, p: &Principal, ctx: &RequestContext) -> Option<u64> {
    let since = start_of_today_jst(state.core.now());
    let filter = SignalFilter { since, kind: None, team_id: None, device_id: None };
    state.core.signals(p, &filter, ctx).await.ok().map(|s| s.len() as u64)
}

async fn supervisor(state: &AppState, tr: Tr, p: &Principal, ctx: &RequestContext) -> Section {
    let floor = state.core.floor(p).await.ok();
    let count = |pred: &dyn Fn(&mamori_core::devices::FloorRow) -> bool| {
        floor.as_ref().map(|rows| rows.iter().filter(|r| pred(r)).count() as u64)
    };
    let state_count = |s: &'static str| count(&|r| r.device.is_some() && r.state.as_str() == s);
    let attention = count(&|r| r.needs_attention());
    let mut tiles = vec![
        Tile::new(tr, "home.attention", attention, "/floor?flag=attention", "home-attention").alarm(),
        to_decide(state, tr, p).await,
    ];
    tiles.extend(high_alerts(state, tr, p).await);
    for s in ["working", "idle", "locked", "off_shift", "offline"] {
        let label = format!("floor.{s}");
        tiles.push(Tile {
            label: tr.t(&label).to_owned(),
            count: state_count(s),
            href: format!("/floor?state={s}"),
            alarm: false,
            id: "home-floor-state",
        });
    }
    tiles.push(
        Tile::new(tr, "home.signals_team", signals_today(state, p, ctx).await, "/signals", "home-signals")
            .alarm(),
    );
    Section { title: tr.t("home.supervisor").to_owned(), tiles, lines: Vec::new() }
}

async fn security_admin(state: &AppState, tr: Tr, p: &Principal, ctx: &RequestContext) -> Section {
    let now = state.core.now();
    let floor = state.core.floor(p).await.ok();
    let out_of_policy = floor.as_ref().map(|rows| {
        rows.iter()
            .filter(|r| r.posture.as_ref().and_then(|p| p.failures.as_ref()).is_some_and(|f| !f.is_empty()))
            .count() as u64
    });
    let users = state.core.identity.list_users(p, ctx).await.ok();
    let locked =
        users.as_ref().map(|u| u.iter().filter(|u| u.locked_until.is_some_and(|t| t > now)).count() as u64);
    let soon = now.plus(std::time::Duration::from_secs(14 * 24 * 3600));
    let expiring = state.core.identity.list_api_tokens(p, ctx).await.ok().map(|tokens| {
        tokens.iter().filter(|t| t.revoked_at.is_none() && t.expires_at > now && t.expires_at < soon).count()
            as u64
    });
    let mut tiles = vec![
        Tile::new(tr, "home.signals_today", signals_today(state, p, ctx).await, "/signals", "home-signals")
            .alarm(),
        to_decide(state, tr, p).await,
        Tile::new(tr, "home.out_of_policy", out_of_policy, "/floor?flag=compliance", "home-out-of-policy")
            .alarm(),
        Tile::new(tr, "home.locked_accounts", locked, "/admin/users?status=locked", "home-locked").alarm(),
        Tile::new(tr, "home.tokens_expiring", expiring, "/admin/tokens", "home-tokens-expiring").alarm(),
    ];
    tiles.extend(high_alerts(state, tr, p).await);
    tiles.extend(super::incidents::reports_due_tile(state, tr, p).await);
    let mut lines = audit_lines(state, tr, p, ctx).await;
    match state.core.audit.delivery_states(p, ctx).await {
        Ok(states) if states.is_empty() => lines.push(tr.t("home.no_forwarding").to_owned()),
        Ok(states) => lines.extend(states.into_iter().map(|d| {
            tr.t("home.forwarding")
                .replace("{name}", &d.name)
                .replace("{behind}", &d.behind.to_string())
                .replace("{time}", &local_time(d.moved_at.0))
        })),
        Err(_) => {}
    }
    Section { title: tr.t("home.security_admin").to_owned(), tiles, lines }
}

/// The log's state: the latest verification from the console and the latest checkpoint.
async fn audit_lines(state: &AppState, tr: Tr, p: &Principal, ctx: &RequestContext) -> Vec<String> {
    let mut lines = Vec::new();
    match state.core.audit.latest_verification(p, ctx).await.ok().flatten() {
        Some(v) if v.outcome == mamori_audit::Outcome::Success => lines.push(
            tr.t("home.verified")
                .replace("{time}", &local_time(v.time.0))
                .replace("{size}", v.details.get("to_size").map_or("?", String::as_str)),
        ),
        Some(v) => lines.push(tr.t("home.verify_failed").replace("{time}", &local_time(v.time.0))),
        None => lines.push(tr.t("home.never_verified").to_owned()),
    }
    if let Ok(Some(cp)) = state.core.audit.latest_audit_checkpoint().await {
        lines.push(
            tr.t("home.checkpoint")
                .replace("{size}", &cp.size.to_string())
                .replace("{time}", &local_time(cp.time.0)),
        );
    }
    lines
}

async fn auditor(state: &AppState, tr: Tr, p: &Principal, ctx: &RequestContext) -> Section {
    let now = state.core.now();
    let today = today_jst(now);
    let from = Some(start_of_today_jst(now));
    let count = |action: &str, detail: Option<(&str, &str)>| {
        let search = AuditSearch {
            actions: Some(vec![action.to_owned()]),
            from,
            detail: detail.map(|(k, v)| (k.to_owned(), v.to_owned())),
            limit: 1,
            ..Default::default()
        };
        async move { state.core.audit.count_audit(p, &search, ctx).await.ok() }
    };
    let mut tiles = vec![
        Tile::new(
            tr,
            "home.reveals_today",
            count("customer.reveal", None).await,
            format!("/audit?action=customer.reveal&from={today}"),
            "home-reveals",
        ),
        Tile::new(
            tr,
            "home.offcall_lookups_today",
            count("customer.lookup", Some(("purpose", "reason"))).await,
            format!("/audit?action=customer.lookup&from={today}"),
            "home-offcall-lookups",
        ),
        Tile::new(
            tr,
            "home.exports_today",
            count("audit.export", None).await,
            format!("/audit?action=audit.export&from={today}"),
            "home-exports",
        ),
        Tile::new(
            tr,
            "home.denied_today",
            {
                let search =
                    AuditSearch { outcome: Some("denied".into()), from, limit: 1, ..Default::default() };
                state.core.audit.count_audit(p, &search, ctx).await.ok()
            },
            format!("/audit?outcome=denied&from={today}"),
            "home-denied",
        )
        .alarm(),
    ];
    tiles.extend(high_alerts(state, tr, p).await);
    tiles.extend(super::incidents::reports_due_tile(state, tr, p).await);
    Section { title: tr.t("home.auditor").to_owned(), tiles, lines: audit_lines(state, tr, p, ctx).await }
}
