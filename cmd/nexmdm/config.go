package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nexmdm/nexmdm/ingress/enrollscript"
)

// config is the server's configuration, read from environment variables.
// Every setting has a safe local default; with NEXMDM_ENV=production the
// server refuses to start while any secret still has its default.
type config struct {
	Env                string
	Addr               string
	PublicURL          string
	DatabaseURL        string
	DBMaxConns         int32
	RedisURL           string
	RedisPrefix        string
	AdminKey           string
	JWTSecret          string
	TokenPepper        string
	HMACMasterKeys     string
	BcryptCost         int
	HeartbeatInterval  time.Duration
	OfflineAfter       time.Duration
	SweepInterval      time.Duration
	RetentionDays      int
	MaxBodyBytes       int
	WriterMaxBatch     int
	WriterCommitters   int
	WriterQueue        int
	WriterLinger       time.Duration
	RateLimit          float64
	RateBurst          float64
	LogLevel           string
	PprofAddr          string
	CORSOrigins        []string
	AllowShell         bool
	FCMProject         string
	FCMCredentials     string
	FCMEndpoint        string
	BlobURL            string
	APKMaxBytes        int
	DiscordWebhook     string
	AlertWebhook       string
	AlertWebhookKey    string
	SMTPURL            string
	AlertEmailFrom     string
	AlertEmailTo       []string
	AlertWindow        time.Duration
	AlertStorm         int
	LowBatteryPct      int
	AlertCooldown      time.Duration
	VersionSampleEvery time.Duration
	ReconcileEvery     time.Duration
	PurgeEvery         time.Duration
	AgentPackage       string
	EnrollBloatware    []string // nil: the shipped list
}

// Local defaults. The secrets are public, so production rejects them.
const (
	defaultAdminKey    = "dev-admin-key-change-me"
	defaultJWTSecret   = "dev-jwt-secret-change-me"
	defaultTokenPepper = "dev-token-pepper-change-me"
)

var defaultHMACMasterKeys = "dev1:" + base64.StdEncoding.EncodeToString([]byte("nexmdm-dev-hmac-master-key-00001"))

// envVar documents one setting; the README's configuration table is this list.
type envVar struct {
	name, def, help string
	set             func(c *config, v string) error
}

