//! Access-right reviews [アクセス権の棚卸し] (issue 18, item 3; LEAK-6) in the console.
//!
//! - `/access-reviews`: the campaigns (a supervisor: those with entries they review) with their
//!   progress; for security admins the form to start one and the settings (schedule, days,
//!   dormant accounts);
//! - `/access-reviews/{id}`: a campaign's entries, 50 a page, flagged first — people, teams,
//!   client companies and PCs by name — each reviewer's progress, and the decisions: approve,
//!   defer (a reason), escalate, and revoke after a confirmation that says what goes at once;
//! - `/access-reviews/{id}/export` is the API's CSV (security admins, auditors).

use super::isms::jst_minute;
use super::{Chrome, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_core::CoreError;
use mamori_core::isms::access_reviews::{AccessReviewEntryRecord, Whose, reviewer_ids};
use mamori_domain::Permission::{AccessReviewsDecide, AccessReviewsManage, AccessReviewsRead, IsmsRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::isms::access_review::{
    CampaignInput, Decision, DecisionInput, Flag, PAGE_SIZE, ReviewSettings,
};
use std::collections::HashMap;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/access-reviews", Needs(AccessReviewsRead), list_page)
        .add(Method::POST, "/access-reviews", Needs(AccessReviewsManage), start)
        .add(Method::POST, "/access-reviews/settings", Needs(AccessReviewsManage), save_settings)
        .add(Method::GET, "/access-reviews/{id}", Needs(AccessReviewsRead), campaign_page)
        .add(Method::GET, "/access-reviews/entries/{id}/revoke", Needs(AccessReviewsDecide), confirm_revoke)
        .add(Method::POST, "/access-reviews/entries/{id}/decision", Needs(AccessReviewsDecide), decide)
}

fn is_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

fn not_found(tr: Tr) -> Response {
    super::message_page(tr, StatusCode::NOT_FOUND, "access_reviews.not_found")
}

fn refused_page(tr: Tr, e: &CoreError) -> Response {
    super::message_page_text(tr, crate::problem::status_of(e), error_text(tr, e))
}

fn word(tr: Tr, section: &str, code: &str) -> String {
    tr.get(&format!("{section}.{code}")).map_or_else(|| code.to_owned(), str::to_owned)
}

/// What an entry names, in words: a role by its label, a client company or PC by its name.
fn item_text(tr: Tr, e: &AccessReviewEntryRecord) -> String {
    match e.kind.as_str() {
        "role" => word(tr, "role", &e.item),
        _ => e.item_name.clone(),
    }
}

fn names_of(ids: &[String], names: &HashMap<String, String>) -> String {
    ids.iter().map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone())).collect::<Vec<_>>().join("、")
}

/// Only back to a campaign's page.
fn safe_back(back: &str, campaign: &str) -> String {
    if back.starts_with(&format!("/access-reviews/{campaign}"))
        && !back.contains("//")
        && !back.contains('\\')
    {
        back.to_owned()
    } else {
        format!("/access-reviews/{campaign}")
    }
}

/// Percent-encodes a path and query to travel as one query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn with_param(url: &str, key: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let kv = format!("{key}={value}");
    let mut parts: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("done=") && !p.starts_with("error="))
        .collect();
    parts.push(&kv);
    format!("{path}?{}", parts.join("&"))
}

// ---------------------------------------------------------------------------------------------
// The campaigns.

pub struct CampaignRow {
    pub id: String,
    pub title: String,
    pub trigger: String,
    pub subject: Option<String>,
    pub started: String,
    pub due: String,
    pub overdue: bool,
    pub status: String,
    pub status_class: &'static str,
    pub decided: i64,
    pub entries: i64,
    pub percent: i64,
    pub flagged: i64,
    pub mine: i64,
    pub mine_decided: i64,
}

#[derive(Template)]
#[template(path = "access_reviews.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<CampaignRow>,
    can_manage: bool,
    settings: ReviewSettings,
    form_error: Option<String>,
    title_value: String,
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    done: Option<String>,
}

async fn list_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    list_view(&state, tr, &p, &ctx, q.done.as_deref(), None).await
}

