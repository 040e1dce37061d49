-- Detection (issue 16): alerts the detectors raised from the audit log, one per rule and
-- subject while its cause lasts (a counter of firings, the latest explanation), the entries
-- behind each, the automatic responses taken, the hourly counts an operator's volume baseline
-- is built from, and the detection rules with their history.
CREATE TABLE alerts (
    id               TEXT PRIMARY KEY,
    rule             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    subject_user_id  TEXT REFERENCES users(id),
    severity         TEXT NOT NULL,
    state            TEXT NOT NULL,
    first_at         BIGINT NOT NULL,
    last_at          BIGINT NOT NULL,
    hits             BIGINT NOT NULL,
    value            BIGINT NOT NULL,
    threshold        BIGINT NOT NULL,
    window_minutes   BIGINT NOT NULL,
    baseline_median  DOUBLE PRECISION,
    baseline_mad     DOUBLE PRECISION,
    baseline_hours   BIGINT,
    deviation        DOUBLE PRECISION,
    raised_index     BIGINT NOT NULL,
    assignee_id      TEXT REFERENCES users(id),
    state_reason     TEXT,
    suppressed_until BIGINT,
    updated_at       BIGINT NOT NULL,
    updated_by       TEXT
);
CREATE INDEX alerts_rule_subject ON alerts(rule, subject, first_at);
CREATE INDEX alerts_last ON alerts(last_at);

CREATE TABLE alert_evidence (
    alert_id    TEXT NOT NULL REFERENCES alerts(id),
    audit_index BIGINT NOT NULL,
    PRIMARY KEY (alert_id, audit_index)
);

CREATE TABLE alert_responses (
    id          TEXT PRIMARY KEY,
    alert_id    TEXT NOT NULL REFERENCES alerts(id),
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    state       TEXT NOT NULL,
    detail      TEXT,
    created_at  BIGINT NOT NULL,
    reversed_at BIGINT,
    reversed_by TEXT
);
CREATE INDEX alert_responses_alert ON alert_responses(alert_id, created_at);

-- Per person and hour: distinct customers, lookups, lookups outside a call.
CREATE TABLE detector_hours (
    subject   TEXT NOT NULL,
    hour      BIGINT NOT NULL,
    customers BIGINT NOT NULL,
    lookups   BIGINT NOT NULL,
    off_call  BIGINT NOT NULL,
    PRIMARY KEY (subject, hour)
);

-- The detection rules: each change a new version (who, when); the latest is in force.
CREATE TABLE detection_rule_versions (
    version    BIGINT PRIMARY KEY,
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL
);
CREATE TABLE detection_rules (
    version        BIGINT NOT NULL REFERENCES detection_rule_versions(version),
    rule           TEXT NOT NULL,
    enabled        BIGINT NOT NULL,
    severity       TEXT NOT NULL,
    threshold      BIGINT NOT NULL,
    window_minutes BIGINT NOT NULL,
    -- Comma-separated response names, in a fixed order.
    responses      TEXT NOT NULL,
    PRIMARY KEY (version, rule)
);
