package loadgen

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/command"
)

// Options shape one run.
type Options struct {
	Scenario string // labels for the report
	Target   string
	Client   *client.Client
	Devices  []*Device
	Conns    int           // workers, one request in flight each (keep-alive connections)
	Interval time.Duration // per device; 0 runs closed-loop: every worker sends as fast as answers come
	Jitter   float64       // each interval varies by up to ± this fraction
	RampUp   time.Duration // device starts are spread over this, so there is no thundering herd
	Duration time.Duration // stop after this; 0: when every device has sent Count
	Count    int           // heartbeats per device; 0: no limit
	TSStep   time.Duration // how far each heartbeat moves a device's clock; 0: real time
	Progress io.Writer     // a line a second; nil: quiet
	Seed     uint64
	Now      func() time.Time // nil: time.Now
}

// TargetRate is the heartbeat rate the options ask for, or 0 for closed loop.
func (o *Options) TargetRate() float64 {
	if o.Interval <= 0 {
		return 0
	}
	return float64(len(o.Devices)) / o.Interval.Seconds()
}

// Run drives the fleet and reports what the server answered.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Client == nil || len(o.Devices) == 0 || o.Conns <= 0 {
		return nil, errors.New("loadgen: need a client, devices and at least one connection")
	}
	if o.Duration <= 0 && o.Count <= 0 {
		return nil, errors.New("loadgen: give a duration or a count")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	conns := min(o.Conns, len(o.Devices))
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	start := o.Now()
	workers := make([]*worker, conns)
	recs := make([]*recorder, conns)
	for i := range workers {
		w := &worker{o: &o, rec: newRecorder(), rng: rand.New(rand.NewPCG(o.Seed, uint64(i))), payload: NewPayload()}
		for j := i; j < len(o.Devices); j += conns {
			w.devices = append(w.devices, o.Devices[j])
		}
		workers[i], recs[i] = w, w.rec
	}
	stopProgress := progress(o.Progress, recs, start, o.Now)
	done := make(chan struct{}, conns)
	for _, w := range workers {
		go func() { w.run(ctx, start); done <- struct{}{} }()
	}
	for range workers {
		<-done
	}
	elapsed := o.Now().Sub(start)
	stopProgress()
	rep := merge(recs, elapsed)
	rep.Scenario, rep.Target, rep.Devices, rep.Conns, rep.TargetRate = o.Scenario, o.Target, len(o.Devices), conns, o.TargetRate()
	return rep, nil
}

// worker owns a share of the devices and one connection's worth of load.
type worker struct {
	o       *Options
	devices []*Device
	rec     *recorder
	rng     *rand.Rand
	payload *Payload
	buf     []byte
}

func (w *worker) run(ctx context.Context, start time.Time) {
	if w.o.Interval <= 0 {
		w.closedLoop(ctx, start)
		return
	}
	w.paced(ctx, start)
}

// closedLoop sends each device's next heartbeat in turn, as fast as the
// server answers.
func (w *worker) closedLoop(ctx context.Context, start time.Time) {
	for _, d := range w.devices {
		d.due = start.Add(w.rampOffset())
	}
	for ctx.Err() == nil {
		active, sent := false, false
		now := w.o.Now()
		for _, d := range w.devices {
			if ctx.Err() != nil {
				return
			}
			if w.finished(d) {
				continue
			}
			active = true
			if d.due.After(now) {
				continue
			}
			w.send(ctx, d, now)
			now = w.o.Now()
			sent = true
		}
		if !active {
			return
		}
		if !sent { // everyone is waiting for a ramp slot or a Retry-After
			sleep(ctx, 5*time.Millisecond)
		}
	}
}

// paced sends every device once per Interval (± Jitter), in due order.
func (w *worker) paced(ctx context.Context, start time.Time) {
	q := make(dueQueue, 0, len(w.devices))
	for _, d := range w.devices {
		d.due = start.Add(w.rampOffset())
		q = append(q, dueEntry{d.due.UnixNano(), d})
	}
	heap.Init(&q)
	for len(q) > 0 && ctx.Err() == nil {
		d := q[0].d
		if wait := d.due.Sub(w.o.Now()); wait > 0 && !sleep(ctx, wait) {
			return
		}
		now := w.o.Now()
		scheduled := d.due
		w.send(ctx, d, now)
		if w.finished(d) {
			heap.Pop(&q)
			continue
		}
		if d.due.Equal(scheduled) { // not deferred by a Retry-After
			d.due = scheduled.Add(w.interval())
			if behind := now.Sub(d.due); behind > w.o.Interval {
				d.due = now // far behind: do not burst to catch up
			}
		}
		q[0].at = d.due.UnixNano()
		heap.Fix(&q, 0)
	}
}

