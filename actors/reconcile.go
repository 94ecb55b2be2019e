package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence"
)

// Drift kinds: what reconciliation repairs, the kind label of
// nexmdm_reconcile_repairs_total.
const (
	// DriftLastStatus: device_last_status is missing or holds an older bucket
	// than the newest stored heartbeat (per the heartbeats table or the
	// device's actor). Repaired by upserting that heartbeat.
	DriftLastStatus = "last_status"
	// DriftSnapshot: a live actor's Redis snapshot is missing, unreadable or
	// older than the actor's state. Repaired by the actor snapshotting again.
	DriftSnapshot = "snapshot"
	// DriftDedupe: an actor's newest stored bucket is older than the newest
	// bucket in heartbeats, so a replay would try to store it again.
	// Repaired by advancing the actor's dedupe to it.
	DriftDedupe = "dedupe"
	// DriftOrphanSnapshot: a snapshot in Redis of a device that no longer
	// exists. Repaired by deleting it.
	DriftOrphanSnapshot = "orphan_snapshot"
)

var driftKinds = []string{DriftLastStatus, DriftSnapshot, DriftDedupe, DriftOrphanSnapshot}

// ReconcileStore is what reconciliation reads and repairs in Postgres.
type ReconcileStore interface {
	// TryLock takes the lock that keeps two instances from reconciling at
	// once; ok is false when another holds it.
	TryLock(ctx context.Context) (release func(), ok bool, err error)
	// DeviceIDs pages through every device, by id.
	DeviceIDs(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error)
	// Existing returns which of ids are devices.
	Existing(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error)
	// StoredLast reads device_last_status and the newest stored bucket of ids.
	StoredLast(ctx context.Context, ids []uuid.UUID) ([]persistence.StoredLast, error)
	// LastStatusFromHeartbeats copies the heartbeat of NewestBucket into
	// device_last_status where that row is older; it returns the repaired ids.
	LastStatusFromHeartbeats(ctx context.Context, last []persistence.StoredLast) ([]uuid.UUID, error)
	// LastStatusFromLive writes actors' stored live status into
	// device_last_status where that row is older; it returns the repaired ids.
	LastStatusFromLive(ctx context.Context, hs []persistence.Heartbeat) ([]uuid.UUID, error)
}

// SnapshotIndex reads, lists and deletes device snapshots (Redis).
type SnapshotIndex interface {
	GetMany(ctx context.Context, ids []uuid.UUID) ([][]byte, error)
	Delete(ctx context.Context, ids []uuid.UUID) error
	ScanIDs(ctx context.Context, fn func(ids []uuid.UUID) error) error
}

// ReconcileConfig tunes reconciliation.
type ReconcileConfig struct {
	Every        time.Duration // between runs of Run; 0 disables it
	Chunk        int           // devices per step: one page, one query, one round of actor messages
	ReplyTimeout time.Duration // how long a step waits for its actors' answers
}

// DefaultReconcileConfig reconciles hourly, 1,000 devices a step.
func DefaultReconcileConfig() ReconcileConfig {
	return ReconcileConfig{Every: time.Hour, Chunk: 1000, ReplyTimeout: 10 * time.Second}
}

// ReconcileReport is the outcome of one run.
type ReconcileReport struct {
	Checked  int            // devices compared: those with a live actor or a snapshot
	Repairs  map[string]int // repairs by drift kind
	Skipped  bool           // another instance holds the lock: nothing was done
	Duration time.Duration
}

// Drift is the number of repairs; zero in normal operation.
func (r ReconcileReport) Drift() int {
	n := 0
	for _, c := range r.Repairs {
		n += c
	}
	return n
}

// Reconciler compares, for every device with a live actor or a Redis
// snapshot, the actor's state, the snapshot, device_last_status and the
// newest stored heartbeat, and repairs what drifted. Drift should never
// happen; reconciliation is how it is noticed (a metric, a warning) and
// undone when it does. It walks the fleet in chunks: one short query per
// chunk and one message per live actor, so it never holds long locks and
// never spawns an actor.
type Reconciler struct {
	dir   *Directory
	store ReconcileStore
	snaps SnapshotIndex
	cfg   ReconcileConfig
	log   zerolog.Logger
	m     reconcileMetrics
}

