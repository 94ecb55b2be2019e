package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/ingress/wshub"
)

// fleetFeed is what the live feed reads: the directory's rows and summary
// in the admin API's JSON shapes.
type fleetFeed struct {
	dir *actors.Directory
	now func() time.Time
}

func (f fleetFeed) DrainChanged(dst []uuid.UUID) []uuid.UUID { return f.dir.DrainChanged(dst) }

func (f fleetFeed) AppendStatus(dst []byte, id uuid.UUID) ([]byte, bool) {
	row, ok := f.dir.Row(id, f.now())
	if !ok {
		return dst, false
	}
	return appendDeviceJSON(dst, &row), true
}

func (f fleetFeed) AppendSummary(dst []byte) []byte {
	sum := f.dir.Summary(f.now())
	b, _ := json.Marshal(toSummaryJSON(&sum)) // plain structs: cannot fail
	return append(dst, b...)
}

var errCannotRead = errors.New("this user may not read the fleet")

// feedAuth accepts the access tokens the admin API accepts from users.
func (s *Server) feedAuth(token string, now time.Time) (wshub.Identity, error) {
	p, err := s.deps.Sessions.ParseAccess(token, now)
	if err != nil {
		return wshub.Identity{}, err
	}
	if !p.Can(adminauth.Read) {
		return wshub.Identity{}, errCannotRead
	}
	return wshub.Identity{Actor: p.Actor(), ExpiresAt: p.ExpiresAt}, nil
}

// liveFeed is GET /admin/ws. The hub authenticates by itself: a browser
// cannot set headers on a WebSocket. It reports refused tokens to the same
// throttle as the admin API's, and throttled addresses are turned away
// here, before the upgrade.
func (s *Server) liveFeed(ctx *fasthttp.RequestCtx) {
	ip, now := ctx.RemoteIP().String(), s.now()
	if wait, blocked := s.authFail.blocked(ip, now); blocked {
		writeError(ctx, &Error{Status: fasthttp.StatusTooManyRequests, Code: "rate_limited",
			Message: "too many failed authentications from this address; wait for Retry-After", RetryAfter: wait})
		return
	}
	s.hub.Handle(ctx)
}

// RunFeed runs the live feed until ctx ends, then closes every dashboard
// connection; call it before Serve, and wait for it before Shutdown, which
// does not wait for upgraded connections.
func (s *Server) RunFeed(ctx context.Context) { s.hub.Run(ctx) }

// Presence forwards the directory's presence transitions to the live feed,
// which is built after the directory it reads.
type Presence struct{ hub atomic.Pointer[wshub.Hub] }

// Publish implements actors.Publisher.
func (p *Presence) Publish(typ string, deviceID uuid.UUID, data any) {
	if h := p.hub.Load(); h != nil {
		h.Publish(typ, deviceID, data)
	}
}

// DeviceOnline implements actors.StatusListener.
func (p *Presence) DeviceOnline(id uuid.UUID, at time.Time) {
	if h := p.hub.Load(); h != nil {
		h.DeviceOnline(id, at)
	}
}

// DeviceOffline implements actors.StatusListener.
func (p *Presence) DeviceOffline(id uuid.UUID, at, lastSeen time.Time) {
	if h := p.hub.Load(); h != nil {
		h.DeviceOffline(id, at, lastSeen)
	}
}
