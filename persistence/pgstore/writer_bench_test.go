package pgstore_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// BenchmarkWriterStress is the stress scenario's storage path on the
// machine's PostgreSQL: 100,000 devices that each already have a last
// status, heartbeating in random order with 512 rows in flight, as the
// bench's 512 connections keep them. It reports the wall time per stored
// row with the writer's default configuration; PostgreSQL's CPU is most
// of it.
func BenchmarkWriterStress(b *testing.B) {
	const devices, inFlight = 100_000, 512
	db := testenv.Postgres(b)
	ctx := context.Background()
	parts, err := pgstore.NewPartitions(ctx, db.Pool)
	require.NoError(b, err)
	start := time.Now().UTC().Add(-12 * time.Hour).Truncate(persistence.BucketWidth)
	require.NoError(b, parts.EnsureRange(ctx, start, start.Add(36*time.Hour)))
	w := pgstore.NewWriter(db.Pool, parts, pgstore.DefaultWriterConfig(), nil, zerolog.Nop())
	defer w.Close(ctx)

	ids := make([]uuid.UUID, devices)
	for i := range ids {
		ids[i] = uuid.New()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// Each round is every device once, in a new random order and a new bucket.
	write := func(round, i int, notify done) *persistence.HeartbeatWrite {
		ts := start.Add(time.Duration(round) * persistence.BucketWidth)
		return &persistence.HeartbeatWrite{Heartbeat: stressHeartbeat(ids[i], ts, rng), Notify: notify}
	}
	pump := func(n, firstRound int) {
		finished := make(done, inFlight)
		order := rng.Perm(devices)
		for sent := 0; sent < n; sent++ {
			if sent >= inFlight {
				require.NoError(b, (<-finished).Err)
			}
			if sent > 0 && sent%devices == 0 {
				order = rng.Perm(devices)
			}
			require.True(b, w.Enqueue(write(firstRound+sent/devices, order[sent%devices], finished)))
		}
		for range min(n, inFlight) {
			require.NoError(b, (<-finished).Err)
		}
	}
	pump(devices, 0) // every device gets its last status
	b.ResetTimer()
	pump(b.N, 1)
}

const appsInUse = `{"com.example.pos":1764990000000,"com.android.settings":1764980000000}`

// stressHeartbeat is a heartbeat with every field, as the loadgen sends.
func stressHeartbeat(id uuid.UUID, ts time.Time, rng *rand.Rand) persistence.Heartbeat {
	return persistence.Heartbeat{
		DeviceID: id, TS: ts, ReceivedAt: ts, Has: ^persistence.Fields(0),
		BatteryPct: int16(rng.IntN(101)), Charging: rng.IntN(2) == 0, RAMUsedMB: 1800 + rng.Int32N(900), RAMTotalMB: 3712,
		UptimeS: rng.Int64N(1_000_000), NetType: "wifi", SSID: "store-412", SignalDBm: -40 - int16(rng.IntN(50)),
		AgentVersion: "1.4.2", AgentVersionCode: 10402, ForegroundPkg: "com.example.pos", AppLastForeground: appsInUse,
		PowerOK: true, DozeWhitelisted: true, NetValidated: true, QueueDepth: int32(rng.IntN(3)),
	}
}
