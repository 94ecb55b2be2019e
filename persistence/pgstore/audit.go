package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// AuditEntry is one admin action.
type AuditEntry struct {
	At       time.Time
	Actor    string // who: "admin-key", "user:alice", "key:ci"
	Action   string // what: "device.register", "device.delete"
	Target   string // what it was done to
	SourceIP string
	Result   string // "ok" or an error code
	Details  map[string]any
}

// Audit is the audit log.
type Audit struct{ pool *pgxpool.Pool }

// NewAudit returns the audit log on pool.
func NewAudit(pool *pgxpool.Pool) *Audit { return &Audit{pool: pool} }

// Record appends one entry.
func (a *Audit) Record(ctx context.Context, e AuditEntry) error {
	details := []byte("{}")
	if len(e.Details) > 0 {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return fmt.Errorf("audit details: %w", err)
		}
	}
	_, err := a.pool.Exec(ctx, `
		INSERT INTO audit_log (at, actor, action, target, source_ip, result, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.At, e.Actor, e.Action, e.Target, e.SourceIP, e.Result, details)
	if err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

// AuditRecord is a stored entry.
type AuditRecord struct {
	ID       int64          `json:"id"`
	At       time.Time      `json:"at"`
	Actor    string         `json:"actor"`
	Action   string         `json:"action"`
	Target   string         `json:"target"`
	SourceIP string         `json:"source_ip"`
	Result   string         `json:"result"`
	Details  map[string]any `json:"details"`
}

// AuditQuery filters the log; empty fields match everything. Entries come
// newest first, below BeforeID when it is set.
type AuditQuery struct {
	Actor, Action, Target, Result string
	From, To                      time.Time
	BeforeID                      int64
	Limit                         int
}

// List returns the entries matching q.
func (a *Audit) List(ctx context.Context, q AuditQuery) ([]AuditRecord, error) {
	rows, err := a.pool.Query(ctx, `
		SELECT id, at, actor, action, target, source_ip, result, details FROM audit_log
		WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR target = $3)
		  AND ($4 = '' OR result = $4)
		  AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)
		  AND ($7 = 0 OR id < $7)
		ORDER BY id DESC LIMIT $8`,
		q.Actor, q.Action, q.Target, q.Result, nullTime(q.From), nullTime(q.To), q.BeforeID, q.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditRecord{}
	for rows.Next() {
		var r AuditRecord
		if err := rows.Scan(&r.ID, &r.At, &r.Actor, &r.Action, &r.Target, &r.SourceIP, &r.Result, &r.Details); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
