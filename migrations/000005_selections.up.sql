-- A snapshot of device ids that bulk actions act on: later changes to the
-- fleet do not change it. It lives 15 minutes.
CREATE TABLE device_selections (
    id         uuid PRIMARY KEY,
    device_ids uuid[] NOT NULL,
    filter     jsonb,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX device_selections_expires ON device_selections (expires_at);
