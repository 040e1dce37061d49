-- Endpoint agents (issue 5): one-time enrolment tokens (kept as digests), enrolled devices with
-- the public key each signs its requests with, and the inventory they report — a row each time
-- it changes, so the ledger keeps its history.
CREATE TABLE device_enrolments (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    site_id     TEXT REFERENCES org_units(id),
    user_id     TEXT REFERENCES users(id),
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    device_id   TEXT
);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    public_key   TEXT NOT NULL UNIQUE,
    hostname     TEXT NOT NULL,
    site_id      TEXT REFERENCES org_units(id),
    user_id      TEXT REFERENCES users(id),
    enrolled_at  BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_seen_at BIGINT,
    last_ip      TEXT
);

CREATE TABLE device_inventory (
    id           TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL REFERENCES devices(id),
    collected_at BIGINT NOT NULL,
    -- SHA-256 of the inventory JSON: a report equal to the last one adds no row.
    digest       TEXT NOT NULL,
    inventory    TEXT NOT NULL
);
CREATE INDEX device_inventory_device ON device_inventory(device_id, collected_at);

-- Remote commands to a device: pending → delivered → done | failed, with who issued them.
CREATE TABLE device_commands (
    id           TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL REFERENCES devices(id),
    kind         TEXT NOT NULL,
    message      TEXT,
    state        TEXT NOT NULL,
    issued_by    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    delivered_at BIGINT,
    finished_at  BIGINT,
    result       TEXT
);
CREATE INDEX device_commands_device ON device_commands(device_id, created_at);
CREATE INDEX device_commands_pending ON device_commands(state, created_at);

-- Events the agents report (USB, sessions, screen lock, connectivity…): each carries the agent's
-- own id, so a batch sent again after a lost answer is not stored twice.
CREATE TABLE device_events (
    device_id   TEXT NOT NULL REFERENCES devices(id),
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (device_id, event_id)
);
CREATE INDEX device_events_time ON device_events(device_id, occurred_at);
