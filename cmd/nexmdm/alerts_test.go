package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/actors/notify"
	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/command"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// receiver is a local HTTP server standing in for Discord or a webhook
// consumer: it keeps every body it accepts.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	delay  time.Duration
}

func newReceiver(t *testing.T, check func(r *http.Request, body []byte) int) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(rc.delay)
		body, _ := io.ReadAll(r.Body)
		status := http.StatusNoContent
		if check != nil {
			status = check(r, body)
		}
		if status < 300 {
			var m map[string]any
			require.NoError(t, json.Unmarshal(body, &m))
			rc.mu.Lock()
			rc.bodies = append(rc.bodies, m)
			rc.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]map[string]any(nil), rc.bodies...)
}

// alertFleet is a server whose alerts go to a Discord receiver and a signed
// webhook receiver, with short windows.
type alertFleet struct {
	api
	client  *client.Client
	db      *testenv.DB
	discord *receiver
	webhook *receiver
}

const webhookSecret = "webhook-test-secret"

func newAlertFleet(t *testing.T, tune map[string]string) alertFleet {
	e, db, _ := newTestEnv(t)
	f := alertFleet{db: db}
	f.discord = newReceiver(t, nil)
	f.webhook = newReceiver(t, func(r *http.Request, body []byte) int {
		err := notify.VerifyWebhook([]byte(webhookSecret), r.Header.Get("X-NexMDM-Timestamp"),
			r.Header.Get("X-NexMDM-Signature"), body, time.Now(), 5*time.Minute)
		if err != nil {
			t.Errorf("webhook signature: %v", err)
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	e["NEXMDM_DISCORD_WEBHOOK_URL"] = f.discord.URL + "/api/webhooks/1/token"
	e["NEXMDM_ALERT_WEBHOOK_URL"] = f.webhook.URL
	e["NEXMDM_ALERT_WEBHOOK_SECRET"] = webhookSecret
	e["NEXMDM_ALERT_WINDOW"] = "2s"
	e["NEXMDM_OFFLINE_AFTER"] = "2s"
	e["NEXMDM_SWEEP_INTERVAL"] = "500ms"
	e["NEXMDM_PUBLIC_URL"] = "https://mdm.example.com"
	for k, v := range tune {
		e[k] = v
	}
	startInProcess(t, e)
	f.api = api{t: t, base: e.url()}
	f.client = newClient(e.url())
	return f
}

func (f alertFleet) alerts(query string) []any {
	f.t.Helper()
	r := f.do("GET", "/admin/alerts?limit=500&"+query, adminKeyHeader, nil)
	require.Equal(f.t, 200, r.status, "%v", r.body)
	items, _ := r.body["items"].([]any)
	return items
}

func TestAnOfflineStormIsOneDigestPerChannelAndEveryAlertIsRecorded(t *testing.T) {
	f := newAlertFleet(t, nil)
	regs := enrollFleet(t, f.client, "storm", 500)
	for _, r := range regs {
		_, err := f.client.Heartbeat(context.Background(), r.DeviceToken, fullHeartbeat(time.Now(), 80))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(f.alerts("status=open&rule=offline")) == 500 },
		30*time.Second, 100*time.Millisecond, "every device's alert is recorded")
	require.Eventually(t, func() bool { return len(f.discord.got()) > 0 && len(f.webhook.got()) > 0 },
		20*time.Second, 50*time.Millisecond)
	time.Sleep(3 * time.Second) // a second window would have closed by now
	require.Len(t, f.discord.got(), 1, "one Discord message for the storm: %v", f.discord.got())
	embed := f.discord.got()[0]["embeds"].([]any)[0].(map[string]any)
	assert.Equal(t, "Storm: 500 devices offline", embed["title"])
	require.Len(t, f.webhook.got(), 1)
	hook := f.webhook.got()[0]
	assert.Equal(t, "digest", hook["kind"])
	assert.EqualValues(t, 500, hook["digest"].(map[string]any)["fired"])
	assert.Len(t, hook["digest"].(map[string]any)["devices"], 10, "a sample of aliases")

	for _, r := range regs {
		_, err := f.client.Heartbeat(context.Background(), r.DeviceToken, fullHeartbeat(time.Now(), 80))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(f.discord.got()) == 2 }, 20*time.Second, 50*time.Millisecond)
	embed = f.discord.got()[1]["embeds"].([]any)[0].(map[string]any)
	assert.Equal(t, "Recovered: 500 devices back online", embed["title"], "recoveries are digested too")

	// They fall silent again, within the cooldown: recorded, not sent.
	require.Eventually(t, func() bool { return len(f.alerts("status=open&rule=offline")) == 500 },
		30*time.Second, 100*time.Millisecond)
	for _, a := range f.alerts("status=open&rule=offline") {
		require.Equal(t, false, a.(map[string]any)["notified"], "inside the cooldown")
	}
	time.Sleep(3 * time.Second)
	assert.Equal(t, 2, len(f.discord.got()), "no third message")
}

func TestOneDeviceOfflineIsOneMessageAndItsAlertCanBeAcknowledged(t *testing.T) {
	f := newAlertFleet(t, nil)
	reg := enrollFleet(t, f.client, "single", 1)[0]
	_, err := f.client.Heartbeat(context.Background(), reg.DeviceToken, fullHeartbeat(time.Now(), 80))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(f.discord.got()) == 1 }, 20*time.Second, 50*time.Millisecond)
	embed := f.discord.got()[0]["embeds"].([]any)[0].(map[string]any)
	assert.Equal(t, "Device offline: single 0", embed["title"])
	assert.Equal(t, "https://mdm.example.com/devices/"+reg.DeviceID, embed["url"])

	items := f.alerts("device_id=" + reg.DeviceID)
	require.Len(t, items, 1)
	a := items[0].(map[string]any)
	assert.Equal(t, "offline", a["rule"])
	assert.Equal(t, "warning", a["severity"])
	assert.Equal(t, "single 0", a["device_alias"], "the list names the device")
	r := f.do("POST", "/admin/alerts/"+a["id"].(string)+"/ack", adminKeyHeader, nil)
	require.Equal(t, 200, r.status, "%v", r.body)
	assert.NotNil(t, r.body["acknowledged_at"])
	assert.Equal(t, "admin-key", r.body["acknowledged_by"])
	assert.Equal(t, 404, f.do("POST", "/admin/alerts/00000000-0000-0000-0000-000000000000/ack", adminKeyHeader, nil).status)
	assert.Equal(t, 400, f.do("GET", "/admin/alerts?rule=nonsense", adminKeyHeader, nil).status)
}

