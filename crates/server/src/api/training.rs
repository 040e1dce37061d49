//! Training (issue 18, item 2; ISMS-8, TW-13). `/api/v1/training`: the courses for the caller,
//! each to read, take (the quiz in a new order each time, graded on the server: the right
//! answers are never sent) and certify (PDF); `/api/v1/isms/training`: the security admin's
//! side — courses, images, assignments (by hand or to the people involved in an incident),
//! everyone overdue, reminders, and the option that makes customer lookups wait for onboarding.

use super::ApiResult;
use crate::AppState;
use crate::console::isms::jst_minute;
use crate::console::tr_for;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiJson, ApiQuery, IdPath};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_core::isms::training::{Certificate, CourseStatus, OwedRow};
use mamori_documents::{Column, TableReport};
use mamori_domain::Role;
use mamori_domain::isms::training::{AssignInput, CourseInput, Standing};
use mamori_proto::{self as proto, ErrorCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A person owing a course.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OwedJson {
    pub user_id: String,
    pub name: String,
    pub course_id: String,
    pub course_title: String,
    /// `YYYY-MM-DD` (Japan), when a due day is set.
    pub due_on: Option<String>,
    pub overdue: bool,
}

fn owed_json(o: OwedRow) -> OwedJson {
    OwedJson {
        user_id: o.user_id,
        name: o.name,
        course_id: o.course_id,
        course_title: o.course_title,
        due_on: o.due_on,
        overdue: o.overdue,
    }
}

/// A course in force with its status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CourseStatusJson {
    pub id: String,
    /// `onboarding`, `annual` or `topic`.
    pub kind: String,
    pub title: String,
    pub title_en: String,
    pub pass_mark: i64,
    pub roles: Vec<Role>,
    pub questions: usize,
    /// People done with it (passed; within the year for an annual course).
    pub done: usize,
    /// People owing it, overdue first.
    pub owed: Vec<OwedJson>,
}

fn status_json(s: CourseStatus) -> CourseStatusJson {
    CourseStatusJson {
        id: s.course.record.id.clone(),
        kind: s.course.kind.as_str().to_owned(),
        title: s.course.record.title.clone(),
        title_en: s.course.record.title_en.clone(),
        pass_mark: s.course.record.pass_mark,
        roles: s.course.roles.clone(),
        questions: s.course.question_count(),
        done: s.done,
        owed: s.owed.into_iter().map(owed_json).collect(),
    }
}

/// Every course in force, everyone overdue, the policy option.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrainingOverviewJson {
    /// Customer lookups require the onboarding courses passed.
    pub lookups_require_onboarding: bool,
    /// Every (person, course) past its due day, the longest overdue first.
    pub overdue: Vec<OwedJson>,
    pub courses: Vec<CourseStatusJson>,
}

/// Every course in force with who owes it, everyone overdue, and the policy option.
#[utoipa::path(get, path = "/api/v1/isms/training", tag = "isms",
    responses((status = 200, body = TrainingOverviewJson)))]
pub async fn list_isms_training(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<TrainingOverviewJson>> {
    let o = state.core.isms.training_overview(&p, &ctx).await?;
    Ok(Json(TrainingOverviewJson {
        lookups_require_onboarding: o.lookups_require_onboarding,
        overdue: o.overdue.into_iter().map(owed_json).collect(),
        courses: o.courses.into_iter().map(status_json).collect(),
    }))
}

/// Creates a course with its quiz (a course never changes afterwards: retire it and create its
/// successor). 422 names the field: `questions` (none, or a bad one: the message names it),
/// `pass_mark` (1–100), …; nothing is written.
#[utoipa::path(post, path = "/api/v1/isms/training", tag = "isms", request_body = CourseInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn create_isms_training(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<CourseInput>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.create_training_course(&p, input, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id })))
}

/// Adds an image to a course: the body is the image (PNG, JPEG, GIF or WebP, at most 512 KiB),
/// `Content-Type` its type — checked against the content. The course's text shows it as
/// `![…](/training/images/<id>)`.
#[utoipa::path(post, path = "/api/v1/isms/training/{id}/images", tag = "isms",
    request_body(content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"),
        (Vec<u8> = "image/webp"))),
    responses((status = 201, body = proto::Created), (status = 404, body = proto::Problem),
        (status = 413, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn add_isms_training_image(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<(StatusCode, Json<proto::Created>)> {
    let claimed = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::BodyTooLarge, "an image may be at most 512 KiB")
        } else {
            ApiError::new(ErrorCode::BodyUnreadable, "the request body could not be read")
        }
    })?;
    let image = state.core.isms.add_training_image(&p, &id, claimed.as_deref(), &body, &ctx).await?;
    Ok((StatusCode::CREATED, Json(proto::Created { id: image })))
}

