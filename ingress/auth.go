package ingress

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

const principalKey = "principal"

// adminKeyOK compares a presented key with NEXMDM_ADMIN_KEY in constant time
// (over digests, so the key's length does not leak either).
func (s *Server) adminKeyOK(got []byte) bool {
	if len(got) == 0 || s.cfg.AdminKey == "" {
		return false
	}
	a := sha256.Sum256(got)
	b := sha256.Sum256([]byte(s.cfg.AdminKey))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// authorize guards an admin route: the caller must authenticate (a JWT as
// `Authorization: Bearer`, an API key as `Authorization: Bearer nxk_…` or
// `X-Admin-Key`, or NEXMDM_ADMIN_KEY as `X-Admin-Key`) and hold perm.
// Repeated failures from one address are throttled with 429.
func (s *Server) authorize(perm adminauth.Permission, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		p, e := s.authenticate(ctx)
		if e != nil {
			writeError(ctx, e)
			return
		}
		if !p.Can(perm) {
			writeError(ctx, errorf(fasthttp.StatusForbidden, "forbidden",
				"%s may not do this: it needs the %q permission", p.Actor(), perm))
			return
		}
		ctx.SetUserValue(principalKey, p)
		h(ctx)
	}
}

// principal is the caller authorize let through.
func principal(ctx *fasthttp.RequestCtx) *adminauth.Principal {
	p, _ := ctx.UserValue(principalKey).(*adminauth.Principal)
	return p
}

func (s *Server) authenticate(ctx *fasthttp.RequestCtx) (*adminauth.Principal, *Error) {
	ip := ctx.RemoteIP().String()
	now := s.now()
	if wait, blocked := s.authFail.blocked(ip, now); blocked {
		return nil, &Error{Status: fasthttp.StatusTooManyRequests, Code: "rate_limited",
			Message: "too many failed authentications from this address; wait for Retry-After", RetryAfter: wait}
	}
	p, e := s.resolve(ctx, now)
	if e != nil {
		if e.Code != "unauthenticated" { // only a wrong secret is a guess worth throttling
			s.authFail.fail(ip, now)
		}
		s.log.Warn().Str("event", "auth.fail").Str("ip", ip).Str("code", e.Code).Bytes("path", ctx.Path()).Msg("authentication failed")
		return nil, e
	}
	return p, nil
}

func (s *Server) resolve(ctx *fasthttp.RequestCtx, now time.Time) (*adminauth.Principal, *Error) {
	bearer, hasBearer := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Bearer "))
	key := ctx.Request.Header.Peek("X-Admin-Key")
	switch {
	case hasBearer && bytes.HasPrefix(bearer, []byte("nxk_")):
		return s.resolveAPIKey(string(bearer), now)
	case hasBearer:
		p, err := s.deps.Sessions.ParseAccess(string(bearer), now)
		if err != nil {
			return nil, errorf(fasthttp.StatusUnauthorized, "invalid_token",
				"the access token is expired, malformed or not ours; log in again or refresh it")
		}
		return p, nil
	case len(key) > 0 && bytes.HasPrefix(key, []byte("nxk_")):
		return s.resolveAPIKey(string(key), now)
	case len(key) > 0:
		if s.adminKeyOK(key) {
			return adminauth.AdminKeyPrincipal, nil
		}
		return nil, errorf(fasthttp.StatusUnauthorized, "invalid_admin_key", "send a valid admin key in the X-Admin-Key header")
	}
	return nil, errorf(fasthttp.StatusUnauthorized, "unauthenticated",
		"authenticate with `Authorization: Bearer <access token>` or an API key in X-Admin-Key")
}

func (s *Server) resolveAPIKey(key string, now time.Time) (*adminauth.Principal, *Error) {
	bad := errorf(fasthttp.StatusUnauthorized, "invalid_api_key", "the API key is unknown, revoked or expired")
	prefix, ok := adminauth.APIKeyPrefix(key)
	if !ok || s.deps.APIKeys == nil {
		return nil, bad
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k, err := s.deps.APIKeys.ByPrefix(c, prefix)
	if errors.Is(err, pgstore.ErrNotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, &Error{Status: fasthttp.StatusServiceUnavailable, Code: "store_unavailable",
			Message: "the API key could not be checked; retry", RetryAfter: time.Second}
	}
	if !adminauth.DigestEqual(k.Digest, s.deps.Sessions.Digest(key)) || k.RevokedAt != nil ||
		(k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
		return nil, bad
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= time.Minute {
		if err := s.deps.APIKeys.Touch(c, k.ID, now); err != nil {
			s.log.Warn().Str("event", "api_key.touch.error").Err(err).Msg("could not record key use")
		}
	}
	p := &adminauth.Principal{Kind: "key", ID: k.ID, Name: k.Name, Scopes: k.Scopes}
	if k.ExpiresAt != nil {
		p.ExpiresAt = *k.ExpiresAt
	}
	return p, nil
}

// failureLimiter counts failures per key (an address, a username) in fixed
// windows and blocks a key that exceeds max in one window.
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

// admit counts an operation of key at now unless max are already counted
// in the window, and then says how long until the window ends.
func (l *failureLimiter) admit(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	blocked := false
	var wait time.Duration
	if w := l.counts[key]; w != nil && now.Sub(w.start) < l.window && w.n >= l.max {
		blocked, wait = true, w.start.Add(l.window).Sub(now)
	}
	l.mu.Unlock()
	if blocked {
		return wait, false
	}
	l.fail(key, now)
	return 0, true
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
