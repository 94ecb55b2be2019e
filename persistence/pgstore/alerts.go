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
//
// Changes go in runs of firings and runs of resolutions, each run as a few
// set-based statements: a site back from an outage resolves 100,000
// offline alerts in one flush, which as a statement each took the server's
// memory and the database's time from ingest. Runs keep their order, so a
// rule that fires and resolves within one batch ends resolved.
func (s *Alerts) Apply(ctx context.Context, changes []AlertChange) ([]AlertRecord, error) {
	var out []AlertRecord
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for rest := changes; len(rest) > 0; {
			n := 1
			for n < len(rest) && n < alertChunk && rest[n].Fired == rest[0].Fired {
				n++
			}
			var err error
			if rest[0].Fired {
				out, err = fireAlerts(ctx, tx, rest[:n], out)
			} else {
				out, err = resolveAlerts(ctx, tx, rest[:n], out)
			}
			if err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("apply alert changes: %w", err)
	}
	return out, nil
}

// alertChunk bounds the changes of one statement.
const alertChunk = 5000

// fireAlerts inserts firings; one whose device has the rule open already,
// in the table or earlier in the run, inserts nothing.
func fireAlerts(ctx context.Context, tx pgx.Tx, run []AlertChange, out []AlertRecord) ([]AlertRecord, error) {
	ids, devices := make([]uuid.UUID, len(run)), make([]*uuid.UUID, len(run))
	rules, severities, details := make([]string, len(run)), make([]string, len(run)), make([]string, len(run))
	notified, at := make([]bool, len(run)), make([]time.Time, len(run))
	for i, c := range run {
		d := []byte("{}")
		if c.Details != nil {
			var err error
			if d, err = json.Marshal(c.Details); err != nil {
				return nil, fmt.Errorf("alert details: %w", err)
			}
		}
		ids[i], devices[i], rules[i], severities[i], details[i], notified[i], at[i] =
			c.ID, c.DeviceID, c.Rule, c.Severity, string(d), c.Notified, c.At
	}
	rows, err := tx.Query(ctx, `INSERT INTO alerts (id, device_id, rule, severity, details, notified, fired_at)
		SELECT id, device_id, rule, severity, details::jsonb, notified, fired_at
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::timestamptz[])
			AS u(id, device_id, rule, severity, details, notified, fired_at)
		ON CONFLICT DO NOTHING RETURNING `+alertColumns,
		ids, devices, rules, severities, details, notified, at)
	if err != nil {
		return nil, err
	}
	return appendAlerts(out, rows)
}

// resolveAlerts closes each device's open alert of the rule; the first
// resolution of a pair in the run is the one that closes it.
func resolveAlerts(ctx context.Context, tx pgx.Tx, run []AlertChange, out []AlertRecord) ([]AlertRecord, error) {
	devices, rules, at := make([]*uuid.UUID, len(run)), make([]string, len(run)), make([]time.Time, len(run))
	for i, c := range run {
		devices[i], rules[i], at[i] = c.DeviceID, c.Rule, c.At
	}
	rows, err := tx.Query(ctx, `UPDATE alerts SET resolved_at = u.at,
			remediated = CASE WHEN remediation_attempts > 0 THEN true ELSE remediated END
		FROM (SELECT DISTINCT ON (device, rule_name) device, rule_name, at
			FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS u(device, rule_name, at, n)
			ORDER BY device, rule_name, n) AS u
		WHERE device_id = u.device AND rule = u.rule_name AND resolved_at IS NULL
		RETURNING `+alertColumns, devices, rules, at)
	if err != nil {
		return nil, err
	}
	return appendAlerts(out, rows)
}

func appendAlerts(out []AlertRecord, rows pgx.Rows) ([]AlertRecord, error) {
	return pgx.AppendRows(out, rows, func(r pgx.CollectableRow) (AlertRecord, error) { return scanAlert(r) })
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
