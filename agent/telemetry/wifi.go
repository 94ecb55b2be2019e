package telemetry

import (
	"strconv"
	"strings"
)

// parseCmdWifiStatus reads `cmd wifi status` (Android 11 and later): the
// SSID of the network Wi-Fi is connected to and its RSSI in dBm. known is
// false when the output is not that command's (Android 10 and older answer
// with an error or their help), so the caller falls back to dumpsys wifi.
func parseCmdWifiStatus(out []byte) (ssid string, rssi *int, known bool) {
	connected := false
	for _, line := range lines(out) {
		line = strings.TrimSpace(line)
		switch {
		case line == "Wifi is enabled" || line == "Wifi is disabled":
			known = true
		case strings.HasPrefix(line, "Wifi is connected to ") && !connected:
			connected = true
			ssid = cleanSSID(strings.TrimPrefix(line, "Wifi is connected to "))
		case strings.HasPrefix(line, "WifiInfo: ") && connected && rssi == nil:
			info := parseWifiInfo(strings.TrimPrefix(line, "WifiInfo: "))
			if ssid == "" {
				ssid = info.ssid
			}
			rssi = info.rssi
		}
	}
	return ssid, rssi, known
}

// parseDumpsysWifi reads the SSID and RSSI from the "mWifiInfo" line of
// `dumpsys wifi`, the only source on Android 10 and older. The rest of the
// dump names SSIDs too (saved networks, scan results); they are not the
// connection.
func parseDumpsysWifi(out []byte) (ssid string, rssi *int) {
	for _, line := range lines(out) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "mWifiInfo ")
		if !ok {
			continue
		}
		info := parseWifiInfo(rest)
		if info.state != "" && info.state != "COMPLETED" {
			return "", nil // not connected
		}
		return info.ssid, info.rssi
	}
	return "", nil
}

// wifiInfo is what Android's WifiInfo.toString says about a connection:
// `SSID: "Home", BSSID: 02:00:00:00:01:00, ..., Supplicant state: COMPLETED, RSSI: -50, ...`.
type wifiInfo struct {
	ssid, state string
	rssi        *int
}

// invalidRSSI is WifiInfo.INVALID_RSSI, what Android reports with no signal.
const invalidRSSI = -127

func parseWifiInfo(s string) wifiInfo {
	var info wifiInfo
	if rest, ok := strings.CutPrefix(s, "SSID: "); ok {
		// An SSID may hold commas; the BSSID field ends it.
		ssid, _, _ := strings.Cut(rest, ", BSSID: ")
		info.ssid = cleanSSID(ssid)
	}
	info.state = fieldValue(s, "Supplicant state: ")
	if v, err := strconv.Atoi(fieldValue(s, "RSSI: ")); err == nil && v > invalidRSSI && v < 0 {
		info.rssi = ptr(v)
	}
	return info
}

// fieldValue returns the value of a "Key: value," field in a toString line.
func fieldValue(s, key string) string {
	_, rest, ok := strings.Cut(s, ", "+key)
	if !ok {
		return ""
	}
	value, _, _ := strings.Cut(rest, ",")
	return strings.TrimSpace(value)
}

// cleanSSID strips the quotes Android puts around UTF-8 SSIDs, and drops the
// placeholders it prints when the SSID is unknown.
func cleanSSID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) {
		s = s[1 : len(s)-1]
	}
	switch s {
	case "<unknown ssid>", "<none>":
		return ""
	}
	return s
}
