package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nexmdm/nexmdm/persistence"
)

// Commands is the command repository: commands, their transitions
// (command_events) and their results.
type Commands struct {
	pool    *pgxpool.Pool
	results resultQueue
}

// NewCommands returns the repository on pool.
func NewCommands(pool *pgxpool.Pool) *Commands { return &Commands{pool: pool} }

// ErrCommandFinal means the command already has its final status.
var ErrCommandFinal = errors.New("command is final")

// CommandRecord is a command with who sent it and how it ended.
type CommandRecord struct {
	persistence.Command
	CreatedBy     string
	UpdatedAt     time.Time
	ResultMessage string
	ResultOutput  string
	FinishedAt    *time.Time
	Events        []CommandEvent // only from Get
}

// CommandEvent is one transition of a command.
type CommandEvent struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
	Detail string    `json:"detail,omitempty"`
}

// Create stores new queued commands with one COPY, so that a bulk command
// of thousands is one round trip, and returns those it stored: a command
// for a device deleted meanwhile is dropped. Commands have no foreign key
// to devices (its row locks made a bulk command's WAL two to three times
// larger); holdDevices keeps deletes out until the commands are in.
func (c *Commands) Create(ctx context.Context, cmds []persistence.Command, createdBy string, at time.Time) ([]persistence.Command, error) {
	var stored []persistence.Command
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		ids := make([]uuid.UUID, len(cmds))
		for i := range cmds {
			ids[i] = cmds[i].DeviceID
		}
		live, err := holdDevices(ctx, tx, ids)
		if err != nil {
			return err
		}
		stored = slices.DeleteFunc(slices.Clone(cmds), func(m persistence.Command) bool { return !live[m.DeviceID] })
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"commands"},
			[]string{"id", "device_id", "type", "params_json", "status", "issued_at", "expires_at", "hmac_key_id", "sig", "created_by", "updated_at"},
			pgx.CopyFromSlice(len(stored), func(i int) ([]any, error) {
				m := &stored[i]
				return []any{pgUUID(m.ID), pgUUID(m.DeviceID), m.Type, m.ParamsJSON, persistence.CommandQueued, m.IssuedAt, m.ExpiresAt, m.KeyID, m.Sig, createdBy, at}, nil
			}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create commands: %w", err)
	}
	return stored, nil
}

// Apply records transitions of open commands in one transaction. A
// transition of a command that is already final, or gone, is skipped: the
// device's result or a delete came first.
func (c *Commands) Apply(ctx context.Context, ts []persistence.CommandTransition) error {
	ids := make([]uuid.UUID, len(ts))
	statuses, details := make([]string, len(ts)), make([]string, len(ts))
	ats := make([]time.Time, len(ts))
	for i, t := range ts {
		ids[i], statuses[i], ats[i], details[i] = t.ID, t.Status, t.At, t.Detail
	}
	_, err := c.pool.Exec(ctx, `
		WITH t AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[]) AS t(id, status, at, detail)),
		moved AS (
			UPDATE commands c SET status = t.status, updated_at = t.at
			FROM t WHERE c.id = t.id AND c.status NOT IN `+finalStatuses+`
			RETURNING c.id, c.device_id, t.status, t.at, t.detail),
		events AS (INSERT INTO command_events (command_id, at, status, detail) SELECT id, at, status, detail FROM moved)
		INSERT INTO audit_log (at, actor, action, target, result, details)
		SELECT at, 'system', 'command.' || status, id::text, 'ok', jsonb_build_object('device_id', device_id, 'detail', detail) FROM moved`,
		ids, statuses, ats, details)
	if err != nil {
		return fmt.Errorf("apply command transitions: %w", err)
	}
	return nil
}

// Result is what a device reports when it has run a command.
type Result struct {
	CommandID  uuid.UUID
	DeviceID   uuid.UUID
	Status     string // succeeded or failed
	Message    string
	Output     string
	FinishedAt time.Time // device clock
	At         time.Time // server clock
}

// finalStatuses are the statuses persistence.CommandFinal names, as SQL.
const finalStatuses = `('succeeded', 'failed', 'expired')`

const commandColumns = `id, device_id, type, params_json, status, issued_at, expires_at, hmac_key_id, sig,
	created_by, updated_at, result_message, result_output, finished_at`

func scanCommand(row pgx.CollectableRow) (CommandRecord, error) {
	var r CommandRecord
	m := &r.Command
	err := row.Scan(&m.ID, &m.DeviceID, &m.Type, &m.ParamsJSON, &m.Status, &m.IssuedAt, &m.ExpiresAt, &m.KeyID, &m.Sig,
		&r.CreatedBy, &r.UpdatedAt, &r.ResultMessage, &r.ResultOutput, &r.FinishedAt)
	return r, err
}

