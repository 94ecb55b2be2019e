package actors

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nexmdm/nexmdm/persistence"
)

// BenchmarkHeartbeatsDuringBulkHandOver is what a bulk command's hand-over
// to 10,000 live actors does to the heartbeats of a fleet meanwhile: 2,000
// devices beat about once a second each from 64 goroutines while
// QueueCommands hands one command to each of 10,000 others, all at once
// or paced. It reports the p99 and the slowest of the heartbeats answered
// in the 150 ms from the hand-over's start, and the hand-over's own time. The writer commits
// nothing, so only the actors' share of a stall shows.
func BenchmarkHeartbeatsDuringBulkHandOver(b *testing.B) {
	for _, bc := range []struct {
		name string
		ho   handOver
	}{
		{"all-at-once", handOver{chunk: 1 << 30}},
		{"paced", defaultHandOver},
	} {
		b.Run(bc.name, func(b *testing.B) { benchmarkBulkHandOver(b, bc.ho) })
	}
}

func benchmarkBulkHandOver(b *testing.B, ho handOver) {
	const fleet, targets, senders = 2000, 10_000, 64
	const window = 150 * time.Millisecond // heartbeats answered this long from the hand-over's start count
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, ids, clocks, digest := liveBenchFleet(ctx, b, fleet+targets)
	d.handOver = ho

	var (
		mu       sync.Mutex
		during   []time.Duration
		handing  bool
		stop     = make(chan struct{})
		senderWG sync.WaitGroup
	)
	for g := range senders {
		senderWG.Add(1)
		go func() { // each sender owns every senders-th fleet device
			defer senderWG.Done()
			tick := time.NewTicker(time.Second * senders / fleet)
			defer tick.Stop()
			for k := g; ; k += senders {
				if k >= fleet {
					k = g
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				clocks[k] = clocks[k].Add(10 * time.Second)
				start := time.Now()
				beat(b, d, ids[k], digest, clocks[k])
				mu.Lock()
				if handing {
					during = append(during, time.Since(start))
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // the fleet at its pace

	var handOverTime time.Duration
	b.ResetTimer()
	for n := range b.N {
		cmds := make([]persistence.Command, targets)
		for i := range cmds {
			cmds[i] = persistence.Command{ID: uuid.New(), DeviceID: ids[fleet+i], Type: "check_update", Status: persistence.CommandQueued,
				IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Duration(n+1) * time.Hour)}
		}
		mu.Lock()
		handing = true
		mu.Unlock()
		start := time.Now()
		d.QueueCommands(cmds)
		handOverTime += time.Since(start)
		time.Sleep(time.Until(start.Add(window))) // the same window for both, so that the p99s compare
		mu.Lock()
		handing = false
		mu.Unlock()
	}
	b.StopTimer()
	close(stop)
	senderWG.Wait()
	slices.Sort(during)
	if len(during) == 0 {
		b.Fatal("no heartbeat was answered during a hand-over")
	}
	b.ReportMetric(float64(during[len(during)*99/100].Microseconds())/1000, "hb-p99-ms")
	b.ReportMetric(float64(during[len(during)-1].Microseconds())/1000, "hb-max-ms")
	b.ReportMetric(float64(handOverTime.Microseconds())/1000/float64(b.N), "handover-ms")
}
