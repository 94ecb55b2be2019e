package actors

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
)

// heldSink keeps every row until the test finishes it, so that a test
// decides what is in the writer when the next heartbeat arrives.
type heldSink struct {
	mu   sync.Mutex
	rows []*persistence.HeartbeatWrite
}

func (s *heldSink) Enqueue(w *persistence.HeartbeatWrite) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, w)
	return true
}

// finish commits (or fails, with err) every row held so far.
func (s *heldSink) finish(t *testing.T, want int, err error) {
	t.Helper()
	var rows []*persistence.HeartbeatWrite
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.rows) < want {
			return false
		}
		rows, s.rows = s.rows, nil
		return true
	}, 5*time.Second, time.Millisecond)
	require.Len(t, rows, want)
	for _, w := range rows {
		w.Err = err
		w.Notify.HeartbeatWritten(w)
	}
}

type writebackFixture struct {
	dir  *Directory
	sink *heldSink
	id   uuid.UUID
	ts   time.Time
}

func newWritebackFixture(t *testing.T) *writebackFixture {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := DefaultConfig()
	cfg.PepperID = "p1"
	f := &writebackFixture{sink: &heldSink{}, id: uuid.New(), ts: time.Now().Add(-time.Hour).Truncate(10 * time.Second)}
	var digest [32]byte
	f.dir = NewDirectory(ctx, cfg, Deps{
		System: actor.NewActorSystem(), Sink: f.sink, Devices: &benchDevices{digest: digest[:]},
		Snapshots: discardSnapshots{}, Log: zerolog.Nop(),
	})
	f.dir.Enrolled(f.id, persistence.DeviceFacts{Serial: "R58M0000001"}, digest[:], cfg.PepperID, nil)
	return f
}

// send routes a heartbeat of device time ts; wait for its answer on the request.
func (f *writebackFixture) send(t *testing.T, ts time.Time) *HeartbeatRequest {
	t.Helper()
	req := NewHeartbeatRequest()
	req.Write.Heartbeat = persistence.Heartbeat{DeviceID: f.id, TS: ts, ReceivedAt: time.Now()}
	require.NoError(t, f.dir.Heartbeat(req))
	return req
}

func answer(t *testing.T, req *HeartbeatRequest) Outcome {
	t.Helper()
	rep, ok := req.Wait(5 * time.Second)
	require.True(t, ok, "no answer")
	req.Release()
	return rep.Outcome
}

func (f *writebackFixture) lastBucket(t *testing.T) int64 {
	st, err := f.dir.Status(context.Background(), f.id)
	require.NoError(t, err)
	return st.LastBucket
}

func TestARowTheWriterAnsweredIsTakenWithTheActorsNextMessage(t *testing.T) {
	f := newWritebackFixture(t)
	req := f.send(t, f.ts)
	f.sink.finish(t, 1, nil)
	assert.Equal(t, Stored, answer(t, req), "answered by the writer, without a turn of the actor")

	assert.Equal(t, persistence.Bucket(f.ts), f.lastBucket(t), "the next message marks the bucket stored")
	assert.Equal(t, Deduped, answer(t, f.send(t, f.ts.Add(time.Second))), "a later heartbeat of the bucket writes nothing")
	f.sink.mu.Lock()
	defer f.sink.mu.Unlock()
	assert.Empty(t, f.sink.rows)
}

func TestHeartbeatsWaitingOnARowGetItsOutcome(t *testing.T) {
	f := newWritebackFixture(t)
	first := f.send(t, f.ts)
	second := f.send(t, f.ts.Add(2*time.Second)) // same bucket, while the first is in the writer
	third := f.send(t, f.ts.Add(4*time.Second))
	f.sink.finish(t, 1, nil)

	assert.Equal(t, Stored, answer(t, first))
	assert.Equal(t, Deduped, answer(t, second), "the bucket was stored by the first")
	assert.Equal(t, Deduped, answer(t, third))
	assert.Equal(t, persistence.Bucket(f.ts), f.lastBucket(t))
}

func TestAFailedRowLeavesItsBucketToBeWrittenAgain(t *testing.T) {
	f := newWritebackFixture(t)
	req := f.send(t, f.ts)
	f.sink.finish(t, 1, errors.New("commit failed"))
	assert.Equal(t, StoreFailed, answer(t, req))

	retry := f.send(t, f.ts)
	f.sink.finish(t, 1, nil)
	assert.Equal(t, Stored, answer(t, retry), "the retry is a new row, not a dedupe")
}

func TestARetiringActorStopsOnlyOnceTheWriterHasItsRows(t *testing.T) {
	f := newWritebackFixture(t)
	req := f.send(t, f.ts)
	done := make(chan struct{})
	require.NoError(t, f.dir.send(f.id, &retire{done: done}))
	select {
	case <-done:
		t.Fatal("retired with a row still in the writer")
	case <-time.After(50 * time.Millisecond):
	}

	f.sink.finish(t, 1, nil)
	assert.Equal(t, Stored, answer(t, req))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the actor never learned its last row was done")
	}
}
