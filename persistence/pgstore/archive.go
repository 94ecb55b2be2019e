package pgstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence/blobstore"
)

// ErrChecksumMismatch means an archive's blob does not hash to the SHA-256
// recorded when it was written: it was changed, damaged or replaced.
var ErrChecksumMismatch = errors.New("archive checksum mismatch")

// ErrArchiveNotFound means partition_archives has no written archive of
// the partition.
var ErrArchiveNotFound = errors.New("no archive of that partition")

// ErrPartitionExists means a restore found a table with the partition's
// name already there.
var ErrPartitionExists = errors.New("a table with the partition's name exists")

// Archive is a row of partition_archives: a heartbeats partition past
// retention, how far its retirement went, and where its archive is.
type Archive struct {
	Partition  string     `db:"partition_name"`
	RangeStart time.Time  `db:"range_start"` // inclusive
	RangeEnd   time.Time  `db:"range_end"`   // exclusive
	Rows       int64      `db:"rows"`
	Bytes      int64      `db:"bytes"`  // compressed size of the blob
	SHA256     string     `db:"sha256"` // hex SHA-256 of the blob
	Location   string     `db:"location"`
	ArchivedAt *time.Time `db:"archived_at"`
	VerifiedAt *time.Time `db:"verified_at"`
	DroppedAt  *time.Time `db:"dropped_at"`
	RestoredAt *time.Time `db:"restored_at"`
	LastError  string     `db:"last_error"` // why the last step failed
}

// ArchiveKey is the blob key of a partition's archive: gzip-compressed CSV
// with a header line, as COPY writes it.
func ArchiveKey(partition string) string { return "archives/heartbeats/" + partition + ".csv.gz" }

// RetentionReport says what one RunRetention did.
type RetentionReport struct {
	Skipped  bool     // another server holds the retention lock; nothing was done
	Archived []string // written and checksummed this run
	Dropped  []string // verified and dropped this run
	Failed   []string // left in place; partition_archives.last_error says why
	Vacuumed []string
}

// Archiver retires heartbeat partitions past retention into the blob store
// and restores them. One server at a time runs it, under an advisory lock.
type Archiver struct {
	pool      *pgxpool.Pool
	blobs     *blobstore.Store
	now       func() time.Time
	log       zerolog.Logger
	m         *archiveMetrics
	parts     *Partitions                    // optional cache told about detaches
	afterStep func(partition string, s step) // tests: called after each step
}

// ArchiverOption tunes an Archiver.
type ArchiverOption func(*Archiver)

// WithPartitionCache makes the archiver forget a day in parts once its
// partition is detached.
func WithPartitionCache(parts *Partitions) ArchiverOption {
	return func(a *Archiver) { a.parts = parts }
}

// NewArchiver archives into blobs; now is the clock that decides what is
// past retention. Metrics are registered with reg unless it is nil.
func NewArchiver(pool *pgxpool.Pool, blobs *blobstore.Store, now func() time.Time, log zerolog.Logger,
	reg prometheus.Registerer, opts ...ArchiverOption) *Archiver {
	a := &Archiver{pool: pool, blobs: blobs, now: now, log: log, m: newArchiveMetrics(reg)}
	for _, o := range opts {
		o(a)
	}
	return a
}

// retentionLock names the advisory lock that retention and restores hold.
const retentionLock = "nexmdm.heartbeats.retention"

// Lock timeouts: short for statements that queue ahead of the writer
// (plain DETACH, DROP), long for those that only wait for old readers.
const (
	shortLockTimeout = "5s"
	longLockTimeout  = "10min"
)

var partitionNameRE = regexp.MustCompile(`^heartbeats_p[0-9]{8}$`)

