package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nexmdm/nexmdm/loadgen"
)

// scenario runs sc Runs times against every target, rotating the order of
// the targets from run to run.
func (b *bench) scenario(ctx context.Context, sc loadgen.Scenario) error {
	b.phase("%s: %s (scaled to %d devices)", sc.Name, sc.About, sc.Devices)
	sr := b.res.addScenario(sc)
	for r := range b.cfg.Runs {
		for i := range targetOrder {
			target := targetOrder[(i+r)%len(targetOrder)]
			b.logf("-- %s, run %d/%d, %s", sc.Name, r+1, b.cfg.Runs, target)
			run, err := b.runOnce(ctx, sc, target, uint64(r), nil)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", target, r+1, err)
			}
			b.logf("%s", run.Report.Text())
			sr.Runs[target] = append(sr.Runs[target], run)
		}
	}
	return nil
}

// attachment is something that runs beside the load, such as dashboards
// on the live feed; it is attached to the started server and detached when
// the load ends.
type attachment func(ctx context.Context, srv *server) (detach func() error, err error)

// runOnce drives a freshly started target with the scenario and checks
// that every heartbeat it acknowledged as stored is a row.
func (b *bench) runOnce(ctx context.Context, sc loadgen.Scenario, target string, seed uint64, attach attachment) (run TargetRun, err error) {
	srv, err := b.startTarget(ctx, target)
	if err != nil {
		return run, err
	}
	defer func() {
		if stopErr := srv.stop(); err == nil {
			err = stopErr
		}
	}()
	if run.RSSBefore, err = srv.rss(); err != nil {
		return run, err
	}
	if attach != nil {
		detach, attachErr := attach(ctx, srv)
		if attachErr != nil {
			return run, attachErr
		}
		defer func() { // err is runOnce's result: a failed detach fails the run
			if detachErr := detach(); err == nil {
				err = detachErr
			}
		}()
	}
	c, err := newClient(srv.url, sc.Conns)
	if err != nil {
		return run, err
	}
	var opts loadgen.Options
	sc.Options(&opts)
	opts.Target, opts.Client, opts.Progress, opts.Seed = target, c, b.cfg.Progress, seed
	opts.Devices = b.fleet(sc, seed)
	cpu0, _ := readCPUTimes(procStat)
	if run.Report, err = loadgen.Run(ctx, opts); err != nil {
		return run, err
	}
	if cpu1, ok := readCPUTimes(procStat); ok {
		run.StealPct = stealPercent(cpu0, cpu1)
	}
	if target == NexMDM { // only NexMDM remembers a device's last heartbeat
		b.advance(opts.Devices)
	}
	if run.RSSAfter, err = srv.rss(); err != nil {
		return run, err
	}
	if target == NexMDM {
		if run.LiveActors, err = scrapeGauge(srv.url, "nexmdm_device_actors_live"); err != nil {
			return run, err
		}
	}
	if db := b.dbOf(target); db != "" {
		rows, err := countHeartbeats(ctx, db)
		if err != nil {
			return run, err
		}
		run.Rows = &rows
		// more rows than acknowledgements is fine: a request cut off when
		// the run ended may still commit; fewer is a lost heartbeat
		run.Lost = max(0, run.Report.Stored-rows)
	}
	return run, nil
}

// fleet builds a scenario's devices with each clock just past its last run.
func (b *bench) fleet(sc loadgen.Scenario, seed uint64) []*loadgen.Device {
	starts := make([]time.Time, sc.Devices)
	for i := range starts {
		starts[i] = b.clocks[i].Add(10 * time.Second)
	}
	return sc.NewFleetFrom(b.creds[:sc.Devices], starts, seed)
}

func (b *bench) advance(devs []*loadgen.Device) {
	for i, d := range devs {
		b.clocks[i] = d.Clock()
	}
}

// prime gives every bench device a live state, as a deployed fleet has:
// NexMDM's state is wiped and each device sends one heartbeat, its clock 8
// hours back, which leaves every later run room to move clocks forward.
// The baseline gets the same live-status rows.
func (b *bench) prime(ctx context.Context) error {
	if err := truncate(ctx, b.dbs.nexmdm, "heartbeats", "device_last_status"); err != nil {
		return err
	}
	if err := flushRedisPrefix(ctx, b.cfg.Redis, b.redisPrefix()); err != nil {
		return err
	}
	b.phase("priming: every device sends one heartbeat, so NexMDM starts with a live fleet")
	srv, err := b.startNexmdm(ctx)
	if err != nil {
		return err
	}
	b.clocks = make([]time.Time, len(b.creds))
	for i := range b.clocks {
		b.clocks[i] = time.Now().Add(-8 * time.Hour).Add(-time.Duration(i%10_000) * time.Millisecond)
	}
	sc := loadgen.Scenario{Name: "prime", Devices: len(b.creds), Conns: 256, Count: 1, TSStep: 10 * time.Second}
	var opts loadgen.Options
	sc.Options(&opts)
	opts.Target, opts.Client, opts.Progress = NexMDM, nil, b.cfg.Progress
	if opts.Client, err = newClient(srv.url, sc.Conns); err == nil {
		opts.Devices = b.fleet(sc, 1)
		var rep *loadgen.Report
		if rep, err = loadgen.Run(ctx, opts); err == nil && rep.OK != int64(len(b.creds)) {
			err = fmt.Errorf("only %d of %d devices were primed:\n%s", rep.OK, len(b.creds), rep.Text())
		}
		b.advance(opts.Devices)
	}
	if stopErr := srv.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	n, err := copyLastStatus(ctx, b.dbs.nexmdm, b.dbs.baseline)
	b.logf("baseline given %d live-status rows", n)
	return err
}

