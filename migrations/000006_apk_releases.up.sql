-- The APK registry: builds CI registers, then uploads. The file lives in the
-- blob store under apk/<sha256>; a build without blob_key is registered but
-- not uploaded yet.
CREATE TABLE apk_builds (
    id                 uuid PRIMARY KEY,
    package            text NOT NULL,
    version_code       integer NOT NULL CHECK (version_code > 0),
    version_name       text NOT NULL DEFAULT '',
    sha256             text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    signer_fingerprint text NOT NULL DEFAULT '',
    channel            text NOT NULL,
    git_sha            text NOT NULL DEFAULT '',
    ci_run_url         text NOT NULL DEFAULT '',
    size_bytes         bigint,
    blob_key           text,
    uploaded_at        timestamptz,
    registered_by      text NOT NULL,
    registered_at      timestamptz NOT NULL,
    UNIQUE (package, channel, version_code)
);
CREATE INDEX apk_builds_listing ON apk_builds (registered_at DESC, id DESC);

-- Every download, with who asked: an admin, a device, or an enrollment script.
CREATE TABLE apk_download_events (
    id          bigserial PRIMARY KEY,
    build_id    uuid NOT NULL REFERENCES apk_builds (id) ON DELETE CASCADE,
    source      text NOT NULL CHECK (source IN ('admin', 'device', 'enrollment')),
    actor       text NOT NULL,
    range_start bigint NOT NULL DEFAULT 0,
    bytes       bigint NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX apk_download_events_build ON apk_download_events (build_id, at);

-- OTA releases: a build offered to a channel's devices, to a deterministic
-- rollout_percent of them. One release per channel is current (active or
-- paused); a build in any release cannot be deleted (RESTRICT).
CREATE TABLE releases (
    id                    uuid PRIMARY KEY,
    build_id              uuid NOT NULL REFERENCES apk_builds (id) ON DELETE RESTRICT,
    channel               text NOT NULL,
    status                text NOT NULL CHECK (status IN ('draft', 'active', 'paused', 'superseded', 'rolled_back')),
    rollout_percent       smallint NOT NULL CHECK (rollout_percent BETWEEN 1 AND 100),
    wifi_only             boolean NOT NULL DEFAULT false,
    min_battery_pct       smallint NOT NULL DEFAULT 0 CHECK (min_battery_pct BETWEEN 0 AND 100),
    not_in_call           boolean NOT NULL DEFAULT true,
    failure_threshold_pct smallint NOT NULL DEFAULT 20 CHECK (failure_threshold_pct BETWEEN 1 AND 100),
    failure_min_devices   integer NOT NULL DEFAULT 10 CHECK (failure_min_devices > 0),
    rollback_of           uuid REFERENCES releases (id),
    allow_downgrade       boolean NOT NULL DEFAULT false,
    paused_reason         text NOT NULL DEFAULT '',
    created_by            text NOT NULL,
    created_at            timestamptz NOT NULL,
    promoted_at           timestamptz,
    updated_at            timestamptz NOT NULL
);
CREATE UNIQUE INDEX releases_one_current_per_channel ON releases (channel) WHERE status IN ('active', 'paused');
CREATE INDEX releases_channel_history ON releases (channel, promoted_at DESC);

-- What devices report while they update.
CREATE TABLE update_events (
    id           bigserial PRIMARY KEY,
    release_id   uuid NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    device_id    uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    event        text NOT NULL,
    version_code integer NOT NULL,
    message      text NOT NULL DEFAULT '',
    device_at    timestamptz NOT NULL,
    received_at  timestamptz NOT NULL
);
CREATE INDEX update_events_release ON update_events (release_id, device_id, received_at);
