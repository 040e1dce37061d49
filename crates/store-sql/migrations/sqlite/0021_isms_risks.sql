-- Risks (issue 17, item 2): assessments, each with its risk matrix frozen in typed rows (the
-- grades of each axis, the levels and their colours, the grid), and the risks of each — the
-- row in force and every version — with the assets they threaten and the controls that treat
-- them.
CREATE TABLE risk_assessments (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    -- Risks at this level or above are above the centre's appetite.
    appetite   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE risk_matrix_grades (
    assessment_id TEXT NOT NULL REFERENCES risk_assessments(id),
    -- `probability`, `impact` or `level`.
    axis          TEXT NOT NULL,
    position      BIGINT NOT NULL,
    name_en       TEXT NOT NULL,
    name_ja       TEXT NOT NULL,
    -- Levels only: the heat map's colour.
    color         TEXT,
    PRIMARY KEY (assessment_id, axis, position)
);

CREATE TABLE risk_matrix_cells (
    assessment_id TEXT NOT NULL REFERENCES risk_assessments(id),
    probability   BIGINT NOT NULL,
    impact        BIGINT NOT NULL,
    level         BIGINT NOT NULL,
    PRIMARY KEY (assessment_id, probability, impact)
);

CREATE TABLE risks (
    id                   TEXT PRIMARY KEY,
    assessment_id        TEXT NOT NULL REFERENCES risk_assessments(id),
    number               BIGINT NOT NULL,
    version              BIGINT NOT NULL,
    title                TEXT NOT NULL,
    threat               TEXT NOT NULL,
    vulnerability        TEXT NOT NULL,
    inherent_probability BIGINT NOT NULL,
    inherent_impact      BIGINT NOT NULL,
    inherent_level       BIGINT NOT NULL,
    residual_probability BIGINT,
    residual_impact      BIGINT,
    residual_level       BIGINT,
    treatment            TEXT NOT NULL,
    owner_id             TEXT REFERENCES users(id),
    due_on               TEXT,
    review_on            TEXT,
    notes                TEXT NOT NULL,
    changed_at           BIGINT NOT NULL,
    changed_by           TEXT NOT NULL,
    UNIQUE (assessment_id, number)
);
CREATE INDEX risks_level ON risks(assessment_id, inherent_level);

CREATE TABLE risk_versions (
    id                   TEXT NOT NULL,
    assessment_id        TEXT NOT NULL,
    number               BIGINT NOT NULL,
    version              BIGINT NOT NULL,
    title                TEXT NOT NULL,
    threat               TEXT NOT NULL,
    vulnerability        TEXT NOT NULL,
    inherent_probability BIGINT NOT NULL,
    inherent_impact      BIGINT NOT NULL,
    inherent_level       BIGINT NOT NULL,
    residual_probability BIGINT,
    residual_impact      BIGINT,
    residual_level       BIGINT,
    treatment            TEXT NOT NULL,
    owner_id             TEXT,
    due_on               TEXT,
    review_on            TEXT,
    notes                TEXT NOT NULL,
    changed_at           BIGINT NOT NULL,
    changed_by           TEXT NOT NULL,
    -- The links as they were: comma-separated asset ids and control urns.
    asset_ids            TEXT NOT NULL,
    control_urns         TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE risk_assets (
    risk_id  TEXT NOT NULL REFERENCES risks(id),
    asset_id TEXT NOT NULL REFERENCES assets(id),
    PRIMARY KEY (risk_id, asset_id)
);
CREATE INDEX risk_assets_asset ON risk_assets(asset_id);

CREATE TABLE risk_controls (
    risk_id     TEXT NOT NULL REFERENCES risks(id),
    control_urn TEXT NOT NULL,
    PRIMARY KEY (risk_id, control_urn)
);
CREATE INDEX risk_controls_control ON risk_controls(control_urn);