type reconcileMetrics struct {
	repairs  *prometheus.CounterVec
	runs     *prometheus.CounterVec
	checked  prometheus.Gauge
	duration prometheus.Histogram
}

// NewReconciler returns a reconciler of dir's devices. Zero fields of cfg
// other than Every take their defaults.
func NewReconciler(dir *Directory, store ReconcileStore, snaps SnapshotIndex, cfg ReconcileConfig, reg prometheus.Registerer, log zerolog.Logger) *Reconciler {
	def := DefaultReconcileConfig()
	if cfg.Chunk <= 0 {
		cfg.Chunk = def.Chunk
	}
	if cfg.ReplyTimeout <= 0 {
		cfg.ReplyTimeout = def.ReplyTimeout
	}
	r := &Reconciler{dir: dir, store: store, snaps: snaps, cfg: cfg, log: log}
	r.m = reconcileMetrics{
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_reconcile_repairs_total", Help: "Drift repaired by reconciliation, by kind; zero in normal operation.",
		}, []string{"kind"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_reconcile_runs_total", Help: "Reconciliation runs by result: ok, error, or skipped (another instance holds the lock).",
		}, []string{"result"}),
		checked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nexmdm_reconcile_devices_checked", Help: "Devices the last reconciliation compared.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "nexmdm_reconcile_duration_seconds", Help: "Time one reconciliation of the fleet took.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
	}
	for _, k := range driftKinds {
		r.m.repairs.WithLabelValues(k) // every kind is exported, at zero
	}
	if reg != nil {
		reg.MustRegister(r.m.repairs, r.m.runs, r.m.checked, r.m.duration)
	}
	return r
}

// Run reconciles every cfg.Every until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	if r.cfg.Every <= 0 {
		return
	}
	t := time.NewTicker(r.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.RunOnce(ctx) // it logs its outcome
		}
	}
}

// RunOnce reconciles the whole fleet once, unless another instance holds
// the lock. Repairs made before an error are kept and counted.
func (r *Reconciler) RunOnce(ctx context.Context) (ReconcileReport, error) {
	rep := ReconcileReport{Repairs: make(map[string]int, len(driftKinds))}
	release, ok, err := r.store.TryLock(ctx)
	if err != nil {
		r.m.runs.WithLabelValues("error").Inc()
		r.log.Error().Str("event", "reconcile.error").Err(err).Msg("reconciliation not run")
		return rep, err
	}
	if !ok {
		rep.Skipped = true
		r.m.runs.WithLabelValues("skipped").Inc()
		r.log.Debug().Str("event", "reconcile.skipped").Msg("another instance is reconciling")
		return rep, nil
	}
	defer release()

	start := time.Now()
	err = r.reconcile(ctx, &rep)
	rep.Duration = time.Since(start)
	for kind, n := range rep.Repairs {
		r.m.repairs.WithLabelValues(kind).Add(float64(n))
	}
	r.m.checked.Set(float64(rep.Checked))
	r.m.duration.Observe(rep.Duration.Seconds())

	dict := zerolog.Dict()
	for _, k := range driftKinds {
		dict.Int(k, rep.Repairs[k])
	}
	if err != nil {
		r.m.runs.WithLabelValues("error").Inc()
		r.log.Error().Str("event", "reconcile.error").Err(err).Int("checked", rep.Checked).Dict("repairs", dict).
			Dur("took", rep.Duration).Msg("reconciliation stopped; the next run starts over")
		return rep, err
	}
	r.m.runs.WithLabelValues("ok").Inc()
	ev := r.log.Info().Str("event", "reconcile.done")
	if rep.Drift() > 0 {
		ev = r.log.Warn().Str("event", "reconcile.repaired")
	}
	ev.Int("checked", rep.Checked).Int("drift", rep.Drift()).Dict("repairs", dict).Dur("took", rep.Duration).Msg("reconciled")
	return rep, nil
}

