// Package ingress is NexMDM's HTTP edge on fasthttp: the device protocol,
// the admin API, authentication, rate limits, health and metrics. It parses
// and checks every request, hands work to the actors, and maps outcomes to
// statuses and stable error codes, in one place.
package ingress

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/actors/rollout"
	"github.com/nexmdm/nexmdm/actors/signing"
	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/ingress/devicetoken"
	"github.com/nexmdm/nexmdm/ingress/openapi"
	"github.com/nexmdm/nexmdm/ingress/wshub"
	"github.com/nexmdm/nexmdm/persistence/blobstore"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// Config tunes the HTTP edge.
type Config struct {
	MaxBodyBytes      int           // larger heartbeat and registration bodies get 413
	MaxAPKBytes       int64         // NEXMDM_APK_MAX_BYTES: a larger APK upload gets 413, checked while it streams
	HeartbeatTimeout  time.Duration // a heartbeat not committed by then gets 503
	MaxInflight       int64         // heartbeats waiting for commit before new ones get 503
	ClockSkew         time.Duration // how far in the future a device ts may be
	Retention         time.Duration // how far in the past a device ts may be
	BcryptCost        int           // for new device tokens
	HeartbeatInterval time.Duration // told to devices at registration
	AdminKey          string        // NEXMDM_ADMIN_KEY: acts as admin
	AllowShell        bool          // NEXMDM_ALLOW_SHELL: the shell command type is accepted
	CORSOrigins       []string      // browser origins allowed to call the API; none: same-origin only
	PublicURL         string        // NEXMDM_PUBLIC_URL: where devices reach the server, written into enrollment scripts
	AgentPackage      string        // NEXMDM_AGENT_PACKAGE: the agent APK's package, which enrollment installs
	EnrollBloatware   []string      // packages enrollment disables; nil: enrollscript's shipped list
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	Feed              wshub.Config // the live feed at /admin/ws
}

// DefaultConfig holds the local defaults.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:      64 << 10,
		MaxAPKBytes:       60 << 20,
		HeartbeatTimeout:  15 * time.Second,
		MaxInflight:       50_000,
		ClockSkew:         5 * time.Minute,
		Retention:         90 * 24 * time.Hour,
		BcryptCost:        10,
		HeartbeatInterval: 5 * time.Minute,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		Feed:              wshub.DefaultConfig(),
		AgentPackage:      "com.nexmdm.agent",
	}
}

// Deps are the edge's collaborators.
type Deps struct {
	Directory  *actors.Directory
	Devices    *pgstore.Devices
	Commands   *pgstore.Commands
	Selections *pgstore.Selections
	Audit      *pgstore.Audit
	Users      *pgstore.Users
	APIKeys    *pgstore.APIKeys
	APKs       *pgstore.APKs    // the APK registry's builds and downloads
	Blobs      *blobstore.Store // the builds' files, apk/<sha256>
	Sessions   *adminauth.Sessions
	Tokens     *devicetoken.Tokens
	Keys       *signing.Keyring
	Releases   *pgstore.Releases
	Alerts     *pgstore.Alerts
	Alerter    Alerter // the alerts supervisor; nil: no fleet alerts, no test alert
	Jobs       *pgstore.Jobs
	JobRunner  JobRunner                       // runs bulk deletes in the background
	Rollout    *rollout.Book                   // the current releases, for update checks; LoadReleases fills it
	Presence   *Presence                       // the directory's presence listener; the live feed attaches to it
	Ready      func(ctx context.Context) error // readiness probe for /readyz
	Registry   *prometheus.Registry            // metrics are registered here and served at /metrics
	Log        zerolog.Logger
	Now        func() time.Time // nil: time.Now
	UI         fs.FS            // the dashboard's Vite build, served outside the API (webui.go); nil: none
}

// Server is the HTTP edge.
type Server struct {
	cfg  Config
	deps Deps
	now  func() time.Time
	log  zerolog.Logger

	router      *router.Router
	srv         *fasthttp.Server
	inflight    atomic.Int64
	bcrypt      chan struct{} // bounds concurrent bcrypt work (registration, login)
	authFail    *failureLimiter
	loginFail   *failureLimiter
	m           *httpMetrics
	hub         *wshub.Hub
	bulkDeletes *failureLimiter // bulk deletes in the last minute
}