async fn list_view(
    state: &AppState,
    tr: Tr,
    p: &mamori_core::Principal,
    ctx: &mamori_audit::RequestContext,
    done: Option<&str>,
    refused: Option<(StatusCode, String, String)>,
) -> Response {
    let (campaigns, names) = match state.core.isms.access_reviews(p, ctx).await {
        Ok(c) => c,
        Err(e) => return refused_page(tr, &e),
    };
    let settings = state.core.isms.access_review_settings(p, ctx).await.unwrap_or_default();
    let now = state.core.now();
    let rows = campaigns
        .into_iter()
        .map(|v| {
            let c = v.record;
            let overdue = c.finished_at.is_none() && c.due_at <= now;
            let (status, status_class) = if c.finished_at.is_some() {
                (tr.t("access_reviews.status_finished").to_owned(), "ok")
            } else if c.escalated_at.is_some() {
                (tr.t("access_reviews.status_escalated").to_owned(), "warn")
            } else if overdue {
                (tr.t("access_reviews.status_overdue").to_owned(), "warn")
            } else {
                (tr.t("access_reviews.status_open").to_owned(), "state-idle")
            };
            CampaignRow {
                percent: if c.entries > 0 { c.decided * 100 / c.entries } else { 100 },
                subject: c
                    .subject_user_id
                    .as_ref()
                    .map(|s| names.get(s).cloned().unwrap_or_else(|| s.clone())),
                trigger: word(tr, "access_reviews.trigger", &c.trigger),
                started: jst_minute(c.started_at.0),
                due: jst_minute(c.due_at.0),
                overdue,
                status,
                status_class,
                decided: c.decided,
                entries: c.entries,
                flagged: c.flagged,
                mine: v.mine,
                mine_decided: v.mine_decided,
                id: c.id,
                title: c.title,
            }
        })
        .collect();
    let mut c = Chrome::new(tr, "access_reviews.title", Some(p), csrf_for(Some(p), None), "/access-reviews");
    if let Some(k) = done.filter(|k| ["settings"].contains(k)) {
        c.notice = tr.get(&format!("access_reviews.done_{k}")).map(str::to_owned);
    }
    let (status, form_error, title_value) = match refused {
        Some((s, e, t)) => (s, Some(e), t),
        None => (StatusCode::OK, None, String::new()),
    };
    let page =
        ListPage { c, rows, can_manage: p.can(AccessReviewsManage), settings, form_error, title_value };
    (status, render(&page)).into_response()
}

async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let title = form.text("title").to_owned();
    let due_days = form.text("due_days").trim().parse::<i64>().ok();
    let input = CampaignInput { title: title.clone(), due_days };
    match state.core.isms.start_access_review(&p, input, &ctx).await {
        Ok((id, _)) => Redirect::to(&format!("/access-reviews/{id}?whose=all&done=started")).into_response(),
        Err(e @ CoreError::Invalid { .. }) => {
            let text = error_text(tr, &e);
            list_view(&state, tr, &p, &ctx, None, Some((StatusCode::UNPROCESSABLE_ENTITY, text, title))).await
        }
        Err(e) => refused_page(tr, &e),
    }
}

