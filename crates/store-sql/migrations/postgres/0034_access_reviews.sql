-- Access-right reviews [アクセス権の棚卸し] (issue 18, item 3; LEAK-6). A campaign freezes its
-- population when it starts: one entry per person and role, client company assignment and
-- enrolled PC, with the names as they stood and the flags Mamori computed then. Each entry's
-- reviewer is the person's team supervisor at the freeze (none: the security admins). A decision
-- is stamped on the entry (who, when, why); revocations take effect in the decision's
-- transaction. Entries are never deleted: a finished campaign is evidence.
CREATE TABLE access_review_campaigns (
    id              TEXT PRIMARY KEY,
    title           TEXT NOT NULL,
    trigger_kind    TEXT NOT NULL,
    subject_user_id TEXT REFERENCES users(id),
    started_at      BIGINT NOT NULL,
    started_by      TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    escalated_at    BIGINT,
    finished_at     BIGINT
);
CREATE INDEX access_review_campaigns_started ON access_review_campaigns(started_at);
CREATE TABLE access_review_entries (
    id           TEXT PRIMARY KEY,
    campaign_id  TEXT NOT NULL REFERENCES access_review_campaigns(id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    user_name    TEXT NOT NULL,
    team_name    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    item         TEXT NOT NULL,
    item_name    TEXT NOT NULL,
    reviewers    TEXT,
    flags        TEXT NOT NULL,
    flag_count   BIGINT NOT NULL,
    decision     TEXT,
    reason       TEXT NOT NULL,
    decided_at   BIGINT,
    decided_by   TEXT,
    escalated_at BIGINT
);
CREATE INDEX access_review_entries_page ON access_review_entries(campaign_id, reviewers, flag_count, user_name);
CREATE INDEX access_review_entries_order ON access_review_entries(campaign_id, flag_count, user_name);
