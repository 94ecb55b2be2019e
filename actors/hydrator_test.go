package actors

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedStore answers loads of the devices it knows, each only once the
// test opens the gate, and keeps every batch it was asked for.
type gatedStore struct {
	gate  chan struct{}
	known map[uuid.UUID]bool
	fail  error

	mu      sync.Mutex
	batches [][]uuid.UUID
}

func (s *gatedStore) load(ids []uuid.UUID) (map[uuid.UUID]*loaded, error) {
	s.mu.Lock()
	s.batches = append(s.batches, append([]uuid.UUID(nil), ids...))
	s.mu.Unlock()
	<-s.gate
	if s.fail != nil {
		return nil, s.fail
	}
	out := make(map[uuid.UUID]*loaded)
	for _, id := range ids {
		if s.known[id] {
			out[id] = &loaded{source: "postgres"}
		}
	}
	return out, nil
}

func (s *gatedStore) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n []int
	for _, b := range s.batches {
		n = append(n, len(b))
	}
	return n
}

func newIDs(n int) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
	}
	return ids
}

// queued is how many devices wait for a loader.
func (h *hydrator) queued() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue)
}

// getAll asks for every id at once and collects the answers by id.
func getAll(h *hydrator, ids []uuid.UUID) (map[uuid.UUID]*loaded, map[uuid.UUID]error, *sync.WaitGroup) {
	var mu sync.Mutex
	got, errs := make(map[uuid.UUID]*loaded), make(map[uuid.UUID]error)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := h.get(id)
			mu.Lock()
			got[id], errs[id] = l, err
			mu.Unlock()
		}()
	}
	return got, errs, &wg
}

func TestDevicesAskedForWhileTheLoaderIsBusyAreLoadedTogether(t *testing.T) {
	ids := newIDs(11)
	store := &gatedStore{gate: make(chan struct{}), known: map[uuid.UUID]bool{}}
	for _, id := range ids {
		store.known[id] = true
	}
	h := newHydrator(store.load, 1, 4, zerolog.Nop())

	first, firstErrs, firstDone := getAll(h, ids[:1])
	require.Eventually(t, func() bool { return len(store.sizes()) == 1 }, 5*time.Second, time.Millisecond,
		"the first device is loaded at once, alone")
	rest, restErrs, restDone := getAll(h, ids[1:])
	require.Eventually(t, func() bool { return h.queued() == 10 }, 5*time.Second, time.Millisecond)

	close(store.gate)
	firstDone.Wait()
	restDone.Wait()
	assert.Equal(t, []int{1, 4, 4, 2}, store.sizes(), "the ten that gathered went in batches of at most 4")
	require.NoError(t, firstErrs[ids[0]])
	assert.NotNil(t, first[ids[0]])
	for _, id := range ids[1:] {
		require.NoError(t, restErrs[id])
		assert.NotNil(t, rest[id])
	}
	assert.Zero(t, h.queued())
	assert.Empty(t, h.flights, "no answered load is kept")
}

func TestMessagesForOneDeviceShareItsLoad(t *testing.T) {
	id := uuid.New()
	store := &gatedStore{gate: make(chan struct{}), known: map[uuid.UUID]bool{id: true}}
	h := newHydrator(store.load, 4, 500, zerolog.Nop())

	_, _, firstDone := getAll(h, []uuid.UUID{id})
	require.Eventually(t, func() bool { return len(store.sizes()) == 1 }, 5*time.Second, time.Millisecond)
	var wg sync.WaitGroup
	answers := make([]*loaded, 8)
	for i := range answers {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i], _ = h.get(id) }()
	}
	require.Eventually(t, func() bool { // all eight wait on the flight in the loader
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.flights) == 1 && len(h.queue) == 0
	}, 5*time.Second, time.Millisecond)
	time.Sleep(10 * time.Millisecond) // give a wrong second load the chance to start
	close(store.gate)
	firstDone.Wait()
	wg.Wait()

	assert.Equal(t, []int{1}, store.sizes(), "one load for all nine messages")
	for _, l := range answers {
		assert.Same(t, answers[0], l)
	}
}

func TestAnUnknownDeviceAndAFailedBatchAnswerEachWaiterAndAreNotKept(t *testing.T) {
	known, unknown := uuid.New(), uuid.New()
	store := &gatedStore{gate: make(chan struct{}), known: map[uuid.UUID]bool{known: true}}
	close(store.gate)
	h := newHydrator(store.load, 2, 500, zerolog.Nop())

	_, err := h.get(unknown)
	assert.ErrorIs(t, err, ErrUnknownDevice)
	l, err := h.get(known)
	require.NoError(t, err)
	assert.NotNil(t, l)

	store.fail = errors.New("connection refused")
	_, errs, done := getAll(h, []uuid.UUID{known, unknown})
	done.Wait()
	for _, id := range []uuid.UUID{known, unknown} {
		assert.ErrorIs(t, errs[id], ErrUnavailable)
		assert.ErrorContains(t, errs[id], "connection refused")
	}

	store.fail = nil
	l, err = h.get(known)
	require.NoError(t, err, "a failed load is tried again by the next message")
	assert.NotNil(t, l)
	assert.Empty(t, h.flights)
}