// New builds the server and its routes.
func New(cfg Config, deps Deps) *Server {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Server{
		cfg: cfg, deps: deps, now: deps.Now, log: deps.Log,
		bcrypt:      make(chan struct{}, 2),
		authFail:    newFailureLimiter(20, time.Minute),
		loginFail:   newFailureLimiter(10, time.Minute),
		bulkDeletes: newFailureLimiter(bulkDeleteRate, time.Minute),
	}
	s.m = newHTTPMetrics(deps.Registry, &s.inflight)
	feedCfg := cfg.Feed
	feedCfg.AllowedOrigins = append(feedCfg.AllowedOrigins, cfg.CORSOrigins...)
	var reg prometheus.Registerer
	if deps.Registry != nil {
		reg = deps.Registry
	}
	s.hub = wshub.New(feedCfg, wshub.Deps{
		Source: &fleetFeed{dir: deps.Directory, now: deps.Now}, Auth: s.feedAuth,
		Failed: func(ip string) { s.authFail.fail(ip, s.now()) },
		Log:    deps.Log, Now: deps.Now, Registry: reg,
	})
	if deps.Presence != nil {
		deps.Presence.hub.Store(s.hub)
	}
	s.routes()
	s.srv = &fasthttp.Server{
		Handler:               withCORS(cfg.CORSOrigins, s.router.Handler),
		ErrorHandler:          s.transportError,
		Name:                  "nexmdm",
		MaxRequestBodySize:    max(cfg.MaxBodyBytes, maxAdminBody),
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		NoDefaultServerHeader: true,
		CloseOnShutdown:       true,
		Logger:                fasthttpLogger{deps.Log},
		// Bodies stream, for APK uploads; bufferBody keeps every other
		// route's limit. Multipart is read by the upload, not pre-parsed.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	}
	return s
}

func (s *Server) routes() {
	r := router.New()
	r.NotFound = s.notFound(s.deps.UI) // the dashboard, or the JSON 404 on API paths
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, errorf(fasthttp.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s", ctx.Method(), ctx.Path()))
	}
	r.PanicHandler = func(ctx *fasthttp.RequestCtx, p any) {
		s.log.Error().Str("event", "http.panic").Interface("panic", p).Bytes("path", ctx.Path()).Msg("handler panicked")
		writeError(ctx, errorf(fasthttp.StatusInternalServerError, "internal", "internal error"))
	}
	handle := func(method, path string, h fasthttp.RequestHandler) {
		r.Handle(method, path, s.m.instrument(method, path, s.bufferBody(h)))
	}
	stream := func(method, path string, h fasthttp.RequestHandler) { // reads its body itself, unbuffered
		r.Handle(method, path, s.m.instrument(method, path, h))
	}
	handle("POST", "/v1/register", s.authorize(adminauth.Enroll, s.register))
	handle("POST", "/v1/heartbeat", s.heartbeat)
	handle("POST", "/admin/auth/login", s.login)
	handle("POST", "/admin/auth/refresh", s.refresh)
	handle("POST", "/admin/auth/logout", s.logout)
	handle("GET", "/admin/auth/me", s.authorize(adminauth.Read, s.me))
	handle("GET", "/admin/users", s.authorize(adminauth.Manage, s.listUsers))
	handle("POST", "/admin/users", s.authorize(adminauth.Manage, s.createUser))
	handle("PATCH", "/admin/users/{id}", s.authorize(adminauth.Manage, s.updateUser))
	handle("DELETE", "/admin/users/{id}", s.authorize(adminauth.Manage, s.deleteUser))
	handle("GET", "/admin/keys", s.authorize(adminauth.Manage, s.listAPIKeys))
	handle("POST", "/admin/keys", s.authorize(adminauth.Manage, s.createAPIKey))
	handle("DELETE", "/admin/keys/{id}", s.authorize(adminauth.Manage, s.revokeAPIKey))
	handle("GET", "/admin/audit", s.authorize(adminauth.Manage, s.listAudit))
	handle("GET", "/admin/devices", s.authorize(adminauth.Read, s.listDevices))
	handle("PATCH", "/admin/devices/monitoring", s.authorize(adminauth.Command, s.bulkMonitoring))
	handle("POST", "/admin/devices/selection", s.authorize(adminauth.Read, s.createSelection))
	handle("POST", "/admin/devices/bulk-delete", s.authorize(adminauth.Manage, s.bulkDelete))
	handle("GET", "/admin/jobs/{id}", s.authorize(adminauth.Read, s.getJob))
	handle("GET", "/admin/devices/{id}", s.authorize(adminauth.Read, s.deviceDetail))
	handle("DELETE", "/admin/devices/{id}", s.authorize(adminauth.Manage, s.deleteDevice))
	handle("GET", "/admin/devices/{id}/heartbeats", s.authorize(adminauth.Read, s.deviceHeartbeats))
	handle("GET", "/admin/devices/{id}/monitoring", s.authorize(adminauth.Read, s.getMonitoring))
	handle("PATCH", "/admin/devices/{id}/monitoring", s.authorize(adminauth.Command, s.patchMonitoring))
	handle("GET", "/admin/fleet/summary", s.authorize(adminauth.Read, s.fleetSummary))
	handle("POST", "/admin/devices/{id}/commands", s.authorize(adminauth.Command, s.createCommand))
	handle("GET", "/admin/commands", s.authorize(adminauth.Read, s.listCommands))
	handle("POST", "/admin/commands/bulk", s.authorize(adminauth.Command, s.bulkCommand))
	handle("GET", "/admin/commands/{id}", s.authorize(adminauth.Read, s.getCommand))
	handle("POST", "/admin/apk/register", s.authorize(adminauth.APKWrite, s.registerBuild))
	stream("POST", "/admin/apk/upload", s.authorize(adminauth.APKWrite, s.uploadAPK))
	handle("GET", "/admin/apk/builds", s.authorize(adminauth.Read, s.listBuilds))
	handle("DELETE", "/admin/apk/builds/{id}", s.authorize(adminauth.Manage, s.deleteBuild))
	handle("GET", "/admin/apk/download/{id}", s.authorize(adminauth.Read, s.downloadBuild))
	handle("GET", "/v1/agent/download/{id}", s.agentDownload)
	handle("POST", "/v1/action-result", s.actionResult)
	handle("GET", "/admin/alerts", s.authorize(adminauth.Read, s.listAlerts))
	handle("POST", "/admin/alerts/test", s.authorize(adminauth.Manage, s.testAlert))
	handle("POST", "/admin/alerts/{id}/ack", s.authorize(adminauth.Command, s.ackAlert))
	handle("GET", "/admin/alert-channels", s.authorize(adminauth.Manage, s.listAlertChannels))
	handle("POST", "/admin/alert-channels", s.authorize(adminauth.Manage, s.createAlertChannel))
	handle("PATCH", "/admin/alert-channels/{id}", s.authorize(adminauth.Manage, s.patchAlertChannel))
	handle("DELETE", "/admin/alert-channels/{id}", s.authorize(adminauth.Manage, s.deleteAlertChannel))
	handle("GET", "/admin/alert-rules", s.authorize(adminauth.Read, s.listAlertRules))
	handle("PUT", "/admin/alert-rules/{rule}", s.authorize(adminauth.Manage, s.putAlertRule))
	handle("GET", "/v1/agent/update", s.agentUpdate)
	handle("POST", "/v1/agent/update-events", s.agentUpdateEvent)
	handle("GET", "/admin/releases", s.authorize(adminauth.Read, s.listReleases))
	handle("POST", "/admin/releases", s.authorize(adminauth.Manage, s.createRelease))
	handle("GET", "/admin/releases/{id}", s.authorize(adminauth.Read, s.getRelease))
	handle("PATCH", "/admin/releases/{id}", s.authorize(adminauth.Manage, s.patchRelease))
	handle("GET", "/admin/releases/{id}/adoption", s.authorize(adminauth.Read, s.releaseAdoption))
	handle("POST", "/admin/releases/{id}/promote", s.authorize(adminauth.Manage, s.promoteRelease))
	handle("POST", "/admin/releases/{id}/pause", s.authorize(adminauth.Manage, s.pauseRelease))
	handle("POST", "/admin/releases/{id}/resume", s.authorize(adminauth.Manage, s.resumeRelease))
	handle("POST", "/admin/releases/{id}/rollback", s.authorize(adminauth.Manage, s.rollbackRelease))
	handle("GET", "/admin/enroll/script", s.authorize(adminauth.Enroll, s.enrollScript))
	handle("GET", "/v1/enroll/script", s.authorize(adminauth.Enroll, s.enrollScriptForKey))
	handle("GET", "/v1/enroll/apk/{id}", s.authorize(adminauth.Enroll, s.enrollAPK))
	handle("GET", "/v1/enroll/status", s.authorize(adminauth.Enroll, s.enrollStatus))
	handle("GET", "/admin/ws", s.liveFeed)
	handle("GET", "/openapi.json", openapi.Handler)
	handle("GET", "/healthz", s.healthz)
	handle("GET", "/readyz", s.readyz)
	if s.deps.Registry != nil {
		r.GET("/metrics", fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{})))
	}
	s.router = r
}

