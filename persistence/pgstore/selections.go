package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nexmdm/nexmdm/persistence"
)

// Selections keeps snapshots of device ids for bulk actions.
type Selections struct{ pool *pgxpool.Pool }

// NewSelections returns the repository on pool.
func NewSelections(pool *pgxpool.Pool) *Selections { return &Selections{pool: pool} }

// Selection is a snapshot of device ids.
type Selection struct {
	ID        uuid.UUID
	DeviceIDs []uuid.UUID
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Create stores a selection, and drops the ones that have expired.
func (s *Selections) Create(ctx context.Context, sel Selection, filter any) error {
	f, err := json.Marshal(filter)
	if err != nil {
		return fmt.Errorf("create selection: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM device_selections WHERE expires_at < $1`, sel.CreatedAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO device_selections (id, device_ids, filter, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, sel.ID, sel.DeviceIDs, f, sel.CreatedBy, sel.CreatedAt, sel.ExpiresAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("create selection: %w", err)
	}
	return nil
}

// Get reads a selection that has not expired by now, or
// persistence.ErrNotFound.
func (s *Selections) Get(ctx context.Context, id uuid.UUID, now time.Time) (Selection, error) {
	sel := Selection{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT device_ids, created_by, created_at, expires_at FROM device_selections
		WHERE id = $1 AND expires_at > $2`, id, now).Scan(&sel.DeviceIDs, &sel.CreatedBy, &sel.CreatedAt, &sel.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return sel, persistence.ErrNotFound
	}
	if err != nil {
		return sel, fmt.Errorf("get selection: %w", err)
	}
	return sel, nil
}
