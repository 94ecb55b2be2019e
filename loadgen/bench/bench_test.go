package bench

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/loadgen"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// buildBinaries builds nexmdm and loadgen into a temporary folder.
func buildBinaries(t *testing.T) (nexmdm, lg string) {
	t.Helper()
	dir := t.TempDir()
	goBin := os.Getenv("GO")
	if goBin == "" {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	for _, b := range []string{"nexmdm", "loadgen"} {
		cmd := exec.Command(goBin, "build", "-o", filepath.Join(dir, b), "github.com/nexmdm/nexmdm/cmd/"+b)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make builds them, so the build cache serves both
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "build %s: %s", b, out)
	}
	return filepath.Join(dir, "nexmdm"), filepath.Join(dir, "loadgen")
}

// A scaled-down bench runs every scenario against all three targets,
// checks every acknowledged row, hydrates the whole fleet on restart, and
// writes its results. This is `make bench` in miniature; it asserts what
// the bench did, not how fast the machine was.
func TestScaledBenchRunsEveryScenarioAgainstEveryTarget(t *testing.T) {
	db := testenv.Postgres(t)
	rdb := testenv.NewRedis(t)
	nexmdm, lg := buildBinaries(t)
	name := strings.TrimSuffix(rdb.Prefix, ":") + "_bench" // unique to this test
	ctx := context.Background()
	t.Cleanup(func() {
		assert.NoError(t, DropDatabases(context.Background(), db.URL, name))
		assert.NoError(t, FlushRedis(context.Background(), rdb.URL, name))
	})
	work, out := t.TempDir(), t.TempDir()

	res, err := Run(ctx, Config{
		Nexmdm: nexmdm, Loadgen: lg, Postgres: db.URL, Redis: rdb.URL, Name: name,
		WorkDir: work, OutDir: out, Runs: 1, Scale: 0.002, Duration: time.Second,
		Restarts: 1, Soak: 2 * time.Second, Dashboards: 3, Commands: 20, BulkTargets: 20,
	})
	require.NoError(t, err)

	require.Len(t, res.Scenarios, len(DefaultScenarios))
	for _, s := range res.Scenarios {
		for _, target := range targetOrder {
			runs := s.Runs[target]
			require.Len(t, runs, 1, "%s against %s", s.Name, target)
			rep := runs[0].Report
			assert.Positive(t, rep.OK, "%s against %s acknowledged heartbeats", s.Name, target)
			if target != Noop {
				require.NotNil(t, runs[0].Rows, "%s against %s: rows were counted", s.Name, target)
				assert.GreaterOrEqual(t, *runs[0].Rows, rep.Stored, "%s against %s: every acknowledged row is stored", s.Name, target)
				assert.Zero(t, runs[0].Lost)
			}
		}
		assert.Empty(t, s.Runs[NexMDM][0].Report.Failures, "%s: NexMDM refused nothing", s.Name)
		assert.Positive(t, s.VsNoop, s.Name)
		assert.Positive(t, s.VsBaseline, s.Name)
	}
	stress, _ := loadgen.Lookup("stress")
	fleetSize := int(float64(stress.Devices) * 0.002)
	require.NotNil(t, res.Restart)
	assert.Equal(t, []int64{int64(fleetSize)}, res.Restart.Hydrated, "a restart hydrates the whole primed fleet")
	require.NotNil(t, res.Memory)
	assert.EqualValues(t, fleetSize, res.Memory.Devices)
	assert.Positive(t, res.Memory.PerDevice)
	assert.Positive(t, res.EmptyRSS)
	require.NotNil(t, res.Soak)
	assert.NotEmpty(t, res.Soak.Samples)
	assert.Zero(t, res.Soak.Run.Lost)
	assert.NotEmpty(t, res.Checks)
	require.NotNil(t, res.Commands)
	require.Len(t, res.Commands.Runs, 1)
	assert.Equal(t, 20, res.Commands.Runs[0].Sent)
	assert.Equal(t, 20, res.Commands.Runs[0].Completed, "every command came back with its result")
	assert.Positive(t, res.Commands.P99)
	require.NotNil(t, res.Bulk)
	assert.Equal(t, []int{20}, res.Bulk.Queued, "the bulk command reached every target")
	assert.Equal(t, []int64{20}, res.Bulk.Done, "and every target reported it done once online, so it leaves no open command behind")
	require.Len(t, res.Bulk.OnlineSeconds, 1, "the targets' coming online is measured")
	assert.Positive(t, res.Bulk.OnlineSeconds[0])
	assert.Positive(t, res.Bulk.OnlineP99Ms[0])
	require.NotNil(t, res.FanOut)
	require.Len(t, res.FanOut.With, 1)
	require.Len(t, res.FanOut.Without, 1)
	require.Len(t, res.FanOut.Feeds, 1)
	feed := res.FanOut.Feeds[0]
	assert.Positive(t, feed.Summaries, "the counting dashboard got the fleet summary")
	assert.GreaterOrEqual(t, feed.Messages, 2*int64(feed.Clients), "every dashboard read the summary and statuses")
	assert.Positive(t, feed.Statuses, "each run's devices start with new state, so their first heartbeats change their rows")
	assert.Positive(t, feed.WireBytes)
	assert.Zero(t, feed.Dropped)
	assert.Positive(t, res.FanOut.ThroughputRatio)

	day := time.Now().UTC().Format("2006-01-02")
	js, err := os.ReadFile(filepath.Join(out, day+".json"))
	require.NoError(t, err)
	var back Results
	require.NoError(t, json.Unmarshal(js, &back))
	assert.Len(t, back.Scenarios, len(DefaultScenarios))
	md, err := os.ReadFile(filepath.Join(out, day+".md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "## stress-max")
	assert.Contains(t, string(md), "## Targets")
	assert.Contains(t, string(md), "## Live feed fan-out")
	assert.Contains(t, string(md), "its 20 targets came online at once")

	creds, err := loadgen.LoadTokens(filepath.Join(work, "tokens.jsonl"))
	require.NoError(t, err)
	assert.Len(t, creds, fleetSize, "the enrolled fleet is kept for the next bench")
}

// Medians and ratios are taken run by run: each ratio compares two targets
// measured side by side in the same run.
func TestRatiosAreMediansOfPerRunRatios(t *testing.T) {
	run := func(tput, stored, p99 float64) TargetRun {
		return TargetRun{Report: &loadgen.Report{Throughput: tput, StoredRate: stored, Latency: loadgen.Latency{P99: p99}}}
	}
	s := &ScenarioResult{Runs: map[string][]TargetRun{
		Noop:     {run(100, 100, 1), run(50, 50, 1), run(80, 80, 1)},
		Baseline: {run(10, 10, 40), run(2, 2, 40), run(5, 5, 40)},
		NexMDM:   {run(60, 60, 4), run(40, 40, 8), run(40, 40, 5)},
	}}
	s.summarize()
	// per-run NexMDM/no-op: 0.6, 0.8, 0.5 -> 0.6; the ratio of medians would be 40/80
	assert.InDelta(t, 0.6, s.VsNoop, 1e-9)
	// per-run NexMDM/baseline: 6, 20, 8 -> 8
	assert.InDelta(t, 8, s.VsBaseline, 1e-9)
	// per-run baseline p99 / NexMDM p99: 10, 5, 8 -> 8
	assert.InDelta(t, 8, s.P99VsBase, 1e-9)
	assert.InDelta(t, 40, s.Median[NexMDM].Throughput, 1e-9)
	assert.InDelta(t, 5, s.Median[NexMDM].P99, 1e-9)
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
}

// The bulk command goes to devices beside the fleet's own, so a bench of
// the fleet alone enrolls them too; a larger scenario already holds them.
func TestTheBulkCommandsTargetsAreEnrolledBesideTheFleet(t *testing.T) {
	fleet, _ := loadgen.Lookup("fleet")
	stress, _ := loadgen.Lookup("stress")
	cfg := Config{Scale: 1, BulkTargets: 10_000}
	assert.Equal(t, 12_000, enrolledFleet([]loadgen.Scenario{fleet}, cfg))
	assert.Equal(t, 100_000, enrolledFleet([]loadgen.Scenario{fleet, stress}, cfg))
	cfg.BulkTargets = 0
	assert.Equal(t, 2_000, enrolledFleet([]loadgen.Scenario{fleet}, cfg))
}

// The checks carry the targets and fail when they are missed.
func TestChecksFailWhenATargetIsMissed(t *testing.T) {
	r := &Results{Scenarios: []*ScenarioResult{{
		Name: "fleet", Runs: map[string][]TargetRun{NexMDM: {{Report: &loadgen.Report{Latency: loadgen.Latency{P99: 12}}, Rows: new(int64(0))}}},
	}}}
	r.finish()
	require.NotEmpty(t, r.Checks)
	assert.Equal(t, "fleet: p99 of an acknowledged, committed heartbeat", r.Checks[0].What)
	assert.False(t, r.Checks[0].Pass, "12 ms misses 10 ms")
	assert.True(t, r.Checks[1].Pass, "no errors and no lost rows")
	assert.Contains(t, r.Markdown(), "| 12.00 ms | ❌ |")
}

// A soak reports RSS growth only when it ran long enough to mean a trend
// rather than the garbage collector's rhythm.
func TestSoakGrowthIsReportedOnlyForLongSoaks(t *testing.T) {
	soak := func(seconds float64) string {
		r := &Results{Soak: &Soak{
			Run:        TargetRun{Report: &loadgen.Report{Seconds: seconds}},
			Samples:    []Sample{{RSS: 300 << 20}, {RSS: 310 << 20}},
			GrowthMBpm: -253,
		}}
		return r.Markdown()
	}
	assert.Contains(t, soak(20), "too short to judge growth")
	assert.NotContains(t, soak(20), "MiB/min")
	assert.Contains(t, soak(600), "second-half growth -253.00 MiB/min")
}

// RSS comes from /proc and is this process's own, in bytes.
func TestRSSReadsProc(t *testing.T) {
	rss, err := rssOf(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, rss, int64(1<<20))
}

func TestASecondBenchOfTheDayKeepsTheFirstsResults(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	for i, want := range []string{"2026-12-06", "2026-12-06-a", "2026-12-06-b"} {
		r := &Results{Date: strings.Repeat("x", i+1)} // tells the three apart
		require.NoError(t, r.write(dir, day))
		for _, ext := range []string{".md", ".json"} {
			_, err := os.Stat(filepath.Join(dir, want+ext))
			require.NoError(t, err, "bench %d writes %s%s", i+1, want, ext)
		}
	}
	first, err := os.ReadFile(filepath.Join(dir, "2026-12-06.json"))
	require.NoError(t, err)
	var r Results
	require.NoError(t, json.Unmarshal(first, &r))
	assert.Equal(t, "x", r.Date, "the first bench's results are untouched")
}

func TestDashboardsThatCannotConnectFailTheRunAndNameTheirLog(t *testing.T) {
	_, lg := buildBinaries(t)
	logs := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	closeDashboards, err := openDashboards(context.Background(), lg, logs, url, "some-token", 2)
	require.Error(t, err)
	assert.Nil(t, closeDashboards)
	assert.Contains(t, err.Error(), "did not connect")
	assert.Contains(t, err.Error(), filepath.Join(logs, "dashboards.log"))
	logged, readErr := os.ReadFile(filepath.Join(logs, "dashboards.log"))
	require.NoError(t, readErr)
	assert.Contains(t, string(logged), "connect a dashboard", "the process said why")
}

func TestBenchesOfOneDayNeverRunOutOfNamesAndSortInTheOrderTheyRan(t *testing.T) {
	var seq []string
	for s := ""; len(seq) < 30; {
		s = nextSuffix(s)
		seq = append(seq, s)
	}
	assert.Equal(t, []string{"a", "b", "y", "z", "za", "zb", "zd"}, []string{seq[0], seq[1], seq[24], seq[25], seq[26], seq[27], seq[29]})
	assert.Equal(t, "zza", nextSuffix("zz"))
	assert.True(t, slices.IsSorted(seq), "names sort in creation order: %v", seq)

	dir := t.TempDir()
	day := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "2026-12-07.md"), nil, 0o644))
	for _, s := range seq[:26] { // -a to -z, as one busy day left them
		require.NoError(t, os.WriteFile(filepath.Join(dir, "2026-12-07-"+s+".json"), nil, 0o644))
	}
	require.NoError(t, (&Results{}).write(dir, day))
	_, err := os.Stat(filepath.Join(dir, "2026-12-07-za.md"))
	assert.NoError(t, err, "the 28th bench of the day writes -za")
}

