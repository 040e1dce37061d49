-- Business continuity (issue 18, item 6; ISMS-5): a plan per scenario — its steps, owner,
-- contact tree (JSON) and drill interval — with every version kept, and the drills held.
CREATE TABLE continuity_plans (
    id                 TEXT PRIMARY KEY,
    version            BIGINT NOT NULL,
    scenario           TEXT NOT NULL,
    title              TEXT NOT NULL,
    steps              TEXT NOT NULL,
    owner_id           TEXT NOT NULL,
    contacts           TEXT NOT NULL,
    drill_every_months BIGINT NOT NULL,
    created_on         TEXT NOT NULL,
    retired_at         BIGINT,
    changed_at         BIGINT NOT NULL,
    changed_by         TEXT NOT NULL
);

CREATE TABLE continuity_plan_versions (
    id                 TEXT NOT NULL,
    version            BIGINT NOT NULL,
    scenario           TEXT NOT NULL,
    title              TEXT NOT NULL,
    steps              TEXT NOT NULL,
    owner_id           TEXT NOT NULL,
    contacts           TEXT NOT NULL,
    drill_every_months BIGINT NOT NULL,
    created_on         TEXT NOT NULL,
    retired_at         BIGINT,
    changed_at         BIGINT NOT NULL,
    changed_by         TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE continuity_drills (
    id           TEXT PRIMARY KEY,
    plan_id      TEXT NOT NULL,
    held_on      TEXT NOT NULL,
    participants TEXT NOT NULL,
    result       TEXT NOT NULL,
    findings     TEXT NOT NULL,
    actions      TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    recorded_by  TEXT NOT NULL
);
CREATE INDEX continuity_drills_plan ON continuity_drills(plan_id, held_on);
