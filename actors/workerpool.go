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
//
// Mailboxes scheduled while every worker is busy wait in a queue rather
// than each getting a goroutine: a sweep ticks a thousand actors at once,
// and a goroutine per tick was 12 % of the server's CPU at fleet load.
// Waiting is safe because a device actor never blocks in Receive (its
// replies go to buffered channels), so a busy worker always comes free.
type workerPool struct {
	queue      chan func()
	done       <-chan struct{}
	workers    atomic.Int32
	idle       atomic.Int32 // workers waiting on the queue
	max        int32
	throughput int
}

var _ actor.Dispatcher = (*workerPool)(nil)

// newWorkerPool keeps at most max workers and queues up to queued mailboxes
// for them; the workers stop once done is closed. throughput is how many
// messages a mailbox handles before yielding.
func newWorkerPool(max, queued, throughput int, done <-chan struct{}) *workerPool {
	return &workerPool{queue: make(chan func(), queued), done: done, max: int32(max), throughput: throughput}
}

// Schedule never blocks: with no idle worker it starts one, up to max; past
// that the mailbox waits in the queue, and with the queue full it gets a
// plain goroutine, as the default dispatcher would give it.
func (p *workerPool) Schedule(fn func()) {
	if p.idle.Load() == 0 {
		if p.workers.Add(1) <= p.max {
			go p.run(fn)
			return
		}
		p.workers.Add(-1)
	}
	select {
	case p.queue <- fn:
	default:
		go fn()
		return
	}
	select {
	case <-p.done: // the workers may have left before fn was queued
		go p.drain()
	default:
	}
}

func (p *workerPool) Throughput() int { return p.throughput }

func (p *workerPool) run(fn func()) {
	defer p.workers.Add(-1)
	for {
		fn()
		select {
		case fn = <-p.queue:
			continue
		default:
		}
		p.idle.Add(1)
		select {
		case fn = <-p.queue:
			p.idle.Add(-1)
		case <-p.done:
			p.idle.Add(-1)
			p.drain()
			return
		}
	}
}

// drain runs what is queued, so that nothing scheduled is lost at shutdown.
func (p *workerPool) drain() {
	for {
		select {
		case fn := <-p.queue:
			fn()
		default:
			return
		}
	}
}
