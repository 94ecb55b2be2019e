package actors

import (
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
)

func TestDedupeRemembersStoredBuckets(t *testing.T) {
	var d dedupe
	assert.Equal(t, bucketNew, d.check(100), "a device with nothing stored")
	d.mark(100)
	assert.Equal(t, bucketStored, d.check(100))
	assert.Equal(t, bucketNew, d.check(101))
	assert.Equal(t, bucketNew, d.check(99), "nothing below the first stored bucket")

	d.mark(105)
	for b, want := range map[int64]verdict{105: bucketStored, 104: bucketNew, 100: bucketStored, 99: bucketNew, 106: bucketNew} {
		assert.Equal(t, want, d.check(b), "check(%d)", b)
	}

	d.mark(102) // a replayed backlog row below the newest
	assert.Equal(t, bucketStored, d.check(102))
	assert.Equal(t, int64(105), d.last)

	d.mark(105 + 64) // the window slides: 105 is bit 63 now
	assert.Equal(t, bucketStored, d.check(105))
	assert.Equal(t, bucketUnknown, d.check(104), "below the window nothing is certain")

	d.mark(1000) // a jump past the window forgets it
	assert.Equal(t, bucketNew, d.check(999), "the buckets between were never stored")
	assert.Equal(t, bucketStored, d.check(1000))
}

func TestDedupeAfterHydrationFromPostgresOnly(t *testing.T) {
	d := dedupe{last: 500} // Postgres knows only the newest stored bucket
	assert.Equal(t, bucketStored, d.check(500))
	assert.Equal(t, bucketNew, d.check(501))
	assert.Equal(t, bucketUnknown, d.check(499), "must be inserted if absent, not assumed new")
	d.mark(503)
	assert.Equal(t, bucketNew, d.check(502), "buckets above the known newest were never stored")
	assert.Equal(t, bucketNew, d.check(501))
	assert.Equal(t, bucketStored, d.check(500))
	assert.Equal(t, bucketUnknown, d.check(499))
}

func TestSnapshotRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 5, 123456789, time.UTC)
	st := deviceState{
		lastSeen: now.UnixNano(), online: true,
		dedupe: dedupe{last: 1234, recent: 0xF0F0, known: 40},
		live: persistence.Heartbeat{
			TS: now.Add(-time.Second), ReceivedAt: now, Has: persistence.HasBattery | persistence.HasSSID,
			BatteryPct: 77, Charging: true, RAMUsedMB: 1000, RAMTotalMB: 4000, UptimeS: 99999,
			NetType: "wifi", SSID: "store-12", SignalDBm: -61, AgentVersion: "1.4.2", AgentVersionCode: 142,
			ForegroundPkg: "com.example.kiosk", PowerOK: true, DozeWhitelisted: true, NetValidated: true, QueueDepth: 3,
		},
		monitoredLastFG: 1700000000000,
		alerts:          AlertState{Open: 0b101, OpenedAt: [numRules]int64{1, 0, 3}, LastFired: [numRules]int64{4, 5, 6}},
	}
	var got deviceState
	require.NoError(t, decodeSnapshot(encodeSnapshot(nil, &st), &got))
	got.live.DeviceID = st.live.DeviceID
	assert.Equal(t, st, got)
}

func TestSnapshotRejectsGarbage(t *testing.T) {
	var st deviceState
	for _, b := range [][]byte{nil, {}, {snapshotVersion}, {99, 1, 2, 3}, encodeSnapshot(nil, &st)[:20]} {
		assert.ErrorIs(t, decodeSnapshot(b, &st), errBadSnapshot)
	}
}

func TestHydratePrefersNewerPostgresBucket(t *testing.T) {
	now := time.Now().UTC()
	snapState := deviceState{lastSeen: now.Add(-time.Minute).UnixNano(), dedupe: dedupe{last: persistence.Bucket(now.Add(-time.Minute)), recent: 1, known: 64}}
	snap := encodeSnapshot(nil, &snapState)
	rec := &persistence.DeviceRecord{
		ID: uuid.New(), TokenDigest: make([]byte, 32), PepperID: "p1", TokenBcrypt: "$2a$04$examplehashexamplehashexamplehashexamplehashexample",
		Last: &persistence.Heartbeat{TS: now, ReceivedAt: now, BatteryPct: 40, Has: persistence.HasBattery},
	}
	st, err := hydrate(rec, snap, "p1")
	require.NoError(t, err)
	assert.Equal(t, persistence.Bucket(now), st.dedupe.last, "a commit after the last snapshot flush still counts")
	assert.Equal(t, uint8(0), st.dedupe.known, "the snapshot's window no longer lines up")
	assert.Equal(t, int16(40), st.live.BatteryPct)
	assert.True(t, st.seenAt().Equal(now))
	assert.Empty(t, st.creds.bcrypt, "same pepper: the digest is used as is")

	st, err = hydrate(rec, snap, "p2")
	require.NoError(t, err)
	assert.Equal(t, rec.TokenBcrypt, st.creds.bcrypt, "another pepper: fall back to bcrypt once")
}

// At 100,000 devices each byte of an actor is 100 kB of heap, twice that
// in RSS under load. 640 is the allocator's size class the actor fits in;
// one byte more and it takes 704.
func TestDeviceActorFitsItsSizeClass(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(deviceActor{}), uintptr(640))
}

func TestFirstTicksOfAHydratedFleetAreSpreadOverTheWindow(t *testing.T) {
	loaded := time.Unix(1_800_000_000, 0)
	const devices, spread = 6000, 10 * time.Minute
	perMinute := map[int64]int{}
	for range devices {
		at := int64(firstTick(uuid.New(), loaded, spread))
		require.Greater(t, at, loaded.Unix(), "never in the sweep that finds the actor just loaded")
		require.LessOrEqual(t, at, loaded.Add(spread).Unix())
		perMinute[(at-loaded.Unix()-1)/60]++
	}
	require.Len(t, perMinute, 10, "every minute of the window gets some")
	for m, n := range perMinute {
		assert.InDelta(t, devices/10, n, devices/20, "minute %d holds about a tenth", m)
	}
	assert.Equal(t, uint32(loaded.Unix()+1), firstTick(uuid.New(), loaded, 0), "no spread: the next sweep")
}
