package telemetry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewLinuxOnALaptopReadsBatteryWifiAndSignal(t *testing.T) {
	got, err := NewLinux("testdata/linux-laptop").Collect(context.Background())
	require.NoError(t, err)

	assert.Equal(t, Reading{
		BatteryPct:   ptr(87), // BAT0; the mouse's battery is not the laptop's
		Charging:     ptr(true),
		RAMUsedMB:    ptr((16129024 - 9437184) / 1024),
		RAMTotalMB:   ptr(16129024 / 1024),
		UptimeS:      ptr(int64(86523)),
		NetType:      "wifi",
		SignalDBm:    ptr(-42),
		PowerOK:      ptr(true),
		NetValidated: ptr(true),
	}, got)
}

func TestNewLinuxOnAServerWithoutBatteryReadsEthernet(t *testing.T) {
	got, err := NewLinux("testdata/linux-server").Collect(context.Background())
	require.NoError(t, err)

	assert.Equal(t, Reading{
		RAMUsedMB:    ptr((24683620 - 24102084) / 1024),
		RAMTotalMB:   ptr(24683620 / 1024),
		UptimeS:      ptr(int64(421)),
		NetType:      "ethernet",
		PowerOK:      ptr(true),
		NetValidated: ptr(true),
	}, got)
	assert.Nil(t, got.BatteryPct, "a server has no battery")
	assert.Nil(t, got.DozeWhitelisted, "Linux has no Doze")
}

func TestNewLinuxWithoutADefaultRouteIsOnNoNetwork(t *testing.T) {
	got, err := NewLinux("testdata/linux-offline").Collect(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "none", got.NetType)
	assert.Equal(t, ptr(false), got.NetValidated)
}

func TestNewLinuxFailsOnlyWhenNothingCanBeRead(t *testing.T) {
	_, err := NewLinux(t.TempDir()).Collect(context.Background())
	assert.ErrorIs(t, err, errNothingRead)
}

func TestLinkTypeFollowsSysfsAndInterfaceNames(t *testing.T) {
	cases := []struct {
		iface    string
		wireless bool
		want     string
	}{
		{"wlan0", true, "wifi"},
		{"wlp2s0", false, "wifi"},
		{"mlan0", true, "wifi"},
		{"wwan0", false, "cellular"},
		{"rmnet_data0", false, "cellular"},
		{"eth0", false, "ethernet"},
		{"enp0s31f6", false, "ethernet"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, linkType(tc.iface, tc.wireless), "linkType(%q, %v)", tc.iface, tc.wireless)
	}
}

func TestBatteryStatusDecidesChargingAndAChargerStandsInForUnknown(t *testing.T) {
	assert.Equal(t, ptr(true), batteryStatusCharging("Charging"))
	assert.Equal(t, ptr(true), batteryStatusCharging("Full"))
	assert.Equal(t, ptr(false), batteryStatusCharging("Discharging"))
	assert.Equal(t, ptr(false), batteryStatusCharging("Not charging"))
	assert.Nil(t, batteryStatusCharging("Unknown"))
}
