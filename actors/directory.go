package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/nexmdm/nexmdm/persistence"
)

// Routing errors; ingress maps them to HTTP statuses.
var (
	// ErrUnknownDevice means no device has this id: 401.
	ErrUnknownDevice = errors.New("unknown device")
	// ErrDeviceDeleted means the device was deleted: 410.
	ErrDeviceDeleted = errors.New("device deleted")
	// ErrUnavailable means the device's state could not be loaded: 503.
	ErrUnavailable = errors.New("device state unavailable")

	// errStale: a device's state was loaded before it was re-enrolled.
	errStale = errors.New("device re-enrolled while loading")
)

// SnapshotStore keeps device actors' snapshots (Redis).
type SnapshotStore interface {
	Put(id uuid.UUID, data []byte) // must not block: coalesced and flushed later
	GetMany(ctx context.Context, ids []uuid.UUID) ([][]byte, error)
	Delete(ctx context.Context, ids []uuid.UUID) error
}

// DeviceStore is the durable device repository (Postgres).
type DeviceStore interface {
	LoadMany(ctx context.Context, ids []uuid.UUID) ([]*persistence.DeviceRecord, error)
	Count(ctx context.Context) (int, error)
	ForEach(ctx context.Context, fn func(*persistence.DeviceRecord) error) error
	Tombstones(ctx context.Context) ([]uuid.UUID, error)
	Delete(ctx context.Context, ids []uuid.UUID, at time.Time) ([]uuid.UUID, error)
	SetTokenDigest(ctx context.Context, id uuid.UUID, digest []byte, pepperID string) error
}

// Config tunes the device actors.
type Config struct {
	OfflineAfter      time.Duration // no heartbeat for this long: offline
	HeartbeatInterval time.Duration // told to devices in every answer
	RateLimit         float64       // heartbeats per second per device, sustained; 0 disables
	RateBurst         float64       // heartbeats per device at once
	SweepInterval     time.Duration // how often actors check time-based transitions
	WarmWindow        time.Duration // devices seen this recently get an actor at start
	PepperID          string        // id of the pepper ingress digests tokens with
	HMACKeyID         string        // the current master key: devices holding another are handed its key
	BcryptWorkers     int           // concurrent bcrypt checks after a pepper change
	HydrateTimeout    time.Duration // limit on loading one device's state
	FirstTickSpread   time.Duration // a hydrated actor's first tick comes within this
}

// DefaultConfig matches the seeds: 5-minute heartbeats, offline after 12.
func DefaultConfig() Config {
	return Config{
		OfflineAfter:      12 * time.Minute,
		HeartbeatInterval: 5 * time.Minute,
		RateLimit:         10,
		RateBurst:         600, // a full agent queue (500) replays at once
		SweepInterval:     15 * time.Second,
		WarmWindow:        24 * time.Hour,
		BcryptWorkers:     2,
		HydrateTimeout:    5 * time.Second,
		FirstTickSpread:   12 * time.Minute, // as OfflineAfter: offline is noticed as late
	}
}

// shared is what every device actor reaches.
type shared struct {
	cfg          Config
	root         *actor.RootContext
	sink         persistence.HeartbeatSink
	snapshots    SnapshotStore
	verifier     *verifier
	presence     *presence
	commands     *commandLog
	tokens       TokenStore
	log          zerolog.Logger
	dispatch     *actor.PID // the dispatch supervisor; nil when FCM is off
	alerts       AlertSink  // nil: alert rules are not evaluated
	alertCfg     AlertConfig
	actorStopped func(id uuid.UUID, pid *actor.PID)
}

const shardCount = 64

type shard struct {
	mu      sync.RWMutex
	m       map[uuid.UUID]*entry
	views   []deviceView // the entries' views side by side, so that scans read memory in order
	changed []int32      // views changed since the live feed last drained

	// props spawn the shard's device actors: each is the actor in spawning,
	// with its mailbox, both made by the spawner under the lock. Props made
	// per spawn would have each actor keep its own (a few hundred bytes).
	props    *actor.Props
	spawning spawning
}

// spawning is the device actor being spawned, its state already in place:
// carried in its first message, the state was a second copy of every
// device to allocate and collect while a restart loads the fleet.
type spawning struct {
	actor *deviceActor
	mb    *mailbox
}

