-- Access tokens revoked through the RFC 7009 endpoint, kept until they
-- expire.
CREATE TABLE revoked_tokens (
    jti         text PRIMARY KEY,
    client_id   text NOT NULL,
    expire_time timestamptz NOT NULL,
    revoke_time timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX revoked_tokens_expire_time_idx ON revoked_tokens (expire_time);

-- Advanced on every revocation and every client disable or enable; the
-- revocation list carries its value so verifiers can tell lists apart.
CREATE SEQUENCE revocation_version;

-- The Ed25519 public key of a client that authenticates with
-- private_key_jwt (RFC 7523). Such a client has no usable secret.
ALTER TABLE clients ADD COLUMN public_key bytea CHECK (length(public_key) = 32);

-- Ids of client assertions already used, kept until the assertion expires
-- so that none is accepted twice.
CREATE TABLE used_client_assertions (
    client_id   text NOT NULL,
    jti         text NOT NULL,
    expire_time timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE INDEX used_client_assertions_expire_time_idx ON used_client_assertions (expire_time);
