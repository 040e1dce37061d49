-- Operators' activity (issue 5; invariant 8): one row per PC and minute, counts only — never key
-- codes or window contents. The key dedupes a bucket sent again after a lost answer.
CREATE TABLE device_activity (
    device_id      TEXT NOT NULL REFERENCES devices(id),
    minute         BIGINT NOT NULL,
    keystrokes     BIGINT NOT NULL,
    clicks         BIGINT NOT NULL,
    idle_secs      BIGINT NOT NULL,
    app            TEXT,
    browser_domain TEXT,
    received_at    BIGINT NOT NULL,
    PRIMARY KEY (device_id, minute)
);
CREATE INDEX device_activity_minute ON device_activity(minute);

-- The floor reads the latest screen-lock and USB events of every PC at once.
CREATE INDEX device_events_kind ON device_events(kind, occurred_at);
