package actors

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/nexmdm/nexmdm/persistence"
)

// deviceActor owns one device's live state. Every decision about the device
// (authentication, rate limit, dedupe, presence) is made here, in order, so
// none of it needs a lock or a database read. It does no blocking I/O: rows
// go to the writer, snapshots to the flusher, bcrypt to the verifier, and
// their answers come back as messages.
type deviceActor struct {
	sh *shared

	id    uuid.UUID
	st    deviceState
	self  *actor.PID
	link  *actorLink
	shard *shard // where entry lives
	entry *entry // the directory's view of this device, which listings read

	pending   []pendingWrite      // rows handed to the writer, oldest first
	parked    []*HeartbeatRequest // heartbeats waiting for a bcrypt check
	retiring  chan struct{}       // set by retire: stop once pending is empty
	puts      uint32              // snapshots handed to the store, so reconciliation can tell a newer one was put
	verifying bool                // a bcrypt check is out
	dirty     bool                // state changed since the last snapshot
	viewStale bool                // state changed since the last publish to entry
	tickAt    uint32              // unix s from which a sweep must tick this actor, whatever its deadlines; 0: none
}

// pendingWrite is a row in the writer, and the heartbeats of the same bucket
// that arrived meanwhile: they are answered with its outcome.
type pendingWrite struct {
	bucket  int64
	req     *HeartbeatRequest
	waiters []*HeartbeatRequest
}

// hydrated is the first message of every device actor, which the
// directory spawned with its identity and state in place.
type hydrated struct {
	ref deviceRef // the actor itself, for the writer to reach it
	at  time.Time // when it was loaded
}

func (a *deviceActor) Receive(ctx actor.Context) {
	if len(a.pending) > 0 {
		a.takeFinished()
	}
	switch m := ctx.Message().(type) {
	case *HeartbeatRequest:
		a.onHeartbeat(m)
	case *writtenRequest:
		a.onWritten((*HeartbeatRequest)(m))
	case *tick:
		a.onTick(m.now)
	case *tokenChecked:
		a.onTokenChecked(m)
	case *hydrated:
		a.link = &actorLink{ref: m.ref}
		a.tickAt = firstTick(a.id, m.at, a.sh.cfg.FirstTickSpread)
		a.pushQueued()
	case *monitoringSet:
		a.setMonitoring(m.m)
		a.tickAt = 1 // the next sweep
	case *commandQueued:
		a.onCommandQueued(m.cmd)
	case *commandFinished:
		a.onCommandFinished(m.id)
	case *authQuery:
		m.reply <- a.authorize(&m.digest)
	case *updateQuery:
		m.reply <- a.updateFacts(&m.digest)
	case *rekey:
		a.st.creds, a.st.fcmToken, a.st.keyID = m.creds, m.fcmToken, m.keyID
	case *fcmTokenDead:
		if a.st.fcmToken == m.token {
			a.st.fcmToken = ""
		}
	case *statusQuery:
		m.reply <- a.status()
	case *reconcileQuery:
		m.reply <- a.reconcileState()
	case *reconcileRepair:
		m.reply <- a.reconcileRepair(m)
	case *retire:
		a.retiring = m.done
		a.tellAll()
	case *actor.Started:
		a.self = ctx.Self()
	case *actor.Stopped:
		a.onStopped()
		return
	}
	if a.viewStale && a.entry != nil {
		a.shard.publish(a.entry, &a.st)
		a.viewStale = false
	}
	if a.entry != nil {
		a.entry.wake.Store(a.wakeAt())
	}
	if a.dirty { // rows still in the writer are not counted stored: after a crash they are inserted if absent
		a.snapshot()
	}
	if a.retiring != nil && len(a.pending) == 0 && !a.verifying {
		a.retire(ctx)
	}
}

