package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type feedMessage struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// dashboard is a live-feed client, as the admin UI is.
type dashboard struct {
	t    *testing.T
	conn *websocket.Conn
}

func dial(t *testing.T, base, query string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/admin/ws"+query, nil)
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, resp, err
}

func openDashboard(t *testing.T, base, token string) *dashboard {
	t.Helper()
	conn, _, err := dial(t, base, "?token="+token)
	require.NoError(t, err)
	return &dashboard{t: t, conn: conn}
}

// await reads messages until one of type typ satisfies match.
func (d *dashboard) await(typ string, match func(json.RawMessage) bool) json.RawMessage {
	d.t.Helper()
	require.NoError(d.t, d.conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	for {
		var m feedMessage
		require.NoError(d.t, d.conn.ReadJSON(&m), "waiting for %s", typ)
		if m.Type == typ && match(m.Data) {
			return m.Data
		}
	}
}

// mentions reports whether a batch holds an element about the device.
func mentions(id string) func(json.RawMessage) bool {
	return func(data json.RawMessage) bool {
		var elems []map[string]any
		if json.Unmarshal(data, &elems) != nil {
			return false
		}
		for _, e := range elems {
			if e["id"] == id || e["device_id"] == id {
				return true
			}
		}
		return false
	}
}

func TestLiveFeedSendsStatusAndPresenceTransitions(t *testing.T) {
	e, _, _ := newTestEnv(t)
	e["NEXMDM_OFFLINE_AFTER"] = "3s"
	startInProcess(t, e)
	c := api{t: t, base: e.url()}
	access, _ := c.login("watcher", c.addUser("watcher", "viewer"))
	d := openDashboard(t, e.url(), access)
	summary := d.await("fleet.summary", func(json.RawMessage) bool { return true })
	assert.Contains(t, string(summary), `"online":0`)

	cl := newClient(e.url())
	reg := enrollFleet(t, cl, "feed", 1)[0]
	first := time.Now().UTC().Add(-time.Minute)
	_, err := cl.Heartbeat(context.Background(), reg.DeviceToken, fullHeartbeat(first, 63))
	require.NoError(t, err)

	d.await("device.online", mentions(reg.DeviceID))
	row := elementOf(t, d.await("device.status", mentions(reg.DeviceID)), reg.DeviceID)
	assert.EqualValues(t, 63, row["battery_pct"], "the status has the heartbeat's battery")
	assert.Equal(t, "online", row["status"])

	_, err = cl.Heartbeat(context.Background(), reg.DeviceToken, fullHeartbeat(first.Add(30*time.Second), 62))
	require.NoError(t, err)
	patch := elementOf(t, d.await("device.status", mentions(reg.DeviceID)), reg.DeviceID)
	assert.Equal(t, map[string]any{"id": reg.DeviceID, "last_seen": patch["last_seen"], "battery_pct": 62.0}, patch,
		"a heartbeat that moved only the battery sends only that, with last_seen")
	assert.NotNil(t, patch["last_seen"])

	d.await("device.offline", mentions(reg.DeviceID)) // no heartbeat for 3 s
}

// elementOf returns the element of a batch about the device.
func elementOf(t *testing.T, data json.RawMessage, id string) map[string]any {
	t.Helper()
	var elems []map[string]any
	require.NoError(t, json.Unmarshal(data, &elems))
	for _, e := range elems {
		if e["id"] == id || e["device_id"] == id {
			return e
		}
	}
	require.FailNow(t, "no element about the device", "%s", data)
	return nil
}

func TestLiveFeedOnlyFollowsTheSubscribedDevice(t *testing.T) {
	e, _, _ := newTestEnv(t)
	startInProcess(t, e)
	c := api{t: t, base: e.url()}
	access, _ := c.login("op", c.addUser("op", "operator"))
	cl := newClient(e.url())
	regs := enrollFleet(t, cl, "sub", 2)
	d := openDashboard(t, e.url(), access)
	require.NoError(t, d.conn.WriteJSON(map[string]any{"type": "subscribe", "device_id": regs[1].DeviceID}))
	d.await("subscription", func(json.RawMessage) bool { return true })

	now := time.Now().UTC()
	for _, r := range regs {
		_, err := cl.Heartbeat(context.Background(), r.DeviceToken, fullHeartbeat(now, 50))
		require.NoError(t, err)
	}
	status := d.await("device.status", mentions(regs[1].DeviceID))
	assert.False(t, mentions(regs[0].DeviceID)(status), "the other device is not followed")
}

func TestLiveFeedRefusesMissingAndBadCredentials(t *testing.T) {
	e, _, _ := newTestEnv(t)
	startInProcess(t, e)

	_, resp, err := dial(t, e.url(), "?token=not-a-jwt")
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, 401, resp.StatusCode)

	_, key := api{t: t, base: e.url()}.addKey("ci", "admin")
	_, resp, err = dial(t, e.url(), "?token="+key)
	require.Error(t, err, "API keys are for automation, not the live feed")
	assert.Equal(t, 401, resp.StatusCode)

	// No token: the connection opens, but anything before auth closes it.
	conn, _, err := dial(t, e.url(), "")
	require.NoError(t, err)
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "all": true}))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 4401, ce.Code)
}

func TestLiveFeedAuthenticatesByFirstMessage(t *testing.T) {
	e, _, _ := newTestEnv(t)
	startInProcess(t, e)
	c := api{t: t, base: e.url()}
	access, _ := c.login("vw", c.addUser("vw", "viewer"))
	conn, _, err := dial(t, e.url(), "")
	require.NoError(t, err)
	require.NoError(t, conn.WriteJSON(map[string]string{"type": "auth", "token": access}))
	d := &dashboard{t: t, conn: conn}
	d.await("auth.ok", func(json.RawMessage) bool { return true })
	d.await("fleet.summary", func(json.RawMessage) bool { return true })
}

func TestLiveFeedFollowsACommandThroughItsLifecycle(t *testing.T) {
	e, _, _ := newTestEnv(t)
	startInProcess(t, e)
	c := api{t: t, base: e.url()}
	access, _ := c.login("ops", c.addUser("ops", "operator"))
	d := openDashboard(t, e.url(), access)
	cl := newClient(e.url())
	reg := enrollFleet(t, cl, "life", 1)[0]

	r := c.do("POST", "/admin/devices/"+reg.DeviceID+"/commands", bearer(access), map[string]any{"type": "ping"})
	require.Equal(t, 201, r.status, "%v", r.body)
	d.await("command.queued", mentions(reg.DeviceID))
	_, err := cl.Heartbeat(context.Background(), reg.DeviceToken, fullHeartbeat(time.Now().UTC(), 50))
	require.NoError(t, err)
	d.await("command.delivered", mentions(reg.DeviceID))
	body, _ := json.Marshal(map[string]any{"command_id": r.body["id"], "status": "failed", "message": "no network"})
	code, _, _ := rawPost(t, e.url()+"/v1/action-result", map[string]string{"Authorization": "Bearer " + reg.DeviceToken}, string(body))
	require.Equal(t, 200, code)
	d.await("command.failed", mentions(reg.DeviceID))
}

func TestRepeatedBadFeedTokensAreThrottled(t *testing.T) {
	e, _, _ := newTestEnv(t)
	startInProcess(t, e)
	var last int
	for range 21 {
		_, resp, err := dial(t, e.url(), "?token=guess")
		require.Error(t, err)
		last = resp.StatusCode
	}
	assert.Equal(t, 429, last, "the 21st guess from one address is turned away")
}
