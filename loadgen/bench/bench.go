// Package bench runs the loadgen's scenarios side by side against three
// servers on this machine: a no-op fasthttp server (the HTTP ceiling), the
// seed-style per-request baseline, and NexMDM. It interleaves the targets
// run by run, so machine noise falls on all three alike; checks that every
// acknowledged heartbeat is a row in PostgreSQL; measures NexMDM's memory
// per live device and its restart-to-ready time; and writes the results as
// JSON and as a markdown table of medians and ratios.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/loadgen"
)

// Config says what to run and where.
type Config struct {
	Nexmdm      string // the nexmdm binary
	Loadgen     string // the loadgen binary: it serves the no-op and baseline targets
	Postgres    string // a database URL; the bench creates its own databases beside it
	Redis       string
	Name        string // names the bench's databases and Redis keys; default "nexmdm_bench"
	WorkDir     string // tokens and server logs, kept between runs
	OutDir      string // where results go; "" writes no files
	Runs        int    // runs per scenario and target; medians are reported
	Scenarios   []string
	Scale       float64       // devices × this; 1 is the real bench
	Duration    time.Duration // overrides every scenario's duration when > 0
	Restarts    int           // restart-to-ready measurements after stress
	Soak        time.Duration // 0: no soak
	Dashboards  int           // live-feed clients in the fan-out runs after stress; 0: none
	Commands    int           // commands per round-trip run after fleet; 0: none
	BulkTargets int           // devices of the bulk command sent during fleet runs; 0: none
	Progress    io.Writer     // nil: quiet
	Now         func() time.Time
}

// Target names, in the order of the report.
const (
	Noop     = "noop"
	Baseline = "baseline"
	NexMDM   = "nexmdm"
)

var targetOrder = []string{Noop, Baseline, NexMDM}

// DefaultScenarios are what `make bench` runs.
var DefaultScenarios = []string{"fleet", "stress", "stress-max", "burst"}

const (
	benchPrefix  = "bench" // serials of the bench fleet
	benchKey     = "bench-admin-key-0123456789abcdef"
	enrollConns  = 64
	clientBudget = 30 * time.Second
)

// bench is one bench run in progress.
type bench struct {
	cfg    Config
	dbs    databases
	creds  []loadgen.Credential
	clocks []time.Time // each device's clock after its last run: clocks only move forward
	res    *Results
	start  time.Time
}

// Run runs the bench and returns its results; they are also written to
// OutDir when it is set. When that write fails it returns the results too,
// with the error, so that ten minutes of measurement are not lost.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if cfg.Runs <= 0 {
		cfg.Runs = 3
	}
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if len(cfg.Scenarios) == 0 {
		cfg.Scenarios = DefaultScenarios
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Name == "" {
		cfg.Name = "nexmdm_bench"
	}
	b := &bench{cfg: cfg, res: newResults(cfg), start: cfg.Now()}
	var err error
	if b.dbs, err = prepareDatabases(ctx, cfg.Postgres, cfg.Name, cfg.Nexmdm); err != nil {
		return nil, err
	}
	plan, err := b.plan()
	if err != nil {
		return nil, err
	}
	if err := b.enroll(ctx, plan); err != nil {
		return nil, err
	}
	if err := b.prime(ctx); err != nil {
		return nil, fmt.Errorf("prime: %w", err)
	}
	if err := b.measureEmpty(ctx); err != nil {
		return nil, fmt.Errorf("empty server: %w", err)
	}
	for _, sc := range plan {
		if err := b.scenario(ctx, sc); err != nil {
			return nil, fmt.Errorf("%s: %w", sc.Name, err)
		}
		if sc.Name == "stress" && cfg.Restarts > 0 {
			if err := b.restarts(ctx); err != nil {
				return nil, fmt.Errorf("restart: %w", err)
			}
		}
		if sc.Name == "fleet" && cfg.BulkTargets > 0 {
			if err := b.bulkCommand(ctx, sc); err != nil {
				return nil, fmt.Errorf("bulk command: %w", err)
			}
		}
		if sc.Name == "fleet" && cfg.Commands > 0 {
			if err := b.commandRoundTrip(ctx, sc.Devices); err != nil {
				return nil, fmt.Errorf("commands: %w", err)
			}
		}
		if sc.Name == "stress" && cfg.Dashboards > 0 {
			if err := b.fanOut(ctx, sc); err != nil {
				return nil, fmt.Errorf("fan-out: %w", err)
			}
		}
	}
	if cfg.Soak > 0 {
		if err := b.soak(ctx); err != nil {
			return nil, fmt.Errorf("soak: %w", err)
		}
	}
	b.res.finish()
	b.logf("\nbench took %s", b.elapsed())
	if cfg.OutDir != "" {
		if err := b.res.write(cfg.OutDir, cfg.Now()); err != nil {
			return b.res, fmt.Errorf("save results: %w", err) // the caller still prints them
		}
	}
	return b.res, nil
}

// phase announces a part of the bench with how far into it the bench is,
// so that a slow part shows.
func (b *bench) phase(format string, args ...any) {
	b.logf("\n== "+format+" [at %s]", append(args, b.elapsed())...)
}

func (b *bench) elapsed() time.Duration { return b.cfg.Now().Sub(b.start).Round(time.Second) }

func (b *bench) logf(format string, args ...any) {
	if b.cfg.Progress != nil {
		fmt.Fprintf(b.cfg.Progress, format+"\n", args...)
	}
}

