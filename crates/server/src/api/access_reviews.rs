//! Access-right reviews [アクセス権の棚卸し] (issue 18, item 3; LEAK-6), `/api/v1/access-reviews`:
//! campaigns, a reviewer's page of entries (50, flagged first), decisions (approve, revoke at
//! once, defer with a reason, escalate), the settings, and a campaign as CSV evidence.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiJson, ApiQuery, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_core::isms::access_reviews::{
    AccessReviewCampaignRecord, AccessReviewEntryRecord, CampaignView, Whose, reviewer_ids,
};
use mamori_domain::isms::access_review::{
    CampaignInput, DecisionInput, EntryKind, Flag, PAGE_SIZE, ReviewSettings,
};
use mamori_proto as proto;
use std::collections::HashMap;

fn named(names: &HashMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_owned())
}

pub(crate) fn campaign_json(
    c: &AccessReviewCampaignRecord,
    mine: i64,
    mine_decided: i64,
    names: &HashMap<String, String>,
) -> proto::AccessReviewCampaignView {
    proto::AccessReviewCampaignView {
        id: c.id.clone(),
        title: c.title.clone(),
        trigger: c.trigger.clone(),
        subject: c
            .subject_user_id
            .as_ref()
            .map(|id| proto::PersonRef { id: id.clone(), name: named(names, id) }),
        started_at: c.started_at.0,
        started_by: named(names, &c.started_by),
        due_at: c.due_at.0,
        escalated_at: c.escalated_at.map(|t| t.0),
        finished_at: c.finished_at.map(|t| t.0),
        entries: c.entries,
        decided: c.decided,
        flagged: c.flagged,
        mine,
        mine_decided,
    }
}

fn entry_json(e: AccessReviewEntryRecord, names: &HashMap<String, String>) -> proto::AccessReviewEntryView {
    proto::AccessReviewEntryView {
        reviewers: reviewer_ids(e.reviewers.as_deref())
            .into_iter()
            .map(|id| proto::PersonRef { name: named(names, &id), id })
            .collect(),
        decided_by: e.decided_by.as_deref().map(|a| named(names, a)),
        user: proto::PersonRef { name: e.user_name, id: e.user_id },
        id: e.id,
        team: e.team_name,
        kind: EntryKind::parse(&e.kind).unwrap_or(EntryKind::Role),
        item: e.item,
        item_name: e.item_name,
        flags: Flag::decode(&e.flags),
        decision: e.decision,
        reason: e.reason,
        decided_at: e.decided_at.map(|t| t.0),
        escalated_at: e.escalated_at.map(|t| t.0),
    }
}

/// The campaigns, newest first (a supervisor: those with entries they review), with the
/// caller's part of each, and the settings.
#[utoipa::path(get, path = "/api/v1/access-reviews", tag = "access_reviews",
    responses((status = 200, body = proto::AccessReviewListView)))]
pub async fn list_access_reviews(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::AccessReviewListView>> {
    let (campaigns, names) = state.core.isms.access_reviews(&p, &ctx).await?;
    let settings = state.core.isms.access_review_settings(&p, &ctx).await?;
    Ok(Json(proto::AccessReviewListView {
        campaigns: campaigns
            .iter()
            .map(|CampaignView { record, mine, mine_decided }| {
                campaign_json(record, *mine, *mine_decided, &names)
            })
            .collect(),
        settings,
    }))
}

/// Starts a campaign over everyone now: the population is frozen and flagged at once.
#[utoipa::path(post, path = "/api/v1/access-reviews", tag = "access_reviews", request_body = CampaignInput,
    responses((status = 201, body = proto::AccessReviewStarted), (status = 422, body = proto::Problem)))]
pub async fn start_access_review(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<CampaignInput>,
) -> ApiResult<(StatusCode, Json<proto::AccessReviewStarted>)> {
    let (id, entries) = state.core.isms.start_access_review(&p, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::AccessReviewStarted { id, entries })))
}

/// Changes the settings: the schedule (0: off), the days a campaign has, the automatic
/// disabling of dormant accounts (0: off).
#[utoipa::path(put, path = "/api/v1/access-reviews/settings", tag = "access_reviews", request_body = ReviewSettings,
    responses((status = 200, body = ReviewSettings), (status = 422, body = proto::Problem)))]
pub async fn set_access_review_settings(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(settings): ApiJson<ReviewSettings>,
) -> ApiResult<Json<ReviewSettings>> {
    state.core.isms.set_access_review_settings(&p, settings, &ctx).await?;
    Ok(Json(settings))
}

/// A page (50) of a campaign's entries, flagged first: a supervisor's own; `whose=all` for
/// security admins and auditors.
#[utoipa::path(get, path = "/api/v1/access-reviews/{id}", tag = "access_reviews",
    params(proto::AccessReviewPageQuery),
    responses((status = 200, body = proto::AccessReviewPageView), (status = 404, body = proto::Problem)))]
pub async fn get_access_review(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<proto::AccessReviewPageQuery>,
) -> ApiResult<Json<proto::AccessReviewPageView>> {
    let whose = if q.whose.as_deref() == Some("all") { Whose::All } else { Whose::Mine };
    let page = state
        .core
        .isms
        .access_review_page(&p, &id, whose, q.open_only.unwrap_or(false), q.offset.unwrap_or(0), &ctx)
        .await?;
    let names = &page.names;
    Ok(Json(proto::AccessReviewPageView {
        campaign: campaign_json(&page.campaign, 0, 0, names),
        total: page.total,
        offset: page.offset,
        limit: PAGE_SIZE,
        progress: page
            .progress
            .iter()
            .map(|g| proto::AccessReviewProgressView {
                reviewers: g.reviewers.clone(),
                entries: g.entries,
                decided: g.decided,
                deferred: g.deferred,
                flagged: g.flagged,
            })
            .collect(),
        entries: page.entries.iter().cloned().map(|e| entry_json(e, names)).collect(),
    }))
}

/// Decides an entry: `approve`, `revoke` (taken away at once, in the same transaction),
/// `defer` (a reason required) or `escalate` (to the security admins).
#[utoipa::path(post, path = "/api/v1/access-reviews/entries/{id}/decision", tag = "access_reviews",
    request_body = DecisionInput,
    responses((status = 200, body = proto::AccessReviewDecided), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 409, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn decide_access_review_entry(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<DecisionInput>,
) -> ApiResult<Json<proto::AccessReviewDecided>> {
    let d = state.core.isms.decide_access_review(&p, &id, input, &ctx).await?;
    Ok(Json(proto::AccessReviewDecided { decision: d.decision, finished: d.finished, removed: d.removed }))
}

/// A campaign as CSV evidence (UTF-8 with a BOM): every entry with its flags, who decided
/// what and when. Security admins and auditors (`isms.read`); audited `access_review.export`.
#[utoipa::path(get, path = "/api/v1/access-reviews/{id}/export", tag = "access_reviews",
    responses((status = 200, description = "The campaign as CSV.", content_type = "text/csv"),
        (status = 403, body = proto::Problem), (status = 404, body = proto::Problem)))]
pub async fn export_access_review(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let (name, bytes) = state.core.isms.export_access_review(&p, &id, &ctx).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}
