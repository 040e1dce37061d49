-- The disposal register (issue 18, item 7; LEAK-3): each PC, disk, medium or batch of paper
-- disposed of, with the method, the witness and the disposal company's certificate. Rows are
-- only ever added: a mistake is corrected by a new record naming the old one in its notes.
CREATE TABLE disposals (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    method      TEXT NOT NULL,
    description TEXT NOT NULL,
    serial      TEXT NOT NULL,
    quantity    BIGINT,
    disposed_on TEXT NOT NULL,
    witness_id  TEXT NOT NULL REFERENCES users(id),
    company     TEXT NOT NULL,
    certificate TEXT NOT NULL,
    notes       TEXT NOT NULL,
    asset_id    TEXT,
    device_id   TEXT REFERENCES devices(id),
    recorded_at BIGINT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX disposals_newest ON disposals(disposed_on, recorded_at);
CREATE INDEX disposals_device ON disposals(device_id);
