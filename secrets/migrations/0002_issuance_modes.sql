-- Managed-key credentials are recorded beside certificates: mode tells them
-- apart, key_version is the managed key's version, and serial is 0 for
-- them. Still no key material.
ALTER TABLE issuances
    ADD COLUMN credential_mode text NOT NULL DEFAULT 'certificate'
        CHECK (credential_mode IN ('certificate', 'managed-key')),
    ADD COLUMN key_version bigint CHECK (key_version > 0);