func (a *deviceActor) onHeartbeat(req *HeartbeatRequest) {
	switch {
	case a.retiring != nil:
		req.answer(HeartbeatReply{Outcome: DeviceDeleted})
	case a.verifying:
		a.parked = append(a.parked, req)
	case a.st.creds.bcrypt != "":
		// The digest was made with another pepper: check the secret against
		// the bcrypt hash once, off the actor, then keep the new digest.
		a.verifying = true
		if !a.sh.verifier.submit(verifyJob{id: a.id, pid: a.self, hash: a.st.creds.bcrypt, req: req}) {
			a.verifying = false
			req.answer(HeartbeatReply{Outcome: Busy, RetryAfter: 5 * time.Second})
		}
	case a.st.creds.match(&req.Digest):
		a.accept(req)
	case a.st.creds.isRevoked(&req.Digest):
		req.answer(HeartbeatReply{Outcome: TokenRevoked})
	default:
		req.answer(HeartbeatReply{Outcome: Unauthorized})
	}
}

func (a *deviceActor) onTokenChecked(m *tokenChecked) {
	a.verifying = false
	switch {
	case m.err != nil:
		m.req.answer(HeartbeatReply{Outcome: Busy, RetryAfter: 5 * time.Second})
	case m.ok:
		a.st.creds.digest = m.req.Digest
		a.st.creds.pepperID = a.sh.cfg.PepperID
		a.st.creds.bcrypt = ""
		a.accept(m.req)
	default:
		m.req.answer(HeartbeatReply{Outcome: Unauthorized})
	}
	parked := a.parked
	a.parked = nil
	for i, p := range parked {
		a.onHeartbeat(p)
		if a.verifying { // a new check went out: the rest wait for it
			a.parked = append(a.parked, parked[i+1:]...)
			return
		}
	}
}

// accept takes an authenticated heartbeat: presence, live status, then the
// bucket decides between a deduped answer and a row for the writer.
func (a *deviceActor) accept(req *HeartbeatRequest) {
	h := &req.Write.Heartbeat
	now := h.ReceivedAt
	if wait, ok := a.allow(now); !ok {
		req.answer(HeartbeatReply{Outcome: RateLimited, RetryAfter: wait})
		return
	}
	a.seen(now)
	a.noteForeground(h)
	req.Commands = a.deliver(now)
	a.rotateKey(req)
	if !h.TS.Before(a.st.live.TS) {
		a.st.live = *h
		a.st.live.AppLastForeground = ""
		a.dirty = true
	}
	a.evaluateAlerts(now)

	b := persistence.Bucket(h.TS)
	if len(a.pending) > 0 && a.addWaiter(b, req) {
		return
	}
	switch a.st.dedupe.check(b) {
	case bucketStored:
		req.answer(a.reply(Deduped))
		return
	case bucketUnknown:
		req.Write.IfAbsent = true
	}
	req.done.owner, req.done.bucket, req.done.interval = a.link, b, a.sh.cfg.HeartbeatInterval
	req.Write.Notify = &req.done
	if !a.sh.sink.Enqueue(&req.Write) {
		req.answer(HeartbeatReply{Outcome: Busy, RetryAfter: time.Second})
		return
	}
	a.pending = append(a.pending, pendingWrite{bucket: b, req: req})
}

func (a *deviceActor) onWritten(req *HeartbeatRequest) {
	i := slices.IndexFunc(a.pending, func(p pendingWrite) bool { return p.req == req })
	if i < 0 {
		return
	}
	p := a.pending[i]
	a.pending = slices.Delete(a.pending, i, i+1)
	rep := outcomeOf(&req.Write, a.sh.cfg.HeartbeatInterval)
	if req.Write.Err == nil {
		a.st.dedupe.mark(p.bucket)
		a.dirty = true
	}
	req.answer(rep)
	if rep.Outcome == Stored {
		rep.Outcome = Deduped // the waiters' bucket is stored, by the first
	}
	for _, r := range p.waiters {
		r.answer(rep)
	}
}

