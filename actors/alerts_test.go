package actors_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/persistence"
)

// alertRecorder keeps the transitions device actors report.
type alertRecorder struct {
	mu sync.Mutex
	ts []actors.AlertTransition
}

func (r *alertRecorder) AlertTransition(t actors.AlertTransition) {
	r.mu.Lock()
	r.ts = append(r.ts, t)
	r.mu.Unlock()
}

// list renders the transitions as "rule fired|resolved[ quiet]".
func (r *alertRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, t := range r.ts {
		s := t.Rule.String() + " resolved"
		if t.Fired {
			s = t.Rule.String() + " fired"
		}
		if t.Quiet {
			s += " quiet"
		}
		out = append(out, s)
	}
	return out
}

func (r *alertRecorder) last() actors.AlertTransition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ts[len(r.ts)-1]
}

// beat sends a heartbeat with a battery level and charger state and waits.
func (f *fixture) beat(t *testing.T, id uuid.UUID, secret string, battery int16, charging bool, fg map[string]int64) {
	t.Helper()
	f.clock.Advance(10 * time.Second) // a new bucket each time
	req := actors.NewHeartbeatRequest()
	req.Write.Heartbeat = persistence.Heartbeat{
		DeviceID: id, TS: f.clock.Now(), ReceivedAt: f.clock.Now(),
		Has:        persistence.HasBattery | persistence.HasCharging,
		BatteryPct: battery, Charging: charging,
	}
	if fg != nil {
		raw, err := json.Marshal(fg)
		require.NoError(t, err)
		req.Write.Heartbeat.Has |= persistence.HasAppLastForeground
		req.Write.Heartbeat.AppLastForeground = string(raw)
	}
	req.Digest, req.Secret = f.digest(secret), secret
	require.NoError(t, f.dir.Heartbeat(req))
	wait(t, req)
}

func TestOfflineFiresAtTheSweepAndResolvesWithTheNextHeartbeat(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "A1")
	f.beat(t, id, secret, 80, false, nil)
	f.clock.Advance(f.cfg.OfflineAfter + time.Second)
	f.dir.Sweep(f.clock.Now())
	f.status(t, id) // the sweep's tick is handled before this answer
	assert.Equal(t, []string{"offline fired"}, f.alerts.list())
	assert.Equal(t, f.cfg.OfflineAfter/time.Second, time.Duration(f.alerts.last().Details["offline_after_s"].(int)))

	f.beat(t, id, secret, 80, false, nil)
	assert.Equal(t, []string{"offline fired", "offline resolved"}, f.alerts.list())
	assert.Equal(t, uint8(0), f.status(t, id).Alerts.Open, "no rule is open")

	f.clock.Advance(f.cfg.OfflineAfter + time.Second)
	f.dir.Sweep(f.clock.Now())
	f.status(t, id)
	assert.Equal(t, "offline fired quiet", f.alerts.list()[2], "firing again within the cooldown is recorded, not notified")
}

func TestLowBatteryHasHysteresisAndAChargerClearsIt(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "B1")
	for _, level := range []int16{16, 15} {
		f.beat(t, id, secret, level, false, nil)
	}
	assert.Empty(t, f.alerts.list(), "15 %% is not below 15 %%")
	for _, level := range []int16{14, 15, 16, 14, 19} {
		f.beat(t, id, secret, level, false, nil)
	}
	assert.Equal(t, []string{"low_battery fired"}, f.alerts.list(), "wobbling around the threshold is one alert")
	assert.EqualValues(t, 14, f.alerts.last().Details["battery_pct"])
	f.status(t, id)
	assert.Equal(t, 1, f.dir.Summary(f.clock.Now()).Alerting, "the fleet summary counts the alerting device")
	f.beat(t, id, secret, 20, false, nil)
	assert.Equal(t, []string{"low_battery fired", "low_battery resolved"}, f.alerts.list(), "20 %% clears it")
	f.status(t, id)
	assert.Equal(t, 0, f.dir.Summary(f.clock.Now()).Alerting)

	f.clock.Advance(time.Hour) // past the cooldown
	f.beat(t, id, secret, 9, false, nil)
	f.beat(t, id, secret, 9, true, nil)
	assert.Equal(t, []string{"low_battery fired", "low_battery resolved", "low_battery fired", "low_battery resolved"}, f.alerts.list(),
		"a charger clears it at any level")
	f.beat(t, id, secret, 5, true, nil)
	assert.Len(t, f.alerts.list(), 4, "a low level on the charger fires nothing")
}

func TestServiceDownFiresPastTheThresholdAndRecoversWhenSeen(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "C1")
	seen := func(ago time.Duration) map[string]int64 {
		return map[string]int64{"com.example.kiosk": f.clock.Now().Add(10*time.Second - ago).UnixMilli()}
	}
	f.beat(t, id, secret, 80, true, nil)
	f.dir.SetMonitoring([]actors.MonitoringChange{{ID: id, Monitoring: persistence.Monitoring{
		Package: "com.example.kiosk", DisplayName: "Kiosk", ThresholdMin: 10, Enabled: true, AutoRemediate: true}}})
	f.beat(t, id, secret, 80, true, seen(0))
	f.beat(t, id, secret, 80, true, nil)
	assert.Empty(t, f.alerts.list(), "seen within 10 minutes")

	f.clock.Advance(11 * time.Minute)
	f.beat(t, id, secret, 80, true, nil)
	require.Equal(t, []string{"service_down fired"}, f.alerts.list())
	d := f.alerts.last().Details
	assert.Equal(t, "Kiosk", d["service"])
	assert.Equal(t, "com.example.kiosk", d["package"])
	assert.EqualValues(t, 10, d["threshold_min"])
	assert.Equal(t, true, d["auto_remediate"])
	assert.NotNil(t, d["last_foreground"], "the alert says when the service was last seen")

	f.beat(t, id, secret, 80, true, seen(0))
	assert.Equal(t, []string{"service_down fired", "service_down resolved"}, f.alerts.list(), "seen again: recovered")

	f.dir.SetMonitoring([]actors.MonitoringChange{{ID: id, Monitoring: persistence.Monitoring{}}})
	f.clock.Advance(time.Hour)
	f.beat(t, id, secret, 80, true, nil)
	assert.Len(t, f.alerts.list(), 2, fmt.Sprint("monitoring off: no rule ", f.alerts.list()))
}
