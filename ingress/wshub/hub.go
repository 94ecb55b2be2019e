package wshub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Source is what the hub reads on each flush. The device directory
// implements it. DrainChanged and AppendStatus are called from Run's
// goroutine only; AppendSummary is also called from connection goroutines
// (a summary follows every successful auth), so it must be safe for
// concurrent use.
type Source interface {
	// DrainChanged appends to dst the devices whose status changed since
	// the previous call, each at most once, and returns dst.
	DrainChanged(dst []Change) []Change
	// AppendStatus appends the JSON object describing what changed of a
	// device's status, and reports false if the device no longer exists.
	AppendStatus(dst []byte, c Change) ([]byte, bool)
	// AppendSummary appends the JSON object of the fleet summary.
	AppendSummary(dst []byte) []byte
}

// Change is a device whose status changed. What is the source's own note
// of what changed, handed back to AppendStatus, so that it can send only
// that.
type Change struct {
	ID   uuid.UUID
	What uint32
}

// Authenticator turns a bearer credential (a JWT) into who the client is
// and when that credential expires. It returns an error for anything
// invalid, including a principal that may not read the fleet.
type Authenticator func(token string, now time.Time) (Identity, error)

// Identity is an authenticated dashboard client.
type Identity struct {
	Actor     string    // who, for logs
	ExpiresAt time.Time // the client must re-authenticate by then; zero: never
}

// Config tunes the hub. DefaultConfig holds sensible values.
type Config struct {
	StatusInterval   time.Duration // device.status flush; a device appears at most once per interval
	EventInterval    time.Duration // discrete events flush, and token expiry checks
	SummaryInterval  time.Duration // fleet.summary push
	PingInterval     time.Duration // server pings
	PongTimeout      time.Duration // nothing read for this long (not even a pong) closes the client
	WriteTimeout     time.Duration // per message write
	AuthTimeout      time.Duration // to send the auth message when there is no ?token=
	SendQueue        int           // messages queued per client; overflow drops the client
	MaxClients       int           // more connections get 503 before the upgrade
	MaxMessageBytes  int64         // read limit for client messages
	MaxPendingEvents int           // published events awaiting a flush; more are dropped and counted
	MaxBatchBytes    int           // a batch message is split to stay under this size
	MaxSubscriptions int           // device ids one client may follow
	AllowedOrigins   []string      // extra Origins allowed besides the request's own host, e.g. "https://admin.example.com"
}

// DefaultConfig holds the production defaults.
func DefaultConfig() Config {
	return Config{
		StatusInterval:   time.Second,
		EventInterval:    200 * time.Millisecond,
		SummaryInterval:  5 * time.Second,
		PingInterval:     20 * time.Second,
		PongTimeout:      45 * time.Second,
		WriteTimeout:     10 * time.Second,
		AuthTimeout:      5 * time.Second,
		SendQueue:        256,
		MaxClients:       1000,
		MaxMessageBytes:  4096,
		MaxPendingEvents: 100_000,
		MaxBatchBytes:    1 << 20,
		MaxSubscriptions: 50,
	}
}

// withDefaults fills unset (zero or negative) fields from DefaultConfig,
// since a zero interval or queue would panic or drop every client.
func (cfg Config) withDefaults() Config {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *time.Duration }{
		{&cfg.StatusInterval, &d.StatusInterval}, {&cfg.EventInterval, &d.EventInterval},
		{&cfg.SummaryInterval, &d.SummaryInterval}, {&cfg.PingInterval, &d.PingInterval},
		{&cfg.PongTimeout, &d.PongTimeout}, {&cfg.WriteTimeout, &d.WriteTimeout}, {&cfg.AuthTimeout, &d.AuthTimeout},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	for _, f := range []struct{ v, def *int }{
		{&cfg.SendQueue, &d.SendQueue}, {&cfg.MaxClients, &d.MaxClients}, {&cfg.MaxPendingEvents, &d.MaxPendingEvents},
		{&cfg.MaxBatchBytes, &d.MaxBatchBytes}, {&cfg.MaxSubscriptions, &d.MaxSubscriptions},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = d.MaxMessageBytes
	}
	cfg.SendQueue = max(cfg.SendQueue, 4) // auth.ok, the summary and a reply or two come back to back
	return cfg
}

// Deps are the hub's collaborators.
type Deps struct {
	Source   Source
	Auth     Authenticator
	Failed   func(remoteIP string) // told of every refused token, query or message, for throttling; nil: nobody
	Log      zerolog.Logger
	Now      func() time.Time      // envelope times and token expiry; nil: time.Now. Socket deadlines use the real clock.
	Registry prometheus.Registerer // nil: metrics are not registered
}

// Errors a connection can meet before it joins the hub.
var (
	// ErrShuttingDown means Run has ended and the hub takes no new clients.
	ErrShuttingDown = errors.New("wshub: shutting down")
	// ErrFull means the hub already has MaxClients connections.
	ErrFull = errors.New("wshub: too many clients")
)

