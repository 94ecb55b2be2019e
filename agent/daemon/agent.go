// Package daemon is the running agent: it enrolls, sends heartbeats through
// its persistent queue, drains the queue with backoff, runs signed commands
// and keeps itself updated. cmd/nexmdm-agent is a thin shell around Run.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nexmdm/nexmdm/agent/backoff"
	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/executor"
	"github.com/nexmdm/nexmdm/agent/ota"
	"github.com/nexmdm/nexmdm/agent/queue"
	"github.com/nexmdm/nexmdm/agent/telemetry"
)

// Why the agent stopped on its own.
var (
	ErrGone         = errors.New("the server says this device was deleted or its token revoked (410); credentials wiped, enroll again to come back")
	ErrUnauthorized = errors.New("the server refused this device's token (401) and no enroll key is configured to enroll again; run with --enroll-key")
	ErrNotEnrolled  = errors.New("this device is not enrolled: run with --server and --enroll-key")
	ErrConfig       = errors.New("configuration")
	// ErrRestart asks the caller to start the agent's (new) binary again.
	ErrRestart = errors.New("restart into the updated agent")
)

// Deps are the agent's parts that tests and platforms swap.
type Deps struct {
	HTTP      *http.Client
	Collector telemetry.Collector
	Runner    executor.Runner
	Platform  ota.Platform
	Online    func() bool      // polled to drain the moment the network returns
	InCall    func() bool      // for an offer's not_in_call
	Now       func() time.Time // device clock, for timestamps and signature windows
	Rand      func() float64   // jitter
	Log       *slog.Logger
	LogLevel  *slog.LevelVar // set_config's log_level changes it
}

// Agent is one running agent.
type Agent struct {
	cfg     Config
	deps    Deps
	db      *bolt.DB
	st      *store
	q       *queue.Queue
	proto   *client.Client
	exec    executor.Set
	updater *ota.Updater
	policy  backoff.Policy

	mu       sync.Mutex
	creds    *credentials
	settings settings
	interval time.Duration // the server's, unless set_config overrode it
	reading  telemetry.Reading

	drainNow    chan struct{} // a new item
	netBack     chan struct{} // the network returned: drain now, backoff or not
	heartbeatCh chan struct{} // the interval changed
	updateNow   chan struct{}
	commands    chan []byte
	stop        chan error // fatal: 410, 401 with no way back, restart
}

// Open prepares an agent: its state file and its parts. Close releases it.
func Open(cfg Config, deps Deps) (*Agent, error) {
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	db, err := bolt.Open(filepath.Join(cfg.StateDir, "agent.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open the agent's state (is another agent running with --state-dir %s?): %w", cfg.StateDir, err)
	}
	a := &Agent{cfg: cfg, deps: deps, db: db,
		proto:       client.New(&client.HTTPTransport{BaseURL: cfg.ServerURL, Client: deps.HTTP}),
		policy:      backoff.Agent(deps.Rand),
		interval:    cfg.HeartbeatInterval,
		drainNow:    make(chan struct{}, 1),
		netBack:     make(chan struct{}, 1),
		heartbeatCh: make(chan struct{}, 1),
		updateNow:   make(chan struct{}, 1),
		commands:    make(chan []byte, 64),
		stop:        make(chan error, 1),
	}
	if err := a.load(); err != nil {
		db.Close()
		return nil, err
	}
	a.exec = a.executors()
	a.updater = a.newUpdater()
	return a, nil
}

func (a *Agent) load() error {
	var err error
	if a.st, err = openStore(a.db); err != nil {
		return err
	}
	if _, err := a.st.load("settings", &a.settings); err != nil {
		return err
	}
	lim := a.cfg.QueueLimits
	if a.settings.QueueMaxItems > 0 {
		lim.MaxItems = a.settings.QueueMaxItems
	}
	if a.settings.LogLevel != "" && a.deps.LogLevel != nil {
		a.deps.LogLevel.Set(parseLevel(a.settings.LogLevel))
	}
	if a.q, err = queue.Open(a.db, lim, a.deps.Now, a.deps.Log); err != nil {
		return err
	}
	var c credentials
	if ok, err := a.st.load("credentials", &c); err != nil {
		return err
	} else if ok {
		a.creds = &c
	}
	return a.st.forgetSeenBefore(a.deps.Now().Add(-7 * 24 * time.Hour))
}

// Close releases the state file.
func (a *Agent) Close() error { return a.db.Close() }

// QueueDepth is how many items wait for delivery.
func (a *Agent) QueueDepth() int { return a.q.Len() }

// DeviceID is the enrolled id, or "".
func (a *Agent) DeviceID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.creds == nil {
		return ""
	}
	return a.creds.DeviceID
}

// Run enrolls if needed, then works until ctx ends (nil) or the agent must
// stop (ErrGone, ErrUnauthorized, ErrRestart).
func (a *Agent) Run(ctx context.Context) error {
	if a.token() == "" {
		if err := a.enroll(ctx); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){a.heartbeatLoop, a.drainLoop, a.commandLoop, a.netWatch, a.updateLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); loop(ctx) }()
	}
	a.kick(a.drainNow) // a backlog from before the restart goes out now
	var err error
	select {
	case <-ctx.Done():
	case err = <-a.stop:
	}
	cancel()
	wg.Wait()
	return err
}

func (a *Agent) halt(err error) {
	select {
	case a.stop <- err:
	default:
	}
}

func (a *Agent) kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (a *Agent) token() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.creds == nil {
		return ""
	}
	return a.creds.Token
}

// enroll registers with the enroll key: first enrollment, or again after
// the server forgot the token (401). The serial keeps the device id.
func (a *Agent) enroll(ctx context.Context) error {
	if a.cfg.EnrollKey == "" || a.cfg.ServerURL == "" {
		return ErrNotEnrolled
	}
	for attempt := 0; ; attempt++ {
		reg, err := a.proto.Register(ctx, a.cfg.EnrollKey, a.cfg.registerRequest())
		if err == nil {
			c := credentialsFrom(reg)
			if err := a.st.save("credentials", c); err != nil {
				return err
			}
			a.mu.Lock()
			a.creds = c
			a.setServerInterval(reg.HeartbeatIntervalS)
			a.mu.Unlock()
			a.deps.Log.Info("enroll.ok", "device_id", reg.DeviceID)
			return nil
		}
		var perr *client.Error
		if errors.As(err, &perr) && !perr.Retryable() {
			return fmt.Errorf("enroll: %w", err)
		}
		d := a.policy.Delay(attempt, retryAfter(err))
		a.deps.Log.Warn("retry.schedule", "what", "enroll", "in", d.String(), "err", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

func retryAfter(err error) time.Duration {
	var perr *client.Error
	if errors.As(err, &perr) {
		return perr.RetryAfter
	}
	return 0
}
