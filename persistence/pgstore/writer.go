package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence"
)

// WriterConfig tunes the group-commit heartbeat writer.
type WriterConfig struct {
	MaxBatch      int           // rows per transaction
	Committers    int           // transactions in flight at once
	QueueSize     int           // rows that may wait for a committer before Enqueue refuses
	Linger        time.Duration // how long a committer waits for a fuller batch; 0 takes what is queued
	CommitTimeout time.Duration // a transaction that takes longer fails its rows with 503
}

// DefaultWriterConfig suits this machine: two transactions in flight keep
// PostgreSQL busy while the next batch forms (measured: 2 connections
// give about 1.3x the rows of one). The cfg.Linger of NewWriter is taken as
// given, since 0 is a setting: commit what is queued.
func DefaultWriterConfig() WriterConfig {
	return WriterConfig{MaxBatch: 5000, Committers: 2, QueueSize: 65536, Linger: time.Millisecond, CommitTimeout: 10 * time.Second}
}

// ErrWriterClosed is the outcome of a write enqueued after Close.
var ErrWriterClosed = errors.New("heartbeat writer is closed")

// Writer is the group-commit heartbeat writer. Rows from all device actors
// share transactions: each commits its rows into heartbeats and each
// device's newest into device_last_status, and only then are the rows'
// writers told.
// A committer takes whatever is queued when it becomes free, so batches grow
// with load and latency stays at one commit when the server is idle.
type Writer struct {
	pool  *pgxpool.Pool
	parts *Partitions
	cfg   WriterConfig
	log   zerolog.Logger
	m     *writerMetrics

	closeMu sync.RWMutex // guards closed and the send side of queue
	closed  bool
	queue   chan queued

	pull       sync.Mutex // one committer drains the queue at a time, so batches are contiguous
	inflightMu sync.Mutex
	inflight   map[*batch]struct{}
	wg         sync.WaitGroup
}

// queued is a write, or a barrier marker when barrier is non-nil.
type queued struct {
	w       *persistence.HeartbeatWrite
	barrier chan struct{}
}

type batch struct {
	writes []*persistence.HeartbeatWrite
	done   chan struct{}
}

// NewWriter starts cfg.Committers committers. Close stops them.
func NewWriter(pool *pgxpool.Pool, parts *Partitions, cfg WriterConfig, reg prometheus.Registerer, log zerolog.Logger) *Writer {
	def := DefaultWriterConfig()
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = def.MaxBatch
	}
	if cfg.Committers <= 0 {
		cfg.Committers = def.Committers
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = def.QueueSize
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = def.CommitTimeout
	}
	w := &Writer{
		pool: pool, parts: parts, cfg: cfg, log: log,
		queue:    make(chan queued, cfg.QueueSize),
		inflight: map[*batch]struct{}{},
	}
	w.m = newWriterMetrics(reg, func() float64 { return float64(len(w.queue)) })
	for i := 0; i < cfg.Committers; i++ {
		w.wg.Add(1)
		go w.run()
	}
	return w
}

// Enqueue implements persistence.HeartbeatSink.
func (w *Writer) Enqueue(x *persistence.HeartbeatWrite) bool {
	w.closeMu.RLock()
	defer w.closeMu.RUnlock()
	if w.closed {
		return false
	}
	select {
	case w.queue <- queued{w: x}:
		return true
	default:
		w.m.refused.Inc()
		return false
	}
}