// addWaiter makes req a waiter of the row of bucket b if it is still in
// the writer; the row then comes back as a message. Rows the writer has
// answered are taken first, under the same lock, so a row left in pending
// is one whose request the writer still holds.
func (a *deviceActor) addWaiter(b int64, req *HeartbeatRequest) bool {
	a.link.mu.Lock()
	defer a.link.mu.Unlock()
	a.takeFinishedLocked()
	i := slices.IndexFunc(a.pending, func(p pendingWrite) bool { return p.bucket == b })
	if i < 0 {
		return false
	}
	a.pending[i].req.done.tell = true
	a.pending[i].waiters = append(a.pending[i].waiters, req)
	return true
}

// tellAll has every row still in the writer come back as a message, so that
// a retiring actor learns when its last row is done.
func (a *deviceActor) tellAll() {
	a.link.mu.Lock()
	defer a.link.mu.Unlock()
	a.takeFinishedLocked()
	for i := range a.pending {
		a.pending[i].req.done.tell = true
	}
}

// takeFinished applies the rows the writer has answered since the last
// message: each leaves pending, and a stored one marks its bucket.
func (a *deviceActor) takeFinished() {
	a.link.mu.Lock()
	defer a.link.mu.Unlock()
	a.takeFinishedLocked()
}

func (a *deviceActor) takeFinishedLocked() {
	for _, f := range a.link.finished {
		i := slices.IndexFunc(a.pending, func(p pendingWrite) bool { return p.bucket == f.bucket })
		if i < 0 {
			continue
		}
		a.pending = slices.Delete(a.pending, i, i+1)
		if f.stored {
			a.st.dedupe.mark(f.bucket)
			a.dirty = true
		}
	}
	a.link.finished = a.link.finished[:0]
}

func (a *deviceActor) reply(o Outcome) HeartbeatReply {
	return HeartbeatReply{Outcome: o, HeartbeatInterval: a.sh.cfg.HeartbeatInterval}
}

// allow is a token bucket: RateBurst heartbeats at once, RateLimit a second
// after that. A replayed offline backlog fits in the burst.
func (a *deviceActor) allow(now time.Time) (time.Duration, bool) {
	rate, burst := a.sh.cfg.RateLimit, a.sh.cfg.RateBurst
	if rate <= 0 {
		return 0, true
	}
	if a.st.tokensAt == 0 {
		a.st.tokens = float32(burst)
	} else if elapsed := time.Duration(now.UnixNano() - a.st.tokensAt).Seconds(); elapsed > 0 {
		a.st.tokens = float32(min(burst, float64(a.st.tokens)+elapsed*rate))
	}
	a.st.tokensAt = now.UnixNano()
	if a.st.tokens < 1 {
		return time.Duration(float64(1-a.st.tokens) / rate * float64(time.Second)), false
	}
	a.st.tokens--
	return 0, true
}

func (a *deviceActor) seen(now time.Time) {
	if n := now.UnixNano(); n > a.st.lastSeen {
		a.st.lastSeen = n
	}
	if !a.st.online {
		a.st.online = true
		a.sh.presence.online(a.id, now)
	}
	a.dirty = true
	a.viewStale = true
}

// noteForeground keeps when the monitored package was last in the
// foreground, from the heartbeat's foreground app or its usage stats.
func (a *deviceActor) noteForeground(h *persistence.Heartbeat) {
	if at := lastForeground(h, a.st.monitoring.Package); at > a.st.monitoredLastFG {
		a.st.monitoredLastFG = at
	}
}

func (a *deviceActor) setMonitoring(m persistence.Monitoring) {
	if m.Package != a.st.monitoring.Package {
		a.st.monitoredLastFG = 0
	}
	a.st.monitoring = m
	a.dirty, a.viewStale = true, true
}

func (a *deviceActor) onTick(now time.Time) {
	a.tickAt = 0
	a.expireCommands(now)
	if a.st.online && now.UnixNano()-a.st.lastSeen > int64(a.sh.cfg.OfflineAfter) {
		a.st.online = false
		a.dirty, a.viewStale = true, true
		a.sh.presence.offline(a.id, now, a.st.seenAt())
	}
	a.evaluateAlerts(now)
}

