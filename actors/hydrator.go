package actors

import (
	"fmt"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
)

// hydrator loads the state of devices that have no actor, in batches:
// those woken by their own messages and a bulk command's targets alike.
// While some loaders read, the devices asked for meanwhile gather
// and the next free loader takes them together. A fleet coming back cold,
// after a weekend away or right after enrolment, then costs three queries
// per batch rather than three round trips per device. A lone device is a
// batch of one and waits for nobody.
type hydrator struct {
	load       func([]uuid.UUID) (map[uuid.UUID]*loaded, error)
	log        zerolog.Logger
	maxLoaders int
	maxBatch   int

	mu      sync.Mutex
	flights map[uuid.UUID]*flight // asked for and not yet answered
	queue   []uuid.UUID           // asked for and not yet taken by a loader
	loaders int
}

// hydrateLoaders is how many batches are read at once: a batch gathers
// while others wait on their round trips, and the writer keeps most of the
// pool's connections.
const hydrateLoaders = 4

// flight is one device's load, shared by every message that waits for it.
type flight struct {
	done chan struct{}
	l    *loaded
	err  error
}

func newHydrator(load func([]uuid.UUID) (map[uuid.UUID]*loaded, error), loaders, batch int, log zerolog.Logger) *hydrator {
	return &hydrator{load: load, log: log, maxLoaders: loaders, maxBatch: batch, flights: make(map[uuid.UUID]*flight)}
}

// get returns the device's loaded state, joining a load already asked for.
// ErrUnknownDevice means the store does not have the device.
func (h *hydrator) get(id uuid.UUID) (*loaded, error) {
	h.mu.Lock()
	f := h.joinLocked(id)
	h.mu.Unlock()
	<-f.done
	return f.l, f.err
}

// getMany asks for all of ids at once and returns the states loaded; a
// device that is unknown or could not be loaded is left out.
func (h *hydrator) getMany(ids []uuid.UUID) map[uuid.UUID]*loaded {
	fs := make([]*flight, len(ids))
	h.mu.Lock()
	for i, id := range ids {
		fs[i] = h.joinLocked(id)
	}
	h.mu.Unlock()
	out := make(map[uuid.UUID]*loaded, len(ids))
	for i, f := range fs {
		if <-f.done; f.err == nil {
			out[ids[i]] = f.l
		}
	}
	return out
}

// joinLocked returns the device's flight, queueing a new one, and a
// loader for it, when none is under way.
func (h *hydrator) joinLocked(id uuid.UUID) *flight {
	if f := h.flights[id]; f != nil {
		return f
	}
	f := &flight{done: make(chan struct{})}
	h.flights[id] = f
	h.queue = append(h.queue, id)
	if h.loaders < h.maxLoaders {
		h.loaders++
		go h.run()
	}
	return f
}

// run loads batches until nothing is queued. Loaders exist only while
// there is work, so the hydrator has nothing to stop.
func (h *hydrator) run() {
	for {
		h.mu.Lock()
		if len(h.queue) == 0 {
			h.loaders--
			h.queue = nil // let a burst's backing array go
			h.mu.Unlock()
			return
		}
		n := min(len(h.queue), h.maxBatch)
		batch := slices.Clone(h.queue[:n])
		h.queue = h.queue[n:]
		h.mu.Unlock()

		got, err := h.load(batch)
		if err != nil {
			h.log.Error().Str("event", "device.hydrate.error").Int("devices", len(batch)).Err(err).Msg("load devices")
			err = fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		h.mu.Lock()
		for _, id := range batch {
			f := h.flights[id]
			delete(h.flights, id)
			switch {
			case err != nil:
				f.err = err
			case got[id] == nil:
				f.err = ErrUnknownDevice
			default:
				f.l = got[id]
			}
			close(f.done)
		}
		h.mu.Unlock()
	}
}
