//! Training (issue 18, item 2; ISMS-8, TW-13): courses, their images, assignments and
//! attempts. Courses never change once created (only retire); assignments and attempts are
//! permanent rows.

use super::*;

/// A course as stored. The quiz is JSON (`Vec<Question>` of the domain), right answers included:
/// only the server reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingCourseRecord {
    pub id: String,
    /// A `CourseKind`'s name.
    pub kind: String,
    pub title: String,
    pub title_en: String,
    pub summary: String,
    pub summary_en: String,
    /// Markdown.
    pub body: String,
    pub pass_mark: i64,
    /// Comma-separated role names; empty: everyone.
    pub scope_roles: String,
    pub due_days: i64,
    /// JSON.
    pub questions: String,
    pub created_at: UnixMillis,
    /// An audit actor.
    pub created_by: String,
    pub retired_at: Option<UnixMillis>,
}

/// An image of a course (its bytes only through [`TrainingRead::training_image`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingImageRecord {
    pub id: String,
    pub course_id: String,
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`, told by the content.
    pub content_type: String,
    pub size: i64,
    pub uploaded_at: UnixMillis,
    pub uploaded_by: String,
}

/// A course assigned to a person, with its due day (JST, `YYYY-MM-DD`). Open until the person
/// passes the course at or after `assigned_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingAssignmentRecord {
    pub id: String,
    pub course_id: String,
    pub user_id: String,
    /// `onboarding`, `annual`, `incident` or `manual`.
    pub reason: String,
    pub incident_id: Option<String>,
    pub assigned_at: UnixMillis,
    /// An audit actor (`system` for the sweep and for a new person's onboarding by invitation).
    pub assigned_by: String,
    pub due_on: String,
}

/// One attempt at a course's quiz, graded by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingAttemptRecord {
    pub id: String,
    pub course_id: String,
    pub user_id: String,
    pub submitted_at: UnixMillis,
    pub correct: i64,
    pub total: i64,
    pub score: i64,
    pub pass_mark: i64,
    pub passed: bool,
    /// The choices picked, in the course's question order (JSON array).
    pub answers: String,
}

#[async_trait]
pub trait TrainingRead: Send {
    /// Every course (retired ones too when asked), newest first.
    async fn training_courses(&mut self, include_retired: bool) -> StoreResult<Vec<TrainingCourseRecord>>;
    async fn training_course(&mut self, id: &str) -> StoreResult<Option<TrainingCourseRecord>>;
    /// A course's images (without their bytes), oldest first.
    async fn training_images(&mut self, course_id: &str) -> StoreResult<Vec<TrainingImageRecord>>;
    /// One image with its bytes.
    async fn training_image(&mut self, id: &str) -> StoreResult<Option<(TrainingImageRecord, Vec<u8>)>>;
    /// Assignments, of one person or everyone.
    async fn training_assignments(
        &mut self,
        user_id: Option<&str>,
    ) -> StoreResult<Vec<TrainingAssignmentRecord>>;
    /// Each person's latest pass of each course: (course id, user id, when).
    async fn training_last_passes(&mut self) -> StoreResult<Vec<(String, String, UnixMillis)>>;
    /// Attempts of one course and/or one person, newest first.
    async fn training_attempts(
        &mut self,
        course_id: Option<&str>,
        user_id: Option<&str>,
    ) -> StoreResult<Vec<TrainingAttemptRecord>>;
}

#[async_trait]
pub trait TrainingWrite: TrainingRead {
    async fn insert_training_course(&mut self, course: &TrainingCourseRecord) -> StoreResult<()>;
    /// Retires a course in force; false when it was retired already.
    async fn retire_training_course(&mut self, id: &str, at: UnixMillis) -> StoreResult<bool>;
    async fn insert_training_image(&mut self, image: &TrainingImageRecord, content: &[u8])
    -> StoreResult<()>;
    async fn insert_training_assignment(&mut self, assignment: &TrainingAssignmentRecord) -> StoreResult<()>;
    async fn insert_training_attempt(&mut self, attempt: &TrainingAttemptRecord) -> StoreResult<()>;
}