// entry is one known device. Messages are sent to pid while holding the
// shard's read lock, so that a writer of the entry (delete, spawn) knows
// every earlier message is already in the actor's mailbox.
type entry struct {
	actor   deviceRef     // zero until the actor is spawned
	gen     uint32        // bumped by re-enrollment, so a hydration that raced it reloads
	slot    int32         // index of the device's view in the shard; -1 for an id known only as deleted
	wake    atomic.Uint32 // unix s from which a tick could change the device; sweeps skip it before
	deleted bool
}

// Directory routes device messages to device actors. It knows every device
// of this instance, spawns an actor on first use with its state loaded from
// Redis and Postgres, and retires actors of deleted devices. It is the one
// place a cluster (virtual actors) would replace.
type Directory struct {
	sh      *shared
	devices DeviceStore
	snaps   SnapshotStore
	cmds    CommandStore
	log     zerolog.Logger
	now     func() time.Time

	shards    [shardCount]shard
	hydrating *hydrator
	handOver  handOver
	live      atomic.Int64
	ready     atomic.Bool
	m         directoryMetrics
}

type directoryMetrics struct {
	hydrations *prometheus.CounterVec
}

// Deps are the directory's collaborators.
type Deps struct {
	System    *actor.ActorSystem
	Sink      persistence.HeartbeatSink
	Devices   DeviceStore
	Snapshots SnapshotStore
	Commands  CommandStore // nil: no commands (tests of other parts)
	Feed      Publisher    // nil: nobody is told of command transitions
	Pusher    Pusher       // FCM; nil: commands only reach devices by the pull path
	Tokens    TokenStore   // forgets dead FCM tokens, records rotated key ids
	Dispatch  DispatchConfig
	Listeners []StatusListener
	Alerts    AlertSink             // nil: no alert rules
	AlertCfg  AlertConfig           // zero: DefaultAlertConfig
	Registry  prometheus.Registerer // nil: no metrics registered
	Log       zerolog.Logger
	Now       func() time.Time // nil: time.Now
}

// Device mailboxes run on a pool of this many goroutines at most, handling
// up to mailboxThroughput messages before yielding (protoactor's default).
// Up to mailboxQueue mailboxes wait for a free worker: a sweep of one shard
// schedules about 1,600 at 100,000 devices.
const (
	mailboxWorkers    = 256
	mailboxQueue      = 16384
	mailboxThroughput = 300
)

// stopOnPanic stops a failing device actor rather than restarting it with
// empty state; the next message hydrates a fresh one.
var stopOnPanic = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })

// NewDirectory returns an empty directory; Start loads the fleet. ctx bounds
// the background bcrypt verifier.
func NewDirectory(ctx context.Context, cfg Config, deps Deps) *Directory {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	d := &Directory{devices: deps.Devices, snaps: deps.Snapshots, cmds: deps.Commands, log: deps.Log, now: deps.Now,
		handOver: defaultHandOver}
	d.hydrating = newHydrator(d.loadMany, hydrateLoaders, wakeBatch, deps.Log)
	for i := range d.shards {
		d.shards[i].m = make(map[uuid.UUID]*entry)
	}
	root := deps.System.Root
	if deps.AlertCfg == (AlertConfig{}) {
		deps.AlertCfg = DefaultAlertConfig()
	}
	cfg.HMACKeyID = persistence.InternString(cfg.HMACKeyID) // as the actors' key ids are: compared by pointer
	d.sh = &shared{
		cfg:          cfg,
		root:         root,
		sink:         deps.Sink,
		snapshots:    deps.Snapshots,
		verifier:     newVerifier(ctx, max(1, cfg.BcryptWorkers), deps.Devices, root, cfg.PepperID),
		presence:     newPresence(deps.Registry, deps.Listeners),
		commands:     newCommandLog(deps.Commands, deps.Feed, deps.Log),
		tokens:       deps.Tokens,
		alerts:       deps.Alerts,
		alertCfg:     deps.AlertCfg,
		log:          deps.Log,
		actorStopped: d.actorStopped,
	}
	go d.sh.commands.run(ctx, 100*time.Millisecond)
	if deps.Pusher != nil {
		cfg := deps.Dispatch
		if cfg.BatchSize == 0 {
			cfg = DefaultDispatchConfig()
		}
		d.sh.dispatch = root.Spawn(actor.PropsFromProducer(func() actor.Actor {
			return &dispatcher{cfg: cfg, pusher: deps.Pusher, tokens: deps.Tokens, dir: d, log: deps.Log, root: root}
		}))
	}
	workers := newWorkerPool(mailboxWorkers, mailboxQueue, mailboxThroughput, ctx.Done())
	for i := range d.shards {
		s := &d.shards[i]
		s.props = actor.PropsFromProducer(func() actor.Actor {
			if a := s.spawning.actor; a != nil {
				return a
			}
			return &deviceActor{sh: d.sh} // never: device actors are stopped on panic, not restarted
		},
			actor.WithGuardian(stopOnPanic), actor.WithDispatcher(workers),
			actor.WithMailbox(func() actor.Mailbox { return s.spawning.mb }))
	}
	d.m.hydrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nexmdm_device_hydrations_total", Help: "Device actors spawned, by where their state came from.",
	}, []string{"source"})
	if deps.Registry != nil {
		deps.Registry.MustRegister(d.m.hydrations,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "nexmdm_device_actors_live", Help: "Device actors in memory.",
			}, func() float64 { return float64(d.live.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "nexmdm_devices_known", Help: "Devices this instance routes.",
			}, func() float64 { return float64(d.Len()) }))
	}
	return d
}

