package wshub

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// marker publishes and flushes a fleet-wide event, so a test can tell that
// nothing else was sent before it.
func (th *testHub) marker(now time.Time) {
	th.Publish("marker", uuid.Nil, nil)
	th.flushEvents(now)
}

func TestStatusSendsEachChangedDeviceOncePerFlush(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	c := th.connect(t, aliceToken)
	x, y := uuid.New(), uuid.New()
	for pct := 1; pct <= 50; pct++ {
		th.src.Set(x, pct)
	}
	th.src.Set(y, 7)
	th.flushStatus(t0.Add(time.Second))

	m := c.next()
	assert.Equal(t, "2025-03-01T12:00:01Z", m.At)
	assert.Equal(t, map[uuid.UUID]int{x: 50, y: 7}, statuses(t, m), "x changed 50 times, sent once at its latest")

	th.flushStatus(t0.Add(2 * time.Second)) // nothing changed since
	th.marker(t0.Add(2 * time.Second))
	assert.Equal(t, "marker", c.next().Type, "a flush without changes sends nothing")
}

func TestStatusSkipsDeletedDevices(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	c := th.connect(t, aliceToken)
	gone, kept := uuid.New(), uuid.New()
	th.src.Set(gone, 1)
	th.src.Set(kept, 2)
	th.src.Delete(gone)
	th.flushStatus(t0)

	assert.Equal(t, map[uuid.UUID]int{kept: 2}, statuses(t, c.next()))
}

func TestPerDeviceSubscriberGetsOnlyItsDevices(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	all := th.connect(t, aliceToken)
	one := th.connect(t, aliceToken)
	x, y, z := uuid.New(), uuid.New(), uuid.New()
	one.send(map[string]string{"type": "subscribe", "device_id": x.String()})
	sub := one.next()
	require.Equal(t, "subscription", sub.Type)
	assert.Equal(t, []string{x.String()}, sub.DeviceIDs)
	assert.False(t, sub.All)

	for _, id := range []uuid.UUID{x, y, z} {
		th.src.Set(id, 50)
	}
	th.flushStatus(t0)
	assert.Len(t, statuses(t, all.next()), 3)
	assert.Equal(t, map[uuid.UUID]int{x: 50}, statuses(t, one.next()))

	th.src.Set(y, 40)
	th.flushStatus(t0)
	th.marker(t0)
	assert.Equal(t, "marker", one.next().Type, "no message when none of its devices changed")

	one.send(map[string]any{"type": "subscribe", "all": true})
	assert.True(t, one.next().All)
	th.src.Set(y, 30)
	th.flushStatus(t0)
	assert.Equal(t, map[uuid.UUID]int{y: 30}, statuses(t, one.next()))
}

func TestUnsubscribeStopsADevice(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	c := th.connect(t, aliceToken)
	x, y := uuid.New(), uuid.New()
	c.send(map[string]string{"type": "subscribe", "device_id": x.String()})
	c.next()
	c.send(map[string]string{"type": "subscribe", "device_id": y.String()})
	assert.ElementsMatch(t, []string{x.String(), y.String()}, c.next().DeviceIDs)
	c.send(map[string]string{"type": "unsubscribe", "device_id": x.String()})
	assert.Equal(t, []string{y.String()}, c.next().DeviceIDs)

	th.src.Set(x, 1)
	th.src.Set(y, 2)
	th.flushStatus(t0)
	assert.Equal(t, map[uuid.UUID]int{y: 2}, statuses(t, c.next()))
}

func TestLargeStatusBatchesAreSplit(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBatchBytes = 1024
	th := newTestHub(t, cfg, false)
	c := th.connect(t, aliceToken)
	devices := ids(100)
	for _, id := range devices {
		th.src.Set(id, 1)
	}
	th.flushStatus(t0)

	seen := map[uuid.UUID]int{}
	messages := 0
	for len(seen) < len(devices) {
		m := c.next()
		messages++
		assert.LessOrEqual(t, len(m.raw), 1024)
		for id, pct := range statuses(t, m) {
			seen[id] += pct
		}
	}
	assert.Greater(t, messages, 1)
	for _, id := range devices {
		assert.Equal(t, 1, seen[id], "device %s", id)
	}
}

func TestOfflineStormArrivesAsOneMessage(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	all := th.connect(t, aliceToken)
	one := th.connect(t, aliceToken)
	devices := ids(5000)
	one.send(map[string]string{"type": "subscribe", "device_id": devices[42].String()})
	one.next()

	for _, id := range devices {
		th.DeviceOffline(id, t0, t0.Add(-5*time.Minute))
	}
	th.flushEvents(t0)

	m := all.next()
	require.Equal(t, "device.offline", m.Type)
	var got []struct {
		DeviceID uuid.UUID `json:"device_id"`
		At       time.Time `json:"at"`
		LastSeen time.Time `json:"last_seen"`
	}
	require.NoError(t, json.Unmarshal(m.Data, &got))
	require.Len(t, got, 5000, "5,000 transitions, one message")
	assert.Equal(t, devices[0], got[0].DeviceID)
	assert.Equal(t, t0.Add(-5*time.Minute), got[0].LastSeen.UTC())

	mine := one.next()
	assert.Equal(t, "device.offline", mine.Type)
	assert.JSONEq(t, `[{"device_id":"`+devices[42].String()+`","at":"2025-03-01T12:00:00Z","last_seen":"2025-03-01T11:55:00Z"}]`, string(mine.Data))
}

