package telemetry

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// androidCollector reads an Android device through its shell commands and
// its /proc files.
type androidCollector struct {
	run        Runner
	root       string
	appPackage string          // the agent's own app
	watched    func() []string // packages the server monitors
	loc        *time.Location  // the device's zone when fixed; nil asks the device
}

// NewAndroid reads an Android device through run: `dumpsys battery`,
// /proc/meminfo and /proc/uptime read directly from the filesystem under
// root, `cmd wifi status` (Android 11+) or else `dumpsys wifi` for the SSID
// and RSSI, `dumpsys connectivity` for the active network's transport and
// whether it is VALIDATED, `dumpsys deviceidle whitelist` and `cmd appops get
// <appPackage> RUN_ANY_IN_BACKGROUND` for whether appPackage may run
// unrestricted, and `dumpsys usagestats` for the foreground app and the last
// foreground time of appPackage and of each package watched returns.
//
// usagestats prints times in the device's zone, which is asked of the device
// (`getprop persist.sys.timezone`, else `date +%z`): Go on Android takes
// time.Local to be UTC (golang/go#20455).
func NewAndroid(run Runner, root string, appPackage string, watched func() []string) Collector {
	return newAndroid(run, root, appPackage, watched, nil)
}

func newAndroid(run Runner, root, appPackage string, watched func() []string, loc *time.Location) *androidCollector {
	return &androidCollector{run: run, root: root, appPackage: appPackage, watched: watched, loc: loc}
}

func (c *androidCollector) Collect(ctx context.Context) (Reading, error) {
	s := &sources{ctx: ctx, run: c.run, root: c.root}
	var r Reading
	if out, ok := s.command("dumpsys", "battery"); ok {
		r.BatteryPct, r.Charging = parseDumpsysBattery(out)
	}
	if b, ok := s.file("proc/meminfo"); ok {
		r.RAMUsedMB, r.RAMTotalMB = parseMeminfo(b)
	}
	if b, ok := s.file("proc/uptime"); ok {
		r.UptimeS = parseUptime(b)
	}
	r.SSID, r.SignalDBm = c.wifi(s)
	if out, ok := s.command("dumpsys", "connectivity"); ok {
		r.NetType, r.NetValidated = parseDumpsysConnectivity(out)
	}
	var restricted *bool
	if out, ok := s.command("dumpsys", "deviceidle", "whitelist"); ok {
		r.DozeWhitelisted = parseDeviceIdleWhitelist(out, c.appPackage)
	}
	if out, ok := s.command("cmd", "appops", "get", c.appPackage, "RUN_ANY_IN_BACKGROUND"); ok {
		restricted = parseAppopsRunAnyInBackground(out)
	}
	r.PowerOK = powerOK(r.DozeWhitelisted, restricted)
	if out, ok := s.command("dumpsys", "usagestats"); ok {
		r.ForegroundPkg, r.AppLastForeground = c.usage(ctx, out)
	}
	if r.empty() {
		return Reading{}, nothingRead(s.errs)
	}
	return r, nil
}

// wifi asks `cmd wifi status` first, and `dumpsys wifi` when the device is
// too old to have it.
func (c *androidCollector) wifi(s *sources) (ssid string, rssi *int) {
	if out, ok := s.command("cmd", "wifi", "status"); ok {
		if ssid, rssi, known := parseCmdWifiStatus(out); known {
			return ssid, rssi
		}
	}
	if out, ok := s.command("dumpsys", "wifi"); ok {
		return parseDumpsysWifi(out)
	}
	return "", nil
}

// usage keeps the last foreground times of the agent and the watched
// packages; the rest of the device's usage stays on the device.
func (c *androidCollector) usage(ctx context.Context, out []byte) (foreground string, last map[string]int64) {
	foreground, all := parseDumpsysUsagestats(out, c.zone(ctx))
	var packages []string
	if c.watched != nil {
		packages = c.watched()
	}
	// The full slice expression makes append copy rather than write into
	// the caller's array.
	for _, pkg := range append(packages[:len(packages):len(packages)], c.appPackage) {
		if at, ok := all[pkg]; ok {
			if last == nil {
				last = map[string]int64{}
			}
			last[pkg] = at
		}
	}
	return foreground, last
}

// zone is the device's time zone: the IANA zone it is set to, else its
// current UTC offset, else time.Local.
func (c *androidCollector) zone(ctx context.Context) *time.Location {
	if c.loc != nil {
		return c.loc
	}
	if out, err := c.run.Run(ctx, "getprop", "persist.sys.timezone"); err == nil {
		if name := strings.TrimSpace(string(out)); name != "" {
			if loc, err := time.LoadLocation(name); err == nil {
				return loc
			}
		}
	}
	if out, err := c.run.Run(ctx, "date", "+%z"); err == nil {
		if loc := parseUTCOffset(strings.TrimSpace(string(out))); loc != nil {
			return loc
		}
	}
	return time.Local
}

// parseUTCOffset reads an offset as `date +%z` prints it ("+0530").
func parseUTCOffset(s string) *time.Location {
	if len(s) != 5 || (s[0] != '+' && s[0] != '-') {
		return nil
	}
	hours, errH := strconv.Atoi(s[1:3])
	minutes, errM := strconv.Atoi(s[3:5])
	if errH != nil || errM != nil || hours > 14 || minutes > 59 {
		return nil
	}
	seconds := (hours*60 + minutes) * 60
	if s[0] == '-' {
		seconds = -seconds
	}
	return time.FixedZone(s, seconds)
}

// sources runs the collector's commands and reads its files, keeping each
// failure so that Collect can say why when nothing at all could be read.
type sources struct {
	ctx  context.Context
	run  Runner
	root string
	errs []error
}

func (s *sources) command(name string, args ...string) ([]byte, bool) {
	out, err := s.run.Run(s.ctx, name, args...)
	if err != nil {
		s.errs = append(s.errs, err)
		return nil, false
	}
	return out, true
}

func (s *sources) file(name string) ([]byte, bool) {
	b, err := readFile(s.root, name)
	if err != nil {
		s.errs = append(s.errs, err)
		return nil, false
	}
	return b, true
}
