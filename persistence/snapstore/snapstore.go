// Package snapstore keeps device actors' state snapshots in Redis, so that a
// restarted server resumes every device where it was. Snapshots are
// coalesced per device in memory and written in pipelined batches about once
// a second; reads see pending snapshots before Redis.
package snapstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Store is the Redis snapshot store. Keys are <prefix>dev:<device id>.
type Store struct {
	rdb      redis.UniversalClient
	prefix   string
	interval time.Duration
	batch    int
	log      zerolog.Logger
	m        metrics

	mu      sync.Mutex
	pending map[uuid.UUID][]byte // newest snapshot not yet flushed
	flying  map[uuid.UUID][]byte // being written by the current flush
	spare   map[uuid.UUID][]byte // the last flush's map, emptied: the next pending

	flushMu  sync.Mutex // one flush (or delete) at a time
	started  atomic.Bool
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

type metrics struct {
	flushSeconds prometheus.Histogram
	flushed      prometheus.Counter
	errors       prometheus.Counter
}

// Config tunes the store.
type Config struct {
	Prefix   string        // key prefix, e.g. "nexmdm:"
	Interval time.Duration // flush period (default 1 s)
	Batch    int           // commands per pipeline (default 1000)
}

// New returns a store; Run flushes it.
func New(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer, log zerolog.Logger) *Store {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	s := &Store{
		rdb: rdb, prefix: cfg.Prefix, interval: cfg.Interval, batch: cfg.Batch, log: log,
		pending: make(map[uuid.UUID][]byte),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.m = metrics{
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "nexmdm_snapshot_flush_duration_seconds", Help: "Time to write one round of dirty device snapshots to Redis.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		flushed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nexmdm_snapshots_flushed_total", Help: "Device snapshots written to Redis.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nexmdm_snapshot_flush_errors_total", Help: "Flush rounds that failed; their snapshots are retried.",
		}),
	}
	if reg != nil {
		reg.MustRegister(s.m.flushSeconds, s.m.flushed, s.m.errors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "nexmdm_snapshots_pending", Help: "Dirty device snapshots waiting for the next flush.",
			}, func() float64 { s.mu.Lock(); defer s.mu.Unlock(); return float64(len(s.pending)) }))
	}
	return s
}

func (s *Store) key(id uuid.UUID) string { return string(s.appendKey(nil, id)) }

// Put records a device's newest snapshot; it never blocks on Redis.
func (s *Store) Put(id uuid.UUID, data []byte) {
	s.mu.Lock()
	s.pending[id] = data
	s.mu.Unlock()
}

// Get returns a device's newest snapshot, or nil when there is none.
func (s *Store) Get(ctx context.Context, id uuid.UUID) ([]byte, error) {
	if b, ok := s.local(id); ok {
		return b, nil
	}
	b, err := s.rdb.Get(ctx, s.key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get snapshot: %w", err)
	}
	return b, nil
}

func (s *Store) local(id uuid.UUID) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.pending[id]; ok {
		return b, true
	}
	b, ok := s.flying[id]
	return b, ok
}

// GetMany returns the snapshots of ids in order; a missing one is nil.
// Pending snapshots are looked up first, as in Get: one that a flush moves
// to Redis after the lookup is then found there, never missed in between.
func (s *Store) GetMany(ctx context.Context, ids []uuid.UUID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	remote := make([]int, 0, len(ids)) // indexes of ids with nothing pending
	for i, id := range ids {
		if b, ok := s.local(id); ok {
			out[i] = b
		} else {
			remote = append(remote, i)
		}
	}
	keys := make([]string, 0, s.batch)
	for start := 0; start < len(remote); start += s.batch {
		end := min(start+s.batch, len(remote))
		keys = keys[:0]
		for _, i := range remote[start:end] {
			keys = append(keys, s.key(ids[i]))
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("mget snapshots: %w", err)
		}
		for j, v := range vals {
			if str, ok := v.(string); ok {
				out[remote[start+j]] = []byte(str)
			}
		}
	}
	return out, nil
}

