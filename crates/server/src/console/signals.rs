//! The signals page (issue 14, item 4; MON-2, MON-4): today's device and account signals for
//! those who act on them — security admins and auditors see every PC, a supervisor their own
//! team's — with filters by period, kind, team and PC. The floor's flags link here.

use super::{Chrome, csrf_for, error_text, labels, local_time, render, tr_for};
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_core::signals::{ACCOUNT_SIGNAL_KINDS, DEVICE_SIGNAL_KINDS, SignalFilter};
use mamori_domain::Permission::{DevicesRead, SecurityEventsRead};
use mamori_domain::UnixMillis;
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::OrgKind;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/signals", Needs(DevicesRead), signals_page)
        // The security-events page of the first wave became the signals page's account part.
        .add(Method::GET, "/security-events", Needs(SecurityEventsRead), |_: ()| async {
            Redirect::permanent("/signals")
        })
}

/// Filters, from the query string (no personal data in it: ids and codes only).
#[derive(Debug, Default, serde::Deserialize)]
pub struct SignalQuery {
    /// `today` (the default), `7d` or `30d`.
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub device: String,
}

/// The start of today in Japan (UTC+9), as the list's default period.
pub fn start_of_today_jst(now: UnixMillis) -> UnixMillis {
    const DAY: i64 = 24 * 3600 * 1000;
    const JST: i64 = 9 * 3600 * 1000;
    UnixMillis((now.0 + JST).div_euclid(DAY) * DAY - JST)
}

impl SignalQuery {
    fn since(&self, now: UnixMillis) -> UnixMillis {
        let days = match self.period.as_str() {
            "7d" => 7,
            "30d" => 30,
            _ => return start_of_today_jst(now),
        };
        now.minus(std::time::Duration::from_secs(days * 24 * 3600))
    }

    fn filter(&self, now: UnixMillis) -> SignalFilter {
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        SignalFilter {
            since: self.since(now),
            kind: some(&self.kind),
            team_id: some(&self.team),
            device_id: some(&self.device),
        }
    }
}

pub struct SignalRow {
    pub id: String,
    pub time: String,
    pub kind: String,
    /// The kind's label.
    pub label: String,
    pub device: Option<(String, String)>,
    pub person: String,
    pub details: Vec<String>,
    /// The take-out approval that explains it: shown as "承認済みの持ち出し", not a concern.
    pub take_out: Option<String>,
}

#[derive(Template)]
#[template(path = "signals.html")]
struct SignalsPage {
    c: Chrome,
    rows: Vec<SignalRow>,
    query: SignalQuery,
    /// (code, label) of every kind, for the filter.
    kinds: Vec<(&'static str, String)>,
    teams: Vec<(String, String)>,
    /// The PC the list is narrowed to, by name.
    device_name: Option<String>,
    /// The list reached its limit: narrow it to see the rest.
    truncated: bool,
}

async fn signals_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(query): Query<SignalQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let filter = query.filter(state.core.now());
    let signals = match state.core.signals(&p, &filter, &ctx).await {
        Ok(s) => s,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let device_name = filter.device_id.as_ref().and_then(|id| {
        signals.iter().filter_map(|s| s.device.as_ref()).find(|d| &d.id == id).map(|d| d.hostname.clone())
    });
    let truncated = signals.len() >= mamori_core::signals::MAX_SIGNALS;
    let rows = signals
        .into_iter()
        .map(|s| SignalRow {
            label: labels::event_kind(tr, &s.kind),
            time: local_time(s.time.0),
            device: s.device.map(|d| (d.id, d.hostname)),
            person: s.person.map(|u| format!("{} ({})", u.display_name, u.username)).unwrap_or_default(),
            details: labels::event_details(tr, &s.details),
            kind: s.kind,
            id: s.id,
            take_out: s.take_out,
        })
        .collect();
    // A supervisor's list is their own team already: the filter is for those who see everyone.
    let teams = if p.can(SecurityEventsRead) {
        let teams = state.core.identity.list_org(OrgKind::Team).await.unwrap_or_default();
        teams.into_iter().map(|t| (t.id, t.name)).collect()
    } else {
        Vec::new()
    };
    let kinds = DEVICE_SIGNAL_KINDS
        .iter()
        .chain(ACCOUNT_SIGNAL_KINDS.iter())
        .chain(mamori_core::take_out::TAKE_OUT_SIGNAL_KINDS.iter())
        .map(|k| (*k, labels::event_kind(tr, k)))
        .collect();
    let c = Chrome::new(tr, "signals.title", Some(&p), csrf_for(Some(&p), None), "/signals");
    render(&SignalsPage { c, rows, query, kinds, teams, device_name, truncated }).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_starts_at_midnight_in_tokyo() {
        // 2026-11-28 16:00 UTC is 2026-11-29 01:00 JST: today began at 2026-11-28 15:00 UTC.
        let now = UnixMillis(1_795_881_600_000);
        assert_eq!(start_of_today_jst(now), UnixMillis(1_795_878_000_000));
    }
}
