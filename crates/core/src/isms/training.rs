//! Training [教育] (issue 18, item 2; ISMS-8, TW-13). A course holds its text (Markdown, rendered
//! safely by the policies' renderer, with its own images stored in the database) and a quiz with
//! a pass mark; the questions come in a new order for each attempt and the server grades the
//! answers (the right ones never leave it). Who owes what:
//!
//! - an **onboarding** course is owed by everyone in its scope (roles) until passed once; a
//!   person invited later is assigned it at once, due `due_days` later;
//! - an **annual** course is owed again a year after the last pass: the periodic sweep assigns
//!   it 30 days ahead ([`Isms::sweep_training`]);
//! - a **topic** course is owed when assigned — by hand or to the people involved in an
//!   incident.
//!
//! Attempts and assignments are permanent rows. Overdue people are listed first and reminded
//! through the mail outbox. A passed course has a completion certificate (PDF, made by the
//! server's `mamori-documents`). With the policy option on, customer lookups need every
//! onboarding course passed (see `vault/gate.rs`).

use super::Isms;
use crate::{CoreError, Principal, new_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::identity::UserStatus;
use mamori_domain::isms::policy::render_markdown_with_images;
use mamori_domain::isms::training::{
    AssignInput, Assigned, CourseInput, CourseKind, Graded, Question, Standing, TrainingError, annual_due,
    check_image, covers, grade, question_order, standing,
};
use mamori_domain::isms::vendor::parse_date;
use mamori_domain::{Permission, Role, UnixMillis};
use mamori_proto::ErrorCode;
use mamori_store::{
    StoreRead, StoreTx, TrainingAssignmentRecord, TrainingAttemptRecord, TrainingCourseRecord,
    TrainingImageRecord, UserRecord,
};
use std::collections::{HashMap, HashSet};
use time::Date;

pub use mamori_store::TrainingAttemptRecord as AttemptRecord;

/// The settings key of the option "customer lookups require the onboarding courses passed".
pub const LOOKUPS_REQUIRE_ONBOARDING: &str = "lookups_require_onboarding";
/// Where a course's images are served (the renderer keeps only images under it).
pub const IMAGE_PATH: &str = "/training/images/";

fn refused(e: TrainingError) -> CoreError {
    let base = e.field.split(['[', '.']).next().unwrap_or("");
    let field: &'static str = [
        "title",
        "title_en",
        "summary",
        "summary_en",
        "body",
        "pass_mark",
        "due_days",
        "questions",
        "answers",
        "image",
        "roles",
    ]
    .into_iter()
    .find(|f| *f == base)
    .unwrap_or("course");
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    let message = if e.field == field { e.message } else { format!("{}: {}", e.field, e.message) };
    CoreError::Invalid { field, code, message }
}

/// A course as the services use it: its record, kind, roles and quiz.
#[derive(Debug, Clone)]
pub struct Course {
    pub record: TrainingCourseRecord,
    pub kind: CourseKind,
    pub roles: Vec<Role>,
    questions: Vec<Question>,
}

