package ingress

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// adminKeyOK compares X-Admin-Key with the configured key in constant time
// (over digests, so the key's length does not leak either).
func (s *Server) adminKeyOK(ctx *fasthttp.RequestCtx) bool {
	got := ctx.Request.Header.Peek("X-Admin-Key")
	if len(got) == 0 || s.cfg.AdminKey == "" {
		return false
	}
	a := sha256.Sum256(got)
	b := sha256.Sum256([]byte(s.cfg.AdminKey))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// requireAdminKey guards a route with X-Admin-Key. Repeated failures from one
// address are throttled with 429.
func (s *Server) requireAdminKey(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if e := s.checkAdminKey(ctx); e != nil {
			writeError(ctx, e)
			return
		}
		h(ctx)
	}
}

func (s *Server) checkAdminKey(ctx *fasthttp.RequestCtx) *Error {
	ip := ctx.RemoteIP().String()
	now := s.now()
	if wait, blocked := s.authFail.blocked(ip, now); blocked {
		return &Error{Status: fasthttp.StatusTooManyRequests, Code: "rate_limited",
			Message: "too many failed authentications from this address; wait for Retry-After", RetryAfter: wait}
	}
	if !s.adminKeyOK(ctx) {
		s.authFail.fail(ip, now)
		s.log.Warn().Str("event", "auth.admin_key.fail").Str("ip", ip).Bytes("path", ctx.Path()).Msg("bad admin key")
		return errorf(fasthttp.StatusUnauthorized, "invalid_admin_key", "send a valid admin key in the X-Admin-Key header")
	}
	return nil
}

// failureLimiter counts authentication failures per client address in fixed
// windows and blocks an address that exceeds max in one window.
type failureLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	counts map[string]*failureWindow
}

type failureWindow struct {
	start time.Time
	n     int
}

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	return &failureLimiter{max: max, window: window, counts: map[string]*failureWindow{}}
}

func (l *failureLimiter) blocked(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.counts[key]
	if w == nil || now.Sub(w.start) >= l.window || w.n < l.max {
		return 0, false
	}
	return w.start.Add(l.window).Sub(now), true
}

func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.counts) > 100_000 { // forget stale windows rather than grow without bound
		for k, w := range l.counts {
			if now.Sub(w.start) >= l.window {
				delete(l.counts, k)
			}
		}
	}
	w := l.counts[key]
	if w == nil || now.Sub(w.start) >= l.window {
		l.counts[key] = &failureWindow{start: now, n: 1}
		return
	}
	w.n++
}
