package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nexmdm/nexmdm/persistence"
)

// Jobs keeps long-running admin operations and does the purge's SQL.
type Jobs struct{ pool *pgxpool.Pool }

// NewJobs returns the repository on pool.
func NewJobs(pool *pgxpool.Pool) *Jobs { return &Jobs{pool: pool} }

// Job statuses.
const (
	JobDeleting  = "deleting"
	JobPurging   = "purging"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// Job is a bulk delete and how far it got.
type Job struct {
	ID               uuid.UUID   `json:"id"`
	Kind             string      `json:"kind"`
	Status           string      `json:"status"`
	DeviceIDs        []uuid.UUID `json:"-"`
	Total            int         `json:"total"`
	Deleted          int         `json:"deleted"`
	PurgeHistory     bool        `json:"purge_history"`
	PartitionsPurged []string    `json:"partitions_purged"`
	RowsPurged       int64       `json:"rows_purged"`
	Error            string      `json:"error"`
	CreatedBy        string      `json:"created_by"`
	CreatedAt        time.Time   `json:"created_at"`
	UpdatedAt        time.Time   `json:"updated_at"`
	FinishedAt       *time.Time  `json:"finished_at"`
}

const jobColumns = `id, kind, status, device_ids, total, deleted, purge_history, partitions_purged, rows_purged, error,
	created_by, created_at, updated_at, finished_at`

func scanJob(row pgx.Row) (Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.Kind, &j.Status, &j.DeviceIDs, &j.Total, &j.Deleted, &j.PurgeHistory, &j.PartitionsPurged,
		&j.RowsPurged, &j.Error, &j.CreatedBy, &j.CreatedAt, &j.UpdatedAt, &j.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return j, persistence.ErrNotFound
	}
	return j, err
}

// Create stores a new bulk delete.
func (s *Jobs) Create(ctx context.Context, j Job) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO jobs (id, kind, status, device_ids, total, purge_history, created_by, created_at, updated_at)
		VALUES ($1, 'bulk_delete', 'deleting', $2, $3, $4, $5, $6, $6)`, j.ID, j.DeviceIDs, j.Total, j.PurgeHistory, j.CreatedBy, j.CreatedAt)
	if err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	return nil
}

// Get reads a job.
func (s *Jobs) Get(ctx context.Context, id uuid.UUID) (Job, error) {
	return scanJob(s.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
}

// Open lists the jobs still deleting or purging, oldest first.
func (s *Jobs) Open(ctx context.Context) ([]Job, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE status IN ('deleting', 'purging') ORDER BY created_at`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return scanJob(r) })
}

// Deleted records how many devices are deleted, and the next status once
// all are.
func (s *Jobs) Deleted(ctx context.Context, id uuid.UUID, n int, status string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET deleted = $2, status = $3::text, updated_at = $4::timestamptz,
		finished_at = CASE WHEN $3::text IN ('succeeded', 'failed') THEN $4::timestamptz END WHERE id = $1`, id, n, status, at)
	return err
}

// Purged records a partition purged of the job's devices.
func (s *Jobs) Purged(ctx context.Context, id uuid.UUID, partition string, rows int64, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET partitions_purged = array_append(partitions_purged, $2),
		rows_purged = rows_purged + $3, updated_at = $4 WHERE id = $1`, id, partition, rows, at)
	return err
}

// Finish ends a job.
func (s *Jobs) Finish(ctx context.Context, id uuid.UUID, status, reason string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET status = $2, error = $3, updated_at = $4, finished_at = $4 WHERE id = $1`,
		id, status, reason, at)
	return err
}

// HeartbeatPartitions lists the heartbeats table's partitions, oldest first.
func (s *Jobs) HeartbeatPartitions(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'heartbeats'::regclass ORDER BY c.relname`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// PurgeChunk deletes up to limit of the devices' rows from one partition,
// in its own short transaction so that no lock is held for long on a hot
// partition. It returns how many rows went.
func (s *Jobs) PurgeChunk(ctx context.Context, partition string, devices []uuid.UUID, limit int) (int64, error) {
	table := pgx.Identifier{partition}.Sanitize()
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+table+` WHERE ctid IN (
		SELECT ctid FROM `+table+` WHERE device_id = ANY($1) LIMIT $2)`, pgUUIDs(devices), limit)
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", partition, err)
	}
	return tag.RowsAffected(), nil
}

// Pool exposes the pool for advisory locks.
func (s *Jobs) Pool() *pgxpool.Pool { return s.pool }
