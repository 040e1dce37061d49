-- Internal audits (issue 18, item 5; ISMS-7): audits planned against the SoA's controls, their
-- findings tracked to closure (CAPA), and each step of a finding's CAPA as a row of its history.
CREATE TABLE internal_audits (
    id          TEXT PRIMARY KEY,
    number      BIGINT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    scope       TEXT NOT NULL,
    controls    TEXT NOT NULL,
    auditor_id  TEXT NOT NULL,
    planned_on  TEXT NOT NULL,
    held_on     TEXT,
    report      TEXT NOT NULL,
    changed_at  BIGINT NOT NULL,
    changed_by  TEXT NOT NULL
);

CREATE TABLE audit_findings (
    id                TEXT PRIMARY KEY,
    audit_id          TEXT NOT NULL,
    number            BIGINT NOT NULL UNIQUE,
    kind              TEXT NOT NULL,
    control_urn       TEXT,
    description       TEXT NOT NULL,
    state             TEXT NOT NULL,
    root_cause        TEXT NOT NULL,
    corrective_action TEXT NOT NULL,
    owner_id          TEXT,
    due_on            TEXT,
    created_at        BIGINT NOT NULL,
    created_by        TEXT NOT NULL,
    changed_at        BIGINT NOT NULL
);
CREATE INDEX audit_findings_audit ON audit_findings(audit_id);

CREATE TABLE audit_finding_steps (
    finding_id TEXT NOT NULL,
    at         BIGINT NOT NULL,
    step       TEXT NOT NULL,
    state      TEXT NOT NULL,
    actor      TEXT NOT NULL,
    note       TEXT NOT NULL
);
CREATE INDEX audit_finding_steps_finding ON audit_finding_steps(finding_id, at);
