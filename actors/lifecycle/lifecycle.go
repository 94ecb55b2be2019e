// Package lifecycle runs bulk deletes: it deletes a job's devices in
// chunks through the directory (tokens revoked, actors stopped, snapshots
// gone), then, when asked, purges their heartbeats partition by partition in
// short chunks. Every step is recorded in the job, so a restarted server
// resumes where the last one stopped, and an advisory lock keeps two
// servers from running jobs at once.
package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// lockName is the advisory lock of the job runner.
const lockName = "nexmdm.jobs"

// Deleter deletes devices: the directory.
type Deleter interface {
	Delete(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error)
}

// Publisher is the live feed.
type Publisher interface {
	Publish(typ string, deviceID uuid.UUID, data any)
}

// Config tunes the runner.
type Config struct {
	Every      time.Duration // how often open jobs are looked for (the seed's 30 s)
	DeleteStep int           // devices deleted per step
	PurgeStep  int           // heartbeat rows deleted per statement
}

// DefaultConfig: every 30 s, 500 devices a step, 5,000 rows a statement.
func DefaultConfig() Config { return Config{Every: 30 * time.Second, DeleteStep: 500, PurgeStep: 5000} }

// Runner runs jobs.
type Runner struct {
	cfg  Config
	jobs *pgstore.Jobs
	del  Deleter
	feed Publisher
	now  func() time.Time
	log  zerolog.Logger
	wake chan struct{}
}

// New returns a runner; Run starts it.
func New(cfg Config, jobs *pgstore.Jobs, del Deleter, feed Publisher, now func() time.Time, log zerolog.Logger) *Runner {
	return &Runner{cfg: cfg, jobs: jobs, del: del, feed: feed, now: now, log: log, wake: make(chan struct{}, 1)}
}

// Kick runs the open jobs now rather than at the next tick.
func (r *Runner) Kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run works through open jobs every Every, and when kicked, until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Every)
	defer t.Stop()
	for {
		r.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// RunOnce takes the lock and brings every open job as far as it goes.
func (r *Runner) RunOnce(ctx context.Context) {
	release, ok, err := pgstore.TryLock(ctx, r.jobs.Pool(), lockName)
	if err != nil || !ok {
		return // another server runs the jobs, or the store is away: next time
	}
	defer release()
	open, err := r.jobs.Open(ctx)
	if err != nil {
		r.log.Error().Str("event", "jobs.load.error").Err(err).Msg("open jobs not loaded")
		return
	}
	for i := range open {
		if err := r.run(ctx, &open[i]); err != nil && ctx.Err() == nil {
			r.log.Error().Str("event", "job.error").Str("job", open[i].ID.String()).Err(err).Msg("resumes at the next run")
		}
	}
}

func (r *Runner) run(ctx context.Context, j *pgstore.Job) error {
	if j.Status == pgstore.JobDeleting {
		if err := r.deleteDevices(ctx, j); err != nil {
			return err
		}
	}
	if j.Status == pgstore.JobPurging {
		return r.purge(ctx, j)
	}
	return nil
}

// deleteDevices deletes the job's devices a step at a time, from where the
// job stopped. Deleting a device twice is harmless, so a step that ran but
// was not recorded simply runs again.
func (r *Runner) deleteDevices(ctx context.Context, j *pgstore.Job) error {
	for j.Deleted < len(j.DeviceIDs) {
		end := min(j.Deleted+r.cfg.DeleteStep, len(j.DeviceIDs))
		c, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := r.del.Delete(c, j.DeviceIDs[j.Deleted:end])
		cancel()
		if err != nil {
			return fmt.Errorf("delete devices %d-%d: %w", j.Deleted, end, err)
		}
		j.Deleted = end
		status := pgstore.JobDeleting
		if end == len(j.DeviceIDs) {
			status = pgstore.JobSucceeded
			if j.PurgeHistory {
				status = pgstore.JobPurging
			}
		}
		if err := r.jobs.Deleted(ctx, j.ID, end, status, r.now()); err != nil {
			return err
		}
		j.Status = status
		r.publish(j)
	}
	return nil
}

// purge deletes the devices' heartbeats, partition by partition, in short
// chunks; each finished partition is recorded, so a crash repeats at most
// one partition's remaining chunks.
func (r *Runner) purge(ctx context.Context, j *pgstore.Job) error {
	parts, err := r.jobs.HeartbeatPartitions(ctx)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if slices.Contains(j.PartitionsPurged, p) {
			continue
		}
		var rows int64
		for {
			n, err := r.jobs.PurgeChunk(ctx, p, j.DeviceIDs, r.cfg.PurgeStep)
			if err != nil {
				return err
			}
			rows += n
			if n < int64(r.cfg.PurgeStep) {
				break
			}
		}
		if err := r.jobs.Purged(ctx, j.ID, p, rows, r.now()); err != nil {
			return err
		}
		j.PartitionsPurged = append(j.PartitionsPurged, p)
		j.RowsPurged += rows
		r.publish(j)
	}
	if err := r.jobs.Finish(ctx, j.ID, pgstore.JobSucceeded, "", r.now()); err != nil {
		return err
	}
	j.Status = pgstore.JobSucceeded
	r.publish(j)
	return nil
}

func (r *Runner) publish(j *pgstore.Job) {
	typ := "job.progress"
	if j.Status == pgstore.JobSucceeded || j.Status == pgstore.JobFailed {
		typ = "job." + j.Status
	}
	if r.feed != nil {
		out := *j
		out.DeviceIDs = nil
		r.feed.Publish(typ, uuid.Nil, out)
	}
	r.log.Info().Str("event", typ).Str("job", j.ID.String()).Int("deleted", j.Deleted).Int("total", j.Total).
		Int("partitions_purged", len(j.PartitionsPurged)).Int64("rows_purged", j.RowsPurged).Msg("bulk delete")
}
