package actors_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// newTestReconciler reconciles f's directory in chunks of three devices, so
// that a handful of devices spans several pages.
func newTestReconciler(t *testing.T, f *fixture) (*actors.Reconciler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := actors.DefaultReconcileConfig()
	cfg.Chunk = 3
	return actors.NewReconciler(f.dir, pgstore.NewReconcile(f.db.Pool), f.snaps, cfg, reg, zerolog.Nop()), reg
}

// counterValue reads one labelled counter from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func (f *fixture) snapKey(id uuid.UUID) string { return f.redis.Prefix + "dev:" + id.String() }

// flushSnapshots writes the devices' snapshots to Redis. An actor takes a
// committed row's outcome with its next message and puts its snapshot after
// answering that message, so one status query may be answered before the
// put (and the put then flushed by the store's own loop, over whatever a
// test wrote to Redis since); the second query's answer comes after it.
func (f *fixture) flushSnapshots(t *testing.T, ids ...uuid.UUID) {
	t.Helper()
	for _, id := range ids {
		f.status(t, id)
		f.status(t, id)
	}
	require.NoError(t, f.snaps.Flush(context.Background()))
}

func (f *fixture) lastStatusTS(t *testing.T, id uuid.UUID) time.Time {
	t.Helper()
	var ts time.Time
	require.NoError(t, f.db.Pool.QueryRow(context.Background(), `SELECT ts FROM device_last_status WHERE device_id = $1`, id).Scan(&ts))
	return ts
}

// insertHeartbeat stores a heartbeat row behind the actors' back.
func (f *fixture) insertHeartbeat(t *testing.T, id uuid.UUID, ts time.Time, battery int16) {
	t.Helper()
	ctx := context.Background()
	parts, err := pgstore.NewPartitions(ctx, f.db.Pool)
	require.NoError(t, err)
	require.NoError(t, parts.Ensure(ctx, ts))
	_, err = f.db.Pool.Exec(ctx, `INSERT INTO heartbeats (device_id, bucket_start, ts, received_at, battery_pct) VALUES ($1, $2, $3, $3, $4)`,
		id, persistence.BucketStart(persistence.Bucket(ts)), ts, battery)
	require.NoError(t, err)
}