// measureEmpty records the RSS of a NexMDM with no devices at all, the
// zero that memory per device is measured from. It runs on the baseline's
// database, which has no enrolled devices.
func (b *bench) measureEmpty(ctx context.Context) error {
	if err := flushRedisPrefix(ctx, b.cfg.Redis, b.emptyPrefix()); err != nil {
		return err
	}
	srv, _, err := b.startNexmdmOn(ctx, b.dbs.baseline, b.emptyPrefix())
	if err != nil {
		return err
	}
	rss, err := srv.rss()
	if stopErr := srv.stop(); err == nil {
		err = stopErr
	}
	b.res.EmptyRSS = rss
	return err
}

// restarts measures how long NexMDM takes from exec to ready with the
// whole primed fleet to hydrate from Redis and PostgreSQL, and its memory
// once it is.
func (b *bench) restarts(ctx context.Context) error {
	b.phase("restart: NexMDM from exec to ready with %d devices to hydrate", len(b.creds))
	rs := &Restart{Devices: len(b.creds)}
	for i := range b.cfg.Restarts {
		srv, took, err := b.startNexmdmOn(ctx, b.dbs.nexmdm, b.redisPrefix())
		if err != nil {
			return err
		}
		live, err := scrapeGauge(srv.url, "nexmdm_device_actors_live")
		if err == nil {
			var rss int64
			if rss, err = srv.rss(); err == nil {
				rs.RSS = append(rs.RSS, rss)
			}
		}
		if stopErr := srv.stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return err
		}
		b.logf("restart %d: ready in %v with %d actors hydrated", i+1, took.Round(time.Millisecond), live)
		rs.Seconds = append(rs.Seconds, took.Seconds())
		rs.Hydrated = append(rs.Hydrated, live)
	}
	b.res.Restart = rs
	return nil
}

// soak runs the soak scenario against NexMDM alone and samples its memory.
func (b *bench) soak(ctx context.Context) error {
	sc, _ := loadgen.Lookup("soak")
	sc.Devices = max(10, int(float64(sc.Devices)*b.cfg.Scale))
	sc.Duration = b.cfg.Soak
	b.phase("soak: %d devices for %v against NexMDM, sampling its RSS", sc.Devices, sc.Duration)
	srv, err := b.startNexmdm(ctx)
	if err != nil {
		return err
	}
	sampler := startSampler(srv, 5*time.Second)
	run, err := func() (TargetRun, error) {
		c, err := newClient(srv.url, sc.Conns)
		if err != nil {
			return TargetRun{}, err
		}
		var opts loadgen.Options
		sc.Options(&opts)
		opts.Target, opts.Client, opts.Progress = NexMDM, c, b.cfg.Progress
		opts.Devices = b.fleet(sc, 99)
		rep, err := loadgen.Run(ctx, opts)
		b.advance(opts.Devices)
		return TargetRun{Report: rep}, err
	}()
	samples := sampler()
	if stopErr := srv.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	rows, err := countHeartbeats(ctx, b.dbs.nexmdm)
	if err != nil {
		return err
	}
	run.Rows, run.Lost = &rows, max(0, run.Report.Stored-rows)
	b.res.Soak = newSoak(run, samples)
	b.logf("%s", run.Report.Text())
	return nil
}

// startSampler records the server's RSS every period until the returned
// function is called, which returns the samples.
func startSampler(srv *server, period time.Duration) func() []Sample {
	var (
		mu      sync.Mutex
		samples []Sample
	)
	start := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	take := func() {
		if rss, err := srv.rss(); err == nil {
			mu.Lock()
			samples = append(samples, Sample{Seconds: time.Since(start).Seconds(), RSS: rss})
			mu.Unlock()
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		take()
		for {
			select {
			case <-t.C:
				take()
			case <-stop:
				take()
				return
			}
		}
	}()
	return func() []Sample {
		close(stop)
		<-done
		return samples
	}
}

// scrapeGauge reads one unlabelled gauge from a server's /metrics.
func scrapeGauge(base, name string) (int64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f), err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}
