-- The legal register (issue 17, item 6; ISMS-4): the laws, regulations, guidelines, contracts
-- and certification rules the centre complies with — the row in force per requirement and
-- every version of it. A contract may name its client company.
CREATE TABLE legal_requirements (
    id          TEXT PRIMARY KEY,
    version     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    reference   TEXT NOT NULL,
    obligations TEXT NOT NULL,
    client_id   TEXT REFERENCES org_units(id),
    owner_id    TEXT REFERENCES users(id),
    review_on   TEXT,
    notes       TEXT NOT NULL,
    retired_at  BIGINT,
    changed_at  BIGINT NOT NULL,
    changed_by  TEXT NOT NULL
);
CREATE INDEX legal_requirements_kind ON legal_requirements(kind, title);

CREATE TABLE legal_requirement_versions (
    id          TEXT NOT NULL,
    version     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    reference   TEXT NOT NULL,
    obligations TEXT NOT NULL,
    client_id   TEXT,
    owner_id    TEXT,
    review_on   TEXT,
    notes       TEXT NOT NULL,
    retired_at  BIGINT,
    changed_at  BIGINT NOT NULL,
    changed_by  TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
