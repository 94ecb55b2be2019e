package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// APIKey is a named key with scopes. Its secret is never stored, only a
// keyed digest of it.
type APIKey struct {
	ID         uuid.UUID  `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Digest     []byte     `json:"-"`
}

// APIKeys is the API key repository.
type APIKeys struct{ pool *pgxpool.Pool }

// NewAPIKeys returns the repository on pool.
func NewAPIKeys(pool *pgxpool.Pool) *APIKeys { return &APIKeys{pool: pool} }

const apiKeyColumns = `id, name, prefix, scopes, created_at, created_by, expires_at, revoked_at, last_used_at, digest`

func scanAPIKey(row pgx.Row) (*APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Scopes, &k.CreatedAt, &k.CreatedBy, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt, &k.Digest)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &k, err
}

// Create stores a key.
func (r *APIKeys) Create(ctx context.Context, k *APIKey) error {
	_, err := r.pool.Exec(ctx, `
		INSERT INTO api_keys (id, name, prefix, digest, scopes, created_at, created_by, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, k.Name, k.Prefix, k.Digest, k.Scopes, k.CreatedAt, k.CreatedBy, k.ExpiresAt)
	return err
}

// ByPrefix finds a key by the public part of its secret.
func (r *APIKeys) ByPrefix(ctx context.Context, prefix string) (*APIKey, error) {
	return scanAPIKey(r.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE prefix = $1`, prefix))
}

// List returns every key, newest first.
func (r *APIKeys) List(ctx context.Context) ([]*APIKey, error) {
	rows, err := r.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// Revoke revokes a key; revoking twice keeps the first time.
func (r *APIKeys) Revoke(ctx context.Context, id uuid.UUID, now time.Time) error {
	tag, err := r.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, now)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// Touch records that a key was used, at most once a minute per key.
func (r *APIKeys) Touch(ctx context.Context, id uuid.UUID, now time.Time) error {
	_, err := r.pool.Exec(ctx, `
		UPDATE api_keys SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - interval '1 minute')`, id, now)
	return err
}
