package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// enrollForReconcile enrolls a device with a random serial.
func enrollForReconcile(t *testing.T, e *writerEnv) uuid.UUID {
	t.Helper()
	out, err := pgstore.NewDevices(e.db.Pool).Enroll(context.Background(), pgstore.Enrollment{
		NewID: uuid.New(), Serial: uuid.NewString(), TokenBcrypt: "x", TokenDigest: make([]byte, 32), PepperID: "p1",
	})
	require.NoError(t, err)
	return out.ID
}

func TestReconcileStoredLastReadsTheNewestBucketOfEveryPartition(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{})
	ctx := context.Background()
	r := pgstore.NewReconcile(e.db.Pool)
	now := time.Now().UTC().Truncate(time.Second)
	yesterday := now.Add(-24 * time.Hour)
	a, quiet := enrollForReconcile(t, e), enrollForReconcile(t, e)
	for _, w := range []*persistence.HeartbeatWrite{e.write(a, yesterday, 1), e.write(a, now, 2)} {
		require.True(t, e.writer.Enqueue(w))
	}
	e.done.wait(t, 2)
	_, err := e.db.Pool.Exec(ctx, `UPDATE device_last_status SET ts = $2 WHERE device_id = $1`, a, yesterday)
	require.NoError(t, err)

	got, err := r.StoredLast(ctx, []uuid.UUID{a, quiet, uuid.New()})
	require.NoError(t, err)
	require.Len(t, got, 3)
	byID := map[uuid.UUID]persistence.StoredLast{}
	for _, s := range got {
		byID[s.DeviceID] = s
	}
	assert.Equal(t, persistence.Bucket(now), byID[a].NewestBucket)
	assert.Equal(t, persistence.Bucket(yesterday), byID[a].StatusBucket())
	assert.Zero(t, byID[quiet].NewestBucket)
	assert.Zero(t, byID[quiet].StatusBucket())
}

func TestReconcileLastStatusRepairsNeverGoBackwards(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{})
	ctx := context.Background()
	r := pgstore.NewReconcile(e.db.Pool)
	now := time.Now().UTC().Truncate(10 * time.Second)
	stale, current, missing, deleted := enrollForReconcile(t, e), enrollForReconcile(t, e), enrollForReconcile(t, e), enrollForReconcile(t, e)
	for _, id := range []uuid.UUID{stale, current, missing, deleted} {
		w := e.write(id, now.Add(time.Second), 40)
		w.Heartbeat.Has |= persistence.HasAgentVersion | persistence.HasAgentVersionCode
		w.Heartbeat.AgentVersion, w.Heartbeat.AgentVersionCode = "1.2.0", 120
		require.True(t, e.writer.Enqueue(w))
	}
	e.done.wait(t, 4)
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := e.db.Pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	exec(`UPDATE device_last_status SET ts = ts - interval '1 hour', battery_pct = 1 WHERE device_id = $1`, stale)
	exec(`UPDATE device_last_status SET ts = ts + interval '5 seconds' WHERE device_id = $1`, current) // same bucket, a later (deduped) heartbeat
	exec(`DELETE FROM device_last_status WHERE device_id = ANY($1)`, []uuid.UUID{missing, deleted})
	_, err := pgstore.NewDevices(e.db.Pool).Delete(ctx, []uuid.UUID{deleted}, now)
	require.NoError(t, err)

	var last []persistence.StoredLast
	for _, id := range []uuid.UUID{stale, current, missing, deleted} {
		last = append(last, persistence.StoredLast{DeviceID: id, NewestBucket: persistence.Bucket(now)})
	}
	fixed, err := r.LastStatusFromHeartbeats(ctx, last)
	require.NoError(t, err)
	assert.ElementsMatch(t, []uuid.UUID{stale, missing}, fixed)
	var battery int16
	var version *string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT battery_pct, agent_version FROM device_last_status WHERE device_id = $1`, stale).Scan(&battery, &version))
	assert.Equal(t, int16(40), battery)
	require.NotNil(t, version)
	assert.Equal(t, "1.2.0", *version, "the version name stays while its code matches")
	assert.Zero(t, e.count(t, `SELECT count(*) FROM device_last_status WHERE device_id = $1`, deleted), "no last status for a deleted device")

	// From an actor's live status: only where the row is older or missing.
	exec(`DELETE FROM device_last_status WHERE device_id = $1`, missing)
	live := func(id uuid.UUID, ts time.Time) persistence.Heartbeat {
		return persistence.Heartbeat{DeviceID: id, TS: ts, ReceivedAt: ts, Has: persistence.HasBattery | persistence.HasAppLastForeground, BatteryPct: 55}
	}
	fixed, err = r.LastStatusFromLive(ctx, []persistence.Heartbeat{
		live(missing, now.Add(2*time.Second)), live(current, now.Add(2*time.Second)), live(stale, now.Add(-time.Hour)), live(deleted, now),
	})
	require.NoError(t, err)
	assert.Equal(t, []uuid.UUID{missing}, fixed)
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT battery_pct FROM device_last_status WHERE device_id = $1`, missing).Scan(&battery))
	assert.Equal(t, int16(55), battery)
}

func TestReconcilePagesDevicesAndHoldsItsLockAlone(t *testing.T) {
	e := newTestWriter(t, pgstore.WriterConfig{})
	ctx := context.Background()
	r := pgstore.NewReconcile(e.db.Pool)
	want := map[uuid.UUID]bool{}
	for range 5 {
		want[enrollForReconcile(t, e)] = true
	}
	var after uuid.UUID
	seen := map[uuid.UUID]bool{}
	for {
		page, err := r.DeviceIDs(ctx, after, 2)
		require.NoError(t, err)
		for _, id := range page {
			assert.False(t, seen[id], "device %s paged twice", id)
			seen[id] = true
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1]
	}
	assert.Equal(t, want, seen)
	var some uuid.UUID
	for id := range want {
		some = id
		break
	}
	found, err := r.Existing(ctx, []uuid.UUID{some, uuid.New()})
	require.NoError(t, err)
	assert.Equal(t, []uuid.UUID{some}, found)

	release, ok, err := r.TryLock(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = pgstore.NewReconcile(e.db.Pool).TryLock(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "a second instance skips")
	release()
	release2, ok, err := r.TryLock(ctx)
	require.NoError(t, err)
	assert.True(t, ok)
	release2()
}
