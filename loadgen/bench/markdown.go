package bench

import (
	"fmt"
	"strings"
	"time"
)

// checks compares the results with the targets the benchmark issue set. A
// scaled-down bench reports them but they only mean something at scale 1.
func (r *Results) checks() []Check {
	var out []Check
	add := func(what, target, measured string, pass bool) {
		out = append(out, Check{What: what, Target: target, Measured: measured, Pass: pass})
	}
	if s := r.scenario("fleet"); s != nil {
		m := s.Median[NexMDM]
		add("fleet: p99 of an acknowledged, committed heartbeat", "≤ 10 ms", fmt.Sprintf("%.2f ms", m.P99), m.P99 <= 10)
		add("fleet: errors and lost rows", "none", fmt.Sprintf("%d errors, %d lost", m.Errors, m.Lost), m.Errors == 0 && m.Lost == 0 && m.RowsCheck)
	}
	if s := r.scenario("stress"); s != nil {
		m := s.Median[NexMDM]
		add("stress: durable heartbeats/s sustained", "≥ 25,000/s", fmt.Sprintf("%.0f/s", m.StoredRate), m.StoredRate >= 25_000)
		add("stress: p99", "≤ 50 ms", fmt.Sprintf("%.2f ms", m.P99), m.P99 <= 50)
		add("stress: errors and lost rows", "none", fmt.Sprintf("%d errors, %d lost", m.Errors, m.Lost), m.Errors == 0 && m.Lost == 0 && m.RowsCheck)
	}
	if s := r.scenario("stress-max"); s != nil {
		add("stress-max: throughput / no-op ceiling", "≥ 0.5×", fmt.Sprintf("%.2f×", s.VsNoop), s.VsNoop >= 0.5)
		add("stress-max: durable rows/s / per-request baseline", "≥ 10×", fmt.Sprintf("%.1f×", s.VsBaseline), s.VsBaseline >= 10)
		m := s.Median[NexMDM]
		add("stress-max: lost rows", "none", fmt.Sprintf("%d lost", m.Lost), m.Lost == 0 && m.RowsCheck)
	}
	if s := r.scenario("burst"); s != nil {
		m := s.Median[NexMDM]
		add("burst: lost rows", "none", fmt.Sprintf("%d lost", m.Lost), m.Lost == 0 && m.RowsCheck)
	}
	if k := r.Bulk; k != nil {
		add(fmt.Sprintf("bulk command to %d devices during fleet load: fleet p99 with / without", k.Targets), "≤ 1.5×",
			fmt.Sprintf("%.2f× (request answered in %.0f ms)", k.P99Ratio, k.MedianReqs), k.P99Ratio <= 1.5 && k.P99Ratio > 0)
	}
	if c := r.Commands; c != nil {
		add(fmt.Sprintf("commands: round trip at %d devices, admin POST to device result (p50 / p99)", c.Devices), "reported, none lost",
			fmt.Sprintf("%.1f / %.1f ms, %d lost", c.P50, c.P99, c.Lost), c.Lost == 0 && len(c.Runs) > 0)
	}
	if f := r.FanOut; f != nil {
		var dropped int64
		for _, st := range f.Feeds {
			dropped += st.Dropped
		}
		add(fmt.Sprintf("fan-out: stress stored rows/s with %d dashboards / without", f.Dashboards), "≥ 0.95×",
			fmt.Sprintf("%.2f×", f.ThroughputRatio), f.ThroughputRatio >= 0.95)
		add("fan-out: dashboards dropped for reading too slowly", "none", fmt.Sprint(dropped), dropped == 0)
	}
	if m := r.Memory; m != nil {
		add(fmt.Sprintf("memory per live device at %d devices, under load", m.Devices), "≤ 4 KiB", fmt.Sprintf("%.0f B", m.PerDevice), m.PerDevice <= 4096)
	}
	if rs := r.Restart; rs != nil && len(rs.Seconds) > 0 {
		hydrated := medianInt(rs.Hydrated)
		add(fmt.Sprintf("restart to ready, %d devices to hydrate", rs.Devices), "≤ 3 s, all hydrated",
			fmt.Sprintf("%.2f s, %d hydrated", median(rs.Seconds), hydrated), median(rs.Seconds) <= 3 && hydrated >= int64(rs.Devices))
	}
	return out
}

