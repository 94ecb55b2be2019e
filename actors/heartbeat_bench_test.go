package actors

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence"
)

// BenchmarkHeartbeatPath100k is the actor part of a heartbeat, at the
// stress scenario's fleet size: route to the device's actor, authenticate,
// dedupe, hand the row to the writer, take its outcome back and answer.
// The writer here commits nothing, so the figure is the server's own CPU
// per heartbeat without HTTP or PostgreSQL; with 100,000 actors touched in
// random order, as under stress, most of it is memory the CPU cache lost.
func BenchmarkHeartbeatPath100k(b *testing.B) {
	const devices = 100_000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, ids, clocks, digest := liveBenchFleet(ctx, b, devices)

	// Each goroutine sends for its own devices, so that their clocks need
	// no lock, in a shuffled order, as requests reach 100,000 actors.
	const parallelism = 256 // per CPU: requests in flight, as the loadgen's connections
	goroutines := parallelism * runtime.GOMAXPROCS(0)
	order := rand.Perm(devices)
	var next atomic.Int64
	b.SetParallelism(parallelism)
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(next.Add(1) - 1)
		for k := g; pb.Next(); k += goroutines {
			if k >= devices {
				k = g
			}
			i := order[k]
			clocks[i] = clocks[i].Add(10 * time.Second)
			beat(b, d, ids[i], digest, clocks[i])
		}
	})
	// Wall time per heartbeat depends on what else runs on the machine;
	// the CPU the process spent per heartbeat much less so.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// liveBenchFleet enrolls n devices, all with the zero digest, in a
// directory whose writer commits nothing, and has each heartbeat once, so
// that every actor is live. clocks are the devices' last heartbeat times.
func liveBenchFleet(ctx context.Context, b *testing.B, n int) (d *Directory, ids []uuid.UUID, clocks []time.Time, digest [32]byte) {
	cfg := DefaultConfig()
	cfg.RateLimit = 0
	cfg.PepperID = "p1"
	store := &benchDevices{digest: digest[:]}
	d = NewDirectory(ctx, cfg, Deps{
		System: actor.NewActorSystem(), Sink: newInstantSink(ctx), Devices: store, Snapshots: discardSnapshots{}, Log: zerolog.Nop(),
	})
	ids, clocks = make([]uuid.UUID, n), make([]time.Time, n)
	start := time.Now().Add(-24 * time.Hour)
	for i := range ids {
		ids[i], clocks[i] = uuid.New(), start
		d.Enrolled(ids[i], persistence.DeviceFacts{Serial: ids[i].String()}, digest[:], cfg.PepperID, nil)
		beat(b, d, ids[i], digest, clocks[i])
	}
	return d, ids, clocks, digest
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

func beat(b *testing.B, d *Directory, id uuid.UUID, digest [32]byte, ts time.Time) {
	req := NewHeartbeatRequest()
	req.Write.Heartbeat = persistence.Heartbeat{DeviceID: id, TS: ts, ReceivedAt: ts, Has: persistence.HasBattery, BatteryPct: 50}
	req.Digest = digest
	if err := d.Heartbeat(req); err != nil {
		b.Fatal(err)
	}
	rep, ok := req.Wait(10 * time.Second)
	if !ok || rep.Outcome != Stored {
		b.Fatalf("heartbeat answered %+v (answered: %v), want stored", rep, ok)
	}
	req.Release()
}

// instantSink finishes every queued row at once, in batches, as the writer
// does once its commit returns.
type instantSink struct {
	queue chan *persistence.HeartbeatWrite
}

func newInstantSink(ctx context.Context) *instantSink {
	s := &instantSink{queue: make(chan *persistence.HeartbeatWrite, 65536)}
	go func() {
		batch := make([]*persistence.HeartbeatWrite, 0, 5000)
		for {
			select {
			case <-ctx.Done():
				return
			case w := <-s.queue:
				batch = append(batch[:0], w)
			}
			for len(batch) < cap(batch) && len(s.queue) > 0 {
				batch = append(batch, <-s.queue)
			}
			for _, w := range batch {
				w.Notify.HeartbeatWritten(w)
			}
		}
	}()
	return s
}

func (s *instantSink) Enqueue(w *persistence.HeartbeatWrite) bool {
	select {
	case s.queue <- w:
		return true
	default:
		return false
	}
}

// benchDevices loads every device with the same token digest.
type benchDevices struct {
	DeviceStore
	digest []byte
}

func (s *benchDevices) LoadMany(_ context.Context, ids []uuid.UUID) ([]*persistence.DeviceRecord, error) {
	recs := make([]*persistence.DeviceRecord, len(ids))
	for i, id := range ids {
		recs[i] = &persistence.DeviceRecord{ID: id, TokenDigest: s.digest, PepperID: "p1"}
	}
	return recs, nil
}

type discardSnapshots struct{ SnapshotStore }

func (discardSnapshots) Put(uuid.UUID, []byte) {}

func (discardSnapshots) GetMany(_ context.Context, ids []uuid.UUID) ([][]byte, error) {
	return make([][]byte, len(ids)), nil
}

// BenchmarkAuthorize100k is a device request that waits on its actor (a
// command pull, an action result) at the stress scenario's fleet size:
// route to the device's actor, compare the digest, answer.
func BenchmarkAuthorize100k(b *testing.B) {
	const devices = 100_000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, ids, _, digest := liveBenchFleet(ctx, b, devices)
	order := rand.Perm(devices)
	var next atomic.Int64
	b.SetParallelism(256)
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for k := int(next.Add(1)); pb.Next(); k += 7919 { // a prime stride: every device, shuffled
			o, err := d.Authorize(ctx, ids[order[k%devices]], digest)
			if err != nil || o != Stored {
				b.Fatalf("authorize answered %v, %v; want stored", o, err)
			}
		}
	})
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}
