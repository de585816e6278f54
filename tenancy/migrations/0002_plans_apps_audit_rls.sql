-- Plans are data: a tenant's limits are its plan's row with the tenant's
-- override columns applied. NULL in a max column means unlimited.
CREATE TABLE plans (
    name                  text PRIMARY KEY,
    read_only             boolean NOT NULL,
    max_apps              integer CHECK (max_apps >= 0),
    max_hosts             integer CHECK (max_hosts >= 0),
    tool_calls_per_minute integer CHECK (tool_calls_per_minute >= 0),
    dedicated_hosts       boolean NOT NULL
);

INSERT INTO plans (name, read_only, max_apps, max_hosts, tool_calls_per_minute, dedicated_hosts) VALUES
    ('free', true, 3, 1, 60, false),
    ('pro', false, 10, 3, 600, false),
    ('enterprise', false, NULL, NULL, 6000, true);

ALTER TABLE tenants
    ADD CONSTRAINT tenants_plan_fkey FOREIGN KEY (plan) REFERENCES plans (name),
    ADD COLUMN max_apps_override integer CHECK (max_apps_override >= 0),
    ADD COLUMN max_hosts_override integer CHECK (max_hosts_override >= 0),
    ADD COLUMN tool_calls_per_minute_override integer CHECK (tool_calls_per_minute_override >= 0);

ALTER TABLE hosts ADD CONSTRAINT hosts_tenant_id_id_key UNIQUE (tenant_id, id);

-- apps are the Dokku apps DokkuExec created, counted against max_apps.
CREATE TABLE apps (
    tenant_id   text NOT NULL,
    host_id     text NOT NULL,
    name        text NOT NULL CHECK (name <> ''),
    create_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, host_id, name),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
);

-- app_reservations hold an app slot while DokkuExec creates the app. Rows
-- past expire_time no longer count and are deleted by the next ReserveApp.
CREATE TABLE app_reservations (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL,
    host_id     text NOT NULL,
    app         text NOT NULL CHECK (app <> ''),
    create_time timestamptz NOT NULL,
    expire_time timestamptz NOT NULL,
    CONSTRAINT app_reservations_app_key UNIQUE (tenant_id, host_id, app),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
);

-- audit_events is each tenant's append-only, hash-chained ledger. The
-- canonical encoding that hash covers is described in docs/audit.md.
-- arguments is text, not jsonb, so the stored bytes are the hashed bytes.
CREATE TABLE audit_events (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    seq        bigint NOT NULL CHECK (seq >= 1),
    time       timestamptz NOT NULL,
    subject    text NOT NULL,
    client_id  text NOT NULL,
    actor      text NOT NULL,
    operation  text NOT NULL,
    target     text NOT NULL,
    arguments  text NOT NULL,
    result     text NOT NULL,
    latency_ms bigint NOT NULL,
    trace_id   text NOT NULL,
    prev_hash  text NOT NULL,
    hash       text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, time);

-- The service runs as dokkumcp_tenancy_app, which does not own these tables,
-- so the row-level security policies below apply to it. Roles belong to the
-- whole cluster, so several databases (and replicas) may race to create it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dokkumcp_tenancy_app') THEN
        CREATE ROLE dokkumcp_tenancy_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The migrating role must be able to SET ROLE to the application role.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'dokkumcp_tenancy_app', 'MEMBER') THEN
        EXECUTE format('GRANT dokkumcp_tenancy_app TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA tenancy TO dokkumcp_tenancy_app;
GRANT SELECT ON plans TO dokkumcp_tenancy_app;
GRANT SELECT, INSERT, UPDATE ON tenants TO dokkumcp_tenancy_app;
GRANT SELECT, INSERT ON hosts TO dokkumcp_tenancy_app;
GRANT SELECT, INSERT, DELETE ON apps TO dokkumcp_tenancy_app;
GRANT SELECT, INSERT, DELETE ON app_reservations TO dokkumcp_tenancy_app;
-- Append-only: no UPDATE or DELETE on the ledger.
GRANT SELECT, INSERT ON audit_events TO dokkumcp_tenancy_app;

-- Each transaction names its tenant with set_config('app.tenant_id', id,
-- true). Without it current_setting returns NULL or '', which matches no row.
ALTER TABLE hosts ENABLE ROW LEVEL SECURITY;
ALTER TABLE apps ENABLE ROW LEVEL SECURITY;
ALTER TABLE app_reservations ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hosts USING (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON apps USING (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON app_reservations USING (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON audit_events USING (tenant_id = current_setting('app.tenant_id', true));
