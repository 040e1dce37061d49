-- An alert's `hold_lookups` response pauses a person's customer lookups until a supervisor
-- reverses it (issue 16, item 3): every lookup asks whether one is in force for its person.
CREATE INDEX alert_responses_target ON alert_responses(target, kind, reversed_at);
