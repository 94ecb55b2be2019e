package telemetry

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// linuxCollector reads a Linux machine's /proc and /sys under root.
type linuxCollector struct{ root string }

// NewLinux reads a Linux machine under root ("/" in production; a testdata
// tree in tests): memory from /proc/meminfo, uptime from /proc/uptime, the
// battery from /sys/class/power_supply, and the network from the default
// route in /proc/net/route, with the Wi-Fi signal from /proc/net/wireless.
// Nothing restricts a Linux agent's background work, so PowerOK is true;
// DozeWhitelisted is nil; NetValidated is whether a default route exists.
func NewLinux(root string) Collector { return linuxCollector{root: root} }

func (c linuxCollector) Collect(ctx context.Context) (Reading, error) {
	var r Reading
	var errs []error
	if b, err := readFile(c.root, "proc/meminfo"); err != nil {
		errs = append(errs, err)
	} else {
		r.RAMUsedMB, r.RAMTotalMB = parseMeminfo(b)
	}
	if b, err := readFile(c.root, "proc/uptime"); err != nil {
		errs = append(errs, err)
	} else {
		r.UptimeS = parseUptime(b)
	}
	r.BatteryPct, r.Charging = readPowerSupplies(filepath.Join(c.root, "sys/class/power_supply"))
	if b, err := readFile(c.root, "proc/net/route"); err != nil {
		errs = append(errs, err)
	} else {
		c.readNetwork(&r, b)
	}
	if r.empty() {
		return Reading{}, nothingRead(errs)
	}
	r.PowerOK = ptr(true)
	return r, nil
}

// readNetwork fills in the network the default route goes through.
func (c linuxCollector) readNetwork(r *Reading, route []byte) {
	iface, ok := defaultRoute(parseRoutes(route))
	r.NetValidated = ptr(ok)
	if !ok {
		r.NetType = "none"
		return
	}
	dir := filepath.Join(c.root, "sys/class/net", iface)
	r.NetType = linkType(iface, exists(filepath.Join(dir, "wireless")) || exists(filepath.Join(dir, "phy80211")))
	if r.NetType != "wifi" {
		return
	}
	if b, err := readFile(c.root, "proc/net/wireless"); err == nil {
		r.SignalDBm = parseWirelessLevel(b, iface)
	}
}

// linkType names the kind of network an interface is on, from what sysfs
// says (wireless) and from the kernel's and udev's naming conventions.
func linkType(iface string, wireless bool) string {
	switch {
	case wireless || strings.HasPrefix(iface, "wl"):
		return "wifi"
	case strings.HasPrefix(iface, "ww") || strings.HasPrefix(iface, "rmnet"):
		return "cellular"
	}
	return "ethernet"
}

// readPowerSupplies reads the machine's battery under dir
// (/sys/class/power_supply): its charge, and whether it is charging. The
// battery's own status decides; a Mains or USB supply that is online stands
// in when the battery does not say. No battery leaves both nil.
func readPowerSupplies(dir string) (pct *int, charging *bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	var external *bool
	battery := false
	for _, e := range entries {
		supply := filepath.Join(dir, e.Name())
		kind := sysfsValue(supply, "type")
		switch {
		case kind == "Battery":
			// A mouse's or headset's battery has scope Device; only the
			// first of the machine's own counts.
			if battery || sysfsValue(supply, "scope") == "Device" {
				continue
			}
			battery = true
			pct = parsePercent(sysfsValue(supply, "capacity"))
			charging = batteryStatusCharging(sysfsValue(supply, "status"))
		case kind == "Mains" || kind == "Wireless" || strings.HasPrefix(kind, "USB"):
			switch sysfsValue(supply, "online") {
			case "1":
				external = ptr(true)
			case "0":
				if external == nil {
					external = ptr(false)
				}
			}
		}
	}
	if battery && charging == nil {
		charging = external
	}
	return pct, charging
}

// batteryStatusCharging reads a battery's sysfs status.
func batteryStatusCharging(status string) *bool {
	switch status {
	case "Charging", "Full":
		return ptr(true)
	case "Discharging", "Not charging":
		return ptr(false)
	}
	return nil // "Unknown", or no status file
}

func parsePercent(s string) *int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 100 {
		return nil
	}
	return ptr(n)
}

// sysfsValue reads one attribute of a sysfs device, "" when it is missing.
func sysfsValue(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
