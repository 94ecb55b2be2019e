package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// done collects finished writes.
type done chan *persistence.HeartbeatWrite

func (d done) HeartbeatWritten(w *persistence.HeartbeatWrite) { d <- w }

func (d done) wait(t *testing.T, n int) []*persistence.HeartbeatWrite {
	t.Helper()
	var out []*persistence.HeartbeatWrite
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case w := <-d:
			out = append(out, w)
		case <-timeout:
			t.Fatalf("got %d of %d finished writes", len(out), n)
		}
	}
	return out
}

type writerEnv struct {
	db     *testenv.DB
	parts  *pgstore.Partitions
	writer *pgstore.Writer
	done   done
}

func newTestWriter(t *testing.T, cfg pgstore.WriterConfig) *writerEnv {
	t.Helper()
	db := testenv.Postgres(t)
	ctx := context.Background()
	parts, err := pgstore.NewPartitions(ctx, db.Pool)
	require.NoError(t, err)
	now := time.Now()
	require.NoError(t, parts.EnsureRange(ctx, now.Add(-24*time.Hour), now.Add(24*time.Hour)))
	w := pgstore.NewWriter(db.Pool, parts, cfg, nil, zerolog.Nop())
	t.Cleanup(func() { w.Close(context.Background()) })
	return &writerEnv{db: db, parts: parts, writer: w, done: make(done, 10000)}
}

func (e *writerEnv) write(dev uuid.UUID, ts time.Time, battery int16) *persistence.HeartbeatWrite {
	return &persistence.HeartbeatWrite{
		Heartbeat: persistence.Heartbeat{
			DeviceID: dev, TS: ts, ReceivedAt: time.Now(),
			Has: persistence.HasBattery | persistence.HasNetType, BatteryPct: battery, NetType: "wifi",
		},
		Notify: e.done,
	}
}

// writeBatch enqueues writes, on the insert-if-absent path if ifAbsent,
// and returns them once finished.
func (e *writerEnv) writeBatch(t *testing.T, ifAbsent bool, writes ...*persistence.HeartbeatWrite) []*persistence.HeartbeatWrite {
	t.Helper()
	for _, w := range writes {
		w.IfAbsent = ifAbsent
		require.True(t, e.writer.Enqueue(w))
	}
	return e.done.wait(t, len(writes))
}

func (e *writerEnv) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestWriterCommitsRowsAndNewestLastStatus(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{})
	now := time.Now().UTC().Truncate(time.Second)
	devA, devB := uuid.New(), uuid.New()
	writes := []*persistence.HeartbeatWrite{
		e.write(devA, now.Add(-30*time.Second), 50),
		e.write(devA, now, 48),
		e.write(devA, now.Add(-60*time.Second), 52), // a replayed backlog: stored, but not the last status
		e.write(devB, now, 90),
	}
	for _, w := range writes {
		require.True(t, e.writer.Enqueue(w))
	}
	for _, w := range e.done.wait(t, len(writes)) {
		assert.NoError(t, w.Err)
		assert.False(t, w.Duplicate)
	}
	assert.Equal(t, 3, e.count(t, `SELECT count(*) FROM heartbeats WHERE device_id = $1`, devA))
	var battery int16
	var ts time.Time
	require.NoError(t, e.db.Pool.QueryRow(context.Background(),
		`SELECT battery_pct, ts FROM device_last_status WHERE device_id = $1`, devA).Scan(&battery, &ts))
	assert.Equal(t, int16(48), battery, "last status is the newest heartbeat by device time")
	assert.True(t, ts.Equal(now))

	// A later batch with an older heartbeat leaves the last status alone.
	require.True(t, e.writer.Enqueue(e.write(devA, now.Add(-90*time.Second), 60)))
	e.done.wait(t, 1)
	require.NoError(t, e.db.Pool.QueryRow(context.Background(),
		`SELECT battery_pct FROM device_last_status WHERE device_id = $1`, devA).Scan(&battery))
	assert.Equal(t, int16(48), battery)
}

