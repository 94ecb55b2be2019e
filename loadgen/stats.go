package loadgen

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to 60 s, to 3
// significant digits.
const (
	latLowest  = 1
	latHighest = 60_000_000
	latDigits  = 3
)

// recorder counts one worker's outcomes. Only its worker writes to it; the
// mutex lets progress read it meanwhile.
type recorder struct {
	mu      sync.Mutex
	lat     *hdrhistogram.Histogram // acknowledged heartbeats, whole run
	window  *hdrhistogram.Histogram // acknowledged heartbeats since the last progress line
	counts  map[string]int64        // outcome -> count: "200", "503", "transport", ...
	stored  int64
	deduped int64
	results int64 // delivered commands the devices reported done
}

func newRecorder() *recorder {
	return &recorder{
		lat:    hdrhistogram.New(latLowest, latHighest, latDigits),
		window: hdrhistogram.New(latLowest, latHighest, latDigits),
		counts: map[string]int64{},
	}
}

// ok records an acknowledged heartbeat.
func (r *recorder) ok(lat time.Duration, deduped bool) {
	us := max(latLowest, min(latHighest, lat.Microseconds()))
	r.mu.Lock()
	r.lat.RecordValue(us)
	r.window.RecordValue(us)
	r.counts["200"]++
	if deduped {
		r.deduped++
	} else {
		r.stored++
	}
	r.mu.Unlock()
}

// commandDone records a delivered command whose result the server took.
func (r *recorder) commandDone() {
	r.mu.Lock()
	r.results++
	r.mu.Unlock()
}

// fail records a request that was not acknowledged, by status or "transport".
func (r *recorder) fail(outcome string) {
	r.mu.Lock()
	r.counts[outcome]++
	r.mu.Unlock()
}

// Latency is a distribution summary in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
	}
}

// Report is what one run measured.
type Report struct {
	Scenario   string           `json:"scenario"`
	Target     string           `json:"target"`
	Devices    int              `json:"devices"`
	Conns      int              `json:"conns"`
	TargetRate float64          `json:"target_rate,omitempty"` // heartbeats/s asked for; 0: as fast as possible
	Seconds    float64          `json:"seconds"`
	Sent       int64            `json:"sent"`
	OK         int64            `json:"ok"`
	Stored     int64            `json:"stored"`        // acknowledged and not deduped: new rows
	Deduped    int64            `json:"deduped"`       // acknowledged, bucket already stored
	Commands   int64            `json:"commands_done"` // delivered commands reported done, as an agent would
	Failures   map[string]int64 `json:"failures"`
	Throughput float64          `json:"throughput"`        // acknowledged heartbeats/s
	StoredRate float64          `json:"stored_per_second"` // durable rows/s
	Latency    Latency          `json:"latency"`
}

// merge folds the workers' recorders into a report.
func merge(recs []*recorder, elapsed time.Duration) *Report {
	all := hdrhistogram.New(latLowest, latHighest, latDigits)
	rep := &Report{Failures: map[string]int64{}, Seconds: elapsed.Seconds()}
	for _, r := range recs {
		r.mu.Lock()
		all.Merge(r.lat)
		for k, v := range r.counts {
			rep.Sent += v
			if k == "200" {
				rep.OK += v
			} else {
				rep.Failures[k] += v
			}
		}
		rep.Stored += r.stored
		rep.Deduped += r.deduped
		rep.Commands += r.results
		r.mu.Unlock()
	}
	if s := elapsed.Seconds(); s > 0 {
		rep.Throughput = float64(rep.OK) / s
		rep.StoredRate = float64(rep.Stored) / s
	}
	rep.Latency = summarize(all)
	return rep
}

// windowLine summarizes the workers' windows for a progress line, and resets them.
func windowLine(recs []*recorder, elapsed, window time.Duration) string {
	h := hdrhistogram.New(latLowest, latHighest, latDigits)
	var failed int64
	for _, r := range recs {
		r.mu.Lock()
		h.Merge(r.window)
		r.window.Reset()
		for k, v := range r.counts {
			if k != "200" {
				failed += v
			}
		}
		r.mu.Unlock()
	}
	l := summarize(h)
	return fmt.Sprintf("%5.0fs  %8.0f ok/s  p50 %6.2f ms  p99 %7.2f ms  failures %d",
		elapsed.Seconds(), float64(h.TotalCount())/window.Seconds(), l.P50, l.P99, failed)
}

// Text is the report for people.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s against %s: %d devices over %d connections for %.1fs", r.Scenario, r.Target, r.Devices, r.Conns, r.Seconds)
	if r.TargetRate > 0 {
		fmt.Fprintf(&b, " at a target of %.0f/s", r.TargetRate)
	}
	fmt.Fprintf(&b, "\n  acknowledged %d of %d sent: %.0f/s (%.0f stored rows/s, %d deduped)\n",
		r.OK, r.Sent, r.Throughput, r.StoredRate, r.Deduped)
	if r.Commands > 0 {
		fmt.Fprintf(&b, "  commands delivered in answers and reported done: %d\n", r.Commands)
	}
	fmt.Fprintf(&b, "  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
		r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.Latency.Max)
	if len(r.Failures) == 0 {
		b.WriteString("  failures: none\n")
	} else {
		keys := make([]string, 0, len(r.Failures))
		for k := range r.Failures {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + strconv.FormatInt(r.Failures[k], 10)
		}
		fmt.Fprintf(&b, "  failures: %s\n", strings.Join(parts, ", "))
	}
	return b.String()
}