// ScanIDs hands fn the ids of the snapshots in Redis, about Batch at a time,
// with SCAN so that Redis is never blocked for long. An id may come twice,
// and a snapshot written or deleted meanwhile may or may not be seen. fn
// must not keep ids: the slice is reused.
func (s *Store) ScanIDs(ctx context.Context, fn func(ids []uuid.UUID) error) error {
	prefix := s.prefix + "dev:"
	var cursor uint64
	ids := make([]uuid.UUID, 0, s.batch)
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, prefix+"*", int64(s.batch)).Result()
		if err != nil {
			return fmt.Errorf("scan snapshots: %w", err)
		}
		for _, k := range keys {
			if id, err := uuid.Parse(k[len(prefix):]); err == nil {
				ids = append(ids, id)
			}
		}
		if cursor = next; len(ids) >= s.batch || (cursor == 0 && len(ids) > 0) {
			if err := fn(ids); err != nil {
				return err
			}
			ids = ids[:0]
		}
		if cursor == 0 {
			return nil
		}
	}
}

// Delete drops the snapshots of deleted devices, pending ones included.
func (s *Store) Delete(ctx context.Context, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	s.flushMu.Lock() // a flush in progress must not write them back after us
	defer s.flushMu.Unlock()
	s.mu.Lock()
	for _, id := range ids {
		delete(s.pending, id)
	}
	s.mu.Unlock()
	for start := 0; start < len(ids); start += s.batch {
		end := min(start+s.batch, len(ids))
		keys := make([]string, 0, end-start)
		for _, id := range ids[start:end] {
			keys = append(keys, s.key(id))
		}
		if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("delete snapshots: %w", err)
		}
	}
	return nil
}

// Run flushes every interval until Close.
func (s *Store) Run() {
	s.started.Store(true)
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.Flush(ctx); err != nil {
				s.log.Error().Str("event", "snapshot.flush.error").Err(err).Msg("flush snapshots")
			}
			cancel()
		}
	}
}

// Close stops Run, if it runs, and writes what is pending.
func (s *Store) Close(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	if s.started.Load() {
		<-s.done
	}
	return s.Flush(ctx)
}

// Flush writes every pending snapshot now. Snapshots that fail to write go
// back to pending unless a newer one arrived meanwhile.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	batch := s.pending
	if len(batch) == 0 {
		s.mu.Unlock()
		return nil
	}
	// A map of the fleet's size, made anew every second, was a seventh of
	// the garbage under stress: the flushed one is emptied and reused.
	s.pending, s.spare = s.spare, nil
	if s.pending == nil {
		s.pending = make(map[uuid.UUID][]byte, len(batch))
	}
	s.flying = batch
	s.mu.Unlock()

	start := time.Now()
	err := s.write(ctx, batch)
	s.m.flushSeconds.Observe(time.Since(start).Seconds())

	s.mu.Lock()
	s.flying = nil
	flushed := len(batch) // before the map is emptied for reuse
	if err != nil {
		for id, b := range batch {
			if _, newer := s.pending[id]; !newer {
				s.pending[id] = b
			}
		}
	}
	clear(batch)
	s.spare = batch
	s.mu.Unlock()
	if err != nil {
		s.m.errors.Inc()
		return fmt.Errorf("flush snapshots: %w", err)
	}
	s.m.flushed.Add(float64(flushed))
	return nil
}

// write sets the batch's keys with MSET, Batch keys a command. Against a
// pipeline of SETs this spares a command object, an argument slice and two
// key strings per device, and Redis a reply per key: the flush was an
// eighth of what the server allocated under stress.
func (s *Store) write(ctx context.Context, batch map[uuid.UUID][]byte) error {
	keyLen := len(s.prefix) + len("dev:") + 36
	chunk := min(len(batch), s.batch)
	args := make([]any, 0, 2*chunk)
	keys := make([]byte, 0, chunk*keyLen) // never regrown: args point into it
	for id, b := range batch {
		start := len(keys)
		keys = s.appendKey(keys, id)
		args = append(args, keys[start:], b)
		if len(args) == cap(args) {
			if err := s.rdb.MSet(ctx, args...).Err(); err != nil {
				return err
			}
			args, keys = args[:0], keys[:0] // MSet is done with them
		}
	}
	if len(args) > 0 {
		return s.rdb.MSet(ctx, args...).Err()
	}
	return nil
}

// appendKey appends id's key to dst.
func (s *Store) appendKey(dst []byte, id uuid.UUID) []byte {
	dst = append(dst, s.prefix...)
	dst = append(dst, "dev:"...)
	var hexID [36]byte
	hex.Encode(hexID[:8], id[:4])
	hexID[8] = '-'
	hex.Encode(hexID[9:13], id[4:6])
	hexID[13] = '-'
	hex.Encode(hexID[14:18], id[6:8])
	hexID[18] = '-'
	hex.Encode(hexID[19:23], id[8:10])
	hexID[23] = '-'
	hex.Encode(hexID[24:], id[10:])
	return append(dst, hexID[:]...)
}
