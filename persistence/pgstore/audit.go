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
