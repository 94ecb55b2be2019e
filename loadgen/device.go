// Package loadgen simulates a fleet of NexMDM devices and drives a server
// with it, through the agent's protocol client (agent/client), so the
// protocol exists once. It enrolls devices or reuses their tokens, paces
// heartbeats with jitter, honours Retry-After and 410, and reports
// throughput and latency percentiles. Its bench subpackage runs the
// scenarios side by side against a no-op server and a per-request baseline.
package loadgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
)

// Packages a simulated device runs; the first is its kiosk app.
var simPackages = [...]string{"com.example.kiosk", "com.android.settings", "com.android.chrome"}

// Agent versions a simulated fleet is split across, as mid-rollout fleets are.
var simVersions = [...]struct {
	name string
	code int
}{{"1.4.2", 142}, {"1.5.0", 150}}

// Device is one simulated device: its credentials and the state its reports
// are drawn from. Battery drains and charges, RAM wanders, the network moves
// between the site's Wi-Fi and cellular, and apps take turns in front.
type Device struct {
	Cred Credential

	clock    time.Time // the device's own clock, for ts
	battery  float64   // percent
	charging bool
	ramTotal int // MB
	ramUsed  int // MB
	uptime   int64
	cellular bool
	site     int // which store's SSID it sees
	fg       int // index into simPackages
	lastFg   [len(simPackages)]int64
	version  int
	backlog  int       // queued heartbeats still to replay
	stopped  bool      // answered 410: stop, as an agent does
	acked    int       // heartbeats acknowledged
	due      time.Time // when its next heartbeat is due
	pending  []byte    // a heartbeat to retry after Retry-After
}

// NewDevice gives a device its starting state; its clock starts at clock.
func NewDevice(cred Credential, clock time.Time, rng *rand.Rand) *Device {
	totals := [...]int{2048, 3072, 4096, 6144}
	d := &Device{
		Cred:     cred,
		clock:    clock,
		battery:  30 + rng.Float64()*70,
		ramTotal: totals[rng.IntN(len(totals))],
		uptime:   rng.Int64N(30 * 86400),
		site:     rng.IntN(500),
		version:  rng.IntN(len(simVersions)),
	}
	d.ramUsed = d.ramTotal * (40 + rng.IntN(30)) / 100
	for i := range d.lastFg {
		d.lastFg[i] = clock.Add(-time.Duration(rng.IntN(3600)) * time.Second).UnixMilli()
	}
	return d
}

// Clock is the time of the device's last heartbeat (or its start).
func (d *Device) Clock() time.Time { return d.clock }

// Payload is a reusable heartbeat whose optional fields point into its own
// values, so that filling it allocates nothing. Each worker owns one.
type Payload struct {
	HB                              client.Heartbeat
	battery, ramUsed, ramTotal      int
	signal, versionCode, queueDepth int
	uptime                          int64
	charging, yes, netValidated     bool
}

// NewPayload returns a payload ready for Device.Next.
func NewPayload() *Payload {
	r := &Payload{yes: true}
	h := &r.HB
	h.BatteryPct, h.Charging, h.RAMUsedMB, h.RAMTotalMB = &r.battery, &r.charging, &r.ramUsed, &r.ramTotal
	h.UptimeS, h.SignalDBm, h.AgentVersionCode, h.QueueDepth = &r.uptime, &r.signal, &r.versionCode, &r.queueDepth
	h.PowerOK, h.DozeWhitelisted, h.NetValidated = &r.yes, &r.yes, &r.netValidated
	h.AppLastForeground = make(map[string]int64, len(simPackages))
	return r
}

// Next advances the device's state by step of its own time and fills r with
// its heartbeat.
func (d *Device) Next(step time.Duration, rng *rand.Rand, r *Payload) *client.Heartbeat {
	d.clock = d.clock.Add(step)
	mins := step.Minutes()
	if d.charging {
		d.battery += 0.8 * mins
		if d.battery >= 95+rng.Float64()*5 {
			d.battery, d.charging = min(d.battery, 100), false
		}
	} else {
		d.battery -= (0.05 + rng.Float64()*0.1) * mins
		if d.battery < 15 && rng.IntN(3) == 0 { // someone plugs it in, eventually
			d.charging = true
		}
		d.battery = max(d.battery, 1)
	}
	d.ramUsed = clamp(d.ramUsed+rng.IntN(101)-50, d.ramTotal*3/10, d.ramTotal*9/10)
	d.uptime += int64(step / time.Second)
	if rng.IntN(20000) == 0 { // a reboot
		d.uptime = int64(rng.IntN(300))
	}
	if rng.IntN(200) == 0 {
		d.cellular = !d.cellular
	}
	if rng.IntN(50) == 0 {
		d.fg = rng.IntN(len(simPackages))
	} else if rng.IntN(5) == 0 {
		d.fg = 0
	}
	d.lastFg[d.fg] = d.clock.UnixMilli()

	h := &r.HB
	h.TS = d.clock
	r.battery, r.charging = int(d.battery), d.charging
	r.ramUsed, r.ramTotal, r.uptime = d.ramUsed, d.ramTotal, d.uptime
	r.signal = -50 - rng.IntN(30)
	if d.cellular {
		h.NetType, h.SSID = "cellular", ""
		r.signal -= 35
	} else {
		h.NetType, h.SSID = "wifi", siteSSID(d.site)
	}
	v := simVersions[d.version]
	h.AgentVersion, r.versionCode = v.name, v.code
	h.ForegroundPkg = simPackages[d.fg]
	for i, p := range simPackages {
		h.AppLastForeground[p] = d.lastFg[i]
	}
	r.netValidated = !d.cellular || rng.IntN(10) > 0
	r.queueDepth = d.backlog
	return h
}

var ssids [500]string

func init() {
	for i := range ssids {
		ssids[i] = fmt.Sprintf("store-%03d", i)
	}
}

func siteSSID(i int) string { return ssids[i%len(ssids)] }

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }
