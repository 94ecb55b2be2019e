package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
)

// fleetAPI is a server with an enrolled fleet, seen through the admin API.
type fleetAPI struct {
	api
	client *client.Client
	regs   []*client.Registration
}

func newFleetAPI(t *testing.T, n int) fleetAPI {
	c, _ := newAPI(t)
	cl := newClient(c.base)
	return fleetAPI{api: c, client: cl, regs: enrollFleet(t, cl, "shop", n)}
}

func (f fleetAPI) beat(i int, hb *client.Heartbeat) {
	f.t.Helper()
	_, err := f.client.Heartbeat(context.Background(), f.regs[i].DeviceToken, hb)
	require.NoError(f.t, err)
}

func (f fleetAPI) get(path string) answer { return f.do("GET", path, adminKeyHeader, nil) }

func deviceIDs(a answer) []string {
	var ids []string
	for _, d := range a.body["devices"].([]any) {
		ids = append(ids, d.(map[string]any)["id"].(string))
	}
	return ids
}

func TestDeviceListingPagesFiltersAndShowsLiveStatus(t *testing.T) {
	f := newFleetAPI(t, 7)
	now := time.Now().UTC()
	for i := range 5 {
		f.beat(i, fullHeartbeat(now.Add(-time.Duration(i)*time.Minute), 10+i*20))
	}

	seen := map[string]bool{}
	path := "/admin/devices?limit=3&sort=alias"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		r := f.get(path)
		require.Equal(t, 200, r.status, "%v", r.body)
		assert.EqualValues(t, 7, r.body["total"])
		for _, id := range deviceIDs(r) {
			assert.False(t, seen[id], "a device appears on two pages")
			seen[id] = true
		}
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/admin/devices?limit=3&sort=alias&cursor=" + url.QueryEscape(next)
	}
	assert.Len(t, seen, 7)

	first := f.get("/admin/devices?limit=1").body["devices"].([]any)[0].(map[string]any)
	assert.Equal(t, f.regs[4].DeviceID, first["id"], "the device heard from last comes first by default")
	assert.Equal(t, "online", first["status"])
	assert.EqualValues(t, 90, first["battery_pct"])
	assert.Equal(t, "1.2.0", first["agent_version"])

	for query, want := range map[string]int{
		"status=online":                  5,
		"status=never":                   2,
		"battery_below=50":               2, // 10 and 30; 50 is not below
		"q=SHOP%203":                     1,
		"agent_version=1.2.0":            5,
		"q=" + url.QueryEscape("';--"):   0,
		"status=online&battery_below=31": 2,
	} {
		r := f.get("/admin/devices?" + query)
		require.Equal(t, 200, r.status, query)
		assert.EqualValues(t, want, r.body["total"], query)
	}
}

func TestDeviceListingRejectsBadParametersAndTamperedCursors(t *testing.T) {
	f := newFleetAPI(t, 3)
	next := f.get("/admin/devices?limit=1&sort=serial").body["next_cursor"].(string)
	payload, mac, _ := strings.Cut(next, ".")
	tampered := payload[:len(payload)-2] + "AA." + mac
	for query, field := range map[string]string{
		"limit=0":                      "limit",
		"limit=100000":                 "limit",
		"sort=password":                "sort",
		"status=asleep":                "status",
		"battery_below=-1":             "battery_below",
		"q=" + strings.Repeat("x", 65): "q",
	} {
		r := f.get("/admin/devices?" + query)
		assert.Equal(t, 400, r.status, query)
		assert.Equal(t, "invalid_field", r.code, query)
		assert.Equal(t, field, r.body["field"], query)
	}
	for name, query := range map[string]string{
		"tampered":        "sort=serial&cursor=" + url.QueryEscape(tampered),
		"another sort":    "sort=alias&cursor=" + url.QueryEscape(next),
		"garbage":         "cursor=garbage",
		"an audit cursor": "sort=serial&cursor=" + url.QueryEscape(f.get("/admin/audit?limit=1").body["next_cursor"].(string)),
	} {
		r := f.get("/admin/devices?" + query)
		assert.Equal(t, 400, r.status, name)
		assert.Equal(t, "invalid_cursor", r.code, name)
	}
}

func TestDeviceDetailJoinsLiveStateAndEnrollment(t *testing.T) {
	f := newFleetAPI(t, 1)
	f.beat(0, fullHeartbeat(time.Now().UTC(), 77))
	r := f.get("/admin/devices/" + f.regs[0].DeviceID)
	require.Equal(t, 200, r.status, "%v", r.body)
	assert.Equal(t, "shop 0", r.body["alias"])
	live := r.body["live"].(map[string]any)
	assert.EqualValues(t, 77, live["battery_pct"])
	assert.Equal(t, "store-42", live["ssid"])
	assert.Equal(t, "dev1", r.body["enrollment"].(map[string]any)["hmac_key_id"])

	assert.Equal(t, 404, f.get("/admin/devices/"+"00000000-0000-4000-8000-000000000000").status)
	assert.Equal(t, "invalid_id", f.get("/admin/devices/not-a-uuid").code)
}