// Routes lists method -> paths, for the API description's completeness test.
func (s *Server) Routes() map[string][]string { return s.router.List() }

// Handler is the root request handler, for tests that serve it themselves.
func (s *Server) Handler() fasthttp.RequestHandler { return s.srv.Handler }

// Serve answers on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting connections and waits for in-flight requests,
// whose heartbeats are committed before they are answered.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

// transportError answers requests fasthttp could not read.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeError(ctx, errorf(fasthttp.StatusRequestEntityTooLarge, "body_too_large",
			"the body is larger than the limit of %d bytes", max(s.cfg.MaxBodyBytes, maxAdminBody)))
		return
	}
	writeError(ctx, errorf(fasthttp.StatusBadRequest, "bad_request", "the request could not be read: %v", err))
}

// Body limits beside Config.MaxBodyBytes: admin requests carry up to 10,000
// device ids, and an action result up to 64 KiB of output.
const (
	maxAdminBody        = 1 << 20
	maxActionResultBody = 96 << 10
)

// bodyWithin answers 413 when the request's body is over limit; fasthttp's
// own limit is the largest of them all.
func bodyWithin(ctx *fasthttp.RequestCtx, limit int) bool {
	if len(ctx.PostBody()) <= limit {
		return true
	}
	writeError(ctx, errorf(fasthttp.StatusRequestEntityTooLarge, "body_too_large",
		"the body is larger than the limit of %d bytes", limit))
	return false
}