async fn save_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let num = |k: &str| form.text(k).trim().parse::<i64>().unwrap_or(-1);
    let settings = ReviewSettings {
        every_months: num("every_months"),
        due_days: num("due_days"),
        disable_dormant_days: if form.text("disable_dormant") == "on" {
            num("disable_dormant_days")
        } else {
            0
        },
    };
    match state.core.isms.set_access_review_settings(&p, settings, &ctx).await {
        Ok(()) => Redirect::to("/access-reviews?done=settings").into_response(),
        Err(e @ CoreError::Invalid { .. }) => {
            let text = error_text(tr, &e);
            list_view(
                &state,
                tr,
                &p,
                &ctx,
                None,
                Some((StatusCode::UNPROCESSABLE_ENTITY, text, String::new())),
            )
            .await
        }
        Err(e) => refused_page(tr, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// One campaign.

pub struct EntryRow {
    pub id: String,
    pub person: String,
    pub team: String,
    pub kind: String,
    pub item: String,
    pub flags: Vec<(String, String)>,
    pub reviewers: String,
    pub decision: Option<String>,
    pub decision_class: &'static str,
    pub decided: String,
    pub reason: String,
    pub escalated: bool,
    /// The reader may decide it (their entry, or a security admin's; not their own access).
    pub can_decide: bool,
}

pub struct ProgressRow {
    pub reviewers: String,
    pub decided: i64,
    pub entries: i64,
    pub deferred: i64,
    pub flagged: i64,
    pub percent: i64,
}

#[derive(Template)]
#[template(path = "access_review.html")]
struct CampaignPage {
    c: Chrome,
    id: String,
    title: String,
    trigger: String,
    subject: Option<String>,
    started: String,
    started_by: String,
    due: String,
    status: String,
    status_class: &'static str,
    decided: i64,
    entries_total: i64,
    flagged: i64,
    progress: Vec<ProgressRow>,
    rows: Vec<EntryRow>,
    showing: String,
    prev: Option<String>,
    next: Option<String>,
    whose_all: bool,
    can_all: bool,
    open_only: bool,
    can_export: bool,
    back: String,
    /// `back`, percent-encoded for a query.
    back_q: String,
    mine_href: String,
    all_href: String,
    open_href: String,
}

#[derive(serde::Deserialize, Default)]
struct PageQuery {
    whose: Option<String>,
    open: Option<String>,
    offset: Option<i64>,
    done: Option<String>,
    error: Option<String>,
}

async fn campaign_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    let whose = if q.whose.as_deref() == Some("all") { Whose::All } else { Whose::Mine };
    let open_only = q.open.as_deref() == Some("1");
    let offset = q.offset.unwrap_or(0).max(0);
    let page = match state.core.isms.access_review_page(&p, &id, whose, open_only, offset, &ctx).await {
        Ok(page) => page,
        Err(CoreError::NotFound { .. }) => return not_found(tr),
        Err(e) => return refused_page(tr, &e),
    };
    let names = &page.names;
    let campaign = &page.campaign;
    let now = state.core.now();
    let admin = p.can(AccessReviewsManage);
    let rows = page
        .entries
        .iter()
        .map(|e| {
            let ids = reviewer_ids(e.reviewers.as_deref());
            let open = matches!(e.decision.as_deref(), None | Some("defer"));
            let mine = if e.reviewers.is_none() { admin } else { admin || ids.contains(&p.user.id) };
            let decision = e.decision.as_deref().map(|d| word(tr, "access_reviews.decision", d));
            let decision_class = match e.decision.as_deref() {
                Some("approve") => "ok",
                Some("revoke") => "warn",
                Some(_) => "state-idle",
                None => "",
            };
            let decided = match (&e.decided_by, e.decided_at) {
                (Some(by), Some(at)) => {
                    format!("{} · {}", names.get(by).cloned().unwrap_or_else(|| by.clone()), jst_minute(at.0))
                }
                _ => String::new(),
            };
            EntryRow {
                id: e.id.clone(),
                person: e.user_name.clone(),
                team: e.team_name.clone(),
                kind: word(tr, "access_reviews.kind", &e.kind),
                item: item_text(tr, e),
                flags: Flag::decode(&e.flags)
                    .into_iter()
                    .map(|f| {
                        (
                            word(tr, "access_reviews.flag", f.as_str()),
                            word(tr, "access_reviews.flag_hint", f.as_str()),
                        )
                    })
                    .collect(),
                reviewers: if e.reviewers.is_none() {
                    tr.t("access_reviews.security_admins").to_owned()
                } else {
                    names_of(&ids, names)
                },
                decision,
                decision_class,
                decided,
                reason: e.reason.clone(),
                escalated: e.escalated_at.is_some(),
                can_decide: page.can_decide && open && mine && e.user_id != p.user.id,
            }
        })
        .collect();
    let progress = page
        .progress
        .iter()
        .map(|g| ProgressRow {
            reviewers: if g.reviewers.is_empty() {
                tr.t("access_reviews.security_admins").to_owned()
            } else {
                g.reviewers.join("、")
            },
            decided: g.decided,
            entries: g.entries,
            deferred: g.deferred,
            flagged: g.flagged,
            percent: if g.entries > 0 { g.decided * 100 / g.entries } else { 100 },
        })
        .collect();
    let whose_all = page.whose == Whose::All;
    let query = |whose_all: bool, open_only: bool, offset: i64| {
        let mut parts = Vec::new();
        if whose_all {
            parts.push("whose=all".to_owned());
        }
        if open_only {
            parts.push("open=1".to_owned());
        }
        if offset > 0 {
            parts.push(format!("offset={offset}"));
        }
        if parts.is_empty() {
            format!("/access-reviews/{id}")
        } else {
            format!("/access-reviews/{id}?{}", parts.join("&"))
        }
    };
    let (status, status_class) = if campaign.finished_at.is_some() {
        (tr.t("access_reviews.status_finished").to_owned(), "ok")
    } else if campaign.escalated_at.is_some() {
        (tr.t("access_reviews.status_escalated").to_owned(), "warn")
    } else if campaign.due_at <= now {
        (tr.t("access_reviews.status_overdue").to_owned(), "warn")
    } else {
        (tr.t("access_reviews.status_open").to_owned(), "state-idle")
    };
    let shown = page.entries.len() as i64;
    let showing = if page.total == 0 {
        String::new()
    } else {
        tr.t("access_reviews.showing")
            .replace("{from}", &(page.offset + 1).to_string())
            .replace("{to}", &(page.offset + shown).to_string())
            .replace("{total}", &page.total.to_string())
    };
    let mut c =
        Chrome::new(tr, "access_reviews.campaign", Some(&p), csrf_for(Some(&p), None), "/access-reviews");
    if let Some(k) = q.done.as_deref().filter(|k| ["started", "decided", "revoked", "finished"].contains(k)) {
        c.notice = tr.get(&format!("access_reviews.done_{k}")).map(str::to_owned);
    }
    if let Some(k) = q.error.as_deref().filter(|k| ["reason_required", "not_open", "too_long"].contains(k)) {
        c.error = tr.get(&format!("access_reviews.error_{k}")).map(str::to_owned);
    }
    render(&CampaignPage {
        c,
        id: id.clone(),
        title: campaign.title.clone(),
        trigger: word(tr, "access_reviews.trigger", &campaign.trigger),
        subject: page.subject_name.clone(),
        started: jst_minute(campaign.started_at.0),
        started_by: if campaign.started_by == "system" {
            tr.t("access_reviews.by_mamori").to_owned()
        } else {
            names.get(&campaign.started_by).cloned().unwrap_or_default()
        },
        due: jst_minute(campaign.due_at.0),
        status,
        status_class,
        decided: campaign.decided,
        entries_total: campaign.entries,
        flagged: campaign.flagged,
        progress,
        rows,
        showing,
        prev: (page.offset > 0).then(|| query(whose_all, open_only, (page.offset - PAGE_SIZE).max(0))),
        next: (page.offset + shown < page.total)
            .then(|| query(whose_all, open_only, page.offset + PAGE_SIZE)),
        whose_all,
        can_all: p.can(IsmsRead),
        open_only,
        can_export: p.can(IsmsRead),
        back: query(whose_all, open_only, page.offset),
        back_q: encode(&query(whose_all, open_only, page.offset)),
        mine_href: query(false, open_only, 0),
        all_href: query(true, open_only, 0),
        open_href: query(whose_all, !open_only, 0),
    })
}

#[derive(Template)]
#[template(path = "access_review_revoke.html")]
struct RevokePage {
    c: Chrome,
    question: String,
    effect: String,
    action: String,
    back: String,
}

#[derive(serde::Deserialize, Default)]
struct BackQuery {
    back: Option<String>,
}

/// "Revoke 通販A社 from 山田 花子?" — and what goes at once.
async fn confirm_revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<BackQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    let (entry, _) = match state.core.isms.access_review_entry(&p, &id, &ctx).await {
        Ok(e) => e,
        Err(CoreError::NotFound { .. }) => return not_found(tr),
        Err(e) => return refused_page(tr, &e),
    };
    let back = safe_back(q.back.as_deref().unwrap_or(""), &entry.campaign_id);
    let question = tr
        .t("access_reviews.revoke_question")
        .replace("{item}", &item_text(tr, &entry))
        .replace("{person}", &entry.user_name);
    let effect = tr.t(&format!("access_reviews.revoke_effect_{}", entry.kind)).to_owned();
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), "/access-reviews");
    render(&RevokePage {
        c,
        question,
        effect,
        action: format!("/access-reviews/entries/{id}/decision"),
        back,
    })
}

