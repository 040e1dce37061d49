//! Training (issue 18, item 2; ISMS-8, TW-13) in the console.
//!
//! - `/training`: the courses for me, overdue and owed first, what keeps me from looking
//!   customers up, and my certificates;
//! - `/training/{id}`: a course's text (Markdown, no raw HTML, its own images) and its quiz —
//!   the questions in a new order each time, one choice each, sized for a phone; the result;
//!   my attempts and certificate. For `isms.read`, who owes it; for `isms.manage`, images,
//!   assignments (people, or those involved in an incident) and retiring (confirmed first);
//! - `/isms/training`: everyone overdue first, every course with its completion, reminders, the
//!   policy option and the form for a new course (the quiz in a short text form).

use super::isms::{actor_name, jst_minute, refused_page};
use super::isms_registers::{SubTab, sub_tabs};
use super::{
    Chrome, ConfirmPage, Form, Posted, check_csrf, csrf_for, error_text, message_page_text, render, tr_for,
};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{MatchedPath, Multipart, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::isms::training::{CourseView, OwedRow};
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::{IncidentsRead, IsmsManage, IsmsRead, TrainingTake};
use mamori_domain::Role;
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::{Language, UserStatus};
use mamori_domain::isms::training::{AssignInput, CourseInput, CourseKind, Standing, parse_quiz};

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/training", Needs(TrainingTake), my_page)
        .add(Method::GET, "/training/images/{id}", Needs(TrainingTake), image)
        .add(Method::GET, "/training/{id}", Needs(TrainingTake), course_page)
        .add(Method::POST, "/training/{id}/attempt", Needs(TrainingTake), attempt)
        .add(Method::GET, "/training/{id}/certificate", Needs(TrainingTake), certificate)
        .add(Method::GET, "/isms/training", Needs(IsmsRead), overview_page)
        .add(Method::POST, "/isms/training", Needs(IsmsManage), create)
        .add(Method::POST, "/isms/training/option", Needs(IsmsManage), set_option)
        .add(Method::POST, "/isms/training/remind", Needs(IsmsManage), remind)
        .add(Method::POST, "/isms/training/assign", Needs(IsmsManage), assign_after_incident)
        .add(Method::POST, "/isms/training/{id}/images", Needs(IsmsManage), upload_image)
        .add(Method::POST, "/isms/training/{id}/assign", Needs(IsmsManage), assign)
        .add(Method::GET, "/isms/training/{id}/retire", Needs(IsmsManage), confirm_retire)
        .add(Method::POST, "/isms/training/{id}/retire", Needs(IsmsManage), retire)
}

fn english(tr: Tr) -> bool {
    tr.0 == Language::En
}

fn kind_label(tr: Tr, kind: CourseKind) -> String {
    tr.t(&format!("course_kind.{}", kind.as_str())).to_owned()
}

fn is_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

fn not_found(tr: Tr) -> Response {
    super::message_page(tr, StatusCode::NOT_FOUND, "training.not_found")
}

/// A course's standing in words, with its tag class: (text, class).
fn standing_words(tr: Tr, s: Standing) -> (String, &'static str) {
    match s {
        Standing::Done => (tr.t("training.state_done").to_owned(), "ok"),
        Standing::Owed { due: Some(d), overdue: true } => {
            (tr.t("training.state_overdue").replace("{due}", &d.to_string()), "warn")
        }
        Standing::Owed { due: Some(d), overdue: false } => {
            (tr.t("training.state_due").replace("{due}", &d.to_string()), "due")
        }
        Standing::Owed { due: None, .. } => (tr.t("training.state_owed").to_owned(), "due"),
    }
}

// ---------------------------------------------------------------------------------------------
// My courses.

pub struct MyRow {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub summary: String,
    pub state: String,
    pub class: &'static str,
    pub passed: Option<String>,
}

#[derive(Template)]
#[template(path = "training.html")]
struct MyPage {
    c: Chrome,
    to_do: Vec<MyRow>,
    done: Vec<MyRow>,
    needs: Vec<super::policies::NeedRow>,
    can_keep: bool,
}

