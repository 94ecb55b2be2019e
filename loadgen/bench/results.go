package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nexmdm/nexmdm/loadgen"
)

// Results is everything one bench measured.
type Results struct {
	Date      string            `json:"date"`
	Machine   Machine           `json:"machine"`
	Runs      int               `json:"runs_per_target"`
	Scale     float64           `json:"scale"`
	EmptyRSS  int64             `json:"empty_rss_bytes"` // NexMDM with no devices at all
	Scenarios []*ScenarioResult `json:"scenarios"`
	Memory    *Memory           `json:"memory,omitempty"`
	Restart   *Restart          `json:"restart,omitempty"`
	Soak      *Soak             `json:"soak,omitempty"`
	FanOut    *FanOut           `json:"fan_out,omitempty"`
	Commands  *CommandRoundTrip `json:"command_round_trip,omitempty"`
	Bulk      *BulkCommand      `json:"bulk_command,omitempty"`
	Checks    []Check           `json:"checks"`
}

// Machine describes where the bench ran.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryGiB int    `json:"memory_gib"`
	Go        string `json:"go"`
	OS        string `json:"os"`
}

// ScenarioResult is every run of one scenario, and their medians.
type ScenarioResult struct {
	Name       string                 `json:"name"`
	About      string                 `json:"about"`
	Devices    int                    `json:"devices"`
	Conns      int                    `json:"conns"`
	Runs       map[string][]TargetRun `json:"runs"`
	Median     map[string]Summary     `json:"median"`
	VsNoop     float64                `json:"nexmdm_to_noop_throughput"`         // median of per-run ratios
	VsBaseline float64                `json:"nexmdm_to_baseline_stored_per_sec"` // median of per-run ratios
	P99VsBase  float64                `json:"baseline_to_nexmdm_p99"`            // how many times lower NexMDM's p99 is
}

// TargetRun is one run against one target.
type TargetRun struct {
	Report     *loadgen.Report `json:"report"`
	Rows       *int64          `json:"rows,omitempty"` // heartbeat rows in PostgreSQL after the run
	Lost       int64           `json:"lost"`           // acknowledged as stored but not a row
	RSSBefore  int64           `json:"rss_before_bytes"`
	RSSAfter   int64           `json:"rss_after_bytes"`
	LiveActors int64           `json:"live_actors,omitempty"`
	StealPct   float64         `json:"steal_pct"` // of the machine's CPU time, taken by the hypervisor during the run
}

// Summary is the median over a target's runs of each figure.
type Summary struct {
	Throughput float64 `json:"throughput"`
	StoredRate float64 `json:"stored_per_second"`
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	P999       float64 `json:"p999_ms"`
	Max        float64 `json:"max_ms"`
	Errors     int64   `json:"errors"` // over all runs
	Lost       int64   `json:"lost"`   // over all runs
	RowsCheck  bool    `json:"rows_checked"`
}

// Memory is NexMDM's resident memory per live device actor.
type Memory struct {
	Devices        int64   `json:"devices"`
	EmptyRSS       int64   `json:"empty_rss_bytes"`       // just started, no devices live
	LoadedRSS      int64   `json:"loaded_rss_bytes"`      // at the end of a stress run
	PerDevice      float64 `json:"per_device_bytes"`      // (loaded - empty) / live, median of runs
	IdlePerDevice  float64 `json:"idle_per_device_bytes"` // after a restart that hydrated them, no load
	IdleHydratedAt int64   `json:"idle_hydrated_devices"` // devices hydrated in that measurement
}

// Restart is NexMDM's time from exec to /readyz with a fleet to hydrate.
type Restart struct {
	Devices  int       `json:"devices"`
	Seconds  []float64 `json:"seconds"`
	Hydrated []int64   `json:"hydrated"`
	RSS      []int64   `json:"rss_bytes"`
}

// Soak is a long run's memory over time.
type Soak struct {
	Run        TargetRun `json:"run"`
	Samples    []Sample  `json:"samples"`
	RSSMax     int64     `json:"rss_max_bytes"`
	GrowthMBpm float64   `json:"second_half_growth_mb_per_min"` // least-squares slope
}

// Sample is the server's RSS at a moment of the soak.
type Sample struct {
	Seconds float64 `json:"s"`
	RSS     int64   `json:"rss"`
}

