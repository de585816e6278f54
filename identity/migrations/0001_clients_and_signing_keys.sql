-- OAuth clients. Tenant clients have a tenant_id; platform clients (service
-- identities and the operator) have none and use their name as client_id.
CREATE TABLE clients (
    client_id   text PRIMARY KEY,
    tenant_id   text,
    name        text NOT NULL,
    role        text NOT NULL,
    -- Audiences a tenant client may request, or, for a client that
    -- exchanges tokens, the audiences of the subject tokens it accepts.
    resources   text[] NOT NULL DEFAULT '{}',
    -- HMAC-SHA256 of the secret under a key derived from the master key.
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    disabled    boolean NOT NULL DEFAULT false,
    create_time timestamptz NOT NULL DEFAULT now(),
    CHECK (tenant_id IS NULL OR tenant_id <> '')
);

CREATE INDEX clients_tenant_id_idx ON clients (tenant_id, create_time) WHERE tenant_id IS NOT NULL;

-- Token signing keys. Several coexist during a rotation: every key is
-- published in the JWKS, the newest active one whose not_before has passed
-- signs.
CREATE TABLE signing_keys (
    -- RFC 7638 thumbprint of the public key.
    kid                text PRIMARY KEY,
    algorithm          text NOT NULL DEFAULT 'EdDSA' CHECK (algorithm = 'EdDSA'),
    public_key         bytea NOT NULL,
    -- AES-256-GCM nonce, ciphertext and tag of the Ed25519 seed, sealed
    -- under a key derived from the master key with the kid as associated data.
    sealed_private_key bytea NOT NULL,
    state              text NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
    create_time        timestamptz NOT NULL DEFAULT now(),
    not_before         timestamptz NOT NULL DEFAULT now()
);