impl Course {
    fn of(record: TrainingCourseRecord) -> Result<Course, CoreError> {
        let kind = CourseKind::parse(&record.kind)
            .ok_or_else(|| CoreError::Internal(format!("course {} has an unknown kind", record.id)))?;
        let questions: Vec<Question> = serde_json::from_str(&record.questions)
            .map_err(|_| CoreError::Internal(format!("course {} has an unreadable quiz", record.id)))?;
        let roles = record.scope_roles.split(',').filter_map(|r| r.parse().ok()).collect();
        Ok(Course { record, kind, roles, questions })
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// The title in the reader's language (the Japanese one when there is no English one).
    pub fn title_in(&self, english: bool) -> &str {
        if english && !self.record.title_en.is_empty() { &self.record.title_en } else { &self.record.title }
    }

    pub fn summary_in(&self, english: bool) -> &str {
        if english && !self.record.summary_en.is_empty() {
            &self.record.summary_en
        } else {
            &self.record.summary
        }
    }

    pub fn question_count(&self) -> usize {
        self.questions.len()
    }

    /// The text as safe HTML (raw HTML shown as text; only the course's own images kept).
    pub fn html(&self) -> String {
        render_markdown_with_images(&self.record.body, IMAGE_PATH)
    }

    /// The quiz in the console's text form, right answers marked (for the course's keepers).
    pub fn quiz_text(&self) -> String {
        mamori_domain::isms::training::quiz_text(&self.questions)
    }

    fn covers(&self, roles: &[Role]) -> bool {
        covers(&self.roles, roles)
    }
}

/// One question as the person taking the quiz sees it: its number in the course (what the
/// answer names), its text and choices — never the right one.
#[derive(Debug, Clone)]
pub struct QuizQuestion {
    pub index: usize,
    pub text: String,
    pub choices: Vec<String>,
}

/// A person owing a course.
#[derive(Debug, Clone)]
pub struct OwedRow {
    pub user_id: String,
    pub name: String,
    pub course_id: String,
    pub course_title: String,
    pub course_title_en: String,
    pub kind: CourseKind,
    /// `YYYY-MM-DD` (JST), when a due date is set.
    pub due_on: Option<String>,
    pub overdue: bool,
}

/// A course with how many owe it and how many are done.
#[derive(Debug, Clone)]
pub struct CourseStatus {
    pub course: Course,
    /// People who passed it (and, for an annual course, within the year) among those it is for.
    pub done: usize,
    /// People owing it, overdue first.
    pub owed: Vec<OwedRow>,
}

/// Every course in force with its status, everyone overdue, and the policy option.
#[derive(Debug, Clone)]
pub struct TrainingOverview {
    pub courses: Vec<CourseStatus>,
    /// Every (person, course) past its due day, the longest overdue first.
    pub overdue: Vec<OwedRow>,
    pub lookups_require_onboarding: bool,
}

/// A course for the person: where they stand, their latest pass.
#[derive(Debug, Clone)]
pub struct MyCourse {
    pub course: Course,
    pub standing: Standing,
    pub last_pass: Option<TrainingAttemptRecord>,
}

/// A course to read and take.
#[derive(Debug, Clone)]
pub struct CourseView {
    pub course: Course,
    /// Whether the course is for the person (in scope, or assigned to them).
    pub mine: bool,
    pub standing: Standing,
    /// The questions in this attempt's order, without the right answers.
    pub quiz: Vec<QuizQuestion>,
    /// Their attempts, newest first.
    pub attempts: Vec<TrainingAttemptRecord>,
    pub images: Vec<TrainingImageRecord>,
    /// For `isms.read`: the course's status.
    pub status: Option<CourseStatus>,
}

/// What an attempt did.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub id: String,
    pub graded: Graded,
    pub pass_mark: i64,
}

/// What a certificate states.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub course: Course,
    pub attempt: TrainingAttemptRecord,
    pub person: String,
    pub username: String,
}

/// Everything the standings need, read once: courses in force, active people, passes and
/// assignments — four reads whatever the numbers (5,000 people: see docs/BENCHMARKS.md).
struct Ledger {
    courses: Vec<Course>,
    users: Vec<UserRecord>,
    /// (course index, user index) → the latest pass (ms) and its JST day.
    passes: HashMap<(usize, usize), (i64, Date)>,
    /// (course index, user index) → their assignments.
    assignments: HashMap<(usize, usize), Vec<Assigned>>,
}

fn day_of(ms: i64) -> Date {
    parse_date(&crate::jst::day(UnixMillis(ms))).unwrap_or(Date::MIN)
}

impl Ledger {
    async fn read(read: &mut dyn StoreRead) -> Result<Ledger, CoreError> {
        let courses: Vec<Course> =
            read.training_courses(false).await?.into_iter().map(Course::of).collect::<Result<Vec<_>, _>>()?;
        let users: Vec<UserRecord> =
            read.list_users().await?.into_iter().filter(|u| u.status == UserStatus::Active).collect();
        // Ids to positions once, so the standings look up pairs of numbers, not strings.
        let course_at: HashMap<&str, usize> = courses.iter().enumerate().map(|(i, c)| (c.id(), i)).collect();
        let user_at: HashMap<&str, usize> =
            users.iter().enumerate().map(|(i, u)| (u.id.as_str(), i)).collect();
        let key = |c: &str, u: &str| Some((*course_at.get(c)?, *user_at.get(u)?));
        let passes = read
            .training_last_passes()
            .await?
            .into_iter()
            .filter_map(|(c, u, at)| Some((key(&c, &u)?, (at.0, day_of(at.0)))))
            .collect();
        let mut assignments: HashMap<(usize, usize), Vec<Assigned>> = HashMap::new();
        for a in read.training_assignments(None).await? {
            let (Some(k), Some(due)) = (key(&a.course_id, &a.user_id), parse_date(&a.due_on)) else {
                continue;
            };
            assignments.entry(k).or_default().push(Assigned { at_ms: a.assigned_at.0, due });
        }
        Ok(Ledger { courses, users, passes, assignments })
    }