// Hub is the live feed. Handle serves connections; Run flushes to them.
type Hub struct {
	cfg      Config
	src      Source
	auth     Authenticator
	failed   func(remoteIP string)
	log      zerolog.Logger
	now      func() time.Time
	m        *metrics
	upgrader websocket.FastHTTPUpgrader

	mu        sync.Mutex
	conns     map[*client]struct{} // every open connection, authenticated or not
	closed    bool                 // Run has ended
	wg        sync.WaitGroup       // one per entry in conns
	listeners atomic.Int64         // authenticated clients; Publish skips work at zero

	evMu    sync.Mutex
	pending []event // published since the last event flush
	spare   []event // the previous pending slice, kept for its capacity

	changes []Change // DrainChanged's buffer, reused by Run's goroutine
	enc     encoder  // Run's goroutine's buffers
}

// event is one Publish call, encoded at the next flush.
type event struct {
	typ      string
	deviceID uuid.UUID
	data     any
}

// New builds a hub. Call Run for it to flush, and route GET /admin/ws to Handle.
func New(cfg Config, deps Deps) *Hub {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg: cfg, src: deps.Source, auth: deps.Auth, failed: deps.Failed, log: deps.Log, now: deps.Now,
		conns: make(map[*client]struct{}),
	}
	h.m = newMetrics(deps.Registry, h.Clients)
	h.upgrader = websocket.FastHTTPUpgrader{
		CheckOrigin:       h.checkOrigin,
		EnableCompression: true, // a shared batch is compressed once, in its PreparedMessage
		Error:             upgradeError,
	}
	return h
}

// Clients is the number of open connections, authenticated or not.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Listening reports whether any authenticated client would get a Publish;
// a publisher of many events can skip building them when none would.
func (h *Hub) Listening() bool { return h.listeners.Load() > 0 }

// Publish queues a discrete event (device.online, device.offline, alert.*,
// command.*, job.*) for the next flush, where events of one type are sent
// together as one array. deviceID is uuid.Nil for fleet-wide events, which
// every client gets. It never blocks on clients and is safe to call from
// actor goroutines. data is JSON-encoded at the flush, not now: pass
// values, or maps and pointers the caller no longer changes.
func (h *Hub) Publish(typ string, deviceID uuid.UUID, data any) {
	if !h.Listening() {
		return // nobody to tell; don't hold payloads for nothing
	}
	h.evMu.Lock()
	if len(h.pending) >= h.cfg.MaxPendingEvents {
		h.evMu.Unlock()
		h.m.eventsDropped.Inc()
		return
	}
	h.pending = append(h.pending, event{typ: typ, deviceID: deviceID, data: data})
	h.evMu.Unlock()
}

// DeviceOnline publishes device.online, so the hub can listen to presence.
func (h *Hub) DeviceOnline(id uuid.UUID, at time.Time) {
	h.Publish("device.online", id, onlineEvent{At: at})
}

// DeviceOffline publishes device.offline, so the hub can listen to presence.
func (h *Hub) DeviceOffline(id uuid.UUID, at, lastSeen time.Time) {
	h.Publish("device.offline", id, offlineEvent{At: at, LastSeen: lastSeen})
}

type onlineEvent struct {
	At time.Time `json:"at"`
}

type offlineEvent struct {
	At       time.Time `json:"at"`
	LastSeen time.Time `json:"last_seen"`
}

// Run flushes until ctx ends, then closes every client with 1001 (going
// away) and returns once all their goroutines have ended, which takes at
// most about WriteTimeout plus a second.
func (h *Hub) Run(ctx context.Context) {
	status := time.NewTicker(h.cfg.StatusInterval)
	defer status.Stop()
	events := time.NewTicker(h.cfg.EventInterval)
	defer events.Stop()
	summary := time.NewTicker(h.cfg.SummaryInterval)
	defer summary.Stop()
	for {
		select {
		case <-ctx.Done():
			h.shutdown()
			return
		case <-status.C:
			h.flushStatus(h.now())
		case <-events.C:
			now := h.now()
			h.expire(now)
			h.flushEvents(now)
		case <-summary.C:
			h.pushSummary(h.now())
		}
	}
}

// add admits a connection.
func (h *Hub) add(c *client) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return ErrShuttingDown
	case len(h.conns) >= h.cfg.MaxClients:
		return ErrFull // a burst got past Handle's check
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	return nil
}

// remove forgets a connection whose goroutines have ended.
func (h *Hub) remove(c *client) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	if c.ready.Load() {
		h.listeners.Add(-1)
	}
	h.wg.Done()
}

// listen makes an authenticated client part of the feed.
func (h *Hub) listen(c *client) {
	if !c.ready.Swap(true) {
		h.listeners.Add(1)
	}
}

// full reports whether a new connection would be turned away.
func (h *Hub) full() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrShuttingDown
	}
	if len(h.conns) >= h.cfg.MaxClients {
		return ErrFull
	}
	return nil
}

// feed appends the clients that get broadcasts to dst.
func (h *Hub) feed(dst []*client) []*client {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		if c.ready.Load() {
			dst = append(dst, c)
		}
	}
	return dst
}

// expire closes the clients whose credential has expired by now.
func (h *Hub) expire(now time.Time) {
	for _, c := range h.feed(nil) {
		if exp := c.expires.Load(); exp != 0 && now.UnixNano() >= exp {
			c.close(causeExpired)
		}
	}
}

func (h *Hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	all := make([]*client, 0, len(h.conns))
	for c := range h.conns {
		all = append(all, c)
	}
	h.mu.Unlock()
	for _, c := range all {
		c.close(causeShutdown)
	}
	h.wg.Wait()
}
