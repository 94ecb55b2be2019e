package bench

import (
	"context"

	"github.com/nexmdm/nexmdm/loadgen"
)

// Paired is a scenario run against NexMDM alone and with something
// attached, alternating run by run, so that what the attachment costs is a
// ratio measured side by side.
type Paired struct {
	Without []TargetRun `json:"without"`
	With    []TargetRun `json:"with"`
}

// runPaired runs sc Runs times alone and Runs times with attach, in
// alternating order; label names the attachment in the progress lines.
// Every run draws its devices' state (battery, agent version…) from its
// own seed, so each run's first heartbeats change every device's row, as
// a fleet coming back online at once does: the live feed's heaviest case,
// the same in every run. (With a seed per pair, only a pair's first run
// did, so one with-run in three carried nearly all the feed.)
func (b *bench) runPaired(ctx context.Context, sc loadgen.Scenario, label string, seed uint64, attach attachment) (Paired, error) {
	var p Paired
	for r := range b.cfg.Runs {
		for i := range 2 {
			with := (i+r)%2 == 1
			var a attachment
			what := "alone"
			if with {
				a, what = attach, label
			}
			b.logf("-- %s run %d/%d, NexMDM %s", sc.Name, r+1, b.cfg.Runs, what)
			run, err := b.runOnce(ctx, sc, NexMDM, seed+uint64(2*r+i), a)
			if err != nil {
				return p, err
			}
			b.logf("%s", run.Report.Text())
			if with {
				p.With = append(p.With, run)
			} else {
				p.Without = append(p.Without, run)
			}
		}
	}
	return p, nil
}

// ratio is the median over run pairs of a figure with over without.
func (p *Paired) ratio(get func(TargetRun) float64) float64 {
	var vals []float64
	for i := range min(len(p.With), len(p.Without)) {
		if d := get(p.Without[i]); d > 0 {
			vals = append(vals, get(p.With[i])/d)
		}
	}
	return median(vals)
}

func storedRate(r TargetRun) float64 { return r.Report.StoredRate }
func p99(r TargetRun) float64        { return r.Report.Latency.P99 }
