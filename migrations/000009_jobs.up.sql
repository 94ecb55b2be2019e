-- Long-running admin operations. A bulk delete deletes its devices in
-- chunks (deleted counts them), then, with purge_history, purges their
-- heartbeats partition by partition; both phases record progress here so a
-- restarted server resumes them.
CREATE TABLE jobs (
    id                    uuid PRIMARY KEY,
    kind                  text NOT NULL CHECK (kind IN ('bulk_delete')),
    status                text NOT NULL CHECK (status IN ('deleting', 'purging', 'succeeded', 'failed')),
    device_ids            uuid[] NOT NULL,
    total                 integer NOT NULL,
    deleted               integer NOT NULL DEFAULT 0,
    purge_history         boolean NOT NULL,
    partitions_purged     text[] NOT NULL DEFAULT '{}',
    rows_purged           bigint NOT NULL DEFAULT 0,
    error                 text NOT NULL DEFAULT '',
    created_by            text NOT NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    finished_at           timestamptz
);
CREATE INDEX jobs_open ON jobs (created_at) WHERE status IN ('deleting', 'purging');
