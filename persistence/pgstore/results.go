package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nexmdm/nexmdm/persistence"
)

// Results that arrive together share one statement and one commit (group
// commit): a bulk command's results come by the thousand, and one commit
// each held PostgreSQL to a few thousand a second.
const (
	maxResultBatch      = 512
	maxResultBatchBytes = 4 << 20 // outputs may be 64 KiB each: keep a statement's parameters small
	resultCommitters    = 2       // batches in flight, as for heartbeats
	resultBatchTimeout  = 10 * time.Second
)

// resultQueue holds results waiting for a batch. It has no goroutine of its
// own: a caller that finds fewer than resultCommitters batches running
// runs the next one itself.
type resultQueue struct {
	mu      sync.Mutex
	waiting []*pendingResult
	running int
}

type pendingResult struct {
	r    Result
	done chan error // buffered: the batch never waits for its caller
}

// Finish stores a device's result: persistence.ErrNotFound when the device
// has no such command, ErrCommandFinal when it already has its final status.
// The result, its event and its audit row are written together with the
// other results waiting at that moment, in one statement. A caller whose
// ctx ends first gets its error, though its batch may still store the
// result: a device that sends it again then gets ErrCommandFinal.
func (c *Commands) Finish(ctx context.Context, r Result) error {
	p := &pendingResult{r: r, done: make(chan error, 1)}
	q := &c.results
	q.mu.Lock()
	q.waiting = append(q.waiting, p)
	lead := q.running < resultCommitters
	if lead {
		q.running++
	}
	q.mu.Unlock()
	if lead {
		c.runResultBatch()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("finish command: %w", ctx.Err())
	}
}

// runResultBatch stores one batch, then hands what has queued meanwhile to
// a goroutine, so that the caller that ran it answers its own device now.
func (c *Commands) runResultBatch() {
	q := &c.results
	q.mu.Lock()
	batch := q.take()
	q.mu.Unlock()

	c.storeResults(batch)

	q.mu.Lock()
	more := len(q.waiting) > 0
	if !more {
		q.running--
	}
	q.mu.Unlock()
	if more {
		go c.runResultBatch()
	}
}

// take removes up to maxResultBatch results (and about
// maxResultBatchBytes of text), each command once: a repeat of a command
// already in the batch waits for the next, where it meets the final status
// the first set.
func (q *resultQueue) take() []*pendingResult {
	var batch, rest []*pendingResult
	seen := map[uuid.UUID]bool{}
	size := 0
	for _, p := range q.waiting {
		full := len(batch) == maxResultBatch || len(batch) > 0 && size >= maxResultBatchBytes
		if full || seen[p.r.CommandID] {
			rest = append(rest, p)
			continue
		}
		seen[p.r.CommandID] = true
		size += len(p.r.Message) + len(p.r.Output)
		batch = append(batch, p)
	}
	q.waiting = rest
	return batch
}

// storeResults answers every result of the batch. A batch that fails is
// stored result by result, so that one bad result fails only itself.
func (c *Commands) storeResults(batch []*pendingResult) {
	ctx, cancel := context.WithTimeout(context.Background(), resultBatchTimeout)
	defer cancel()
	c.store(ctx, batch)
}

func (c *Commands) store(ctx context.Context, batch []*pendingResult) {
	// Rows are locked in command order, so two batches in flight cannot
	// deadlock on each other.
	slices.SortFunc(batch, func(a, b *pendingResult) int { return bytes.Compare(a.r.CommandID[:], b.r.CommandID[:]) })
	outcomes, err := c.finishBatch(ctx, batch)
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			c.store(ctx, []*pendingResult{p})
		}
		return
	}
	for i, p := range batch {
		switch {
		case err != nil:
			p.done <- fmt.Errorf("finish command: %w", err)
		case outcomes[i].finished:
			p.done <- nil
		case outcomes[i].before == "":
			p.done <- persistence.ErrNotFound
		case persistence.CommandFinal(outcomes[i].before):
			p.done <- ErrCommandFinal
		default: // open when the statement began, finished by someone else during it
			p.done <- c.whyNotFinished(ctx, p.r)
		}
	}
}

// whyNotFinished tells, for a result that finished nothing, whether the
// device has no such command or the command is already final.
func (c *Commands) whyNotFinished(ctx context.Context, r Result) error {
	var state string
	err := c.pool.QueryRow(ctx, `SELECT status FROM commands WHERE id = $1 AND device_id = $2`, r.CommandID, r.DeviceID).Scan(&state)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return persistence.ErrNotFound
	case err != nil:
		return fmt.Errorf("finish command: %w", err)
	case persistence.CommandFinal(state):
		return ErrCommandFinal
	}
	return fmt.Errorf("finish command: command %s is %s, neither open nor final", r.CommandID, state)
}

// resultOutcome is what the batch statement did with one result: finished
// it, or not, with the command's status as the statement found it ("" when
// the device has no such command).
type resultOutcome struct {
	finished bool
	before   string
}

func (c *Commands) finishBatch(ctx context.Context, batch []*pendingResult) ([]resultOutcome, error) {
	n := len(batch)
	ns := make([]int32, n)
	ids, devices := make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	statuses, messages, outputs := make([]string, n), make([]string, n), make([]string, n)
	ats, finishedAts := make([]time.Time, n), make([]time.Time, n)
	for i, p := range batch {
		r := &p.r
		ns[i], ids[i], devices[i] = int32(i), pgUUID(r.CommandID), pgUUID(r.DeviceID)
		statuses[i], messages[i], outputs[i] = r.Status, r.Message, r.Output
		ats[i], finishedAts[i] = r.At, r.FinishedAt
	}
	// The final SELECT reads commands as the statement began, before its
	// own update: a result that finished nothing gets the status it met.
	rows, err := c.pool.Query(ctx, `
		WITH r AS (
			SELECT * FROM unnest($1::int[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::timestamptz[])
				AS r(n, id, device_id, status, at, message, output, finished_at)),
		done AS (
			UPDATE commands c SET status = r.status, updated_at = r.at, result_message = r.message,
				result_output = r.output, finished_at = r.finished_at
			FROM r WHERE c.id = r.id AND c.device_id = r.device_id AND c.status NOT IN `+finalStatuses+`
			RETURNING r.n, r.id, r.device_id, r.status, r.at, r.message),
		events AS (INSERT INTO command_events (command_id, at, status, detail) SELECT id, at, status, message FROM done),
		audit AS (INSERT INTO audit_log (at, actor, action, target, result, details)
			SELECT at, 'device:' || device_id::text, 'command.' || status, id::text, 'ok', jsonb_build_object('message', message) FROM done)
		SELECT r.n, d.n IS NOT NULL, coalesce(c.status, '')
		FROM r LEFT JOIN done d ON d.n = r.n LEFT JOIN commands c ON c.id = r.id AND c.device_id = r.device_id`,
		ns, ids, devices, statuses, ats, messages, outputs, finishedAts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]resultOutcome, n)
	for rows.Next() {
		var i int32
		var o resultOutcome
		if err := rows.Scan(&i, &o.finished, &o.before); err != nil {
			return nil, err
		}
		if i < 0 || int(i) >= n {
			return nil, fmt.Errorf("finish commands: result %d of %d", i, n)
		}
		out[i] = o
	}
	return out, rows.Err()
}
