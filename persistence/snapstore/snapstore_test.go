package snapstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence/snapstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

func newTestStore(t *testing.T) (*snapstore.Store, *testenv.Redis) {
	r := testenv.NewRedis(t)
	return snapstore.New(r.Client, snapstore.Config{Prefix: r.Prefix, Batch: 3}, nil, zerolog.Nop()), r
}

func TestPendingSnapshotsAreReadBeforeTheyAreFlushed(t *testing.T) {
	s, r := newTestStore(t)
	ctx := context.Background()
	id := uuid.New()
	s.Put(id, []byte("v1"))
	got, err := s.Get(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "v1", string(got))
	assert.Empty(t, r.Keys(t), "nothing reaches Redis before a flush")
}

func TestFlushCoalescesAndWritesInBatches(t *testing.T) {
	s, r := newTestStore(t)
	ctx := context.Background()
	ids := make([]uuid.UUID, 7)
	for i := range ids {
		ids[i] = uuid.New()
		s.Put(ids[i], []byte("old"))
		s.Put(ids[i], []byte{byte('a' + i)})
	}
	require.NoError(t, s.Flush(ctx))
	assert.Len(t, r.Keys(t), 7)

	missing := uuid.New()
	got, err := s.GetMany(ctx, append(ids, missing))
	require.NoError(t, err)
	for i := range ids {
		assert.Equal(t, string([]byte{byte('a' + i)}), string(got[i]), "the newest snapshot wins")
	}
	assert.Nil(t, got[len(ids)])
}

func TestDeleteRemovesFlushedAndPendingSnapshots(t *testing.T) {
	s, r := newTestStore(t)
	ctx := context.Background()
	flushed, pending := uuid.New(), uuid.New()
	s.Put(flushed, []byte("x"))
	require.NoError(t, s.Flush(ctx))
	s.Put(pending, []byte("y"))

	require.NoError(t, s.Delete(ctx, []uuid.UUID{flushed, pending}))
	require.NoError(t, s.Flush(ctx))
	assert.Empty(t, r.Keys(t), "a pending snapshot of a deleted device must not come back")
	got, err := s.Get(ctx, pending)
	require.NoError(t, err)
	assert.Nil(t, got)
}

func TestALaterFlushWritesOnlyWhatWasPutSinceTheLastOne(t *testing.T) {
	s, r := newTestStore(t)
	ctx := context.Background()
	deleted, second, third := uuid.New(), uuid.New(), uuid.New()
	s.Put(deleted, []byte("a"))
	require.NoError(t, s.Flush(ctx))
	require.NoError(t, s.Delete(ctx, []uuid.UUID{deleted}))
	s.Put(second, []byte("b"))
	require.NoError(t, s.Flush(ctx))
	s.Put(third, []byte("c"))
	require.NoError(t, s.Flush(ctx))

	assert.ElementsMatch(t, []string{"dev:" + second.String(), "dev:" + third.String()}, r.Keys(t),
		"a snapshot flushed before must not be written again, least of all for a deleted device")
}

func TestFlushCountsTheSnapshotsItWrote(t *testing.T) {
	r := testenv.NewRedis(t)
	reg := prometheus.NewRegistry()
	s := snapstore.New(r.Client, snapstore.Config{Prefix: r.Prefix, Batch: 3}, reg, zerolog.Nop())
	for range 4 {
		s.Put(uuid.New(), []byte("x"))
	}
	require.NoError(t, s.Flush(context.Background()))
	s.Put(uuid.New(), []byte("y"))
	require.NoError(t, s.Flush(context.Background()))

	families, err := reg.Gather()
	require.NoError(t, err)
	var flushed float64
	for _, f := range families {
		if f.GetName() == "nexmdm_snapshots_flushed_total" {
			flushed = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	assert.Equal(t, 5.0, flushed)
}

func TestFailedFlushKeepsSnapshotsForTheNextOne(t *testing.T) {
	s, r := newTestStore(t)
	id := uuid.New()
	s.Put(id, []byte("keep"))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, s.Flush(cancelled))
	require.NoError(t, s.Flush(context.Background()))
	got, err := r.Client.Get(context.Background(), r.Prefix+"dev:"+id.String()).Result()
	require.NoError(t, err)
	assert.Equal(t, "keep", got)
}

func TestCloseFlushes(t *testing.T) {
	s, r := newTestStore(t)
	go s.Run()
	s.Put(uuid.New(), []byte("z"))
	require.NoError(t, s.Close(context.Background()))
	assert.Len(t, r.Keys(t), 1)
}
