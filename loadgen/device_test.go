package loadgen

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
)

// A simulated device, followed for a week of 10 s heartbeats, behaves like a
// device: its battery drains and charges within 1-100 %, RAM stays within
// its bounds, the network moves, apps take turns in front, and every
// heartbeat is valid JSON the agent would send.
func TestSimulatedDeviceMovesLikeARealOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	d := NewDevice(Credential{Serial: "sim-000000"}, start, rng)
	p := NewPayload()
	const step = 10 * time.Second

	var (
		charging, discharging, cellular, wifi int
		ssids                                 = map[string]bool{}
		foreground                            = map[string]bool{}
		batteries                             = map[int]bool{}
		prevTS                                = start
		buf                                   []byte
	)
	for i := range 7 * 24 * 360 {
		hb := d.Next(step, rng, p)
		require.Equal(t, prevTS.Add(step), hb.TS, "heartbeat %d: the clock moves one step", i)
		prevTS = hb.TS

		require.GreaterOrEqual(t, *hb.BatteryPct, 1)
		require.LessOrEqual(t, *hb.BatteryPct, 100)
		require.GreaterOrEqual(t, *hb.RAMUsedMB, *hb.RAMTotalMB*3/10)
		require.LessOrEqual(t, *hb.RAMUsedMB, *hb.RAMTotalMB*9/10)
		require.Equal(t, hb.TS.UnixMilli(), hb.AppLastForeground[hb.ForegroundPkg], "the app in front was used just now")
		batteries[*hb.BatteryPct] = true
		if *hb.Charging {
			charging++
		} else {
			discharging++
		}
		if hb.NetType == "cellular" {
			cellular++
			assert.Empty(t, hb.SSID)
		} else {
			wifi++
			ssids[hb.SSID] = true
		}
		foreground[hb.ForegroundPkg] = true

		if i%997 == 0 { // what goes on the wire is the heartbeat
			buf = hb.AppendJSON(buf[:0])
			var back client.Heartbeat
			require.NoError(t, json.Unmarshal(buf, &back))
			assert.True(t, back.TS.Equal(hb.TS))
			assert.Equal(t, *hb.BatteryPct, *back.BatteryPct)
			assert.Equal(t, hb.AppLastForeground, back.AppLastForeground)
		}
	}
	assert.Positive(t, charging, "the battery is charged at some point in a week")
	assert.Positive(t, discharging)
	assert.Greater(t, len(batteries), 50, "battery levels move across the range")
	assert.Positive(t, cellular, "the device falls back to cellular now and then")
	assert.Positive(t, wifi)
	assert.Len(t, ssids, 1, "a device stays at its site")
	assert.Len(t, foreground, len(simPackages), "every app comes to the front")
}

// Devices of one fleet differ, so the server sees a realistic spread.
func TestFleetDevicesDiffer(t *testing.T) {
	creds := make([]Credential, 200)
	for i := range creds {
		creds[i] = Credential{Serial: SerialOf("sim", i)}
	}
	sc, err := Lookup("stress")
	require.NoError(t, err)
	now := time.Now()
	fleet := sc.NewFleet(creds, now, 42)
	sites, versions, rams := map[int]bool{}, map[int]bool{}, map[int]bool{}
	for _, d := range fleet {
		sites[d.site], versions[d.version], rams[d.ramTotal] = true, true, true
		assert.WithinDuration(t, now.Add(-sc.ClockStart), d.clock, 10*time.Second, "clocks start ClockStart ago")
	}
	assert.Greater(t, len(sites), 100)
	assert.Len(t, versions, len(simVersions), "the fleet is mid-rollout")
	assert.Greater(t, len(rams), 1)
}

// Filling a payload allocates nothing: the loadgen must not be the bottleneck.
func TestNextAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	d := NewDevice(Credential{}, time.Now(), rng)
	p := NewPayload()
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = d.Next(10*time.Second, rng, p).AppendJSON(buf[:0])
	})
	assert.Zero(t, allocs)
}
