package pgstore

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Hooks for the external tests of the archiver.

// RetentionLock names the advisory lock retention and restores hold.
const RetentionLock = retentionLock

// Step is a stage of a partition's retirement.
type Step = step

// The steps, in order.
const (
	StepRecord  = stepRecord
	StepDetach  = stepDetach
	StepArchive = stepArchive
	StepVerify  = stepVerify
	StepDrop    = stepDrop
)

// RetireUntil runs partition's retirement up to and including last and
// stops there, as a crash right after that step would.
func (a *Archiver) RetireUntil(ctx context.Context, retention time.Duration, partition string, last Step) error {
	conn, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	cands, err := a.candidates(ctx, conn, a.now().Add(-retention))
	if err != nil {
		return err
	}
	for _, c := range cands {
		if c.name == partition {
			return a.retire(ctx, conn, c, last, &RetentionReport{})
		}
	}
	return fmt.Errorf("%s is not past retention", partition)
}

// SetAfterStep calls f after each step of each partition; set it before a run.
func (a *Archiver) SetAfterStep(f func(partition string, s Step)) { a.afterStep = f }

// DeviceDeletes names the advisory lock device deletes hold.
const DeviceDeletes = deviceDeletes

// FinishTogether stores results as one batch, as results that arrive at
// the same moment are, and returns each one's answer in order.
func (c *Commands) FinishTogether(rs []Result) []error {
	batch := make([]*pendingResult, len(rs))
	for i, r := range rs {
		batch[i] = &pendingResult{r: r, done: make(chan error, 1)}
	}
	inOrder := slices.Clone(batch) // storeResults sorts batch
	c.storeResults(batch)
	out := make([]error, len(rs))
	for i, p := range inOrder {
		out[i] = <-p.done
	}
	return out
}

// TakeBatch queues results and takes the next batch from them, as the
// next committer would.
func TakeBatch(rs []Result) (batch, left []Result) {
	var q resultQueue
	for _, r := range rs {
		q.waiting = append(q.waiting, &pendingResult{r: r})
	}
	for _, p := range q.take() {
		batch = append(batch, p.r)
	}
	for _, p := range q.waiting {
		left = append(left, p.r)
	}
	return batch, left
}