async fn my_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let mine = match state.core.isms.my_training(&p, &ctx).await {
        Ok(m) => m,
        Err(e) => return refused_page(tr, &e),
    };
    let needs = super::policies::lookup_needs(&state, &p).await;
    let en = english(tr);
    let (done, to_do): (Vec<_>, Vec<_>) = mine
        .into_iter()
        .map(|m| {
            let (state, class) = standing_words(tr, m.standing);
            MyRow {
                id: m.course.record.id.clone(),
                title: m.course.title_in(en).to_owned(),
                kind: kind_label(tr, m.course.kind),
                summary: m.course.summary_in(en).to_owned(),
                state,
                class,
                passed: m.last_pass.map(|a| jst_minute(a.submitted_at.0)),
            }
        })
        .partition(|r| r.class == "ok");
    let c = Chrome::new(tr, "training.title", Some(&p), csrf_for(Some(&p), None), "/training");
    render(&MyPage { c, to_do, done, needs, can_keep: p.can(IsmsRead) })
}

// ---------------------------------------------------------------------------------------------
// One course.

pub struct QuizRow {
    pub index: usize,
    pub number: usize,
    pub text: String,
    /// (position, text, chosen before)
    pub choices: Vec<(usize, String, bool)>,
}

pub struct AttemptRow {
    pub at: String,
    pub score: i64,
    pub correct: i64,
    pub total: i64,
    pub passed: bool,
}

pub struct OwedLine {
    pub name: String,
    pub due: String,
    pub overdue: bool,
}

pub struct ImageRow {
    pub id: String,
    pub content_type: String,
    pub size: String,
    pub who: String,
}

#[derive(Template)]
#[template(path = "training_course.html")]
struct CoursePage {
    c: Chrome,
    id: String,
    title: String,
    kind: String,
    summary: String,
    html: String,
    pass_mark: i64,
    retired: bool,
    mine: bool,
    state: String,
    class: &'static str,
    quiz: Vec<QuizRow>,
    /// The result of the attempt just made: (passed, score, correct, total).
    result: Option<(bool, i64, i64, i64)>,
    passed_once: bool,
    attempts: Vec<AttemptRow>,
    keeper: bool,
    can_manage: bool,
    /// For keepers: (done, owed people).
    status: Option<(usize, Vec<OwedLine>)>,
    images: Vec<ImageRow>,
    quiz_text: String,
    people: Vec<(String, String)>,
    incidents: Vec<(String, String)>,
    form_error: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct CourseQuery {
    done: Option<String>,
}

async fn course_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<CourseQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    course_view(&state, tr, &p, &ctx, &id, q.done.as_deref(), None, None, &[]).await
}