var targetLabel = map[string]string{Noop: "no-op fasthttp", Baseline: "per-request baseline", NexMDM: "NexMDM"}

// Markdown renders the results for people: one table per scenario, then
// memory, restart, soak and the checks.
func (r *Results) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# NexMDM bench, %s\n\n", r.Date)
	fmt.Fprintf(&b, "%d CPUs (%s), %d GiB, %s %s. Every target on this machine with the loadgen; %d runs per scenario and target, interleaved; figures are medians",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryGiB, r.Machine.Go, r.Machine.OS, r.Runs)
	if r.Scale != 1 {
		fmt.Fprintf(&b, "; **scaled to %.3g of the real fleet sizes**", r.Scale)
	}
	b.WriteString(". Ratios are medians of the per-run ratios.\n")
	for _, s := range r.Scenarios {
		s.markdown(&b)
	}
	r.markdownMemory(&b)
	r.markdownFanOut(&b)
	if k := r.Bulk; k != nil && len(k.With) > 0 {
		fmt.Fprintf(&b, "\n## Bulk command during load\n\nThe fleet scenario against NexMDM alone and with one `check_update` to %d other devices sent 3 s in, alternating. The bulk request was answered in **%.0f ms** (median); with it, the fleet's p99 was **%.2f×** and its stored rows/s **%.2f×** those of the runs without.\n",
			k.Targets, k.MedianReqs, k.P99Ratio, k.RateRatio)
		if len(k.OnlineSeconds) > 0 {
			fmt.Fprintf(&b, "\nAfter each run with it, its %d targets came online at once on 64 connections, each posting its result as soon as its heartbeat's answer carried the command: in **%.1f s** (median), their heartbeats' p99 **%.1f ms**.\n",
				k.Targets, median(k.OnlineSeconds), median(k.OnlineP99Ms))
		}
	}
	if c := r.Commands; c != nil {
		fmt.Fprintf(&b, "\n## Commands\n\n%d `ping` commands per run to %d devices at %.0f/s, pushed through the firebase client to a local FCM fake; each device posts its result at once. Round trip from the admin's POST to the accepted result: **p50 %.1f ms, p99 %.1f ms** (medians of %d runs), %d lost.\n",
			c.Commands, c.Devices, c.Rate, c.P50, c.P99, len(c.Runs), c.Lost)
	}
	if len(r.Checks) > 0 {
		b.WriteString("\n## Targets\n\n| target | goal | measured | |\n|---|---|---|---|\n")
		for _, c := range r.Checks {
			mark := "✅"
			if !c.Pass {
				mark = "❌"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.What, c.Target, c.Measured, mark)
		}
	}
	return b.String()
}

func (s *ScenarioResult) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "\n## %s: %s\n\n%d devices over %d connections.\n\n", s.Name, s.About, s.Devices, s.Conns)
	b.WriteString("| target | acked/s | stored rows/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | lost rows |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range targetOrder {
		m, ok := s.Median[t]
		if !ok {
			continue
		}
		lost := "n/a"
		if m.RowsCheck {
			lost = fmt.Sprint(m.Lost)
		}
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %s |\n",
			targetLabel[t], m.Throughput, m.StoredRate, m.P50, m.P90, m.P99, m.P999, m.Max, m.Errors, lost)
	}
	fmt.Fprintf(b, "\nNexMDM / no-op throughput **%.2f×**; NexMDM / baseline stored rows/s **%.1f×**; baseline p99 / NexMDM p99 **%.1f×**.\n",
		s.VsNoop, s.VsBaseline, s.P99VsBase)
	if med, most := s.stealRange(); most > 0 {
		fmt.Fprintf(b, "\nCPU time taken by the hypervisor (steal) during these runs: median %.0f %%, at most %.0f %%.\n", med, most)
	}
}

