package actors

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/google/uuid"

	"github.com/nexmdm/nexmdm/persistence"
)

// HeartbeatRequest carries one parsed heartbeat from ingress to its device
// actor, and its reply back. Ownership moves with it: ingress fills it, the
// actor and the writer use it, and ingress reads the reply.
type HeartbeatRequest struct {
	Write  persistence.HeartbeatWrite // Heartbeat with DeviceID and ReceivedAt set
	Digest [32]byte                   // HMAC(pepper, secret) of the presented token
	Secret string                     // the presented secret, for a bcrypt check after a pepper change
	reply  chan HeartbeatReply
	done   writeNotifier // Write.Notify points here
	timer  *time.Timer   // Wait's, kept with the request in the pool

	Commands []persistence.Command // open commands to deliver in the answer, set by the actor
	KeyID    string                // the master key id the device says its command key derives from; "" unsaid
	NewKey   string                // set by the actor: hand the device the key of this master key id
}

var requestPool = sync.Pool{New: func() any {
	r := &HeartbeatRequest{reply: make(chan HeartbeatReply, 1)}
	r.done.req = r
	return r
}}

// NewHeartbeatRequest returns an empty request from a pool.
func NewHeartbeatRequest() *HeartbeatRequest { return requestPool.Get().(*HeartbeatRequest) }

// Wait returns the request's one reply, or false once timeout has passed
// without it; the request must then not be released, as the actor or the
// writer may still hold it. A reply already given is returned at once, as
// the actor's is when it decided on the caller's goroutine. Its timer is
// reused from one request to the next: one made per request was an eighth
// of what a heartbeat allocated.
func (r *HeartbeatRequest) Wait(timeout time.Duration) (HeartbeatReply, bool) {
	select {
	case rep := <-r.reply:
		return rep, true
	default:
	}
	if r.timer == nil {
		r.timer = time.NewTimer(timeout)
	} else {
		r.timer.Reset(timeout) // since Go 1.23 no stale expiry can be received after Reset
	}
	select {
	case rep := <-r.reply:
		r.timer.Stop()
		return rep, true
	case <-r.timer.C:
		return HeartbeatReply{}, false
	}
}

// Release returns the request to the pool. Call it only after its reply was
// received: until then the actor or the writer may still hold it.
func (r *HeartbeatRequest) Release() {
	reply, timer := r.reply, r.timer
	*r = HeartbeatRequest{reply: reply, timer: timer}
	r.done.req = r
	requestPool.Put(r)
}

func (r *HeartbeatRequest) answer(rep HeartbeatReply) { r.reply <- rep }

// Outcome is what became of a heartbeat.
type Outcome uint8

// Heartbeat outcomes; ingress maps each to an HTTP status.
const (
	Stored        Outcome = iota // committed: 200
	Deduped                      // its bucket was already stored: 200, deduped
	Unauthorized                 // token does not match: 401
	TokenRevoked                 // a token replaced by re-enrollment: 410
	RateLimited                  // device sends too fast: 429
	Busy                         // pipeline full: 503
	StoreFailed                  // the commit failed: 503
	DeviceDeleted                // deleted while the heartbeat waited: 410
)

// HeartbeatReply answers a HeartbeatRequest.
type HeartbeatReply struct {
	Outcome           Outcome
	RetryAfter        time.Duration // for RateLimited and Busy
	HeartbeatInterval time.Duration // what the device should use next
}

// DeviceStatus is a copy of a device actor's live state.
type DeviceStatus struct {
	ID         uuid.UUID
	Online     bool
	LastSeen   time.Time
	Live       persistence.Heartbeat // newest by device time; zero TS if none
	LastBucket int64                 // newest stored bucket; 0 if none
	Monitoring persistence.Monitoring
	Alerts     AlertState
}

// tick drives time-based transitions (offline) for every live actor.
type tick struct{ now time.Time }

// writtenRequest is a HeartbeatRequest whose row the writer has finished
// with. It is the same memory under another type, so that handing the
// outcome back to the actor allocates nothing.
type writtenRequest HeartbeatRequest

// deviceRef reaches one device actor: its mailbox, held from the spawn, as
// a send by PID resolves the process on every message, and with 100,000
// actors that lookup missed the CPU cache nearly every time (5 % of the
// server's CPU under stress).
type deviceRef struct {
	pid *actor.PID // nil: no actor
	mb  *mailbox
}

// send posts msg to the actor's mailbox, as RootContext.Send would with no
// middleware. A stopped actor drops it, as its dead letter would.
func (r deviceRef) send(msg any) { r.mb.PostUserMessage(msg) }

