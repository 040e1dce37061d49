//! Training [教育] (issue 18, item 2; ISMS-8, TW-13): courses with their text (Markdown, images
//! stored with the course) and a quiz with a pass mark. Pure: what a course may hold, the quiz
//! in the console's text form, the order of the questions for one attempt (shuffled with the
//! caller's randomness), the grading, who owes which course and by when.
//!
//! - **Onboarding** [入社時教育] courses are owed by everyone in their scope until passed once;
//!   a person created later is assigned them with a due date.
//! - **Annual** [年次教育] courses are owed again a year after the last pass.
//! - **Topic** courses are owed only when assigned (by hand, or to the people involved in an
//!   incident).

use crate::Role;
use serde::{Deserialize, Serialize};
use time::{Date, Duration};

/// Which kind of course.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CourseKind {
    /// 入社時教育: owed by everyone in scope until passed once; new people get it assigned.
    Onboarding,
    /// 年次教育: owed again a year after the last pass.
    Annual,
    /// テーマ別: owed only when assigned (for instance after an incident).
    Topic,
}

impl CourseKind {
    pub const ALL: [CourseKind; 3] = [CourseKind::Onboarding, CourseKind::Annual, CourseKind::Topic];

    pub fn as_str(self) -> &'static str {
        match self {
            CourseKind::Onboarding => "onboarding",
            CourseKind::Annual => "annual",
            CourseKind::Topic => "topic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One quiz question: one right choice among two to eight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub text: String,
    pub choices: Vec<String>,
    /// The right choice, counted from 0. Never sent to the person taking the quiz.
    pub answer: usize,
}

/// A new course. Courses are not edited once created (attempts are graded against them): a
/// changed course is a new one, and the old one is retired.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    pub kind: CourseKind,
    /// The title in Japanese (or the centre's language).
    pub title: String,
    /// The title in English; may be empty.
    #[serde(default)]
    pub title_en: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub summary_en: String,
    /// Markdown; raw HTML in it is shown as text, never as markup. Images are the course's own
    /// (`![alt](/training/images/<id>)`), uploaded after the course is created.
    pub body: String,
    /// The share of right answers needed to pass, 1–100 (%).
    pub pass_mark: i64,
    /// Roles the course is for (empty: everyone).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Days from assignment to the due date (1–365; 14 when left out).
    #[serde(default = "default_due_days")]
    pub due_days: i64,
    pub questions: Vec<Question>,
}

fn default_due_days() -> i64 {
    DEFAULT_DUE_DAYS
}

pub const DEFAULT_DUE_DAYS: i64 = 14;
pub const TITLE_MAX: usize = 200;
pub const SUMMARY_MAX: usize = 1_000;
pub const BODY_MAX: usize = 200_000;
pub const QUESTIONS_MAX: usize = 50;
pub const QUESTION_MAX: usize = 1_000;
pub const CHOICE_MAX: usize = 500;
pub const CHOICES_MIN: usize = 2;
pub const CHOICES_MAX: usize = 8;
/// The largest image a course may hold (it travels with the page, so kept small).
pub const IMAGE_MAX_BYTES: usize = 512 * 1024;
/// The most images one course may hold.
pub const IMAGES_MAX: usize = 20;

