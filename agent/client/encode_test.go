package client

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randomHeartbeat(r *rand.Rand) *Heartbeat {
	maybe := func() bool { return r.IntN(3) > 0 }
	pick := func(ss ...string) string { return ss[r.IntN(len(ss))] }
	h := &Heartbeat{TS: time.Unix(r.Int64N(2e9), r.Int64N(1e9)).UTC()}
	if maybe() {
		h.BatteryPct = new(r.IntN(101))
	}
	if maybe() {
		h.Charging = new(r.IntN(2) == 1)
	}
	if maybe() {
		h.RAMUsedMB, h.RAMTotalMB = new(r.IntN(4000)), new(4000)
	}
	if maybe() {
		h.UptimeS = new(r.Int64N(1e8))
	}
	h.NetType = pick("", "wifi", "cellular")
	h.SSID = pick("", "store-1", `quo"te\back`, "tab\there", "ctl\x01\x1f", "caf\u00e9 \u2028", "bad\xffutf8", "<&>")
	if maybe() {
		h.SignalDBm = new(-r.IntN(150))
	}
	h.AgentVersion = pick("", "1.2.0")
	if maybe() {
		h.AgentVersionCode = new(r.IntN(1000))
	}
	h.ForegroundPkg = pick("", "com.example.kiosk")
	if maybe() {
		h.AppLastForeground = map[string]int64{"com.b": r.Int64N(1e13), "com.a": 0, "x\"y": 5}
	}
	if maybe() {
		h.PowerOK, h.DozeWhitelisted, h.NetValidated = new(true), new(false), new(r.IntN(2) == 1)
	}
	if maybe() {
		h.QueueDepth = new(r.IntN(500))
	}
	return h
}

func TestAppendJSONEncodesWhatEncodingJSONDoes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		h := randomHeartbeat(r)
		want, err := json.Marshal(h)
		require.NoError(t, err)
		got := h.AppendJSON(nil)
		var a, b map[string]any
		require.NoError(t, json.Unmarshal(want, &a))
		require.NoError(t, json.Unmarshal(got, &b), "case %d: %s", i, got)
		assert.Equal(t, a, b, "case %d", i)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	h := randomHeartbeat(rand.New(rand.NewPCG(3, 4)))
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = h.AppendJSON(buf[:0])
	}
}