var envVars = []envVar{
	{"NEXMDM_ENV", "development", "development or production; production refuses default secrets", func(c *config, v string) error {
		if v != "development" && v != "production" {
			return errors.New("must be development or production")
		}
		c.Env = v
		return nil
	}},
	{"NEXMDM_ADDR", "127.0.0.1:8080", "listen address for the API and dashboard", str(func(c *config) *string { return &c.Addr })},
	{"NEXMDM_PUBLIC_URL", "", "the URL devices and admins reach the server at (default http://NEXMDM_ADDR)", str(func(c *config) *string { return &c.PublicURL })},
	{"DATABASE_URL", "postgres://nexmdm@127.0.0.1:55432/nexmdm?sslmode=disable", "PostgreSQL URL", str(func(c *config) *string { return &c.DatabaseURL })},
	{"NEXMDM_DB_MAX_CONNS", "16", "PostgreSQL pool size", func(c *config, v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 4 {
			return errors.New("must be an integer of at least 4")
		}
		c.DBMaxConns = int32(n)
		return nil
	}},
	{"REDIS_URL", "redis://127.0.0.1:56379/0", "Redis URL", str(func(c *config) *string { return &c.RedisURL })},
	{"NEXMDM_REDIS_PREFIX", "nexmdm:", "prefix of every Redis key", str(func(c *config) *string { return &c.RedisPrefix })},
	{"NEXMDM_ADMIN_KEY", defaultAdminKey, "admin key for automation and enrollment (X-Admin-Key)", str(func(c *config) *string { return &c.AdminKey })},
	{"NEXMDM_JWT_SECRET", defaultJWTSecret, "secret that signs admin session tokens", str(func(c *config) *string { return &c.JWTSecret })},
	{"NEXMDM_TOKEN_PEPPER", defaultTokenPepper, "key of the device token digests; keep it outside the database", str(func(c *config) *string { return &c.TokenPepper })},
	{"NEXMDM_HMAC_MASTER_KEYS", defaultHMACMasterKeys, "command-signing master keys, id:base64[,id:base64]; the first is current", str(func(c *config) *string { return &c.HMACMasterKeys })},
	{"NEXMDM_BCRYPT_COST", "10", "bcrypt cost of device token hashes (4-31; production needs 10+)", func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4 || n > 31 {
			return errors.New("must be an integer from 4 to 31")
		}
		c.BcryptCost = n
		return nil
	}},
	{"NEXMDM_HEARTBEAT_INTERVAL", "5m", "heartbeat interval told to devices", dur(func(c *config) *time.Duration { return &c.HeartbeatInterval })},
	{"NEXMDM_OFFLINE_AFTER", "12m", "a device with no heartbeat for this long is offline", dur(func(c *config) *time.Duration { return &c.OfflineAfter })},
	{"NEXMDM_SWEEP_INTERVAL", "15s", "how often presence is re-evaluated", dur(func(c *config) *time.Duration { return &c.SweepInterval })},
	{"NEXMDM_RETENTION_DAYS", "90", "days of heartbeat history kept; older daily partitions are archived to NEXMDM_BLOB_URL and dropped", func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return errors.New("must be an integer from 1 to 3650")
		}
		c.RetentionDays = n
		return nil
	}},
	{"NEXMDM_MAX_BODY_BYTES", "65536", "largest device request body", posInt(func(c *config) *int { return &c.MaxBodyBytes })},
	{"NEXMDM_WRITER_MAX_BATCH", "5000", "heartbeat rows per transaction", posInt(func(c *config) *int { return &c.WriterMaxBatch })},
	{"NEXMDM_WRITER_COMMITTERS", "2", "heartbeat transactions in flight", posInt(func(c *config) *int { return &c.WriterCommitters })},
	{"NEXMDM_WRITER_QUEUE", "65536", "heartbeat rows that may wait for a commit before 503", posInt(func(c *config) *int { return &c.WriterQueue })},
	{"NEXMDM_WRITER_LINGER", "1ms", "how long a commit waits for a fuller batch (0: commit what is queued)", dur(func(c *config) *time.Duration { return &c.WriterLinger })},
	{"NEXMDM_DEVICE_RATE", "10", "sustained heartbeats per second per device (0 disables the limit)", float(func(c *config) *float64 { return &c.RateLimit })},
	{"NEXMDM_DEVICE_BURST", "600", "heartbeats a device may send at once (an offline backlog)", float(func(c *config) *float64 { return &c.RateBurst })},
	{"NEXMDM_PPROF_ADDR", "", "serve net/http/pprof on this address (keep it on loopback); empty: off", str(func(c *config) *string { return &c.PprofAddr })},
	{"NEXMDM_CORS_ORIGINS", "", "origins allowed to call the API from a browser, comma-separated (e.g. https://ops.example.com); empty: same-origin only", func(c *config, v string) error {
		c.CORSOrigins = nil
		for _, o := range strings.Split(v, ",") {
			o = strings.TrimRight(strings.TrimSpace(o), "/")
			if o == "" {
				continue
			}
			if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
				return fmt.Errorf("%q must be an origin such as https://ops.example.com", o)
			}
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
		return nil
	}},
	{"NEXMDM_FCM_PROJECT_ID", "", "Firebase project that pushes commands with FCM; empty: devices get commands only with their heartbeats (pull)", str(func(c *config) *string { return &c.FCMProject })},
	{"NEXMDM_FCM_CREDENTIALS_FILE", "", "service-account JSON for FCM; empty: Google application default credentials (or none with NEXMDM_FCM_ENDPOINT)", str(func(c *config) *string { return &c.FCMCredentials })},
	{"NEXMDM_FCM_ENDPOINT", "", "FCM HTTP v1 endpoint override, e.g. a local fake's http://127.0.0.1:9099/v1; empty: Google's", str(func(c *config) *string { return &c.FCMEndpoint })},
	{"NEXMDM_BLOB_URL", "", "where APK files and heartbeat archives are kept: file:///abs/dir, or s3://bucket?region=…&endpoint=… for S3-compatible storage (default file://$PWD/.data/blobs)", str(func(c *config) *string { return &c.BlobURL })},
	{"NEXMDM_APK_MAX_BYTES", "62914560", "largest APK upload, in bytes (checked while it streams)", posInt(func(c *config) *int { return &c.APKMaxBytes })},
	{"NEXMDM_ALLOW_SHELL", "0", "1 accepts the shell command type (admin role only, audited with the full command line)", func(c *config, v string) error {
		if v != "0" && v != "1" {
			return errors.New("must be 0 or 1")
		}
		c.AllowShell = v == "1"
		return nil
	}},
	{"NEXMDM_DISCORD_WEBHOOK_URL", "", "Discord webhook that gets warning and critical alerts; empty: none", str(func(c *config) *string { return &c.DiscordWebhook })},
	{"NEXMDM_ALERT_WEBHOOK_URL", "", "generic webhook that gets warning and critical alerts, signed with NEXMDM_ALERT_WEBHOOK_SECRET; empty: none", str(func(c *config) *string { return &c.AlertWebhook })},
	{"NEXMDM_ALERT_WEBHOOK_SECRET", "", "HMAC-SHA256 key of the generic webhook's X-NexMDM-Signature", str(func(c *config) *string { return &c.AlertWebhookKey })},
	{"NEXMDM_SMTP_URL", "", "smtp://user:pass@host:587 (STARTTLS) or smtps://…:465 for critical alerts by email; empty: none", str(func(c *config) *string { return &c.SMTPURL })},
	{"NEXMDM_ALERT_EMAIL_FROM", "nexmdm@localhost", "sender of alert email", str(func(c *config) *string { return &c.AlertEmailFrom })},
	{"NEXMDM_ALERT_EMAIL_TO", "", "recipients of critical alerts, comma-separated", func(c *config, v string) error {
		c.AlertEmailTo = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.AlertEmailTo = append(c.AlertEmailTo, a)
			}
		}
		return nil
	}},
	{"NEXMDM_ALERT_WINDOW", "30s", "alerts of one rule gather this long; a storm within it becomes one digest", dur(func(c *config) *time.Duration { return &c.AlertWindow })},
	{"NEXMDM_ALERT_STORM", "10", "devices firing one rule within the window that make a digest", posInt(func(c *config) *int { return &c.AlertStorm })},
	{"NEXMDM_LOW_BATTERY_PCT", "15", "low-battery alerts fire below this level off the charger and clear 5 points above it", posInt(func(c *config) *int { return &c.LowBatteryPct })},
	{"NEXMDM_ALERT_COOLDOWN", "30m", "a rule firing again on a device this soon is recorded but not notified", dur(func(c *config) *time.Duration { return &c.AlertCooldown })},
	{"NEXMDM_PURGE_EVERY", "30s", "how often bulk deletes and history purges are resumed (they also start at once)", dur(func(c *config) *time.Duration { return &c.PurgeEvery })},
	{"NEXMDM_VERSION_SAMPLE_EVERY", "1h", "how often the fleet's agent versions are sampled for release adoption over time", dur(func(c *config) *time.Duration { return &c.VersionSampleEvery })},
	{"NEXMDM_RECONCILE_EVERY", "1h", "how often device_last_status, Redis snapshots and device actors are compared and drift is repaired; 0 turns it off", dur(func(c *config) *time.Duration { return &c.ReconcileEvery })},
	{"NEXMDM_AGENT_PACKAGE", "com.nexmdm.agent", "the agent APK's package: enrollment scripts install its newest uploaded build (or the stable channel's current release)", func(c *config, v string) error {
		if why := enrollscript.CheckPackage(v); why != "" {
			return errors.New(why)
		}
		c.AgentPackage = v
		return nil
	}},
	{"NEXMDM_ENROLL_BLOATWARE_FILE", "", "packages enrollment scripts disable, one per line (a copy of ingress/enrollscript/bloatware.txt to edit); empty: that shipped list", func(c *config, v string) error {
		c.EnrollBloatware = nil
		if v == "" {
			return nil
		}
		text, err := os.ReadFile(v)
		if err != nil {
			return err
		}
		c.EnrollBloatware, err = enrollscript.ParseBloatware(string(text))
		if err == nil && c.EnrollBloatware == nil {
			c.EnrollBloatware = []string{} // an empty list disables nothing
		}
		return err
	}},
	{"NEXMDM_LOG_LEVEL", "info", "debug, info, warn or error", str(func(c *config) *string { return &c.LogLevel })},
}

