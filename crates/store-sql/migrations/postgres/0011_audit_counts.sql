-- The home pages count today's entries of an action (reveals, off-call lookups, exports) and
-- today's refusals (issue 14): without these, each count walked the whole day's log.
CREATE INDEX audit_entries_action_time ON audit_entries(action, time);
CREATE INDEX audit_entries_outcome_time ON audit_entries(outcome, time);
