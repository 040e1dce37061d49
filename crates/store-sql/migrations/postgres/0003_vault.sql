-- The customer vault (issue 4): records of client companies' customers. Confidential fields are
-- stored sealed under a per-record data key, which is stored only wrapped by a key-encryption
-- key kept outside the database; lookups go through keyed blind indexes, never plaintext.

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES org_units(id),
    wrapped_key BYTEA NOT NULL,
    kek_version BIGINT NOT NULL,
    -- The record's fields, each sealed on its own, in one value (format in docs/vault.md).
    fields      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX customers_client ON customers(client_id);
CREATE INDEX customers_kek_version ON customers(kek_version);

-- kind: phone | email | name_birth; digest: HMAC-SHA-256 of the normalised value.
CREATE TABLE customer_index (
    kind        TEXT NOT NULL,
    digest      BYTEA NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    PRIMARY KEY (kind, digest, customer_id)
);
CREATE INDEX customer_index_customer ON customer_index(customer_id);
