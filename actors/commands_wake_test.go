package actors_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/persistence"
)

// storePings stores a queued ping for each device, as a bulk command does
// before it hands them to the directory.
func (f *fixture) storePings(t *testing.T, devices []uuid.UUID, ttl time.Duration) []persistence.Command {
	t.Helper()
	now := f.clock.Now()
	cmds := make([]persistence.Command, len(devices))
	for i, id := range devices {
		cmds[i] = persistence.Command{ID: uuid.New(), DeviceID: id, Type: "ping", ParamsJSON: "{}",
			IssuedAt: now, ExpiresAt: now.Add(ttl), KeyID: "k1", Sig: "sig"}
	}
	stored, err := f.commands.Create(context.Background(), cmds, "test", now)
	require.NoError(t, err)
	require.Len(t, stored, len(cmds))
	return cmds
}

// enrollMany enrolls n devices with serials prefix-0000, prefix-0001, ...
func (f *fixture) enrollMany(t *testing.T, prefix string, n int) ([]uuid.UUID, []string) {
	t.Helper()
	ids, secrets := make([]uuid.UUID, n), make([]string, n)
	for i := range ids {
		ids[i], secrets[i] = f.enroll(t, fmt.Sprintf("%s-%04d", prefix, i))
	}
	return ids, secrets
}

// storedHeartbeats counts the heartbeat rows in PostgreSQL.
func (f *fixture) storedHeartbeats(t *testing.T) int {
	t.Helper()
	var rows int
	require.NoError(t, f.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM heartbeats`).Scan(&rows))
	return rows
}

// answer is what a device got back for one heartbeat.
type answer struct {
	outcome  actors.Outcome
	commands []uuid.UUID
}

// heartbeatAll sends one heartbeat per device at once, each from its own
// goroutine; collect waits for them and returns the answers in device order.
func (f *fixture) heartbeatAll(t *testing.T, ids []uuid.UUID, secrets []string, ts time.Time) (collect func() []answer) {
	t.Helper()
	answers := make([]answer, len(ids))
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := f.send(t, ids[i], secrets[i], ts, 50)
			if !assert.NoError(t, err) {
				return
			}
			rep, ok := req.Wait(20 * time.Second)
			if !assert.True(t, ok, "no reply") {
				return
			}
			answers[i].outcome = rep.Outcome
			for _, c := range req.Commands {
				answers[i].commands = append(answers[i].commands, c.ID)
			}
			req.Release()
		}()
	}
	return func() []answer { wg.Wait(); return answers }
}

// A bulk command to devices without a live actor wakes them, a batch of
// devices at a time, so that each holds its command and expires it on time
// even if the device never comes back. A device deleted before the command
// reached it stays asleep.
func TestCommandsWakeIdleDevicesToExpireOnTime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const n = 1200 // more than two batches
	ids, _ := f.enrollMany(t, "idle", n)
	require.Zero(t, f.dir.Live(), "enrolled devices that never reported have no actor")

	cmds := f.storePings(t, ids, time.Minute)
	deleted := ids[n-1]
	_, err := f.dir.Delete(ctx, []uuid.UUID{deleted})
	require.NoError(t, err)

	f.dir.QueueCommands(cmds)
	require.Eventually(t, func() bool { return f.dir.Live() == n-1 }, 20*time.Second, 10*time.Millisecond,
		"every idle device but the deleted one is woken")

	f.clock.Advance(2 * time.Minute)
	f.dir.Sweep(f.clock.Now())
	expired := func() int {
		var c int
		require.NoError(t, f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM commands WHERE status = 'expired'`).Scan(&c))
		return c
	}
	require.Eventually(t, func() bool { return expired() == n-1 }, 20*time.Second, 50*time.Millisecond)
	var left int
	require.NoError(t, f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM commands WHERE device_id = $1`, deleted).Scan(&left))
	assert.Zero(t, left, "the deleted device's command went with it")
}

// Heartbeats racing the wake of their devices meet one actor per device:
// each is stored once and answered with its device's command.
func TestHeartbeatsRacingTheWakeMeetOneActorEach(t *testing.T) {
	f := newFixture(t)
	const n = 600
	ids, secrets := f.enrollMany(t, "racing", n)
	now := f.clock.Now()
	cmds := f.storePings(t, ids, time.Hour)

	collect := f.heartbeatAll(t, ids, secrets, now)
	f.dir.QueueCommands(cmds)
	answers := collect()

	for i, a := range answers {
		assert.Equal(t, actors.Stored, a.outcome, "device %d", i)
		assert.Equal(t, []uuid.UUID{cmds[i].ID}, a.commands, "device %d", i)
	}
	assert.Equal(t, n, f.dir.Live(), "one actor per device")
	assert.Equal(t, n, f.storedHeartbeats(t))
}

// A bulk command to live actors is handed over in paced chunks; every
// device still gets its own command with its next heartbeat answer.
func TestABulkCommandReachesEveryLiveActorAcrossChunks(t *testing.T) {
	f := newFixture(t, func(c *actors.Config) { c.RateLimit = 0 })
	const n = 700 // nearly three chunks
	ids, secrets := f.enrollMany(t, "live", n)
	for _, a := range f.heartbeatAll(t, ids, secrets, f.clock.Now())() {
		require.Equal(t, actors.Stored, a.outcome)
	}
	require.Equal(t, n, f.dir.Live())

	cmds := f.storePings(t, ids, time.Hour)
	f.dir.QueueCommands(cmds)
	for i, a := range f.heartbeatAll(t, ids, secrets, f.clock.Now().Add(10*time.Second))() {
		assert.Equal(t, []uuid.UUID{cmds[i].ID}, a.commands, "device %d", i)
	}
}