    fn last_pass(&self, course: usize, user: usize) -> Option<(i64, Date)> {
        self.passes.get(&(course, user)).copied()
    }

    fn assigned(&self, course: usize, user: usize) -> &[Assigned] {
        self.assignments.get(&(course, user)).map_or(&[], |v| v.as_slice())
    }

    fn statuses(&self, today: Date) -> Vec<CourseStatus> {
        self.courses
            .iter()
            .enumerate()
            .map(|(ci, course)| {
                let mut done = 0;
                let mut owed = Vec::new();
                for (ui, u) in self.users.iter().enumerate() {
                    // A topic course is for those assigned it; the others, for those in scope too.
                    let assigned = self.assigned(ci, ui);
                    let in_scope = course.covers(&u.roles);
                    let for_them = !assigned.is_empty() || (course.kind != CourseKind::Topic && in_scope);
                    match standing(course.kind, in_scope, self.last_pass(ci, ui), assigned, today) {
                        Standing::Done if for_them => done += 1,
                        Standing::Done => {}
                        Standing::Owed { due, overdue } => owed.push(OwedRow {
                            user_id: u.id.clone(),
                            name: u.display_name.clone(),
                            course_id: course.record.id.clone(),
                            course_title: course.record.title.clone(),
                            course_title_en: course.record.title_en.clone(),
                            kind: course.kind,
                            due_on: due.map(|d| d.to_string()),
                            overdue,
                        }),
                    }
                }
                owed.sort_by(|a, b| {
                    (!a.overdue, a.due_on.is_none(), &a.due_on, &a.name).cmp(&(
                        !b.overdue,
                        b.due_on.is_none(),
                        &b.due_on,
                        &b.name,
                    ))
                });
                CourseStatus { course: course.clone(), done, owed }
            })
            .collect()
    }
}

/// The (person, course) obligations met and counted, over onboarding and annual courses in
/// scope and topic courses assigned (the live evidence of Annex A 6.3): (done, owed in all).
pub(crate) async fn completion_share(read: &mut dyn StoreRead, today: Date) -> Result<(u64, u64), CoreError> {
    let ledger = Ledger::read(read).await?;
    let all = ledger.statuses(today);
    let done: usize = all.iter().map(|s| s.done).sum();
    let owed: usize = all.iter().map(|s| s.owed.len()).sum();
    Ok((done as u64, (done + owed) as u64))
}

/// The onboarding courses in force, for this person, that they have not passed: (id, title).
/// Empty when the option is off.
pub(crate) async fn unpassed_onboarding(
    read: &mut dyn StoreRead,
    principal: &Principal,
) -> Result<Vec<(String, String)>, CoreError> {
    if read.setting(LOOKUPS_REQUIRE_ONBOARDING).await?.as_deref() != Some("true") {
        return Ok(Vec::new());
    }
    let courses: Vec<Course> = read
        .training_courses(false)
        .await?
        .into_iter()
        .filter(|c| c.kind == CourseKind::Onboarding.as_str())
        .map(Course::of)
        .collect::<Result<_, _>>()?;
    if courses.is_empty() {
        return Ok(Vec::new());
    }
    let passed: HashSet<String> = read
        .training_attempts(None, Some(&principal.user.id))
        .await?
        .into_iter()
        .filter(|a| a.passed)
        .map(|a| a.course_id)
        .collect();
    Ok(courses
        .into_iter()
        .filter(|c| c.covers(&principal.user.roles) && !passed.contains(&c.record.id))
        .map(|c| (c.record.id, c.record.title))
        .collect())
}