func TestAServiceDownIsRemediatedWithASignedLaunchAndRecordedAsFixed(t *testing.T) {
	f := newAlertFleet(t, map[string]string{"NEXMDM_OFFLINE_AFTER": "1h"})
	reg := enrollFleet(t, f.client, "kiosk", 1)[0]
	r := f.do("PATCH", "/admin/devices/"+reg.DeviceID+"/monitoring", adminKeyHeader, map[string]any{
		"monitored_package": "com.example.kiosk", "display_name": "Kiosk", "threshold_min": 1, "enabled": true, "auto_remediate": true})
	require.Equal(t, 200, r.status, "%v", r.body)
	kioskAway := func(ts time.Time) *client.Heartbeat {
		hb := fullHeartbeat(ts, 80)
		hb.ForegroundPkg = "com.android.launcher"
		hb.AppLastForeground = map[string]int64{"com.example.kiosk": time.Now().Add(-5 * time.Minute).UnixMilli()}
		return hb
	}
	_, err := f.client.Heartbeat(context.Background(), reg.DeviceToken, kioskAway(time.Now()))
	require.NoError(t, err)

	var launch command.Command
	key, _ := base64.StdEncoding.DecodeString(reg.HMACKey)
	require.Eventually(t, func() bool {
		resp, err := f.client.Heartbeat(context.Background(), reg.DeviceToken, kioskAway(time.Now()))
		require.NoError(t, err)
		for _, raw := range resp.Commands {
			require.NoError(t, json.Unmarshal(raw, &launch))
			return true
		}
		return false
	}, 20*time.Second, 200*time.Millisecond, "the server sends launch_app")
	assert.Equal(t, "launch_app", launch.Type)
	assert.JSONEq(t, `{"package":"com.example.kiosk"}`, launch.ParamsJSON)
	require.NoError(t, command.Verify(&launch, reg.DeviceID, command.Keys{reg.HMACKeyID: key}, time.Now()), "signed for the device")

	require.Eventually(t, func() bool {
		items := f.alerts("rule=service_down")
		return len(items) == 1 && items[0].(map[string]any)["remediation_attempts"] == float64(1)
	}, 10*time.Second, 100*time.Millisecond)
	_, err = f.client.Heartbeat(context.Background(), reg.DeviceToken, fullHeartbeat(time.Now().Add(20*time.Second), 80))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		items := f.alerts("rule=service_down&status=resolved")
		return len(items) == 1 && items[0].(map[string]any)["remediated"] == true
	}, 10*time.Second, 100*time.Millisecond, "the alert says remediation fixed it")
	details := f.alerts("rule=service_down")[0].(map[string]any)["details"].(map[string]any)
	assert.Equal(t, "Kiosk", details["service"])
	assert.EqualValues(t, 1, details["threshold_min"])
}

