package actors

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingInvoker is what protoactor's actor context is to a mailbox: it
// records what it was handed, and fails when two runs overlap.
type recordingInvoker struct {
	mu        sync.Mutex
	got       []any
	escalated []any
	inside    atomic.Int32
	overlaps  atomic.Int32
	onUser    func(any)
}

func (r *recordingInvoker) enter() func() {
	if r.inside.Add(1) > 1 {
		r.overlaps.Add(1)
	}
	return func() { r.inside.Add(-1) }
}

func (r *recordingInvoker) record(msg any) {
	r.mu.Lock()
	r.got = append(r.got, msg)
	r.mu.Unlock()
}

func (r *recordingInvoker) InvokeSystemMessage(msg any) { defer r.enter()(); r.record(msg) }

func (r *recordingInvoker) InvokeUserMessage(msg any) {
	defer r.enter()()
	if r.onUser != nil {
		r.onUser(msg)
	}
	r.record(msg)
}

func (r *recordingInvoker) EscalateFailure(reason, msg any) {
	r.mu.Lock()
	r.escalated = append(r.escalated, reason)
	r.mu.Unlock()
}

func (r *recordingInvoker) messages() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.got...)
}

// countingDispatcher counts the runs it is asked for and makes none: the
// test makes them, or leaves them undone.
type countingDispatcher struct {
	mu   sync.Mutex
	runs []func()
}

func (d *countingDispatcher) Schedule(fn func()) {
	d.mu.Lock()
	d.runs = append(d.runs, fn)
	d.mu.Unlock()
}
func (d *countingDispatcher) Throughput() int { return 300 }
func (d *countingDispatcher) scheduled() int  { d.mu.Lock(); defer d.mu.Unlock(); return len(d.runs) }

func newTestMailbox(inv actor.MessageInvoker, disp actor.Dispatcher) *mailbox {
	m := &mailbox{}
	m.RegisterHandlers(inv, disp)
	return m
}

func TestMailboxClaimedRunIsTheCallersAndLaterPostsOnlyQueue(t *testing.T) {
	inv, disp := &recordingInvoker{}, &countingDispatcher{}
	m := newTestMailbox(inv, disp)

	require.True(t, m.postClaiming("first"), "an idle mailbox's run goes to the poster that claims it")
	m.PostUserMessage("second")
	assert.False(t, m.postClaiming("third"), "a run is already owed: nothing to claim")
	assert.Equal(t, 0, disp.scheduled(), "nothing goes to the dispatcher while the claimed run is owed")
	assert.Equal(t, 3, m.UserMessageCount())

	m.run()
	assert.Equal(t, []any{"first", "second", "third"}, inv.messages())
	assert.Equal(t, 0, m.UserMessageCount())

	m.PostUserMessage("fourth")
	assert.Equal(t, 1, disp.scheduled(), "once the run ended, a plain post schedules the next one")
}

func TestMailboxRunsSystemMessagesFirstAndHoldsUserMessagesWhileSuspended(t *testing.T) {
	inv, disp := &recordingInvoker{}, &countingDispatcher{}
	m := newTestMailbox(inv, disp)
	stop := &actor.Stop{}

	require.True(t, m.postClaiming("user 1"))
	m.PostSystemMessage(&actor.SuspendMailbox{})
	m.PostSystemMessage(stop)
	m.run()
	assert.Equal(t, []any{stop}, inv.messages(), "system messages go first; suspension holds the user message")

	m.PostUserMessage("user 2")
	assert.Equal(t, 0, disp.scheduled(), "a suspended mailbox has no run for a user message")
	m.PostSystemMessage(&actor.ResumeMailbox{})
	require.Equal(t, 1, disp.scheduled(), "a system message schedules a run even while suspended")
	disp.runs[0]()
	assert.Equal(t, []any{stop, "user 1", "user 2"}, inv.messages(), "resumed, the held messages run in order")
}

func TestMailboxEscalatesAPanicAndGoesOnWithTheNextMessage(t *testing.T) {
	inv := &recordingInvoker{onUser: func(msg any) {
		if msg == "bad" {
			panic("boom")
		}
	}}
	m := newTestMailbox(inv, &countingDispatcher{})
	require.True(t, m.postClaiming("bad"))
	m.PostUserMessage("good")
	m.run()
	assert.Equal(t, []any{"good"}, inv.messages())
	assert.Equal(t, []any{"boom"}, inv.escalated)
}

func TestMailboxHandlesEveryMessageOnceInOrderWithManySenders(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	inv := &recordingInvoker{}
	m := newTestMailbox(inv, newWorkerPool(4, 16, 7, done)) // a small throughput: runs yield often

	const senders, each = 8, 2000
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				msg := [2]int{s, i}
				if i%2 == 0 { // half as a heartbeat's handler sends, half as everyone else does
					if m.postClaiming(msg) {
						m.run()
					}
				} else {
					m.PostUserMessage(msg)
				}
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return len(inv.messages()) == senders*each }, 10*time.Second, time.Millisecond)

	next := make([]int, senders)
	for _, msg := range inv.messages() {
		p := msg.([2]int)
		require.Equal(t, next[p[0]], p[1], "sender %d's messages in the order sent, each once", p[0])
		next[p[0]]++
	}
	assert.Zero(t, inv.overlaps.Load(), "never two runs at once")
}
