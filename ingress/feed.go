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
	dir     *actors.Directory
	now     func() time.Time
	changes []actors.RowChange // DrainChanged's buffer; the hub calls it from one goroutine
}

func (f *fleetFeed) DrainChanged(dst []wshub.Change) []wshub.Change {
	f.changes = f.dir.DrainChanged(f.changes[:0])
	for _, c := range f.changes {
		dst = append(dst, wshub.Change{ID: c.ID, What: uint32(c.Fields)})
	}
	return dst
}

// AppendStatus appends a new or re-described device's whole row, and of
// any other only its id, last_seen and what changed: most rows go out
// because a heartbeat moved a field or two.
func (f *fleetFeed) AppendStatus(dst []byte, c wshub.Change) ([]byte, bool) {
	row, ok := f.dir.Row(c.ID, f.now())
	if !ok {
		return dst, false
	}
	fields := actors.RowFields(c.What)
	if fields&actors.RowFacts != 0 {
		return appendDeviceJSON(dst, &row), true
	}
	return appendDevicePatch(dst, &row, fields), true
}

func (f *fleetFeed) AppendSummary(dst []byte) []byte {
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
