CREATE TABLE tenants (
    id           text PRIMARY KEY CHECK (id ~ '^t-[a-z2-7]{10}$'),
    slug         text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'),
    display_name text NOT NULL,
    plan         text NOT NULL CHECK (plan IN ('free', 'pro', 'enterprise')),
    status       text NOT NULL CHECK (status IN ('active', 'suspended', 'deleted')),
    create_time  timestamptz NOT NULL
);

CREATE TABLE hosts (
    id                   text PRIMARY KEY CHECK (id ~ '^h-[a-z2-7]{10}$'),
    tenant_id            text NOT NULL REFERENCES tenants (id),
    name                 text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,30}$'),
    address              text NOT NULL CHECK (address <> ''),
    port                 integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    ssh_user             text NOT NULL,
    host_key             text NOT NULL,
    host_key_fingerprint text NOT NULL,
    credential_mode      text NOT NULL CHECK (credential_mode IN ('certificate', 'managed-key')),
    create_time          timestamptz NOT NULL,
    CONSTRAINT hosts_tenant_name_key UNIQUE (tenant_id, name)
);
