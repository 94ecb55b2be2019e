package snapstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScanIDsListsEverySnapshotForReconciliation(t *testing.T) {
	s, r := newTestStore(t) // batches of 3
	ctx := context.Background()
	want := map[uuid.UUID]bool{}
	for range 8 {
		id := uuid.New()
		want[id] = true
		s.Put(id, []byte("x"))
	}
	require.NoError(t, s.Flush(ctx))
	require.NoError(t, r.Client.Set(ctx, r.Prefix+"dev:not-a-uuid", "x", 0).Err())
	require.NoError(t, r.Client.Set(ctx, r.Prefix+"other:"+uuid.NewString(), "x", 0).Err())

	got := map[uuid.UUID]bool{}
	calls := 0
	require.NoError(t, s.ScanIDs(ctx, func(ids []uuid.UUID) error {
		calls++
		assert.NotEmpty(t, ids)
		for _, id := range ids {
			got[id] = true
		}
		return nil
	}))
	assert.Equal(t, want, got)
	assert.GreaterOrEqual(t, calls, 1)
}
