-- Outgoing mail held for a check (issue 15, item 5): a mail to an external domain waits here
-- for its sender's check (and, with customer data, a supervisor's approval), then for the
-- relay; a bounce waits for the relay too. The message and what names a customer in the
-- summary are sealed with the server's mail key.
CREATE TABLE outgoing_mail (
    id            TEXT PRIMARY KEY,
    sender_id     TEXT NOT NULL REFERENCES users(id),
    kind          TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    recipients    TEXT NOT NULL,
    findings      TEXT NOT NULL,
    summary       BLOB NOT NULL,
    message       BLOB NOT NULL,
    size          BIGINT NOT NULL,
    state         TEXT NOT NULL,
    reason        TEXT,
    approval_id   TEXT REFERENCES approvals(id),
    created_at    BIGINT NOT NULL,
    confirm_after BIGINT NOT NULL,
    hold_until    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    next_at       BIGINT NOT NULL,
    claimed_until BIGINT,
    last_error    TEXT,
    closed_at     BIGINT
);
CREATE INDEX outgoing_mail_sender ON outgoing_mail(sender_id, created_at);
CREATE INDEX outgoing_mail_state ON outgoing_mail(state, next_at);

-- Each person's password for the mail relay (its SHA-256: it is a long random secret).
CREATE TABLE mail_passwords (
    user_id    TEXT PRIMARY KEY REFERENCES users(id),
    digest     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