func (r *Reconciler) reconcile(ctx context.Context, rep *ReconcileReport) error {
	var after uuid.UUID
	for {
		ids, err := r.store.DeviceIDs(ctx, after, r.cfg.Chunk)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := r.step(ctx, ids, rep); err != nil {
				return err
			}
		}
		if len(ids) < r.cfg.Chunk {
			break
		}
		after = ids[len(ids)-1]
	}
	gone := make(map[uuid.UUID]bool) // SCAN may return a key twice
	return r.snaps.ScanIDs(ctx, func(ids []uuid.UUID) error { return r.orphans(ctx, ids, gone, rep) })
}

// step reconciles one chunk of devices. The actors answer first and their
// snapshots are read after, so that a snapshot is never older than the
// state it is compared with merely because the actor moved on. Each repair
// is rechecked where it is made (by the SQL, by the actor), so that a
// heartbeat that lands meanwhile is not mistaken for drift.
func (r *Reconciler) step(ctx context.Context, ids []uuid.UUID, rep *ReconcileReport) error {
	states := r.dir.reconcileStates(ctx, ids, r.cfg.ReplyTimeout)
	snaps, err := r.snaps.GetMany(ctx, ids)
	if err != nil {
		return err
	}
	check := make([]uuid.UUID, 0, len(ids))
	snapOf := make(map[uuid.UUID][]byte)
	for i, id := range ids {
		if _, live := states[id]; live || snaps[i] != nil {
			check = append(check, id)
			snapOf[id] = snaps[i]
		}
	}
	if len(check) == 0 {
		return nil
	}
	rep.Checked += len(check)
	stored, err := r.store.StoredLast(ctx, check)
	if err != nil {
		return err
	}

	var fromLive []persistence.Heartbeat
	var fromRows []persistence.StoredLast
	var repairs []*reconcileRepair
	for _, s := range stored {
		st, live := states[s.DeviceID]
		live = live && !st.busy // rows in flight: only Postgres is compared with itself
		status := s.StatusBucket()
		if lb := persistence.Bucket(st.live.TS); live && st.liveStored && lb > status && lb >= s.NewestBucket {
			h := st.live
			h.DeviceID = s.DeviceID // a snapshot does not keep it
			fromLive = append(fromLive, h)
		} else if s.NewestBucket > status {
			fromRows = append(fromRows, s)
		}
		if !live {
			continue
		}
		m := &reconcileRepair{}
		if s.NewestBucket > st.lastBucket {
			m.advance = s.NewestBucket
		}
		if snapshotBehind(snapOf[s.DeviceID], &st) {
			m.resnapshot, m.puts = true, st.puts
		}
		if m.advance > 0 || m.resnapshot {
			m.id = s.DeviceID
			repairs = append(repairs, m)
		}
	}

	if len(fromLive) > 0 {
		fixed, err := r.store.LastStatusFromLive(ctx, fromLive)
		rep.Repairs[DriftLastStatus] += len(fixed)
		if err != nil {
			return err
		}
	}
	if len(fromRows) > 0 {
		fixed, err := r.store.LastStatusFromHeartbeats(ctx, fromRows)
		rep.Repairs[DriftLastStatus] += len(fixed)
		if err != nil {
			return err
		}
	}
	if len(repairs) > 0 {
		advanced, snapshotted := r.dir.reconcileRepairs(ctx, repairs, r.cfg.ReplyTimeout)
		rep.Repairs[DriftDedupe] += advanced
		rep.Repairs[DriftSnapshot] += snapshotted
	}
	return nil
}