#[allow(clippy::too_many_arguments)]
async fn course_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    done: Option<&str>,
    result: Option<(bool, i64, i64, i64)>,
    refused: Option<(StatusCode, String)>,
    chosen: &[Option<usize>],
) -> Response {
    if !is_uuid(id) {
        return not_found(tr);
    }
    let v: CourseView = match state.core.isms.training_course(p, id, ctx).await {
        Ok(v) => v,
        Err(CoreError::NotFound { .. }) => return not_found(tr),
        Err(e) => return refused_page(tr, &e),
    };
    let en = english(tr);
    let (state_text, class) = standing_words(tr, v.standing);
    let quiz = v
        .quiz
        .iter()
        .enumerate()
        .map(|(n, q)| QuizRow {
            index: q.index,
            number: n + 1,
            text: q.text.clone(),
            choices: q
                .choices
                .iter()
                .enumerate()
                .map(|(i, c)| (i, c.clone(), chosen.get(q.index).copied().flatten() == Some(i)))
                .collect(),
        })
        .collect();
    let attempts = v
        .attempts
        .iter()
        .map(|a| AttemptRow {
            at: jst_minute(a.submitted_at.0),
            score: a.score,
            correct: a.correct,
            total: a.total,
            passed: a.passed,
        })
        .collect();
    let keeper = p.can(IsmsRead);
    let can_manage = p.can(IsmsManage);
    let names: std::collections::HashMap<String, String> = if keeper {
        let users = state.core.identity.list_users(p, ctx).await.unwrap_or_default();
        users.into_iter().map(|u| (format!("user:{}", u.id), u.display_name)).collect()
    } else {
        Default::default()
    };
    let status = v.status.as_ref().map(|s| {
        (
            s.done,
            s.owed
                .iter()
                .map(|o: &OwedRow| OwedLine {
                    name: o.name.clone(),
                    due: o.due_on.clone().unwrap_or_default(),
                    overdue: o.overdue,
                })
                .collect(),
        )
    });
    let images = v
        .images
        .iter()
        .map(|i| ImageRow {
            id: i.id.clone(),
            content_type: i.content_type.clone(),
            size: format!("{:.1} KiB", i.size as f64 / 1024.0),
            who: actor_name(tr, &i.uploaded_by, &names),
        })
        .collect();
    let (people, incidents) =
        if can_manage { assign_choices(state, p, ctx).await } else { Default::default() };
    let (status_code, form_error) = match refused {
        Some((s, t)) => (s, Some(t)),
        None => (StatusCode::OK, None),
    };
    let mut c = Chrome::new(tr, "training.course", Some(p), csrf_for(Some(p), None), "/training");
    if let Some(k) = done.filter(|k| ["created", "image", "assigned", "retired"].contains(k)) {
        c.notice = tr.get(&format!("training.done_{k}")).map(str::to_owned);
    }
    let page = CoursePage {
        c,
        id: v.course.record.id.clone(),
        title: v.course.title_in(en).to_owned(),
        kind: kind_label(tr, v.course.kind),
        summary: v.course.summary_in(en).to_owned(),
        html: v.course.html(),
        pass_mark: v.course.record.pass_mark,
        retired: v.course.record.retired_at.is_some(),
        mine: v.mine,
        state: state_text,
        class,
        quiz,
        result,
        passed_once: v.attempts.iter().any(|a| a.passed),
        attempts,
        keeper,
        can_manage,
        status,
        images,
        quiz_text: if keeper { v.course.quiz_text() } else { String::new() },
        people,
        incidents,
        form_error,
    };
    (status_code, render(&page)).into_response()
}

/// The people and incidents an assignment may name: (id, label).
async fn assign_choices(
    state: &AppState,
    p: &Principal,
    ctx: &RequestContext,
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let users = state.core.identity.list_users(p, ctx).await.unwrap_or_default();
    let mut people: Vec<(String, String)> = users
        .into_iter()
        .filter(|u| u.status == UserStatus::Active)
        .map(|u| (u.id.clone(), format!("{} ({})", u.display_name, u.username)))
        .collect();
    people.sort_by(|a, b| a.1.cmp(&b.1));
    let incidents = if p.can(IncidentsRead) {
        state
            .core
            .incidents
            .incidents(p, 90, &[], ctx)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|i| (i.id.clone(), format!("INC-{} {}", i.number, i.title)))
            .collect()
    } else {
        Vec::new()
    };
    (people, incidents)
}

async fn attempt(
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
    let view = match state.core.isms.training_course(&p, &id, &ctx).await {
        Ok(v) => v,
        Err(CoreError::NotFound { .. }) => return not_found(tr),
        Err(e) => return refused_page(tr, &e),
    };
    let n = view.course.question_count();
    // Each question's radio buttons are named `q<index>`; a missing or unreadable one is
    // unanswered, and the quiz comes back with the answers given and the problem named.
    let answers: Vec<Option<usize>> =
        (0..n).map(|i| form.text(&format!("q{i}")).trim().parse::<usize>().ok()).collect();
    match state.core.isms.submit_training_attempt(&p, &id, &answers, &ctx).await {
        Ok(r) => {
            let result =
                Some((r.graded.passed, r.graded.score, r.graded.correct as i64, r.graded.total as i64));
            course_view(&state, tr, &p, &ctx, &id, None, result, None, &[]).await
        }
        Err(CoreError::Invalid { field: "answers", .. }) => {
            let refused =
                (StatusCode::UNPROCESSABLE_ENTITY, tr.t("training.answer_every_question").to_owned());
            course_view(&state, tr, &p, &ctx, &id, None, None, Some(refused), &answers).await
        }
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e) => refused_page(tr, &e),
    }
}

async fn certificate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    match state.core.isms.training_certificate(&p, &id, None, &ctx).await {
        Ok(cert) => match crate::api::training::certificate_response(tr, cert, state.core.now()).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        },
        Err(CoreError::NotFound { .. }) => {
            super::message_page(tr, StatusCode::NOT_FOUND, "training.not_passed")
        }
        Err(e) => refused_page(tr, &e),
    }
}

