-- Vendors and subcontractors (issue 17, item 5; VEND-1…6): the row in force and every
-- version, the client companies whose data each handles, assessments with a score per
-- criterion, site visits, and certificates — the centre's own (no vendor) and its vendors'.
-- A renewal is a new certificate row; the old one stays, so how long a mark was held shows.
CREATE TABLE vendors (
    id           TEXT PRIMARY KEY,
    version      BIGINT NOT NULL,
    name         TEXT NOT NULL,
    -- The outsourcer it works for (再委託), none for a direct vendor.
    parent_id    TEXT REFERENCES vendors(id),
    data_handled TEXT NOT NULL,
    contact      TEXT NOT NULL,
    review_on    TEXT,
    notes        TEXT NOT NULL,
    retired_at   BIGINT,
    changed_at   BIGINT NOT NULL,
    changed_by   TEXT NOT NULL
);

CREATE TABLE vendor_versions (
    id           TEXT NOT NULL,
    version      BIGINT NOT NULL,
    name         TEXT NOT NULL,
    parent_id    TEXT,
    data_handled TEXT NOT NULL,
    contact      TEXT NOT NULL,
    review_on    TEXT,
    notes        TEXT NOT NULL,
    retired_at   BIGINT,
    changed_at   BIGINT NOT NULL,
    changed_by   TEXT NOT NULL,
    -- The client companies as they were: comma-separated ids.
    client_ids   TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE vendor_clients (
    vendor_id TEXT NOT NULL REFERENCES vendors(id),
    client_id TEXT NOT NULL REFERENCES org_units(id),
    PRIMARY KEY (vendor_id, client_id)
);

CREATE TABLE certificates (
    id                TEXT PRIMARY KEY,
    -- None: the centre's own.
    vendor_id         TEXT REFERENCES vendors(id),
    scheme            TEXT NOT NULL,
    number            TEXT NOT NULL,
    issuer            TEXT NOT NULL,
    first_obtained_on TEXT NOT NULL,
    issued_on         TEXT NOT NULL,
    expires_on        TEXT NOT NULL,
    recorded_at       BIGINT NOT NULL,
    recorded_by       TEXT NOT NULL
);
CREATE INDEX certificates_holder ON certificates(vendor_id, scheme, expires_on);

CREATE TABLE vendor_assessments (
    id          TEXT PRIMARY KEY,
    vendor_id   TEXT NOT NULL REFERENCES vendors(id),
    assessed_on TEXT NOT NULL,
    total       BIGINT NOT NULL,
    tier        TEXT NOT NULL,
    next_on     TEXT NOT NULL,
    notes       TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX vendor_assessments_vendor ON vendor_assessments(vendor_id, assessed_on);

CREATE TABLE vendor_assessment_scores (
    assessment_id TEXT NOT NULL REFERENCES vendor_assessments(id),
    criterion     TEXT NOT NULL,
    score         BIGINT NOT NULL,
    PRIMARY KEY (assessment_id, criterion)
);

CREATE TABLE vendor_visits (
    id          TEXT PRIMARY KEY,
    vendor_id   TEXT NOT NULL REFERENCES vendors(id),
    visited_on  TEXT NOT NULL,
    visitor     TEXT NOT NULL,
    findings    TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    recorded_by TEXT NOT NULL
);
