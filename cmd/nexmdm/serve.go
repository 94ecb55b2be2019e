package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/actors/lifecycle"
	"github.com/nexmdm/nexmdm/actors/rollout"
	"github.com/nexmdm/nexmdm/actors/signing"
	adminui "github.com/nexmdm/nexmdm/admin-ui"
	"github.com/nexmdm/nexmdm/ingress"
	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/ingress/devicetoken"
	"github.com/nexmdm/nexmdm/persistence/blobstore"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/snapstore"
)

// partitionsAhead is how many days of heartbeat partitions exist in advance.
const partitionsAhead = 7

// app is a running server: every part, in the order they start.
type app struct {
	cfg    config
	log    zerolog.Logger
	pool   *pgxpool.Pool
	rdb    *redis.Client
	parts  *pgstore.Partitions
	writer *pgstore.Writer
	snaps  *snapstore.Store
	system *actor.ActorSystem
	dir    *actors.Directory
	server *ingress.Server
	blobs  *blobstore.Store

	background   context.CancelFunc
	stopFeed     context.CancelFunc
	feedDone     chan struct{} // closed when every dashboard connection has ended
	shuttingDown atomic.Bool
	closeOnce    sync.Once
}

// serve runs the server until ctx ends, then shuts down gracefully: stop
// accepting, answer in-flight heartbeats (each after its commit), flush the
// writer, snapshot to Redis, exit. Nothing acknowledged is lost.
func serve(ctx context.Context, cfg config, log zerolog.Logger, stdout io.Writer) error {
	start := time.Now()
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.close(context.Background())
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	served := make(chan error, 1)
	go func() { served <- a.server.Serve(ln) }()
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, log)
	}
	log.Info().Str("event", "server.ready").Str("addr", ln.Addr().String()).
		Int("devices", a.dir.Len()).Int("actors", a.dir.Live()).
		Dur("startup", time.Since(start)).Msg("serving")
	fmt.Fprintf(stdout, "NexMDM is serving at %s\n", cfg.PublicURL)
	if adminui.Built() {
		fmt.Fprintf(stdout, "Dashboard: %s/\n", cfg.PublicURL)
	} else {
		fmt.Fprintln(stdout, "Dashboard: not built into this binary (make ui, then make build)")
	}
	if err := a.bootstrapAdmin(ctx, stdout); err != nil {
		log.Error().Str("event", "bootstrap.admin.error").Err(err).Msg("could not create the first admin")
	}
	if cfg.Env != "production" && cfg.AdminKey == defaultAdminKey {
		fmt.Fprintf(stdout, "Admin key (development default): %s\n", cfg.AdminKey)
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		a.close(context.Background())
		return fmt.Errorf("serve: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return a.shutdown(shutdownCtx)
}

func newApp(ctx context.Context, cfg config, log zerolog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			a.close(context.Background())
		}
	}()
	keys, err := signing.ParseKeyring(cfg.HMACMasterKeys)
	if err != nil {
		return nil, fmt.Errorf("NEXMDM_HMAC_MASTER_KEYS: %w", err)
	}
	if a.pool, err = pgstore.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns); err != nil {
		return nil, err
	}
	if err := pgstore.CheckSchema(ctx, a.pool); err != nil {
		return nil, err
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	a.rdb = redis.NewClient(ropts)
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("ping redis: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pgstore.RegisterPoolMetrics(reg, a.pool)

	if a.parts, err = pgstore.NewPartitions(ctx, a.pool); err != nil {
		return nil, err
	}
	now := time.Now()
	if err := a.parts.EnsureRange(ctx, now.Add(-24*time.Hour), now.Add(partitionsAhead*24*time.Hour)); err != nil {
		return nil, err
	}
	a.writer = pgstore.NewWriter(a.pool, a.parts, pgstore.WriterConfig{
		MaxBatch: cfg.WriterMaxBatch, Committers: cfg.WriterCommitters,
		QueueSize: cfg.WriterQueue, Linger: cfg.WriterLinger,
	}, reg, log)
	a.snaps = snapstore.New(a.rdb, snapstore.Config{Prefix: cfg.RedisPrefix}, reg, log)
	go a.snaps.Run()

	protoLog := log.With().Str("component", "protoactor").Logger().Level(zerolog.WarnLevel)
	a.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(zerolog.NewSlogHandler(protoLog))
	}))
	tokens := devicetoken.New([]byte(cfg.TokenPepper))
	bg, cancel := context.WithCancel(context.Background())
	a.background = cancel
	devices := pgstore.NewDevices(a.pool)
	actorCfg := actors.DefaultConfig()
	actorCfg.OfflineAfter = cfg.OfflineAfter
	actorCfg.FirstTickSpread = cfg.OfflineAfter // a restart's first ticks come no later than offline is noticed
	actorCfg.HeartbeatInterval = cfg.HeartbeatInterval
	actorCfg.SweepInterval = cfg.SweepInterval
	actorCfg.RateLimit, actorCfg.RateBurst = cfg.RateLimit, cfg.RateBurst
	actorCfg.PepperID = tokens.PepperID()
	actorCfg.HMACKeyID = keys.Current()
	presence := &ingress.Presence{}
	releases := pgstore.NewReleases(a.pool)
	jobs := pgstore.NewJobs(a.pool)
	alerts, err := newAlerting(ctx, cfg, a.pool, log, reg)
	if err != nil {
		return nil, err
	}
	commands := pgstore.NewCommands(a.pool)
	pusher, err := newPusher(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.dir = actors.NewDirectory(bg, actorCfg, actors.Deps{
		System: a.system, Sink: a.writer, Devices: devices, Snapshots: a.snaps,
		Commands: commands, Feed: presence, Pusher: pusher, Tokens: devices,
		Listeners: []actors.StatusListener{presence}, Alerts: alerts, AlertCfg: alertConfig(cfg), Registry: reg, Log: log,
	})
	loadStart := time.Now()
	// Hydration leaves as much garbage as the fleet's state; withLoadGC
	// collects it before the listener opens rather than in the first
	// seconds of serving, when every device comes back at once.
	if err := withLoadGC(func() error { return a.dir.Start(ctx) }); err != nil {
		return nil, err
	}
	log.Info().Str("event", "devices.loaded").Int("devices", a.dir.Len()).Int("actors", a.dir.Live()).
		Dur("took", time.Since(loadStart)).Msg("device actors hydrated")
	go a.dir.RunSweeper(bg)
	rcfg := actors.DefaultReconcileConfig() // hourly, under an advisory lock: one instance at a time
	rcfg.Every = cfg.ReconcileEvery
	go actors.NewReconciler(a.dir, pgstore.NewReconcile(a.pool), a.snaps, rcfg, reg, log).Run(bg)

	lcfg := lifecycle.DefaultConfig()
	lcfg.Every = cfg.PurgeEvery
	jobRunner := lifecycle.New(lcfg, jobs, a.dir, presence, time.Now, log)

	icfg := ingress.DefaultConfig()
	icfg.MaxBodyBytes = cfg.MaxBodyBytes
	icfg.Retention = time.Duration(cfg.RetentionDays) * 24 * time.Hour
	icfg.BcryptCost = cfg.BcryptCost
	icfg.AdminKey = cfg.AdminKey
	icfg.CORSOrigins = cfg.CORSOrigins
	icfg.AllowShell = cfg.AllowShell
	icfg.HeartbeatInterval = cfg.HeartbeatInterval
	icfg.MaxAPKBytes = int64(cfg.APKMaxBytes)
	icfg.PublicURL, icfg.AgentPackage, icfg.EnrollBloatware = cfg.PublicURL, cfg.AgentPackage, cfg.EnrollBloatware
	if a.blobs, err = blobstore.Open(ctx, cfg.BlobURL, blobstore.WithLogger(log), blobstore.WithRegisterer(reg)); err != nil {
		return nil, fmt.Errorf("NEXMDM_BLOB_URL: %w", err)
	}
	archiver := pgstore.NewArchiver(a.pool, a.blobs, time.Now, log, reg, pgstore.WithPartitionCache(a.parts))
	go a.maintainPartitions(bg, archiver)
	a.server = ingress.New(icfg, ingress.Deps{
		Directory: a.dir, Devices: devices, Commands: commands, Selections: pgstore.NewSelections(a.pool), Audit: pgstore.NewAudit(a.pool),
		Users: pgstore.NewUsers(a.pool), APIKeys: pgstore.NewAPIKeys(a.pool),
		APKs: pgstore.NewAPKs(a.pool), Blobs: a.blobs,
		Sessions: adminauth.NewSessions(cfg.JWTSecret),
		Tokens:   tokens, Keys: keys, Presence: presence, Ready: a.ready, Registry: reg, Log: log,
		Releases: releases, Rollout: &rollout.Book{},
		Alerts: pgstore.NewAlerts(a.pool), Alerter: alerts, Jobs: jobs, JobRunner: jobRunner,
		UI: adminui.FS(),
	})
	if err := a.server.LoadReleases(ctx); err != nil {
		return nil, err
	}
	alerts.Attach(func(id uuid.UUID) string {
		row, _ := a.dir.Row(id, time.Now())
		return row.Alias
	}, presence, a.server.RemediateService)
	go alerts.Run(bg)
	go a.sampleVersions(bg, releases)
	go jobRunner.Run(bg)
	feedCtx, stopFeed := context.WithCancel(context.Background())
	a.stopFeed, a.feedDone = stopFeed, make(chan struct{})
	go func() {
		defer close(a.feedDone)
		a.server.RunFeed(feedCtx)
	}()
	ok = true
	return a, nil
}

