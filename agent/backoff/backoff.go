// Package backoff decides how long the agent waits before retrying a
// delivery: exponential with full jitter, so that a fleet that lost its
// server together does not come back together, and never sooner than the
// server's Retry-After.
package backoff

import "time"

// Policy is exponential backoff with full jitter.
type Policy struct {
	Base time.Duration // the first ceiling
	Cap  time.Duration // the largest ceiling
	// Rand returns a number in [0, 1). Injected so tests see the bounds.
	Rand func() float64
}

// Agent is the agent's policy: 2 s base, 5 min cap.
func Agent(rand func() float64) Policy {
	return Policy{Base: 2 * time.Second, Cap: 5 * time.Minute, Rand: rand}
}

// MaxRetryAfter bounds how long a server's Retry-After can park the agent,
// so that a wrong header never silences a device for a day.
const MaxRetryAfter = 30 * time.Minute

// Ceiling is the most the attempt'th retry (from 0) waits before jitter:
// min(Cap, Base * 2^attempt).
func (p Policy) Ceiling(attempt int) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	d := p.Base
	for range attempt {
		if d >= p.Cap/2 {
			return p.Cap
		}
		d *= 2
	}
	return min(d, p.Cap)
}

// Delay is how long to wait before the attempt'th retry: uniform in
// [0, Ceiling(attempt)), but at least retryAfter (bounded by MaxRetryAfter).
func (p Policy) Delay(attempt int, retryAfter time.Duration) time.Duration {
	d := time.Duration(p.Rand() * float64(p.Ceiling(attempt)))
	return max(d, min(retryAfter, MaxRetryAfter))
}
