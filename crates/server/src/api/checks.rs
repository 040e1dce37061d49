//! `/api/v1/checks` and `/api/v1/isms/checks` (issue 18, item 4; ISMS-7, LEAK-2, LEAK-4): the
//! checks a person owes and does (their seat's, or a supervisor's floor check), with photos
//! stored sealed and follow-ups for failed items; the security team's overview and checklists.

use super::ApiResult;
use super::training::image_response;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiJson, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use mamori_core::isms::checks::{
    ChecklistView, ChecksOverview, FollowUpView, MyChecks, NewPhoto, OverdueCheck, Owner, RunView,
};
use mamori_domain::isms::checks::{ChecklistInput, RunInput};
use mamori_proto::{self as proto, ErrorCode};

pub(crate) fn checklist_json(v: ChecklistView) -> proto::ChecklistView {
    let r = v.list.record;
    proto::ChecklistView {
        id: r.id,
        title: r.title,
        items: v.list.items,
        performer: r.performer,
        frequency: r.frequency,
        site_id: r.site_id,
        team_id: r.team_id,
        period: v.period,
        owed: v.owed,
        done: v.done,
    }
}

fn overdue_json(o: OverdueCheck) -> proto::OverdueCheckView {
    let (user_id, team_id) = match o.owner {
        Owner::Person(u) => (Some(u), None),
        Owner::Team(t) => (None, Some(t)),
    };
    proto::OverdueCheckView {
        checklist_id: o.checklist_id,
        title: o.title,
        user_id,
        team_id,
        who: o.who,
        period: o.period,
        days: o.days,
    }
}

fn run_json(v: RunView) -> proto::CheckRunView {
    let r = v.record;
    proto::CheckRunView {
        id: r.id,
        checklist_id: r.checklist_id,
        checklist_title: v.checklist,
        period: r.period,
        user_id: r.user_id,
        user_name: v.user,
        team_name: v.team,
        done_at: r.done_at.0,
        answers: v
            .answers
            .into_iter()
            .map(|(text, a)| proto::CheckAnswerView {
                item: a.item,
                text,
                result: a.result.as_str().to_owned(),
                note: a.note,
            })
            .collect(),
        note: r.note,
        failed: r.failed,
        photos: v
            .photos
            .into_iter()
            .map(|p| proto::CheckPhotoView { id: p.id, item: p.item, media_type: p.media_type, size: p.size })
            .collect(),
    }
}

fn follow_up_json(v: FollowUpView) -> proto::CheckFollowUpView {
    let r = v.record;
    proto::CheckFollowUpView {
        id: r.id,
        run_id: r.run_id,
        checklist_title: v.checklist,
        item: r.item,
        item_text: r.item_text,
        note: r.note,
        user_name: v.user,
        opened_at: r.opened_at.0,
        due_on: r.due_on,
        overdue: v.overdue,
        resolved_at: r.resolved_at.map(|t| t.0),
        resolved_by_name: v.resolver,
        resolution: r.resolution,
    }
}

pub(crate) fn my_json(m: MyChecks) -> proto::MyChecksView {
    proto::MyChecksView {
        checks: m
            .checks
            .into_iter()
            .map(|c| proto::MyCheckView {
                checklist: checklist_json(ChecklistView {
                    period: c.period,
                    owed: 1,
                    done: usize::from(c.done.is_some()),
                    site: None,
                    team: None,
                    list: c.list,
                }),
                done_run_id: c.done,
                overdue: c.overdue,
            })
            .collect(),
        follow_ups: m.follow_ups.into_iter().map(follow_up_json).collect(),
        runs: m.runs.into_iter().map(run_json).collect(),
        supervisor: m.supervisor,
    }
}

pub(crate) fn overview_json(o: ChecksOverview) -> proto::ChecksOverviewView {
    proto::ChecksOverviewView {
        overdue: o.overdue.into_iter().map(overdue_json).collect(),
        follow_ups: o.follow_ups.into_iter().map(follow_up_json).collect(),
        checklists: o.checklists.into_iter().map(checklist_json).collect(),
        runs: o.runs.into_iter().map(run_json).collect(),
    }
}

/// My checks: what I owe this period (overdue first), the follow-ups I resolve (a
/// supervisor: the team's) or my own open ones, the latest runs.
#[utoipa::path(get, path = "/api/v1/checks", tag = "checks",
    responses((status = 200, body = proto::MyChecksView)))]
