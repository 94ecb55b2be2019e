package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nexmdm/nexmdm/loadgen"
)

// BulkCommand is the fleet scenario against NexMDM alone and with one bulk
// command to many devices sent in the middle of the run, alternating, so
// that what the bulk command costs ingest is a ratio measured side by side.
type BulkCommand struct {
	Targets int `json:"targets"`
	Paired
	RequestMs []float64 `json:"request_ms"` // how long each bulk POST took to answer
	Queued    []int     `json:"queued"`
	Done      []int64   `json:"done"` // commands the targets reported done once online, after each run
	// The targets coming online after each run, each posting its result at
	// once: how long it took and their heartbeats' p99.
	OnlineSeconds []float64 `json:"online_seconds"`
	OnlineP99Ms   []float64 `json:"online_p99_ms"`
	P99Ratio      float64   `json:"with_to_without_p99"`
	RateRatio     float64   `json:"with_to_without_stored_per_sec"`
	MedianReqs    float64   `json:"median_request_ms"`
}

// bulkCommand runs sc (the fleet scenario) Runs times alone and Runs times
// with a bulk command to b.cfg.BulkTargets devices after 3 s.
func (b *bench) bulkCommand(ctx context.Context, sc loadgen.Scenario) error {
	n := min(b.cfg.BulkTargets, len(b.creds))
	b.phase("bulk command: %s against NexMDM, alone and with one command to %d devices mid-run", sc.Name, n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = b.creds[len(b.creds)-n+i].DeviceID // not the fleet's own devices
	}
	out := &BulkCommand{Targets: n}
	bulk := func(ctx context.Context, srv *server) (func() error, error) {
		errc := make(chan error, 1)
		go func() {
			time.Sleep(min(3*time.Second, sc.Duration/2)) // 3 s in, as the report says, but for scaled-down runs
			start := time.Now()
			queued, err := postBulk(ctx, srv.url, ids)
			out.RequestMs = append(out.RequestMs, float64(time.Since(start).Microseconds())/1000)
			out.Queued = append(out.Queued, queued)
			errc <- err
		}()
		return func() error {
			if err := <-errc; err != nil {
				return err
			}
			online, err := b.finishBulk(ctx, srv, len(b.creds)-n)
			if err != nil {
				return err
			}
			out.Done = append(out.Done, online.Commands)
			out.OnlineSeconds = append(out.OnlineSeconds, online.Seconds)
			out.OnlineP99Ms = append(out.OnlineP99Ms, online.Latency.P99)
			return nil
		}, nil
	}
	var err error
	if out.Paired, err = b.runPaired(ctx, sc, fmt.Sprintf("with a command to %d devices", n), 200, bulk); err != nil {
		return err
	}
	b.res.Bulk = out
	return nil
}

// finishBulk has the bulk command's targets, the devices from first on,
// come online once after the measured run and report the command done, as
// devices do after a bulk command: a flood of results, whose report it
// returns. Left open, it would ride in a tenth of
// every later stress answer until its TTL, and the loadgen's devices would
// then report it all at once in the first stress run.
func (b *bench) finishBulk(ctx context.Context, srv *server, first int) (*loadgen.Report, error) {
	creds := b.creds[first:]
	starts := make([]time.Time, len(creds))
	for i := range starts {
		starts[i] = b.clocks[first+i].Add(10 * time.Second)
	}
	sc := loadgen.Scenario{Name: "bulk targets online", Conns: 64, Count: 1, TSStep: 10 * time.Second}
	c, err := newClient(srv.url, sc.Conns)
	if err != nil {
		return nil, err
	}
	var opts loadgen.Options
	sc.Options(&opts)
	opts.Target, opts.Client, opts.Devices = NexMDM, c, sc.NewFleetFrom(creds, starts, 1)
	rep, err := loadgen.Run(ctx, opts)
	if err != nil {
		return nil, err
	}
	for i, d := range opts.Devices {
		b.clocks[first+i] = d.Clock()
	}
	b.logf("the bulk command's %d targets came online once: %d commands reported done in %.1f s, heartbeat p99 %.1f ms, %d heartbeats failed",
		len(creds), rep.Commands, rep.Seconds, rep.Latency.P99, rep.Sent-rep.OK)
	return rep, nil
}

func postBulk(ctx context.Context, base string, ids []string) (int, error) {
	body, _ := json.Marshal(map[string]any{"device_ids": ids, "type": "check_update"})
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/admin/commands/bulk", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Admin-Key", benchKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Queued int `json:"queued"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("bulk command: HTTP %d", resp.StatusCode)
	}
	return out.Queued, nil
}

func (f *BulkCommand) summarize() {
	f.P99Ratio = f.ratio(p99)
	f.RateRatio = f.ratio(storedRate)
	f.MedianReqs = median(f.RequestMs)
}
