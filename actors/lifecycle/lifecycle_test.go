package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// nobody deletes nothing: these tests start at the purge.
type nobody struct{}

func (nobody) Delete(context.Context, []uuid.UUID) ([]uuid.UUID, error) { return nil, nil }

// fixture has heartbeats of two devices in three daily partitions.
func fixture(t *testing.T) (*pgstore.Jobs, []uuid.UUID, []string, *testenv.DB) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	parts, err := pgstore.NewPartitions(ctx, db.Pool)
	require.NoError(t, err)
	day := time.Now().UTC().Truncate(24 * time.Hour)
	require.NoError(t, parts.EnsureRange(ctx, day.Add(-48*time.Hour), day.Add(24*time.Hour)))
	devices := []uuid.UUID{uuid.New(), uuid.New()}
	for _, d := range devices {
		for i := range 3 {
			at := day.Add(-time.Duration(i) * 24 * time.Hour).Add(time.Hour)
			_, err := db.Pool.Exec(ctx, `INSERT INTO heartbeats (device_id, bucket_start, ts, received_at) VALUES ($1, $2, $2, $2)`, d, at)
			require.NoError(t, err)
		}
	}
	jobs := pgstore.NewJobs(db.Pool)
	names, err := jobs.HeartbeatPartitions(ctx)
	require.NoError(t, err)
	return jobs, devices, names, db
}

func rows(t *testing.T, db *testenv.DB, partition string) int {
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+partition).Scan(&n))
	return n
}

func TestAPurgeResumesAfterACrashWithoutRedoingFinishedPartitions(t *testing.T) {
	jobs, devices, parts, db := fixture(t)
	ctx := context.Background()
	require.GreaterOrEqual(t, len(parts), 3)
	job := pgstore.Job{ID: uuid.New(), DeviceIDs: devices, Total: 2, PurgeHistory: true, CreatedBy: "test", CreatedAt: time.Now()}
	require.NoError(t, jobs.Create(ctx, job))
	require.NoError(t, jobs.Deleted(ctx, job.ID, 2, pgstore.JobPurging, time.Now()))
	// The server crashed after recording the first partition as purged,
	// before it reached the others.
	require.NoError(t, jobs.Purged(ctx, job.ID, parts[0], 0, time.Now()))
	before := rows(t, db, parts[0])

	r := New(Config{Every: time.Hour, DeleteStep: 10, PurgeStep: 1}, jobs, nobody{}, nil, time.Now, zerolog.Nop())
	r.RunOnce(ctx)

	got, err := jobs.Get(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, pgstore.JobSucceeded, got.Status)
	assert.Equal(t, before, rows(t, db, parts[0]), "a partition recorded as done is not purged again")
	for _, p := range parts[1:] {
		assert.Zero(t, rows(t, db, p), "%s purged, a row at a time", p)
	}
	assert.EqualValues(t, 4, got.RowsPurged, "two devices' rows in the two later days that held any")
	assert.Equal(t, parts, got.PartitionsPurged)
}

func TestOnlyOneServerRunsJobsAtATime(t *testing.T) {
	jobs, devices, _, _ := fixture(t)
	ctx := context.Background()
	job := pgstore.Job{ID: uuid.New(), DeviceIDs: devices, Total: 2, PurgeHistory: true, CreatedBy: "test", CreatedAt: time.Now()}
	require.NoError(t, jobs.Create(ctx, job))
	release, ok, err := pgstore.TryLock(ctx, jobs.Pool(), lockName) // another server holds the lock
	require.NoError(t, err)
	require.True(t, ok)

	r := New(DefaultConfig(), jobs, nobody{}, nil, time.Now, zerolog.Nop())
	r.RunOnce(ctx)
	got, err := jobs.Get(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, pgstore.JobDeleting, got.Status, "the lock holder's job is left alone")

	release()
	r.RunOnce(ctx)
	got, err = jobs.Get(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, pgstore.JobSucceeded, got.Status, "and run once the lock is free")
}