func (r *Results) markdownMemory(b *strings.Builder) {
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	if m := r.Memory; m != nil {
		fmt.Fprintf(b, "\n## Memory\n\nNexMDM RSS: %.0f MiB with no devices at all, %.0f MiB at the end of a stress run with %d device actors live: **%.0f B per live device** under load",
			mib(m.EmptyRSS), mib(m.LoadedRSS), m.Devices, m.PerDevice)
		if m.IdleHydratedAt > 0 {
			fmt.Fprintf(b, ", %.0f B per device idle after a restart hydrated %d", m.IdlePerDevice, m.IdleHydratedAt)
		}
		b.WriteString(".\n")
	}
	if rs := r.Restart; rs != nil && len(rs.Seconds) > 0 {
		parts := make([]string, len(rs.Seconds))
		for i, s := range rs.Seconds {
			parts[i] = fmt.Sprintf("%.2f s (%d hydrated)", s, rs.Hydrated[i])
		}
		fmt.Fprintf(b, "\n## Restart\n\nFrom exec to `/readyz` with %d devices in Redis and PostgreSQL: **%.2f s** median (%s).\n",
			rs.Devices, median(rs.Seconds), strings.Join(parts, ", "))
	}
	if s := r.Soak; s != nil && s.Run.Report != nil && len(s.Samples) > 0 {
		rep := s.Run.Report
		// Over a few minutes the slope is the garbage collector's rhythm,
		// not a leak: it printed -253 MiB/min for a 20 s soak.
		growth := "too short to judge growth (`--soak 10m` is the real soak)"
		if rep.Seconds >= minSoakForGrowth.Seconds() {
			growth = fmt.Sprintf("second-half growth %.2f MiB/min", s.GrowthMBpm)
		}
		fmt.Fprintf(b, "\n## Soak\n\n%d devices for %.0f s: %.0f acked/s, p99 %.2f ms, %d errors, %d lost rows. RSS from %.0f MiB to %.0f MiB (max %.0f MiB); %s.\n",
			rep.Devices, rep.Seconds, rep.Throughput, rep.Latency.P99, rep.Sent-rep.OK, s.Run.Lost,
			mib(s.Samples[0].RSS), mib(s.Samples[len(s.Samples)-1].RSS), mib(s.RSSMax), growth)
	}
}

// minSoakForGrowth is the shortest soak whose RSS slope the table reports.
const minSoakForGrowth = 5 * time.Minute

func (r *Results) markdownFanOut(b *strings.Builder) {
	f := r.FanOut
	if f == nil || len(f.With) == 0 || len(f.Without) == 0 {
		return
	}
	pick := func(runs []TargetRun, get func(TargetRun) float64) float64 {
		vals := make([]float64, len(runs))
		for i, run := range runs {
			vals[i] = get(run)
		}
		return median(vals)
	}
	stored := func(r TargetRun) float64 { return r.Report.StoredRate }
	p99 := func(r TargetRun) float64 { return r.Report.Latency.P99 }
	var statuses, msgs, bytes, wire int64
	for _, st := range f.Feeds {
		statuses, msgs, bytes, wire = statuses+st.Statuses, msgs+st.Messages, bytes+st.Bytes, wire+st.WireBytes
	}
	runs := max(int64(len(f.Feeds)), 1)
	fmt.Fprintf(b, "\n## Live feed fan-out\n\nThe stress scenario against NexMDM alone and with %d dashboards subscribed to everything on `/admin/ws`, alternating run by run. "+
		"Every run starts its devices with new battery levels and agent versions, so each device's first heartbeat changes its row: the feed's heaviest case. "+
		"The dashboards read every frame; one inflates and counts every message, the others drain them compressed, as sent (a browser inflates on its own machine). They run in a process of their own, beside the loadgen's.\n\n", f.Dashboards)
	b.WriteString("| NexMDM | stored rows/s | p99 ms |\n|---|---:|---:|\n")
	fmt.Fprintf(b, "| alone | %.0f | %.2f |\n| with %d dashboards | %.0f | %.2f |\n",
		pick(f.Without, stored), pick(f.Without, p99), f.Dashboards, pick(f.With, stored), pick(f.With, p99))
	fmt.Fprintf(b, "\nWith / without: stored rows/s **%.2f×**, p99 **%.2f×**. Per run the dashboards together read %d messages, %.1f MB on the wire; each received %d device statuses, %.1f MB inflated.\n",
		f.ThroughputRatio, f.P99Ratio, msgs/runs, float64(wire/runs)/1e6, statuses/runs, float64(bytes/runs)/1e6)
}