// ready is /readyz: every dependency answers, the schema is current, the
// fleet is loaded, and the server is not shutting down.
func (a *app) ready(ctx context.Context) error {
	if a.shuttingDown.Load() {
		return errors.New("shutting down")
	}
	if !a.dir.Ready() {
		return errors.New("loading devices")
	}
	if err := a.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := pgstore.CheckSchema(ctx, a.pool); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// maintainPartitions keeps partitionsAhead days of partitions ahead of the
// clock, so a heartbeat never finds none, and every hour retires those past
// retention into archives.
func (a *app) maintainPartitions(ctx context.Context, archiver *pgstore.Archiver) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := a.parts.EnsureRange(ctx, now, now.Add(partitionsAhead*24*time.Hour)); err != nil {
				a.log.Error().Str("event", "partitions.ensure.error").Err(err).Msg("create partitions ahead")
			}
			a.retireHeartbeats(ctx, archiver)
		}
	}
}

// versionSampleKeep is how long the fleet's version history is kept.
const versionSampleKeep = 90 * 24 * time.Hour

// sampleVersions records the fleet's agent versions, from memory, for
// release adoption over time.
func (a *app) sampleVersions(ctx context.Context, releases *pgstore.Releases) {
	t := time.NewTicker(a.cfg.VersionSampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			counts, _ := a.dir.AgentVersions(0, 0)
			samples := make([]pgstore.VersionSample, 0, len(counts))
			for _, c := range counts {
				samples = append(samples, pgstore.VersionSample{At: now.UTC().Truncate(time.Second), VersionCode: c.VersionCode, Devices: c.Devices})
			}
			if err := releases.RecordVersions(ctx, samples, versionSampleKeep); err != nil {
				a.log.Error().Str("event", "versions.sample.error").Err(err).Msg("adoption history has a gap")
			}
		}
	}
}

