-- Rule sets that were JSON in the settings table, as typed tables with their history (issue 13,
-- item 6): every change is a new version (who, when); the latest version is the one in force,
-- the older ones are the history an auditor reads. Rows move from the settings table at start.

-- An operator's weekly shifts.
CREATE TABLE shift_schedules (
    user_id            TEXT NOT NULL REFERENCES users(id),
    version            BIGINT NOT NULL,
    utc_offset_minutes BIGINT NOT NULL,
    changed_at         BIGINT NOT NULL,
    changed_by         TEXT NOT NULL,
    PRIMARY KEY (user_id, version)
);
CREATE TABLE shifts (
    user_id    TEXT NOT NULL,
    version    BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    -- Weekdays as bits: Monday 1, Tuesday 2, … Sunday 64.
    days       BIGINT NOT NULL CHECK (days BETWEEN 1 AND 127),
    start_time TEXT NOT NULL,
    end_time   TEXT NOT NULL,
    PRIMARY KEY (user_id, version, position),
    FOREIGN KEY (user_id, version) REFERENCES shift_schedules(user_id, version)
);

-- A home worker's own approved networks.
CREATE TABLE user_network_versions (
    user_id    TEXT NOT NULL REFERENCES users(id),
    version    BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (user_id, version)
);
CREATE TABLE user_networks (
    user_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    cidr    TEXT NOT NULL,
    PRIMARY KEY (user_id, version, cidr),
    FOREIGN KEY (user_id, version) REFERENCES user_network_versions(user_id, version)
);

-- The keystrokes a minute above which a role's typing is a signal.
CREATE TABLE keystroke_limit_versions (
    version    BIGINT PRIMARY KEY,
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL
);
CREATE TABLE keystroke_limits (
    version    BIGINT NOT NULL REFERENCES keystroke_limit_versions(version),
    role       TEXT NOT NULL,
    per_minute BIGINT NOT NULL,
    PRIMARY KEY (version, role)
);
