-- The ISMS registers, part 1 (issue 17): control catalogs (Annex A, the telework measures, the
-- leak countermeasures, and any a centre imports), the mappings between their controls, the
-- Statement of Applicability (each change a new version; the highest in force), and the live
-- evidence's results (a row each time a result changes) with when each was last checked.
CREATE TABLE control_catalogs (
    urn         TEXT PRIMARY KEY,
    ref_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_ja     TEXT,
    version     BIGINT NOT NULL,
    provider    TEXT,
    built_in    BOOLEAN NOT NULL,
    imported_at BIGINT NOT NULL,
    imported_by TEXT NOT NULL
);

CREATE TABLE catalog_controls (
    urn            TEXT PRIMARY KEY,
    catalog_urn    TEXT NOT NULL REFERENCES control_catalogs(urn),
    parent_urn     TEXT,
    ref_id         TEXT NOT NULL,
    name           TEXT NOT NULL,
    name_ja        TEXT,
    description    TEXT,
    description_ja TEXT,
    assessable     BOOLEAN NOT NULL,
    position       BIGINT NOT NULL
);
CREATE INDEX catalog_controls_catalog ON catalog_controls(catalog_urn, position);

CREATE TABLE control_mappings (
    from_urn    TEXT NOT NULL,
    to_urn      TEXT NOT NULL,
    catalog_urn TEXT NOT NULL REFERENCES control_catalogs(urn),
    PRIMARY KEY (from_urn, to_urn)
);

CREATE TABLE soa_entries (
    control_urn    TEXT NOT NULL,
    version        BIGINT NOT NULL,
    applicable     BOOLEAN NOT NULL,
    justification  TEXT NOT NULL,
    implementation TEXT NOT NULL,
    owner_id       TEXT REFERENCES users(id),
    review_on      TEXT,
    changed_at     BIGINT NOT NULL,
    changed_by     TEXT NOT NULL,
    PRIMARY KEY (control_urn, version)
);

CREATE TABLE evidence_results (
    kind        TEXT NOT NULL,
    computed_at BIGINT NOT NULL,
    status      TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (kind, computed_at)
);

CREATE TABLE evidence_checks (
    kind       TEXT PRIMARY KEY,
    checked_at BIGINT NOT NULL
);