func (a *app) shutdown(ctx context.Context) error {
	a.shuttingDown.Store(true)
	a.log.Info().Str("event", "server.shutdown.start").Msg("draining")
	var errs []error
	a.closeFeed(ctx)
	if err := a.server.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop http: %w", err))
	}
	if err := a.close(ctx); err != nil {
		errs = append(errs, err)
	}
	a.log.Info().Str("event", "server.shutdown.done").Msg("stopped")
	return errors.Join(errs...)
}

// closeFeed ends the dashboards' connections, which the HTTP server's
// shutdown does not wait for.
func (a *app) closeFeed(ctx context.Context) {
	if a.stopFeed == nil {
		return
	}
	a.stopFeed()
	select {
	case <-a.feedDone:
	case <-ctx.Done():
	}
}

// close stops everything behind ingress, in dependency order.
func (a *app) close(ctx context.Context) error {
	var err error
	a.closeOnce.Do(func() { err = a.closeParts(ctx) })
	return err
}

// closeParts is close, once: the actor system panics on a second Shutdown.
func (a *app) closeParts(ctx context.Context) error {
	var errs []error
	a.closeFeed(ctx)
	if a.background != nil {
		a.background()
	}
	if a.writer != nil {
		if err := a.writer.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if a.snaps != nil {
		if err := a.snaps.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if a.dir != nil {
		a.dir.Shutdown()
	}
	if a.system != nil {
		a.system.Shutdown()
	}
	if a.blobs != nil {
		a.blobs.Close()
	}
	if a.rdb != nil {
		a.rdb.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
	return errors.Join(errs...)
}

// servePprof serves the Go profiler on its own listener, apart from the API,
// so that profiling a production server needs no route of the API.
func servePprof(addr string, log zerolog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info().Str("event", "pprof.listen").Str("addr", addr).Msg("profiler listening")
	if err := srv.ListenAndServe(); err != nil {
		log.Error().Str("event", "pprof.error").Err(err).Msg("profiler stopped")
	}
}
