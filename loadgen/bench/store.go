package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// databases are the bench's own: <name> for NexMDM and <name>_baseline for
// the baseline, both migrated by `nexmdm migrate`, on the PostgreSQL server
// of Config.Postgres.
type databases struct {
	nexmdm, baseline string // URLs
}

// prepareDatabases creates the bench databases if they are missing and
// migrates them.
func prepareDatabases(ctx context.Context, adminURL, name, nexmdmBin string) (databases, error) {
	var dbs databases
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return dbs, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	for _, name := range []string{name, name + "_baseline"} {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
			return dbs, err
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
				return dbs, fmt.Errorf("create database %s: %w", name, err)
			}
		}
		u, err := withDatabase(adminURL, name)
		if err != nil {
			return dbs, err
		}
		cmd := exec.CommandContext(ctx, nexmdmBin, "migrate")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+u)
		if out, err := cmd.CombinedOutput(); err != nil {
			return dbs, fmt.Errorf("migrate %s: %w\n%s", name, err, out)
		}
	}
	dbs.nexmdm, _ = withDatabase(adminURL, name)
	dbs.baseline, _ = withDatabase(adminURL, name+"_baseline")
	return dbs, nil
}

func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bad PostgreSQL URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// truncate empties tables of a bench database.
func truncate(ctx context.Context, dbURL string, tables ...string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "TRUNCATE "+strings.Join(tables, ", "))
	return err
}

// copyLastStatus gives the baseline the same live-status rows as NexMDM, so
// its upserts update existing rows as a deployed server's do.
func copyLastStatus(ctx context.Context, from, to string) (int64, error) {
	src, err := pgx.Connect(ctx, from)
	if err != nil {
		return 0, err
	}
	defer src.Close(ctx)
	dst, err := pgx.Connect(ctx, to)
	if err != nil {
		return 0, err
	}
	defer dst.Close(ctx)
	if _, err := dst.Exec(ctx, "TRUNCATE device_last_status"); err != nil {
		return 0, err
	}
	rows, err := src.Query(ctx, "SELECT * FROM device_last_status")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols := make([]string, len(rows.FieldDescriptions()))
	for i, f := range rows.FieldDescriptions() {
		cols[i] = f.Name
	}
	var all [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return 0, err
		}
		all = append(all, vals)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return dst.CopyFrom(ctx, pgx.Identifier{"device_last_status"}, cols, pgx.CopyFromRows(all))
}

// countHeartbeats is how many heartbeat rows a target holds.
func countHeartbeats(ctx context.Context, dbURL string) (int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM heartbeats`).Scan(&n)
	return n, err
}

// DropDatabases removes a bench's databases, for tests that run a bench of
// their own.
func DropDatabases(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, db := range []string{name, name + "_baseline"} {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			return err
		}
	}
	return nil
}

// FlushRedis deletes a bench's Redis keys.
func FlushRedis(ctx context.Context, redisURL, name string) error {
	if err := flushRedisPrefix(ctx, redisURL, name+":"); err != nil {
		return err
	}
	return flushRedisPrefix(ctx, redisURL, name+"-empty:")
}

// flushRedisPrefix deletes every key under prefix, and nothing else.
func flushRedisPrefix(ctx context.Context, redisURL, prefix string) error {
	if !strings.HasSuffix(prefix, ":") || len(prefix) < 3 {
		return fmt.Errorf("refusing to flush Redis prefix %q", prefix)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, prefix+"*", 5000).Iterator()
	batch := make([]string, 0, 5000)
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return rdb.Unlink(ctx, batch...).Err()
	}
	return nil
}
