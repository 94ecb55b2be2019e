package loadgen

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Scenario is a named preset of a run.
type Scenario struct {
	Name        string
	About       string
	Devices     int
	Conns       int
	Interval    time.Duration // per device; 0: closed loop
	Jitter      float64
	RampUp      time.Duration
	Duration    time.Duration
	Count       int           // heartbeats per device; 0: no limit
	TSStep      time.Duration // device clock advance per heartbeat; 0: real time
	ClockStart  time.Duration // device clocks start this far in the past
	Backlog     int           // queued heartbeats each device replays first
	WatchMemory bool          // sample the server's RSS (soak)
}

// The device clock advances one bucket per heartbeat in the throughput
// scenarios, so every heartbeat is a new 10 s bucket and so a committed row:
// they measure durable writes, not deduplication. Clocks start in the past
// and stay behind the server's clock for the whole run.
var scenarios = map[string]Scenario{
	"fleet": {
		About:   "2,000 devices, each heartbeating every second (every heartbeat a new bucket)",
		Devices: 2000, Conns: 64, Interval: time.Second, Jitter: 0.1, RampUp: time.Second,
		Duration: 8 * time.Second, TSStep: 10 * time.Second, ClockStart: 2 * time.Hour,
	},
	"stress": {
		About:   "100,000 devices, each every 4 s: 25,000 heartbeats/s, every one a new bucket",
		Devices: 100_000, Conns: 512, Interval: 4 * time.Second, Jitter: 0.1, RampUp: 4 * time.Second,
		Duration: 12 * time.Second, TSStep: 10 * time.Second, ClockStart: 6 * time.Hour,
	},
	"stress-max": {
		About:   "100,000 devices sending as fast as the server answers (the throughput ceiling)",
		Devices: 100_000, Conns: 512, RampUp: time.Second,
		Duration: 8 * time.Second, TSStep: 10 * time.Second, ClockStart: 6 * time.Hour,
	},
	// Only the per-request baseline meets burst's time limit: NexMDM and the
	// no-op replay all 120,000 rows in a few seconds. 10 s of the baseline
	// measure its rate as well as its whole 35 s would. This, fleet's 8 s,
	// stress's 12 s and stress-max's 8 s (each 16,000 to 200,000 samples a
	// run) keep make bench within 15 minutes on a new machine, where
	// compiling and enrolling 100,000 devices take four or five of them.
	"burst": {
		About:   "2,000 devices back online, each replaying an offline backlog of 60 queued heartbeats (stops after 10 s)",
		Devices: 2000, Conns: 256, Count: 60, Backlog: 60, Duration: 10 * time.Second,
		TSStep: 10 * time.Second, ClockStart: 60 * 10 * time.Second,
	},
	"soak": {
		About:   "10,000 devices, each every 5 s, for 10 minutes, watching the server's memory",
		Devices: 10_000, Conns: 128, Interval: 5 * time.Second, Jitter: 0.2, RampUp: 5 * time.Second,
		Duration: 10 * time.Minute, TSStep: 10 * time.Second, ClockStart: 6 * time.Hour, WatchMemory: true,
	},
}

// Lookup returns a preset by name.
func Lookup(name string) (Scenario, error) {
	s, ok := scenarios[name]
	if !ok {
		return Scenario{}, fmt.Errorf("no scenario %q; there are: %s", name, strings.Join(ScenarioNames(), ", "))
	}
	s.Name = name
	return s, nil
}

// ScenarioNames lists the presets.
func ScenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewFleet builds the scenario's devices from credentials, their clocks
// starting ClockStart ago (each a little apart).
func (s Scenario) NewFleet(creds []Credential, now time.Time, seed uint64) []*Device {
	rng := rand.New(rand.NewPCG(seed, 8))
	starts := make([]time.Time, len(creds))
	for i := range starts {
		starts[i] = now.Add(-s.ClockStart).Add(-time.Duration(rng.IntN(10_000)) * time.Millisecond)
	}
	return s.NewFleetFrom(creds, starts, seed)
}

// NewFleetFrom builds the scenario's devices with their clocks starting at
// starts: a bench that runs one fleet many times keeps each device's clock
// moving forward, as a real device's does.
func (s Scenario) NewFleetFrom(creds []Credential, starts []time.Time, seed uint64) []*Device {
	rng := rand.New(rand.NewPCG(seed, 7))
	devs := make([]*Device, len(creds))
	for i, c := range creds {
		devs[i] = NewDevice(c, starts[i], rng)
		devs[i].backlog = s.Backlog
	}
	return devs
}

// Options turns the scenario into run options.
func (s Scenario) Options(c *Options) {
	c.Scenario = s.Name
	c.Conns, c.Interval, c.Jitter, c.RampUp = s.Conns, s.Interval, s.Jitter, s.RampUp
	c.Duration, c.Count, c.TSStep = s.Duration, s.Count, s.TSStep
}
