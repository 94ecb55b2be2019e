// Command loadgen simulates a fleet of NexMDM devices and measures a server
// with it; `loadgen bench` runs the whole benchmark.
//
//	loadgen run --scenario stress --url http://127.0.0.1:8080
//	loadgen run --devices 500 --rate 1000 --duration 30s --json
//	loadgen bench --nexmdm bin/nexmdm
//	loadgen serve-noop --addr 127.0.0.1:9000
//	loadgen serve-baseline --addr 127.0.0.1:9001 --db postgres://...
//	LOADGEN_ACCESS_TOKEN=... loadgen dashboards --url http://127.0.0.1:8080 --count 100
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/loadgen"
	"github.com/nexmdm/nexmdm/loadgen/bench"
	"github.com/nexmdm/nexmdm/loadgen/targets"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

const usage = `usage: loadgen <command> [flags]

commands:
  run             drive a server with a simulated fleet and report
  bench           run every scenario against NexMDM, a no-op server and the per-request baseline
  serve-noop      a no-op fasthttp heartbeat server (the HTTP ceiling)
  serve-baseline  the seed-style baseline: one INSERT + UPSERT transaction per heartbeat
  dashboards      hold live-feed clients open until stdin closes, then print what they got

'loadgen <command> -h' lists a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "serve-noop":
		fs := flag.NewFlagSet("serve-noop", flag.ContinueOnError)
		addr := fs.String("addr", "127.0.0.1:9000", "listen address")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		return targets.ServeNoop(ctx, ln)
	case "serve-baseline":
		fs := flag.NewFlagSet("serve-baseline", flag.ContinueOnError)
		addr := fs.String("addr", "127.0.0.1:9001", "listen address")
		db := fs.String("db", os.Getenv("DATABASE_URL"), "PostgreSQL URL of a database migrated with `nexmdm migrate`")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		b, err := targets.NewBaseline(ctx, *db)
		if err != nil {
			return err
		}
		defer b.Close()
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		return b.Serve(ctx, ln)
	case "dashboards":
		return dashboardsCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		scenario   = fs.String("scenario", "", "preset: "+fmt.Sprint(loadgen.ScenarioNames())+"; flags below override it")
		url        = fs.String("url", "http://127.0.0.1:8080", "server URL")
		adminKey   = fs.String("admin-key", envOr("NEXMDM_ADMIN_KEY", "dev-admin-key-change-me"), "admin or enrollment key, to enroll devices")
		tokens     = fs.String("tokens", "", "tokens file: reuse the devices enrolled by an earlier run, and save new ones")
		prefix     = fs.String("prefix", "sim", "serial prefix of the simulated devices")
		devices    = fs.Int("devices", 100, "simulated devices")
		conns      = fs.Int("conns", 64, "keep-alive connections (requests in flight)")
		interval   = fs.Duration("interval", 10*time.Second, "heartbeat interval per device; 0: as fast as the server answers")
		rate       = fs.Float64("rate", 0, "target heartbeats/s for the whole fleet (sets --interval)")
		jitter     = fs.Float64("jitter", 0.1, "interval jitter, a fraction")
		ramp       = fs.Duration("ramp", 5*time.Second, "spread device starts over this")
		duration   = fs.Duration("duration", 30*time.Second, "how long to run (0: until --count)")
		count      = fs.Int("count", 0, "heartbeats per device (0: no limit)")
		tsStep     = fs.Duration("ts-step", 0, "advance each device's clock by this per heartbeat (0: real time)")
		clockStart = fs.Duration("clock-start", 0, "device clocks start this long ago (with --ts-step; 0: the scenario's)")
		backlog    = fs.Int("backlog", 0, "queued heartbeats each device replays first")
		enrollConc = fs.Int("enroll-concurrency", 8, "registrations in flight")
		asJSON     = fs.Bool("json", false, "print the report as JSON")
		quiet      = fs.Bool("quiet", false, "no progress lines")
		cpuProfile = fs.String("cpuprofile", "", "write the loadgen's own CPU profile here, to see what the fleet costs the machine")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	sc := loadgen.Scenario{Name: "custom"}
	if *scenario != "" {
		var err error
		if sc, err = loadgen.Lookup(*scenario); err != nil {
			return err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *scenario == "" || set["devices"] {
		sc.Devices = *devices
	}
	if *scenario == "" || set["conns"] {
		sc.Conns = *conns
	}
	if *scenario == "" || set["interval"] {
		sc.Interval = *interval
	}
	if *rate > 0 {
		sc.Interval = time.Duration(float64(sc.Devices) / *rate * float64(time.Second))
	}
	if *scenario == "" || set["jitter"] {
		sc.Jitter = *jitter
	}
	if *scenario == "" || set["ramp"] {
		sc.RampUp = *ramp
	}
	if *scenario == "" || set["duration"] {
		sc.Duration = *duration
	}
	if *scenario == "" || set["count"] {
		sc.Count = *count
	}
	if *scenario == "" || set["ts-step"] {
		sc.TSStep = *tsStep
	}
	if set["clock-start"] {
		sc.ClockStart = *clockStart
	}
	if *scenario == "" || set["backlog"] {
		sc.Backlog = *backlog
		if sc.Backlog > 0 && sc.TSStep > 0 {
			sc.ClockStart = time.Duration(sc.Backlog) * sc.TSStep
		}
	}

	tr, err := loadgen.NewFastTransport(*url, sc.Conns+*enrollConc, 30*time.Second)
	if err != nil {
		return err
	}
	c := client.New(tr)
	progress := stderr
	if *quiet {
		progress = nil
	}
	enroller := &loadgen.Enroller{Client: c, AdminKey: *adminKey, Prefix: *prefix, Concurrency: *enrollConc, Progress: progress}
	creds, err := enroller.Fleet(ctx, *tokens, sc.Devices, nil)
	if err != nil {
		return err
	}
	var opts loadgen.Options
	sc.Options(&opts)
	opts.Target, opts.Client, opts.Progress = *url, c, progress
	opts.Devices = sc.NewFleet(creds, time.Now(), uint64(time.Now().UnixNano()))
	opts.Seed = uint64(time.Now().UnixNano())
	rep, err := loadgen.Run(ctx, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err = io.WriteString(stdout, rep.Text())
	return err
}

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		nexmdm     = fs.String("nexmdm", "bin/nexmdm", "the nexmdm binary")
		db         = fs.String("db", os.Getenv("DATABASE_URL"), "a PostgreSQL URL; the bench creates nexmdm_bench and nexmdm_bench_baseline beside it")
		redisURL   = fs.String("redis", os.Getenv("REDIS_URL"), "Redis URL; the bench uses keys under nexmdm-bench: only")
		work       = fs.String("work", "bench/work", "tokens and server logs, kept between benches")
		out        = fs.String("out", "bench/results", "where <date>.json and <date>.md go (<date>-a and on when a bench of the day wrote them)")
		runs       = fs.Int("runs", 3, "runs per scenario and target")
		scenarios  = fs.String("scenarios", strings.Join(bench.DefaultScenarios, ","), "scenarios to run, comma-separated")
		scale      = fs.Float64("scale", 1, "fleet sizes × this (1: the real bench)")
		duration   = fs.Duration("duration", 0, "override every scenario's duration")
		restarts   = fs.Int("restarts", 3, "restart-to-ready measurements after stress")
		soak       = fs.Duration("soak", 10*time.Second, "soak length (0: none; the soak preset is 10m)")
		dashboards = fs.Int("dashboards", 100, "live-feed clients in the fan-out runs after stress (0: no fan-out runs)")
		commands   = fs.Int("commands", 2000, "commands per round-trip run after fleet (0: none)")
		bulk       = fs.Int("bulk", 10000, "devices of the bulk command sent during fleet runs (0: none)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *db == "" || *redisURL == "" {
		return errors.New("give --db and --redis (or DATABASE_URL and REDIS_URL); `make bench` starts both")
	}
	res, err := bench.Run(ctx, bench.Config{
		Nexmdm: *nexmdm, Loadgen: self, Postgres: *db, Redis: *redisURL, WorkDir: *work, OutDir: *out,
		Runs: *runs, Scenarios: strings.Split(*scenarios, ","), Scale: *scale, Duration: *duration,
		Restarts: *restarts, Soak: *soak, Dashboards: *dashboards, Commands: *commands, BulkTargets: *bulk, Progress: stderr,
	})
	if res != nil {
		if _, werr := io.WriteString(stdout, "\n"+res.Markdown()); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// dashboardsCmd holds live-feed clients open until stdin closes (or a
// signal), then prints what they received as JSON. It prints "ready" once
// every one is subscribed. The bench runs it as a process of its own, so
// that the dashboards share the machine with the simulated fleet but not
// its Go runtime: in one process their reading slowed the fleet's sending.
func dashboardsCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dashboards", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "NexMDM's base URL")
	count := fs.Int("count", 100, "dashboards to connect, each subscribed to the whole fleet")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := os.Getenv("LOADGEN_ACCESS_TOKEN")
	if token == "" {
		return errors.New("set LOADGEN_ACCESS_TOKEN to a dashboard user's access token (POST /admin/auth/login)")
	}
	d, err := loadgen.OpenDashboards(ctx, *url, token, *count)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, stdin); close(eof) }()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return json.NewEncoder(stdout).Encode(d.Close())
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
