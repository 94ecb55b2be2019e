package ingress

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
)

func TestParseHeartbeatReadsEveryField(t *testing.T) {
	body := `{"ts":"2026-11-23T10:00:05.250+01:00","battery_pct":64,"charging":true,"ram_used_mb":1800,
		"ram_total_mb":3900,"uptime_s":86400,"net_type":"cellular","ssid":"","signal_dbm":-97,
		"agent_version":"1.2.0","agent_version_code":120,"foreground_pkg":"com.example.kiosk",
		"app_last_foreground":{"com.example.kiosk":1763888405000,"com.android.settings":0},
		"power_ok":true,"doze_whitelisted":false,"net_validated":true,"queue_depth":7,"future_field":[1]}`
	var h persistence.Heartbeat
	require.Nil(t, parseHeartbeat([]byte(body), &h, new(string)))
	assert.True(t, h.TS.Equal(time.Date(2026, 11, 23, 9, 0, 5, 250e6, time.UTC)))
	assert.Equal(t, time.UTC, h.TS.Location())
	assert.Equal(t, int16(64), h.BatteryPct)
	assert.True(t, h.Charging)
	assert.Equal(t, int32(1800), h.RAMUsedMB)
	assert.Equal(t, int32(3900), h.RAMTotalMB)
	assert.Equal(t, int64(86400), h.UptimeS)
	assert.Equal(t, "cellular", h.NetType)
	assert.Equal(t, int16(-97), h.SignalDBm)
	assert.Equal(t, "1.2.0", h.AgentVersion)
	assert.Equal(t, int32(120), h.AgentVersionCode)
	assert.Equal(t, "com.example.kiosk", h.ForegroundPkg)
	assert.JSONEq(t, `{"com.example.kiosk":1763888405000,"com.android.settings":0}`, string(h.AppLastForeground))
	assert.True(t, h.PowerOK)
	assert.False(t, h.DozeWhitelisted)
	assert.True(t, h.NetValidated)
	assert.Equal(t, int32(7), h.QueueDepth)
	all := persistence.Fields(1<<16 - 1)
	assert.Equal(t, all, h.Has, "every optional field is marked present")
}

func TestParseHeartbeatTreatsMissingAndNullAsAbsent(t *testing.T) {
	var h persistence.Heartbeat
	require.Nil(t, parseHeartbeat([]byte(`{"ts":"2026-11-23T10:00:00Z","battery_pct":null}`), &h, new(string)))
	assert.Zero(t, h.Has)
}

func TestParseHeartbeatNamesTheFieldAtFault(t *testing.T) {
	ts := `"ts":"2026-11-23T10:00:00Z"`
	cases := []struct {
		body, code, field string
	}{
		{`{`, "malformed_json", ""},
		{`"just a string"`, "malformed_json", ""},
		{`{}`, "missing_field", "ts"},
		{`{"ts":12}`, "invalid_field", "ts"},
		{`{"ts":"yesterday"}`, "invalid_field", "ts"},
		{`{` + ts + `,"battery_pct":150}`, "invalid_field", "battery_pct"},
		{`{` + ts + `,"battery_pct":-1}`, "invalid_field", "battery_pct"},
		{`{` + ts + `,"battery_pct":50.5}`, "invalid_field", "battery_pct"},
		{`{` + ts + `,"battery_pct":"50"}`, "invalid_field", "battery_pct"},
		{`{` + ts + `,"charging":"yes"}`, "invalid_field", "charging"},
		{`{` + ts + `,"ram_used_mb":5000,"ram_total_mb":4000}`, "invalid_field", "ram_used_mb"},
		{`{` + ts + `,"signal_dbm":20}`, "invalid_field", "signal_dbm"},
		{`{` + ts + `,"net_type":"5g"}`, "invalid_field", "net_type"},
		{`{` + ts + `,"ssid":` + `"` + strings.Repeat("s", 65) + `"}`, "invalid_field", "ssid"},
		{`{` + ts + `,"ssid":"\u0000"}`, "invalid_field", "ssid"},
		{`{` + ts + `,"foreground_pkg":7}`, "invalid_field", "foreground_pkg"},
		{`{` + ts + `,"app_last_foreground":[]}`, "invalid_field", "app_last_foreground"},
		{`{` + ts + `,"app_last_foreground":{"a":-5}}`, "invalid_field", "app_last_foreground"},
		{`{` + ts + `,"app_last_foreground":{"a":"x"}}`, "invalid_field", "app_last_foreground"},
		{`{` + ts + `,"app_last_foreground":{"\u0000":1}}`, "invalid_field", "app_last_foreground"},
		{`{` + ts + `,"queue_depth":1e12}`, "invalid_field", "queue_depth"},
	}
	for _, tc := range cases {
		var h persistence.Heartbeat
		e := parseHeartbeat([]byte(tc.body), &h, new(string))
		if assert.NotNil(t, e, "parseHeartbeat(%s)", tc.body) {
			assert.Equal(t, 400, e.Status)
			assert.Equal(t, tc.code, e.Code, "parseHeartbeat(%s)", tc.body)
			assert.Equal(t, tc.field, e.Field, "parseHeartbeat(%s)", tc.body)
			if tc.field != "" {
				assert.Contains(t, e.Message, tc.field, "the message names the field")
			}
		}
	}
}

func BenchmarkParseHeartbeat(b *testing.B) {
	body := []byte(`{"ts":"2026-11-23T10:00:05Z","battery_pct":64,"charging":true,"ram_used_mb":1800,
		"ram_total_mb":3900,"uptime_s":86400,"net_type":"wifi","ssid":"store-42","signal_dbm":-58,
		"agent_version":"1.2.0","agent_version_code":120,"foreground_pkg":"com.example.kiosk",
		"app_last_foreground":{"com.example.kiosk":1763888405000},"power_ok":true,
		"doze_whitelisted":true,"net_validated":true,"queue_depth":0}`)
	b.ReportAllocs()
	for b.Loop() {
		var h persistence.Heartbeat
		if e := parseHeartbeat(body, &h, new(string)); e != nil {
			b.Fatal(e)
		}
	}
}

func TestParsedHeartbeatsKeepTheirOwnAppLastForeground(t *testing.T) {
	ts := `"ts":"2026-11-23T10:00:05Z"`
	var first, second persistence.Heartbeat
	require.Nil(t, parseHeartbeat([]byte(`{`+ts+`,"app_last_foreground":{"com.example.first":1}}`), &first, new(string)))
	require.Nil(t, parseHeartbeat([]byte(`{`+ts+`,"app_last_foreground":{"b":2}}`), &second, new(string)))
	assert.JSONEq(t, `{"com.example.first":1}`, string(first.AppLastForeground),
		"the rows of a batch hold each heartbeat's object until their commit")
	assert.JSONEq(t, `{"b":2}`, string(second.AppLastForeground))
}
