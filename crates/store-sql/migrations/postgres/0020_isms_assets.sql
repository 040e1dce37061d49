-- Information assets (issue 17, item 1): the row in force per asset, and every version of it.
-- Ledger PCs and each client company's customer data are kept in step by Mamori (`source`,
-- `source_id`); a person adds the rest.
CREATE TABLE assets (
    id              TEXT PRIMARY KEY,
    version         BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    owner_id        TEXT REFERENCES users(id),
    location        TEXT NOT NULL,
    confidentiality TEXT NOT NULL,
    integrity       TEXT NOT NULL,
    availability    TEXT NOT NULL,
    allowed         BOOLEAN,
    review_on       TEXT,
    notes           TEXT NOT NULL,
    source          TEXT NOT NULL,
    source_id       TEXT,
    retired_at      BIGINT,
    changed_at      BIGINT NOT NULL,
    changed_by      TEXT NOT NULL
);
CREATE UNIQUE INDEX assets_source ON assets(source, source_id);
CREATE INDEX assets_kind ON assets(kind, name);

CREATE TABLE asset_versions (
    id              TEXT NOT NULL,
    version         BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    owner_id        TEXT,
    location        TEXT NOT NULL,
    confidentiality TEXT NOT NULL,
    integrity       TEXT NOT NULL,
    availability    TEXT NOT NULL,
    allowed         BOOLEAN,
    review_on       TEXT,
    notes           TEXT NOT NULL,
    source          TEXT NOT NULL,
    source_id       TEXT,
    retired_at      BIGINT,
    changed_at      BIGINT NOT NULL,
    changed_by      TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
