package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nexmdm/nexmdm/persistence"
)

// AlertChannel is where notifications go. URL and Secret are credentials.
type AlertChannel struct {
	ID          uuid.UUID
	Name        string
	Kind        string // discord, webhook, email
	URL         string
	Secret      string
	EmailFrom   string
	EmailTo     []string
	MinSeverity string
	Enabled     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AlertRule is a rule's severity and routing.
type AlertRule struct {
	Rule      string
	Severity  string
	Enabled   bool
	Channels  []string // names; empty: every channel its severity reaches
	UpdatedAt time.Time
}

const channelColumns = `id, name, kind, url, secret, email_from, email_to, min_severity, enabled, created_at, updated_at`

func scanChannel(row pgx.Row) (AlertChannel, error) {
	var c AlertChannel
	err := row.Scan(&c.ID, &c.Name, &c.Kind, &c.URL, &c.Secret, &c.EmailFrom, &c.EmailTo, &c.MinSeverity, &c.Enabled,
		&c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, persistence.ErrNotFound
	}
	return c, err
}

// Channels lists the channels by name.
func (s *Alerts) Channels(ctx context.Context) ([]AlertChannel, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+channelColumns+` FROM alert_channels ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertChannel, error) { return scanChannel(r) })
}

// SeedChannel adds a channel from the configuration unless one of its name
// exists: what the admin API changed since wins over the environment.
func (s *Alerts) SeedChannel(ctx context.Context, c AlertChannel) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO alert_channels (`+channelColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (name) DO NOTHING`,
		c.ID, c.Name, c.Kind, c.URL, c.Secret, c.EmailFrom, textArray(c.EmailTo), c.MinSeverity, c.Enabled, c.CreatedAt)
	return err
}

// CreateChannel adds a channel; ErrExists when the name is taken.
func (s *Alerts) CreateChannel(ctx context.Context, c AlertChannel) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO alert_channels (`+channelColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		c.ID, c.Name, c.Kind, c.URL, c.Secret, c.EmailFrom, textArray(c.EmailTo), c.MinSeverity, c.Enabled, c.CreatedAt)
	if sqlState(err) == codeUniqueViolation {
		return ErrExists
	}
	return err
}

// GetChannel reads one channel.
func (s *Alerts) GetChannel(ctx context.Context, id uuid.UUID) (AlertChannel, error) {
	return scanChannel(s.pool.QueryRow(ctx, `SELECT `+channelColumns+` FROM alert_channels WHERE id = $1`, id))
}

// UpdateChannel stores a changed channel; ErrExists when renamed to a taken name.
func (s *Alerts) UpdateChannel(ctx context.Context, c AlertChannel) error {
	tag, err := s.pool.Exec(ctx, `UPDATE alert_channels SET name = $2, url = $3, secret = $4, email_from = $5, email_to = $6,
		min_severity = $7, enabled = $8, updated_at = $9 WHERE id = $1`,
		c.ID, c.Name, c.URL, c.Secret, c.EmailFrom, textArray(c.EmailTo), c.MinSeverity, c.Enabled, c.UpdatedAt)
	switch {
	case sqlState(err) == codeUniqueViolation:
		return ErrExists
	case err != nil:
		return err
	case tag.RowsAffected() == 0:
		return persistence.ErrNotFound
	}
	return nil
}

// DeleteChannel removes a channel.
func (s *Alerts) DeleteChannel(ctx context.Context, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM alert_channels WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return persistence.ErrNotFound
	}
	return err
}

// Rules lists the rules that have settings.
func (s *Alerts) Rules(ctx context.Context) ([]AlertRule, error) {
	rows, err := s.pool.Query(ctx, `SELECT rule, severity, enabled, channels, updated_at FROM alert_rules ORDER BY rule`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AlertRule{}
	for rows.Next() {
		var r AlertRule
		if err := rows.Scan(&r.Rule, &r.Severity, &r.Enabled, &r.Channels, &r.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutRule stores a rule's settings.
func (s *Alerts) PutRule(ctx context.Context, r AlertRule) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO alert_rules (rule, severity, enabled, channels, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (rule) DO UPDATE SET severity = $2, enabled = $3, channels = $4, updated_at = $5`,
		r.Rule, r.Severity, r.Enabled, textArray(r.Channels), r.UpdatedAt)
	if err != nil {
		return fmt.Errorf("put alert rule: %w", err)
	}
	return nil
}

// textArray stores a nil list as an empty array, not NULL.
func textArray(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