func TestHeartbeatHistoryIsDownsampled(t *testing.T) {
	f := newFleetAPI(t, 1)
	start := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Minute)
	for i := range 30 { // one a minute, battery falling 1% a minute
		f.beat(0, fullHeartbeat(start.Add(time.Duration(i)*time.Minute), 90-i))
	}
	q := url.Values{
		"from": {start.Format(time.RFC3339)}, "to": {start.Add(30 * time.Minute).Format(time.RFC3339)}, "step": {"600"},
	}
	r := f.get("/admin/devices/" + f.regs[0].DeviceID + "/heartbeats?" + q.Encode())
	require.Equal(t, 200, r.status, "%v", r.body)
	points := r.body["points"].([]any)
	require.Len(t, points, 3, "30 minutes in 10-minute steps")
	p0 := points[0].(map[string]any)
	assert.EqualValues(t, 10, p0["samples"])
	assert.EqualValues(t, 90, p0["battery_max"])
	assert.EqualValues(t, 81, p0["battery_min"])
	assert.InDelta(t, 85.5, p0["battery_avg"], 0.01)

	q.Set("step", "10") // 180 points would be fine; a year at 10 s would be coarsened
	assert.Len(t, f.get("/admin/devices/" + f.regs[0].DeviceID + "/heartbeats?" + q.Encode()).body["points"], 30)
	bad := f.get("/admin/devices/" + f.regs[0].DeviceID + "/heartbeats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")
	assert.Equal(t, "invalid_field", bad.code)
}

func TestMonitoringSettingsOneDeviceAndInBulk(t *testing.T) {
	f := newFleetAPI(t, 4)
	id := f.regs[0].DeviceID
	r := f.do("PATCH", "/admin/devices/"+id+"/monitoring", adminKeyHeader, map[string]any{"enabled": true})
	assert.Equal(t, 422, r.status)
	assert.Equal(t, "monitoring_needs_package", r.code)

	r = f.do("PATCH", "/admin/devices/"+id+"/monitoring", adminKeyHeader, map[string]any{
		"monitored_package": "com.example.kiosk", "display_name": "Kiosk", "threshold_min": 5, "enabled": true,
	})
	require.Equal(t, 200, r.status, "%v", r.body)
	got := f.get("/admin/devices/" + id + "/monitoring").body
	assert.Equal(t, "com.example.kiosk", got["monitored_package"])
	assert.EqualValues(t, 5, got["threshold_min"])
	assert.Equal(t, true, got["enabled"])

	for body, field := range map[string]map[string]any{
		"threshold_min":     {"threshold_min": 121},
		"monitored_package": {"monitored_package": "not a package; rm -rf /"},
		"display_name":      {"display_name": strings.Repeat("n", 65)},
	} {
		r := f.do("PATCH", "/admin/devices/"+id+"/monitoring", adminKeyHeader, field)
		assert.Equal(t, 400, r.status, body)
		assert.Equal(t, body, r.body["field"])
	}

	ids := []string{f.regs[1].DeviceID, f.regs[2].DeviceID}
	r = f.do("PATCH", "/admin/devices/monitoring", adminKeyHeader, map[string]any{"device_ids": ids, "settings": map[string]any{"enabled": true}})
	assert.Equal(t, "monitoring_needs_package", r.code, "all or nothing: neither device has a package")
	r = f.do("PATCH", "/admin/devices/monitoring", adminKeyHeader, map[string]any{
		"device_ids": ids, "settings": map[string]any{"monitored_package": "com.unity.player", "enabled": true},
	})
	require.Equal(t, 200, r.status, "%v", r.body)
	assert.EqualValues(t, 2, r.body["updated"])
	r = f.do("PATCH", "/admin/devices/monitoring", adminKeyHeader, map[string]any{
		"filter": map[string]any{"q": "shop"}, "settings": map[string]any{"threshold_min": 30},
	})
	require.Equal(t, 200, r.status, "%v", r.body)
	assert.EqualValues(t, 4, r.body["updated"])
	assert.EqualValues(t, 30, f.get("/admin/devices/" + f.regs[3].DeviceID + "/monitoring").body["threshold_min"])
	r = f.do("PATCH", "/admin/devices/monitoring", adminKeyHeader, map[string]any{"settings": map[string]any{"enabled": false}})
	assert.Equal(t, "invalid_targets", r.code)

	audit := f.get("/admin/audit?action=device.monitoring.bulk_update").body["entries"].([]any)
	assert.Len(t, audit, 3, "every bulk change is audited, failed ones too")
}

func TestServiceDownShowsInListingAndSummary(t *testing.T) {
	f := newFleetAPI(t, 2)
	now := time.Now().UTC()
	for i := range 2 {
		r := f.do("PATCH", "/admin/devices/"+f.regs[i].DeviceID+"/monitoring", adminKeyHeader, map[string]any{
			"monitored_package": "com.example.kiosk", "threshold_min": 10, "enabled": true,
		})
		require.Equal(t, 200, r.status)
	}
	f.beat(0, fullHeartbeat(now, 80)) // kiosk in the foreground now
	stale := fullHeartbeat(now, 80)
	stale.ForegroundPkg = "com.android.launcher"
	stale.AppLastForeground = map[string]int64{"com.example.kiosk": now.Add(-time.Hour).UnixMilli()}
	f.beat(1, stale)

	down := f.get("/admin/devices?service_down=true")
	assert.Equal(t, []string{f.regs[1].DeviceID}, deviceIDs(down))
	svc := down.body["devices"].([]any)[0].(map[string]any)["service"].(map[string]any)
	assert.Equal(t, true, svc["down"])

	sum := f.get("/admin/fleet/summary").body
	assert.EqualValues(t, 2, sum["online"])
	assert.EqualValues(t, 1, sum["monitoring"].(map[string]any)["services_down"])
	versions := sum["agent_versions"].([]any)
	assert.Equal(t, map[string]any{"version": "1.2.0", "count": float64(2)}, versions[0])
	assert.Equal(t, fmt.Sprint([]any{
		map[string]any{"band": "0-14", "count": float64(0)}, map[string]any{"band": "15-29", "count": float64(0)},
		map[string]any{"band": "30-59", "count": float64(0)}, map[string]any{"band": "60-100", "count": float64(2)},
	}), fmt.Sprint(sum["battery"].(map[string]any)["bands"]))
}
