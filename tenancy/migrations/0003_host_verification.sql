-- What the last recorded verification found on a host. NULL verify_time
-- means the host has not been verified yet.
ALTER TABLE hosts
    ADD COLUMN dokku_version text NOT NULL DEFAULT '',
    ADD COLUMN plugins text[] NOT NULL DEFAULT '{}',
    ADD COLUMN verify_time timestamptz;

-- RecordHostVerification updates those columns, and RemoveHost deletes the
-- host. The row-level security policy on hosts applies to both.
GRANT UPDATE (dokku_version, plugins, verify_time), DELETE ON hosts TO dokkumcp_tenancy_app;