// firstTick is when a hydrated actor is first ticked, whatever its
// deadlines, so that rules are evaluated once against its loaded state and
// today's configuration. Devices are spread over spread by id: a restart
// hydrates 100,000 actors at once, and ticking them all in the first sweep
// sent bursts of 1,500 messages every quarter second for its first 15 s,
// which heartbeats queued behind (fleet p99 after a restart 15-35 ms in the
// first second against 5-8 ms later).
func firstTick(id uuid.UUID, loaded time.Time, spread time.Duration) uint32 {
	at := loaded.Unix() + 1
	if s := int64(spread / time.Second); s > 1 {
		at += int64(binary.BigEndian.Uint32(id[12:])) % s
	}
	return uint32(at)
}

// wakeAt is the unix second from which a tick could change the device:
// when it goes offline, its monitored service passes its threshold or a
// command expires. Everything else changes with a message. Rounding down
// ticks early, never late.
func (a *deviceActor) wakeAt() uint32 {
	next := int64(math.MaxUint32)
	if a.tickAt != 0 {
		next = int64(a.tickAt)
	}
	if a.st.online {
		next = min(next, (a.st.lastSeen+int64(a.sh.cfg.OfflineAfter))/int64(time.Second))
		m := &a.st.monitoring
		if a.sh.alerts != nil && m.Enabled && m.Package != "" && a.st.alerts.Open&(1<<RuleServiceDown) == 0 {
			threshold := time.Duration(m.ThresholdMin) * time.Minute
			next = min(next, (a.st.monitoredLastFG+threshold.Milliseconds())/1000)
		}
	}
	for i := range a.st.commands {
		next = min(next, a.st.commands[i].ExpiresAt.Unix())
	}
	return uint32(max(next, 0))
}

func (a *deviceActor) status() DeviceStatus {
	return DeviceStatus{
		ID: a.id, Online: a.st.online, LastSeen: a.st.seenAt(), Live: a.st.live,
		LastBucket: a.st.dedupe.last, Monitoring: a.st.monitoring, Alerts: a.st.alerts,
	}
}

// snapshot hands the state to the snapshot store, which flushes it to Redis.
// It is encoded into a pooled buffer and copied out at its size: appended
// to nil, it grew five or six times (170 B of garbage per heartbeat in
// BenchmarkHeartbeatPath100k, more with a real heartbeat's strings).
func (a *deviceActor) snapshot() {
	buf := snapshotBuffers.Get().(*[]byte)
	*buf = encodeSnapshot((*buf)[:0], &a.st)
	a.sh.snapshots.Put(a.id, bytes.Clone(*buf))
	snapshotBuffers.Put(buf)
	a.puts++
	a.dirty = false
}

var snapshotBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (a *deviceActor) retire(ctx actor.Context) {
	for _, r := range a.parked {
		r.answer(HeartbeatReply{Outcome: DeviceDeleted})
	}
	a.parked = nil
	close(a.retiring)
	a.retiring = nil
	a.dirty = false // the device is gone: nothing to snapshot
	ctx.Stop(a.self)
}

// onStopped answers whatever is still waiting, so that no request hangs when
// the actor stops after a panic. Rows still in the writer are answered by
// the writer itself once the link is marked stopped; answering them here
// would let ingress recycle a request the writer still holds.
func (a *deviceActor) onStopped() {
	if a.link != nil {
		a.link.mu.Lock()
		a.link.stopped = true
		a.link.mu.Unlock()
	}
	if a.st.online {
		a.sh.presence.count.Add(-1)
	}
	for _, p := range a.pending {
		for _, r := range p.waiters {
			r.answer(HeartbeatReply{Outcome: Busy, RetryAfter: time.Second})
		}
	}
	for _, r := range a.parked {
		r.answer(HeartbeatReply{Outcome: Busy, RetryAfter: time.Second})
	}
	a.pending, a.parked = nil, nil
	a.sh.actorStopped(a.id, a.self)
}