func str(field func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error { *field(c) = v; return nil }
}

func dur(field func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return errors.New("must be a duration such as 30s or 12m")
		}
		*field(c) = d
		return nil
	}
}

func posInt(field func(*config) *int) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errors.New("must be a positive integer")
		}
		*field(c) = n
		return nil
	}
}

func float(field func(*config) *float64) func(*config, string) error {
	return func(c *config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return errors.New("must be a non-negative number")
		}
		*field(c) = f
		return nil
	}
}

// loadConfig reads every setting through getenv and checks the result.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	for _, v := range envVars {
		val := getenv(v.name)
		if val == "" {
			val = v.def
		}
		if err := v.set(&c, val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.name, err))
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	if c.BlobURL == "" {
		dir, err := filepath.Abs(filepath.Join(".data", "blobs"))
		if err != nil {
			errs = append(errs, fmt.Errorf("NEXMDM_BLOB_URL: %w", err))
		}
		c.BlobURL = "file://" + filepath.ToSlash(dir)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if len(errs) == 0 && c.Env == "production" {
		errs = append(errs, c.productionErrors()...)
	}
	return c, errors.Join(errs...)
}

// productionErrors refuses public defaults and weak settings.
func (c config) productionErrors() []error {
	var errs []error
	for _, s := range []struct{ name, val, def string }{
		{"NEXMDM_ADMIN_KEY", c.AdminKey, defaultAdminKey},
		{"NEXMDM_JWT_SECRET", c.JWTSecret, defaultJWTSecret},
		{"NEXMDM_TOKEN_PEPPER", c.TokenPepper, defaultTokenPepper},
		{"NEXMDM_HMAC_MASTER_KEYS", c.HMACMasterKeys, defaultHMACMasterKeys},
	} {
		switch {
		case s.val == s.def:
			errs = append(errs, fmt.Errorf("%s: still the public development default; set a secret of your own", s.name))
		case len(s.val) < 24:
			errs = append(errs, fmt.Errorf("%s: too short; use at least 24 random characters", s.name))
		}
	}
	if c.BcryptCost < 10 {
		errs = append(errs, errors.New("NEXMDM_BCRYPT_COST: production needs 10 or more"))
	}
	return errs
}
