package pgstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// openCommands queues one ping for each device.
func openCommands(t testing.TB, store *pgstore.Commands, devices []uuid.UUID, at time.Time) []persistence.Command {
	t.Helper()
	cmds := make([]persistence.Command, len(devices))
	for i, d := range devices {
		cmds[i] = persistence.Command{ID: uuid.New(), DeviceID: d, Type: "ping", ParamsJSON: "{}",
			IssuedAt: at, ExpiresAt: at.Add(time.Hour), KeyID: "k1", Sig: "sig"}
	}
	stored, err := store.Create(context.Background(), cmds, "admin:test", at)
	require.NoError(t, err)
	require.Len(t, stored, len(cmds))
	return cmds
}

// trail counts a command's events and audit rows.
func trail(t *testing.T, db *testenv.DB, id uuid.UUID) (events, audits int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM command_events WHERE command_id = $1`, id).Scan(&events))
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE target = $1::text`, id).Scan(&audits))
	return events, audits
}

// openCommand is a database with some devices and one queued command for
// the first of them.
type openCommand struct {
	db      *testenv.DB
	store   *pgstore.Commands
	devices []uuid.UUID
	cmd     persistence.Command
	at      time.Time
}

func withOpenCommand(t *testing.T, devices int) openCommand {
	t.Helper()
	o := openCommand{db: testenv.Postgres(t), at: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	o.store = pgstore.NewCommands(o.db.Pool)
	o.devices = alertDevices(t, o.db, devices)
	o.cmd = openCommands(t, o.store, o.devices[:1], o.at)[0]
	return o
}

func TestFinishStoresTheResultWithItsEventAndAudit(t *testing.T) {
	o := withOpenCommand(t, 1)
	db, store, device, cmd, at := o.db, o.store, o.devices[0], o.cmd, o.at
	ctx := context.Background()
	eventsBefore, _ := trail(t, db, cmd.ID)

	finished := at.Add(2 * time.Second)
	require.NoError(t, store.Finish(ctx, pgstore.Result{CommandID: cmd.ID, DeviceID: device,
		Status: persistence.CommandFailed, Message: "no such package", Output: "exit 1",
		FinishedAt: finished, At: at.Add(3 * time.Second)}))

	got, err := store.Get(ctx, cmd.ID)
	require.NoError(t, err)
	assert.Equal(t, persistence.CommandFailed, got.Status)
	assert.Equal(t, "no such package", got.ResultMessage)
	assert.Equal(t, "exit 1", got.ResultOutput)
	require.NotNil(t, got.FinishedAt)
	assert.True(t, finished.Equal(*got.FinishedAt))
	assert.True(t, at.Add(3*time.Second).Equal(got.UpdatedAt))

	events, audits := trail(t, db, cmd.ID)
	assert.Equal(t, eventsBefore+1, events, "one event for the result")
	assert.Equal(t, 1, audits, "one audit row for the result")
	var actor, action, message string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT actor, action, details->>'message' FROM audit_log WHERE target = $1::text`,
		cmd.ID).Scan(&actor, &action, &message))
	assert.Equal(t, "device:"+device.String(), actor)
	assert.Equal(t, "command.failed", action)
	assert.Equal(t, "no such package", message)
}

func TestFinishRefusesAnotherDevicesCommandAndAnUnknownOne(t *testing.T) {
	o := withOpenCommand(t, 2)
	db, store, devices, cmd, at := o.db, o.store, o.devices, o.cmd, o.at
	ctx := context.Background()
	eventsBefore, _ := trail(t, db, cmd.ID)

	for _, r := range []pgstore.Result{
		{CommandID: cmd.ID, DeviceID: devices[1]},
		{CommandID: uuid.New(), DeviceID: devices[0]},
	} {
		r.Status, r.FinishedAt, r.At = persistence.CommandSucceeded, at, at
		assert.ErrorIs(t, store.Finish(ctx, r), persistence.ErrNotFound)
	}
	got, err := store.Get(ctx, cmd.ID)
	require.NoError(t, err)
	assert.Equal(t, persistence.CommandQueued, got.Status, "another device's result must not finish it")
	events, audits := trail(t, db, cmd.ID)
	assert.Equal(t, eventsBefore, events)
	assert.Zero(t, audits)
}

func TestFinishKeepsTheFirstResult(t *testing.T) {
	o := withOpenCommand(t, 1)
	db, store, device, cmd, at := o.db, o.store, o.devices[0], o.cmd, o.at
	ctx := context.Background()
	first := pgstore.Result{CommandID: cmd.ID, DeviceID: device, Status: persistence.CommandSucceeded,
		Message: "pong", FinishedAt: at, At: at}
	require.NoError(t, store.Finish(ctx, first))
	eventsAfterFirst, auditsAfterFirst := trail(t, db, cmd.ID)

	second := first
	second.Status, second.Message, second.At = persistence.CommandFailed, "late", at.Add(time.Minute)
	assert.ErrorIs(t, store.Finish(ctx, second), pgstore.ErrCommandFinal)

	got, err := store.Get(ctx, cmd.ID)
	require.NoError(t, err)
	assert.Equal(t, persistence.CommandSucceeded, got.Status)
	assert.Equal(t, "pong", got.ResultMessage)
	events, audits := trail(t, db, cmd.ID)
	assert.Equal(t, eventsAfterFirst, events, "a refused result leaves no event")
	assert.Equal(t, auditsAfterFirst, audits, "a refused result leaves no audit row")
}

// BenchmarkFinishConcurrent is a bulk command's results arriving at once:
// many devices reporting in parallel, each result its own request.
func BenchmarkFinishConcurrent(b *testing.B) {
	db := testenv.Postgres(b)
	ctx := context.Background()
	store := pgstore.NewCommands(db.Pool)
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	devices := alertDevices(b, db, 1000)
	var cmds []persistence.Command
	for len(cmds) < b.N {
		cmds = append(cmds, openCommands(b, store, devices, at)...)
	}
	var next atomic.Int64
	b.SetParallelism(16) // goroutines per GOMAXPROCS: the server's many connections
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := cmds[next.Add(1)-1]
			err := store.Finish(ctx, pgstore.Result{CommandID: c.ID, DeviceID: c.DeviceID,
				Status: persistence.CommandSucceeded, Message: "pong", FinishedAt: at, At: at})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// Waking a batch of devices reads them and their open commands in one
// query each: only the devices asked for that exist, and only their open
// commands.
func TestBatchReadsTakeOnlyTheDevicesAskedForAndTheirOpenCommands(t *testing.T) {
	o := withOpenCommand(t, 4)
	ctx := context.Background()
	asked := []uuid.UUID{o.devices[0], o.devices[1], uuid.New()} // the last is unknown
	second := openCommands(t, o.store, o.devices[1:3], o.at)     // one for a device not asked for
	_, err := o.db.Pool.Exec(ctx, `UPDATE commands SET status = 'succeeded' WHERE id = $1`, o.cmd.ID)
	require.NoError(t, err)

	recs, err := pgstore.NewDevices(o.db.Pool).LoadMany(ctx, asked)
	require.NoError(t, err)
	var got []uuid.UUID
	for _, r := range recs {
		got = append(got, r.ID)
	}
	assert.ElementsMatch(t, asked[:2], got, "an unknown id is left out")

	open, err := o.store.OpenOf(ctx, asked)
	require.NoError(t, err)
	require.Len(t, open, 1, "the finished command and the one of a device not asked for are left out")
	assert.Equal(t, second[0].ID, open[0].ID)
}

func TestAQueuedCommandHasNoEventRowAndItsHistoryStartsQueuedByItsSender(t *testing.T) {
	o := withOpenCommand(t, 1)
	ctx := context.Background()
	events, _ := trail(t, o.db, o.cmd.ID)
	assert.Zero(t, events, "queued is read from the command row")

	require.NoError(t, o.store.Apply(ctx, []persistence.CommandTransition{
		{ID: o.cmd.ID, DeviceID: o.devices[0], Status: persistence.CommandSent, At: o.at.Add(time.Second), Detail: "pushed with FCM"},
	}))
	got, err := o.store.Get(ctx, o.cmd.ID)
	require.NoError(t, err)
	require.Len(t, got.Events, 2)
	first := got.Events[0]
	assert.Equal(t, persistence.CommandQueued, first.Status)
	assert.Equal(t, "by admin:test", first.Detail)
	assert.True(t, o.at.Equal(first.At), "queued when issued, not %v", first.At)
	assert.Equal(t, persistence.CommandSent, got.Events[1].Status)
}

func TestCreateStoresNoCommandForADeviceDeletedMeanwhile(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	store, devices := pgstore.NewCommands(db.Pool), alertDevices(t, db, 2)
	_, err := pgstore.NewDevices(db.Pool).Delete(ctx, devices[1:], time.Now())
	require.NoError(t, err)

	at := time.Now().Truncate(time.Second)
	cmds := []persistence.Command{
		{ID: uuid.New(), DeviceID: devices[0], Type: "ping", ParamsJSON: "{}", IssuedAt: at, ExpiresAt: at.Add(time.Hour), KeyID: "k1", Sig: "sig"},
		{ID: uuid.New(), DeviceID: devices[1], Type: "ping", ParamsJSON: "{}", IssuedAt: at, ExpiresAt: at.Add(time.Hour), KeyID: "k1", Sig: "sig"},
	}
	stored, err := store.Create(ctx, cmds, "admin:test", at)
	require.NoError(t, err)
	assert.Equal(t, cmds[:1], stored)
	assert.Equal(t, 1, commandCount(t, db), "nothing stored for the deleted device")
}

func TestDeletingADeviceRemovesItsCommandsAndTheirEvents(t *testing.T) {
	o := withOpenCommand(t, 2)
	ctx := context.Background()
	openCommands(t, o.store, o.devices[1:], o.at)
	require.NoError(t, o.store.Apply(ctx, []persistence.CommandTransition{
		{ID: o.cmd.ID, DeviceID: o.devices[0], Status: persistence.CommandSent, At: o.at.Add(time.Second)},
	}))

	_, err := pgstore.NewDevices(o.db.Pool).Delete(ctx, o.devices[:1], time.Now())
	require.NoError(t, err)

	_, err = o.store.Get(ctx, o.cmd.ID)
	assert.ErrorIs(t, err, persistence.ErrNotFound)
	events, _ := trail(t, o.db, o.cmd.ID)
	assert.Zero(t, events)
	assert.Equal(t, 1, commandCount(t, o.db), "the other device keeps its command")
}

// A delete that has removed a device but not yet committed must not let a
// new command for it in: Create waits for the delete, then skips the device.
func TestCreateWaitsForADeviceDeleteInProgress(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	store, device := pgstore.NewCommands(db.Pool), alertDevices(t, db, 1)[0]
	del, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer del.Rollback(ctx)
	_, err = del.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, pgstore.DeviceDeletes)
	require.NoError(t, err)
	_, err = del.Exec(ctx, `DELETE FROM devices WHERE id = $1`, device)
	require.NoError(t, err)

	at := time.Now().Truncate(time.Second)
	created := make(chan []persistence.Command, 1)
	go func() {
		stored, err := store.Create(ctx, []persistence.Command{{ID: uuid.New(), DeviceID: device, Type: "ping",
			ParamsJSON: "{}", IssuedAt: at, ExpiresAt: at.Add(time.Hour), KeyID: "k1", Sig: "sig"}}, "admin:test", at)
		assert.NoError(t, err)
		created <- stored
	}()
	require.Eventually(t, func() bool {
		var waiting bool
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)`).Scan(&waiting))
		return waiting
	}, 10*time.Second, 10*time.Millisecond, "Create must wait for the delete's lock")
	require.NoError(t, del.Commit(ctx))

	assert.Empty(t, <-created)
	assert.Zero(t, commandCount(t, db))
}

func commandCount(t *testing.T, db *testenv.DB) (n int) {
	t.Helper()
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM commands`).Scan(&n))
	return n
}
