package backoff

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCeilingDoublesFromTwoSecondsUpToFiveMinutes(t *testing.T) {
	p := Agent(nil)
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for attempt, w := range want {
		assert.Equal(t, w, p.Ceiling(attempt), "attempt %d", attempt)
	}
	assert.Equal(t, 5*time.Minute, p.Ceiling(1000), "no overflow after many attempts")
}

func TestDelayIsFullJitterWithinTheCeiling(t *testing.T) {
	assert.Equal(t, time.Duration(0), Agent(func() float64 { return 0 }).Delay(3, 0), "the lowest draw retries at once")
	almostOne := func() float64 { return 0.999999 }
	assert.InDelta(t, float64(16*time.Second), float64(Agent(almostOne).Delay(3, 0)), float64(time.Millisecond))

	src := rand.New(rand.NewPCG(1, 2))
	p := Agent(src.Float64)
	var sum time.Duration
	const n = 10000
	for range n {
		d := p.Delay(20, 0)
		assert.True(t, d >= 0 && d < 5*time.Minute, "delay %v is within [0, cap)", d)
		sum += d
	}
	assert.InDelta(t, float64(150*time.Second), float64(sum/n), float64(5*time.Second), "the draws spread over the whole range")
}

func TestRetryAfterIsAFloorButBounded(t *testing.T) {
	p := Agent(func() float64 { return 0.5 })
	assert.Equal(t, 45*time.Second, p.Delay(0, 45*time.Second), "the server's Retry-After wins over a shorter jitter")
	assert.Equal(t, 16*time.Second, p.Delay(4, 3*time.Second), "a longer jitter wins over a short Retry-After")
	assert.Equal(t, MaxRetryAfter, p.Delay(0, 48*time.Hour))
}
