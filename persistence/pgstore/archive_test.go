package pgstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence/blobstore"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

const retention = 90 * 24 * time.Hour

// t0 is the tests' "now": partitions ending by t0-90d are past retention.
var t0 = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)

// clock is an injected, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time            { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)           { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func daysAgo(n int) time.Time              { return pgstore.DayOf(t0).AddDate(0, 0, -n) }
func partitionOf(n int) string             { return pgstore.PartitionName(daysAgo(n)) }
func (e *archiveEnv) ctx() context.Context { return context.Background() }

type archiveEnv struct {
	db    *testenv.DB
	parts *pgstore.Partitions
	blobs *blobstore.Store
	dir   string // the blob directory
	reg   *prometheus.Registry
	clock *clock
	arch  *pgstore.Archiver
}

// newTestArchiver gives a test its database with the heartbeat partitions
// of the days from oldest to newest days before t0, a blob directory and an
// archiver whose clock reads t0.
func newTestArchiver(t *testing.T, oldest, newest int) *archiveEnv {
	t.Helper()
	ctx := context.Background()
	e := &archiveEnv{db: testenv.Postgres(t), dir: t.TempDir(), reg: prometheus.NewRegistry(), clock: &clock{t: t0}}
	var err error
	e.parts, err = pgstore.NewPartitions(ctx, e.db.Pool)
	require.NoError(t, err)
	require.NoError(t, e.parts.EnsureRange(ctx, daysAgo(oldest), daysAgo(newest)))
	e.blobs, err = blobstore.Open(ctx, "file://"+e.dir)
	require.NoError(t, err)
	t.Cleanup(func() { e.blobs.Close() })
	e.arch = e.newArchiver(t, e.reg)
	return e
}

func (e *archiveEnv) newArchiver(t *testing.T, reg prometheus.Registerer) *pgstore.Archiver {
	return pgstore.NewArchiver(e.db.Pool, e.blobs, e.clock.Now, zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger(), reg, pgstore.WithPartitionCache(e.parts))
}

// insert writes n heartbeats into the partition of day d, with text that
// CSV must quote and columns left NULL.
func (e *archiveEnv) insert(t *testing.T, d time.Time, n int) {
	t.Helper()
	for i := range n {
		at := d.Add(time.Duration(i) * time.Hour)
		_, err := e.db.Pool.Exec(e.ctx(), `INSERT INTO heartbeats (device_id, bucket_start, ts, received_at, battery_pct, charging, ssid, net_type)
			VALUES ($1, $2, $2, $2, $3, $4, $5, NULL)`, uuid.New(), at, int16(10+i), i%2 == 0, "Café, \"5G\"\nfloor 2")
		require.NoError(t, err)
	}
}

func (e *archiveEnv) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.Pool.QueryRow(e.ctx(), sql, args...).Scan(&n))
	return n
}

func (e *archiveEnv) tableExists(t *testing.T, name string) bool {
	return e.count(t, `SELECT count(*) FROM pg_class WHERE relname = $1 AND relkind = 'r'`, name) == 1
}