func TestWriterCreatesMissingPartitionForBacklog(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{})
	old := time.Now().UTC().Add(-30 * 24 * time.Hour)
	require.False(t, e.parts.Has(old))
	dev := uuid.New()
	require.True(t, e.writer.Enqueue(e.write(dev, old, 10)))
	w := e.done.wait(t, 1)[0]
	require.NoError(t, w.Err)
	var table string
	require.NoError(t, e.db.Pool.QueryRow(context.Background(),
		`SELECT tableoid::regclass::text FROM heartbeats WHERE device_id = $1`, dev).Scan(&table))
	assert.Equal(t, pgstore.PartitionName(old), table)
}

func TestWriterRecreatesPartitionDroppedBehindItsBack(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{})
	now := time.Now().UTC()
	_, err := e.db.Pool.Exec(context.Background(), `DROP TABLE `+pgstore.PartitionName(now))
	require.NoError(t, err)
	require.True(t, e.parts.Has(now), "the cache still believes the partition exists")

	require.True(t, e.writer.Enqueue(e.write(uuid.New(), now, 10)))
	require.NoError(t, e.done.wait(t, 1)[0].Err, "a row with no partition must not fail its batch")
	assert.Equal(t, 1, e.count(t, `SELECT count(*) FROM heartbeats`))
}

func TestWriterInsertIfAbsentReportsStoredBuckets(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{})
	dev := uuid.New()
	now := time.Now().UTC()
	require.True(t, e.writer.Enqueue(e.write(dev, now, 10)))
	require.NoError(t, e.done.wait(t, 1)[0].Err)

	again := e.write(dev, now.Add(time.Second), 11) // same 10 s bucket, most likely
	again.Heartbeat.TS = persistence.BucketStart(persistence.Bucket(now)).Add(3 * time.Second)
	again.IfAbsent = true
	other := e.write(dev, now.Add(-time.Minute), 12)
	other.IfAbsent = true
	require.True(t, e.writer.Enqueue(again))
	require.True(t, e.writer.Enqueue(other))
	for _, w := range e.done.wait(t, 2) {
		require.NoError(t, w.Err)
		assert.Equal(t, w == again, w.Duplicate, "only the stored bucket is a duplicate")
	}
	assert.Equal(t, 2, e.count(t, `SELECT count(*) FROM heartbeats WHERE device_id = $1`, dev))
}

// writePaths are the two ways a batch is stored: new buckets in one
// statement, and buckets that may be stored already by an insert that
// reports them, then an upsert. A linger lets the committer gather every
// row the test enqueues into one batch.
var writePaths = []struct {
	name     string
	ifAbsent bool
}{{"one statement", false}, {"insert if absent", true}}

