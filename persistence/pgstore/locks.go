package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TryLock takes the session advisory lock called name on a connection of
// its own, so that two server instances never run the same job at once. ok
// is false when another session holds it; release gives it back.
func TryLock(ctx context.Context, pool *pgxpool.Pool, name string) (release func(), ok bool, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, name).Scan(&ok); err != nil || !ok {
		conn.Release()
		if err != nil {
			return nil, false, fmt.Errorf("lock %s: %w", name, err)
		}
		return nil, false, nil
	}
	return func() {
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext($1))`, name); err != nil {
			conn.Conn().Close(context.Background()) // a session that may still hold the lock must not go back to the pool
		}
		conn.Release()
	}, true, nil
}
