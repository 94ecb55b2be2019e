package pgstore_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// A restart loads every device with one scan whose column destinations are
// reused from row to row: each record must hold its own device's values,
// none left over from the row before.
func TestLoadingDevicesGivesEachItsOwnCredentialsFactsAndLastStatus(t *testing.T) {
	e := newTestWriter(t, pgstore.DefaultWriterConfig())
	ctx := context.Background()
	devices := pgstore.NewDevices(e.db.Pool)
	enroll := func(serial string, digest byte) pgstore.Enrolled {
		out, err := devices.Enroll(ctx, pgstore.Enrollment{
			NewID: uuid.New(), Serial: serial, Alias: "alias-" + serial, Model: "model-" + serial,
			AgentVersion: "1.4.2", FCMToken: "fcm-" + serial, TokenBcrypt: "bcrypt-" + serial,
			TokenDigest: []byte{digest, digest}, PepperID: "pepper-" + serial, HMACKeyID: "key-" + serial,
		})
		require.NoError(t, err)
		return out
	}
	enroll("a", 1)
	a := enroll("a", 2) // re-enrolled: the first token's digest is revoked
	b := enroll("b", 3) // never heartbeated

	ts := time.Now().UTC().Truncate(time.Millisecond)
	hb := stressHeartbeat(a.ID, ts, rand.New(rand.NewPCG(1, 2)))
	hb.Has = persistence.HasQueueDepth<<1 - 1 // every field there is
	require.NoError(t, e.writeBatch(t, false, &persistence.HeartbeatWrite{Heartbeat: hb, Notify: e.done})[0].Err)

	got := map[uuid.UUID]*persistence.DeviceRecord{}
	require.NoError(t, devices.ForEach(ctx, func(r *persistence.DeviceRecord) error {
		got[r.ID] = r
		return nil
	}))
	require.Len(t, got, 2)

	ra, rb := got[a.ID], got[b.ID]
	require.NotNil(t, ra)
	require.NotNil(t, rb)
	assert.Equal(t, []byte{2, 2}, ra.TokenDigest)
	assert.Equal(t, []byte{1, 1}, ra.RevokedDigest)
	assert.Equal(t, "pepper-a", ra.PepperID)
	assert.Equal(t, "bcrypt-a", ra.TokenBcrypt)
	assert.True(t, a.EnrolledAt.Equal(ra.Facts.EnrolledAt))
	ra.Facts.EnrolledAt = time.Time{}
	assert.Equal(t, persistence.DeviceFacts{Alias: "alias-a", Serial: "a", Model: "model-a", AgentVersion: "1.4.2",
		FCMToken: "fcm-a", HMACKeyID: "key-a"}, ra.Facts)
	require.NotNil(t, ra.Last, "a's newest heartbeat")
	last := *ra.Last
	assert.True(t, hb.TS.Equal(last.TS) && hb.ReceivedAt.Equal(last.ReceivedAt))
	hb.TS, hb.ReceivedAt, last.TS, last.ReceivedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	assert.Equal(t, hb, last)

	assert.Equal(t, []byte{3, 3}, rb.TokenDigest)
	assert.Nil(t, rb.RevokedDigest, "b was never re-enrolled")
	assert.Equal(t, "alias-b", rb.Facts.Alias)
	assert.Equal(t, "fcm-b", rb.Facts.FCMToken)
	assert.Nil(t, rb.Last, "b never heartbeated")
}
