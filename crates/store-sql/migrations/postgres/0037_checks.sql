-- Checks (issue 18, item 4; ISMS-7, LEAK-2, LEAK-4): recurring checklists (the operators' own
-- seat, the supervisors' floor), the runs done per period, the follow-ups a failed item opens,
-- and optional photos sealed like vendor files (own data key, wrapped by the vault's key).
CREATE TABLE checklists (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    items       TEXT NOT NULL,
    performer   TEXT NOT NULL,
    frequency   TEXT NOT NULL,
    site_id     TEXT,
    team_id     TEXT,
    created_on  TEXT NOT NULL,
    retired_at  BIGINT,
    changed_at  BIGINT NOT NULL,
    changed_by  TEXT NOT NULL
);

CREATE TABLE check_runs (
    id           TEXT PRIMARY KEY,
    checklist_id TEXT NOT NULL REFERENCES checklists(id),
    period       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    team_id      TEXT,
    done_at      BIGINT NOT NULL,
    answers      TEXT NOT NULL,
    note         TEXT NOT NULL,
    failed       BIGINT NOT NULL
);
CREATE INDEX check_runs_done ON check_runs(done_at);
CREATE INDEX check_runs_checklist ON check_runs(checklist_id, period);

CREATE TABLE check_follow_ups (
    id           TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES check_runs(id),
    checklist_id TEXT NOT NULL,
    item         BIGINT NOT NULL,
    item_text    TEXT NOT NULL,
    note         TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    team_id      TEXT,
    opened_at    BIGINT NOT NULL,
    due_on       TEXT NOT NULL,
    resolved_at  BIGINT,
    resolved_by  TEXT,
    resolution   TEXT NOT NULL
);
CREATE INDEX check_follow_ups_open ON check_follow_ups(resolved_at, opened_at);

CREATE TABLE check_photos (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES check_runs(id),
    item        BIGINT,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL,
    kek_version BIGINT NOT NULL,
    content     BYTEA NOT NULL
);
CREATE INDEX check_photos_run ON check_photos(run_id);