// OpenAll returns every open command, oldest first, for the actors of a
// starting server.
func (c *Commands) OpenAll(ctx context.Context) ([]persistence.Command, error) {
	return c.open(ctx, `true`)
}

// OpenOf returns the open commands of the devices, oldest first: one query
// for a batch of actors hydrated together.
func (c *Commands) OpenOf(ctx context.Context, devices []uuid.UUID) ([]persistence.Command, error) {
	return c.open(ctx, `device_id = ANY($1)`, pgUUIDs(devices))
}

func (c *Commands) open(ctx context.Context, devicesMatch string, args ...any) ([]persistence.Command, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+commandColumns+` FROM commands
		WHERE status IN ('queued', 'sent', 'delivered') AND (`+devicesMatch+`)
		ORDER BY issued_at`, args...)
	if err != nil {
		return nil, fmt.Errorf("open commands: %w", err)
	}
	recs, err := pgx.CollectRows(rows, scanCommand)
	if err != nil {
		return nil, fmt.Errorf("open commands: %w", err)
	}
	out := make([]persistence.Command, len(recs))
	for i := range recs {
		out[i] = recs[i].Command
	}
	return out, nil
}

// Get reads a command with its events, or persistence.ErrNotFound.
func (c *Commands) Get(ctx context.Context, id uuid.UUID) (CommandRecord, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+commandColumns+` FROM commands WHERE id = $1`, id)
	if err != nil {
		return CommandRecord{}, fmt.Errorf("get command: %w", err)
	}
	rec, err := pgx.CollectExactlyOneRow(rows, scanCommand)
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, persistence.ErrNotFound
	}
	if err != nil {
		return rec, fmt.Errorf("get command: %w", err)
	}
	rows, err = c.pool.Query(ctx, `SELECT at, status, detail FROM command_events WHERE command_id = $1 ORDER BY id`, id)
	if err != nil {
		return rec, fmt.Errorf("get command events: %w", err)
	}
	later, err := pgx.CollectRows(rows, pgx.RowToStructByPos[CommandEvent])
	if err != nil {
		return rec, fmt.Errorf("get command events: %w", err)
	}
	// The first transition is not a row: the command row says when and by whom.
	queued := CommandEvent{At: rec.IssuedAt, Status: persistence.CommandQueued, Detail: "by " + rec.CreatedBy}
	rec.Events = append([]CommandEvent{queued}, later...)
	return rec, nil
}

// CommandQuery filters a command listing, newest first.
type CommandQuery struct {
	DeviceID uuid.UUID // uuid.Nil: every device
	Status   string
	Type     string
	Before   *CommandCursor
	Limit    int
}

// CommandCursor is the position after the last command of a page.
type CommandCursor struct {
	IssuedAt time.Time
	ID       uuid.UUID
}

// List pages through commands newest first.
func (c *Commands) List(ctx context.Context, q CommandQuery) ([]CommandRecord, error) {
	var beforeAt *time.Time
	var beforeID *uuid.UUID
	if q.Before != nil {
		beforeAt, beforeID = &q.Before.IssuedAt, &q.Before.ID
	}
	var device *uuid.UUID
	if q.DeviceID != uuid.Nil {
		device = &q.DeviceID
	}
	rows, err := c.pool.Query(ctx, `SELECT `+commandColumns+` FROM commands
		WHERE ($1::uuid IS NULL OR device_id = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR type = $3)
		  AND ($4::timestamptz IS NULL OR (issued_at, id) < ($4, $5::uuid))
		ORDER BY issued_at DESC, id DESC LIMIT $6`,
		device, q.Status, q.Type, beforeAt, beforeID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list commands: %w", err)
	}
	recs, err := pgx.CollectRows(rows, scanCommand)
	if err != nil {
		return nil, fmt.Errorf("list commands: %w", err)
	}
	return recs, nil
}

// KeyIDs returns the signing key id of each device in ids that exists.
func (c *Commands) KeyIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	rows, err := c.pool.Query(ctx, `SELECT id, hmac_key_id FROM devices WHERE id = ANY($1)`, pgUUIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("device key ids: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]string, len(ids))
	for rows.Next() {
		var id uuid.UUID
		var kid string
		if err := rows.Scan(&id, &kid); err != nil {
			return nil, fmt.Errorf("device key ids: %w", err)
		}
		out[id] = kid
	}
	return out, rows.Err()
}