// orphans deletes the snapshots among ids whose device no longer exists.
func (r *Reconciler) orphans(ctx context.Context, ids []uuid.UUID, gone map[uuid.UUID]bool, rep *ReconcileReport) error {
	found, err := r.store.Existing(ctx, ids)
	if err != nil {
		return err
	}
	exists := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		exists[id] = true
	}
	var orphans []uuid.UUID
	for _, id := range ids {
		if !exists[id] && !gone[id] {
			gone[id] = true
			orphans = append(orphans, id)
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	if err := r.snaps.Delete(ctx, orphans); err != nil {
		return fmt.Errorf("delete orphan snapshots: %w", err)
	}
	rep.Repairs[DriftOrphanSnapshot] += len(orphans)
	return nil
}

// snapshotBehind reports whether a snapshot is missing, unreadable or older
// than an actor's state. An actor with nothing to keep needs no snapshot.
func snapshotBehind(b []byte, st *reconcileState) bool {
	if len(b) == 0 {
		return st.lastSeen != 0 || !st.live.TS.IsZero() || st.lastBucket != 0
	}
	var snap deviceState
	if decodeSnapshot(b, &snap) != nil {
		return true
	}
	return snap.lastSeen < st.lastSeen || snap.live.TS.Before(st.live.TS) ||
		snap.live.ReceivedAt.Before(st.live.ReceivedAt) || snap.dedupe.last < st.lastBucket ||
		snap.online != st.online
}

// reconcileState answers a reconcileQuery.
func (a *deviceActor) reconcileState() reconcileState {
	live := a.st.live
	return reconcileState{
		id:         a.id,
		live:       live,
		liveStored: !live.TS.IsZero() && a.st.dedupe.check(persistence.Bucket(live.TS)) == bucketStored,
		lastSeen:   a.st.lastSeen,
		online:     a.st.online,
		lastBucket: a.st.dedupe.last,
		busy:       len(a.pending) > 0 || a.retiring != nil,
		puts:       a.puts,
	}
}

// reconcileRepair makes the repairs that still apply. With rows in the
// writer it makes none: their outcome moves the same state, and the next
// run looks again. The snapshot is put before the answer, so that a
// reconciliation that returns has handed every repair to the store.
func (a *deviceActor) reconcileRepair(m *reconcileRepair) reconcileRepaired {
	out := reconcileRepaired{id: a.id}
	if len(a.pending) > 0 || a.retiring != nil {
		return out
	}
	if m.advance > a.st.dedupe.last {
		// As a hydration that finds a newer bucket in Postgres: the buckets
		// below it are no longer certain, so they are inserted if absent.
		a.st.dedupe = dedupe{last: m.advance}
		a.dirty = true
		out.advanced = true
	}
	if m.resnapshot && a.puts == m.puts { // else a newer one was put since the comparison
		a.dirty = true
		out.snapshotted = true
	}
	if a.dirty {
		a.snapshot()
	}
	return out
}

// sendLive sends msg to the device's actor if it has one; it never spawns.
func (d *Directory) sendLive(id uuid.UUID, msg any) bool {
	s := d.shard(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.m[id]
	if e == nil || e.deleted || e.actor.pid == nil {
		return false
	}
	e.actor.send(msg)
	return true
}

// reconcileStates asks the live actors among ids for their state and waits
// up to timeout for the answers; an actor that stopped meanwhile is left out.
func (d *Directory) reconcileStates(ctx context.Context, ids []uuid.UUID, timeout time.Duration) map[uuid.UUID]reconcileState {
	reply := make(chan reconcileState, len(ids))
	q := &reconcileQuery{reply: reply}
	asked := 0
	for _, id := range ids {
		if d.sendLive(id, q) {
			asked++
		}
	}
	out := make(map[uuid.UUID]reconcileState, asked)
	if asked == 0 {
		return out
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for range asked {
		select {
		case st := <-reply:
			out[st.id] = st
		case <-t.C:
			return out
		case <-ctx.Done():
			return out
		}
	}
	return out
}

// reconcileRepairs sends each repair to its actor and counts the repairs the
// actors made, waiting up to timeout for their answers.
func (d *Directory) reconcileRepairs(ctx context.Context, repairs []*reconcileRepair, timeout time.Duration) (advanced, snapshotted int) {
	reply := make(chan reconcileRepaired, len(repairs))
	sent := 0
	for _, m := range repairs {
		m.reply = reply
		if d.sendLive(m.id, m) {
			sent++
		}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for range sent {
		select {
		case res := <-reply:
			if res.advanced {
				advanced++
			}
			if res.snapshotted {
				snapshotted++
			}
		case <-t.C:
			return advanced, snapshotted
		case <-ctx.Done():
			return advanced, snapshotted
		}
	}
	return advanced, snapshotted
}
