-- Notifications of approval steps to the configured webhook (issue 15, item 8): written in the
-- transaction of the step (an outbox), delivered by a background task with retries; a row
-- keeps its attempts, its last error and when it arrived.
CREATE TABLE approval_notifications (
    id            TEXT PRIMARY KEY,
    approval_id   TEXT NOT NULL REFERENCES approvals(id),
    event         TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL,
    next_at       BIGINT NOT NULL,
    claimed_until BIGINT,
    last_error    TEXT,
    delivered_at  BIGINT
);
CREATE INDEX approval_notifications_due ON approval_notifications(status, next_at);
CREATE INDEX approval_notifications_created ON approval_notifications(created_at);
