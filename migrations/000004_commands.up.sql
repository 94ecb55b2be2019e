-- Signed remote commands and every transition of each.

CREATE TABLE commands (
    id             uuid PRIMARY KEY,
    device_id      uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    type           text NOT NULL,
    -- The exact string that was signed and is delivered.
    params_json    text NOT NULL,
    status         text NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'succeeded', 'failed', 'expired')),
    issued_at      timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    hmac_key_id    text NOT NULL,
    sig            text NOT NULL,
    created_by     text NOT NULL,
    updated_at     timestamptz NOT NULL,
    result_message text NOT NULL DEFAULT '',
    result_output  text NOT NULL DEFAULT '',
    finished_at    timestamptz -- the device's clock, from its result
);
-- What a device still has to run, for hydrating its actor.
CREATE INDEX commands_open ON commands (device_id, issued_at) WHERE status IN ('queued', 'sent', 'delivered');
CREATE INDEX commands_issued ON commands (issued_at DESC, id DESC);
CREATE INDEX commands_device_issued ON commands (device_id, issued_at DESC, id DESC);

CREATE TABLE command_events (
    id         bigserial PRIMARY KEY,
    command_id uuid NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    status     text NOT NULL,
    detail     text NOT NULL DEFAULT ''
);
CREATE INDEX command_events_command ON command_events (command_id, id);
