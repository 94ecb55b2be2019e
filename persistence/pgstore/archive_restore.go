package pgstore

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// RestoreResult says what Restore brought back.
type RestoreResult struct {
	Partition string
	Rows      int64
	Attached  bool   // a partition of heartbeats again; else a standalone table
	Reason    string // why it was left standalone
}

// Restore brings an archived partition back into a table of its name. It
// reads the whole blob and checks its SHA-256 before touching the database,
// refusing a mismatch with ErrChecksumMismatch; loads it into a new table
// LIKE heartbeats, hashing again as it reads; and attaches the table to
// heartbeats unless Postgres refuses (another partition covers its range),
// when it stays a standalone table and Reason says why. It waits for a
// running retention to finish. Retention leaves a restored partition alone.
func (a *Archiver) Restore(ctx context.Context, partition string) (RestoreResult, error) {
	res := RestoreResult{Partition: partition}
	if !partitionNameRE.MatchString(partition) {
		return res, fmt.Errorf("partition %q: want a name like heartbeats_p20260131", partition)
	}
	conn, err := a.connect(ctx)
	if err != nil {
		return res, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, retentionLock); err != nil {
		return res, fmt.Errorf("retention lock: %w", err)
	}
	defer unlockRetention(conn)
	ar, err := archiveRow(ctx, conn, partition)
	if err == nil && ar.ArchivedAt == nil {
		err = fmt.Errorf("%w: %s is recorded but its archive was not written yet", ErrArchiveNotFound, partition)
	}
	if err != nil {
		return res, err
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, partition).Scan(&exists); err != nil {
		return res, err
	}
	if exists {
		return res, fmt.Errorf("%w: %s; nothing was restored", ErrPartitionExists, partition)
	}
	if err := a.verify(ctx, ar); err != nil {
		a.m.failed.WithLabelValues("restore").Inc()
		a.log.Error().Str("event", "archive.restore.refused").Str("partition", partition).Err(err).Msg("archive not restored")
		return res, err
	}
	if res, err = a.load(ctx, conn, ar); err != nil {
		a.m.failed.WithLabelValues("restore").Inc()
		return res, fmt.Errorf("restore %s: %w", partition, err)
	}
	a.log.Info().Str("event", "archive.restore").Str("partition", partition).Int64("rows", res.Rows).
		Bool("attached", res.Attached).Str("reason", res.Reason).Msg("partition restored")
	return res, nil
}

// load creates the table, copies the archive into it and attaches it, in
// one transaction: a failure, or a blob that changed since it was
// verified, leaves nothing behind.
func (a *Archiver) load(ctx context.Context, conn *pgx.Conn, ar Archive) (RestoreResult, error) {
	res := RestoreResult{Partition: ar.Partition}
	r, err := a.blobs.NewRangeReader(ctx, ar.Location, 0, -1)
	if err != nil {
		return res, err
	}
	defer r.Close()
	h := sha256.New()
	blob := io.TeeReader(r, h)
	gz, err := gzip.NewReader(blob)
	if err != nil {
		return res, fmt.Errorf("decompress: %w", err)
	}
	body := bufio.NewReader(gz)
	cols, err := csvColumns(body)
	if err != nil {
		return res, err
	}
	table := pgx.Identifier{ar.Partition}.Sanitize()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE `+table+` (LIKE heartbeats INCLUDING ALL)`); err != nil {
			return fmt.Errorf("create table: %w", err)
		}
		tag, err := conn.PgConn().CopyFrom(ctx, body, `COPY `+table+` (`+cols+`) FROM STDIN (FORMAT csv)`)
		if err != nil {
			return fmt.Errorf("copy in: %w", err)
		}
		if _, err := io.Copy(io.Discard, blob); err != nil { // the hash covers the whole blob
			return fmt.Errorf("read %s: %w", ar.Location, err)
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != ar.SHA256 {
			return fmt.Errorf("%w: %s changed while it was restored (sha256 %s)", ErrChecksumMismatch, ar.Location, sum)
		}
		if res.Rows = tag.RowsAffected(); res.Rows != ar.Rows {
			return fmt.Errorf("loaded %d rows; the archive recorded %d", res.Rows, ar.Rows)
		}
		if res.Attached, res.Reason, err = attach(ctx, tx, ar); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE partition_archives SET restored_at = $2, last_error = '' WHERE partition_name = $1`, ar.Partition, a.now())
		return err
	})
	return res, err
}

// csvColumns reads the header line COPY wrote and returns its columns
// quoted for a column list, so that an archive loads by name even after
// heartbeats gains columns.
func csvColumns(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read the CSV header: %w", err)
	}
	names, err := csv.NewReader(strings.NewReader(line)).Read()
	if err != nil || len(names) == 0 {
		return "", fmt.Errorf("parse the CSV header: %v", err)
	}
	for i, n := range names {
		names[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(names, ", "), nil
}

// SQLSTATEs of an ATTACH PARTITION that Postgres refuses for the data or
// the ranges, not for a fault: the table then stays standalone.
const (
	codeInvalidObjectDefinition = "42P17" // would overlap another partition
)

// attach makes the restored table a partition of heartbeats again, or
// says why it cannot be one.
func attach(ctx context.Context, tx pgx.Tx, ar Archive) (bool, string, error) {
	if _, err := tx.Exec(ctx, `SAVEPOINT attach`); err != nil {
		return false, "", err
	}
	_, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE heartbeats ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')`,
		pgx.Identifier{ar.Partition}.Sanitize(), ar.RangeStart.UTC().Format(time.RFC3339), ar.RangeEnd.UTC().Format(time.RFC3339)))
	if err == nil {
		return true, "", nil
	}
	if s := sqlState(err); s != codeInvalidObjectDefinition && s != codeCheckViolation {
		return false, "", fmt.Errorf("attach: %w", err)
	}
	if _, rerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT attach`); rerr != nil {
		return false, "", rerr
	}
	return false, err.Error(), nil
}