func TestStealIsTheHypervisorsShareOfTheCPUTimeBetweenReadings(t *testing.T) {
	before, err := parseCPULine("cpu  1000 0 500 8000 100 0 50 350 0 0")
	require.NoError(t, err)
	after, err := parseCPULine("cpu  1600 0 700 8900 100 0 100 600 0 0")
	require.NoError(t, err)
	assert.Equal(t, cpuTimes{total: 10000, steal: 350}, before)
	assert.InDelta(t, 12.5, stealPercent(before, after), 1e-9, "250 of 2,000 ticks")
	assert.Zero(t, stealPercent(after, after), "no time passed")

	_, err = parseCPULine("cpu0 1 2 3 4 5 6 7 8")
	assert.Error(t, err, "a single CPU's line is not the machine's")
	_, err = parseCPULine("cpu 1 2 3")
	assert.Error(t, err, "too few fields")

	_, ok := readCPUTimes("/proc/stat")
	assert.True(t, ok, "this machine's /proc/stat reads")
}

func TestTheReportShowsStealOnlyWhenSomeWasTaken(t *testing.T) {
	s := &ScenarioResult{Name: "fleet", Runs: map[string][]TargetRun{
		NexMDM: {{StealPct: 4}, {StealPct: 30}}, Noop: {{StealPct: 2}},
	}, Median: map[string]Summary{}}
	var b strings.Builder
	s.markdown(&b)
	assert.Contains(t, b.String(), "median 4 %, at most 30 %")

	s.Runs = map[string][]TargetRun{NexMDM: {{}}}
	b.Reset()
	s.markdown(&b)
	assert.NotContains(t, b.String(), "steal")
}