/// A field refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> TrainingError {
    TrainingError { field: field.into(), message: message.into() }
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), TrainingError> {
    if required && value.trim().is_empty() {
        return Err(err(field, "required"));
    }
    if value.chars().count() > max {
        return Err(err(field, format!("at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(err(field, "control characters are not allowed"));
    }
    Ok(())
}

impl CourseInput {
    /// Checks every field; the first problem names its field (`questions[2].answer`).
    pub fn checked(mut self) -> Result<CourseInput, TrainingError> {
        self.title = self.title.trim().to_owned();
        self.title_en = self.title_en.trim().to_owned();
        self.summary = self.summary.trim().replace("\r\n", "\n");
        self.summary_en = self.summary_en.trim().replace("\r\n", "\n");
        self.body = self.body.replace("\r\n", "\n");
        check_text("title", &self.title, TITLE_MAX, true)?;
        check_text("title_en", &self.title_en, TITLE_MAX, false)?;
        check_text("summary", &self.summary, SUMMARY_MAX, false)?;
        check_text("summary_en", &self.summary_en, SUMMARY_MAX, false)?;
        check_text("body", &self.body, BODY_MAX, true)?;
        if !(1..=100).contains(&self.pass_mark) {
            return Err(err("pass_mark", "a share of right answers from 1 to 100 (%)"));
        }
        if !(1..=365).contains(&self.due_days) {
            return Err(err("due_days", "from 1 to 365 days"));
        }
        self.roles.sort();
        self.roles.dedup();
        if self.questions.is_empty() {
            return Err(err("questions", "a course needs at least one question"));
        }
        if self.questions.len() > QUESTIONS_MAX {
            return Err(err("questions", format!("at most {QUESTIONS_MAX} questions")));
        }
        for (i, q) in self.questions.iter_mut().enumerate() {
            q.text = q.text.trim().to_owned();
            check_text(&format!("questions[{i}].text"), &q.text, QUESTION_MAX, true)?;
            if !(CHOICES_MIN..=CHOICES_MAX).contains(&q.choices.len()) {
                return Err(err(
                    format!("questions[{i}].choices"),
                    format!("from {CHOICES_MIN} to {CHOICES_MAX} choices"),
                ));
            }
            for (j, c) in q.choices.iter_mut().enumerate() {
                *c = c.trim().to_owned();
                check_text(&format!("questions[{i}].choices[{j}]"), c, CHOICE_MAX, true)?;
            }
            if q.answer >= q.choices.len() {
                return Err(err(
                    format!("questions[{i}].answer"),
                    format!("the right choice is counted from 0 and there are {} choices", q.choices.len()),
                ));
            }
        }
        Ok(self)
    }
}

/// Reads the quiz as the console's form writes it: a question on a line starting `?`, its
/// choices on the lines after it starting `-`, the right one starting `*` instead. Blank lines
/// are ignored; anything else is refused with its line number.
///
/// ```text
/// ? 離席するときは？
/// - そのまま離れる
/// * 画面をロックし、書類をしまう
/// ```
pub fn parse_quiz(text: &str) -> Result<Vec<Question>, TrainingError> {
    let mut questions: Vec<Question> = Vec::new();
    let mut rights: Vec<Vec<usize>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (mark, rest) = line.split_at(line.chars().next().map_or(0, char::len_utf8));
        let rest = rest.trim().to_owned();
        match mark {
            "?" | "？" => {
                questions.push(Question { text: rest, choices: Vec::new(), answer: usize::MAX });
                rights.push(Vec::new());
            }
            "-" | "*" | "＊" | "ー" => {
                let (Some(q), Some(r)) = (questions.last_mut(), rights.last_mut()) else {
                    return Err(err("questions", format!("line {}: a choice before any question", n + 1)));
                };
                if mark != "-" && mark != "ー" {
                    r.push(q.choices.len());
                }
                q.choices.push(rest);
            }
            _ => {
                return Err(err(
                    "questions",
                    format!(
                        "line {}: start a question with ?, a choice with -, the right choice with *",
                        n + 1
                    ),
                ));
            }
        }
    }
    for (i, (q, r)) in questions.iter_mut().zip(rights).enumerate() {
        match r[..] {
            [one] => q.answer = one,
            _ => {
                return Err(err(
                    format!("questions[{i}].answer"),
                    format!("question {} needs exactly one right choice (marked *)", i + 1),
                ));
            }
        }
    }
    Ok(questions)
}

/// The quiz back in its text form (for a form shown again).
pub fn quiz_text(questions: &[Question]) -> String {
    let mut out = String::new();
    for q in questions {
        out.push_str(&format!("? {}\n", q.text));
        for (i, c) in q.choices.iter().enumerate() {
            out.push_str(&format!("{} {}\n", if i == q.answer { '*' } else { '-' }, c));
        }
        out.push('\n');
    }
    out
}

/// Whom to assign a course to, with a due day; `incident_id` alone names the people involved
/// in the incident (its reporter and whom its alerts are about).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    #[serde(default)]
    pub user_ids: Vec<String>,
    #[serde(default)]
    pub incident_id: Option<String>,
    /// `YYYY-MM-DD` (Japan), today or later; the course's `due_days` from today when left out.
    #[serde(default)]
    pub due_on: Option<String>,
}

/// The order in which one attempt shows the questions: a Fisher–Yates shuffle of `0..n` drawing
/// on `random` (the caller's source; 64 random bits per draw make the modulo's bias negligible).
pub fn question_order(n: usize, mut random: impl FnMut() -> u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (random() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// An attempt graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Graded {
    pub correct: usize,
    pub total: usize,
    /// Right answers as a share, rounded down (%).
    pub score: i64,
    pub passed: bool,
}

/// Grades an attempt on the server: `answers[i]` is the choice picked for question `i` (in the
/// course's own order, whatever order the attempt showed). Every question must be answered with
/// one of its choices; otherwise the attempt is refused and nothing is recorded.
pub fn grade(
    questions: &[Question],
    pass_mark: i64,
    answers: &[Option<usize>],
) -> Result<Graded, TrainingError> {
    if answers.len() > questions.len() {
        return Err(err("answers", format!("this quiz has {} questions", questions.len())));
    }
    let mut correct = 0;
    for (i, q) in questions.iter().enumerate() {
        match answers.get(i).copied().flatten() {
            None => return Err(err(format!("answers[{i}]"), format!("answer question {}", i + 1))),
            Some(a) if a >= q.choices.len() => {
                return Err(err(
                    format!("answers[{i}]"),
                    format!("question {} has {} choices (counted from 0)", i + 1, q.choices.len()),
                ));
            }
            Some(a) => correct += usize::from(a == q.answer),
        }
    }
    let total = questions.len();
    let score = (correct * 100).checked_div(total).unwrap_or(0) as i64;
    Ok(Graded { correct, total, score, passed: total > 0 && score >= pass_mark })
}

/// Where a person stands with a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Nothing owed: passed (and, for an annual course, within the year), or not for them.
    Done,
    /// Owed; by `due` when a due date is set. `overdue` when `due` is before today.
    Owed { due: Option<Date>, overdue: bool },
}

/// An assignment as the standing needs it: when it was made and its due day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assigned {
    pub at_ms: i64,
    pub due: Date,
}

