package actors

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/nexmdm/nexmdm/persistence"
)

// maxDelivered bounds the commands one heartbeat answer carries; the rest
// follow in the next answers.
const maxDelivered = 20

// deliver returns the open commands for a heartbeat's answer (the pull
// path), marking them delivered, and expires the ones past their TTL. The
// device keys execution on the command id, so a command it already got
// over FCM, or in an earlier answer, is not run twice.
func (a *deviceActor) deliver(now time.Time) []persistence.Command {
	a.expireCommands(now)
	if len(a.st.commands) == 0 {
		return nil
	}
	n := min(len(a.st.commands), maxDelivered)
	for i := range n {
		c := &a.st.commands[i]
		if c.Status == persistence.CommandQueued || c.Status == persistence.CommandSent {
			c.Status = persistence.CommandDelivered
			a.sh.commands.Record(persistence.CommandTransition{
				ID: c.ID, DeviceID: a.id, Status: persistence.CommandDelivered, At: now, Detail: "fetched with a heartbeat",
			})
		}
	}
	return slices.Clone(a.st.commands[:n])
}

// expireCommands ends the open commands whose TTL has passed.
func (a *deviceActor) expireCommands(now time.Time) {
	a.st.commands = slices.DeleteFunc(a.st.commands, func(c persistence.Command) bool {
		if now.Before(c.ExpiresAt) {
			return false
		}
		a.sh.commands.Record(persistence.CommandTransition{
			ID: c.ID, DeviceID: a.id, Status: persistence.CommandExpired, At: now, Detail: "no result before its TTL",
		})
		return true
	})
}

func (a *deviceActor) onCommandFinished(id uuid.UUID) {
	a.st.commands = slices.DeleteFunc(a.st.commands, func(c persistence.Command) bool { return c.ID == id })
}

// authorize answers whether digest is the device's current token.
func (a *deviceActor) authorize(digest *[32]byte) Outcome {
	switch {
	case a.st.creds.bcrypt != "":
		return Busy // the first heartbeat after a pepper change re-keys the token
	case a.st.creds.match(digest):
		return Stored
	case a.st.creds.isRevoked(digest):
		return TokenRevoked
	}
	return Unauthorized
}

// QueueCommands hands stored commands to their devices' actors, which push
// them and deliver them with the next heartbeat answer. Devices without a
// live actor are woken in the background, in batches, so that a bulk
// command to 10,000 idle devices neither waits for 10,000 hydrations nor
// takes the database from ingest. Unknown and deleted devices are skipped.
func (d *Directory) QueueCommands(cmds []persistence.Command) {
	var idle []persistence.Command
	for i, c := range cmds {
		if i > 0 && i%d.handOver.chunk == 0 {
			time.Sleep(d.handOver.pause)
		}
		if !d.sendIfLive(c.DeviceID, &commandQueued{cmd: c}) {
			if idle == nil { // once, at its largest: grown by append, a bulk's copies came to 5x the commands
				idle = make([]persistence.Command, 0, len(cmds)-i)
			}
			idle = append(idle, c)
		}
	}
	if len(idle) > 0 {
		go d.wake(idle)
	}
}

// handOver paces QueueCommands: a bulk command reaches its live actors
// chunk at a time, with a pause between chunks in which the mailbox
// workers catch up. Sent all at once, 10,000 command messages woke a
// worker each and queued ahead of the heartbeats that came meanwhile
// (BenchmarkHeartbeatsDuringBulkHandOver); 256 take the workers well under
// a millisecond. The pauses add about 60 ms to a bulk of 10,000.
type handOver struct {
	chunk int
	pause time.Duration
}

var defaultHandOver = handOver{chunk: 256, pause: time.Millisecond}

