package telemetry

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// readFile reads a file under root, where root is "/" in production and a
// testdata tree in tests.
func readFile(root, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
}

// parseMeminfo reads /proc/meminfo and returns the memory in use and the
// total, in MB. Used is MemTotal - MemAvailable; kernels before 3.14 have no
// MemAvailable, and there MemFree + Buffers + Cached stands in for it, as it
// did in procps.
func parseMeminfo(b []byte) (usedMB, totalMB *int) {
	kB := map[string]int64{}
	for _, line := range lines(b) {
		key, rest, ok := strings.Cut(line, ":")
		fields := strings.Fields(rest)
		if !ok || len(fields) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			kB[key] = n
		}
	}
	total, ok := kB["MemTotal"]
	if !ok || total <= 0 {
		return nil, nil
	}
	available, ok := kB["MemAvailable"]
	if !ok {
		free, ok := kB["MemFree"]
		if !ok {
			return nil, ptr(int(total / 1024))
		}
		available = free + kB["Buffers"] + kB["Cached"]
	}
	used := max(total-available, 0)
	return ptr(int(used / 1024)), ptr(int(total / 1024))
}

// parseUptime reads the seconds since boot from /proc/uptime ("421.83 526.59").
func parseUptime(b []byte) *int64 {
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return nil
	}
	s, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || s < 0 {
		return nil
	}
	return ptr(int64(s))
}

// procRoute is one row of /proc/net/route.
type procRoute struct {
	iface, dest, mask string
	flags             uint64
	metric            int64
}

const rtfUp = 0x1 // RTF_UP: the route is usable

func (r procRoute) up() bool { return r.flags&rtfUp != 0 }

func (r procRoute) isDefault() bool {
	return r.up() && r.dest == "00000000" && r.mask == "00000000"
}

// parseRoutes reads /proc/net/route, the kernel's main IPv4 routing table.
func parseRoutes(b []byte) []procRoute {
	var routes []procRoute
	for i, line := range lines(b) {
		f := strings.Fields(line)
		if i == 0 || len(f) < 8 {
			continue // the header, or a blank line
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil {
			continue
		}
		metric, _ := strconv.ParseInt(f[6], 10, 64)
		routes = append(routes, procRoute{iface: f[0], dest: f[1], mask: f[7], flags: flags, metric: metric})
	}
	return routes
}

// defaultRoute returns the interface of the default route the kernel
// prefers: the one with the lowest metric.
func defaultRoute(routes []procRoute) (iface string, ok bool) {
	var best *procRoute
	for i, r := range routes {
		if r.isDefault() && (best == nil || r.metric < best.metric) {
			best = &routes[i]
		}
	}
	if best == nil {
		return "", false
	}
	return best.iface, true
}

// parseWirelessLevel returns iface's signal level in dBm from
// /proc/net/wireless, or nil when the interface is not listed.
func parseWirelessLevel(b []byte, iface string) *int {
	for _, line := range lines(b) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		fields := strings.Fields(rest)
		if !ok || name != iface || len(fields) < 3 {
			continue
		}
		// Columns: status, link quality, level, noise; the kernel prints a
		// trailing "." after each number.
		level, err := strconv.Atoi(strings.TrimSuffix(fields[2], "."))
		if err != nil || level == 0 {
			return nil
		}
		if level > 0 {
			level -= 256 // some drivers report dBm as an unsigned byte
		}
		return ptr(level)
	}
	return nil
}

// Online reports whether the device has a default route now: what the
// agent's network watcher polls to drain its queue the moment the network
// returns. It reads root/proc/net/route (works on Linux and on Android under
// adb shell).
//
// That file lists only the main routing table. Android's netd keeps default
// routes in one table per network, so on Android a route through any
// interface but loopback counts as well.
func Online(root string) bool {
	b, err := readFile(root, "proc/net/route")
	if err != nil {
		return false
	}
	return online(parseRoutes(b), runtime.GOOS == "android")
}

func online(routes []procRoute, android bool) bool {
	if _, ok := defaultRoute(routes); ok {
		return true
	}
	if !android {
		return false
	}
	for _, r := range routes {
		if r.up() && r.iface != "lo" && !strings.HasPrefix(r.iface, "dummy") {
			return true
		}
	}
	return false
}