/// Who was assigned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssignedJson {
    pub user_ids: Vec<String>,
}

/// Assigns a course to people, or (`incident_id` alone) to the people involved in an incident:
/// its reporter and whom its alerts are about.
#[utoipa::path(post, path = "/api/v1/isms/training/{id}/assign", tag = "isms", request_body = AssignInput,
    responses((status = 200, body = AssignedJson), (status = 404, body = proto::Problem),
        (status = 409, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn assign_isms_training(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<AssignInput>,
) -> ApiResult<Json<AssignedJson>> {
    let user_ids = state.core.isms.assign_training(&p, &id, input, &ctx).await?;
    Ok(Json(AssignedJson { user_ids }))
}

/// Retires a course: nobody owes it any more; attempts and certificates stay.
#[utoipa::path(post, path = "/api/v1/isms/training/{id}/retire", tag = "isms",
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn retire_isms_training(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    state.core.isms.retire_training_course(&p, &id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a reminder did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrainingRemindedJson {
    pub overdue: usize,
    /// Reminders queued (people with a mail address; once a day each).
    pub mailed: usize,
}

/// Reminds by e-mail everyone overdue.
#[utoipa::path(post, path = "/api/v1/isms/training/remind", tag = "isms",
    responses((status = 200, body = TrainingRemindedJson)))]
pub async fn remind_isms_training(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<TrainingRemindedJson>> {
    let (overdue, mailed) = state.core.isms.remind_training(&p, &ctx).await?;
    Ok(Json(TrainingRemindedJson { overdue, mailed }))
}

/// The policy option.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingOption {
    /// Customer lookups require the onboarding courses passed.
    pub lookups_require_onboarding: bool,
}

/// Turns the option "customer lookups require the onboarding courses passed" on or off.
#[utoipa::path(put, path = "/api/v1/isms/training/option", tag = "isms", request_body = TrainingOption,
    responses((status = 200, body = TrainingOption), (status = 422, body = proto::Problem)))]
pub async fn set_isms_training_option(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<TrainingOption>,
) -> ApiResult<Json<TrainingOption>> {
    state.core.isms.set_lookups_require_onboarding(&p, body.lookups_require_onboarding, &ctx).await?;
    Ok(Json(body))
}

/// A course for the caller.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyCourseJson {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub title_en: String,
    /// `owed`, `overdue` or `done`.
    pub state: String,
    pub due_on: Option<String>,
    /// When the caller last passed it (Unix ms).
    pub passed_at: Option<i64>,
}

fn state_of(s: Standing) -> (&'static str, Option<String>) {
    match s {
        Standing::Done => ("done", None),
        Standing::Owed { due, overdue } => {
            (if overdue { "overdue" } else { "owed" }, due.map(|d| d.to_string()))
        }
    }
}

/// The courses for the caller, those owed first, and what keeps them from looking customers up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyTrainingJson {
    pub courses: Vec<MyCourseJson>,
    pub lookups_need: Vec<proto::PrerequisiteView>,
}

/// The courses for the caller (in scope or assigned), owed ones first, and what keeps them from
/// looking customers up (the pledge and onboarding, when the options are on).
#[utoipa::path(get, path = "/api/v1/training", tag = "training",
    responses((status = 200, body = MyTrainingJson)))]
pub async fn list_my_training(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<MyTrainingJson>> {
    let mine = state.core.isms.my_training(&p, &ctx).await?;
    let needs = state.core.vault.lookup_prerequisites(&p).await?;
    Ok(Json(MyTrainingJson {
        courses: mine
            .into_iter()
            .map(|m| {
                let (state, due_on) = state_of(m.standing);
                MyCourseJson {
                    id: m.course.record.id.clone(),
                    kind: m.course.kind.as_str().to_owned(),
                    title: m.course.record.title.clone(),
                    title_en: m.course.record.title_en.clone(),
                    state: state.to_owned(),
                    due_on,
                    passed_at: m.last_pass.map(|a| a.submitted_at.0),
                }
            })
            .collect(),
        lookups_need: needs
            .into_iter()
            .map(|n| proto::PrerequisiteView {
                reason: n.reason.to_owned(),
                object: n.object,
                title: n.title,
                href: n.href,
            })
            .collect(),
    }))
}

/// A quiz question as the taker sees it: answer it by `index`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuizQuestionJson {
    /// The question's number in the course (from 0): what an answer names.
    pub index: usize,
    pub text: String,
    /// Answer with the position of the choice (from 0).
    pub choices: Vec<String>,
}

