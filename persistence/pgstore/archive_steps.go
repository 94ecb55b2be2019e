package pgstore

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
)

// step is a stage of a partition's retirement, in order.
type step int

const (
	stepRecord step = iota
	stepDetach
	stepArchive
	stepVerify
	stepDrop
)

func (s step) String() string {
	return [...]string{"record", "detach", "archive", "verify", "drop"}[s]
}

// retire runs c's steps up to last, skipping what an earlier run finished.
// A failure is logged, counted and written to the row's last_error.
func (a *Archiver) retire(ctx context.Context, conn *pgx.Conn, c candidate, last step, rep *RetentionReport) error {
	s, err := a.retireSteps(ctx, conn, c, last, rep)
	if err == nil {
		return nil
	}
	a.m.failed.WithLabelValues(s.String()).Inc()
	ev := a.log.Error().Str("event", "retention."+s.String()+".error").Str("partition", c.name).Err(err)
	if errors.Is(err, ErrChecksumMismatch) {
		ev = ev.Bool("kept", true)
	}
	ev.Msg("partition not retired; the table is kept")
	if !conn.IsClosed() && ctx.Err() == nil {
		_, _ = conn.Exec(ctx, `UPDATE partition_archives SET last_error = $2 WHERE partition_name = $1`, c.name, s.String()+": "+err.Error())
	}
	return err
}

func (a *Archiver) retireSteps(ctx context.Context, conn *pgx.Conn, c candidate, last step, rep *RetentionReport) (step, error) {
	ar, err := a.record(ctx, conn, c)
	if err != nil || a.stop(c.name, stepRecord, last) {
		return stepRecord, err
	}
	if c.attached {
		if err := a.detach(ctx, conn, c); err != nil {
			return stepDetach, err
		}
	}
	if a.stop(c.name, stepDetach, last) {
		return stepDetach, nil
	}
	if ar.ArchivedAt == nil {
		if ar, err = a.archive(ctx, conn, ar); err != nil {
			return stepArchive, err
		}
		rep.Archived = append(rep.Archived, c.name)
	}
	if a.stop(c.name, stepArchive, last) {
		return stepArchive, nil
	}
	if err := a.verifyAndStamp(ctx, conn, ar); err != nil || a.stop(c.name, stepVerify, last) {
		return stepVerify, err
	}
	if err := a.drop(ctx, conn, c.name); err != nil {
		return stepDrop, err
	}
	rep.Dropped = append(rep.Dropped, c.name)
	a.stop(c.name, stepDrop, last)
	return stepDrop, nil
}

// stop reports whether s was the last step to run, after the test hook.
func (a *Archiver) stop(partition string, s, last step) bool {
	if a.afterStep != nil {
		a.afterStep(partition, s)
	}
	return s >= last
}

// record writes c's row unless an earlier run did, and returns it. A row
// that says dropped while the table exists is refused: overwriting its
// archive would lose the first copy.
func (a *Archiver) record(ctx context.Context, conn *pgx.Conn, c candidate) (Archive, error) {
	_, err := conn.Exec(ctx, `INSERT INTO partition_archives (partition_name, range_start, range_end, location)
		VALUES ($1, $2, $3, $4) ON CONFLICT (partition_name) DO NOTHING`, c.name, c.start, c.end, ArchiveKey(c.name))
	if err != nil {
		return Archive{}, fmt.Errorf("record: %w", err)
	}
	ar, err := archiveRow(ctx, conn, c.name)
	if err == nil && ar.DroppedAt != nil {
		err = fmt.Errorf("%s was archived and dropped at %s, yet the table exists again: restore or rename it by hand",
			c.name, ar.DroppedAt.UTC().Format(time.RFC3339))
	}
	return ar, err
}

const archiveCols = `partition_name, range_start, range_end, rows, bytes, sha256, location,
	archived_at, verified_at, dropped_at, restored_at, last_error`

func archiveRow(ctx context.Context, conn *pgx.Conn, name string) (Archive, error) {
	rows, _ := conn.Query(ctx, `SELECT `+archiveCols+` FROM partition_archives WHERE partition_name = $1`, name)
	ar, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Archive])
	if errors.Is(err, pgx.ErrNoRows) {
		return ar, fmt.Errorf("%w: %s", ErrArchiveNotFound, name)
	}
	return ar, err
}

// execWithLockTimeout runs a DDL statement that may wait for locks that long.
func execWithLockTimeout(ctx context.Context, conn *pgx.Conn, timeout, sql string) error {
	if _, err := conn.Exec(ctx, `SELECT set_config('lock_timeout', $1, false)`, timeout); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, sql)
	if _, rerr := conn.Exec(ctx, `SELECT set_config('lock_timeout', $1, false)`, shortLockTimeout); err == nil {
		err = rerr
	}
	return err
}