/// Assigns each onboarding course in force that covers a new person, due its `due_days`
/// later, on the transaction that creates them (one `training.assign` entry per course).
pub(crate) async fn assign_onboarding(
    base: &crate::Base,
    tx: &mut Box<dyn StoreTx>,
    user: &UserRecord,
    actor: Actor,
    ctx: &RequestContext,
) -> Result<(), CoreError> {
    let now = base.now();
    for record in tx.training_courses(false).await? {
        let course = Course::of(record)?;
        if course.kind != CourseKind::Onboarding || !course.covers(&user.roles) {
            continue;
        }
        let due = day_of(now.0) + time::Duration::days(course.record.due_days);
        insert_assignments(
            base,
            tx,
            &course,
            std::slice::from_ref(&user.id),
            "onboarding",
            None,
            due,
            actor.clone(),
            ctx,
        )
        .await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_assignments(
    base: &crate::Base,
    tx: &mut Box<dyn StoreTx>,
    course: &Course,
    users: &[String],
    reason: &'static str,
    incident: Option<&str>,
    due: Date,
    actor: Actor,
    ctx: &RequestContext,
) -> Result<(), CoreError> {
    let now = base.now();
    for user in users {
        tx.insert_training_assignment(&TrainingAssignmentRecord {
            id: new_id(),
            course_id: course.record.id.clone(),
            user_id: user.clone(),
            reason: reason.to_owned(),
            incident_id: incident.map(str::to_owned),
            assigned_at: now,
            assigned_by: actor.encode(),
            due_on: due.to_string(),
        })
        .await?;
    }
    let mut e = AuditEvent::of(&actions::TRAINING_ASSIGN, actor, Outcome::Success)
        .object(format!("training_course:{}", course.record.id))
        .detail("reason", reason)
        .detail("users", users.join(","))
        .detail("due_on", due.to_string());
    if let Some(i) = incident {
        e = e.detail("incident", i);
    }
    base.audit(tx, ctx, e).await
}

fn random_u64() -> u64 {
    // The OS's randomness; a failure (none on supported systems) leaves the order as written.
    getrandom::u64().unwrap_or(0)
}

impl Isms {
    fn today_date(&self) -> Date {
        day_of(self.base.now().0)
    }

    /// Every course in force with who owes it (overdue first), everyone overdue, and the policy
    /// option (`isms.read`).
    pub async fn training_overview(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<TrainingOverview, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let ledger = Ledger::read(&mut *read).await?;
        let courses = ledger.statuses(self.today_date());
        let mut overdue: Vec<OwedRow> =
            courses.iter().flat_map(|c| c.owed.iter().filter(|o| o.overdue).cloned()).collect();
        overdue.sort_by(|a, b| (&a.due_on, &a.name).cmp(&(&b.due_on, &b.name)));
        let lookups_require_onboarding =
            read.setting(LOOKUPS_REQUIRE_ONBOARDING).await?.as_deref() == Some("true");
        Ok(TrainingOverview { courses, overdue, lookups_require_onboarding })
    }

    /// The courses in force, newest first (`isms.read`): what an incident's page offers to assign.
    pub async fn training_courses(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<Course>, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        read.training_courses(false).await?.into_iter().map(Course::of).collect()
    }

    /// The courses for the caller — in scope or assigned — those owed first (overdue first).
    pub async fn my_training(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<MyCourse>, CoreError> {
        self.base.permitted(principal, Permission::TrainingTake, &actions::TRAINING_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let me = &principal.user.id;
        let courses =
            read.training_courses(false).await?.into_iter().map(Course::of).collect::<Result<Vec<_>, _>>()?;
        let assignments = read.training_assignments(Some(me)).await?;
        let attempts = read.training_attempts(None, Some(me)).await?;
        let today = self.today_date();
        let mut out = Vec::new();
        for course in courses {
            let assigned: Vec<Assigned> = assignments
                .iter()
                .filter(|a| a.course_id == course.record.id)
                .filter_map(|a| parse_date(&a.due_on).map(|due| Assigned { at_ms: a.assigned_at.0, due }))
                .collect();
            let in_scope = course.covers(&principal.user.roles);
            if !in_scope && assigned.is_empty() {
                continue;
            }
            let last_pass = attempts.iter().find(|a| a.passed && a.course_id == course.record.id).cloned();
            let standing = standing(
                course.kind,
                in_scope,
                last_pass.as_ref().map(|a| (a.submitted_at.0, day_of(a.submitted_at.0))),
                &assigned,
                today,
            );
            out.push(MyCourse { course, standing, last_pass });
        }
        out.sort_by_key(|m| match m.standing {
            Standing::Owed { overdue: true, due } => (0, due),
            Standing::Owed { due: Some(d), .. } => (1, Some(d)),
            Standing::Owed { due: None, .. } => (2, None),
            Standing::Done => (3, None),
        });
        Ok(out)
    }

    /// A course to read and take: for the person it is for, the text and the quiz in a new
    /// order (without the right answers) and their attempts; for `isms.read`, also its status.
    pub async fn training_course(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<CourseView, CoreError> {
        self.base.permitted(principal, Permission::TrainingTake, &actions::TRAINING_READ, ctx).await?;
        let keeper = principal.can(Permission::IsmsRead);
        let mut read = self.base.store.read().await?;
        let course = self.known_course(&mut *read, id).await?;
        let me = &principal.user.id;
        let assignments: Vec<Assigned> = read
            .training_assignments(Some(me))
            .await?
            .into_iter()
            .filter(|a| a.course_id == id)
            .filter_map(|a| parse_date(&a.due_on).map(|due| Assigned { at_ms: a.assigned_at.0, due }))
            .collect();
        let in_scope = course.covers(&principal.user.roles);
        let mine = (in_scope || !assignments.is_empty()) && course.record.retired_at.is_none();
        if !mine && !keeper {
            drop(read);
            return Err(self.course_out_of_scope(principal, id, ctx).await);
        }
        let attempts = read.training_attempts(Some(id), Some(me)).await?;
        let last_pass =
            attempts.iter().find(|a| a.passed).map(|a| (a.submitted_at.0, day_of(a.submitted_at.0)));
        let standing = standing(course.kind, in_scope, last_pass, &assignments, self.today_date());
        let order = question_order(course.questions.len(), random_u64);
        let quiz = order
            .into_iter()
            .map(|i| QuizQuestion {
                index: i,
                text: course.questions[i].text.clone(),
                choices: course.questions[i].choices.clone(),
            })
            .collect();
        let images = read.training_images(id).await?;
        let status = if keeper {
            let ledger = Ledger::read(&mut *read).await?;
            ledger.statuses(self.today_date()).into_iter().find(|s| s.course.record.id == id)
        } else {
            None
        };
        Ok(CourseView { course, mine, standing, quiz, attempts, images, status })
    }

    /// The caller answers a course's quiz: `answers[i]` is the choice for question `i` in the
    /// course's order. Graded here; every question must be answered with one of its choices,
    /// or nothing is recorded (422). Each attempt is a permanent row, audited.
    pub async fn submit_training_attempt(
        &self,
        principal: &Principal,
        id: &str,
        answers: &[Option<usize>],
        ctx: &RequestContext,
    ) -> Result<AttemptResult, CoreError> {
        self.base.permitted(principal, Permission::TrainingTake, &actions::TRAINING_ATTEMPT, ctx).await?;
        let mut read = self.base.store.read().await?;
        let course = self.known_course(&mut *read, id).await?;
        let assigned =
            read.training_assignments(Some(&principal.user.id)).await?.iter().any(|a| a.course_id == id);
        drop(read);
        if course.record.retired_at.is_some() {
            return Err(CoreError::Conflict("this course is retired: it can no longer be taken".into()));
        }
        if !course.covers(&principal.user.roles) && !assigned {
            return Err(self.course_out_of_scope(principal, id, ctx).await);
        }
        let graded = grade(&course.questions, course.record.pass_mark, answers).map_err(refused)?;
        let attempt = TrainingAttemptRecord {
            id: new_id(),
            course_id: id.to_owned(),
            user_id: principal.user.id.clone(),
            submitted_at: self.base.now(),
            correct: graded.correct as i64,
            total: graded.total as i64,
            score: graded.score,
            pass_mark: course.record.pass_mark,
            passed: graded.passed,
            answers: serde_json::to_string(
                &answers.iter().map(|a| a.unwrap_or(usize::MAX)).collect::<Vec<_>>(),
            )
            .unwrap_or_default(),
        };
        let mut tx = self.base.store.begin().await?;
        tx.insert_training_attempt(&attempt).await?;
        let e = AuditEvent::of(&actions::TRAINING_ATTEMPT, principal.actor(), Outcome::Success)
            .object(format!("training_course:{id}"))
            .detail("attempt", attempt.id.clone())
            .detail("score", graded.score.to_string())
            .detail("pass_mark", course.record.pass_mark.to_string())
            .detail("passed", graded.passed.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(AttemptResult { id: attempt.id, graded, pass_mark: course.record.pass_mark })
    }

    /// What a completion certificate states: the person's latest pass of the course (their own;
    /// anyone's for `isms.read`). Audited as a read.
    pub async fn training_certificate(
        &self,
        principal: &Principal,
        id: &str,
        user_id: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Certificate, CoreError> {
        self.base.permitted(principal, Permission::TrainingTake, &actions::TRAINING_CERTIFICATE, ctx).await?;
        let whose = user_id.unwrap_or(&principal.user.id).to_owned();
        if whose != principal.user.id && !principal.can(Permission::IsmsRead) {
            return Err(self.course_out_of_scope(principal, id, ctx).await);
        }
        let mut read = self.base.store.read().await?;
        let course = self.known_course(&mut *read, id).await?;
        let attempt = read
            .training_attempts(Some(id), Some(&whose))
            .await?
            .into_iter()
            .find(|a| a.passed)
            .ok_or(CoreError::NotFound { what: "passing attempt" })?;
        let user = read.user_by_id(&whose).await?.ok_or(CoreError::NotFound { what: "user" })?;
        drop(read);
        let e = AuditEvent::of(&actions::TRAINING_CERTIFICATE, principal.actor(), Outcome::Success)
            .object(format!("training_course:{id}"))
            .detail("attempt", attempt.id.clone())
            .detail("user", whose);
        self.base.audit_access(ctx, e).await?;
        Ok(Certificate { course, attempt, person: user.display_name, username: user.username })
    }

    /// An image of a course, for whoever may read the course. Returns (type, bytes).
    pub async fn training_image(
        &self,
        principal: &Principal,
        image_id: &str,
        ctx: &RequestContext,
    ) -> Result<(String, Vec<u8>), CoreError> {
        self.base.permitted(principal, Permission::TrainingTake, &actions::TRAINING_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let found =
            if uuid::Uuid::parse_str(image_id).is_ok() { read.training_image(image_id).await? } else { None };
        let (image, bytes) = found.ok_or(CoreError::NotFound { what: "image" })?;
        let course = self.known_course(&mut *read, &image.course_id).await?;
        let assigned = read
            .training_assignments(Some(&principal.user.id))
            .await?
            .iter()
            .any(|a| a.course_id == image.course_id);
        drop(read);
        if !course.covers(&principal.user.roles) && !assigned && !principal.can(Permission::IsmsRead) {
            return Err(self.course_out_of_scope(principal, &image.course_id, ctx).await);
        }
        Ok((image.content_type, bytes))
    }

    /// Creates a course with its quiz (`isms.manage`); returns its id.
    pub async fn create_training_course(
        &self,
        principal: &Principal,
        input: CourseInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::TRAINING_CREATE, ctx).await?;
        let input = input.checked().map_err(refused)?;
        let id = new_id();
        let roles: Vec<&str> = input.roles.iter().map(|r| r.as_str()).collect();
        let questions =
            serde_json::to_string(&input.questions).map_err(|e| CoreError::Internal(e.to_string()))?;
        let mut tx = self.base.store.begin().await?;
        tx.insert_training_course(&TrainingCourseRecord {
            id: id.clone(),
            kind: input.kind.as_str().to_owned(),
            title: input.title,
            title_en: input.title_en,
            summary: input.summary,
            summary_en: input.summary_en,
            body: input.body,
            pass_mark: input.pass_mark,
            scope_roles: roles.join(","),
            due_days: input.due_days,
            questions,
            created_at: self.base.now(),
            created_by: principal.actor().encode(),
            retired_at: None,
        })
        .await?;
        let e = AuditEvent::of(&actions::TRAINING_CREATE, principal.actor(), Outcome::Success)
            .object(format!("training_course:{id}"))
            .detail("kind", input.kind.as_str())
            .detail("questions", input.questions.len().to_string())
            .detail("pass_mark", input.pass_mark.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Adds an image to a course: at most 512 KiB, a PNG, JPEG, GIF or WebP by its content (the
    /// claimed type must agree). Returns its id; the course's text shows it as
    /// `![…](/training/images/<id>)`.
    pub async fn add_training_image(
        &self,
        principal: &Principal,
        course_id: &str,
        claimed_type: Option<&str>,
        bytes: &[u8],
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::TRAINING_IMAGE, ctx).await?;
        let content_type = check_image(claimed_type, bytes).map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        let course = self.known_course(&mut *tx, course_id).await?;
        if tx.training_images(course_id).await?.len() >= mamori_domain::isms::training::IMAGES_MAX {
            return Err(CoreError::invalid(
                "image",
                ErrorCode::InvalidValue,
                format!("a course holds at most {} images", mamori_domain::isms::training::IMAGES_MAX),
            ));
        }
        let id = new_id();
        tx.insert_training_image(
            &TrainingImageRecord {
                id: id.clone(),
                course_id: course.record.id.clone(),
                content_type: content_type.to_owned(),
                size: bytes.len() as i64,
                uploaded_at: self.base.now(),
                uploaded_by: principal.actor().encode(),
            },
            bytes,
        )
        .await?;
        let e = AuditEvent::of(&actions::TRAINING_IMAGE, principal.actor(), Outcome::Success)
            .object(format!("training_course:{course_id}"))
            .detail("image", id.clone())
            .detail("content_type", content_type)
            .detail("bytes", bytes.len().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Retires a course: nobody owes it any more; its attempts and certificates stay.
    pub async fn retire_training_course(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::TRAINING_RETIRE, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        self.known_course(&mut *tx, id).await?;
        if !tx.retire_training_course(id, self.base.now()).await? {
            return Err(CoreError::Conflict("this course is retired already".into()));
        }
        let e = AuditEvent::of(&actions::TRAINING_RETIRE, principal.actor(), Outcome::Success)
            .object(format!("training_course:{id}"));
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Assigns a course to people (active ones), or to the people involved in an incident,
    /// with a due day. Returns the people assigned.
    pub async fn assign_training(
        &self,
        principal: &Principal,
        id: &str,
        input: AssignInput,
        ctx: &RequestContext,
    ) -> Result<Vec<String>, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::TRAINING_ASSIGN, ctx).await?;
        let today = self.today_date();
        let mut tx = self.base.store.begin().await?;
        let course = self.known_course(&mut *tx, id).await?;
        if course.record.retired_at.is_some() {
            return Err(CoreError::Conflict("this course is retired: assign its successor".into()));
        }
        let due = match input.due_on.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => today + time::Duration::days(course.record.due_days),
            Some(d) => match parse_date(d) {
                Some(day) if day >= today => day,
                Some(_) => {
                    return Err(CoreError::invalid(
                        "due_on",
                        ErrorCode::InvalidValue,
                        "the due day is in the past",
                    ));
                }
                None => {
                    return Err(CoreError::invalid("due_on", ErrorCode::InvalidValue, "a day as YYYY-MM-DD"));
                }
            },
        };
        let mut users = input.user_ids.clone();
        let incident = match input.incident_id.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
            None => None,
            Some(i) => {
                let found = if uuid::Uuid::parse_str(i).is_ok() { tx.incident(i).await? } else { None };
                let Some(incident) = found else {
                    return Err(CoreError::invalid(
                        "incident_id",
                        ErrorCode::InvalidValue,
                        "no incident has this id",
                    ));
                };
                if users.is_empty() {
                    users.extend(incident.reported_by.iter().cloned());
                    for alert in tx.incident_alert_ids(i).await? {
                        if let Some(a) = tx.alert(&alert).await? {
                            users.extend(a.subject_user_id);
                        }
                    }
                }
                Some(incident.id)
            }
        };
        users.sort();
        users.dedup();
        if users.is_empty() {
            return Err(CoreError::invalid(
                "user_ids",
                ErrorCode::Required,
                if incident.is_some() {
                    "nobody is named in this incident: choose the people to assign"
                } else {
                    "choose the people to assign"
                },
            ));
        }
        for u in &users {
            let found = if uuid::Uuid::parse_str(u).is_ok() { tx.user_by_id(u).await? } else { None };
            if !found.is_some_and(|f| f.status == UserStatus::Active) {
                return Err(CoreError::invalid(
                    "user_ids",
                    ErrorCode::InvalidValue,
                    format!("no active user has the id {u}"),
                ));
            }
        }
        let reason = if incident.is_some() { "incident" } else { "manual" };
        insert_assignments(
            &self.base,
            &mut tx,
            &course,
            &users,
            reason,
            incident.as_deref(),
            due,
            principal.actor(),
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(users)
    }

    /// Reminds by e-mail everyone overdue (those with a mail address; once a day each).
    /// Returns (overdue, mailed).
    pub async fn remind_training(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<(usize, usize), CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::TRAINING_REMIND, ctx).await?;
        let (overdue, mailed, mut tx) = self.queue_training_reminders().await?;
        let e = AuditEvent::of(&actions::TRAINING_REMIND, principal.actor(), Outcome::Success)
            .object("settings")
            .detail("overdue", overdue.to_string())
            .detail("mailed", mailed.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok((overdue, mailed))
    }

    /// Queues one mail per overdue (person, course) with a mail address, keyed per day.
    async fn queue_training_reminders(&self) -> Result<(usize, usize, Box<dyn StoreTx>), CoreError> {
        let today = self.today_date();
        let mut read = self.base.store.read().await?;
        let ledger = Ledger::read(&mut *read).await?;
        drop(read);
        let overdue: Vec<OwedRow> = ledger
            .statuses(today)
            .into_iter()
            .flat_map(|s| s.owed.into_iter().filter(|o| o.overdue))
            .collect();
        let addresses: HashMap<&str, &str> = ledger
            .users
            .iter()
            .filter_map(|u| u.mail_address.as_deref().map(|a| (u.id.as_str(), a)))
            .collect();
        let mut tx = self.base.store.begin().await?;
        let mut mailed = 0;
        for o in &overdue {
            let Some(address) = addresses.get(o.user_id.as_str()) else { continue };
            let title_en = if o.course_title_en.is_empty() { &o.course_title } else { &o.course_title_en };
            let subject = format!("[Mamori] 研修の期限切れ / training overdue: {}", o.course_title);
            let body = format!(
                "{name} さん\n「{title}」の受講期限（{due}）を過ぎています。受講して確認テストに合格してください。\n\
                 \"{title_en}\" was due on {due}: please take it and pass its quiz.\n\n{url}/training/{id}\n",
                name = o.name,
                title = o.course_title,
                due = o.due_on.as_deref().unwrap_or(""),
                url = self.base.policies.public_url,
                id = o.course_id,
            );
            let key = format!("training:{}:{}:{today}", o.course_id, o.user_id);
            if self.base.queue_mail_to(&mut tx, vec![(*address).to_owned()], key, subject, body).await? {
                mailed += 1;
            }
        }
        Ok((overdue.len(), mailed, tx))
    }

    /// The periodic sweep (actor `system`): assigns each annual course coming due (30 days
    /// ahead, or `due_days` from today for someone who never passed it) and queues the day's
    /// reminders of everyone overdue. Returns how many assignments it made.
    pub async fn sweep_training(&self) -> Result<usize, CoreError> {
        let today = self.today_date();
        let ctx = RequestContext::default();
        let mut read = self.base.store.read().await?;
        let ledger = Ledger::read(&mut *read).await?;
        drop(read);
        let mut made = 0;
        let mut tx = self.base.store.begin().await?;
        for (ci, course) in ledger.courses.iter().enumerate().filter(|(_, c)| c.kind == CourseKind::Annual) {
            let mut by_due: HashMap<Date, Vec<String>> = HashMap::new();
            for (ui, u) in ledger.users.iter().enumerate() {
                let due = annual_due(
                    course.covers(&u.roles),
                    ledger.last_pass(ci, ui),
                    ledger.assigned(ci, ui),
                    today,
                    course.record.due_days,
                );
                if let Some(due) = due {
                    by_due.entry(due).or_default().push(u.id.clone());
                }
            }
            let mut dues: Vec<_> = by_due.into_iter().collect();
            dues.sort();
            for (due, users) in dues {
                made += users.len();
                insert_assignments(
                    &self.base,
                    &mut tx,
                    course,
                    &users,
                    "annual",
                    None,
                    due,
                    Actor::System,
                    &ctx,
                )
                .await?;
            }
        }
        tx.commit().await?;
        let (_, _, tx) = self.queue_training_reminders().await?;
        tx.commit().await?;
        Ok(made)
    }

    /// Turns the option "customer lookups require the onboarding courses passed" on or off.
    pub async fn set_lookups_require_onboarding(
        &self,
        principal: &Principal,
        on: bool,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::TRAINING_OPTION, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        tx.put_setting(LOOKUPS_REQUIRE_ONBOARDING, if on { "true" } else { "false" }).await?;
        let e = AuditEvent::of(&actions::TRAINING_OPTION, principal.actor(), Outcome::Success)
            .object("settings")
            .detail("lookups_require_onboarding", on.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn known_course(&self, read: &mut (dyn StoreRead + '_), id: &str) -> Result<Course, CoreError> {
        let found = if uuid::Uuid::parse_str(id).is_ok() { read.training_course(id).await? } else { None };
        Course::of(found.ok_or(CoreError::NotFound { what: "course" })?)
    }

    /// A course not for the caller: refused and recorded.
    async fn course_out_of_scope(&self, principal: &Principal, id: &str, ctx: &RequestContext) -> CoreError {
        let e = AuditEvent::of(&actions::TRAINING_READ, principal.actor(), Outcome::Denied)
            .object(format!("training_course:{id}"))
            .detail("reason", "scope");
        self.base.record_denied(ctx, e).await;
        CoreError::Forbidden("this course is not for you")
    }
}
