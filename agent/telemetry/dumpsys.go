package telemetry

import (
	"strconv"
	"strings"
)

// parseDumpsysBattery reads `dumpsys battery`: the charge is level/scale,
// and charging is the battery's status (BatteryManager: 2 charging, 5 full,
// 3 discharging, 4 not charging), or, when the status says nothing, whether
// any charger (AC, USB, wireless, dock) is powering the device.
func parseDumpsysBattery(out []byte) (pct *int, charging *bool) {
	fields := map[string]string{}
	for _, line := range lines(out) {
		key, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if _, seen := fields[key]; ok && !seen {
			fields[key] = strings.TrimSpace(value)
		}
	}
	level, errLevel := strconv.Atoi(fields["level"])
	scale, errScale := strconv.Atoi(fields["scale"])
	switch {
	case errLevel != nil || level < 0:
	case errScale == nil && scale > 0:
		pct = parsePercent(strconv.Itoa(level * 100 / scale))
	default:
		pct = parsePercent(fields["level"])
	}
	return pct, androidCharging(fields)
}

func androidCharging(fields map[string]string) *bool {
	switch fields["status"] {
	case "2", "5":
		return ptr(true)
	case "3", "4":
		return ptr(false)
	}
	var powered *bool
	for _, charger := range []string{"AC powered", "USB powered", "Wireless powered", "Dock powered"} {
		switch fields[charger] {
		case "true":
			return ptr(true)
		case "false":
			powered = ptr(false)
		}
	}
	return powered
}

// parseDumpsysConnectivity reads `dumpsys connectivity`: the transport of
// the active default network and whether it has the VALIDATED capability
// (Android's own probe reached the internet). The active network is the one
// "Active default network: <netId>" names; a capture without that line falls
// back to the first network with the INTERNET capability, because the IMS
// network on a phone is listed too and never carries the device's traffic.
func parseDumpsysConnectivity(out []byte) (netType string, validated *bool) {
	active, hasActive := "", false
	var networks []networkAgent
	for _, line := range lines(out) {
		line = strings.TrimSpace(line)
		if id, ok := strings.CutPrefix(line, "Active default network:"); ok {
			active, hasActive = strings.TrimSpace(id), true
		} else if strings.HasPrefix(line, "NetworkAgentInfo{") {
			networks = append(networks, parseNetworkAgent(line))
		}
	}
	if hasActive && (active == "none" || active == "null") {
		return "none", ptr(false)
	}
	for _, n := range networks {
		if (hasActive && n.id == active) || (!hasActive && n.has("INTERNET")) {
			return n.netType(), ptr(n.has("VALIDATED"))
		}
	}
	return "", nil
}

// networkAgent is what one NetworkAgentInfo line says about a network.
type networkAgent struct {
	id           string
	transports   []string // WIFI, CELLULAR, ETHERNET, VPN, ...
	capabilities []string // INTERNET, VALIDATED, ...
}

func parseNetworkAgent(line string) networkAgent {
	var n networkAgent
	if _, rest, ok := strings.Cut(line, "network{"); ok {
		n.id, _, _ = strings.Cut(rest, "}")
	}
	// The network capabilities ("nc{[ Transports: WIFI Capabilities: A&B ...]}").
	_, nc, ok := strings.Cut(line, "nc{[")
	if !ok {
		return n
	}
	n.transports = strings.Split(wordAfter(nc, "Transports: "), "|")
	n.capabilities = strings.Split(wordAfter(nc, "Capabilities: "), "&")
	return n
}

func (n networkAgent) has(capability string) bool {
	for _, c := range n.capabilities {
		if c == capability {
			return true
		}
	}
	return false
}

func (n networkAgent) netType() string {
	for _, want := range []struct{ transport, netType string }{
		{"WIFI", "wifi"}, {"CELLULAR", "cellular"}, {"ETHERNET", "ethernet"},
	} {
		for _, t := range n.transports {
			if t == want.transport {
				return want.netType
			}
		}
	}
	return ""
}

// wordAfter returns the space-delimited word that follows marker in s.
func wordAfter(s, marker string) string {
	_, rest, ok := strings.Cut(s, marker)
	if !ok {
		return ""
	}
	word, _, _ := strings.Cut(rest, " ")
	return strings.TrimRight(word, "]}")
}

// parseDeviceIdleWhitelist reports whether pkg is exempt from Doze, from
// `dumpsys deviceidle whitelist`. Its rows are "kind,package,appId". Only
// "system" and "user" rows exempt an app from Doze: a "system-excidle" row
// exempts it from app standby alone, and Android does not count it as
// ignoring battery optimizations. Some ROMs print bare package names. Nil
// when no row could be read: a real device always lists system packages.
func parseDeviceIdleWhitelist(out []byte, pkg string) *bool {
	rows := 0
	for _, line := range lines(out) {
		f := strings.Split(strings.TrimSpace(line), ",")
		switch {
		case len(f) == 3:
			rows++
			if f[1] == pkg && (f[0] == "system" || f[0] == "user") {
				return ptr(true)
			}
		case len(f) == 1 && looksLikePackage(f[0]):
			rows++
			if f[0] == pkg {
				return ptr(true)
			}
		}
	}
	if rows == 0 {
		return nil
	}
	return ptr(false)
}

func looksLikePackage(s string) bool {
	if !strings.Contains(s, ".") || strings.HasSuffix(s, ".") {
		return false
	}
	for _, r := range s {
		if !(r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// parseAppopsRunAnyInBackground reads `cmd appops get <pkg>
// RUN_ANY_IN_BACKGROUND` and reports whether the app is background
// restricted (the mode is ignore or deny). "No operations." means the mode
// was never set and the op's default applies: allow, unless a "Default mode:"
// line says otherwise. A package's own line wins over a "Uid mode:" line.
// Nil when the output is neither, such as "Error: No UID for ...".
func parseAppopsRunAnyInBackground(out []byte) (restricted *bool) {
	const op = "RUN_ANY_IN_BACKGROUND:"
	var pkgMode, uidMode, defaultMode string
	never := false
	for _, line := range lines(out) {
		line = strings.TrimSpace(line)
		uidLine, isUID := strings.CutPrefix(line, "Uid mode: ")
		if isUID {
			line = uidLine
		}
		switch {
		case strings.HasPrefix(line, op):
			mode, _, _ := strings.Cut(strings.TrimPrefix(line, op), ";")
			if isUID {
				uidMode = strings.TrimSpace(mode)
			} else {
				pkgMode = strings.TrimSpace(mode)
			}
		case strings.HasPrefix(line, "Default mode:"):
			defaultMode = strings.TrimSpace(strings.TrimPrefix(line, "Default mode:"))
		case line == "No operations.":
			never = true
		}
	}
	mode := pkgMode
	if mode == "" {
		mode = uidMode
	}
	if mode == "" && !never {
		return nil
	}
	if mode == "" || mode == "default" {
		mode = defaultMode
	}
	switch mode {
	case "ignore", "deny":
		return ptr(true)
	case "", "allow", "foreground":
		return ptr(false)
	}
	return nil
}

// powerOK is whether the agent may run unrestricted: doze-whitelisted and
// not background restricted. Either one failing is enough to say no.
func powerOK(dozeWhitelisted, backgroundRestricted *bool) *bool {
	switch {
	case dozeWhitelisted != nil && !*dozeWhitelisted,
		backgroundRestricted != nil && *backgroundRestricted:
		return ptr(false)
	case dozeWhitelisted != nil && backgroundRestricted != nil:
		return ptr(true)
	}
	return nil
}
