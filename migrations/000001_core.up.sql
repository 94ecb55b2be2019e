-- Devices, their last stored status, and the day-partitioned heartbeat history.

CREATE TABLE devices (
    id                    uuid PRIMARY KEY,
    serial                text NOT NULL UNIQUE,
    alias                 text NOT NULL,
    model                 text NOT NULL DEFAULT '',
    manufacturer          text NOT NULL DEFAULT '',
    android_version       text NOT NULL DEFAULT '',
    sdk_int               integer NOT NULL DEFAULT 0,
    agent_version         text NOT NULL DEFAULT '',
    agent_version_code    integer NOT NULL DEFAULT 0,
    fcm_token             text NOT NULL DEFAULT '',
    -- The device token is <id>.<secret>. The secret is kept twice, never in
    -- clear: a bcrypt hash (pepper-independent, the record of last resort) and
    -- an HMAC-SHA256 digest keyed by a pepper held outside the database, which
    -- is what heartbeats are checked against.
    token_bcrypt          text NOT NULL,
    token_digest          bytea NOT NULL,
    token_pepper_id       text NOT NULL,
    revoked_token_digest  bytea,
    hmac_key_id           text NOT NULL,
    -- Per-device service monitoring (evaluated by the alerts feature).
    monitored_package     text NOT NULL DEFAULT '',
    monitor_display_name  text NOT NULL DEFAULT '',
    monitor_threshold_min integer NOT NULL DEFAULT 10 CHECK (monitor_threshold_min BETWEEN 1 AND 120),
    monitor_enabled       boolean NOT NULL DEFAULT false,
    auto_remediate        boolean NOT NULL DEFAULT false,
    enrolled_at           timestamptz NOT NULL DEFAULT now(),
    token_rotated_at      timestamptz NOT NULL DEFAULT now()
);

-- A deleted device's id is remembered so that its agent gets 410 Gone (stop
-- and wipe) rather than 401 (re-enroll).
CREATE TABLE device_tombstones (
    device_id  uuid PRIMARY KEY,
    serial     text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

-- The newest stored heartbeat of each device, written in the same transaction
-- as the heartbeat row (dual write). No foreign key: a batch must never fail
-- because a device was deleted under it; deletes remove this row explicitly.
CREATE TABLE device_last_status (
    device_id           uuid PRIMARY KEY,
    ts                  timestamptz NOT NULL,
    received_at         timestamptz NOT NULL,
    battery_pct         smallint,
    charging            boolean,
    ram_used_mb         integer,
    ram_total_mb        integer,
    uptime_s            bigint,
    net_type            text,
    ssid                text,
    signal_dbm          smallint,
    agent_version       text,
    agent_version_code  integer,
    foreground_pkg      text,
    app_last_foreground jsonb,
    power_ok            boolean,
    doze_whitelisted    boolean,
    net_validated       boolean,
    queue_depth         integer
) WITH (fillfactor = 70); -- room for HOT updates: every heartbeat rewrites the row

-- One row per device per 10 s bucket. bucket_start = floor(ts / 10 s) and is
-- the partition key, so (device_id, bucket_start) can be unique across the
-- whole table: the database backs the actors' dedupe.
CREATE TABLE heartbeats (
    device_id          uuid NOT NULL,
    bucket_start       timestamptz NOT NULL,
    ts                 timestamptz NOT NULL,
    received_at        timestamptz NOT NULL,
    battery_pct        smallint,
    charging           boolean,
    ram_used_mb        integer,
    ram_total_mb       integer,
    uptime_s           bigint,
    net_type           text,
    ssid               text,
    signal_dbm         smallint,
    agent_version_code integer,
    foreground_pkg     text,
    power_ok           boolean,
    doze_whitelisted   boolean,
    net_validated      boolean,
    queue_depth        integer,
    PRIMARY KEY (device_id, bucket_start)
) PARTITION BY RANGE (bucket_start);

-- Who did what, to what, from where, with what result.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    source_ip  text NOT NULL DEFAULT '',
    result     text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_action_at ON audit_log (action, at DESC);
