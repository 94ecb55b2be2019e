-- One heartbeat as the writer sends it: a batch travels as one
-- heartbeat_row[] parameter, encoded once, rather than as twenty column
-- arrays that the driver's send buffer regrew for each. The fields and
-- their order are persistence/pgstore's rowFields.
CREATE TYPE heartbeat_row AS (
    device_id           uuid,
    bucket_start        timestamptz,
    ts                  timestamptz,
    received_at         timestamptz,
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
    app_last_foreground text,
    power_ok            boolean,
    doze_whitelisted    boolean,
    net_validated       boolean,
    queue_depth         integer
);
