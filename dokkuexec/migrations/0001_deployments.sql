-- deployments records every deployment DokkuExec starts, so that its status
-- outlives the process that ran it and a restart can reconcile it with the
-- host. Build output is not stored.
CREATE TABLE deployments (
    id           text PRIMARY KEY,
    tenant_id    text NOT NULL,
    host_id      text NOT NULL,
    -- host_name is the host's name when the deployment was created.
    host_name    text NOT NULL,
    app          text NOT NULL,
    source_kind  text NOT NULL CHECK (source_kind IN ('git', 'image', 'rebuild')),
    repository   text NOT NULL DEFAULT '',
    ref          text NOT NULL DEFAULT '',
    image        text NOT NULL DEFAULT '',
    status       text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'unknown')),
    message      text NOT NULL DEFAULT '',
    step         text NOT NULL DEFAULT '',
    build_id     text NOT NULL DEFAULT '',
    exit_code    integer,
    output_lines bigint NOT NULL DEFAULT 0,
    create_time  timestamptz NOT NULL,
    start_time   timestamptz,
    end_time     timestamptz,
    -- runner names the DokkuExec process that runs or follows the
    -- deployment, which proves it alive by advancing heartbeat_time.
    runner         text NOT NULL DEFAULT '',
    heartbeat_time timestamptz NOT NULL
);

-- One deployment per app may be queued or running, across every replica.
CREATE UNIQUE INDEX deployments_one_active_per_app ON deployments (tenant_id, host_id, app)
    WHERE status IN ('queued', 'running');
CREATE INDEX deployments_app_idx ON deployments (tenant_id, host_id, app, create_time DESC);
CREATE INDEX deployments_active_idx ON deployments (heartbeat_time) WHERE status IN ('queued', 'running');
