package telemetry

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseDumpsysBatteryReadsChargeAndCharging(t *testing.T) {
	cases := []struct {
		name         string
		file         string
		wantPct      int
		wantCharging bool
	}{
		{"a discharging Honor on Android 15", "android/dumpsys_battery.txt", 54, false},
		{"a full Moto on USB", "android/dumpsys_battery_moto.txt", 100, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pct, charging := parseDumpsysBattery(testdata(t, tc.file))
			assert.Equal(t, ptr(tc.wantPct), pct, "parseDumpsysBattery(%s) pct", tc.file)
			assert.Equal(t, ptr(tc.wantCharging), charging, "parseDumpsysBattery(%s) charging", tc.file)
		})
	}
}

func TestParseDumpsysBatteryScalesTheLevel(t *testing.T) {
	pct, _ := parseDumpsysBattery([]byte("  level: 30\n  scale: 60\n"))
	assert.Equal(t, ptr(50), pct)
}

func TestParseDumpsysBatteryFallsBackToChargersWhenTheStatusIsUnknown(t *testing.T) {
	_, charging := parseDumpsysBattery([]byte("  AC powered: false\n  USB powered: true\n  status: 1\n"))
	assert.Equal(t, ptr(true), charging)
	_, charging = parseDumpsysBattery([]byte("  AC powered: false\n  USB powered: false\n"))
	assert.Equal(t, ptr(false), charging)
}

func TestParseDumpsysBatteryOfNothingReadsNothing(t *testing.T) {
	pct, charging := parseDumpsysBattery([]byte("Can't find service: battery\n"))
	assert.Nil(t, pct)
	assert.Nil(t, charging)
}

func TestParseDumpsysConnectivityReadsTheActiveNetwork(t *testing.T) {
	cases := []struct {
		name          string
		file          string
		wantType      string
		wantValidated bool
	}{
		{"a Samsung on validated Wi-Fi", "android/dumpsys_connectivity.txt", "wifi", true},
		{"a Pixel on 5G beside its IMS network", "android/dumpsys_connectivity_cellular.txt", "cellular", true},
		{"no network at all", "android/dumpsys_connectivity_offline.txt", "none", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			netType, validated := parseDumpsysConnectivity(testdata(t, tc.file))
			assert.Equal(t, tc.wantType, netType, "parseDumpsysConnectivity(%s) type", tc.file)
			assert.Equal(t, ptr(tc.wantValidated), validated, "parseDumpsysConnectivity(%s) validated", tc.file)
		})
	}
}

func TestParseDumpsysConnectivityOfAnUnvalidatedNetwork(t *testing.T) {
	out := "Active default network: 100\n" +
		"  NetworkAgentInfo{ ni{[type: WIFI[], state: CONNECTED/CONNECTED]}  network{100}  nc{[ Transports: WIFI Capabilities: INTERNET&NOT_RESTRICTED&TRUSTED&NOT_VPN LinkUpBandwidth>=1048576Kbps]}  Score{20}  everValidated{false} }\n"
	netType, validated := parseDumpsysConnectivity([]byte(out))
	assert.Equal(t, "wifi", netType)
	assert.Equal(t, ptr(false), validated)
}

func TestParseDumpsysConnectivityPicksTheActiveNetworkNotTheFirst(t *testing.T) {
	ims := "  NetworkAgentInfo{network{106}  ni{MOBILE[LTE] CONNECTED extra: ims}  nc{[ Transports: CELLULAR Capabilities: IMS&NOT_METERED&TRUSTED&NOT_VPN]}}\n"
	wifi := "  NetworkAgentInfo{network{110}  ni{WIFI CONNECTED extra: }  nc{[ Transports: WIFI Capabilities: INTERNET&NOT_RESTRICTED&VALIDATED]}}\n"

	netType, validated := parseDumpsysConnectivity([]byte("Active default network: 110\n\nCurrent Networks:\n" + ims + wifi))
	assert.Equal(t, "wifi", netType)
	assert.Equal(t, ptr(true), validated)

	netType, validated = parseDumpsysConnectivity([]byte(ims + wifi))
	assert.Equal(t, "wifi", netType, "without the header, the first network with INTERNET")
	assert.Equal(t, ptr(true), validated)
}

func TestParseDumpsysConnectivityOfNothingReadsNothing(t *testing.T) {
	netType, validated := parseDumpsysConnectivity([]byte("Permission Denial: can't dump ConnectivityService\n"))
	assert.Equal(t, "", netType)
	assert.Nil(t, validated)
}

func TestParseDeviceIdleWhitelistCountsSystemAndUserRowsOnly(t *testing.T) {
	out := testdata(t, "android/dumpsys_deviceidle_whitelist.txt")
	cases := []struct {
		pkg  string
		want bool
	}{
		{"com.nexmdm.agent", true},                // user
		{"com.google.android.gms", true},          // system
		{"com.android.providers.calendar", false}, // system-excidle exempts from standby only
		{"com.nexmdm", false},                     // a prefix is not the package
		{"com.example.absent", false},
	}
	for _, tc := range cases {
		assert.Equal(t, ptr(tc.want), parseDeviceIdleWhitelist(out, tc.pkg), "parseDeviceIdleWhitelist(%q)", tc.pkg)
	}
}

func TestParseDeviceIdleWhitelistAcceptsBarePackageRows(t *testing.T) {
	assert.Equal(t, ptr(true), parseDeviceIdleWhitelist([]byte("com.nexmdm.agent\n"), "com.nexmdm.agent"))
}

func TestParseDeviceIdleWhitelistOfNothingReadsNothing(t *testing.T) {
	assert.Nil(t, parseDeviceIdleWhitelist(nil, "com.nexmdm.agent"))
	assert.Nil(t, parseDeviceIdleWhitelist([]byte("Permission Denial: can't dump DeviceIdleController\n"), "com.nexmdm.agent"))
}

func TestParseAppopsRunAnyInBackground(t *testing.T) {
	cases := []struct {
		name string
		out  string
		want *bool
	}{
		{"never set, captured on Android 15", string(testdata(t, "android/cmd_appops_run_any_in_background.txt")), ptr(false)},
		{"restricted by the user", string(testdata(t, "android/cmd_appops_run_any_in_background_ignore.txt")), ptr(true)},
		{"denied", "RUN_ANY_IN_BACKGROUND: deny\n", ptr(true)},
		{"allowed", "RUN_ANY_IN_BACKGROUND: allow; time=+2m ago\n", ptr(false)},
		{"never set, without a default", "No operations.\n", ptr(false)},
		{"set only for the uid", "Uid mode: RUN_ANY_IN_BACKGROUND: ignore\n", ptr(true)},
		{"another op's uid mode (an Android 10 bug)", "Uid mode: COARSE_LOCATION: foreground\nRUN_ANY_IN_BACKGROUND: allow\n", ptr(false)},
		{"an uninstalled package", "Error: No UID for com.nexmdm.agent in user 0\n", nil},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, parseAppopsRunAnyInBackground([]byte(tc.out)), tc.name)
	}
}

func TestPowerOKNeedsTheWhitelistAndNoBackgroundRestriction(t *testing.T) {
	yes, no := ptr(true), ptr(false)
	cases := []struct {
		whitelisted, restricted, want *bool
	}{
		{yes, no, yes},
		{no, no, no},
		{yes, yes, no},
		{no, nil, no},
		{nil, yes, no},
		{yes, nil, nil},
		{nil, no, nil},
		{nil, nil, nil},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, powerOK(tc.whitelisted, tc.restricted), "powerOK(%v, %v)", tc.whitelisted, tc.restricted)
	}
}