func (w *worker) interval() time.Duration {
	if w.o.Jitter <= 0 {
		return w.o.Interval
	}
	f := 1 + w.o.Jitter*(2*w.rng.Float64()-1)
	return time.Duration(float64(w.o.Interval) * f)
}

func (w *worker) rampOffset() time.Duration {
	if w.o.RampUp <= 0 {
		return 0
	}
	return time.Duration(w.rng.Int64N(int64(w.o.RampUp)))
}

func (w *worker) finished(d *Device) bool {
	return d.stopped || (w.o.Count > 0 && d.acked >= w.o.Count)
}

// send delivers a device's pending heartbeat, or its next one, and applies
// the answer: a 410 stops the device, a 429 or 503 holds it for
// Retry-After and keeps the heartbeat for the retry, as an agent's queue does.
func (w *worker) send(ctx context.Context, d *Device, now time.Time) {
	body := d.pending
	if body == nil {
		step := w.o.TSStep
		if step <= 0 {
			step = now.Sub(d.clock)
		}
		hb := d.Next(step, w.rng, w.payload)
		w.buf = hb.AppendJSON(w.buf[:0])
		body = w.buf
	}
	t0 := w.o.Now()
	resp, err := w.o.Client.HeartbeatRaw(ctx, d.Cred.Token, body)
	lat := w.o.Now().Sub(t0)
	if err == nil {
		w.rec.ok(lat, resp.Deduped)
		d.pending = nil
		d.acked++
		if d.backlog > 0 {
			d.backlog--
		}
		w.finishCommands(ctx, d, resp.Commands)
		return
	}
	var pe *client.Error
	if !errors.As(err, &pe) {
		if ended(ctx, w.o.Now()) {
			return // the run ended mid-request: not the server's failure
		}
		w.rec.fail("transport")
		d.hold(body, now.Add(time.Second))
		return
	}
	w.rec.fail(strconv.Itoa(pe.Status) + " " + pe.Code)
	switch {
	case pe.Status == 410:
		d.stopped = true
	case pe.Retryable():
		d.hold(body, now.Add(max(pe.RetryAfter, 100*time.Millisecond)))
	default:
		d.pending = nil // the server will never take it
	}
}

// finishCommands reports each command delivered in an answer done, as the
// agent does once it has run it: the server then stops delivering it. A
// report that fails is tried again when the command comes back.
func (w *worker) finishCommands(ctx context.Context, d *Device, cmds []json.RawMessage) {
	for _, raw := range cmds {
		var cmd command.Command
		if json.Unmarshal(raw, &cmd) != nil || cmd.ID == "" {
			continue
		}
		err := w.o.Client.ActionResult(ctx, d.Cred.Token, &client.ActionResult{
			CommandID: cmd.ID, Status: client.ResultSucceeded, Message: "done by the loadgen", FinishedAt: w.o.Now(),
		})
		if err == nil {
			w.rec.commandDone()
		}
	}
}

// hold keeps a heartbeat for a retry at t.
func (d *Device) hold(body []byte, t time.Time) {
	if d.pending == nil {
		d.pending = append([]byte(nil), body...)
	}
	d.due = t
}

// dueQueue orders devices by when they are next due. Each entry holds its
// time, so ordering reads the queue alone rather than every device it
// compares: at 100,000 devices those reads were 7 % of the loadgen's CPU.
type dueQueue []dueEntry

type dueEntry struct {
	at int64 // d.due in unix ns
	d  *Device
}

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q dueQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)        { *q = append(*q, x.(dueEntry)) }
func (q *dueQueue) Pop() any {
	old := *q
	d := old[len(old)-1]
	*q = old[:len(old)-1]
	return d
}

// ended reports whether the run is over; a request cut short by the end of
// the run can fail just before its context says so.
func ended(ctx context.Context, now time.Time) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !now.Before(dl.Add(-time.Millisecond))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func progress(w io.Writer, recs []*recorder, start time.Time, now func() time.Time) func() {
	if w == nil {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := start
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n := now()
				fmt.Fprintln(w, windowLine(recs, n.Sub(start), n.Sub(last)))
				last = n
			}
		}
	}()
	return func() { close(stop); <-done }
}
