-- The audit log becomes a transparency log (issue 3): entries indexed from 0, the Merkle tree's
-- complete subtrees, signed checkpoints, forwarding cursors and the retention floor.

CREATE TABLE audit_entries (
    idx        BIGINT PRIMARY KEY,
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
DROP FUNCTION audit_log_refuse_change();
CREATE INDEX audit_entries_time ON audit_entries(time);
CREATE INDEX audit_entries_actor ON audit_entries(actor, idx);
CREATE INDEX audit_entries_action ON audit_entries(action, idx);
CREATE INDEX audit_entries_object ON audit_entries(object, idx);

-- Complete aligned subtrees of the Merkle tree: (level, idx) covers entries
-- idx * 2^level .. (idx + 1) * 2^level - 1; level 0 holds the leaf hashes.
CREATE TABLE audit_tree (
    level SMALLINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
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
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE FUNCTION audit_entries_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.idx >= (SELECT pruned_below FROM audit_retention WHERE id = 1) THEN
        RAISE EXCEPTION 'audit_entries is append-only; only archived entries can be pruned';
    END IF;
    RETURN OLD;
END;
$$;
CREATE FUNCTION audit_retention_only_rises() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.pruned_below < OLD.pruned_below THEN
        RAISE EXCEPTION 'the retention floor only rises';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_delete();
CREATE TRIGGER audit_tree_no_change BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate_entries BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate_tree BEFORE TRUNCATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate_checkpoints BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_retention_rises BEFORE UPDATE ON audit_retention
    FOR EACH ROW EXECUTE FUNCTION audit_retention_only_rises();