/// Where a person stands with a course: `in_scope` whether its roles cover them, `last_pass`
/// their latest passing attempt (ms) and its JST day, `assignments` theirs for this course.
/// An assignment is open until a pass at or after it; the earliest open one's due date counts.
pub fn standing(
    kind: CourseKind,
    in_scope: bool,
    last_pass: Option<(i64, Date)>,
    assignments: &[Assigned],
    today: Date,
) -> Standing {
    let open =
        assignments.iter().filter(|a| last_pass.is_none_or(|(at, _)| at < a.at_ms)).map(|a| a.due).min();
    let owed = |due: Option<Date>| Standing::Owed { due, overdue: due.is_some_and(|d| d < today) };
    if let Some(due) = open {
        return owed(Some(due));
    }
    if !in_scope {
        return Standing::Done;
    }
    match (kind, last_pass) {
        (CourseKind::Onboarding | CourseKind::Annual, None) => owed(None),
        (CourseKind::Annual, Some((_, day))) => {
            let due = next_year(day);
            if due <= today { owed(Some(due)) } else { Standing::Done }
        }
        _ => Standing::Done,
    }
}

/// The same day a year later (28 February for 29 February).
pub fn next_year(day: Date) -> Date {
    day.replace_year(day.year() + 1)
        .or_else(|_| day.replace_day(28).and_then(|d| d.replace_year(d.year() + 1)))
        .unwrap_or(day + Duration::days(365))
}

/// How many days before its due date an annual course is assigned again (the sweep's lead).
pub const ANNUAL_LEAD_DAYS: i64 = 30;

/// Whether the sweep should assign an annual course now, and its due date: in scope, no open
/// assignment, and either never passed (due `due_days` from today) or passed a year ago less
/// the lead (due a year after the last pass).
pub fn annual_due(
    in_scope: bool,
    last_pass: Option<(i64, Date)>,
    assignments: &[Assigned],
    today: Date,
    due_days: i64,
) -> Option<Date> {
    if !in_scope {
        return None;
    }
    let open = assignments.iter().any(|a| last_pass.is_none_or(|(at, _)| at < a.at_ms));
    if open {
        return None;
    }
    match last_pass {
        None => Some(today + Duration::days(due_days)),
        Some((_, day)) => {
            let due = next_year(day);
            (due - Duration::days(ANNUAL_LEAD_DAYS) <= today).then_some(due)
        }
    }
}

