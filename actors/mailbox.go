package actors

import (
	"runtime"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// mailbox is a device actor's protoactor Mailbox. It behaves as
// protoactor's default one (system messages first, none but system
// messages while suspended, a yield every Throughput messages), and adds
// one thing: a sender may claim the run that its message starts and make
// it on its own goroutine, after it has let go of its locks. A heartbeat's
// handler does that, so that the actor decides on the heartbeat on the
// request's goroutine rather than waking a worker for it: that hand-off
// (a scheduling, a goroutine wake-up, a worker parking again) was most of
// the cost of a message on the heartbeat path.
//
// A mutex and two slices: 100,000 mostly idle mailboxes keep only their
// small arrays, and a message allocates no queue node.
type mailbox struct {
	mu         sync.Mutex
	user, sys  []any
	scheduled  bool // a run is due or running: posts only queue
	suspended  bool
	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
}

var _ actor.Mailbox = (*mailbox)(nil)

func (m *mailbox) PostUserMessage(msg any) {
	if m.post(&m.user, msg) {
		m.dispatcher.Schedule(m.run)
	}
}

func (m *mailbox) PostSystemMessage(msg any) {
	if m.post(&m.sys, msg) {
		m.dispatcher.Schedule(m.run)
	}
}

// postClaiming queues a user message and reports whether the caller now
// owns the run it starts: then it must call run, and no one else will.
func (m *mailbox) postClaiming(msg any) bool { return m.post(&m.user, msg) }

func (m *mailbox) post(q *[]any, msg any) (claimed bool) {
	m.mu.Lock()
	*q = append(*q, msg)
	if !m.scheduled && m.runnableLocked() {
		m.scheduled, claimed = true, true
	}
	m.mu.Unlock()
	return claimed
}

func (m *mailbox) runnableLocked() bool {
	return len(m.sys) > 0 || !m.suspended && len(m.user) > 0
}

func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
}

func (m *mailbox) Start() {}

func (m *mailbox) UserMessageCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.user)
}

// run handles messages until none is left that may run now.
func (m *mailbox) run() {
	for i, t := 0, m.dispatcher.Throughput(); ; i++ {
		if i == t {
			i = 0
			runtime.Gosched()
		}
		msg, system, ok := m.next()
		if !ok {
			return
		}
		m.invoke(msg, system)
	}
}

// next takes the next message, a system one first; with none it ends the
// run under the same lock, so a post after it starts a new one.
func (m *mailbox) next() (msg any, system, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case len(m.sys) > 0:
		msg, system = pop(&m.sys), true
	case !m.suspended && len(m.user) > 0:
		msg = pop(&m.user)
	default:
		m.scheduled = false
		return nil, false, false
	}
	return msg, system, true
}

// pop takes the first element; an emptied queue keeps its array.
func pop(q *[]any) any {
	msg := (*q)[0]
	(*q)[0] = nil
	if len(*q) == 1 {
		*q = (*q)[:0]
	} else {
		*q = (*q)[1:]
	}
	return msg
}

func (m *mailbox) invoke(msg any, system bool) {
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	if !system {
		m.invoker.InvokeUserMessage(msg)
		return
	}
	switch msg.(type) {
	case *actor.SuspendMailbox:
		m.setSuspended(true)
	case *actor.ResumeMailbox:
		m.setSuspended(false)
	default:
		m.invoker.InvokeSystemMessage(msg)
	}
}

func (m *mailbox) setSuspended(s bool) {
	m.mu.Lock()
	m.suspended = s
	m.mu.Unlock()
}