func TestAChannelOutageNeitherBlocksIngestNorLosesTheRecord(t *testing.T) {
	f := newAlertFleet(t, nil)
	f.discord.delay = 5 * time.Second // Discord hangs
	regs := enrollFleet(t, f.client, "outage", 20)
	for _, r := range regs {
		_, err := f.client.Heartbeat(context.Background(), r.DeviceToken, fullHeartbeat(time.Now(), 80))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(f.alerts("status=open&rule=offline")) == 20 }, 20*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool { return len(f.webhook.got()) == 1 }, 20*time.Second, 50*time.Millisecond,
		"the other channel is not held up by the hanging one")
	start := time.Now()
	for _, r := range regs {
		_, err := f.client.Heartbeat(context.Background(), r.DeviceToken, fullHeartbeat(time.Now(), 80))
		require.NoError(t, err, "heartbeats are answered while Discord hangs")
	}
	require.Eventually(t, func() bool { return len(f.alerts("status=resolved&rule=offline")) == 20 }, 20*time.Second, 100*time.Millisecond)
	t.Logf("20 heartbeats answered in %v while Discord hung", time.Since(start))
}

func TestTestAlertReachesEveryChannel(t *testing.T) {
	f := newAlertFleet(t, nil)
	r := f.do("POST", "/admin/alerts/test", adminKeyHeader, nil)
	require.Equal(t, 200, r.status, "%v", r.body)
	chans := r.body["channels"].([]any)
	require.Len(t, chans, 2)
	for _, c := range chans {
		assert.Equal(t, true, c.(map[string]any)["ok"], "%v", c)
	}
	assert.Len(t, f.discord.got(), 1)
	assert.Equal(t, "test", f.webhook.got()[0]["kind"])
}

func TestChannelsAndRulesAreEditedThroughTheAPI(t *testing.T) {
	f := newAlertFleet(t, nil)
	list := f.do("GET", "/admin/alert-channels", adminKeyHeader, nil)
	require.Equal(t, 200, list.status)
	require.Len(t, list.body["items"], 2, "the environment's channels are seeded")
	for _, c := range list.body["items"].([]any) {
		ch := c.(map[string]any)
		assert.NotContains(t, ch["target"], "token", "credentials are never shown")
		assert.Nil(t, ch["url"])
	}

	second := newReceiver(t, nil)
	r := f.do("POST", "/admin/alert-channels", adminKeyHeader, map[string]any{
		"name": "ops-discord", "kind": "discord", "url": second.URL + "/api/webhooks/2/secret-token", "min_severity": "critical"})
	require.Equal(t, 201, r.status, "%v", r.body)
	id := r.body["id"].(string)
	assert.Equal(t, "channel_exists", f.do("POST", "/admin/alert-channels", adminKeyHeader, map[string]any{
		"name": "ops-discord", "kind": "discord", "url": second.URL}).code)
	assert.Equal(t, "invalid_field", f.do("POST", "/admin/alert-channels", adminKeyHeader, map[string]any{
		"name": "bad", "kind": "discord", "url": "ftp://x"}).code)
	assert.Equal(t, "invalid_channel", f.do("POST", "/admin/alert-channels", adminKeyHeader, map[string]any{
		"name": "mail", "kind": "email", "url": "smtp://mail.example.com:587"}).code, "an email channel needs recipients")

	// Route offline alerts to the new channel only.
	r = f.do("PUT", "/admin/alert-rules/offline", adminKeyHeader, map[string]any{"severity": "critical", "enabled": true, "channels": []string{"ops-discord"}})
	require.Equal(t, 200, r.status, "%v", r.body)
	assert.Equal(t, "invalid_field", f.do("PUT", "/admin/alert-rules/offline", adminKeyHeader,
		map[string]any{"severity": "warning", "enabled": true, "channels": []string{"nowhere"}}).code)
	assert.Equal(t, 404, f.do("PUT", "/admin/alert-rules/bogus", adminKeyHeader, map[string]any{"severity": "warning", "enabled": true}).status)

	reg := enrollFleet(t, f.client, "routed", 1)[0]
	_, err := f.client.Heartbeat(context.Background(), reg.DeviceToken, fullHeartbeat(time.Now(), 80))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(second.got()) == 1 }, 20*time.Second, 50*time.Millisecond)
	assert.Empty(t, f.discord.got(), "the rule's routing replaced the severity's")
	items := f.alerts("device_id=" + reg.DeviceID)
	require.Len(t, items, 1)
	assert.Equal(t, "critical", items[0].(map[string]any)["severity"], "the rule's severity is the alert's")

	require.Equal(t, 200, f.do("PATCH", "/admin/alert-channels/"+id, adminKeyHeader, map[string]any{"enabled": false}).status)
	require.Equal(t, 204, f.do("DELETE", "/admin/alert-channels/"+id, adminKeyHeader, nil).status)
	rules := f.do("GET", "/admin/alert-rules", adminKeyHeader, nil).body["items"].([]any)
	assert.Len(t, rules, 4)
}