func TestEventsAreBatchedPerTypeAndFleetWideEventsReachEveryone(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	all := th.connect(t, aliceToken)
	other := th.connect(t, aliceToken)
	x := uuid.New()
	other.send(map[string]string{"type": "subscribe", "device_id": uuid.NewString()})
	other.next()

	th.Publish("alert.battery_low", x, map[string]int{"battery_pct": 5})
	th.Publish("job.progress", uuid.Nil, map[string]any{"job_id": "j1", "done": 10})
	th.Publish("alert.battery_low", x, map[string]int{"battery_pct": 4})
	th.flushEvents(t0)

	alerts := all.next()
	assert.Equal(t, "alert.battery_low", alerts.Type)
	assert.JSONEq(t, `[{"device_id":"`+x.String()+`","battery_pct":5},{"device_id":"`+x.String()+`","battery_pct":4}]`, string(alerts.Data))
	assert.Equal(t, "job.progress", all.next().Type)
	assert.Equal(t, "job.progress", other.next().Type, "a per-device client still gets fleet-wide events")
}

func TestEventPayloadsGainTheirDeviceID(t *testing.T) {
	id := uuid.MustParse("11111111-1111-4111-8111-111111111111")
	for _, tc := range []struct {
		name     string
		deviceID uuid.UUID
		payload  string
		want     string
	}{
		{"object", id, `{"a":1}`, `{"device_id":"11111111-1111-4111-8111-111111111111","a":1}`},
		{"empty object", id, `{}`, `{"device_id":"11111111-1111-4111-8111-111111111111"}`},
		{"null", id, `null`, `{"device_id":"11111111-1111-4111-8111-111111111111"}`},
		{"scalar", id, `"rebooted"`, `{"device_id":"11111111-1111-4111-8111-111111111111","value":"rebooted"}`},
		{"already there", id, `{"device_id":"x"}`, `{"device_id":"x"}`},
		{"only nested", id, `{"b":{"device_id":"x"}}`, `{"device_id":"11111111-1111-4111-8111-111111111111","b":{"device_id":"x"}}`},
		{"fleet-wide", uuid.Nil, `{"a":1}`, `{"a":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendElement(nil, tc.deviceID, []byte(tc.payload)))
			assert.Equal(t, tc.want, got, "appendElement(%q)", tc.payload)
		})
	}
}

func TestPublishWithoutClientsKeepsNothing(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	th.Publish("alert.x", uuid.New(), nil)
	th.evMu.Lock()
	defer th.evMu.Unlock()
	assert.Empty(t, th.pending)
}

func TestPendingEventsAreCappedAndCounted(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPendingEvents = 10
	th := newTestHub(t, cfg, false)
	c := th.connect(t, aliceToken)
	for range 15 {
		th.Publish("job.progress", uuid.Nil, 1)
	}
	th.flushEvents(t0)

	var got []int
	require.NoError(t, json.Unmarshal(c.next().Data, &got))
	assert.Len(t, got, 10)
	assert.Equal(t, 5.0, counterValue(t, th, "nexmdm_ws_events_dropped_total"))
}

func TestBadMessagesAreAnsweredWithoutDroppingTheClient(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSubscriptions = 1
	th := newTestHub(t, cfg, false)
	c := th.connect(t, aliceToken)
	for _, tc := range []struct {
		msg  any
		code string
	}{
		{"not an object", "bad_message"},
		{map[string]string{"type": "dance"}, "bad_message"},
		{map[string]string{"type": "subscribe"}, "bad_message"},
		{map[string]string{"type": "subscribe", "device_id": "not-a-uuid"}, "bad_message"},
		{map[string]string{"type": "unsubscribe", "device_id": uuid.NewString()}, "bad_message"},
	} {
		c.send(tc.msg)
		m := c.next()
		assert.Equal(t, "error", m.Type, "reply to %v", tc.msg)
		assert.Equal(t, tc.code, m.Error, "reply to %v", tc.msg)
		assert.NotEmpty(t, m.Message)
	}
	c.send(map[string]string{"type": "subscribe", "device_id": uuid.NewString()})
	assert.Equal(t, "subscription", c.next().Type)
	c.send(map[string]string{"type": "subscribe", "device_id": uuid.NewString()})
	assert.Equal(t, "too_many_subscriptions", c.next().Error)
}

func TestMessagesOverTheReadLimitCloseTheClient(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageBytes = 64
	th := newTestHub(t, cfg, false)
	c := th.connect(t, aliceToken)
	c.send(map[string]string{"type": "subscribe", "device_id": strings.Repeat("x", 100)})

	assert.Equal(t, 1009, c.closed().Code)
}

func TestUnsetConfigFieldsTakeTheDefaults(t *testing.T) {
	cfg := Config{SendQueue: 1, MaxClients: 7}.withDefaults()
	want := DefaultConfig()
	want.SendQueue = 4 // room for auth.ok and the summary
	want.MaxClients = 7
	assert.Equal(t, want, cfg)
}

func TestUnencodablePayloadsAreDroppedAndCounted(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	c := th.connect(t, aliceToken)
	th.Publish("job.progress", uuid.Nil, make(chan int))
	th.Publish("job.progress", uuid.Nil, 2)
	th.flushEvents(t0)

	assert.JSONEq(t, `[2]`, string(c.next().Data))
	assert.Equal(t, 1.0, counterValue(t, th, "nexmdm_ws_events_dropped_total"))
	assert.Contains(t, th.logs.String(), `"event":"ws.event.encode"`)
}
