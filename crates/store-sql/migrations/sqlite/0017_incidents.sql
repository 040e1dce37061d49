-- Incidents (issue 16, items 4 and 5): alerts grouped, or opened by hand, or a possible leak
-- anyone reported; the workflow, the personal data involved (the breach-report clock follows
-- from it), the reports made, the timeline, the playbook's checklist.
CREATE TABLE incidents (
    id                      TEXT PRIMARY KEY,
    number                  BIGINT NOT NULL UNIQUE,
    title                   TEXT NOT NULL,
    kind                    TEXT NOT NULL,
    state                   TEXT NOT NULL,
    severity                TEXT NOT NULL,
    description             TEXT NOT NULL,
    -- Absent when reported anonymously.
    reported_by             TEXT REFERENCES users(id),
    assignee_id             TEXT REFERENCES users(id),
    learned_at              BIGINT NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    people                  BIGINT NOT NULL,
    sensitive               BIGINT NOT NULL,
    financial               BIGINT NOT NULL,
    wrongful_purpose        BIGINT NOT NULL,
    encrypted_key_safe      BIGINT NOT NULL,
    -- Comma-separated client company ids whose customers are involved.
    client_ids              TEXT NOT NULL,
    preliminary_reported_at BIGINT,
    final_reported_at       BIGINT,
    people_notified_at      BIGINT,
    clients_notified_at     BIGINT,
    review                  TEXT,
    closed_at               BIGINT
);
CREATE INDEX incidents_state ON incidents(state, updated_at);

CREATE TABLE incident_alerts (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    alert_id    TEXT NOT NULL REFERENCES alerts(id),
    linked_at   BIGINT NOT NULL,
    PRIMARY KEY (incident_id, alert_id)
);
CREATE INDEX incident_alerts_alert ON incident_alerts(alert_id);

-- The timeline's own entries: comments, state moves, assessments, checklist items, reports,
-- reminders (alerts and their responses are joined in when it is read).
CREATE TABLE incident_events (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    at          BIGINT NOT NULL,
    -- An audit actor; `anonymous` for an anonymous report, `system` for reminders.
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    -- The order of entries made in the same millisecond.
    seq         BIGINT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events(incident_id, seq);

CREATE TABLE incident_checklist (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    item        TEXT NOT NULL,
    done_at     BIGINT NOT NULL,
    done_by     TEXT NOT NULL,
    PRIMARY KEY (incident_id, item)
);
