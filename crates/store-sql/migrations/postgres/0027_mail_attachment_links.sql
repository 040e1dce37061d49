-- Attachments of released mail that leave as one-time download links (issue 15, item 5; the
-- outgoing-mail rules' attachment_links): the file is sealed with the mail key, bound to the
-- link's id; the link's token is only in the mail, the row keeps its SHA-256. A link gives one
-- download per external recipient of its mail, until it expires.
CREATE TABLE mail_attachment_links (
    id             TEXT PRIMARY KEY,
    mail_id        TEXT NOT NULL REFERENCES outgoing_mail(id),
    token_digest   TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           BIGINT NOT NULL,
    sealed         BYTEA NOT NULL,
    expires_at     BIGINT NOT NULL,
    downloads_left BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX mail_attachment_links_mail ON mail_attachment_links(mail_id);