/// An attempt's result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttemptJson {
    pub id: String,
    pub submitted_at: i64,
    pub correct: i64,
    pub total: i64,
    /// Right answers (%).
    pub score: i64,
    pub pass_mark: i64,
    pub passed: bool,
}

/// A course to read and take.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CourseJson {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub title_en: String,
    pub summary: String,
    pub summary_en: String,
    /// Markdown as written.
    pub body: String,
    /// The Markdown as safe HTML (raw HTML shown as text; only the course's own images).
    pub html: String,
    pub pass_mark: i64,
    pub retired: bool,
    /// `owed`, `overdue` or `done`.
    pub state: String,
    pub due_on: Option<String>,
    /// The quiz in this attempt's order — never the right answers.
    pub quiz: Vec<QuizQuestionJson>,
    /// The caller's attempts, newest first.
    pub attempts: Vec<AttemptJson>,
    /// For `isms.read`: the course's status.
    pub status: Option<CourseStatusJson>,
}

fn attempt_json(a: &mamori_core::isms::training::AttemptRecord) -> AttemptJson {
    AttemptJson {
        id: a.id.clone(),
        submitted_at: a.submitted_at.0,
        correct: a.correct,
        total: a.total,
        score: a.score,
        pass_mark: a.pass_mark,
        passed: a.passed,
    }
}

/// One course: its text, the quiz in a new order (no right answers), the caller's attempts.
#[utoipa::path(get, path = "/api/v1/training/{id}", tag = "training",
    responses((status = 200, body = CourseJson), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem)))]
pub async fn get_training_course(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<CourseJson>> {
    let v = state.core.isms.training_course(&p, &id, &ctx).await?;
    let (st, due_on) = state_of(v.standing);
    let r = &v.course.record;
    Ok(Json(CourseJson {
        id: r.id.clone(),
        kind: v.course.kind.as_str().to_owned(),
        title: r.title.clone(),
        title_en: r.title_en.clone(),
        summary: r.summary.clone(),
        summary_en: r.summary_en.clone(),
        body: r.body.clone(),
        html: v.course.html(),
        pass_mark: r.pass_mark,
        retired: r.retired_at.is_some(),
        state: st.to_owned(),
        due_on,
        quiz: v
            .quiz
            .iter()
            .map(|q| QuizQuestionJson { index: q.index, text: q.text.clone(), choices: q.choices.clone() })
            .collect(),
        attempts: v.attempts.iter().map(attempt_json).collect(),
        status: v.status.map(status_json),
    }))
}

/// One answer: the question's `index` and the chosen choice's position.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerJson {
    pub question: usize,
    pub choice: usize,
}

/// Every question answered once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptBody {
    pub answers: Vec<AnswerJson>,
}

/// Answers in the course's order; a question named twice or out of range is refused.
pub(crate) fn answers_in_order(
    questions: usize,
    given: &[(usize, usize)],
) -> Result<Vec<Option<usize>>, ApiError> {
    let mut answers = vec![None; questions];
    for (q, c) in given {
        let Some(slot) = answers.get_mut(*q) else {
            return Err(ApiError::new(ErrorCode::InvalidValue, format!("this quiz has no question {q}"))
                .field("answers"));
        };
        if slot.replace(*c).is_some() {
            return Err(ApiError::new(ErrorCode::InvalidValue, format!("question {q} is answered twice"))
                .field("answers"));
        }
    }
    Ok(answers)
}

