-- Policies with acknowledgements (issue 18, item 1; ISMS-3, LEAK-7): the three tiers of rules,
-- the privacy policy and the confidentiality pledge as versioned Markdown documents. A version
-- is a draft until a security admin publishes it, and never changes after; the highest
-- published version is in force. Acknowledgements are kept forever, one row per person and
-- version: a new version does not reset them, it asks for new ones.
CREATE TABLE policies (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    title         TEXT NOT NULL,
    scope_roles   TEXT NOT NULL,
    scope_sites   TEXT NOT NULL,
    scope_clients TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL
);
CREATE TABLE policy_versions (
    policy_id    TEXT NOT NULL REFERENCES policies(id),
    version      BIGINT NOT NULL,
    body         TEXT NOT NULL,
    note         TEXT NOT NULL,
    drafted_at   BIGINT NOT NULL,
    drafted_by   TEXT NOT NULL,
    published_at BIGINT,
    published_by TEXT,
    PRIMARY KEY (policy_id, version)
);
CREATE TABLE policy_acknowledgements (
    policy_id       TEXT NOT NULL,
    version         BIGINT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id),
    acknowledged_at BIGINT NOT NULL,
    PRIMARY KEY (policy_id, version, user_id),
    FOREIGN KEY (policy_id, version) REFERENCES policy_versions(policy_id, version)
);
CREATE INDEX policy_acknowledgements_user ON policy_acknowledgements(user_id);
