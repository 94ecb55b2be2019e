// Package alerting is the alerts supervisor: it takes rule transitions
// from device actors, records every one in Postgres and on the live feed,
// and notifies operators with little noise: a storm of the same rule
// becomes one digest per channel, channels keep their rate limits, and a
// slow or failing channel never holds up ingest or loses the record.
package alerting

import (
	"context"
	"crypto/tls"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/actors/notify"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// Config tunes the supervisor.
type Config struct {
	Flush          time.Duration // how often transitions are stored and published
	Window         time.Duration // notifications of one rule gather this long before they go out
	StormThreshold int           // this many devices in one window make a digest
	Severity       map[string]notify.Severity
	DashboardURL   string // links in messages; "" for none
	Remediation    RemediationConfig
	SMTPTLS        *tls.Config // roots for SMTP servers; nil: the system's
}

// DefaultConfig: a 30 s window, digests from 10 devices, offline and low
// battery as warnings, service down and release failures as critical.
func DefaultConfig() Config {
	return Config{
		Flush: time.Second, Window: 30 * time.Second, StormThreshold: 10,
		Severity: map[string]notify.Severity{
			"offline": notify.Warning, "low_battery": notify.Warning,
			"service_down": notify.Critical, "release_failures": notify.Critical,
		},
		Remediation: RemediationConfig{MaxAttempts: 3, FirstRetry: 2 * time.Minute},
	}
}

// Route is a channel and the least severity it takes.
type Route struct {
	Name        string
	Channel     notify.Channel
	MinSeverity notify.Severity
}

// Publisher is the live feed.
type Publisher interface {
	Publish(typ string, deviceID uuid.UUID, data any)
}

// Deps are the supervisor's parts.
type Deps struct {
	Store     *pgstore.Alerts
	Feed      Publisher                                // nil: no live feed
	Names     func(uuid.UUID) string                   // a device's alias, for messages
	Remediate func(device uuid.UUID, pkg string) error // sends a signed launch_app; nil: no remediation
	Routes    []Route
	Now       func() time.Time
	Log       zerolog.Logger
	Registry  prometheus.Registerer
}

// Supervisor is the alerts supervisor.
type Supervisor struct {
	cfg  Config
	deps Deps
	m    *metrics

	mu      sync.Mutex
	pending []pgstore.AlertChange // to store
	window  map[groupKey]*group   // stored, to notify
	remedy  map[uuid.UUID]*remediation
	routes  []*routeWorker
	rules   map[string]ruleConfig
	runCtx  context.Context // set by Run: route workers live in it
}

type groupKey struct {
	rule  string
	fired bool
}

// group is a rule's notifications in one direction. It gathers until
// Window passes with nothing new, or ten windows since its first: devices of
// a site that lost power go offline over a heartbeat interval, not at once,
// and still make one digest.
type group struct {
	started, last time.Time
	items         []item
}

// due reports whether the group's window has closed.
func (g *group) due(now time.Time, window time.Duration) bool {
	return now.Sub(g.last) >= window || now.Sub(g.started) >= 10*window
}

// item is one notification waiting for its window.
type item struct {
	alert  pgstore.AlertRecord
	device string
}

// New returns a supervisor; Run starts it.
func New(cfg Config, deps Deps) *Supervisor {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Supervisor{cfg: cfg, deps: deps, m: newMetrics(deps.Registry),
		window: map[groupKey]*group{}, remedy: map[uuid.UUID]*remediation{}}
	for _, r := range deps.Routes {
		s.routes = append(s.routes, newRouteWorker(r, s.m, deps.Log))
	}
	s.rules = map[string]ruleConfig{}
	return s
}

// Attach gives the supervisor the parts made after it: device names from
// the directory, the live feed, and remediation through the command path.
// Call it before Run.
func (s *Supervisor) Attach(names func(uuid.UUID) string, feed Publisher, remediate func(uuid.UUID, string) error) {
	s.deps.Names, s.deps.Feed, s.deps.Remediate = names, feed, remediate
}

// AlertTransition implements actors.AlertSink: it queues and returns.
func (s *Supervisor) AlertTransition(t actors.AlertTransition) {
	id := t.Device
	s.enqueue(pgstore.AlertChange{ID: uuid.New(), DeviceID: &id, Rule: t.Rule.String(),
		Severity: string(s.severity(t.Rule.String())), Fired: t.Fired, Notified: t.Fired && !t.Quiet, At: t.At, Details: t.Details})
}

// Raise records and notifies a fleet-level alert, such as a release that
// paused itself.
func (s *Supervisor) Raise(rule string, details map[string]any) {
	s.enqueue(pgstore.AlertChange{ID: uuid.New(), Rule: rule, Severity: string(s.severity(rule)), Fired: true,
		Notified: true, At: s.deps.Now(), Details: details})
}

func (s *Supervisor) enqueue(c pgstore.AlertChange) {
	s.mu.Lock()
	s.pending = append(s.pending, c)
	s.mu.Unlock()
}

func (s *Supervisor) severity(rule string) notify.Severity {
	s.mu.Lock()
	rc, ok := s.rules[rule]
	s.mu.Unlock()
	if ok && rc.severity != "" {
		return rc.severity
	}
	if sev, ok := s.cfg.Severity[rule]; ok {
		return sev
	}
	return notify.Warning
}

// Run stores, publishes, remediates and notifies until ctx ends; then it
// stores what is pending one last time.
func (s *Supervisor) Run(ctx context.Context) {
	s.mu.Lock()
	s.runCtx = ctx
	routes := s.routes
	s.mu.Unlock()
	for _, r := range routes {
		go r.run(ctx, s.cfg.Window)
	}
	flush := time.NewTicker(s.cfg.Flush)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.store(c)
			cancel()
			return
		case <-flush.C:
			s.store(ctx)
			s.remediate(ctx)
			s.notify(s.deps.Now())
		}
	}
}