func TestReconcileRepairsEveryKindOfDrift(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	base := persistence.BucketStart(persistence.Bucket(f.clock.Now()))
	beat := func(id uuid.UUID, secret string, ts time.Time) {
		t.Helper()
		require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, ts).Outcome)
	}
	device := func(serial string) (uuid.UUID, string) {
		id, secret := f.enroll(t, serial)
		beat(id, secret, base.Add(time.Second))
		return id, secret
	}
	get := func(id uuid.UUID) string {
		t.Helper()
		v, err := f.redis.Client.Get(ctx, f.snapKey(id)).Result()
		require.NoError(t, err)
		return v
	}

	clean, _ := device("clean")
	noStatus, _ := device("no-status")
	oldStatus, oldStatusSecret := device("old-status")
	beat(oldStatus, oldStatusSecret, base.Add(11*time.Second))
	noSnap, _ := device("no-snapshot")
	badSnap, _ := device("bad-snapshot")
	oldSnap, oldSnapSecret := device("old-snapshot")
	f.flushSnapshots(t, oldSnap)
	stale := get(oldSnap)
	beat(oldSnap, oldSnapSecret, base.Add(11*time.Second))
	newerRow, newerRowSecret := device("newer-row")
	deleted, _ := device("deleted")
	f.flushSnapshots(t, deleted)
	deletedSnap := get(deleted)
	_, err := f.dir.Delete(ctx, []uuid.UUID{deleted})
	require.NoError(t, err)
	f.flushSnapshots(t, clean, noStatus, oldStatus, noSnap, badSnap, oldSnap, newerRow)

	// Drift, behind the actors' back.
	_, err = f.db.Pool.Exec(ctx, `DELETE FROM device_last_status WHERE device_id = $1`, noStatus)
	require.NoError(t, err)
	_, err = f.db.Pool.Exec(ctx, `UPDATE device_last_status SET ts = ts - interval '1 hour' WHERE device_id = $1`, oldStatus)
	require.NoError(t, err)
	require.NoError(t, f.redis.Client.Del(ctx, f.snapKey(noSnap)).Err())
	require.NoError(t, f.redis.Client.Set(ctx, f.snapKey(badSnap), "garbage", 0).Err())
	require.NoError(t, f.redis.Client.Set(ctx, f.snapKey(oldSnap), stale, 0).Err())
	newerTS := base.Add(32 * time.Second)
	f.insertHeartbeat(t, newerRow, newerTS, 77)
	require.NoError(t, f.redis.Client.Set(ctx, f.snapKey(deleted), deletedSnap, 0).Err())
	ghost := uuid.New()
	require.NoError(t, f.redis.Client.Set(ctx, f.snapKey(ghost), "never enrolled", 0).Err())

	rec, reg := newTestReconciler(t, f)
	rep, err := rec.RunOnce(ctx)
	require.NoError(t, err)
	assert.False(t, rep.Skipped)
	assert.Equal(t, 7, rep.Checked, "every device with an actor")
	want := map[string]int{
		actors.DriftLastStatus:     3, // no-status, old-status, newer-row
		actors.DriftSnapshot:       3, // no-snapshot, bad-snapshot, old-snapshot
		actors.DriftDedupe:         1, // newer-row
		actors.DriftOrphanSnapshot: 2, // deleted, ghost
	}
	assert.Equal(t, want, rep.Repairs)
	for kind, n := range want {
		assert.Equal(t, float64(n), counterValue(t, reg, "nexmdm_reconcile_repairs_total", "kind", kind), "repairs{kind=%q}", kind)
	}

	// device_last_status holds each device's newest stored heartbeat again.
	assert.True(t, f.lastStatusTS(t, noStatus).Equal(base.Add(time.Second)))
	assert.True(t, f.lastStatusTS(t, oldStatus).Equal(base.Add(11*time.Second)))
	assert.True(t, f.lastStatusTS(t, newerRow).Equal(newerTS), "from the heartbeat row")
	assert.True(t, f.lastStatusTS(t, clean).Equal(base.Add(time.Second)))
	var battery int16
	require.NoError(t, f.db.Pool.QueryRow(ctx, `SELECT battery_pct FROM device_last_status WHERE device_id = $1`, newerRow).Scan(&battery))
	assert.Equal(t, int16(77), battery)

	// The actor knows the inserted bucket is stored: its replay is deduped.
	assert.Equal(t, persistence.Bucket(newerTS), f.status(t, newerRow).LastBucket)
	assert.Equal(t, actors.Deduped, f.heartbeat(t, newerRow, newerRowSecret, newerTS.Add(3*time.Second)).Outcome)
	assert.Equal(t, 2, f.rows(t, newerRow))

	// Snapshots are back; orphans are gone.
	f.flushSnapshots(t, noSnap, badSnap, oldSnap)
	keys := f.redis.Keys(t)
	assert.Contains(t, keys, "dev:"+noSnap.String())
	assert.NotEqual(t, "garbage", get(badSnap))
	assert.NotEqual(t, stale, get(oldSnap))
	assert.NotContains(t, keys, "dev:"+deleted.String())
	assert.NotContains(t, keys, "dev:"+ghost.String())

	again, err := rec.RunOnce(ctx)
	require.NoError(t, err)
	assert.Zero(t, again.Drift(), "a second run finds nothing: %v", again.Repairs)
	assert.Equal(t, 7, again.Checked)
	for kind, n := range want {
		assert.Equal(t, float64(n), counterValue(t, reg, "nexmdm_reconcile_repairs_total", "kind", kind), "repairs{kind=%q} after the second run", kind)
	}
	assert.Equal(t, float64(2), counterValue(t, reg, "nexmdm_reconcile_runs_total", "result", "ok"))
}

