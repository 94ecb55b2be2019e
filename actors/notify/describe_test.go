package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var at = time.Date(2026, 3, 14, 12, 18, 0, 0, time.UTC)

func storm() Notification {
	return Notification{
		Kind: KindDigest, Rule: "offline", Severity: Critical, At: at,
		Text: "Site Harbour Road may have lost power.",
		Link: "https://mdm.example.com/devices?status=offline",
		Digest: &Digest{
			Fired: 500, Window: time.Minute,
			Devices: []string{"Till 1", "Till 2", "Till 3"},
		},
	}
}

func TestDescribeDigest(t *testing.T) {
	subject, plain := Describe(storm())
	assert.Equal(t, "[NexMDM] Storm: 500 devices offline", subject)
	assert.Equal(t, `Storm: 500 devices offline

500 devices went offline in the last 60 s (sample: Till 1, Till 2, Till 3, …).
Site Harbour Road may have lost power.

Severity: critical
At: 2026-03-14 12:18:00 UTC
Link: https://mdm.example.com/devices?status=offline
`, plain)
}

func TestDescribeRecoveryDigest(t *testing.T) {
	n := storm()
	n.Text, n.Severity = "", Info
	n.Digest = &Digest{Resolved: 480, Window: 5 * time.Minute, Devices: []string{"Till 1"}}
	subject, plain := Describe(n)
	assert.Equal(t, "[NexMDM] Recovered: 480 devices back online", subject)
	assert.Contains(t, plain, "480 devices came back online in the last 5 min (sample: Till 1, …).\n")
}

func TestDescribeFired(t *testing.T) {
	n := Notification{
		Kind: KindFired, Rule: "offline", Severity: Critical, At: at,
		Title: "Device offline: Till 4", Text: "No heartbeat for 14 minutes.",
		DeviceID: "7f3c", Device: "Till 4",
		Fields: []Field{{"Last seen", "12:04 UTC (14 min ago)"}},
	}
	subject, plain := Describe(n)
	assert.Equal(t, "[NexMDM] Device offline: Till 4", subject)
	assert.Equal(t, `Device offline: Till 4

No heartbeat for 14 minutes.

Device: Till 4 (7f3c)
Last seen: 12:04 UTC (14 min ago)
Severity: critical
At: 2026-03-14 12:18:00 UTC
`, plain)
}

func TestDigestTitles(t *testing.T) {
	for _, tc := range []struct {
		name            string
		rule            string
		fired, resolved int
		want            string
	}{
		{"one device", "offline", 1, 0, "Storm: 1 device offline"},
		{"both ways", "offline", 500, 20, "Storm: 500 devices offline, 20 back online"},
		{"battery", "low_battery", 40, 0, "Storm: 40 devices on low battery"},
		{"service back", "service_down", 0, 12, "Recovered: 12 devices with the service back up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := Notification{Kind: KindDigest, Rule: tc.rule, Digest: &Digest{Fired: tc.fired, Resolved: tc.resolved}}
			assert.Equal(t, tc.want, title(n))
		})
	}
}

func TestSeverityAtLeast(t *testing.T) {
	for _, tc := range []struct {
		s, min Severity
		want   bool
	}{
		{Critical, Critical, true}, {Critical, Warning, true}, {Critical, Info, true},
		{Warning, Critical, false}, {Warning, Warning, true}, {Warning, Info, true},
		{Info, Critical, false}, {Info, Warning, false}, {Info, Info, true},
		{"", Info, true}, {"", Warning, false},
	} {
		if got := tc.s.AtLeast(tc.min); got != tc.want {
			t.Errorf("Severity(%q).AtLeast(%q) = %v, want %v", tc.s, tc.min, got, tc.want)
		}
	}
}
