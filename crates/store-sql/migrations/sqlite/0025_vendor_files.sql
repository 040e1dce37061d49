-- Evidence files attached to a vendor (issue 17, item 5): a signed NDA, an audit report, a
-- site-visit photo, a certificate scan. Sealed like a customer record: the content under its
-- own data key (AES-256-GCM, bound to the file and the vendor), the data key wrapped by the
-- vault's versioned key-encryption key. The sealed content is kept in the row (10 MiB at most);
-- never changed or deleted (evidence) — only a key rotation re-wraps the data key.
CREATE TABLE vendor_files (
    id          TEXT PRIMARY KEY,
    vendor_id   TEXT NOT NULL REFERENCES vendors(id),
    name        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    -- SHA-256 of the plaintext, lower-case hex.
    sha256      TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    kek_version BIGINT NOT NULL,
    content     BLOB NOT NULL,
    note        TEXT NOT NULL,
    -- The site visit it documents, if any.
    visit_id    TEXT REFERENCES vendor_visits(id),
    uploaded_at BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL
);
CREATE INDEX vendor_files_vendor ON vendor_files(vendor_id, uploaded_at);
CREATE INDEX vendor_files_kek_version ON vendor_files(kek_version);
