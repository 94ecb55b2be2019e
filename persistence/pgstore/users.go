package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// User is an admin user.
type User struct {
	ID             uuid.UUID `json:"id"`
	Username       string    `json:"username"`
	Role           string    `json:"role"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by"`
	PasswordBcrypt string    `json:"-"`
}

// Errors the auth repositories return.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrTokenReused  = errors.New("refresh token was already rotated")
	ErrTokenExpired = errors.New("refresh token expired or revoked")
)

// Users holds admin users and their refresh tokens.
type Users struct{ pool *pgxpool.Pool }

// NewUsers returns the repository on pool.
func NewUsers(pool *pgxpool.Pool) *Users { return &Users{pool: pool} }

const userColumns = `id, username, role, created_at, created_by, password_bcrypt`

func scanUser(row pgx.Row) (*User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.Role, &u.CreatedAt, &u.CreatedBy, &u.PasswordBcrypt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &u, err
}

// Create adds a user; ErrExists when the username is taken.
func (r *Users) Create(ctx context.Context, u *User) error {
	_, err := r.pool.Exec(ctx, `
		INSERT INTO users (id, username, password_bcrypt, role, created_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		u.ID, u.Username, u.PasswordBcrypt, u.Role, u.CreatedAt, u.CreatedBy)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return ErrExists
	}
	return err
}

// Count is how many users exist.
func (r *Users) Count(ctx context.Context) (int, error) {
	var n int
	err := r.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// ByUsername finds a user.
func (r *Users) ByUsername(ctx context.Context, name string) (*User, error) {
	return scanUser(r.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, name))
}

// ByID finds a user.
func (r *Users) ByID(ctx context.Context, id uuid.UUID) (*User, error) {
	return scanUser(r.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// List returns every user by name.
func (r *Users) List(ctx context.Context) ([]*User, error) {
	rows, err := r.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UserChange is what an admin changes of a user; nil fields stay.
type UserChange struct {
	Role           *string
	PasswordBcrypt *string
}

// Update changes a user in one transaction. A new role reaches their
// sessions at the next refresh; a new password also revokes every refresh
// token they hold, so each session ends when its access token expires.
func (r *Users) Update(ctx context.Context, id uuid.UUID, c UserChange, now time.Time) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE users SET role = coalesce($2, role), password_bcrypt = coalesce($3, password_bcrypt)
			WHERE id = $1`, id, c.Role, c.PasswordBcrypt)
		if err == nil && tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		if err != nil || c.PasswordBcrypt == nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, id, now)
		return err
	})
}

// Delete removes a user and, by cascade, their refresh tokens.
func (r *Users) Delete(ctx context.Context, id uuid.UUID) error {
	tag, err := r.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// RefreshToken is a stored refresh token.
type RefreshToken struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	Family    uuid.UUID
	Digest    []byte
	ExpiresAt time.Time
}

// IssueRefresh stores a new refresh token.
func (r *Users) IssueRefresh(ctx context.Context, t RefreshToken) error {
	_, err := r.pool.Exec(ctx, `
		INSERT INTO refresh_tokens (id, user_id, family, digest, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.UserID, t.Family, t.Digest, t.ExpiresAt)
	return err
}

// RotateRefresh exchanges the token with digest old for next (same family)
// in one transaction. A token already rotated revokes its whole family and
// returns ErrTokenReused; an expired or revoked one ErrTokenExpired.
func (r *Users) RotateRefresh(ctx context.Context, old []byte, next RefreshToken, now time.Time) (uuid.UUID, error) {
	var userID uuid.UUID
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		var (
			id, family       uuid.UUID
			expires          time.Time
			rotated, revoked *time.Time
		)
		err := tx.QueryRow(ctx, `
			SELECT id, user_id, family, expires_at, rotated_at, revoked_at
			FROM refresh_tokens WHERE digest = $1 FOR UPDATE`, old).
			Scan(&id, &userID, &family, &expires, &rotated, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if rotated != nil && revoked == nil {
			return ErrTokenReused // revoked below, outside the rolled-back transaction
		}
		if revoked != nil || rotated != nil || !now.Before(expires) {
			return ErrTokenExpired
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		next.UserID, next.Family = userID, family
		_, err = tx.Exec(ctx, `
			INSERT INTO refresh_tokens (id, user_id, family, digest, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			next.ID, next.UserID, next.Family, next.Digest, next.ExpiresAt)
		return err
	})
	if errors.Is(err, ErrTokenReused) {
		return userID, r.revokeFamilyOf(ctx, old, now)
	}
	return userID, err
}

func (r *Users) revokeFamilyOf(ctx context.Context, digest []byte, now time.Time) error {
	_, err := r.pool.Exec(ctx, `
		UPDATE refresh_tokens SET revoked_at = $2
		WHERE family = (SELECT family FROM refresh_tokens WHERE digest = $1) AND revoked_at IS NULL`, digest, now)
	if err != nil {
		return fmt.Errorf("revoke reused refresh token family: %w", err)
	}
	return ErrTokenReused
}

// RevokeRefresh revokes the family of the token with digest (logout).
func (r *Users) RevokeRefresh(ctx context.Context, digest []byte, now time.Time) (uuid.UUID, error) {
	var userID uuid.UUID
	err := r.pool.QueryRow(ctx, `
		WITH t AS (SELECT family, user_id FROM refresh_tokens WHERE digest = $1)
		UPDATE refresh_tokens r SET revoked_at = coalesce(r.revoked_at, $2)
		FROM t WHERE r.family = t.family RETURNING t.user_id`, digest, now).Scan(&userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return userID, ErrNotFound
	}
	return userID, err
}