// unlockRetention gives the retention lock back before its connection
// closes. Closing alone would free it only once the server's backend has
// exited, after Close returns, and a run started right after could still
// find it held and skip.
func unlockRetention(conn *pgx.Conn) {
	_, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext($1))`, retentionLock)
}

// connect opens the dedicated connection a run holds its advisory lock on;
// closing it releases the lock and every session setting.
func (a *Archiver) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := a.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "nexmdm-retention"
	cfg.RuntimeParams["DateStyle"] = "ISO, YMD" // COPY's CSV dates read back the same everywhere
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cfg.RuntimeParams["lock_timeout"] = shortLockTimeout
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("retention connection: %w", err)
	}
	return conn, nil
}

// RunRetention retires, oldest first, every heartbeats partition whose
// range ends at or before now-retention: detach, archive, verify, drop.
// Then it vacuums and analyzes today's and yesterday's partitions. When
// another server holds the lock it returns a report with Skipped set.
// A partition that fails a step is left where it is and counted; the
// others go on. Each step is recorded, so the next run resumes.
func (a *Archiver) RunRetention(ctx context.Context, retention time.Duration) (RetentionReport, error) {
	start := time.Now()
	rep, err := a.runRetention(ctx, retention)
	result := "ok"
	switch {
	case err != nil:
		result = "error"
		a.log.Error().Str("event", "retention.error").Err(err).Msg("retention run failed")
	case rep.Skipped:
		result = "skipped"
		a.log.Debug().Str("event", "retention.skip").Msg("another server runs retention")
	default:
		a.m.duration.Set(time.Since(start).Seconds())
		a.log.Info().Str("event", "retention.done").Strs("archived", rep.Archived).Strs("dropped", rep.Dropped).
			Strs("failed", rep.Failed).Dur("took", time.Since(start)).Msg("retention run")
	}
	a.m.runs.WithLabelValues(result).Inc()
	return rep, err
}

func (a *Archiver) runRetention(ctx context.Context, retention time.Duration) (RetentionReport, error) {
	var rep RetentionReport
	conn, err := a.connect(ctx)
	if err != nil {
		return rep, err
	}
	defer conn.Close(context.Background())
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, retentionLock).Scan(&locked); err != nil {
		return rep, fmt.Errorf("retention lock: %w", err)
	}
	if !locked {
		rep.Skipped = true
		return rep, nil
	}
	defer unlockRetention(conn)
	now := a.now()
	cands, err := a.candidates(ctx, conn, now.Add(-retention))
	if err != nil {
		return rep, err
	}
	for _, c := range cands {
		if err := a.retire(ctx, conn, c, stepDrop, &rep); err != nil {
			if ctx.Err() != nil || conn.IsClosed() {
				return rep, fmt.Errorf("retire %s: %w", c.name, err)
			}
			rep.Failed = append(rep.Failed, c.name)
		}
	}
	rep.Vacuumed = a.vacuumRecent(ctx, conn, now)
	return rep, nil
}

// candidate is a heartbeats_pYYYYMMDD table past retention.
type candidate struct {
	name       string
	start, end time.Time
	attached   bool // still a partition of heartbeats
	pending    bool // a DETACH CONCURRENTLY was interrupted
}

// candidates lists the partitions, attached or detached by an earlier run,
// that end at or before cutoff, oldest first. Restored ones are left alone.
func (a *Archiver) candidates(ctx context.Context, conn *pgx.Conn, cutoff time.Time) ([]candidate, error) {
	rows, err := conn.Query(ctx, `
		SELECT c.relname, i.inhrelid IS NOT NULL, coalesce(i.inhdetachpending, false)
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
		LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'heartbeats'::regclass
		LEFT JOIN partition_archives pa ON pa.partition_name = c.relname
		WHERE c.relkind = 'r' AND c.relname ~ '^heartbeats_p[0-9]{8}$' AND pa.restored_at IS NULL
		ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	var out []candidate
	var c candidate
	_, err = pgx.ForEachRow(rows, []any{&c.name, &c.attached, &c.pending}, func() error {
		d, ok := PartitionDay(c.name)
		if c.start, c.end = d, d.Add(day); ok && !c.end.After(cutoff) {
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	return out, nil
}

// Archives lists partition_archives, oldest range first.
func (a *Archiver) Archives(ctx context.Context) ([]Archive, error) {
	rows, _ := a.pool.Query(ctx, `SELECT `+archiveCols+` FROM partition_archives ORDER BY range_start, partition_name`)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Archive])
	if err != nil {
		return nil, fmt.Errorf("list archives: %w", err)
	}
	return out, nil
}

// State names how far an archive got: recorded (detaching), archived,
// verified, dropped or restored; failed when its last step failed.
func (ar Archive) State() string {
	switch {
	case ar.RestoredAt != nil:
		return "restored"
	case ar.LastError != "":
		return "failed"
	case ar.DroppedAt != nil:
		return "dropped"
	case ar.VerifiedAt != nil:
		return "verified"
	case ar.ArchivedAt != nil:
		return "archived"
	}
	return "recorded"
}

// vacuumRecent vacuums and analyzes today's and yesterday's partitions,
// the newest that hold rows. A failure is logged, not fatal.
func (a *Archiver) vacuumRecent(ctx context.Context, conn *pgx.Conn, now time.Time) []string {
	var done []string
	for _, d := range []time.Time{DayOf(now).Add(-day), DayOf(now)} {
		name := PartitionName(d)
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil || !exists {
			continue
		}
		if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) `+pgx.Identifier{name}.Sanitize()); err != nil {
			a.log.Warn().Str("event", "retention.vacuum.error").Str("partition", name).Err(err).Msg("vacuum failed")
			continue
		}
		done = append(done, name)
	}
	return done
}

// archiveMetrics are the retention's Prometheus metrics.
type archiveMetrics struct {
	archived, dropped, bytes prometheus.Counter
	failed, runs             *prometheus.CounterVec
	duration                 prometheus.Gauge
}

func newArchiveMetrics(reg prometheus.Registerer) *archiveMetrics {
	m := &archiveMetrics{
		archived: prometheus.NewCounter(prometheus.CounterOpts{Name: "nexmdm_partitions_archived_total",
			Help: "Heartbeat partitions written to the blob store."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "nexmdm_partitions_dropped_total",
			Help: "Heartbeat partitions dropped after their archive was verified."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "nexmdm_partition_archive_bytes_total",
			Help: "Compressed bytes of partition archives written."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nexmdm_partition_archive_failures_total",
			Help: "Partition retirements and restores that failed, by step (record, detach, archive, verify, drop, restore)."}, []string{"step"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nexmdm_retention_runs_total",
			Help: "Retention runs by result (ok, skipped: another server held the lock, error)."}, []string{"result"}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nexmdm_retention_last_run_duration_seconds",
			Help: "How long the last completed retention run took."}),
	}
	if reg != nil {
		reg.MustRegister(m.archived, m.dropped, m.bytes, m.failed, m.runs, m.duration)
	}
	return m
}