// actorLink is how the writer reaches a device actor. The writer answers a
// finished row's heartbeat itself and leaves the outcome here, for the
// actor to take with its next message: a message back through the mailbox
// for every row was a second actor turn per heartbeat. Only a row that the
// actor asked to hear about (it has waiters, or the actor is retiring)
// still comes back as a message.
type actorLink struct {
	ref      deviceRef
	mu       sync.Mutex
	finished []finishedWrite // rows answered by the writer, not yet taken by the actor
	stopped  bool            // the actor is gone: answer every row from the writer
}

// finishedWrite is the outcome of a row the writer answered itself.
type finishedWrite struct {
	bucket int64
	stored bool
}

// writeNotifier returns a finished write to the actor that queued it.
type writeNotifier struct {
	req      *HeartbeatRequest
	owner    *actorLink
	bucket   int64
	interval time.Duration // told to the device in the answer
	tell     bool          // guarded by owner.mu: send the row back to the actor rather than answer it
}

func (n *writeNotifier) HeartbeatWritten(w *persistence.HeartbeatWrite) {
	l := n.owner
	l.mu.Lock()
	switch {
	case l.stopped:
	case n.tell:
		l.mu.Unlock()
		l.ref.send((*writtenRequest)(n.req))
		return
	default:
		l.finished = append(l.finished, finishedWrite{bucket: n.bucket, stored: w.Err == nil})
	}
	l.mu.Unlock()
	n.req.answer(outcomeOf(w, n.interval))
}

// outcomeOf maps a finished write to its reply.
func outcomeOf(w *persistence.HeartbeatWrite, interval time.Duration) HeartbeatReply {
	switch {
	case w.Err != nil:
		return HeartbeatReply{Outcome: StoreFailed, RetryAfter: time.Second}
	case w.Duplicate:
		return HeartbeatReply{Outcome: Deduped, HeartbeatInterval: interval}
	default:
		return HeartbeatReply{Outcome: Stored, HeartbeatInterval: interval}
	}
}

// tokenChecked is the bcrypt verifier's answer for a parked heartbeat.
type tokenChecked struct {
	req *HeartbeatRequest
	ok  bool
	err error
}

// rekey installs new credentials and FCM token after a re-enrollment.
type rekey struct {
	creds    credentials
	fcmToken string
	keyID    string
}

// fcmTokenDead tells a device actor FCM no longer knows its token.
type fcmTokenDead struct{ token string }

// monitoringSet installs new monitoring settings.
type monitoringSet struct{ m persistence.Monitoring }

// commandQueued gives a device actor a new command to deliver.
type commandQueued struct{ cmd persistence.Command }

// commandFinished tells a device actor its command has a result.
type commandFinished struct{ id uuid.UUID }

// authQuery asks a device actor whether a token digest is the device's.
type authQuery struct {
	digest [32]byte
	reply  chan Outcome
}

// statusQuery asks for a DeviceStatus.
type statusQuery struct{ reply chan DeviceStatus }

// retire asks the actor to finish its pending writes and stop; done closes
// when it has. Deleting a device sends it.
type retire struct{ done chan struct{} }

// reconcileQuery asks a live device actor for what reconciliation compares.
// Many actors answer on one buffered reply channel, so none ever blocks.
type reconcileQuery struct{ reply chan<- reconcileState }

// reconcileState is a device actor's answer to a reconcileQuery.
type reconcileState struct {
	id         uuid.UUID
	live       persistence.Heartbeat // newest by device time
	liveStored bool                  // live's bucket is stored, as far as the actor knows
	lastSeen   int64                 // unix ns; 0 never
	online     bool                  //
	lastBucket int64                 // newest stored bucket; 0 if none
	busy       bool                  // rows in the writer: stored state is about to change
	puts       uint32                // snapshots the actor has handed to the store so far
}

// reconcileRepair asks a device actor to repair drift that reconciliation
// found; the actor rechecks each repair against its current state.
type reconcileRepair struct {
	id         uuid.UUID // the device, for routing
	advance    int64     // newest stored bucket in Postgres; 0: nothing to advance
	resnapshot bool      // the snapshot in Redis is missing or older than the actor's state
	puts       uint32    // reconcileState.puts when the snapshot was compared
	reply      chan<- reconcileRepaired
}

// reconcileRepaired says which repairs an actor made.
type reconcileRepaired struct {
	id          uuid.UUID
	advanced    bool
	snapshotted bool
}
