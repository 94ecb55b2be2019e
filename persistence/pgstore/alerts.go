package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nexmdm/nexmdm/persistence"
)

// Alerts keeps alert history.
type Alerts struct{ pool *pgxpool.Pool }

// NewAlerts returns the repository on pool.
func NewAlerts(pool *pgxpool.Pool) *Alerts { return &Alerts{pool: pool} }

// AlertRecord is one alert.
type AlertRecord struct {
	ID                  uuid.UUID      `json:"id"`
	DeviceID            *uuid.UUID     `json:"device_id"`
	Rule                string         `json:"rule"`
	Severity            string         `json:"severity"`
	Details             map[string]any `json:"details"`
	Notified            bool           `json:"notified"`
	FiredAt             time.Time      `json:"fired_at"`
	ResolvedAt          *time.Time     `json:"resolved_at"`
	AcknowledgedAt      *time.Time     `json:"acknowledged_at"`
	AcknowledgedBy      *string        `json:"acknowledged_by"`
	RemediationAttempts int            `json:"remediation_attempts"`
	LastRemediationAt   *time.Time     `json:"last_remediation_at"`
	Remediated          *bool          `json:"remediated"`
}

const alertColumns = `id, device_id, rule, severity, details, notified, fired_at, resolved_at, acknowledged_at,
	acknowledged_by, remediation_attempts, last_remediation_at, remediated`

func scanAlert(row pgx.Row) (AlertRecord, error) {
	var a AlertRecord
	err := row.Scan(&a.ID, &a.DeviceID, &a.Rule, &a.Severity, &a.Details, &a.Notified, &a.FiredAt, &a.ResolvedAt,
		&a.AcknowledgedAt, &a.AcknowledgedBy, &a.RemediationAttempts, &a.LastRemediationAt, &a.Remediated)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, persistence.ErrNotFound
	}
	return a, err
}

// AlertChange is a rule firing (a new row) or resolving (the open row closes).
type AlertChange struct {
	ID       uuid.UUID // for a firing: the new row's id
	DeviceID *uuid.UUID
	Rule     string
	Severity string
	Fired    bool
	Notified bool
	At       time.Time
	Details  map[string]any
}

// Apply stores changes in one transaction and returns the rows they made
// or closed. A firing whose device already has the rule open, or a
// resolution with nothing open, changes nothing and returns nothing.
func (s *Alerts) Apply(ctx context.Context, changes []AlertChange) ([]AlertRecord, error) {
	var out []AlertRecord
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, c := range changes {
			if c.Fired {
				b.Queue(`INSERT INTO alerts (id, device_id, rule, severity, details, notified, fired_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING `+alertColumns,
					c.ID, c.DeviceID, c.Rule, c.Severity, c.Details, c.Notified, c.At)
				continue
			}
			b.Queue(`UPDATE alerts SET resolved_at = $3,
					remediated = CASE WHEN remediation_attempts > 0 THEN true ELSE remediated END
				WHERE device_id = $1 AND rule = $2 AND resolved_at IS NULL RETURNING `+alertColumns, c.DeviceID, c.Rule, c.At)
		}
		res := tx.SendBatch(ctx, b)
		defer res.Close()
		for range changes {
			a, err := scanAlert(res.QueryRow())
			switch {
			case errors.Is(err, persistence.ErrNotFound):
			case err != nil:
				return err
			default:
				out = append(out, a)
			}
		}
		return res.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("apply alert changes: %w", err)
	}
	return out, nil
}

// AlertQuery filters and pages GET /admin/alerts.
type AlertQuery struct {
	Status   string // "open", "resolved", "" for both
	Rule     string
	Severity string
	DeviceID *uuid.UUID
	Before   *AlertCursor // keyset: alerts older than this
	Limit    int
}

// AlertCursor is a position in the newest-first listing.
type AlertCursor struct {
	FiredAt time.Time
	ID      uuid.UUID
}

// List returns alerts newest first.
func (s *Alerts) List(ctx context.Context, q AlertQuery) ([]AlertRecord, error) {
	var beforeAt *time.Time
	var beforeID *uuid.UUID
	if q.Before != nil {
		beforeAt, beforeID = &q.Before.FiredAt, &q.Before.ID
	}
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE ($1 = '' OR ($1 = 'open' AND resolved_at IS NULL) OR ($1 = 'resolved' AND resolved_at IS NOT NULL))
		  AND ($2 = '' OR rule = $2) AND ($3 = '' OR severity = $3) AND ($4::uuid IS NULL OR device_id = $4)
		  AND ($5::timestamptz IS NULL OR (fired_at, id) < ($5, $6))
		ORDER BY fired_at DESC, id DESC LIMIT $7`,
		q.Status, q.Rule, q.Severity, q.DeviceID, beforeAt, beforeID, q.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertRecord, error) { return scanAlert(r) })
}

// Ack acknowledges an alert; acknowledging it again changes nothing.
func (s *Alerts) Ack(ctx context.Context, id uuid.UUID, by string, at time.Time) (AlertRecord, error) {
	return scanAlert(s.pool.QueryRow(ctx, `UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, $2),
		acknowledged_by = coalesce(acknowledged_by, $3) WHERE id = $1 RETURNING `+alertColumns, id, at, by))
}

// RecordRemediation counts an attempt to fix an open alert.
func (s *Alerts) RecordRemediation(ctx context.Context, id uuid.UUID, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE alerts SET remediation_attempts = remediation_attempts + 1,
		last_remediation_at = $2, remediated = false WHERE id = $1`, id, at)
	return err
}