// detach detaches c from heartbeats: CONCURRENTLY, so that writers are not
// blocked; FINALIZE when an earlier try was interrupted; plainly when
// CONCURRENTLY is refused.
func (a *Archiver) detach(ctx context.Context, conn *pgx.Conn, c candidate) error {
	table := pgx.Identifier{c.name}.Sanitize()
	if !c.pending {
		err := execWithLockTimeout(ctx, conn, longLockTimeout, `ALTER TABLE heartbeats DETACH PARTITION `+table+` CONCURRENTLY`)
		if err == nil || ctx.Err() != nil || conn.IsClosed() {
			return a.detached(c, err)
		}
		a.log.Warn().Str("event", "retention.detach.retry").Str("partition", c.name).Err(err).Msg("DETACH CONCURRENTLY failed")
		if err := conn.QueryRow(ctx, `SELECT i.inhdetachpending FROM pg_inherits i
			WHERE i.inhrelid = $1::regclass AND i.inhparent = 'heartbeats'::regclass`, c.name).Scan(&c.pending); err != nil {
			return a.detached(c, ignoreNoRows(err)) // no row: it is detached after all
		}
	}
	if c.pending {
		return a.detached(c, execWithLockTimeout(ctx, conn, longLockTimeout, `ALTER TABLE heartbeats DETACH PARTITION `+table+` FINALIZE`))
	}
	_, err := conn.Exec(ctx, `ALTER TABLE heartbeats DETACH PARTITION `+table)
	return a.detached(c, err)
}

func ignoreNoRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

func (a *Archiver) detached(c candidate, err error) error {
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	if a.parts != nil {
		a.parts.Forget(c.start)
	}
	a.log.Info().Str("event", "retention.detach").Str("partition", c.name).Msg("partition detached")
	return nil
}

// archive streams the detached table as CSV through gzip and SHA-256 into
// the blob store, and records rows, bytes and checksum. Nothing is held in
// memory but the pipe's buffers.
func (a *Archiver) archive(ctx context.Context, conn *pgx.Conn, ar Archive) (Archive, error) {
	pr, pw := io.Pipe()
	h := sha256.New()
	copied := make(chan error, 1)
	var rows int64
	go func() {
		gz := gzip.NewWriter(io.MultiWriter(pw, h))
		tag, err := conn.PgConn().CopyTo(ctx, gz, `COPY `+pgx.Identifier{ar.Partition}.Sanitize()+` TO STDOUT (FORMAT csv, HEADER)`)
		if cerr := gz.Close(); err == nil {
			err = cerr
		}
		rows = tag.RowsAffected()
		pw.CloseWithError(err) // nil: the upload sees EOF
		copied <- err
	}()
	n, err := a.blobs.PutStream(ctx, ar.Location, pr)
	pr.CloseWithError(errUploadStopped) // unblocks the COPY if the upload gave up
	switch cerr := <-copied; {
	case cerr != nil && !errors.Is(cerr, errUploadStopped):
		return ar, fmt.Errorf("copy out: %w", cerr)
	case err != nil:
		return ar, fmt.Errorf("upload: %w", err)
	}
	now := a.now()
	ar.Rows, ar.Bytes, ar.SHA256, ar.ArchivedAt, ar.VerifiedAt = rows, n, hex.EncodeToString(h.Sum(nil)), &now, nil
	if _, err := conn.Exec(ctx, `UPDATE partition_archives SET rows = $2, bytes = $3, sha256 = $4, archived_at = $5,
		verified_at = NULL, last_error = '' WHERE partition_name = $1`, ar.Partition, ar.Rows, ar.Bytes, ar.SHA256, now); err != nil {
		return ar, fmt.Errorf("record archive: %w", err)
	}
	a.m.archived.Inc()
	a.m.bytes.Add(float64(n))
	a.log.Info().Str("event", "retention.archive").Str("partition", ar.Partition).Str("location", ar.Location).
		Int64("rows", rows).Int64("bytes", n).Str("sha256", ar.SHA256).Msg("partition archived")
	return ar, nil
}

var errUploadStopped = errors.New("upload stopped")

// verify reads the blob back and compares its SHA-256 and size with the
// recorded ones.
func (a *Archiver) verify(ctx context.Context, ar Archive) error {
	r, err := a.blobs.NewRangeReader(ctx, ar.Location, 0, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("read back %s: %w", ar.Location, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != ar.SHA256 || n != ar.Bytes {
		return fmt.Errorf("%w: %s is %d bytes with sha256 %s; recorded %d bytes with %s",
			ErrChecksumMismatch, ar.Location, n, sum, ar.Bytes, ar.SHA256)
	}
	return nil
}

func (a *Archiver) verifyAndStamp(ctx context.Context, conn *pgx.Conn, ar Archive) error {
	if err := a.verify(ctx, ar); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, `UPDATE partition_archives SET verified_at = $2, last_error = '' WHERE partition_name = $1`, ar.Partition, a.now())
	return err
}

// drop drops the detached, verified table and stamps dropped_at, in one
// transaction: either both happen or neither.
func (a *Archiver) drop(ctx context.Context, conn *pgx.Conn, name string) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE partition_archives SET dropped_at = $2, last_error = ''
			WHERE partition_name = $1 AND verified_at IS NOT NULL AND dropped_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = $1::regclass)`, name, a.now())
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errors.New("not verified, already dropped, or still attached")
		}
		_, err = tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{name}.Sanitize())
		return err
	})
	if err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	a.m.dropped.Inc()
	a.log.Info().Str("event", "retention.drop").Str("partition", name).Msg("partition dropped")
	return nil
}