// store writes pending changes. On failure they stay pending for the next
// flush: an outage of Postgres delays the record, never drops it.
func (s *Supervisor) store(ctx context.Context) {
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	rows, err := s.deps.Store.Apply(ctx, batch)
	if err != nil {
		s.deps.Log.Error().Str("event", "alerts.store.error").Int("changes", len(batch)).Err(err).Msg("kept for the next flush")
		s.mu.Lock()
		s.pending = append(batch, s.pending...)
		s.mu.Unlock()
		return
	}
	for i := range rows {
		s.recorded(&rows[i])
	}
}

// recorded publishes a stored change and queues its notification.
func (s *Supervisor) recorded(a *pgstore.AlertRecord) {
	fired := a.ResolvedAt == nil
	typ := "alert.resolved"
	if fired {
		typ = "alert.fired"
	}
	s.m.transitions.WithLabelValues(a.Rule, typ[len("alert."):]).Inc()
	device := uuid.Nil
	name := ""
	if a.DeviceID != nil {
		device = *a.DeviceID
		if s.deps.Names != nil {
			name = s.deps.Names(device)
		}
	}
	if s.deps.Feed != nil {
		s.deps.Feed.Publish(typ, device, a)
	}
	if a.Rule == "service_down" {
		s.trackRemediation(a, fired)
	}
	if !a.Notified {
		return // fired inside the cooldown: the dashboard shows it and its end, nobody is paged
	}
	s.mu.Lock()
	k := groupKey{rule: a.Rule, fired: fired}
	now := s.deps.Now()
	g := s.window[k]
	if g == nil {
		g = &group{started: now}
		s.window[k] = g
	}
	g.last = now
	g.items = append(g.items, item{alert: *a, device: name})
	s.mu.Unlock()
}

// TestResult is how one channel took a test alert.
type TestResult struct {
	Channel string `json:"channel"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// SendTest sends a test message to every channel now, bypassing the
// window, and says how each took it.
func (s *Supervisor) SendTest(ctx context.Context, by string) []TestResult {
	n := notify.Notification{Kind: notify.KindTest, Severity: notify.Info, At: s.deps.Now(),
		Title: "Test alert from NexMDM", Text: "Sent by " + by + " to check this channel. Nothing is wrong."}
	s.mu.Lock()
	routes := s.routes
	s.mu.Unlock()
	out := make([]TestResult, 0, len(routes))
	for _, r := range routes {
		res := TestResult{Channel: r.route.Name, OK: true}
		if err := r.route.Channel.Send(ctx, n); err != nil {
			res.OK, res.Error = false, err.Error()
		}
		out = append(out, res)
	}
	return out
}
