-- Heartbeat partitions past retention (NEXMDM_RETENTION_DAYS). Each is
-- detached, archived to the blob store as gzip-compressed CSV COPY output,
-- verified by reading the blob back, then dropped. The row is written before
-- the detach and each step stamps it, so a crash at any step resumes at the
-- next run. `nexmdm archive restore` brings a partition back.
CREATE TABLE partition_archives (
    partition_name text PRIMARY KEY,       -- heartbeats_pYYYYMMDD
    range_start    timestamptz NOT NULL,   -- inclusive
    range_end      timestamptz NOT NULL,   -- exclusive
    rows           bigint NOT NULL DEFAULT 0,
    bytes          bigint NOT NULL DEFAULT 0, -- compressed size of the blob
    sha256         text NOT NULL DEFAULT '',  -- hex SHA-256 of the blob
    location       text NOT NULL,          -- blob key
    archived_at    timestamptz,            -- blob written and checksummed
    verified_at    timestamptz,            -- blob read back, checksum matched
    dropped_at     timestamptz,            -- table dropped
    restored_at    timestamptz,            -- brought back by `nexmdm archive restore`
    last_error     text NOT NULL DEFAULT '', -- why the last step failed; '' when fine
    CHECK (range_start < range_end)
);
