-- The webhook's outbox tells of more than approval steps (issue 16): alerts raised, incidents
-- opened, breach-report reminders. A notification names its subject (`approval:<id>`,
-- `alert:<id>`, `incident:<id>`) instead of referring to an approval.
CREATE TABLE webhook_notifications (
    id            TEXT PRIMARY KEY,
    subject       TEXT NOT NULL,
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
INSERT INTO webhook_notifications (id, subject, event, payload, created_at, status, attempts, next_at, claimed_until,
                                   last_error, delivered_at)
    SELECT id, 'approval:' || approval_id, event, payload, created_at, status, attempts, next_at, claimed_until,
           last_error, delivered_at
    FROM approval_notifications;
DROP TABLE approval_notifications;
CREATE INDEX webhook_notifications_due ON webhook_notifications(status, next_at);
CREATE INDEX webhook_notifications_created ON webhook_notifications(created_at);