// sendIfLive sends msg to the device's actor if it has one; it reports
// false when the device exists but its actor must be hydrated first.
func (d *Directory) sendIfLive(id uuid.UUID, msg any) bool {
	s := d.shard(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.m[id]
	switch {
	case e == nil || e.deleted:
		return true // nothing to deliver to
	case e.actor.pid == nil:
		return false
	}
	e.actor.send(msg)
	return true
}

// wakeBatch is how many idle devices one set of hydration queries loads:
// three round trips for the batch. Woken one by one (four at a time), the
// 10,000 targets of a bulk command took three round trips each, for
// seconds, and a fleet's heartbeats waited behind them all along.
const wakeBatch = 500

// wake spawns the actors of idle devices and hands each its commands,
// one batch of devices after another.
func (d *Directory) wake(cmds []persistence.Command) {
	byDevice := make(map[uuid.UUID][]persistence.Command)
	var ids []uuid.UUID
	for _, c := range cmds {
		if byDevice[c.DeviceID] == nil {
			ids = append(ids, c.DeviceID)
		}
		byDevice[c.DeviceID] = append(byDevice[c.DeviceID], c)
	}
	for batch := range slices.Chunk(ids, wakeBatch) {
		loaded := d.hydrating.getMany(batch)
		for _, id := range batch { // one not loaded is tried alone, as its heartbeat would be
			for _, c := range byDevice[id] {
				msg := &commandQueued{cmd: c}
				if l := loaded[id]; l == nil || errors.Is(d.spawnLoaded(id, l, msg), errStale) {
					_ = d.send(id, msg)
				}
			}
		}
	}
}

// CommandFinished tells a device's actor that a command has its result.
func (d *Directory) CommandFinished(device, id uuid.UUID) {
	_ = d.send(device, &commandFinished{id: id})
}

// Authorize checks a device token digest with the device's actor, as a
// heartbeat is checked: Stored means it is the device's token. Like
// Heartbeat, it runs an idle actor on this goroutine: hold no lock.
func (d *Directory) Authorize(ctx context.Context, device uuid.UUID, digest [32]byte) (Outcome, error) {
	q := &authQuery{digest: digest, reply: make(chan Outcome, 1)}
	if err := d.route(device, q, true); err != nil {
		return Unauthorized, err
	}
	select {
	case o := <-q.reply:
		return o, nil
	case <-ctx.Done():
		return Busy, ctx.Err()
	}
}

// onCommandQueued takes a new command and, when the device has an FCM
// token, has the dispatch supervisor push it now; the pull path delivers
// it either way.
func (a *deviceActor) onCommandQueued(c persistence.Command) {
	// An actor spawned for this message loaded it from the store, and its
	// hydration pushed it already.
	if slices.ContainsFunc(a.st.commands, func(o persistence.Command) bool { return o.ID == c.ID }) {
		return
	}
	a.st.commands = append(a.st.commands, c)
	a.push(c)
}

// pushQueued pushes the commands FCM has not taken yet, when an actor
// starts: after a restart they would otherwise wait for the pull path.
func (a *deviceActor) pushQueued() {
	for _, c := range a.st.commands {
		if c.Status == persistence.CommandQueued {
			a.push(c)
		}
	}
}

func (a *deviceActor) push(c persistence.Command) {
	if a.st.fcmToken != "" && a.sh.dispatch != nil {
		a.sh.root.Send(a.sh.dispatch, &push{cmd: c, token: a.st.fcmToken})
	}
}

// FCMTokenDead tells a device's actor to stop pushing to token.
func (d *Directory) FCMTokenDead(device uuid.UUID, token string) {
	_ = d.send(device, &fcmTokenDead{token: token})
}

// rotateKey hands a device the current master key's command key until the
// device says it holds it; from then on its commands are signed with it.
// Until then they are signed with the key it has, which stays valid.
func (a *deviceActor) rotateKey(req *HeartbeatRequest) {
	current := a.sh.cfg.HMACKeyID
	if current == "" || a.st.keyID == current {
		return
	}
	if req.KeyID != current {
		req.NewKey = current
		return
	}
	a.st.keyID = current
	if a.sh.tokens == nil {
		return
	}
	id, store, log := a.id, a.sh.tokens, a.sh.log
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := store.SetHMACKeyID(ctx, id, current); err != nil {
			log.Error().Str("event", "device.hmac_key.error").Stringer("device_id", id).Err(err).Msg("record rotated key id")
		}
	}()
}
