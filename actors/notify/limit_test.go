package notify

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counter is a Channel that accepts everything and counts it.
type counter struct{ n atomic.Int64 }

func (c *counter) Send(context.Context, Notification) error { c.n.Add(1); return nil }

func TestLimitedSpendsAMinuteBudget(t *testing.T) {
	ctx := context.Background()
	now := at
	ch := &counter{}
	l := Limited(ch, DiscordPerMinute, func() time.Time { return now })

	for i := range 30 {
		require.NoError(t, l.Send(ctx, Notification{}), "send %d", i+1)
	}
	assert.ErrorIs(t, l.Send(ctx, Notification{}), ErrRateLimited, "the 31st")
	assert.EqualValues(t, 30, ch.n.Load(), "the 31st never reached the channel")

	now = now.Add(2 * time.Second) // 30 a minute refills one every 2 s
	assert.NoError(t, l.Send(ctx, Notification{}))
	assert.ErrorIs(t, l.Send(ctx, Notification{}), ErrRateLimited)

	now = now.Add(time.Minute)
	for i := range 30 {
		require.NoError(t, l.Send(ctx, Notification{}), "send %d after a minute", i+1)
	}
	assert.ErrorIs(t, l.Send(ctx, Notification{}), ErrRateLimited, "the burst stays 30")
	assert.EqualValues(t, 61, ch.n.Load())
}

func TestLimitedUnderConcurrentSends(t *testing.T) {
	ch := &counter{}
	l := Limited(ch, 30, func() time.Time { return at })
	var limited atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				if l.Send(context.Background(), Notification{}) != nil {
					limited.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 30, ch.n.Load())
	assert.EqualValues(t, 70, limited.Load())
}

func TestLimitedWithoutALimitIsTheChannel(t *testing.T) {
	ch := &counter{}
	assert.Same(t, Channel(ch), Limited(ch, 0, nil))
}