func (d *Directory) shard(id uuid.UUID) *shard { return &d.shards[id[15]%shardCount] }

// Ready reports whether Start has finished.
func (d *Directory) Ready() bool { return d.ready.Load() }

// Len is the number of known, undeleted devices.
func (d *Directory) Len() int {
	n := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		for _, e := range s.m {
			if !e.deleted {
				n++
			}
		}
		s.mu.RUnlock()
	}
	return n
}

// Live is the number of device actors in memory.
func (d *Directory) Live() int { return int(d.live.Load()) }

// Start loads every device and tombstone, and spawns hydrated actors for the
// devices seen within WarmWindow, so that a restarted server answers its
// active fleet with no database reads. Postgres streams the devices while
// Redis snapshots are fetched in batches beside it.
func (d *Directory) Start(ctx context.Context) error {
	dead, err := d.devices.Tombstones(ctx)
	if err != nil {
		return fmt.Errorf("load tombstones: %w", err)
	}
	for _, id := range dead {
		d.shard(id).m[id] = &entry{deleted: true, slot: -1}
	}

	// Views are sized once: growing 100,000 of them by appends would leave
	// as much again in garbage that the process keeps for a while.
	n, err := d.devices.Count(ctx)
	if err != nil {
		return err
	}
	for i := range d.shards {
		d.shards[i].views = make([]deviceView, 0, n/shardCount+n/(8*shardCount)+16)
	}
	var open []persistence.Command
	if d.cmds != nil {
		open, err = d.cmds.OpenAll(ctx)
	}
	if err != nil {
		return fmt.Errorf("load open commands: %w", err)
	}
	byDevice := make(map[uuid.UUID][]persistence.Command)
	for _, c := range open {
		byDevice[c.DeviceID] = append(byDevice[c.DeviceID], c)
	}

	const chunkSize = 1000
	chunks := make(chan []*persistence.DeviceRecord, 4)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(chunks)
		chunk := make([]*persistence.DeviceRecord, 0, chunkSize)
		err := d.devices.ForEach(gctx, func(rec *persistence.DeviceRecord) error {
			if chunk = append(chunk, rec); len(chunk) == chunkSize {
				select {
				case chunks <- chunk:
				case <-gctx.Done():
					return gctx.Err()
				}
				chunk = make([]*persistence.DeviceRecord, 0, chunkSize)
			}
			return nil
		})
		if err == nil && len(chunk) > 0 {
			chunks <- chunk
		}
		return err
	})
	cutoff := d.now().Add(-d.sh.cfg.WarmWindow)
	for range 2 {
		g.Go(func() error {
			for chunk := range chunks {
				if err := d.warm(gctx, chunk, cutoff, byDevice); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("load devices: %w", err)
	}
	d.ready.Store(true)
	return nil
}

func (d *Directory) warm(ctx context.Context, recs []*persistence.DeviceRecord, cutoff time.Time, open map[uuid.UUID][]persistence.Command) error {
	ids := make([]uuid.UUID, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	snaps, err := d.snaps.GetMany(ctx, ids)
	if err != nil {
		return err
	}
	for i, rec := range recs {
		st, source := d.hydrateState(rec, snaps[i])
		st.commands = open[rec.ID]
		s := d.shard(rec.ID)
		s.mu.Lock()
		e := s.addLocked(rec.ID, &rec.Facts)
		v := &s.views[e.slot]
		v.setState(&st)
		v.fedSeen = v.lastSeen
		if st.lastSeen > cutoff.UnixNano() || len(st.commands) > 0 { // a command to push wakes it too
			e.actor = d.spawnLocked(rec.ID, e, st, source)
		}
		s.mu.Unlock()
	}
	return nil
}

// hydrateState merges a device's record and snapshot; a snapshot that does
// not decode is dropped in favour of Postgres.
func (d *Directory) hydrateState(rec *persistence.DeviceRecord, snap []byte) (deviceState, string) {
	source := "redis"
	if len(snap) == 0 {
		source = "postgres"
	}
	st, err := hydrate(rec, snap, d.sh.cfg.PepperID)
	if err != nil {
		d.log.Warn().Str("event", "device.snapshot.invalid").Stringer("device_id", rec.ID).Err(err).Msg("ignoring device snapshot")
		st, _ = hydrate(rec, nil, d.sh.cfg.PepperID)
		source = "postgres"
	}
	return st, source
}

// spawnLocked starts an actor with its state; the shard lock is held, so the
// hydrated message is the actor's first.
func (d *Directory) spawnLocked(id uuid.UUID, e *entry, st deviceState, source string) deviceRef {
	s := d.shard(id)
	s.spawning = spawning{actor: &deviceActor{sh: d.sh, id: id, st: st, shard: s, entry: e}, mb: &mailbox{}}
	ref := deviceRef{pid: d.sh.root.Spawn(s.props), mb: s.spawning.mb}
	s.spawning = spawning{}
	ref.send(&hydrated{ref: ref, at: d.now()})
	d.live.Add(1)
	if st.online {
		d.sh.presence.count.Add(1)
	}
	d.m.hydrations.WithLabelValues(source).Inc()
	return ref
}

func (d *Directory) actorStopped(id uuid.UUID, pid *actor.PID) {
	d.live.Add(-1)
	s := d.shard(id)
	s.mu.Lock()
	if e := s.m[id]; e != nil && e.actor.pid == pid {
		e.actor = deviceRef{}
	}
	s.mu.Unlock()
}

// Heartbeat routes a heartbeat to its device's actor, which answers on
// req.Wait. An error means it was not routed and nothing will answer. A
// live actor with nothing else to do decides on the heartbeat on this
// goroutine, before Heartbeat returns; so call it holding no lock.
func (d *Directory) Heartbeat(req *HeartbeatRequest) error {
	return d.route(req.Write.Heartbeat.DeviceID, req, true)
}

// Status returns a copy of a device's live state. Like Heartbeat, it runs
// an idle actor on this goroutine: hold no lock.
func (d *Directory) Status(ctx context.Context, id uuid.UUID) (DeviceStatus, error) {
	q := &statusQuery{reply: make(chan DeviceStatus, 1)}
	if err := d.route(id, q, true); err != nil {
		return DeviceStatus{}, err
	}
	select {
	case st := <-q.reply:
		return st, nil
	case <-ctx.Done():
		return DeviceStatus{}, ctx.Err()
	}
}

func (d *Directory) send(id uuid.UUID, msg any) error { return d.route(id, msg, false) }

// route sends msg to the device's actor. inline runs the actor on this
// goroutine if the message finds it idle: the caller must hold no lock
// that the actor takes.
func (d *Directory) route(id uuid.UUID, msg any, inline bool) error {
	s := d.shard(id)
	s.mu.RLock()
	e := s.m[id]
	switch {
	case e == nil:
		s.mu.RUnlock()
		return ErrUnknownDevice
	case e.deleted:
		s.mu.RUnlock()
		return ErrDeviceDeleted
	case e.actor.pid != nil && inline:
		// Queued under the lock, so that a delete or respawn finds it in
		// the mailbox; run after it, as the actor takes shard locks itself.
		mb := e.actor.mb
		claimed := mb.postClaiming(msg)
		s.mu.RUnlock()
		if claimed {
			mb.run()
		}
		return nil
	case e.actor.pid != nil:
		e.actor.send(msg)
		s.mu.RUnlock()
		return nil
	}
	s.mu.RUnlock()
	return d.spawnAndSend(id, msg)
}

type loaded struct {
	st     deviceState
	source string
	gen    uint32
}

// spawnAndSend hydrates a device that has no actor, spawns one and sends it
// msg. Concurrent first messages share one load, and those of many
// devices share a batch.
func (d *Directory) spawnAndSend(id uuid.UUID, msg any) error {
	for range 3 {
		l, err := d.hydrating.get(id)
		if err != nil {
			return err
		}
		if err := d.spawnLoaded(id, l, msg); !errors.Is(err, errStale) {
			return err
		}
	}
	return ErrUnavailable
}

// spawnLoaded sends msg to the device's actor, spawning it from l when it
// has none. errStale means l was loaded before the device was re-enrolled.
func (d *Directory) spawnLoaded(id uuid.UUID, l *loaded, msg any) error {
	s := d.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[id]
	switch {
	case e == nil:
		return ErrUnknownDevice
	case e.deleted:
		return ErrDeviceDeleted
	case e.actor.pid == nil && e.gen != l.gen:
		return errStale
	case e.actor.pid == nil:
		e.actor = d.spawnLocked(id, e, l.st, l.source)
	}
	e.actor.send(msg)
	return nil
}

// loadMany hydrates the state of devices from Postgres and their
// snapshots, with one read of each for the batch; unknown devices are left
// out.
func (d *Directory) loadMany(ids []uuid.UUID) (map[uuid.UUID]*loaded, error) {
	gens := make([]uint32, len(ids))
	for i, id := range ids {
		s := d.shard(id)
		s.mu.RLock()
		if e := s.m[id]; e != nil {
			gens[i] = e.gen
		}
		s.mu.RUnlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.sh.cfg.HydrateTimeout)
	defer cancel()
	recs, err := d.devices.LoadMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	snaps, err := d.snaps.GetMany(ctx, ids)
	if err != nil {
		// Postgres alone is enough: the snapshot only adds recency.
		d.log.Warn().Str("event", "device.snapshot.error").Int("devices", len(ids)).Err(err).Msg("read snapshots")
		snaps = make([][]byte, len(ids))
	}
	var open []persistence.Command
	if d.cmds != nil {
		if open, err = d.cmds.OpenOf(ctx, ids); err != nil {
			return nil, err
		}
	}
	snapOf := make(map[uuid.UUID][]byte, len(ids))
	genOf := make(map[uuid.UUID]uint32, len(ids))
	for i, id := range ids {
		snapOf[id], genOf[id] = snaps[i], gens[i]
	}
	out := make(map[uuid.UUID]*loaded, len(recs))
	for _, rec := range recs {
		st, source := d.hydrateState(rec, snapOf[rec.ID])
		out[rec.ID] = &loaded{st: st, source: source, gen: genOf[rec.ID]}
	}
	for _, c := range open {
		if l := out[c.DeviceID]; l != nil {
			l.st.commands = append(l.st.commands, c)
		}
	}
	return out, nil
}

// Enrolled records a new device, or new credentials and facts for an
// enrolled one. A live actor gets them before this returns, so the device's
// first heartbeat with the new token is checked against it.
func (d *Directory) Enrolled(id uuid.UUID, facts persistence.DeviceFacts, digest []byte, pepperID string, revoked []byte) {
	c := credentials{pepperID: pepperID}
	copy(c.digest[:], digest)
	if len(revoked) == 32 {
		copy(c.revoked[:], revoked)
		c.hasRevoked = true
	}
	s := d.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[id]
	if e == nil || e.slot < 0 {
		e = s.addLocked(id, &facts)
	}
	s.views[e.slot].setFacts(&facts)
	s.markChangedLocked(e, RowFacts)
	s.setDeletedLocked(e, false)
	e.gen++
	if e.actor.pid != nil {
		e.actor.send(&rekey{creds: c, fcmToken: facts.FCMToken, keyID: persistence.InternString(facts.HMACKeyID)})
	}
}

// Delete hard-deletes devices. From the moment it is called their
// heartbeats get ErrDeviceDeleted; their actors first finish the rows they
// already handed to the writer, so that no row of a deleted device is
// written after the delete commits. It returns the ids that existed.
func (d *Directory) Delete(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	type prior struct {
		e       *entry
		existed bool
		deleted bool
	}
	priors := make(map[uuid.UUID]prior, len(ids))
	var retiring []chan struct{}
	for _, id := range ids {
		s := d.shard(id)
		s.mu.Lock()
		e := s.m[id]
		p := prior{e: e, existed: e != nil}
		if e == nil {
			e = &entry{slot: -1}
			s.m[id] = e
			p.e = e
		}
		p.deleted = e.deleted
		priors[id] = p
		s.setDeletedLocked(e, true)
		if e.actor.pid != nil {
			done := make(chan struct{})
			e.actor.send(&retire{done: done})
			retiring = append(retiring, done)
			e.actor = deviceRef{}
		}
		s.mu.Unlock()
	}
	restore := func(keep map[uuid.UUID]bool) {
		for id, p := range priors {
			if keep[id] {
				continue
			}
			s := d.shard(id)
			s.mu.Lock()
			if !p.existed {
				delete(s.m, id)
			} else {
				s.setDeletedLocked(p.e, p.deleted)
			}
			s.mu.Unlock()
		}
	}
	for _, done := range retiring {
		select {
		case <-done:
		case <-ctx.Done():
			restore(nil)
			return nil, fmt.Errorf("delete devices: %w", ctx.Err())
		}
	}
	deleted, err := d.devices.Delete(ctx, ids, d.now())
	if err != nil {
		restore(nil)
		return nil, err
	}
	gone := make(map[uuid.UUID]bool, len(deleted))
	for _, id := range deleted {
		gone[id] = true
	}
	restore(gone) // ids that did not exist go back to how they were
	if err := d.snaps.Delete(ctx, deleted); err != nil {
		d.log.Warn().Str("event", "device.snapshot.delete.error").Err(err).Msg("delete snapshots")
	}
	return deleted, nil
}

// Sweep sends the time to every live actor that has something due, so
// that devices silent for longer than OfflineAfter go offline, monitored
// services pass their thresholds and commands expire. One message per due
// actor per sweep replaces a timer per device; a device that heartbeats
// more often than OfflineAfter is never due.
// It returns how many actors it ticked.
func (d *Directory) Sweep(now time.Time) int {
	n := 0
	for i := range d.shards {
		n += d.sweepShard(i, now)
	}
	return n
}

func (d *Directory) sweepShard(i int, now time.Time) int {
	t := &tick{now: now}
	due := now.Unix()
	s := &d.shards[i]
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, e := range s.m {
		if e.actor.pid != nil && int64(e.wake.Load()) <= due {
			e.actor.send(t)
			n++
		}
	}
	return n
}

// RunSweeper sweeps until ctx ends, one shard at a time, so that every actor
// gets its tick each SweepInterval. Spreading the ticks matters: 100,000 of
// them at once took the CPU from heartbeats for a few hundred milliseconds.
func (d *Directory) RunSweeper(ctx context.Context) {
	t := time.NewTicker(max(d.sh.cfg.SweepInterval/shardCount, time.Millisecond))
	defer t.Stop()
	for i := 0; ; i = (i + 1) % shardCount {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.sweepShard(i, d.now())
		}
	}
}

// Shutdown stops every actor and stores the last command transitions. Call
// it after ingress has stopped and the writer has drained.
func (d *Directory) Shutdown() {
	defer d.sh.commands.flush(context.Background())
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		for _, e := range s.m {
			if e.actor.pid != nil {
				d.sh.root.Stop(e.actor.pid)
				e.actor = deviceRef{}
			}
		}
		s.mu.Unlock()
	}
}
