-- ca_keys holds the built-in CA's key. The private key's ed25519 seed is
-- encrypted with AES-256-GCM under the master key, which is never stored.
CREATE TABLE ca_keys (
    name        text PRIMARY KEY,
    public_key  text NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    create_time timestamptz NOT NULL
);

-- issuances records the metadata of every SSH certificate issued, from
-- either CA backend. It never holds key material.
CREATE TABLE issuances (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text NOT NULL,
    host_id     text NOT NULL,
    principal   text NOT NULL,
    serial      numeric(20, 0) NOT NULL,
    key_id      text NOT NULL,
    backend     text NOT NULL CHECK (backend IN ('vault', 'builtin')),
    expire_time timestamptz NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX issuances_tenant_host_idx ON issuances (tenant_id, host_id, create_time);
