package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/nexmdm/nexmdm/loadgen"
)

// FanOut is the stress scenario against NexMDM with and without dashboards
// reading the live feed, alternating run by run, so that what the feed
// costs ingest is a ratio measured side by side.
type FanOut struct {
	Dashboards      int                      `json:"dashboards"`
	Without         []TargetRun              `json:"without"`
	With            []TargetRun              `json:"with"`
	Feeds           []loadgen.DashboardStats `json:"feeds"` // what the dashboards received, per run with them
	ThroughputRatio float64                  `json:"with_to_without_throughput"`
	P99Ratio        float64                  `json:"with_to_without_p99"`
}

const (
	dashboardUser     = "bench-dashboard"
	dashboardPassword = "bench-dashboard-password"
)

// fanOut runs sc against NexMDM Runs times without dashboards and Runs
// times with b.cfg.Dashboards of them.
func (b *bench) fanOut(ctx context.Context, sc loadgen.Scenario) error {
	n := b.cfg.Dashboards
	b.logf("\n== fan-out: %s against NexMDM, alone and with %d dashboards on /admin/ws", sc.Name, n)
	if err := b.addDashboardUser(ctx); err != nil {
		return fmt.Errorf("dashboard user: %w", err)
	}
	fo := &FanOut{Dashboards: n}
	dashboards := func(ctx context.Context, srv *server) (func() error, error) {
		token, err := loadgen.Login(ctx, srv.url, dashboardUser, dashboardPassword)
		if err != nil {
			return nil, err
		}
		d, err := loadgen.OpenDashboards(ctx, srv.url, token, n)
		if err != nil {
			return nil, err
		}
		return func() error {
			st := d.Close()
			b.logf("dashboards: %d messages, %d device statuses, %.1f MB, %d dropped by the server",
				st.Messages, st.Statuses, float64(st.Bytes)/1e6, st.Dropped)
			fo.Feeds = append(fo.Feeds, st)
			return nil
		}, nil
	}
	for r := range b.cfg.Runs {
		for i := range 2 {
			with := (i+r)%2 == 1
			var attach attachment
			label := "alone"
			if with {
				attach, label = dashboards, fmt.Sprintf("with %d dashboards", n)
			}
			b.logf("-- fan-out run %d/%d, NexMDM %s", r+1, b.cfg.Runs, label)
			run, err := b.runOnce(ctx, sc, NexMDM, uint64(100+r), attach)
			if err != nil {
				return err
			}
			b.logf("%s", run.Report.Text())
			if with {
				fo.With = append(fo.With, run)
			} else {
				fo.Without = append(fo.Without, run)
			}
		}
	}
	b.res.FanOut = fo
	return nil
}

// addDashboardUser (re)creates the viewer the dashboards log in as, through
// the CLI an operator would use.
func (b *bench) addDashboardUser(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, b.dbs.nexmdm)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `DELETE FROM users WHERE username = $1`, dashboardUser)
	conn.Close(ctx)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, b.cfg.Nexmdm, "user", "add", "--username", dashboardUser, "--role", "viewer", "--password-stdin")
	cmd.Env = append(cmd.Environ(), "DATABASE_URL="+b.dbs.nexmdm, "NEXMDM_BCRYPT_COST=4")
	cmd.Stdin = strings.NewReader(dashboardPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nexmdm user add: %w: %s", err, out)
	}
	return nil
}

func (f *FanOut) summarize() {
	ratio := func(get func(TargetRun) float64) float64 {
		var vals []float64
		for i := range min(len(f.With), len(f.Without)) {
			if d := get(f.Without[i]); d > 0 {
				vals = append(vals, get(f.With[i])/d)
			}
		}
		return median(vals)
	}
	f.ThroughputRatio = ratio(func(r TargetRun) float64 { return r.Report.StoredRate })
	f.P99Ratio = ratio(func(r TargetRun) float64 { return r.Report.Latency.P99 })
}