func TestWriterStoresEveryFieldAndNullsTheAbsentOnesOnEitherPath(t *testing.T) {
	for _, path := range writePaths {
		t.Run(path.name, func(t *testing.T) {
			e := newTestWriter(t, pgstore.WriterConfig{Committers: 1, Linger: 200 * time.Millisecond})
			now := time.Now().UTC().Truncate(time.Microsecond)
			full := &persistence.HeartbeatWrite{Notify: e.done, Heartbeat: persistence.Heartbeat{
				DeviceID: uuid.New(), TS: now, ReceivedAt: now.Add(time.Second), Has: ^persistence.Fields(0),
				BatteryPct: 77, Charging: true, RAMUsedMB: 1500, RAMTotalMB: 4096, UptimeS: 86400,
				NetType: "wifi", SSID: "depot-5", SignalDBm: -61, AgentVersion: "1.4.2", AgentVersionCode: 142,
				ForegroundPkg: "com.acme.pos", AppLastForeground: `{"com.acme.pos": 1700000000000}`,
				PowerOK: true, DozeWhitelisted: true, NetValidated: true, QueueDepth: 3,
			}}
			sparse := &persistence.HeartbeatWrite{Notify: e.done, Heartbeat: persistence.Heartbeat{
				DeviceID: uuid.New(), TS: now, ReceivedAt: now, Has: persistence.HasBattery, BatteryPct: 12,
			}}
			for _, w := range e.writeBatch(t, path.ifAbsent, full, sparse) {
				require.NoError(t, w.Err)
			}

			const cols = `battery_pct, charging, ram_used_mb, ram_total_mb, uptime_s, net_type, ssid,
				signal_dbm, agent_version_code, foreground_pkg, power_ok, doze_whitelisted, net_validated, queue_depth`
			for _, table := range []string{"heartbeats", "device_last_status"} {
				var got [14]any
				ptrs := make([]any, len(got))
				for i := range got {
					ptrs[i] = &got[i]
				}
				require.NoError(t, e.db.Pool.QueryRow(context.Background(),
					`SELECT `+cols+` FROM `+table+` WHERE device_id = $1`, full.Heartbeat.DeviceID).Scan(ptrs...))
				assert.Equal(t, [14]any{int16(77), true, int32(1500), int32(4096), int64(86400), "wifi", "depot-5",
					int16(-61), int32(142), "com.acme.pos", true, true, true, int32(3)}, got, table)

				require.NoError(t, e.db.Pool.QueryRow(context.Background(),
					`SELECT `+cols+` FROM `+table+` WHERE device_id = $1`, sparse.Heartbeat.DeviceID).Scan(ptrs...))
				assert.Equal(t, [14]any{int16(12)}, got, "%s: the fields a device did not send are NULL", table)
			}
			var version, lastFG *string
			var ts, received time.Time
			require.NoError(t, e.db.Pool.QueryRow(context.Background(),
				`SELECT agent_version, app_last_foreground::text, ts, received_at FROM device_last_status WHERE device_id = $1`,
				full.Heartbeat.DeviceID).Scan(&version, &lastFG, &ts, &received))
			require.NotNil(t, version)
			require.NotNil(t, lastFG)
			assert.Equal(t, "1.4.2", *version)
			assert.JSONEq(t, `{"com.acme.pos": 1700000000000}`, *lastFG)
			assert.True(t, ts.Equal(now))
			assert.True(t, received.Equal(now.Add(time.Second)))
			require.NoError(t, e.db.Pool.QueryRow(context.Background(),
				`SELECT agent_version, app_last_foreground::text FROM device_last_status WHERE device_id = $1`,
				sparse.Heartbeat.DeviceID).Scan(&version, &lastFG))
			assert.Nil(t, version)
			assert.Nil(t, lastFG)
		})
	}
}

func TestWriterSurvivesADuplicateOnEitherPath(t *testing.T) {
	for _, path := range writePaths {
		t.Run(path.name, func(t *testing.T) {
			e := newTestWriter(t, pgstore.WriterConfig{Committers: 1, Linger: 200 * time.Millisecond})
			dev, other := uuid.New(), uuid.New()
			now := time.Now().UTC()
			require.True(t, e.writer.Enqueue(e.write(dev, now, 10)))
			require.NoError(t, e.done.wait(t, 1)[0].Err)

			// The caller wrongly believes the bucket is new (say, a stale snapshot):
			// the insert fails on the unique key, and the batch is retried if-absent.
			dup := e.write(dev, now, 11)
			fresh := e.write(other, now, 12)
			finished := e.writeBatch(t, path.ifAbsent, dup, fresh)
			for _, w := range finished {
				require.NoError(t, w.Err)
				assert.Equal(t, w == dup, w.Duplicate)
			}
			assert.Equal(t, 1, e.count(t, `SELECT count(*) FROM heartbeats WHERE device_id = $1`, dev))
			assert.Equal(t, 1, e.count(t, `SELECT count(*) FROM heartbeats WHERE device_id = $1`, other))
			assert.Equal(t, len(finished), e.count(t, `SELECT count(*) FROM heartbeats`))
			assert.Equal(t, len(finished), e.count(t, `SELECT count(*) FROM device_last_status`))
		})
	}
}