func (s *Server) healthz(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.deps.Ready != nil {
		if err := s.deps.Ready(c); err != nil {
			writeError(ctx, &Error{Status: fasthttp.StatusServiceUnavailable, Code: "not_ready", Message: err.Error(), RetryAfter: 5 * time.Second})
			return
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
}

type fasthttpLogger struct{ log zerolog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn().Str("event", "http.server").Msgf(format, args...)
}

// httpMetrics are the edge's Prometheus metrics.
type httpMetrics struct {
	duration   *prometheus.HistogramVec
	heartbeats *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	inflight   *atomic.Int64

	// The heartbeat outcomes' counters, resolved once: a label lookup
	// hashes its values on every call, on the server's hottest path.
	stored, deduped, rejectedAll prometheus.Counter
}

func newHTTPMetrics(reg prometheus.Registerer, inflight *atomic.Int64) *httpMetrics {
	m := &httpMetrics{
		inflight: inflight,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nexmdm_http_request_duration_seconds", Help: "Request latency by route, method and status.",
			Buckets: []float64{.0005, .001, .002, .004, .008, .016, .032, .064, .128, .256, .512, 1, 2, 4, 8},
		}, []string{"route", "method", "code"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_heartbeats_total", Help: "Heartbeats by result: stored, deduped, rejected.",
		}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_heartbeats_rejected_total", Help: "Rejected heartbeats by error code.",
		}, []string{"reason"}),
	}
	m.stored = m.heartbeats.WithLabelValues("stored")
	m.deduped = m.heartbeats.WithLabelValues("deduped")
	m.rejectedAll = m.heartbeats.WithLabelValues("rejected")
	if reg != nil {
		reg.MustRegister(m.duration, m.heartbeats, m.rejected,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "nexmdm_heartbeats_inflight", Help: "Heartbeats waiting for their commit.",
			}, func() float64 { return float64(m.inflight.Load()) }))
	}
	return m
}

var statusText [600]string

func init() {
	for i := range statusText {
		statusText[i] = strconv.Itoa(i)
	}
}

// codeObserver is a route's latency histogram for one status code.
type codeObserver struct {
	code int
	obs  prometheus.Observer
}

// instrument times h by route, method and status. A route keeps the
// histogram of the status it answered last, since a route nearly always
// answers the same one: looking it up by its labels hashed three strings on
// every request.
func (m *httpMetrics) instrument(method, route string, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	var last atomic.Pointer[codeObserver]
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		h(ctx)
		code := ctx.Response.StatusCode()
		if code < 0 || code >= len(statusText) {
			code = 0
		}
		o := last.Load()
		if o == nil || o.code != code {
			o = &codeObserver{code: code, obs: m.duration.WithLabelValues(route, method, statusText[code])}
			last.Store(o)
		}
		o.obs.Observe(time.Since(start).Seconds())
	}
}