async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    let decision = match form.text("decision") {
        "approve" => Decision::Approve,
        "revoke" => Decision::Revoke,
        "defer" => Decision::Defer,
        "escalate" => Decision::Escalate,
        _ => {
            return super::message_page(
                tr,
                StatusCode::UNPROCESSABLE_ENTITY,
                "access_reviews.error_decision",
            );
        }
    };
    let campaign = form.text("campaign").to_owned();
    let back = if is_uuid(&campaign) {
        safe_back(form.text("back"), &campaign)
    } else {
        "/access-reviews".to_owned()
    };
    let input = DecisionInput { decision, reason: form.text("reason").to_owned() };
    match state.core.isms.decide_access_review(&p, &id, input, &ctx).await {
        Ok(d) => {
            let done = if d.finished {
                "finished"
            } else if decision == Decision::Revoke {
                "revoked"
            } else {
                "decided"
            };
            Redirect::to(&with_param(&back, "done", done)).into_response()
        }
        Err(CoreError::Invalid { message, .. }) => {
            let code = if message == "required" { "reason_required" } else { "too_long" };
            Redirect::to(&with_param(&back, "error", code)).into_response()
        }
        Err(CoreError::Conflict(_)) => Redirect::to(&with_param(&back, "error", "not_open")).into_response(),
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e) => refused_page(tr, &e),
    }
}
