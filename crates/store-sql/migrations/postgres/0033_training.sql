-- Training (issue 18, item 2; ISMS-8, TW-13): courses with their text (Markdown), images and a
-- quiz (JSON: questions with their choices and the right one, which never leaves the server);
-- a course never changes once created (attempts are graded against it): a changed course is a
-- new one and the old one retires. Assignments (onboarding for a new person, an annual course
-- coming due, a course after an incident, by hand) and attempts are permanent rows.
CREATE TABLE training_courses (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    title_en    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    summary_en  TEXT NOT NULL,
    body        TEXT NOT NULL,
    pass_mark   BIGINT NOT NULL,
    scope_roles TEXT NOT NULL,
    due_days    BIGINT NOT NULL,
    questions   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    retired_at  BIGINT
);
CREATE TABLE training_images (
    id           TEXT PRIMARY KEY,
    course_id    TEXT NOT NULL REFERENCES training_courses(id),
    content_type TEXT NOT NULL,
    content      BYTEA NOT NULL,
    uploaded_at  BIGINT NOT NULL,
    uploaded_by  TEXT NOT NULL
);
CREATE INDEX training_images_course ON training_images(course_id);
CREATE TABLE training_assignments (
    id          TEXT PRIMARY KEY,
    course_id   TEXT NOT NULL REFERENCES training_courses(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    reason      TEXT NOT NULL,
    incident_id TEXT,
    assigned_at BIGINT NOT NULL,
    assigned_by TEXT NOT NULL,
    due_on      TEXT NOT NULL
);
CREATE INDEX training_assignments_user ON training_assignments(user_id);
CREATE TABLE training_attempts (
    id           TEXT PRIMARY KEY,
    course_id    TEXT NOT NULL REFERENCES training_courses(id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    submitted_at BIGINT NOT NULL,
    correct      BIGINT NOT NULL,
    total        BIGINT NOT NULL,
    score        BIGINT NOT NULL,
    pass_mark    BIGINT NOT NULL,
    passed       BOOLEAN NOT NULL,
    answers      TEXT NOT NULL
);
CREATE INDEX training_attempts_user ON training_attempts(user_id, course_id);
CREATE INDEX training_attempts_passed ON training_attempts(course_id, passed);