func (e *archiveEnv) attached(t *testing.T, name string) bool {
	return e.count(t, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'heartbeats'::regclass AND inhrelid = $1::regclass`, name) == 1
}

func (e *archiveEnv) archive(t *testing.T, name string) pgstore.Archive {
	t.Helper()
	all, err := e.arch.Archives(e.ctx())
	require.NoError(t, err)
	for _, a := range all {
		if a.Partition == name {
			return a
		}
	}
	t.Fatalf("no archive row for %s", name)
	return pgstore.Archive{}
}

func (e *archiveEnv) blobPath(name string) string {
	return filepath.Join(e.dir, filepath.FromSlash(pgstore.ArchiveKey(name)))
}

// metric reads a counter or gauge from reg; labels are name, value pairs.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// A 90-day cycle: nothing is retired while the clock is early; once it
// reaches t0 the ten partitions that end by t0-90d are detached,
// archived, verified and dropped, oldest first, and the rest are untouched.
func TestRetentionCycleArchivesVerifiesAndDropsOldPartitions(t *testing.T) {
	t.Parallel()
	e := newTestArchiver(t, 100, -2)
	ctx := e.ctx()
	e.insert(t, daysAgo(100), 3)
	e.insert(t, daysAgo(91), 2) // the newest past retention
	e.insert(t, daysAgo(90), 4) // ends after t0-90d: kept
	e.insert(t, daysAgo(0), 1)

	e.clock.Set(t0.AddDate(0, 0, -30))
	rep, err := e.arch.RunRetention(ctx, retention)
	require.NoError(t, err)
	assert.Empty(t, rep.Archived, "nothing is past retention 30 days earlier")
	assert.Equal(t, 10, e.count(t, `SELECT count(*) FROM heartbeats`))

	e.clock.Set(t0)
	rep, err = e.arch.RunRetention(ctx, retention)
	require.NoError(t, err)
	var want []string
	for n := 100; n >= 91; n-- {
		want = append(want, partitionOf(n))
	}
	assert.Equal(t, want, rep.Archived)
	assert.Equal(t, want, rep.Dropped)
	assert.Empty(t, rep.Failed)
	assert.Equal(t, []string{partitionOf(1), partitionOf(0)}, rep.Vacuumed)
	for _, name := range want {
		assert.False(t, e.tableExists(t, name), "%s dropped", name)
		a := e.archive(t, name)
		assert.Equal(t, "dropped", a.State(), name)
		require.NotNil(t, a.VerifiedAt, name)
		b, err := os.ReadFile(e.blobPath(name))
		require.NoError(t, err, "the archive of %s is in the blob directory", name)
		sum := sha256.Sum256(b)
		assert.Equal(t, hex.EncodeToString(sum[:]), a.SHA256, name)
		assert.EqualValues(t, len(b), a.Bytes, name)
		assert.False(t, e.parts.Has(daysAgo(91)), "the partition cache forgot the day")
	}
	oldest := e.archive(t, partitionOf(100))
	assert.EqualValues(t, 3, oldest.Rows)
	assert.Equal(t, daysAgo(100), oldest.RangeStart.UTC())
	assert.Equal(t, daysAgo(99), oldest.RangeEnd.UTC())
	assert.Equal(t, "archives/heartbeats/"+partitionOf(100)+".csv.gz", oldest.Location)
	assert.EqualValues(t, 2, e.archive(t, partitionOf(91)).Rows)

	assert.True(t, e.attached(t, partitionOf(90)), "the partition ending after the cutoff is untouched")
	assert.Equal(t, 5, e.count(t, `SELECT count(*) FROM heartbeats`))
	assert.Equal(t, 10, e.count(t, `SELECT count(*) FROM partition_archives`))
	assert.EqualValues(t, 10, metric(t, e.reg, "nexmdm_partitions_archived_total"))
	assert.EqualValues(t, 10, metric(t, e.reg, "nexmdm_partitions_dropped_total"))
	assert.Positive(t, metric(t, e.reg, "nexmdm_partition_archive_bytes_total"))
	assert.Positive(t, metric(t, e.reg, "nexmdm_retention_last_run_duration_seconds"))
	assert.EqualValues(t, 2, metric(t, e.reg, "nexmdm_retention_runs_total", "result", "ok"))

	rep, err = e.arch.RunRetention(ctx, retention)
	require.NoError(t, err)
	assert.Empty(t, rep.Archived, "a second run finds nothing to do")
	assert.Empty(t, rep.Failed)
}

// An archive whose blob or recorded checksum no longer match is reported
// and never dropped, run after run; other partitions go on.
func TestRetentionNeverDropsAnArchiveWhoseChecksumDoesNotMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, e *archiveEnv, partition string)
	}{
		{"blob corrupted after upload", func(t *testing.T, e *archiveEnv, p string) {
			b, err := os.ReadFile(e.blobPath(p))
			require.NoError(t, err)
			b[len(b)/2] ^= 0xff
			require.NoError(t, os.WriteFile(e.blobPath(p), b, 0o600))
		}},
		{"checksum row tampered", func(t *testing.T, e *archiveEnv, p string) {
			_, err := e.db.Pool.Exec(e.ctx(), `UPDATE partition_archives SET sha256 = repeat('0', 64) WHERE partition_name = $1`, p)
			require.NoError(t, err)
		}},
		{"blob deleted", func(t *testing.T, e *archiveEnv, p string) {
			require.NoError(t, os.Remove(e.blobPath(p)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestArchiver(t, 92, 91)
			ctx := e.ctx()
			bad, good := partitionOf(92), partitionOf(91)
			e.insert(t, daysAgo(92), 3)
			e.insert(t, daysAgo(91), 1)
			require.NoError(t, e.arch.RetireUntil(ctx, retention, bad, pgstore.StepArchive))
			tc.tamper(t, e, bad)

			for run := 1; run <= 2; run++ {
				rep, err := e.arch.RunRetention(ctx, retention)
				require.NoError(t, err)
				assert.Equal(t, []string{bad}, rep.Failed, "run %d", run)
				if run == 1 {
					assert.Equal(t, []string{good}, rep.Dropped, "the other partition is retired")
				} else {
					assert.Empty(t, rep.Dropped)
				}
				assert.True(t, e.tableExists(t, bad), "run %d: the table is kept", run)
				assert.False(t, e.attached(t, bad), "run %d: it stays detached", run)
				assert.Equal(t, 3, e.count(t, `SELECT count(*) FROM `+bad))
				a := e.archive(t, bad)
				assert.Nil(t, a.VerifiedAt)
				assert.Nil(t, a.DroppedAt)
				assert.Equal(t, "failed", a.State())
				assert.Contains(t, a.LastError, "verify: ")
				assert.EqualValues(t, run, metric(t, e.reg, "nexmdm_partition_archive_failures_total", "step", "verify"))
			}
		})
	}
}

// A run that stopped after any step, or a DETACH CONCURRENTLY that was
// interrupted, is finished by the next run without redoing what was done.
func TestRetentionResumesAfterACrashAtEachStep(t *testing.T) {
	t.Parallel()
	e := newTestArchiver(t, 96, 91)
	ctx := e.ctx()
	stops := map[string]pgstore.Step{
		partitionOf(96): pgstore.StepRecord,
		partitionOf(95): pgstore.StepDetach,
		partitionOf(94): pgstore.StepArchive,
		partitionOf(93): pgstore.StepVerify,
	}
	for n := 96; n >= 91; n-- {
		e.insert(t, daysAgo(n), n-90)
	}
	for p, s := range stops {
		require.NoError(t, e.arch.RetireUntil(ctx, retention, p, s))
	}
	assert.True(t, e.attached(t, partitionOf(96)), "a crash after recording leaves it attached")
	assert.False(t, e.attached(t, partitionOf(95)), "a crash after the detach leaves a standalone table")
	interruptDetach(t, e, partitionOf(92))

	rep, err := e.arch.RunRetention(ctx, retention)
	require.NoError(t, err)
	assert.Empty(t, rep.Failed)
	assert.Equal(t, []string{partitionOf(96), partitionOf(95), partitionOf(92), partitionOf(91)}, rep.Archived,
		"archives written before the crash are verified, not written again")
	assert.Len(t, rep.Dropped, 6)
	for n := 96; n >= 91; n-- {
		p := partitionOf(n)
		assert.False(t, e.tableExists(t, p), p)
		a := e.archive(t, p)
		assert.Equal(t, "dropped", a.State(), p)
		assert.EqualValues(t, n-90, a.Rows, p)
	}
}

// interruptDetach leaves name pending detach, as a DETACH CONCURRENTLY
// cut off while it waits for older readers does.
func interruptDetach(t *testing.T, e *archiveEnv, name string) {
	t.Helper()
	ctx := e.ctx()
	reader, err := e.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer reader.Rollback(ctx)
	_, err = reader.Exec(ctx, `SELECT count(*) FROM heartbeats`)
	require.NoError(t, err)
	detacher, err := pgx.Connect(ctx, e.db.URL)
	require.NoError(t, err)
	defer detacher.Close(ctx)
	_, err = detacher.Exec(ctx, `SET lock_timeout = '200ms'`)
	require.NoError(t, err)
	_, err = detacher.Exec(ctx, `ALTER TABLE heartbeats DETACH PARTITION `+name+` CONCURRENTLY`)
	require.Error(t, err, "the detach waits for the reader and times out")
	require.NoError(t, reader.Rollback(ctx))
	assert.Equal(t, 1, e.count(t, `SELECT count(*) FROM pg_inherits WHERE inhrelid = $1::regclass AND inhdetachpending`, name))
}

// Two servers: while one runs retention, the other skips quietly; a lock
// held elsewhere makes a run skip too.
func TestRetentionRunsOnOneServerAtATime(t *testing.T) {
	t.Parallel()
	e := newTestArchiver(t, 93, 91)
	ctx := e.ctx()
	for n := 93; n >= 91; n-- {
		e.insert(t, daysAgo(n), 1)
	}
	inside, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.arch.SetAfterStep(func(string, pgstore.Step) {
		once.Do(func() { close(inside); <-release })
	})
	other := e.newArchiver(t, nil)
	type result struct {
		rep pgstore.RetentionReport
		err error
	}
	first := make(chan result, 1)
	go func() {
		rep, err := e.arch.RunRetention(ctx, retention)
		first <- result{rep, err}
	}()
	<-inside
	rep, err := other.RunRetention(ctx, retention)
	require.NoError(t, err)
	assert.True(t, rep.Skipped, "the second server skips while the first works")
	assert.Empty(t, rep.Archived)
	close(release)
	r := <-first
	require.NoError(t, r.err)
	assert.False(t, r.rep.Skipped)
	assert.Len(t, r.rep.Dropped, 3)

	holder, err := pgx.Connect(ctx, e.db.URL)
	require.NoError(t, err)
	defer holder.Close(ctx)
	_, err = holder.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, pgstore.RetentionLock)
	require.NoError(t, err)
	rep, err = e.arch.RunRetention(ctx, retention)
	require.NoError(t, err)
	assert.True(t, rep.Skipped)
	assert.EqualValues(t, 1, metric(t, e.reg, "nexmdm_retention_runs_total", "result", "skipped"))
}

type heartbeatRow struct {
	DeviceID    uuid.UUID
	BucketStart time.Time
	Battery     *int16
	Charging    *bool
	SSID        *string
	NetType     *string
}

func (e *archiveEnv) rows(t *testing.T, d time.Time) []heartbeatRow {
	t.Helper()
	rows, _ := e.db.Pool.Query(e.ctx(), `SELECT device_id, bucket_start, battery_pct, charging, ssid, net_type
		FROM heartbeats WHERE bucket_start >= $1 AND bucket_start < $2 ORDER BY bucket_start`, d, d.Add(24*time.Hour))
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[heartbeatRow])
	require.NoError(t, err)
	return out
}

// Restore checks the archive, loads it and attaches it again; it refuses
// a tampered archive without touching the database, an existing table, and
// an unknown partition; a range taken by another partition leaves the
// restored table standalone.
func TestRestoreBringsRowsBackAndRefusesATamperedArchive(t *testing.T) {
	t.Parallel()
	e := newTestArchiver(t, 93, 91)
	ctx := e.ctx()
	for n := 93; n >= 91; n-- {
		e.insert(t, daysAgo(n), 3)
	}
	before := e.rows(t, daysAgo(93))
	require.Len(t, before, 3)
	rep, err := e.arch.RunRetention(ctx, retention)
	require.NoError(t, err)
	require.Len(t, rep.Dropped, 3)
	require.Empty(t, e.rows(t, daysAgo(93)))

	p := partitionOf(93)
	res, err := e.arch.Restore(ctx, p)
	require.NoError(t, err)
	assert.Equal(t, pgstore.RestoreResult{Partition: p, Rows: 3, Attached: true}, res)
	assert.Equal(t, before, e.rows(t, daysAgo(93)), "every column comes back as it was")
	assert.True(t, e.attached(t, p))
	assert.Equal(t, "restored", e.archive(t, p).State())
	_, err = e.arch.Restore(ctx, p)
	assert.ErrorIs(t, err, pgstore.ErrPartitionExists)
	rep, err = e.arch.RunRetention(ctx, retention)
	require.NoError(t, err)
	assert.Empty(t, rep.Archived, "retention leaves a restored partition alone")
	assert.True(t, e.attached(t, p))

	tampered := partitionOf(92)
	b, err := os.ReadFile(e.blobPath(tampered))
	require.NoError(t, err)
	b[len(b)-5] ^= 0x01
	require.NoError(t, os.WriteFile(e.blobPath(tampered), b, 0o600))
	_, err = e.arch.Restore(ctx, tampered)
	assert.ErrorIs(t, err, pgstore.ErrChecksumMismatch)
	assert.False(t, e.tableExists(t, tampered), "a refused restore creates nothing")
	assert.Nil(t, e.archive(t, tampered).RestoredAt)
	assert.EqualValues(t, 1, metric(t, e.reg, "nexmdm_partition_archive_failures_total", "step", "restore"))

	taken := partitionOf(91)
	_, err = e.db.Pool.Exec(ctx, `CREATE TABLE heartbeats_other PARTITION OF heartbeats FOR VALUES FROM ('`+
		daysAgo(91).Format(time.RFC3339)+`') TO ('`+daysAgo(90).Format(time.RFC3339)+`')`)
	require.NoError(t, err)
	res, err = e.arch.Restore(ctx, taken)
	require.NoError(t, err)
	assert.False(t, res.Attached)
	assert.Contains(t, res.Reason, "overlap")
	assert.True(t, e.tableExists(t, taken))
	assert.Equal(t, 3, e.count(t, `SELECT count(*) FROM `+taken), "the standalone table holds the rows")

	_, err = e.arch.Restore(ctx, partitionOf(200))
	assert.ErrorIs(t, err, pgstore.ErrArchiveNotFound)
	_, err = e.arch.Restore(ctx, "devices; DROP TABLE devices")
	assert.ErrorContains(t, err, "want a name like")
}

// DETACH CONCURRENTLY is refused while heartbeats has a default partition;
// retention then detaches plainly.
func TestRetentionDetachesPlainlyWhenConcurrentlyIsRefused(t *testing.T) {
	t.Parallel()
	e := newTestArchiver(t, 91, 91)
	ctx := e.ctx()
	e.insert(t, daysAgo(91), 2)
	_, err := e.db.Pool.Exec(ctx, `CREATE TABLE heartbeats_default PARTITION OF heartbeats DEFAULT`)
	require.NoError(t, err)
	rep, err := e.arch.RunRetention(ctx, retention)
	require.NoError(t, err)
	assert.Empty(t, rep.Failed)
	assert.Equal(t, []string{partitionOf(91)}, rep.Dropped)
	assert.EqualValues(t, 2, e.archive(t, partitionOf(91)).Rows)
	assert.True(t, e.attached(t, "heartbeats_default"), "only partitions past retention are touched")
}
