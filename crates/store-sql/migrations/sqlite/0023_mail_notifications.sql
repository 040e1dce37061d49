-- Reminders by e-mail (issue 17, item 7): certificates about to lapse, reviews overdue. Each
-- reminder has a key (what it is about and which threshold), so it is queued once however
-- often the sweep runs; the sending task claims, sends and records each.
CREATE TABLE mail_notifications (
    id         TEXT PRIMARY KEY,
    reminder   TEXT NOT NULL UNIQUE,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL,
    next_at    BIGINT NOT NULL,
    last_error TEXT,
    sent_at    BIGINT
);
CREATE INDEX mail_notifications_due ON mail_notifications(sent_at, next_at);
