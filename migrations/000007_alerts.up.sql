-- Alert history: one row per firing, open until resolved. One open alert
-- per device and rule; fleet-level alerts (a release's failures) have no
-- device.
CREATE TABLE alerts (
    id                   uuid PRIMARY KEY,
    device_id            uuid REFERENCES devices (id) ON DELETE CASCADE,
    rule                 text NOT NULL,
    severity             text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    details              jsonb NOT NULL DEFAULT '{}',
    notified             boolean NOT NULL, -- false: inside the cooldown, recorded and shown only
    fired_at             timestamptz NOT NULL,
    resolved_at          timestamptz,
    acknowledged_at      timestamptz,
    acknowledged_by      text,
    remediation_attempts integer NOT NULL DEFAULT 0,
    last_remediation_at  timestamptz,
    remediated           boolean -- null: no remediation tried; true: it recovered after one
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (device_id, rule) WHERE resolved_at IS NULL;
CREATE INDEX alerts_recent ON alerts (fired_at DESC, id DESC);
CREATE INDEX alerts_device ON alerts (device_id, fired_at DESC);

-- Where notifications go. The configuration seeds these at start; the admin
-- API edits them. url and secret are credentials: the API never shows them.
CREATE TABLE alert_channels (
    id           uuid PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    kind         text NOT NULL CHECK (kind IN ('discord', 'webhook', 'email')),
    url          text NOT NULL,            -- webhook URL, or smtp[s]:// URL
    secret       text NOT NULL DEFAULT '', -- the signed webhook's key
    email_from   text NOT NULL DEFAULT '',
    email_to     text[] NOT NULL DEFAULT '{}',
    min_severity text NOT NULL CHECK (min_severity IN ('info', 'warning', 'critical')),
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Per-rule severity and routing; a rule without a row uses its default.
CREATE TABLE alert_rules (
    rule       text PRIMARY KEY CHECK (rule IN ('offline', 'low_battery', 'service_down', 'release_failures')),
    severity   text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    enabled    boolean NOT NULL DEFAULT true,
    channels   text[] NOT NULL DEFAULT '{}', -- channel names; empty: every channel the severity reaches
    updated_at timestamptz NOT NULL
);