// Check is one of the targets and whether this bench met it.
type Check struct {
	What     string `json:"what"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Pass     bool   `json:"pass"`
}

func newResults(cfg Config) *Results {
	return &Results{
		Date: cfg.Now().UTC().Format(time.RFC3339), Machine: thisMachine(),
		Runs: cfg.Runs, Scale: cfg.Scale,
	}
}

func thisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = int((kb + 512<<10) >> 20)
		}
	}
	return m
}

func (r *Results) addScenario(sc loadgen.Scenario) *ScenarioResult {
	sr := &ScenarioResult{Name: sc.Name, About: sc.About, Devices: sc.Devices, Conns: sc.Conns, Runs: map[string][]TargetRun{}}
	r.Scenarios = append(r.Scenarios, sr)
	return sr
}

// scenario finds a scenario's results by name.
func (r *Results) scenario(name string) *ScenarioResult {
	for _, s := range r.Scenarios {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// finish computes medians, ratios, memory and checks.
func (r *Results) finish() {
	for _, s := range r.Scenarios {
		s.summarize()
	}
	r.Memory = r.memory()
	if r.FanOut != nil {
		r.FanOut.summarize()
	}
	if r.Bulk != nil {
		r.Bulk.summarize()
	}
	r.Checks = r.checks()
}

func (s *ScenarioResult) summarize() {
	s.Median = map[string]Summary{}
	for target, runs := range s.Runs {
		pick := func(f func(*loadgen.Report) float64) float64 {
			vals := make([]float64, len(runs))
			for i, run := range runs {
				vals[i] = f(run.Report)
			}
			return median(vals)
		}
		sum := Summary{
			Throughput: pick(func(r *loadgen.Report) float64 { return r.Throughput }),
			StoredRate: pick(func(r *loadgen.Report) float64 { return r.StoredRate }),
			P50:        pick(func(r *loadgen.Report) float64 { return r.Latency.P50 }),
			P90:        pick(func(r *loadgen.Report) float64 { return r.Latency.P90 }),
			P99:        pick(func(r *loadgen.Report) float64 { return r.Latency.P99 }),
			P999:       pick(func(r *loadgen.Report) float64 { return r.Latency.P999 }),
			Max:        pick(func(r *loadgen.Report) float64 { return r.Latency.Max }),
		}
		for _, run := range runs {
			for _, n := range run.Report.Failures {
				sum.Errors += n
			}
			sum.Lost += run.Lost
			sum.RowsCheck = run.Rows != nil
		}
		s.Median[target] = sum
	}
	s.VsNoop = s.ratio(NexMDM, Noop, func(r *loadgen.Report) float64 { return r.Throughput })
	s.VsBaseline = s.ratio(NexMDM, Baseline, func(r *loadgen.Report) float64 { return r.StoredRate })
	s.P99VsBase = s.ratio(Baseline, NexMDM, func(r *loadgen.Report) float64 { return r.Latency.P99 })
}

// ratio is the median over runs of a's figure over b's in the same run.
func (s *ScenarioResult) ratio(a, b string, f func(*loadgen.Report) float64) float64 {
	ra, rb := s.Runs[a], s.Runs[b]
	var vals []float64
	for i := range min(len(ra), len(rb)) {
		if d := f(rb[i].Report); d > 0 {
			vals = append(vals, f(ra[i].Report)/d)
		}
	}
	return median(vals)
}

func median(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	v := slices.Clone(vals)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func medianInt(vals []int64) int64 {
	f := make([]float64, len(vals))
	for i, v := range vals {
		f[i] = float64(v)
	}
	return int64(median(f))
}

// memory derives NexMDM's memory per device from the stress runs (under
// load) and from the restarts (hydrated, idle).
func (r *Results) memory() *Memory {
	s := r.scenario("stress")
	if s == nil || len(s.Runs[NexMDM]) == 0 {
		return nil
	}
	m := &Memory{}
	var per []float64
	var loaded, live []int64
	for _, run := range s.Runs[NexMDM] {
		if run.LiveActors > 0 {
			per = append(per, float64(run.RSSAfter-r.EmptyRSS)/float64(run.LiveActors))
		}
		loaded, live = append(loaded, run.RSSAfter), append(live, run.LiveActors)
	}
	m.PerDevice, m.EmptyRSS, m.LoadedRSS, m.Devices = median(per), r.EmptyRSS, medianInt(loaded), medianInt(live)
	if rs := r.Restart; rs != nil && len(rs.RSS) > 0 {
		m.IdleHydratedAt = medianInt(rs.Hydrated)
		if m.IdleHydratedAt > 0 {
			m.IdlePerDevice = float64(medianInt(rs.RSS)-m.EmptyRSS) / float64(m.IdleHydratedAt)
		}
	}
	return m
}

func newSoak(run TargetRun, samples []Sample) *Soak {
	s := &Soak{Run: run, Samples: samples}
	var half []Sample
	for _, x := range samples {
		s.RSSMax = max(s.RSSMax, x.RSS)
		if len(samples) > 0 && x.Seconds >= samples[len(samples)-1].Seconds/2 {
			half = append(half, x)
		}
	}
	s.GrowthMBpm = slope(half) * 60 / (1 << 20)
	return s
}

// slope is the least-squares slope of RSS over time, in bytes per second.
func slope(xs []Sample) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for _, x := range xs {
		sx, sy, sxx, sxy = sx+x.Seconds, sy+float64(x.RSS), sxx+x.Seconds*x.Seconds, sxy+x.Seconds*float64(x.RSS)
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// write saves the results as <dir>/<date>.json and <dir>/<date>.md.
func (r *Results) write(dir string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := freeBase(dir, now.UTC().Format("2006-01-02"))
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".md", []byte(r.Markdown()), 0o644)
}

// freeBase is dir/day, or the first free of dir/day-a to -z, then -za to
// -zz, -zza and so on when benches of that day already wrote their results:
// a later bench never overwrites an earlier one, never runs out of names,
// and the names sort in the order the benches ran.
func freeBase(dir, day string) string {
	taken := func(base string) bool {
		for _, ext := range []string{".md", ".json"} {
			if _, err := os.Stat(base + ext); err == nil {
				return true
			}
		}
		return false
	}
	base := filepath.Join(dir, day)
	for suffix := "a"; taken(base); suffix = nextSuffix(suffix) {
		base = filepath.Join(dir, day+"-"+suffix)
	}
	return base
}

// nextSuffix follows s in a, b, … z, za, … zz, zza, …
func nextSuffix(s string) string {
	if s == "" || s[len(s)-1] == 'z' {
		return s + "a"
	}
	return s[:len(s)-1] + string(s[len(s)-1]+1)
}