async fn image(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.isms.training_image(&p, &id, &ctx).await {
        Ok((content_type, bytes)) => crate::api::training::image_response(&content_type, bytes),
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e) => refused_page(tr, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// The security admin's side.

pub struct OverdueRow {
    pub name: String,
    pub course_id: String,
    pub course: String,
    pub due: String,
}

pub struct CourseRow {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub roles: String,
    pub questions: usize,
    pub pass_mark: i64,
    pub done: usize,
    pub owed: usize,
    pub overdue: usize,
    pub percent: usize,
}

/// The new-course form as typed.
#[derive(Debug, Default)]
pub struct NewCourse {
    pub kind: String,
    pub title: String,
    pub title_en: String,
    pub summary: String,
    pub summary_en: String,
    pub roles: Vec<String>,
    pub pass_mark: String,
    pub due_days: String,
    pub body: String,
    pub quiz: String,
}

#[derive(Template)]
#[template(path = "isms_training.html")]
struct OverviewPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    overdue: Vec<OverdueRow>,
    courses: Vec<CourseRow>,
    lookups_require_onboarding: bool,
    can_manage: bool,
    form: NewCourse,
    form_error: Option<String>,
    kind_options: Vec<(&'static str, String)>,
    role_options: Vec<(&'static str, String)>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn overview_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<DoneQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    overview_view(&state, tr, &p, &ctx, q.done.as_deref(), None, None).await
}

async fn overview_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    done: Option<&str>,
    typed: Option<NewCourse>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let o = match state.core.isms.training_overview(p, ctx).await {
        Ok(o) => o,
        Err(e) => return refused_page(tr, &e),
    };
    let en = english(tr);
    let title_of = |title: &str, title_en: &str| {
        if en && !title_en.is_empty() { title_en.to_owned() } else { title.to_owned() }
    };
    let overdue = o
        .overdue
        .iter()
        .map(|r| OverdueRow {
            name: r.name.clone(),
            course_id: r.course_id.clone(),
            course: title_of(&r.course_title, &r.course_title_en),
            due: r.due_on.clone().unwrap_or_default(),
        })
        .collect();
    let mut courses: Vec<CourseRow> = o
        .courses
        .iter()
        .map(|s| {
            let owed = s.owed.len();
            CourseRow {
                id: s.course.record.id.clone(),
                title: s.course.title_in(en).to_owned(),
                kind: kind_label(tr, s.course.kind),
                roles: if s.course.roles.is_empty() {
                    tr.t("policies.scope_everyone").to_owned()
                } else {
                    s.course
                        .roles
                        .iter()
                        .map(|r| tr.t(&format!("role.{}", r.as_str())).to_owned())
                        .collect::<Vec<_>>()
                        .join("・")
                },
                questions: s.course.question_count(),
                pass_mark: s.course.record.pass_mark,
                done: s.done,
                owed,
                overdue: s.owed.iter().filter(|o| o.overdue).count(),
                percent: (s.done * 100).checked_div(s.done + owed).unwrap_or(100),
            }
        })
        .collect();
    // Problems first: the courses with the most people overdue, then owing.
    courses.sort_by_key(|r| (std::cmp::Reverse(r.overdue), std::cmp::Reverse(r.owed)));
    let (status, form_error) = match refused {
        Some((s, t)) => (s, Some(t)),
        None => (StatusCode::OK, None),
    };
    let mut c =
        Chrome::new(tr, "training.overview_title", Some(p), csrf_for(Some(p), None), "/isms/training");
    if let Some(k) = done.filter(|k| ["option", "reminded"].contains(k)) {
        c.notice = tr.get(&format!("training.done_{k}")).map(str::to_owned);
    }
    let page = OverviewPage {
        c,
        tabs: sub_tabs(tr, "/isms/training"),
        overdue,
        courses,
        lookups_require_onboarding: o.lookups_require_onboarding,
        can_manage: p.can(IsmsManage),
        form: typed.unwrap_or_else(|| NewCourse {
            kind: CourseKind::Onboarding.as_str().to_owned(),
            pass_mark: "80".into(),
            due_days: "14".into(),
            ..Default::default()
        }),
        form_error,
        kind_options: CourseKind::ALL.iter().map(|k| (k.as_str(), kind_label(tr, *k))).collect(),
        role_options: Role::ALL
            .iter()
            .map(|r| (r.as_str(), tr.t(&format!("role.{}", r.as_str())).to_owned()))
            .collect(),
    };
    (status, render(&page)).into_response()
}

/// A refusal of a form in words: the field's own sentence when the catalogue has one, with the
/// core's message (which names the question) after it.
fn form_error(tr: Tr, e: &CoreError) -> String {
    match e {
        CoreError::Invalid { field, message, .. } => match tr.get(&format!("training.invalid_{field}")) {
            Some(t) if message.contains(':') => format!("{t} ({message})"),
            Some(t) => t.to_owned(),
            None => error_text(tr, e),
        },
        _ => error_text(tr, e),
    }
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = NewCourse {
        kind: form.text("kind").trim().to_owned(),
        title: form.text("title").to_owned(),
        title_en: form.text("title_en").to_owned(),
        summary: form.text("summary").to_owned(),
        summary_en: form.text("summary_en").to_owned(),
        roles: form.all("roles"),
        pass_mark: form.text("pass_mark").trim().to_owned(),
        due_days: form.text("due_days").trim().to_owned(),
        body: form.text("body").to_owned(),
        quiz: form.text("quiz").to_owned(),
    };
    let refuse = |text: String| Some((StatusCode::UNPROCESSABLE_ENTITY, text));
    let Some(kind) = CourseKind::parse(&typed.kind) else {
        let r = refuse(tr.t("training.invalid_kind").to_owned());
        return overview_view(&state, tr, &p, &ctx, None, Some(typed), r).await;
    };
    let Ok(roles) = typed.roles.iter().map(|r| r.parse::<Role>()).collect::<Result<Vec<_>, _>>() else {
        let r = refuse(tr.t("training.invalid_roles").to_owned());
        return overview_view(&state, tr, &p, &ctx, None, Some(typed), r).await;
    };
    let Ok(pass_mark) = typed.pass_mark.parse::<i64>() else {
        let r = refuse(tr.t("training.invalid_pass_mark").to_owned());
        return overview_view(&state, tr, &p, &ctx, None, Some(typed), r).await;
    };
    let Ok(due_days) = typed.due_days.parse::<i64>() else {
        let r = refuse(tr.t("training.invalid_due_days").to_owned());
        return overview_view(&state, tr, &p, &ctx, None, Some(typed), r).await;
    };
    let questions = match parse_quiz(&typed.quiz) {
        Ok(q) => q,
        Err(e) => {
            let r = refuse(format!("{} ({})", tr.t("training.invalid_questions"), e.message));
            return overview_view(&state, tr, &p, &ctx, None, Some(typed), r).await;
        }
    };
    let input = CourseInput {
        kind,
        title: typed.title.clone(),
        title_en: typed.title_en.clone(),
        summary: typed.summary.clone(),
        summary_en: typed.summary_en.clone(),
        body: typed.body.clone(),
        pass_mark,
        roles,
        due_days,
        questions,
    };
    match state.core.isms.create_training_course(&p, input, &ctx).await {
        Ok(id) => Redirect::to(&format!("/training/{id}?done=created")).into_response(),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let r = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            overview_view(&state, tr, &p, &ctx, None, Some(typed), r).await
        }
    }
}

async fn set_option(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let on = form.text("lookups_require_onboarding") == "on";
    match state.core.isms.set_lookups_require_onboarding(&p, on, &ctx).await {
        Ok(()) => Redirect::to("/isms/training?done=option").into_response(),
        Err(e) => refused_page(tr, &e),
    }
}

async fn remind(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.isms.remind_training(&p, &ctx).await {
        Ok(_) => Redirect::to("/isms/training?done=reminded").into_response(),
        Err(e) => refused_page(tr, &e),
    }
}

async fn assign(
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
    let incident = form.text("incident_id").trim().to_owned();
    let input = AssignInput {
        user_ids: form.all("user_ids").into_iter().filter(|u| !u.is_empty()).collect(),
        incident_id: (!incident.is_empty()).then_some(incident),
        due_on: Some(form.text("due_on").trim().to_owned()).filter(|d| !d.is_empty()),
    };
    match state.core.isms.assign_training(&p, &id, input, &ctx).await {
        Ok(_) => Redirect::to(&format!("/training/{id}?done=assigned")).into_response(),
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            course_view(&state, tr, &p, &ctx, &id, None, None, refused, &[]).await
        }
    }
}

