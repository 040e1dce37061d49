-- The audit log becomes a transparency log (issue 3): entries indexed from 0, the Merkle tree's
-- complete subtrees, signed checkpoints, forwarding cursors and the retention floor.

CREATE TABLE audit_entries (
    idx        INTEGER PRIMARY KEY,
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
INSERT INTO audit_entries (idx, time, category, action, actor, object, outcome, source_ip, request_id, details)
    SELECT seq - 1, time, category, action, actor, object, outcome, source_ip, request_id, details
    FROM audit_log ORDER BY seq;
DROP TABLE audit_log;
CREATE INDEX audit_entries_time ON audit_entries(time);
CREATE INDEX audit_entries_actor ON audit_entries(actor, idx);
CREATE INDEX audit_entries_action ON audit_entries(action, idx);
CREATE INDEX audit_entries_object ON audit_entries(object, idx);

-- Complete aligned subtrees of the Merkle tree: (level, idx) covers entries
-- idx * 2^level .. (idx + 1) * 2^level - 1; level 0 holds the leaf hashes.
CREATE TABLE audit_tree (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    time BIGINT NOT NULL,
    note TEXT NOT NULL
);

-- Entries below this index have been archived and may be pruned (retention).
CREATE TABLE audit_retention (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_below BIGINT NOT NULL
);
INSERT INTO audit_retention (id, pruned_below) VALUES (1, 0);

-- Where each forwarding destination has delivered up to, and which server holds the lease to
-- deliver (one at a time, so replicas do not all send the same entries).
CREATE TABLE audit_cursors (
    name        TEXT PRIMARY KEY,
    next_index  BIGINT NOT NULL,
    holder      TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Append-only, whoever holds the database; only archived entries may be pruned, and the
-- retention floor only rises.
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
WHEN OLD.idx >= (SELECT pruned_below FROM audit_retention WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only; only archived entries can be pruned'); END;
CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
BEGIN SELECT RAISE(ABORT, 'audit_tree is append-only'); END;
CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
BEGIN SELECT RAISE(ABORT, 'audit_tree is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_retention_only_rises BEFORE UPDATE ON audit_retention
WHEN NEW.pruned_below < OLD.pruned_below
BEGIN SELECT RAISE(ABORT, 'the retention floor only rises'); END;
