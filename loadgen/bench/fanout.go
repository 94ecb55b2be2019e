package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nexmdm/nexmdm/loadgen"
)

// FanOut is the stress scenario against NexMDM with and without dashboards
// reading the live feed, alternating run by run, so that what the feed
// costs ingest is a ratio measured side by side.
type FanOut struct {
	Dashboards int `json:"dashboards"`
	Paired
	Feeds           []loadgen.DashboardStats `json:"feeds"` // what the dashboards received, per run with them
	ThroughputRatio float64                  `json:"with_to_without_throughput"`
	P99Ratio        float64                  `json:"with_to_without_p99"`
}

const (
	fanOutRun         = 10 * time.Second
	dashboardUser     = "bench-dashboard"
	dashboardPassword = "bench-dashboard-password"
)

// fanOut runs sc against NexMDM Runs times without dashboards and Runs
// times with b.cfg.Dashboards of them, each run at most fanOutRun long: a
// ratio of runs side by side needs no longer ones, and the bench must fit
// in 15 minutes.
func (b *bench) fanOut(ctx context.Context, sc loadgen.Scenario) error {
	sc.Duration = min(sc.Duration, fanOutRun)
	n := b.cfg.Dashboards
	b.phase("fan-out: %s against NexMDM, alone and with %d dashboards on /admin/ws", sc.Name, n)
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
			b.logf("dashboards: %d messages, %.1f MB on the wire, %d dropped by the server; each got %d device statuses, %.1f MB inflated",
				st.Messages, float64(st.WireBytes)/1e6, st.Dropped, st.Statuses, float64(st.Bytes)/1e6)
			fo.Feeds = append(fo.Feeds, st)
			return nil
		}, nil
	}
	var err error
	if fo.Paired, err = b.runPaired(ctx, sc, fmt.Sprintf("with %d dashboards", n), 100, dashboards); err != nil {
		return err
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
	f.ThroughputRatio = f.ratio(storedRate)
	f.P99Ratio = f.ratio(p99)
}
