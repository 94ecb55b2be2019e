package actors

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkerPoolRunsEveryJobWithoutBlockingEvenPastItsWorkersAndQueue(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	p := newWorkerPool(2, 3, 300, done)

	release := make(chan struct{})
	var ran sync.WaitGroup
	const jobs = 10
	ran.Add(jobs)
	scheduled := make(chan struct{})
	go func() {
		for range jobs { // every job blocks: two run, three wait, the rest get goroutines
			p.Schedule(func() { <-release; ran.Done() })
		}
		close(scheduled)
	}()
	select {
	case <-scheduled:
	case <-time.After(5 * time.Second):
		t.Fatal("Schedule blocked while every worker was busy")
	}
	assert.LessOrEqual(t, p.workers.Load(), int32(2), "no more pooled workers than the limit")
	close(release)
	ran.Wait()
	assert.Equal(t, 300, p.Throughput())
}

func TestWorkerPoolKeepsItsWorkersAndStopsThemWhenDone(t *testing.T) {
	done := make(chan struct{})
	p := newWorkerPool(4, 16, 300, done)
	for i := range 100 {
		ran := make(chan struct{})
		p.Schedule(func() { close(ran) })
		<-ran
		if i == 0 {
			require.Eventually(t, func() bool { return p.workers.Load() == 1 }, time.Second, time.Millisecond)
		}
	}
	assert.LessOrEqual(t, p.workers.Load(), int32(4), "never more workers than the limit")

	close(done)
	require.Eventually(t, func() bool { return p.workers.Load() == 0 }, 5*time.Second, time.Millisecond,
		"idle workers leave once the pool is done")
	ran := make(chan struct{})
	p.Schedule(func() { close(ran) })
	<-ran // a job scheduled after done still runs
}

func TestWorkerPoolQueuesMailboxesWhileEveryWorkerIsBusy(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	p := newWorkerPool(1, 64, 300, done)

	release := make(chan struct{})
	p.Schedule(func() { <-release })
	var mu sync.Mutex
	var running, most int
	var ran atomic.Int32
	for range 50 {
		p.Schedule(func() {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			time.Sleep(100 * time.Microsecond) // long enough for a second runner to overlap
			mu.Lock()
			running--
			mu.Unlock()
			ran.Add(1)
		})
	}
	time.Sleep(20 * time.Millisecond)
	assert.Zero(t, ran.Load(), "queued mailboxes wait for the busy worker instead of getting goroutines")
	close(release)
	require.Eventually(t, func() bool { return ran.Load() == 50 }, 5*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, most, "one worker runs them one after another")
}

func TestWorkerPoolRunsWhatIsQueuedWhenItStops(t *testing.T) {
	done := make(chan struct{})
	p := newWorkerPool(1, 64, 300, done)
	release := make(chan struct{})
	p.Schedule(func() { <-release })
	var ran sync.WaitGroup
	ran.Add(10)
	for range 10 {
		p.Schedule(ran.Done)
	}
	close(done)
	close(release)
	ran.Wait() // every queued mailbox runs, though the pool is stopping
	require.Eventually(t, func() bool { return p.workers.Load() == 0 }, 5*time.Second, time.Millisecond)
}
