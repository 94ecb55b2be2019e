package notify

import (
	"context"
	"sync"
	"time"
)

// DiscordPerMinute is Discord's documented budget for one webhook, about
// 30 messages a minute.
const DiscordPerMinute = 30

// Limited wraps ch with a token bucket of perMinute messages (burst =
// perMinute), refilled evenly over the minute. Send beyond it returns
// ErrRateLimited at once, without calling ch, so the caller can fold the
// message into a digest. now is the clock (nil: time.Now); perMinute <= 0
// means no limit and returns ch itself.
func Limited(ch Channel, perMinute int, now func() time.Time) Channel {
	if perMinute <= 0 {
		return ch
	}
	if now == nil {
		now = time.Now
	}
	return &limited{ch: ch, now: now, burst: float64(perMinute), tokens: float64(perMinute),
		perSecond: float64(perMinute) / 60}
}

type limited struct {
	ch        Channel
	now       func() time.Time
	burst     float64 // bucket size
	perSecond float64 // refill rate

	mu     sync.Mutex
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

// Send spends a token and sends, or returns ErrRateLimited. A message that
// then fails to send still spends its token: the service saw it.
func (l *limited) Send(ctx context.Context, n Notification) error {
	if !l.allow(l.now()) {
		return ErrRateLimited
	}
	return l.ch.Send(ctx, n)
}

func (l *limited) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.After(l.last) {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.perSecond)
	}
	if l.last.IsZero() || now.After(l.last) {
		l.last = now
	}
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