/// Answers the quiz: graded on the server, recorded (a permanent row), audited. 422 when a
/// question is left out, named twice, or answered with a choice it does not have.
#[utoipa::path(post, path = "/api/v1/training/{id}/attempts", tag = "training", request_body = AttemptBody,
    responses((status = 201, body = AttemptJson), (status = 403, body = proto::Problem),
        (status = 404, body = proto::Problem), (status = 409, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn submit_training_attempt(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<AttemptBody>,
) -> ApiResult<(StatusCode, Json<AttemptJson>)> {
    let view = state.core.isms.training_course(&p, &id, &ctx).await?;
    let given: Vec<(usize, usize)> = body.answers.iter().map(|a| (a.question, a.choice)).collect();
    let answers = answers_in_order(view.course.question_count(), &given)?;
    let r = state.core.isms.submit_training_attempt(&p, &id, &answers, &ctx).await?;
    Ok((
        StatusCode::CREATED,
        Json(AttemptJson {
            id: r.id,
            submitted_at: state.core.now().0,
            correct: r.graded.correct as i64,
            total: r.graded.total as i64,
            score: r.graded.score,
            pass_mark: r.pass_mark,
            passed: r.graded.passed,
        }),
    ))
}

/// Whose certificate (`isms.read` only; one's own by default).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CertificateQuery {
    pub user_id: Option<String>,
}

/// The completion certificate of the latest pass, as PDF (in the caller's language, Japanese
/// font embedded). 404 when not passed.
#[utoipa::path(get, path = "/api/v1/training/{id}/certificate", tag = "training", params(CertificateQuery),
    responses((status = 200, description = "The certificate.", content(("application/pdf"))),
        (status = 403, body = proto::Problem), (status = 404, body = proto::Problem)))]
pub async fn get_training_certificate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<CertificateQuery>,
) -> ApiResult<Response> {
    let cert = state.core.isms.training_certificate(&p, &id, q.user_id.as_deref(), &ctx).await?;
    let tr = tr_for(&headers, Some(&p));
    let now = state.core.now();
    certificate_response(tr, cert, now).await
}

/// The certificate as a PDF download (shared with the console).
pub(crate) async fn certificate_response(
    tr: Tr,
    cert: Certificate,
    now: mamori_domain::UnixMillis,
) -> ApiResult<Response> {
    let english = tr.0 == mamori_domain::identity::Language::En;
    let title = cert.course.title_in(english).to_owned();
    let report = TableReport {
        title: tr.t("training.certificate_title").to_owned(),
        subtitle_lines: vec![tr.t("training.certificate_statement").replace("{course}", &title)],
        columns: vec![
            Column { heading: String::new(), share: 1 },
            Column { heading: String::new(), share: 3 },
        ],
        rows: vec![
            vec![
                tr.t("training.certificate_person").to_owned(),
                format!("{} ({})", cert.person, cert.username),
            ],
            vec![tr.t("training.certificate_course").to_owned(), title],
            vec![tr.t("training.certificate_passed").to_owned(), jst_minute(cert.attempt.submitted_at.0)],
            vec![
                tr.t("training.certificate_score").to_owned(),
                format!(
                    "{}% ({}/{}) · {} {}%",
                    cert.attempt.score,
                    cert.attempt.correct,
                    cert.attempt.total,
                    tr.t("training.pass_mark"),
                    cert.attempt.pass_mark
                ),
            ],
            vec![tr.t("training.certificate_number").to_owned(), cert.attempt.id.clone()],
        ],
        generated_jst: jst_minute(now.0),
    };
    let pdf = tokio::task::spawn_blocking(move || mamori_documents::table_report_pdf(&report, tr.0))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(|e| {
            ApiError::new(ErrorCode::Internal, format!("the certificate could not be rendered: {e}"))
        })?;
    let name = format!("mamori-certificate-{}.pdf", &cert.attempt.id[..8.min(cert.attempt.id.len())]);
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        pdf,
    )
        .into_response())
}

/// A course's image, with the type told by its content when it was stored (never one a
/// browser would run: no SVG, no HTML), `nosniff`.
#[utoipa::path(get, path = "/api/v1/training/images/{id}", tag = "training",
    responses((status = 200, description = "The image.",
        content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"))),
        (status = 403, body = proto::Problem), (status = 404, body = proto::Problem)))]
pub async fn get_training_image(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let (content_type, bytes) = state.core.isms.training_image(&p, &id, &ctx).await?;
    Ok(image_response(&content_type, bytes))
}

/// An image response: only the four stored types, never sniffed, not cached by shared caches.
pub(crate) fn image_response(content_type: &str, bytes: Vec<u8>) -> Response {
    let safe = ["image/png", "image/jpeg", "image/gif", "image/webp"]
        .into_iter()
        .find(|t| *t == content_type)
        .unwrap_or("application/octet-stream");
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(safe));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    resp
}
