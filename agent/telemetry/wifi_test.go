package telemetry

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseCmdWifiStatusReadsTheConnection(t *testing.T) {
	ssid, rssi, known := parseCmdWifiStatus(testdata(t, "android/cmd_wifi_status.txt"))
	assert.True(t, known)
	assert.Equal(t, "NexLab-5G", ssid, "without the quotes")
	assert.Equal(t, ptr(-38), rssi)
}

func TestParseCmdWifiStatusWhenNotConnected(t *testing.T) {
	ssid, rssi, known := parseCmdWifiStatus(testdata(t, "android/cmd_wifi_status_disconnected.txt"))
	assert.True(t, known, "a disconnected status is still an answer")
	assert.Equal(t, "", ssid)
	assert.Nil(t, rssi)
}

func TestParseCmdWifiStatusDoesNotKnowAnOlderAndroidsAnswer(t *testing.T) {
	_, _, known := parseCmdWifiStatus([]byte("Unknown command: status\n"))
	assert.False(t, known)
}

func TestParseCmdWifiStatusTreatsTheUnknownSSIDAsUnknown(t *testing.T) {
	ssid, rssi, _ := parseCmdWifiStatus([]byte("Wifi is enabled\n" +
		"Wifi is connected to <unknown ssid>\n" +
		"WifiInfo: SSID: <unknown ssid>, BSSID: 02:00:00:00:00:00, Supplicant state: COMPLETED, RSSI: -61, Link speed: 72Mbps\n"))
	assert.Equal(t, "", ssid)
	assert.Equal(t, ptr(-61), rssi)
}

func TestParseDumpsysWifiReadsTheConnectionNotSavedNetworks(t *testing.T) {
	ssid, rssi := parseDumpsysWifi(testdata(t, "android/dumpsys_wifi.txt"))
	assert.Equal(t, "AndroidWifi", ssid)
	assert.Equal(t, ptr(-50), rssi)
}

func TestParseDumpsysWifiWhenDisconnected(t *testing.T) {
	ssid, rssi := parseDumpsysWifi(testdata(t, "android/dumpsys_wifi_disconnected.txt"))
	assert.Equal(t, "", ssid)
	assert.Nil(t, rssi, "RSSI -127 is Android's no-signal value")
}

func TestParseWifiInfoKeepsCommasInAnSSID(t *testing.T) {
	info := parseWifiInfo(`SSID: "Cafe, upstairs", BSSID: 02:00:00:00:01:00, Supplicant state: COMPLETED, RSSI: -70`)
	assert.Equal(t, "Cafe, upstairs", info.ssid)
	assert.Equal(t, "COMPLETED", info.state)
	assert.Equal(t, ptr(-70), info.rssi)
}
