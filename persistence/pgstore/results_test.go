package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// One batch holds results for open commands, for a final one, for another
// device's and for an unknown one: each gets the answer it would get alone,
// and only the open commands are finished, each with its own result.
func TestResultsStoredTogetherEachGetTheirOwnAnswer(t *testing.T) {
	o := withOpenCommand(t, 6)
	ctx := context.Background()
	cmds := openCommands(t, o.store, o.devices, o.at)
	_, err := o.db.Pool.Exec(ctx, `UPDATE commands SET status = 'expired' WHERE id = $1`, cmds[0].ID)
	require.NoError(t, err)

	result := func(cmd uuid.UUID, device uuid.UUID, message string) pgstore.Result {
		return pgstore.Result{CommandID: cmd, DeviceID: device, Status: persistence.CommandSucceeded,
			Message: message, Output: "out of " + message, FinishedAt: o.at, At: o.at}
	}
	rs := []pgstore.Result{
		result(cmds[3].ID, cmds[3].DeviceID, "third"),
		result(cmds[0].ID, cmds[0].DeviceID, "expired"),
		result(cmds[1].ID, cmds[1].DeviceID, "first"),
		result(cmds[4].ID, cmds[5].DeviceID, "another device's"),
		result(uuid.New(), cmds[2].DeviceID, "unknown"),
		result(cmds[2].ID, cmds[2].DeviceID, "second"),
	}
	answers := o.store.FinishTogether(rs)

	assert.NoError(t, answers[0])
	assert.ErrorIs(t, answers[1], pgstore.ErrCommandFinal)
	assert.NoError(t, answers[2])
	assert.ErrorIs(t, answers[3], persistence.ErrNotFound)
	assert.ErrorIs(t, answers[4], persistence.ErrNotFound)
	assert.NoError(t, answers[5])

	for _, i := range []int{1, 2, 3} {
		got, err := o.store.Get(ctx, cmds[i].ID)
		require.NoError(t, err)
		name := map[int]string{1: "first", 2: "second", 3: "third"}[i]
		assert.Equal(t, persistence.CommandSucceeded, got.Status, name)
		assert.Equal(t, name, got.ResultMessage)
		assert.Equal(t, "out of "+name, got.ResultOutput)
		_, audits := trail(t, o.db, cmds[i].ID)
		assert.Equal(t, 1, audits, "one audit row for %s", name)
	}
	for _, i := range []int{0, 4} {
		got, err := o.store.Get(ctx, cmds[i].ID)
		require.NoError(t, err)
		assert.Empty(t, got.ResultMessage, "command %d keeps no result", i)
		_, audits := trail(t, o.db, cmds[i].ID)
		assert.Zero(t, audits)
	}
}

// A bulk command's results arriving at once, some of them sent twice (a
// device that retried): every command is finished once, by one of its
// results, and every other copy is told the command is final.
func TestResultsArrivingAtOnceFinishEachCommandOnce(t *testing.T) {
	o := withOpenCommand(t, 40)
	ctx := context.Background()
	cmds := openCommands(t, o.store, o.devices, o.at)
	const copies = 3

	var wg sync.WaitGroup
	start := make(chan struct{})
	answers := make([][]error, len(cmds))
	for i, c := range cmds {
		answers[i] = make([]error, copies)
		for k := range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				answers[i][k] = o.store.Finish(ctx, pgstore.Result{CommandID: c.ID, DeviceID: c.DeviceID,
					Status: persistence.CommandSucceeded, Message: fmt.Sprint("copy ", k), FinishedAt: o.at, At: o.at})
			}()
		}
	}
	close(start)
	wg.Wait()

	for i, c := range cmds {
		winner := -1
		for k, err := range answers[i] {
			if err == nil {
				assert.Equal(t, -1, winner, "command %d was finished twice", i)
				winner = k
			} else {
				assert.ErrorIs(t, err, pgstore.ErrCommandFinal)
			}
		}
		require.NotEqual(t, -1, winner, "command %d was never finished", i)
		got, err := o.store.Get(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint("copy ", winner), got.ResultMessage, "the stored result is the one that was answered 200")
		_, audits := trail(t, o.db, c.ID)
		assert.Equal(t, 1, audits)
	}
}

// A batch holds each command once, in arrival order, and stops at 512
// results or at about 4 MiB of messages and outputs.
func TestABatchTakesEachCommandOnceUpToItsLimits(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	batch, left := pgstore.TakeBatch([]pgstore.Result{{CommandID: a, Message: "1"}, {CommandID: b}, {CommandID: a, Message: "2"}})
	assert.Equal(t, []pgstore.Result{{CommandID: a, Message: "1"}, {CommandID: b}}, batch)
	assert.Equal(t, []pgstore.Result{{CommandID: a, Message: "2"}}, left, "the repeat waits for the next batch")

	many := make([]pgstore.Result, 600)
	for i := range many {
		many[i].CommandID = uuid.New()
	}
	batch, left = pgstore.TakeBatch(many)
	assert.Len(t, batch, 512)
	assert.Len(t, left, 88)

	big := make([]pgstore.Result, 100)
	for i := range big {
		big[i] = pgstore.Result{CommandID: uuid.New(), Output: strings.Repeat("x", 64<<10)}
	}
	batch, left = pgstore.TakeBatch(big)
	assert.Len(t, batch, 64, "64 outputs of 64 KiB make 4 MiB")
	assert.Len(t, left, 36)
}

// A result PostgreSQL refuses (text with a NUL byte) fails its batch's
// statement; the batch is then stored result by result, so only that one
// fails and the others are finished.
func TestOneRefusedResultFailsOnlyItself(t *testing.T) {
	o := withOpenCommand(t, 3)
	ctx := context.Background()
	cmds := openCommands(t, o.store, o.devices, o.at)
	rs := make([]pgstore.Result, len(cmds))
	for i, c := range cmds {
		rs[i] = pgstore.Result{CommandID: c.ID, DeviceID: c.DeviceID, Status: persistence.CommandSucceeded,
			Message: "pong", FinishedAt: o.at, At: o.at}
	}
	rs[1].Message = "bad\x00byte"
	answers := o.store.FinishTogether(rs)

	assert.NoError(t, answers[0])
	assert.Error(t, answers[1])
	assert.NoError(t, answers[2])
	for i, c := range cmds {
		got, err := o.store.Get(ctx, c.ID)
		require.NoError(t, err)
		_, audits := trail(t, o.db, c.ID)
		if i == 1 {
			assert.Equal(t, persistence.CommandQueued, got.Status, "the refused result leaves its command as it was")
			assert.Zero(t, audits)
		} else {
			assert.Equal(t, persistence.CommandSucceeded, got.Status)
			assert.Equal(t, 1, audits)
		}
	}
}