// Barrier returns once every write enqueued before it has been committed or
// failed. Deleting a device uses it so that no row of the device lands after
// the delete.
func (w *Writer) Barrier(ctx context.Context) error {
	ch := make(chan struct{})
	w.closeMu.RLock()
	if w.closed {
		w.closeMu.RUnlock()
		return ErrWriterClosed
	}
	select {
	case w.queue <- queued{barrier: ch}:
		w.closeMu.RUnlock()
	case <-ctx.Done():
		w.closeMu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// QueueDepth is the number of rows waiting for a committer.
func (w *Writer) QueueDepth() int { return len(w.queue) }

// Close stops accepting rows, commits everything already queued and waits
// for the committers, or for ctx.
func (w *Writer) Close(ctx context.Context) error {
	w.closeMu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.closeMu.Unlock()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close writer: %w", ctx.Err())
	}
}

func (w *Writer) run() {
	defer w.wg.Done()
	for {
		b, barrier, earlier, ok := w.take()
		if b != nil {
			w.commit(b.writes)
			w.finish(b)
		}
		if barrier != nil {
			go func() {
				for _, e := range earlier {
					<-e.done
				}
				close(barrier)
			}()
		}
		if !ok {
			return
		}
	}
}

// take waits for the next batch: everything queued up to MaxBatch rows or a
// barrier. With a barrier it also returns the batches that must finish
// before the barrier may open. ok is false once the queue is closed and empty.
func (w *Writer) take() (b *batch, barrier chan struct{}, earlier []*batch, ok bool) {
	w.pull.Lock()
	defer w.pull.Unlock()
	first, open := <-w.queue
	if !open {
		return nil, nil, nil, false
	}
	writes := make([]*persistence.HeartbeatWrite, 0, 64)
	if first.barrier != nil {
		barrier = first.barrier
	} else {
		writes = append(writes, first.w)
		barrier, open = w.drain(&writes)
	}
	w.inflightMu.Lock()
	defer w.inflightMu.Unlock()
	if len(writes) > 0 {
		b = &batch{writes: writes, done: make(chan struct{})}
		w.inflight[b] = struct{}{}
	}
	if barrier != nil {
		for e := range w.inflight {
			earlier = append(earlier, e)
		}
	}
	return b, barrier, earlier, open
}

// drain appends queued writes until the batch is full, the queue is empty
// (after lingering, if configured) or a barrier comes up.
func (w *Writer) drain(writes *[]*persistence.HeartbeatWrite) (barrier chan struct{}, open bool) {
	var linger <-chan time.Time
	if w.cfg.Linger > 0 {
		t := time.NewTimer(w.cfg.Linger)
		defer t.Stop()
		linger = t.C
	}
	for len(*writes) < w.cfg.MaxBatch {
		var q queued
		var ok bool
		select {
		case q, ok = <-w.queue:
		default:
			if linger == nil {
				return nil, true
			}
			select {
			case q, ok = <-w.queue:
			case <-linger:
				return nil, true
			}
		}
		if !ok {
			return nil, false
		}
		if q.barrier != nil {
			return q.barrier, true
		}
		*writes = append(*writes, q.w)
	}
	return nil, true
}

func (w *Writer) finish(b *batch) {
	w.inflightMu.Lock()
	delete(w.inflight, b)
	w.inflightMu.Unlock()
	close(b.done)
}

// commit stores one batch and tells every row's notifier the outcome. A batch
// that fails on a data problem is repaired and retried, so that one odd row
// never fails the others: a missing partition is created, and a row whose
// bucket turns out to be stored already sends the batch down the
// insert-if-absent path.
func (w *Writer) commit(writes []*persistence.HeartbeatWrite) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.CommitTimeout)
	defer cancel()

	err := w.ensurePartitions(ctx, writes)
	if err == nil {
		err = w.commitOnce(ctx, writes)
	}
	for attempt := 0; err != nil && attempt < 2 && ctx.Err() == nil; attempt++ {
		reason := sqlState(err)
		switch reason {
		case codeCheckViolation:
			w.parts.Reload()
			if err = w.ensurePartitions(ctx, writes); err != nil {
				continue
			}
		case codeUniqueViolation:
			for _, x := range writes {
				x.IfAbsent = true
			}
		case codeDeadlock, codeSerialization:
		default:
			attempt = 2 // not repairable
			continue
		}
		w.m.retries.WithLabelValues(reason).Inc()
		err = w.commitOnce(ctx, writes)
	}

	w.m.commitSeconds.Observe(time.Since(start).Seconds())
	w.m.batchRows.Observe(float64(len(writes)))
	if err != nil {
		w.m.commitErrors.Inc()
		w.m.rows.WithLabelValues("failed").Add(float64(len(writes)))
		w.log.Error().Str("event", "heartbeat.batch.error").Err(err).Int("rows", len(writes)).Msg("heartbeat batch failed")
		err = fmt.Errorf("commit heartbeats: %w", err)
	}
	var stored, dup int
	for _, x := range writes {
		x.Err = err
		if err == nil {
			if x.Duplicate {
				dup++
			} else {
				stored++
			}
		}
		x.Notify.HeartbeatWritten(x)
	}
	if err == nil {
		w.m.rows.WithLabelValues("stored").Add(float64(stored))
		w.m.rows.WithLabelValues("duplicate").Add(float64(dup))
	}
}

func (w *Writer) ensurePartitions(ctx context.Context, writes []*persistence.HeartbeatWrite) error {
	var last time.Time
	for _, x := range writes {
		d := DayOf(x.Heartbeat.TS.Truncate(persistence.BucketWidth))
		if d.Equal(last) {
			continue
		}
		last = d
		if err := w.parts.Ensure(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// commitOnce stores a batch in one transaction. A batch whose buckets are
// all new (the usual case) is one statement, so one round trip in its
// implicit transaction, whatever its size: measured against COPY plus an
// upsert (four round trips) under stress, it sent every column once rather
// than twice and allocated 1.5 KB a heartbeat rather than 2.5 KB, for as
// much PostgreSQL CPU. A batch that may repeat stored buckets needs the
// insert's answer before the upsert.
func (w *Writer) commitOnce(ctx context.Context, writes []*persistence.HeartbeatWrite) error {
	anyIfAbsent := false
	for _, x := range writes {
		x.Duplicate = false
		anyIfAbsent = anyIfAbsent || x.IfAbsent
	}
	if !anyIfAbsent {
		return w.pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
			return storeNewBuckets(ctx, c.Conn(), writes)
		})
	}

	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if err := insertIfAbsent(ctx, tx, writes); err != nil {
		return err
	}
	if err := upsertLastStatus(ctx, tx, writes); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

type writerMetrics struct {
	batchRows     prometheus.Histogram
	commitSeconds prometheus.Histogram
	rows          *prometheus.CounterVec
	retries       *prometheus.CounterVec
	commitErrors  prometheus.Counter
	refused       prometheus.Counter
}

func newWriterMetrics(reg prometheus.Registerer, depth func() float64) *writerMetrics {
	m := &writerMetrics{
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "nexmdm_writer_batch_rows", Help: "Heartbeat rows per committed transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "nexmdm_writer_commit_duration_seconds", Help: "Time to store one batch, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_writer_rows_total", Help: "Heartbeat rows by outcome: stored, duplicate, failed.",
		}, []string{"result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_writer_retries_total", Help: "Batches retried after a repairable error, by SQLSTATE.",
		}, []string{"sqlstate"}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nexmdm_writer_commit_errors_total", Help: "Batches that failed; their rows were answered 503.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nexmdm_writer_refused_total", Help: "Rows refused because the writer queue was full.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.batchRows, m.commitSeconds, m.rows, m.retries, m.commitErrors, m.refused,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "nexmdm_writer_queue_depth", Help: "Heartbeat rows waiting for a committer.",
			}, depth))
	}
	return m
}
