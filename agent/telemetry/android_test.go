package telemetry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeShell stands in for the device's shell: it answers a command line with
// a captured output from testdata/android, and fails any other command.
type fakeShell map[string]string

func (f fakeShell) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	file, ok := f[line]
	if !ok {
		return nil, fmt.Errorf("%s: exit status 255", line)
	}
	return os.ReadFile(filepath.Join("testdata/android", file))
}

const agentPackage = "com.nexmdm.agent"

// newTestDevice is an Android 14 phone as the samples describe it.
func newTestDevice() fakeShell {
	return fakeShell{
		"dumpsys battery":              "dumpsys_battery.txt",
		"cmd wifi status":              "cmd_wifi_status.txt",
		"dumpsys wifi":                 "dumpsys_wifi.txt",
		"dumpsys connectivity":         "dumpsys_connectivity.txt",
		"dumpsys deviceidle whitelist": "dumpsys_deviceidle_whitelist.txt",
		"cmd appops get " + agentPackage + " RUN_ANY_IN_BACKGROUND": "cmd_appops_run_any_in_background.txt",
		"dumpsys usagestats":           "dumpsys_usagestats.txt",
		"getprop persist.sys.timezone": "getprop_persist.sys.timezone.txt",
	}
}

func watching(packages ...string) func() []string {
	return func() []string { return packages }
}

func TestNewAndroidReadsACompleteReading(t *testing.T) {
	c := NewAndroid(newTestDevice(), "testdata/android", agentPackage,
		watching("com.android.chrome", "com.whatsapp", "com.android.vending", "com.example.notinstalled"))

	got, err := c.Collect(context.Background())
	require.NoError(t, err)

	assert.Equal(t, Reading{
		BatteryPct:    ptr(54),
		Charging:      ptr(false),
		RAMUsedMB:     ptr((6291456 - 3452580) / 1024),
		RAMTotalMB:    ptr(6291456 / 1024),
		UptimeS:       ptr(int64(352817)),
		NetType:       "wifi",
		SSID:          "NexLab-5G",
		SignalDBm:     ptr(-38),
		ForegroundPkg: "com.android.chrome",
		AppLastForeground: map[string]int64{ // in Europe/Berlin, UTC+1 in November
			"com.android.chrome": unixMS(utcPlus1, 2024, 11, 23, 10, 47, 15),
			"com.whatsapp":       unixMS(utcPlus1, 2024, 11, 22, 21, 14, 9),
			agentPackage:         unixMS(utcPlus1, 2024, 11, 23, 10, 47, 15),
		},
		PowerOK:         ptr(true),
		DozeWhitelisted: ptr(true),
		NetValidated:    ptr(true),
	}, got)
}

func TestNewAndroidTakesTheDevicesUTCOffsetWhenItsZoneCannotBeLoaded(t *testing.T) {
	device := newTestDevice()
	delete(device, "getprop persist.sys.timezone")
	device["date +%z"] = "date_z.txt"

	got, err := NewAndroid(device, "testdata/android", agentPackage, nil).Collect(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{agentPackage: unixMS(utcPlus1, 2024, 11, 23, 10, 47, 15)}, got.AppLastForeground)
}

func TestParseUTCOffsetReadsTheOffsetDatePrints(t *testing.T) {
	for in, want := range map[string]int{"+0100": 3600, "-0600": -6 * 3600, "+0530": 5*3600 + 30*60, "+0000": 0} {
		loc := parseUTCOffset(in)
		require.NotNil(t, loc, "parseUTCOffset(%q)", in)
		_, offset := time.Date(2024, 11, 23, 0, 0, 0, 0, loc).Zone()
		assert.Equal(t, want, offset, "parseUTCOffset(%q)", in)
	}
	for _, in := range []string{"", "CET", "+01:00", "+2500"} {
		assert.Nil(t, parseUTCOffset(in), "parseUTCOffset(%q)", in)
	}
}

func TestNewAndroidFallsBackToDumpsysWifiBeforeAndroid11(t *testing.T) {
	device := newTestDevice()
	delete(device, "cmd wifi status")

	got, err := newAndroid(device, "testdata/android", agentPackage, nil, utcPlus1).Collect(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "AndroidWifi", got.SSID)
	assert.Equal(t, ptr(-50), got.SignalDBm)
}

func TestNewAndroidLeavesAFailedDumpsysFieldsNil(t *testing.T) {
	device := newTestDevice()
	delete(device, "dumpsys battery")
	delete(device, "dumpsys usagestats")
	delete(device, "dumpsys deviceidle whitelist")

	got, err := newAndroid(device, "testdata/android", agentPackage, watching("com.whatsapp"), utcPlus1).Collect(context.Background())
	require.NoError(t, err, "the other sources were read")

	assert.Nil(t, got.BatteryPct)
	assert.Nil(t, got.Charging)
	assert.Equal(t, "", got.ForegroundPkg)
	assert.Nil(t, got.AppLastForeground)
	assert.Nil(t, got.DozeWhitelisted)
	assert.Nil(t, got.PowerOK, "not background restricted, but the whitelist is unknown")
	assert.Equal(t, "wifi", got.NetType)
	assert.Equal(t, ptr(6291456/1024), got.RAMTotalMB)
}

func TestNewAndroidReportsABackgroundRestrictedAgent(t *testing.T) {
	device := newTestDevice()
	device["cmd appops get "+agentPackage+" RUN_ANY_IN_BACKGROUND"] = "cmd_appops_run_any_in_background_ignore.txt"

	got, err := newAndroid(device, "testdata/android", agentPackage, nil, utcPlus1).Collect(context.Background())
	require.NoError(t, err)
	assert.Equal(t, ptr(true), got.DozeWhitelisted)
	assert.Equal(t, ptr(false), got.PowerOK)
}

func TestNewAndroidFailsOnlyWhenNothingCanBeRead(t *testing.T) {
	_, err := NewAndroid(fakeShell{}, t.TempDir(), agentPackage, nil).Collect(context.Background())
	require.ErrorIs(t, err, errNothingRead)
	assert.ErrorContains(t, err, "dumpsys battery", "says which sources failed")
}

func TestNewAndroidDoesNotChangeTheWatchedSlice(t *testing.T) {
	packages := make([]string, 1, 4)
	packages[0] = "com.whatsapp"
	_, err := newAndroid(newTestDevice(), "testdata/android", agentPackage, func() []string { return packages }, utcPlus1).
		Collect(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "", packages[:2][1], "the agent's package is not appended into the caller's array")
}