/// The image types a course may hold, told by their content (what a client claims is checked
/// against it): PNG, JPEG, GIF, WebP. No SVG (it can carry script).
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Checks an image for a course: not empty, at most [`IMAGE_MAX_BYTES`], a PNG, JPEG, GIF or
/// WebP by its content, and the claimed type (if any) the same. Returns its type.
pub fn check_image(claimed: Option<&str>, bytes: &[u8]) -> Result<&'static str, TrainingError> {
    if bytes.is_empty() {
        return Err(err("image", "the image is empty"));
    }
    if bytes.len() > IMAGE_MAX_BYTES {
        return Err(err("image", format!("at most {} KiB", IMAGE_MAX_BYTES / 1024)));
    }
    let Some(found) = image_type(bytes) else {
        return Err(err("image", "not an image: send a PNG, JPEG, GIF or WebP"));
    };
    let claimed = claimed.map(|c| if c == "image/jpg" { "image/jpeg" } else { c });
    if claimed.is_some_and(|c| c != found && c != "application/octet-stream") {
        return Err(err("image", format!("the file is a {found}, not what its type says")));
    }
    Ok(found)
}

/// Who a course is for: empty roles mean everyone.
pub fn covers(roles: &[Role], person: &[Role]) -> bool {
    roles.is_empty() || person.iter().any(|r| roles.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn q(answer: usize) -> Question {
        Question { text: "q".into(), choices: vec!["a".into(), "b".into(), "c".into()], answer }
    }

    fn input() -> CourseInput {
        CourseInput {
            kind: CourseKind::Onboarding,
            title: "入社時研修".into(),
            title_en: String::new(),
            summary: String::new(),
            summary_en: String::new(),
            body: "# 本文".into(),
            pass_mark: 80,
            roles: vec![],
            due_days: 14,
            questions: vec![q(0), q(2)],
        }
    }

    #[test]
    fn bad_courses_are_named() {
        assert!(input().checked().is_ok());
        let field = |i: CourseInput| i.checked().unwrap_err().field;
        assert_eq!(field(CourseInput { questions: vec![], ..input() }), "questions");
        assert_eq!(field(CourseInput { pass_mark: 0, ..input() }), "pass_mark");
        assert_eq!(field(CourseInput { pass_mark: 101, ..input() }), "pass_mark");
        assert_eq!(field(CourseInput { questions: vec![q(0), q(3)], ..input() }), "questions[1].answer");
        assert_eq!(field(CourseInput { title: " ".into(), ..input() }), "title");
        let one_choice = Question { text: "q".into(), choices: vec!["a".into()], answer: 0 };
        assert_eq!(field(CourseInput { questions: vec![one_choice], ..input() }), "questions[0].choices");
    }

    #[test]
    fn the_quiz_text_reads_and_round_trips() {
        let qs =
            parse_quiz("? 離席するときは？\n- そのまま\n* ロックする\n\n？ USB は？\n* 使わない\n- 使う\n")
                .unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!((qs[0].answer, qs[1].answer), (1, 0));
        assert_eq!(parse_quiz(&quiz_text(&qs)).unwrap(), qs);
        assert_eq!(parse_quiz("? a\n- x\n- y\n").unwrap_err().field, "questions[0].answer");
        assert_eq!(parse_quiz("- x\n").unwrap_err().field, "questions");
        assert_eq!(parse_quiz("hello\n").unwrap_err().field, "questions");
    }

    #[test]
    fn grading_is_on_the_course_order_and_refuses_bad_answers() {
        let qs = vec![q(0), q(2), q(1), q(1), q(0)];
        let g = grade(&qs, 80, &[Some(0), Some(2), Some(1), Some(1), Some(2)]).unwrap();
        assert_eq!((g.correct, g.score, g.passed), (4, 80, true));
        let g = grade(&qs, 81, &[Some(0), Some(2), Some(1), Some(1), Some(2)]).unwrap();
        assert!(!g.passed);
        assert_eq!(grade(&qs, 80, &[Some(0), Some(3)]).unwrap_err().field, "answers[1]");
        assert_eq!(
            grade(&qs, 80, &[Some(0), None, Some(1), Some(1), Some(0)]).unwrap_err().field,
            "answers[1]"
        );
        assert_eq!(grade(&qs, 80, &[Some(0); 6]).unwrap_err().field, "answers");
    }

    #[test]
    fn the_order_is_a_permutation_that_changes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let a = question_order(8, &mut next);
        let b = question_order(8, &mut next);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..8).collect::<Vec<_>>());
        assert_ne!(a, b);
    }

    #[test]
    fn standings() {
        let today = date!(2026 - 11 - 30);
        let passed = Some((1_000, date!(2025 - 12 - 15)));
        // Onboarding: owed until passed, then done; an overdue assignment shows.
        assert_eq!(
            standing(CourseKind::Onboarding, true, None, &[], today),
            Standing::Owed { due: None, overdue: false }
        );
        let late = Assigned { at_ms: 0, due: date!(2026 - 11 - 01) };
        assert_eq!(
            standing(CourseKind::Onboarding, true, None, &[late], today),
            Standing::Owed { due: Some(date!(2026 - 11 - 01)), overdue: true }
        );
        assert_eq!(standing(CourseKind::Onboarding, true, passed, &[late], today), Standing::Done);
        // Annual: a year after the last pass.
        assert_eq!(standing(CourseKind::Annual, true, passed, &[], today), Standing::Done);
        assert_eq!(
            standing(CourseKind::Annual, true, passed, &[], date!(2026 - 12 - 16)),
            Standing::Owed { due: Some(date!(2026 - 12 - 15)), overdue: true }
        );
        assert_eq!(annual_due(true, passed, &[], today, 14), Some(date!(2026 - 12 - 15)));
        assert_eq!(annual_due(true, passed, &[], date!(2026 - 11 - 01), 14), None);
        let open = Assigned { at_ms: 2_000, due: date!(2026 - 12 - 15) };
        assert_eq!(annual_due(true, passed, &[open], today, 14), None);
        assert_eq!(annual_due(false, None, &[], today, 14), None);
        // Topic: only when assigned; an assignment after the last pass is open.
        assert_eq!(standing(CourseKind::Topic, true, None, &[], today), Standing::Done);
        assert_eq!(
            standing(CourseKind::Topic, false, passed, &[open], today),
            Standing::Owed { due: Some(date!(2026 - 12 - 15)), overdue: false }
        );
        assert_eq!(next_year(date!(2024 - 02 - 29)), date!(2025 - 02 - 28));
    }

    #[test]
    fn course_text_keeps_only_its_own_images() {
        use crate::isms::policy::render_markdown_with_images;
        let html = render_markdown_with_images(
            "![机](/training/images/0b6f-11aa) ![x](https://evil.example/x.png) ![y](/training/images/../admin) <img src=x onerror=alert(1)>",
            "/training/images/",
        );
        assert!(html.contains("<img src=\"/training/images/0b6f-11aa\" alt=\"机\""), "{html}");
        assert!(!html.contains("evil.example") && !html.contains("../admin"), "{html}");
        assert!(!html.contains("<img src=x") && html.contains("&lt;img"), "{html}");
    }

    #[test]
    fn images_are_told_by_their_content() {
        assert_eq!(check_image(Some("image/png"), b"\x89PNG\r\n\x1a\n....").unwrap(), "image/png");
        assert_eq!(check_image(None, &[0xff, 0xd8, 0xff, 0xe0]).unwrap(), "image/jpeg");
        assert!(check_image(Some("image/png"), b"<svg onload=alert(1)>").is_err());
        assert!(check_image(Some("image/jpeg"), b"\x89PNG\r\n\x1a\n....").is_err());
        assert!(check_image(Some("image/png"), &[]).is_err());
        let big = [b"\x89PNG\r\n\x1a\n".as_slice(), &vec![0u8; IMAGE_MAX_BYTES]].concat();
        assert!(check_image(Some("image/png"), &big).is_err());
    }
}
