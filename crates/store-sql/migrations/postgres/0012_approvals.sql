-- Four-eyes requests (issue 15): a request, the decisions on it, and its single-use grant.
-- Every change of state is a conditional UPDATE on `state`, so replicas never both act.
CREATE TABLE approvals (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    requester_id     TEXT NOT NULL REFERENCES users(id),
    requester_team   TEXT,
    content          TEXT NOT NULL,
    digest           TEXT NOT NULL,
    reason           TEXT NOT NULL,
    state            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    decide_by        BIGINT NOT NULL,
    closed_at        BIGINT,
    grant_expires_at BIGINT
);
CREATE INDEX approvals_state ON approvals(state, created_at);
CREATE INDEX approvals_requester ON approvals(requester_id, created_at);

CREATE TABLE approval_decisions (
    approval_id TEXT NOT NULL REFERENCES approvals(id),
    decider_id  TEXT NOT NULL REFERENCES users(id),
    approve     BOOLEAN NOT NULL,
    at          BIGINT NOT NULL,
    comment     TEXT NOT NULL,
    -- No one decides twice.
    PRIMARY KEY (approval_id, decider_id)
);
