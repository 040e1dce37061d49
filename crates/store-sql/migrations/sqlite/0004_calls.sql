-- Calls reported by the telephony (CTI) integration: which operator is on a call with which
-- number. The caller's number is kept only as its blind-index digest.
CREATE TABLE calls (
    id            TEXT PRIMARY KEY,
    external_id   TEXT NOT NULL UNIQUE,
    operator_id   TEXT NOT NULL REFERENCES users(id),
    caller_digest BLOB NOT NULL,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT
);
CREATE INDEX calls_active ON calls(operator_id, ended_at);