/// From an incident's page: the chosen course to the people involved, back to the incident.
async fn assign_after_incident(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let course = form.text("course_id").trim().to_owned();
    let incident = form.text("incident_id").trim().to_owned();
    if !is_uuid(&course) || !is_uuid(&incident) {
        return not_found(tr);
    }
    let input = AssignInput { incident_id: Some(incident.clone()), ..Default::default() };
    match state.core.isms.assign_training(&p, &course, input, &ctx).await {
        Ok(_) => Redirect::to(&format!("/incidents/{incident}?done=training_assigned")).into_response(),
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => message_page_text(tr, crate::problem::status_of(&e), form_error(tr, &e)),
    }
}

/// Retiring is confirmed first: nobody will owe the course any more.
async fn confirm_retire(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    let v = match state.core.isms.training_course(&p, &id, &ctx).await {
        Ok(v) => v,
        Err(CoreError::NotFound { .. }) => return not_found(tr),
        Err(e) => return refused_page(tr, &e),
    };
    let owed = v.status.as_ref().map_or(0, |s| s.owed.len());
    let question = tr.t("training.retire_question").replace("{title}", v.course.title_in(english(tr)));
    let effects = vec![
        tr.t("training.retire_effect").to_owned(),
        tr.t("training.retire_effect_owed").replace("{n}", &owed.to_string()),
    ];
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), "/isms/training");
    render(&ConfirmPage {
        c,
        question,
        effects,
        action: format!("/isms/training/{id}/retire"),
        fields: vec![],
        ask_message: false,
        cancel: format!("/training/{id}"),
        danger: true,
    })
}

