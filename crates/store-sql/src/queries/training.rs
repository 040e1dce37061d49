//! The queries of one area (training: issue 18, item 2), written once for both backends: see
//! `mod.rs`.

macro_rules! training_queries {
    ($handle:ty, $db:ty) => {
        const TRAINING_COURSE_COLUMNS: &str = "id, kind, title, title_en, summary, summary_en, body, pass_mark, \
             scope_roles, due_days, questions, created_at, created_by, retired_at";
        const TRAINING_ATTEMPT_COLUMNS: &str =
            "id, course_id, user_id, submitted_at, correct, total, score, pass_mark, passed, answers";
        const TRAINING_ASSIGNMENT_COLUMNS: &str =
            "id, course_id, user_id, reason, incident_id, assigned_at, assigned_by, due_on";

        #[derive(sqlx::FromRow)]
        struct TrainingCourseRow {
            id: String,
            kind: String,
            title: String,
            title_en: String,
            summary: String,
            summary_en: String,
            body: String,
            pass_mark: i64,
            scope_roles: String,
            due_days: i64,
            questions: String,
            created_at: i64,
            created_by: String,
            retired_at: Option<i64>,
        }

        fn training_course_of(r: TrainingCourseRow) -> TrainingCourseRecord {
            TrainingCourseRecord {
                id: r.id,
                kind: r.kind,
                title: r.title,
                title_en: r.title_en,
                summary: r.summary,
                summary_en: r.summary_en,
                body: r.body,
                pass_mark: r.pass_mark,
                scope_roles: r.scope_roles,
                due_days: r.due_days,
                questions: r.questions,
                created_at: UnixMillis(r.created_at),
                created_by: r.created_by,
                retired_at: r.retired_at.map(UnixMillis),
            }
        }

        #[derive(sqlx::FromRow)]
        struct TrainingAttemptRow {
            id: String,
            course_id: String,
            user_id: String,
            submitted_at: i64,
            correct: i64,
            total: i64,
            score: i64,
            pass_mark: i64,
            passed: bool,
            answers: String,
        }

        fn training_attempt_of(r: TrainingAttemptRow) -> TrainingAttemptRecord {
            TrainingAttemptRecord {
                id: r.id,
                course_id: r.course_id,
                user_id: r.user_id,
                submitted_at: UnixMillis(r.submitted_at),
                correct: r.correct,
                total: r.total,
                score: r.score,
                pass_mark: r.pass_mark,
                passed: r.passed,
                answers: r.answers,
            }
        }

        #[derive(sqlx::FromRow)]
        struct TrainingAssignmentRow {
            id: String,
            course_id: String,
            user_id: String,
            reason: String,
            incident_id: Option<String>,
            assigned_at: i64,
            assigned_by: String,
            due_on: String,
        }

        fn training_assignment_of(r: TrainingAssignmentRow) -> TrainingAssignmentRecord {
            TrainingAssignmentRecord {
                id: r.id,
                course_id: r.course_id,
                user_id: r.user_id,
                reason: r.reason,
                incident_id: r.incident_id,
                assigned_at: UnixMillis(r.assigned_at),
                assigned_by: r.assigned_by,
                due_on: r.due_on,
            }
        }

        type TrainingImageRow = (String, String, String, i64, i64, String);

        fn training_image_of((id, course_id, content_type, size, at, by): TrainingImageRow) -> TrainingImageRecord {
            TrainingImageRecord { id, course_id, content_type, size, uploaded_at: UnixMillis(at), uploaded_by: by }
        }

        #[async_trait::async_trait]
        impl mamori_store::TrainingRead for $handle {
            async fn training_courses(&mut self, include_retired: bool) -> StoreResult<Vec<TrainingCourseRecord>> {
                let rows = sqlx::query_as::<$db, TrainingCourseRow>(&format!(
                    "SELECT {TRAINING_COURSE_COLUMNS} FROM training_courses \
                     WHERE ($1 OR retired_at IS NULL) ORDER BY created_at DESC, id"
                ))
                .bind(include_retired)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(training_course_of).collect())
            }

            async fn training_course(&mut self, id: &str) -> StoreResult<Option<TrainingCourseRecord>> {
                let row = sqlx::query_as::<$db, TrainingCourseRow>(&format!(
                    "SELECT {TRAINING_COURSE_COLUMNS} FROM training_courses WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(training_course_of))
            }

            async fn training_images(&mut self, course_id: &str) -> StoreResult<Vec<TrainingImageRecord>> {
                let rows = sqlx::query_as::<$db, TrainingImageRow>(
                    "SELECT id, course_id, content_type, CAST(LENGTH(content) AS BIGINT), uploaded_at, uploaded_by \
                     FROM training_images WHERE course_id = $1 ORDER BY uploaded_at, id",
                )
                .bind(course_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(training_image_of).collect())
            }

            async fn training_image(&mut self, id: &str) -> StoreResult<Option<(TrainingImageRecord, Vec<u8>)>> {
                let row = sqlx::query_as::<$db, (String, String, String, i64, String, Vec<u8>)>(
                    "SELECT id, course_id, content_type, uploaded_at, uploaded_by, content \
                     FROM training_images WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(|(id, course_id, content_type, at, by, content)| {
                    let size = content.len() as i64;
                    (training_image_of((id, course_id, content_type, size, at, by)), content)
                }))
            }

            async fn training_assignments(
                &mut self,
                user_id: Option<&str>,
            ) -> StoreResult<Vec<TrainingAssignmentRecord>> {
                let rows = sqlx::query_as::<$db, TrainingAssignmentRow>(&format!(
                    "SELECT {TRAINING_ASSIGNMENT_COLUMNS} FROM training_assignments \
                     WHERE ($1 IS NULL OR user_id = $1) ORDER BY assigned_at, id"
                ))
                .bind(user_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(training_assignment_of).collect())
            }

            async fn training_last_passes(&mut self) -> StoreResult<Vec<(String, String, UnixMillis)>> {
                let rows = sqlx::query_as::<$db, (String, String, i64)>(
                    "SELECT course_id, user_id, MAX(submitted_at) FROM training_attempts \
                     WHERE passed GROUP BY course_id, user_id",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(|(c, u, at)| (c, u, UnixMillis(at))).collect())
            }

            async fn training_attempts(
                &mut self,
                course_id: Option<&str>,
                user_id: Option<&str>,
            ) -> StoreResult<Vec<TrainingAttemptRecord>> {
                let rows = sqlx::query_as::<$db, TrainingAttemptRow>(&format!(
                    "SELECT {TRAINING_ATTEMPT_COLUMNS} FROM training_attempts \
                     WHERE ($1 IS NULL OR course_id = $1) AND ($2 IS NULL OR user_id = $2) \
                     ORDER BY submitted_at DESC, id"
                ))
                .bind(course_id)
                .bind(user_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(training_attempt_of).collect())
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::TrainingWrite for $handle {
            async fn insert_training_course(&mut self, c: &TrainingCourseRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO training_courses ({TRAINING_COURSE_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL)"
                ))
                .bind(&c.id)
                .bind(&c.kind)
                .bind(&c.title)
                .bind(&c.title_en)
                .bind(&c.summary)
                .bind(&c.summary_en)
                .bind(&c.body)
                .bind(c.pass_mark)
                .bind(&c.scope_roles)
                .bind(c.due_days)
                .bind(&c.questions)
                .bind(c.created_at.0)
                .bind(&c.created_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn retire_training_course(&mut self, id: &str, at: UnixMillis) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE training_courses SET retired_at = $2 WHERE id = $1 AND retired_at IS NULL",
                )
                .bind(id)
                .bind(at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_training_image(&mut self, i: &TrainingImageRecord, content: &[u8]) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO training_images (id, course_id, content_type, content, uploaded_at, uploaded_by) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&i.id)
                .bind(&i.course_id)
                .bind(&i.content_type)
                .bind(content)
                .bind(i.uploaded_at.0)
                .bind(&i.uploaded_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn insert_training_assignment(&mut self, a: &TrainingAssignmentRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO training_assignments ({TRAINING_ASSIGNMENT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(&a.id)
                .bind(&a.course_id)
                .bind(&a.user_id)
                .bind(&a.reason)
                .bind(&a.incident_id)
                .bind(a.assigned_at.0)
                .bind(&a.assigned_by)
                .bind(&a.due_on)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn insert_training_attempt(&mut self, a: &TrainingAttemptRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO training_attempts ({TRAINING_ATTEMPT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ))
                .bind(&a.id)
                .bind(&a.course_id)
                .bind(&a.user_id)
                .bind(a.submitted_at.0)
                .bind(a.correct)
                .bind(a.total)
                .bind(a.score)
                .bind(a.pass_mark)
                .bind(a.passed)
                .bind(&a.answers)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }
        }
    };
}

pub(crate) use training_queries;