func TestReconcileChecksSnapshotsOfIdleDevicesWithoutSpawningActors(t *testing.T) {
	f := newFixture(t, func(c *actors.Config) { c.WarmWindow = time.Minute })
	ctx := context.Background()
	base := persistence.BucketStart(persistence.Bucket(f.clock.Now()))
	idle, secret := f.enroll(t, "idle")
	require.Equal(t, actors.Stored, f.heartbeat(t, idle, secret, base).Outcome)
	f.enroll(t, "never-reported")
	f.clock.Advance(time.Hour)
	f.restart(t) // the shutdown snapshots idle; nothing is warm an hour later
	require.Zero(t, f.dir.Live())

	newerTS := base.Add(20 * time.Second)
	f.insertHeartbeat(t, idle, newerTS, 12)
	rec, _ := newTestReconciler(t, f)
	rep, err := rec.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Checked, "only the device with a snapshot")
	assert.Equal(t, 1, rep.Repairs[actors.DriftLastStatus])
	assert.Equal(t, 1, rep.Drift())
	assert.Zero(t, f.dir.Live(), "reconciliation spawns no actor")
	assert.True(t, f.lastStatusTS(t, idle).Equal(newerTS))
	again, err := rec.RunOnce(ctx)
	require.NoError(t, err)
	assert.Zero(t, again.Drift(), "%v", again.Repairs)

	// The device's next actor hydrates the repaired bucket from Postgres.
	assert.Equal(t, persistence.Bucket(newerTS), f.status(t, idle).LastBucket)
}

func TestReconcileFindsNoDriftWhileHeartbeatsFlow(t *testing.T) {
	f := newFixture(t, func(c *actors.Config) { c.RateLimit = 0 })
	ctx := context.Background()
	base := persistence.BucketStart(persistence.Bucket(f.clock.Now()))
	type dev struct {
		id     uuid.UUID
		secret string
	}
	var devs []dev
	for i := range 12 {
		id, secret := f.enroll(t, "flow-"+string(rune('a'+i)))
		devs = append(devs, dev{id, secret})
	}
	rec, reg := newTestReconciler(t, f)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	rounds := make([]atomic.Int32, len(devs)) // each device's finished rounds of three heartbeats
	for n, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// New buckets, a deduped one, and a replayed backlog row.
				ts := base.Add(time.Duration(i) * 10 * time.Second)
				for _, t2 := range []time.Time{ts, ts.Add(3 * time.Second), base.Add(-time.Duration(i+1) * 10 * time.Second)} {
					req, err := f.send(t, d.id, d.secret, t2, int16(i%100))
					if err != nil {
						t.Error(err)
						return
					}
					if _, ok := req.Wait(time.Minute); !ok {
						t.Error("no reply")
						return
					}
					req.Release()
				}
				rounds[n].Add(1)
			}
		}()
	}
	// At least five passes, and on until every device has stored rows in
	// more than one round: a fast machine reconciles twelve devices five
	// times before some of them have sent twice.
	flowed := func() bool {
		for i := range rounds {
			if rounds[i].Load() < 2 {
				return false
			}
		}
		return true
	}
	for pass := 0; pass < 5 || !flowed(); pass++ {
		require.Less(t, pass, 10_000, "the devices' heartbeats stopped flowing")
		rep, err := rec.RunOnce(ctx)
		require.NoError(t, err)
		assert.Zero(t, rep.Drift(), "drift under load: %v", rep.Repairs)
	}
	close(stop)
	wg.Wait()
	for _, d := range devs {
		require.Greater(t, f.rows(t, d.id), 2, "heartbeats flowed while reconciling")
	}
	rep, err := rec.RunOnce(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Drift(), "%v", rep.Repairs)
	assert.Equal(t, len(devs), rep.Checked)
	for _, kind := range []string{actors.DriftLastStatus, actors.DriftSnapshot, actors.DriftDedupe, actors.DriftOrphanSnapshot} {
		assert.Zero(t, counterValue(t, reg, "nexmdm_reconcile_repairs_total", "kind", kind), kind)
	}
}

func TestReconcileSkipsWhileAnotherInstanceHoldsTheLock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec, reg := newTestReconciler(t, f)
	release, ok, err := pgstore.NewReconcile(f.db.Pool).TryLock(ctx)
	require.NoError(t, err)
	require.True(t, ok)

	rep, err := rec.RunOnce(ctx)
	require.NoError(t, err)
	assert.True(t, rep.Skipped)
	assert.Equal(t, float64(1), counterValue(t, reg, "nexmdm_reconcile_runs_total", "result", "skipped"))

	release()
	rep, err = rec.RunOnce(ctx)
	require.NoError(t, err)
	assert.False(t, rep.Skipped)
}
