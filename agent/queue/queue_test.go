package queue

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func openAt(t *testing.T, path string, lim Limits, c *clock) (*Queue, *bolt.DB) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	q, err := Open(db, lim, c.now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return q, db
}

func newQueue(t *testing.T, lim Limits) (*Queue, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	q, db := openAt(t, filepath.Join(t.TempDir(), "agent.db"), lim, c)
	t.Cleanup(func() { db.Close() })
	return q, c
}

// drain delivers everything, returning kind:key in delivery order.
func drain(t *testing.T, q *Queue) []string {
	t.Helper()
	var got []string
	for {
		it, ok, err := q.Head()
		require.NoError(t, err)
		if !ok {
			return got
		}
		got = append(got, fmt.Sprintf("%s:%s", it.Kind, it.Key))
		require.NoError(t, q.Remove(it))
	}
}

func TestItemsAreDeliveredInTheOrderTheyWereQueued(t *testing.T) {
	q, _ := newQueue(t, SeedLimits)
	require.NoError(t, q.EnqueueHeartbeat(1, []byte(`{"a":1}`)))
	require.NoError(t, q.EnqueueResult("cmd-1", []byte(`{"r":1}`)))
	require.NoError(t, q.EnqueueHeartbeat(2, []byte(`{"a":2}`)))
	assert.Equal(t, 3, q.Len())
	assert.Equal(t, []string{"heartbeat:1", "result:cmd-1", "heartbeat:2"}, drain(t, q))
	assert.Zero(t, q.Len())
	assert.Zero(t, q.Bytes())
}

func TestHeartbeatsOfOneBucketCoalesceInPlace(t *testing.T) {
	q, _ := newQueue(t, SeedLimits)
	require.NoError(t, q.EnqueueHeartbeat(7, []byte(`old`)))
	require.NoError(t, q.EnqueueResult("c", []byte(`r`)))
	require.NoError(t, q.EnqueueHeartbeat(7, []byte(`new`)))
	assert.Equal(t, 2, q.Len())
	it, _, err := q.Head()
	require.NoError(t, err)
	assert.Equal(t, "7", it.Key, "the bucket keeps its place in line")
	assert.Equal(t, "new", string(it.Body), "the newer reading wins")
}

func TestAHeartbeatReplacedWhileInFlightStillGoesOut(t *testing.T) {
	q, _ := newQueue(t, SeedLimits)
	require.NoError(t, q.EnqueueHeartbeat(7, []byte(`first`)))
	inFlight, _, err := q.Head()
	require.NoError(t, err)
	require.NoError(t, q.EnqueueHeartbeat(7, []byte(`second`)))
	require.NoError(t, q.Remove(inFlight))
	it, ok, err := q.Head()
	require.NoError(t, err)
	require.True(t, ok, "the replacement was not delivered yet")
	assert.Equal(t, "second", string(it.Body))
}

func TestASecondResultForACommandIsIgnored(t *testing.T) {
	q, _ := newQueue(t, SeedLimits)
	require.NoError(t, q.EnqueueResult("c", []byte(`first`)))
	require.NoError(t, q.EnqueueResult("c", []byte(`second`)))
	it, _, err := q.Head()
	require.NoError(t, err)
	assert.Equal(t, 1, q.Len())
	assert.Equal(t, "first", string(it.Body))
}

func TestOverTheItemLimitTheOldestHeartbeatsGoAndResultsStay(t *testing.T) {
	q, _ := newQueue(t, Limits{MaxItems: 4, MaxBytes: 1 << 20, ResultTTL: time.Hour})
	require.NoError(t, q.EnqueueResult("r1", []byte(`r`)))
	for b := int64(1); b <= 3; b++ {
		require.NoError(t, q.EnqueueHeartbeat(b, []byte(`h`)))
	}
	require.NoError(t, q.EnqueueResult("r2", []byte(`r`)))
	require.NoError(t, q.EnqueueHeartbeat(4, []byte(`h`)))
	assert.Equal(t, 4, q.Len())
	assert.Equal(t, []string{"result:r1", "heartbeat:3", "result:r2", "heartbeat:4"}, drain(t, q))
}

func TestResultsAreNeverPrunedEvenOverTheLimit(t *testing.T) {
	q, _ := newQueue(t, Limits{MaxItems: 2, MaxBytes: 1 << 20, ResultTTL: time.Hour})
	for i := range 3 {
		require.NoError(t, q.EnqueueResult(fmt.Sprint("r", i), []byte(`r`)))
	}
	require.NoError(t, q.EnqueueHeartbeat(1, []byte(`h`)))
	assert.Equal(t, []string{"result:r0", "result:r1", "result:r2"}, drain(t, q),
		"a queue full of results takes no more heartbeats")
}

func TestOverTheByteLimitHeartbeatsArePruned(t *testing.T) {
	q, _ := newQueue(t, Limits{MaxItems: 500, MaxBytes: 3000, ResultTTL: time.Hour})
	big := make([]byte, 900)
	for b := int64(1); b <= 4; b++ {
		require.NoError(t, q.EnqueueHeartbeat(b, big))
	}
	assert.LessOrEqual(t, q.Bytes(), 3000)
	assert.Equal(t, []string{"heartbeat:2", "heartbeat:3", "heartbeat:4"}, drain(t, q))
}

func TestResultsExpireAfterTheirTTL(t *testing.T) {
	q, c := newQueue(t, SeedLimits)
	require.NoError(t, q.EnqueueResult("old", []byte(`r`)))
	c.t = c.t.Add(23 * time.Hour)
	require.NoError(t, q.EnqueueResult("young", []byte(`r`)))
	require.NoError(t, q.EnqueueHeartbeat(1, []byte(`h`)))
	c.t = c.t.Add(2 * time.Hour)
	assert.Equal(t, []string{"result:young", "heartbeat:1"}, drain(t, q), "the 25-hour-old result is dropped")
}

func TestTheQueueSurvivesAReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.db")
	c := &clock{t: time.Now()}
	q, db := openAt(t, path, SeedLimits, c)
	require.NoError(t, q.EnqueueHeartbeat(1, []byte(`h1`)))
	require.NoError(t, q.EnqueueResult("c", []byte(`r`)))
	require.NoError(t, db.Close())

	q, db = openAt(t, path, SeedLimits, c)
	defer db.Close()
	assert.Equal(t, 2, q.Len())
	assert.Positive(t, q.Bytes())
	require.NoError(t, q.EnqueueHeartbeat(2, []byte(`h2`)))
	assert.Equal(t, []string{"heartbeat:1", "result:c", "heartbeat:2"}, drain(t, q))
}

func TestClearEmptiesTheQueueAndItWorksOn(t *testing.T) {
	q, _ := newQueue(t, SeedLimits)
	require.NoError(t, q.EnqueueHeartbeat(1, []byte(`h`)))
	require.NoError(t, q.EnqueueResult("c", []byte(`r`)))
	require.NoError(t, q.Clear())
	assert.Zero(t, q.Len())
	require.NoError(t, q.EnqueueResult("c", []byte(`r`)), "a cleared queue forgets the result it held")
	assert.Equal(t, []string{"result:c"}, drain(t, q))
}