async fn retire(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if !is_uuid(&id) {
        return not_found(tr);
    }
    match state.core.isms.retire_training_course(&p, &id, &ctx).await {
        Ok(()) => Redirect::to(&format!("/training/{id}?done=retired")).into_response(),
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e) => refused_page(tr, &e),
    }
}

/// The image upload as sent.
#[derive(Default)]
struct Upload {
    csrf: String,
    media_type: String,
    file: Vec<u8>,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, StatusCode> {
    let mut up = Upload::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| e.status())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "image" {
            up.media_type = field.content_type().unwrap_or_default().to_owned();
            while let Some(chunk) = field.chunk().await.map_err(|e| e.status())? {
                up.file.extend_from_slice(&chunk);
            }
            continue;
        }
        let text = field.text().await.map_err(|e| e.status())?;
        if name == "_csrf" {
            up.csrf = text;
        }
    }
    Ok(up)
}

async fn upload_image(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    matched: Option<MatchedPath>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let up = match multipart {
        Ok(m) => read_upload(m).await,
        Err(e) => Err(e.status()),
    };
    let posted = Posted { principal: Some(&p), ctx: &ctx, method: &Method::POST, matched: matched.as_ref() };
    let expected = csrf_for(Some(&p), None);
    let up = match up {
        Ok(up) => up,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            return message_page_text(
                tr,
                StatusCode::PAYLOAD_TOO_LARGE,
                tr.t("training.invalid_image").to_owned(),
            );
        }
        Err(_) => {
            let refused = check_csrf(&state, tr, &posted, &expected, "").await.err();
            return refused.unwrap_or_else(|| {
                super::message_page(tr, StatusCode::BAD_REQUEST, "error.form_unreadable")
            });
        }
    };
    if let Err(refused) = check_csrf(&state, tr, &posted, &expected, &up.csrf).await {
        return refused;
    }
    let claimed = up.media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let claimed = (!claimed.is_empty()).then_some(claimed);
    match state.core.isms.add_training_image(&p, &id, claimed.as_deref(), &up.file, &ctx).await {
        Ok(_) => Redirect::to(&format!("/training/{id}?done=image#course-images")).into_response(),
        Err(CoreError::NotFound { .. }) => not_found(tr),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            course_view(&state, tr, &p, &ctx, &id, None, None, refused, &[]).await
        }
    }
}
