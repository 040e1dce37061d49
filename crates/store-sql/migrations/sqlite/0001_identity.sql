-- Identity, sessions, organisation, settings and the audit log (issue 2).
-- Times are Unix milliseconds (UTC); ids are UUID strings.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    roles               TEXT NOT NULL,          -- comma-separated role names
    status              TEXT NOT NULL,          -- invited | active | disabled
    language            TEXT,
    team_id             TEXT,
    site_id             TEXT,
    password_hash       TEXT,
    password_changed_at BIGINT,
    totp_secret         BLOB,                   -- sealed with the data directory's secret key
    totp_pending        BLOB,
    totp_last_step      BIGINT,
    failed_signins      BIGINT NOT NULL DEFAULT 0,
    locked_until        BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE password_history (
    user_id    TEXT NOT NULL REFERENCES users(id),
    hash       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history(user_id, created_at);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id),
    digest  TEXT NOT NULL,
    PRIMARY KEY (user_id, digest)
);

CREATE TABLE org_units (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,                   -- site | team | client
    name       TEXT NOT NULL,
    site_id    TEXT REFERENCES org_units(id),
    created_at BIGINT NOT NULL,
    UNIQUE (kind, name)
);

CREATE TABLE user_clients (
    user_id   TEXT NOT NULL REFERENCES users(id),
    client_id TEXT NOT NULL REFERENCES org_units(id),
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    digest       TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users(id),
    state        TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    source_ip    TEXT,
    user_agent   TEXT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE one_time_links (
    digest     TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,                   -- setup | invitation
    user_id    TEXT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    digest       TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    owner_id     TEXT NOT NULL REFERENCES users(id),
    permissions  TEXT NOT NULL,                 -- comma-separated permission names
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

CREATE TABLE security_events (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    details    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX security_events_time ON security_events(created_at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    time       BIGINT NOT NULL,
    category   TEXT NOT NULL,
    action     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    object     TEXT,
    outcome    TEXT NOT NULL,
    source_ip  TEXT,
    request_id TEXT,
    details    TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log(time);
CREATE INDEX audit_log_actor ON audit_log(actor, seq);

-- The log is append-only, whoever holds the database.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
