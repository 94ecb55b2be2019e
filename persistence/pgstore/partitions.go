package pgstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

const day = 24 * time.Hour

// Partitions creates the daily partitions of heartbeats and remembers which
// exist, so that the writer checks a batch's days without a query.
type Partitions struct {
	pool  *pgxpool.Pool
	mu    sync.Mutex
	known map[time.Time]bool // UTC midnight -> partition exists
}

// NewPartitions loads the existing partitions of heartbeats.
func NewPartitions(ctx context.Context, pool *pgxpool.Pool) (*Partitions, error) {
	p := &Partitions{pool: pool, known: map[time.Time]bool{}}
	rows, err := pool.Query(ctx, `
		SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class parent ON parent.oid = i.inhparent
		WHERE parent.relname = 'heartbeats'`)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		if d, ok := PartitionDay(name); ok {
			p.known[d] = true
		}
	}
	return p, rows.Err()
}

// PartitionName is the table that holds the heartbeats of the UTC day d.
func PartitionName(d time.Time) string { return "heartbeats_p" + d.UTC().Format("20060102") }

// PartitionDay parses a PartitionName back to its day.
func PartitionDay(name string) (time.Time, bool) {
	s, ok := strings.CutPrefix(name, "heartbeats_p")
	if !ok {
		return time.Time{}, false
	}
	d, err := time.Parse("20060102", s)
	return d, err == nil
}

// DayOf returns the UTC midnight that starts t's day.
func DayOf(t time.Time) time.Time { return t.UTC().Truncate(day) }

// EnsureRange makes sure partitions exist for every day from..to inclusive.
func (p *Partitions) EnsureRange(ctx context.Context, from, to time.Time) error {
	for d := DayOf(from); !d.After(DayOf(to)); d = d.Add(day) {
		if err := p.Ensure(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// Has reports whether the partition of t's day is known to exist.
func (p *Partitions) Has(t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.known[DayOf(t)]
}

// Ensure creates the partition of t's day unless it is known to exist.
func (p *Partitions) Ensure(ctx context.Context, t time.Time) error {
	d := DayOf(t)
	if p.Has(d) {
		return nil
	}
	if err := p.create(ctx, d); err != nil {
		return err
	}
	p.mu.Lock()
	p.known[d] = true
	p.mu.Unlock()
	return nil
}

// Forget drops a day from the cache, after its partition was detached.
func (p *Partitions) Forget(d time.Time) {
	p.mu.Lock()
	delete(p.known, DayOf(d))
	p.mu.Unlock()
}

// Reload forgets everything cached, so the next Ensure checks the database.
func (p *Partitions) Reload() {
	p.mu.Lock()
	p.known = map[time.Time]bool{}
	p.mu.Unlock()
}

func (p *Partitions) create(ctx context.Context, d time.Time) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create partition: %w", err)
	}
	defer tx.Rollback(ctx)
	// Serialise creators across server instances; a short lock timeout keeps a
	// busy parent from stalling the writer for long.
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
		return fmt.Errorf("create partition: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('nexmdm.heartbeats.partitions'))`); err != nil {
		return fmt.Errorf("create partition: lock: %w", err)
	}
	sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF heartbeats FOR VALUES FROM ('%s') TO ('%s')`,
		PartitionName(d), d.Format(time.RFC3339), d.Add(day).Format(time.RFC3339))
	if _, err := tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create partition %s: %w", PartitionName(d), err)
	}
	return tx.Commit(ctx)
}
