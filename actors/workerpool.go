package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// workerPool is a protoactor Dispatcher that runs mailboxes on long-lived
// goroutines. The default dispatcher starts a goroutine per scheduling, and
// with 100,000 actors nearly every heartbeat schedules an idle mailbox: the
// fresh goroutine then grows its stack to the actor's depth, copying it
// twice or more, which was 13 % of the server's CPU under stress.
type workerPool struct {
	work       chan func() // unbuffered: a send succeeds only when a worker waits
	done       <-chan struct{}
	workers    atomic.Int32
	max        int32
	throughput int
}

var _ actor.Dispatcher = (*workerPool)(nil)

// newWorkerPool keeps at most max workers; they stop once done is closed.
// throughput is how many messages a mailbox handles before yielding.
func newWorkerPool(max, throughput int, done <-chan struct{}) *workerPool {
	return &workerPool{work: make(chan func()), done: done, max: int32(max), throughput: throughput}
}

// Schedule never blocks: with every worker busy it starts one more, and past
// max it falls back to a plain goroutine, as the default dispatcher would.
func (p *workerPool) Schedule(fn func()) {
	select {
	case p.work <- fn:
		return
	default:
	}
	if p.workers.Add(1) <= p.max {
		go p.run(fn)
		return
	}
	p.workers.Add(-1)
	go fn()
}

func (p *workerPool) Throughput() int { return p.throughput }

func (p *workerPool) run(fn func()) {
	defer p.workers.Add(-1)
	for {
		fn()
		select {
		case fn = <-p.work:
		case <-p.done:
			return
		}
	}
}
