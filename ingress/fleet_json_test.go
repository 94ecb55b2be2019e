package ingress

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/actors"
)

func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	return m
}

func TestALivePatchCarriesIDLastSeenAndTheChangedFieldsAsTheWholeRowHasThem(t *testing.T) {
	row := actors.DeviceRow{
		ID: uuid.New(), Alias: `Front "desk"`, Serial: "R58M123", Model: "SM-T500", AgentVersion: "1.2.0",
		EnrolledAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), LastSeen: time.Date(2026, 12, 7, 8, 1, 2, 345e6, time.UTC),
		Online: true, BatteryPct: 41, Charging: true,
		Service: actors.ServiceState{Package: "com.example.kiosk", DisplayName: "Kiosk", Enabled: true, ThresholdMin: 10,
			LastForeground: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)},
	}
	whole := decodeObject(t, appendDeviceJSON(nil, &row))
	for _, tc := range []struct {
		fields actors.RowFields
		keys   []string
	}{
		{0, nil},
		{actors.RowStatus, []string{"status"}},
		{actors.RowBattery, []string{"battery_pct"}},
		{actors.RowCharging, []string{"charging"}},
		{actors.RowAgentVersion, []string{"agent_version"}},
		{actors.RowService, []string{"service"}},
		{actors.RowStatus | actors.RowBattery | actors.RowCharging, []string{"status", "battery_pct", "charging"}},
	} {
		patch := decodeObject(t, appendDevicePatch(nil, &row, tc.fields))
		want := append([]string{"id", "last_seen"}, tc.keys...)
		assert.ElementsMatch(t, want, slices.Collect(maps.Keys(patch)), "fields %b", tc.fields)
		for _, k := range want {
			assert.Equal(t, whole[k], patch[k], "%s, fields %b", k, tc.fields)
		}
	}
}

func TestALivePatchOfADeviceWithoutBatteryOrHeartbeatSaysNull(t *testing.T) {
	row := actors.DeviceRow{ID: uuid.New(), BatteryPct: -1}
	patch := decodeObject(t, appendDevicePatch(nil, &row, actors.RowBattery|actors.RowStatus))
	assert.Nil(t, patch["last_seen"])
	assert.Nil(t, patch["battery_pct"])
	assert.Contains(t, patch, "battery_pct")
	assert.Equal(t, "never", patch["status"])
}

func TestALivePatchStartsWithTheIDAsTheWholeRowDoes(t *testing.T) {
	row := actors.DeviceRow{ID: uuid.New(), BatteryPct: -1}
	prefix := `{"id":"` + row.ID.String() + `"`
	assert.True(t, strings.HasPrefix(string(appendDeviceJSON(nil, &row)), prefix))
	assert.True(t, strings.HasPrefix(string(appendDevicePatch(nil, &row, 0)), prefix),
		"the bench's dashboards count rows by this prefix")
}