func TestWriterFailsEveryRowOfAFailedCommitOnEitherPath(t *testing.T) {
	for _, path := range writePaths {
		t.Run(path.name, func(t *testing.T) {
			e := newTestWriter(t, pgstore.WriterConfig{Committers: 1, Linger: 200 * time.Millisecond})
			_, err := e.db.Pool.Exec(context.Background(), `ALTER TABLE device_last_status RENAME TO gone`)
			require.NoError(t, err)
			now := time.Now().UTC()
			for _, w := range e.writeBatch(t, path.ifAbsent, e.write(uuid.New(), now, 1), e.write(uuid.New(), now, 2)) {
				assert.Error(t, w.Err, "no row may be reported stored when its transaction failed")
			}
			assert.Equal(t, 0, e.count(t, `SELECT count(*) FROM heartbeats`), "the heartbeat rows rolled back with it")
		})
	}
}

func TestWriterBatchesUnderLoad(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{MaxBatch: 500, Committers: 1, Linger: 20 * time.Millisecond})
	now := time.Now().UTC()
	const n = 2000
	for i := 0; i < n; i++ {
		require.True(t, e.writer.Enqueue(e.write(uuid.New(), now, int16(i%100))))
	}
	for _, w := range e.done.wait(t, n) {
		require.NoError(t, w.Err)
	}
	assert.Equal(t, n, e.count(t, `SELECT count(*) FROM heartbeats`))
	assert.Equal(t, n, e.count(t, `SELECT count(*) FROM device_last_status`))
}

func TestWriterGivesEachDeviceOfAnUnorderedBatchItsOwnLastStatus(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{MaxBatch: 500, Committers: 1, Linger: 50 * time.Millisecond})
	now := time.Now().UTC().Truncate(time.Second)
	const n = 300
	for i := 0; i < n; i++ { // random ids: the writer sorts the batch by device
		require.True(t, e.writer.Enqueue(e.write(uuid.New(), now.Add(-time.Duration(i)*time.Second), int16(i%101))))
	}
	for _, w := range e.done.wait(t, n) {
		require.NoError(t, w.Err)
	}
	assert.Equal(t, n, e.count(t, `SELECT count(*) FROM device_last_status s
		JOIN heartbeats h ON h.device_id = s.device_id AND h.ts = s.ts AND h.battery_pct = s.battery_pct`),
		"every last status is its own device's heartbeat")
}

func TestWriterRefusesWhenQueueIsFull(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{QueueSize: 4, Committers: 1})
	// Hold the partition lock so the committer blocks on its first batch.
	tx, err := e.db.Pool.Begin(context.Background())
	require.NoError(t, err)
	_, err = tx.Exec(context.Background(), `LOCK TABLE device_last_status IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)

	now := time.Now().UTC()
	accepted := 0
	for i := 0; i < 20; i++ {
		if e.writer.Enqueue(e.write(uuid.New(), now, 1)) {
			accepted++
		}
	}
	assert.Less(t, accepted, 20, "a full queue must refuse rather than grow")
	require.NoError(t, tx.Rollback(context.Background()))
	for _, w := range e.done.wait(t, accepted) {
		assert.NoError(t, w.Err)
	}
}

func TestWriterBarrierWaitsForEarlierWrites(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{Committers: 2})
	now := time.Now().UTC()
	const n = 300
	for i := 0; i < n; i++ {
		require.True(t, e.writer.Enqueue(e.write(uuid.New(), now, 1)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, e.writer.Barrier(ctx))
	assert.Len(t, e.done, n, "every write enqueued before the barrier has finished")
	assert.Equal(t, n, e.count(t, `SELECT count(*) FROM heartbeats`))
}

func TestWriterCloseFlushesAndThenRefuses(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{})
	now := time.Now().UTC()
	for i := 0; i < 50; i++ {
		require.True(t, e.writer.Enqueue(e.write(uuid.New(), now, 1)))
	}
	require.NoError(t, e.writer.Close(context.Background()))
	assert.Len(t, e.done, 50)
	assert.Equal(t, 50, e.count(t, `SELECT count(*) FROM heartbeats`))
	assert.False(t, e.writer.Enqueue(e.write(uuid.New(), now, 1)))
}
