package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkerPoolRunsEveryJobWithoutBlockingEvenPastItsWorkers(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	p := newWorkerPool(2, 300, done)

	release := make(chan struct{})
	var ran sync.WaitGroup
	const jobs = 10
	ran.Add(jobs)
	scheduled := make(chan struct{})
	go func() {
		for range jobs { // every job blocks, so only spare goroutines can take the next
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
	p := newWorkerPool(4, 300, done)
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
