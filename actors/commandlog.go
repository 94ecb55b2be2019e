package actors

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence"
)

// CommandStore keeps commands (Postgres).
type CommandStore interface {
	OpenAll(ctx context.Context) ([]persistence.Command, error)
	OpenOf(ctx context.Context, devices []uuid.UUID) ([]persistence.Command, error)
	Apply(ctx context.Context, ts []persistence.CommandTransition) error
}

// Publisher tells the live feed about events; it must not block.
type Publisher interface {
	Publish(typ string, deviceID uuid.UUID, data any)
}

// commandLog records the transitions device actors make (delivered,
// expired) in batches, off the actors: Record never blocks.
type commandLog struct {
	store CommandStore
	feed  Publisher
	log   zerolog.Logger

	mu      sync.Mutex
	pending []persistence.CommandTransition
}

func newCommandLog(store CommandStore, feed Publisher, log zerolog.Logger) *commandLog {
	return &commandLog{store: store, feed: feed, log: log}
}

// Record queues a transition; it is stored within about a flush period.
func (l *commandLog) Record(t persistence.CommandTransition) {
	l.mu.Lock()
	l.pending = append(l.pending, t)
	l.mu.Unlock()
}

// run stores queued transitions until ctx ends, then stores what is left.
func (l *commandLog) run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.flush(context.Background())
			return
		case <-t.C:
			l.flush(ctx)
		}
	}
}

func (l *commandLog) flush(ctx context.Context) {
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(batch) == 0 || l.store == nil {
		return
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := l.store.Apply(c, batch); err != nil {
		l.log.Error().Str("event", "command.transition.error").Int("transitions", len(batch)).Err(err).Msg("store command transitions; retrying")
		l.mu.Lock()
		l.pending = append(batch, l.pending...)
		l.mu.Unlock()
		return
	}
	if l.feed != nil {
		for _, t := range batch {
			l.feed.Publish("command."+t.Status, t.DeviceID, map[string]any{"command_id": t.ID, "status": t.Status, "at": t.At})
		}
	}
}
