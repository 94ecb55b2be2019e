package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
		closeDashboards, err := openDashboards(ctx, b.cfg.Loadgen, b.logDir(), srv.url, token, n)
		if err != nil {
			return nil, err
		}
		return func() error {
			st, err := closeDashboards()
			if err != nil {
				return err
			}
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

// openDashboards runs n dashboards in a loadgen process of their own (`loadgen
// dashboards`) and returns once all are subscribed; closing them returns
// what they received. In the bench's own process their reading, 275 MB of
// frames in a 10-second run, shared its Go runtime with the simulated
// fleet and slowed its sending: the ratio measured the loadgen as well as
// the server. As a process they still share the machine's two cores.
func openDashboards(ctx context.Context, loadgenBin, logDir, url, token string, n int) (closeDashboards func() (loadgen.DashboardStats, error), err error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(logDir, "dashboards.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (func() (loadgen.DashboardStats, error), error) {
		logf.Close()
		return nil, fmt.Errorf("start the dashboards: %w", err)
	}
	cmd := exec.CommandContext(ctx, loadgenBin, "dashboards", "--url", url, "--count", strconv.Itoa(n))
	cmd.Env = append(os.Environ(), "LOADGEN_ACCESS_TOKEN="+token)
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fail(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	return waitDashboards(cmd, stdin, bufio.NewReader(stdout), logf)
}

// waitDashboards waits for a started `loadgen dashboards` to say it is
// ready and returns what ends it.
func waitDashboards(cmd *exec.Cmd, stdin io.Closer, stdout *bufio.Reader, logf *os.File) (func() (loadgen.DashboardStats, error), error) {
	end := func() error {
		stdin.Close()
		err := cmd.Wait()
		logf.Close()
		if err != nil {
			return fmt.Errorf("loadgen dashboards: %w (see %s)", err, logf.Name())
		}
		return nil
	}
	if line, err := stdout.ReadString('\n'); line != "ready\n" {
		return nil, errors.Join(fmt.Errorf("the dashboards did not connect (see %s): %q %v", logf.Name(), line, err), end())
	}
	return func() (loadgen.DashboardStats, error) {
		stdin.Close()
		var st loadgen.DashboardStats
		decodeErr := json.NewDecoder(stdout).Decode(&st) // before Wait, which closes the pipe
		if err := end(); err != nil {
			return st, err
		}
		return st, decodeErr
	}, nil
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
