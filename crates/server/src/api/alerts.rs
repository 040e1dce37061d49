//! `/api/v1/alerts` and `/api/v1/detection-rules` (issue 16): the alerts the detectors raised,
//! in the caller's people scope, what is done with them, and the rules.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiJson, ApiQuery, IdPath};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mamori_core::detection::{Alert, AlertChange};
use mamori_domain::detect::{RuleId, RuleSet};
use mamori_proto::{self as proto, ErrorCode};

pub(crate) fn alert_json(a: Alert) -> proto::AlertView {
    let r = a.record;
    proto::AlertView {
        id: r.id,
        rule: r.rule,
        subject: r.subject,
        person: a.person.map(|u| u.display_name),
        severity: r.severity,
        state: r.state,
        first_at: r.first_at.0,
        last_at: r.last_at.0,
        hits: r.hits,
        value: r.value,
        threshold: r.threshold,
        window_minutes: r.window_minutes,
        baseline_median: r.baseline_median,
        baseline_mad: r.baseline_mad,
        baseline_hours: r.baseline_hours,
        deviation: r.deviation,
        assignee_id: r.assignee_id,
        state_reason: r.state_reason,
        suppressed_until: r.suppressed_until.map(|t| t.0),
    }
}

#[utoipa::path(get, path = "/api/v1/alerts", tag = "detection", params(proto::AlertQuery),
    responses((status = 200, body = proto::AlertList), (status = 422, body = proto::Problem)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::AlertQuery>,
) -> ApiResult<Json<proto::AlertList>> {
    let states: Vec<&str> = q.state.as_deref().unwrap_or("").split(',').filter(|s| !s.is_empty()).collect();
    let alerts = state.core.detection.alerts(&p, q.days.unwrap_or(7), &states, &ctx).await?;
    Ok(Json(proto::AlertList { alerts: alerts.into_iter().map(alert_json).collect() }))
}

#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "detection",
    responses((status = 200, body = proto::AlertDetailView), (status = 404, body = proto::Problem)))]
pub async fn get_alert(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::AlertDetailView>> {
    let d = state.core.detection.alert(&p, &id, &ctx).await?;
    Ok(Json(proto::AlertDetailView {
        alert: alert_json(d.alert),
        evidence: d.evidence,
        evidence_total: d.evidence_total,
        responses: d
            .responses
            .into_iter()
            .map(|r| proto::AlertResponseView {
                id: r.id,
                kind: r.kind,
                target: r.target,
                state: r.state,
                detail: r.detail,
                created_at: r.created_at.0,
                reversed_at: r.reversed_at.map(|t| t.0),
            })
            .collect(),
    }))
}

/// Acknowledge, assign, suppress (with a reason and an expiry), mark a false positive, or
/// resolve. A change the alert's state no longer allows answers 409.
#[utoipa::path(post, path = "/api/v1/alerts/{id}", tag = "detection", request_body = proto::AlertChangeRequest,
    responses((status = 200, body = proto::AlertView), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn change_alert(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(change): ApiJson<proto::AlertChangeRequest>,
) -> ApiResult<Json<proto::AlertView>> {
    let change = match change {
        proto::AlertChangeRequest::Acknowledge => AlertChange::Acknowledge,
        proto::AlertChangeRequest::Assign { user_id } => AlertChange::Assign { user_id },
        proto::AlertChangeRequest::Suppress { hours, reason } => AlertChange::Suppress { hours, reason },
        proto::AlertChangeRequest::FalsePositive { reason } => AlertChange::FalsePositive { reason },
        proto::AlertChangeRequest::Resolve { reason } => AlertChange::Resolve { reason },
    };
    state.core.detection.update_alert(&p, &id, change, &ctx).await?;
    Ok(Json(alert_json(state.core.detection.alert(&p, &id, &ctx).await?.alert)))
}

/// Reverses an automatic response: a PC Mamori locked is told its supervisor released it;
/// ended sessions are recorded as reversed.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/responses/{response}/reverse", tag = "detection",
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn reverse_response(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path((id, response)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.core.reverse_alert_response(&p, &id, &response, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn rules_json(view: mamori_core::detection::RulesView) -> proto::DetectionRulesView {
    let count = |f: fn(&mamori_core::detection::RuleAlertCount) -> i64| {
        view.counts.iter().map(|c| (c.rule.clone(), f(c))).collect()
    };
    proto::DetectionRulesView {
        alerts_30d: count(|c| c.alerts),
        false_positives_30d: count(|c| c.false_positives),
        rules: view.rules.0.into_iter().map(|(r, s)| (r.as_str().to_owned(), s)).collect(),
        version: view.version.map(|v| v.version),
    }
}

#[utoipa::path(get, path = "/api/v1/detection-rules", tag = "detection",
    responses((status = 200, body = proto::DetectionRulesView)))]
pub async fn get_detection_rules(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::DetectionRulesView>> {
    Ok(Json(rules_json(state.core.detection.rules(&p, &ctx).await?)))
}

/// Changes rules' settings; turning a rule off needs a second security admin's approval when
/// there is one (`approval_required`: ask for the privileged action `set_detection_rules`).
#[utoipa::path(put, path = "/api/v1/detection-rules", tag = "detection", request_body = proto::DetectionRulesChange,
    responses((status = 200, body = proto::DetectionRulesView), (status = 403, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn put_detection_rules(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(change): ApiJson<proto::DetectionRulesChange>,
) -> ApiResult<Json<proto::DetectionRulesView>> {
    let mut rules: RuleSet = state.core.detection.rules(&p, &ctx).await?.rules;
    for (name, settings) in change.rules {
        let rule = RuleId::parse(&name).ok_or_else(|| {
            ApiError::new(ErrorCode::UnknownField, format!("`{name}` is not a detection rule"))
        })?;
        rules.0.insert(rule, settings);
    }
    state.core.detection.set_rules(&p, rules, &ctx).await?;
    Ok(Json(rules_json(state.core.detection.rules(&p, &ctx).await?)))
}
