-- State every replica must agree on (DESIGN invariant 10), kept where all of them read it.
-- A key used once: an agent request's nonce, a single-use grant. The primary key makes the
-- first use win, on whichever replica it lands.
CREATE TABLE used_once (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX used_once_expiry ON used_once(expires_at);

-- Token buckets (the reveal allowance): `units` in 1/3,600,000 of a token, as of `at`.
CREATE TABLE rate_buckets (
    key   TEXT PRIMARY KEY,
    units BIGINT NOT NULL,
    at    BIGINT NOT NULL
);