// plan scales the scenarios the config names.
func (b *bench) plan() ([]loadgen.Scenario, error) {
	var out []loadgen.Scenario
	for _, name := range b.cfg.Scenarios {
		sc, err := loadgen.Lookup(name)
		if err != nil {
			return nil, err
		}
		sc.Devices = max(10, int(float64(sc.Devices)*b.cfg.Scale))
		sc.Conns = min(sc.Conns, sc.Devices)
		if b.cfg.Duration > 0 {
			sc.Duration = b.cfg.Duration
		}
		out = append(out, sc)
	}
	return out, nil
}

// enrolledFleet is how many devices the plan needs: its largest scenario,
// the soak, and, beside the fleet, the bulk command's targets, which must
// not be the fleet's own devices.
func enrolledFleet(plan []loadgen.Scenario, cfg Config) int {
	n := 0
	for _, sc := range plan {
		need := sc.Devices
		if sc.Name == "fleet" {
			need += max(cfg.BulkTargets, 0)
		}
		n = max(n, need)
	}
	if cfg.Soak > 0 {
		soak, _ := loadgen.Lookup("soak")
		n = max(n, int(float64(soak.Devices)*cfg.Scale))
	}
	return n
}

// enroll registers the largest fleet the plan needs with NexMDM, or reuses
// the tokens of an earlier bench if the server still knows them.
func (b *bench) enroll(ctx context.Context, plan []loadgen.Scenario) error {
	n := enrolledFleet(plan, b.cfg)
	srv, err := b.startNexmdm(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	c, err := newClient(srv.url, enrollConns)
	if err != nil {
		return err
	}
	valid := func(cr loadgen.Credential) bool {
		_, err := c.Heartbeat(ctx, cr.Token, &client.Heartbeat{TS: time.Now()})
		return !errors.Is(err, client.ErrUnauthorized) && !errors.Is(err, client.ErrGone)
	}
	b.logf("enrolling %d devices with NexMDM (tokens kept in %s)", n, b.tokensPath())
	e := &loadgen.Enroller{Client: c, AdminKey: benchKey, Prefix: benchPrefix, Concurrency: enrollConns, Progress: b.cfg.Progress}
	b.creds, err = e.Fleet(ctx, b.tokensPath(), n, valid)
	return err
}

// redisPrefix holds NexMDM's keys in the bench; emptyPrefix those of the
// server measured with no devices.
func (b *bench) redisPrefix() string { return b.cfg.Name + ":" }
func (b *bench) emptyPrefix() string { return b.cfg.Name + "-empty:" }

func (b *bench) tokensPath() string { return filepath.Join(b.cfg.WorkDir, "tokens.jsonl") }
func (b *bench) logDir() string     { return filepath.Join(b.cfg.WorkDir, "logs") }

func newClient(url string, conns int) (*client.Client, error) {
	tr, err := loadgen.NewFastTransport(url, conns, clientBudget)
	if err != nil {
		return nil, err
	}
	return client.New(tr), nil
}

// startNexmdm starts NexMDM on the bench database. Its devices keep their
// state between runs, as a deployed server's do; only the heartbeat history
// is emptied, so every run's rows can be counted.
func (b *bench) startNexmdm(ctx context.Context) (*server, error) {
	if err := truncate(ctx, b.dbs.nexmdm, "heartbeats"); err != nil {
		return nil, err
	}
	srv, _, err := b.startNexmdmOn(ctx, b.dbs.nexmdm, b.redisPrefix())
	return srv, err
}

func (b *bench) startNexmdmOn(ctx context.Context, db, prefix string, extraEnv ...string) (*server, time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	blobs, err := filepath.Abs(filepath.Join(b.cfg.WorkDir, "blobs")) // not .data/ under the working directory
	if err != nil {
		return nil, 0, err
	}
	env := []string{
		"DATABASE_URL=" + db, "REDIS_URL=" + b.cfg.Redis, "NEXMDM_REDIS_PREFIX=" + prefix,
		"NEXMDM_ADDR=" + addr, "NEXMDM_ADMIN_KEY=" + benchKey, "NEXMDM_LOG_LEVEL=warn",
		"NEXMDM_BLOB_URL=file://" + blobs,
		// enrolling 100,000 devices at cost 10 would take most of the bench;
		// the heartbeat path never runs bcrypt, so this changes nothing measured
		"NEXMDM_BCRYPT_COST=4",
	}
	env = append(env, extraEnv...)
	return startServer(ctx, NexMDM, b.logDir(), addr, b.cfg.Nexmdm, []string{"serve"}, env)
}

// startTarget starts a fresh target server with empty tables.
func (b *bench) startTarget(ctx context.Context, target string) (*server, error) {
	switch target {
	case NexMDM:
		return b.startNexmdm(ctx)
	case Baseline:
		if err := truncate(ctx, b.dbs.baseline, "heartbeats"); err != nil {
			return nil, err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve-noop", "--addr", addr}
	if target == Baseline {
		args = []string{"serve-baseline", "--addr", addr, "--db", b.dbs.baseline}
	}
	srv, _, err := startServer(ctx, target, b.logDir(), addr, b.cfg.Loadgen, args, nil)
	return srv, err
}

// dbOf is the database a target stores heartbeats in, or "".
func (b *bench) dbOf(target string) string {
	switch target {
	case NexMDM:
		return b.dbs.nexmdm
	case Baseline:
		return b.dbs.baseline
	}
	return ""
}