pub async fn list_my_checks(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::MyChecksView>> {
    Ok(Json(my_json(state.core.isms.my_checks(&p, &ctx).await?)))
}

/// Records a check for the current period: every item answered once (`ok`, `not_ok`, `na`,
/// a note), photos optional (base64 JPEG, PNG or WebP, 5 MiB each, 4 at most); each item not
/// ok opens a follow-up. Nothing is written when anything is refused.
#[utoipa::path(post, path = "/api/v1/checks/runs", tag = "checks", request_body = proto::CheckRunInput,
    responses((status = 201, body = proto::Created), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn record_check_run(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<proto::CheckRunInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let mut photos = Vec::with_capacity(input.photos.len());
    for photo in input.photos {
        let content = base64::engine::general_purpose::STANDARD.decode(photo.data.trim()).map_err(|_| {
            ApiError::new(ErrorCode::InvalidValue, "a photo's data is base64 of the image").field("photos")
        })?;
        photos.push(NewPhoto { item: photo.item, media_type: photo.media_type, content });
    }
    let run = RunInput { checklist_id: input.checklist_id, answers: input.answers, note: input.note };
    let id = state.core.isms.record_check_run(&p, run, photos, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}

/// Resolves a follow-up of my team (a supervisor) with what was done.
#[utoipa::path(post, path = "/api/v1/checks/follow-ups/{id}/resolve", tag = "checks",
    request_body = proto::CheckResolveInput,
    responses((status = 204), (status = 403, body = proto::Problem), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn resolve_check_follow_up(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<proto::CheckResolveInput>,
) -> ApiResult<StatusCode> {
    state.core.isms.resolve_check_follow_up(&p, &id, &input.note, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A photo of a run: the person who took it or a supervisor of the run's team (opened from
/// its seal, checked, audited).
#[utoipa::path(get, path = "/api/v1/checks/photos/{id}", tag = "checks",
    responses((status = 200, description = "The photo.",
        content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"))),
        (status = 403, body = proto::Problem), (status = 404, body = proto::Problem)))]
pub async fn get_check_photo(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let (media_type, bytes) = state.core.isms.check_photo(&p, &id, &ctx).await?;
    Ok(image_response(&media_type, bytes))
}

/// The overview: overdue checks first, the follow-ups (open first), the checklists with this
/// period's progress, the latest runs.
#[utoipa::path(get, path = "/api/v1/isms/checks", tag = "isms",
    responses((status = 200, body = proto::ChecksOverviewView)))]
pub async fn isms_checks_overview(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::ChecksOverviewView>> {
    Ok(Json(overview_json(state.core.isms.checks_overview(&p, &ctx).await?)))
}

/// Any run's photo (`isms.read`).
#[utoipa::path(get, path = "/api/v1/isms/checks/photos/{id}", tag = "isms",
    responses((status = 200, description = "The photo.",
        content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"))),
        (status = 404, body = proto::Problem)))]
pub async fn get_isms_check_photo(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let (media_type, bytes) = state.core.isms.check_photo(&p, &id, &ctx).await?;
    Ok(image_response(&media_type, bytes))
}

/// Makes a checklist: title, items, who does it (`self`, `supervisor`), how often, scope.
#[utoipa::path(post, path = "/api/v1/isms/checks/checklists", tag = "isms", request_body = ChecklistInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn create_checklist(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<ChecklistInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.save_checklist(&p, None, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}

/// Changes a checklist (its runs keep the answers they were given).
#[utoipa::path(put, path = "/api/v1/isms/checks/checklists/{id}", tag = "isms", request_body = ChecklistInput,
    responses((status = 200, body = proto::Created), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn update_checklist(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<ChecklistInput>,
) -> ApiResult<Json<proto::Created>> {
    let id = state.core.isms.save_checklist(&p, Some(&id), input, &ctx).await?;
    Ok(Json(proto::Created { id }))
}

/// Retires a checklist: nobody owes it any more; its runs and follow-ups stay.
#[utoipa::path(post, path = "/api/v1/isms/checks/checklists/{id}/retire", tag = "isms",
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn retire_checklist(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    state.core.isms.retire_checklist(&p, &id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resolves any follow-up (`isms.manage`).
#[utoipa::path(post, path = "/api/v1/isms/checks/follow-ups/{id}/resolve", tag = "isms",
    request_body = proto::CheckResolveInput,
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn resolve_isms_check_follow_up(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<proto::CheckResolveInput>,
) -> ApiResult<StatusCode> {
    state.core.isms.resolve_check_follow_up(&p, &id, &input.note, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}
