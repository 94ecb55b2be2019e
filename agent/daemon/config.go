package daemon

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/queue"
)

// Platforms the agent knows.
const (
	PlatformLinux   = "linux"
	PlatformAndroid = "android"
)

// Config is the agent's configuration: flags over environment over the
// config file over defaults.
type Config struct {
	ServerURL         string
	EnrollKey         string // what the enrollment broadcast carries; kept to enroll again after a 401
	FCMToken          string
	Channel           string // release channel for updates
	Alias             string
	Serial            string
	StateDir          string
	Platform          string
	AppPackage        string   // Android: the package whose power exemptions are reported
	WatchPackages     []string // packages whose last foreground time is reported
	AllowShell        bool
	HeartbeatInterval time.Duration // until the server says otherwise
	NetPoll           time.Duration
	LogLevel          string
	AgentVersion      string
	AgentVersionCode  int
	QueueLimits       queue.Limits
}

type option struct {
	name, env, def, usage string
	set                   func(c *Config, v string) error
}

var options = []option{
	{"server", "NEXMDM_AGENT_SERVER", "", "server URL, e.g. https://mdm.example.com", func(c *Config, v string) error { c.ServerURL = v; return nil }},
	{"enroll-key", "NEXMDM_AGENT_ENROLL_KEY", "", "enrollment key (from the enrollment script or an admin)", func(c *Config, v string) error { c.EnrollKey = v; return nil }},
	{"channel", "NEXMDM_AGENT_CHANNEL", "stable", "release channel the agent updates from", func(c *Config, v string) error { c.Channel = v; return nil }},
	{"fcm-token", "NEXMDM_AGENT_FCM_TOKEN", "", "FCM registration token, where a push channel exists", func(c *Config, v string) error { c.FCMToken = v; return nil }},
	{"alias", "NEXMDM_AGENT_ALIAS", "", "the device's name in the dashboard (default: hostname)", func(c *Config, v string) error { c.Alias = v; return nil }},
	{"serial", "NEXMDM_AGENT_SERIAL", "", "hardware serial (default: ro.serialno on Android, /etc/machine-id on Linux)", func(c *Config, v string) error { c.Serial = v; return nil }},
	{"state-dir", "NEXMDM_AGENT_STATE_DIR", "", "where credentials and the queue live", func(c *Config, v string) error { c.StateDir = v; return nil }},
	{"platform", "NEXMDM_AGENT_PLATFORM", "", "linux or android (default: the OS it was built for)", func(c *Config, v string) error { c.Platform = v; return nil }},
	{"app-package", "NEXMDM_AGENT_APP_PACKAGE", "com.nexmdm.agent", "Android package whose doze exemption is reported", func(c *Config, v string) error { c.AppPackage = v; return nil }},
	{"watch", "NEXMDM_AGENT_WATCH_PACKAGES", "", "comma-separated packages whose last foreground time is reported", func(c *Config, v string) error { c.WatchPackages = splitList(v); return nil }},
	{"allow-shell", "NEXMDM_AGENT_ALLOW_SHELL", "false", "run shell commands (the server must allow them too)", func(c *Config, v string) (err error) { c.AllowShell, err = strconv.ParseBool(v); return }},
	{"heartbeat-interval", "NEXMDM_AGENT_HEARTBEAT_INTERVAL", "5m", "heartbeat interval until the server sets one", func(c *Config, v string) (err error) { c.HeartbeatInterval, err = time.ParseDuration(v); return }},
	{"net-poll", "NEXMDM_AGENT_NET_POLL", "2s", "how often connectivity is checked", func(c *Config, v string) (err error) { c.NetPoll, err = time.ParseDuration(v); return }},
	{"log-level", "NEXMDM_AGENT_LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"queue-max-items", "NEXMDM_AGENT_QUEUE_MAX_ITEMS", "500", "queue item limit", func(c *Config, v string) (err error) { c.QueueLimits.MaxItems, err = strconv.Atoi(v); return }},
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// LoadConfig reads args (without the program name), the environment and
// the file named by --config or NEXMDM_AGENT_CONFIG (a JSON object keyed by
// flag name). goos picks the default platform.
func LoadConfig(args []string, getenv func(string) string, goos string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("nexmdm-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", getenv("NEXMDM_AGENT_CONFIG"), "JSON config file, keyed by flag name")
	flagVals := map[string]*string{}
	for _, o := range options {
		flagVals[o.name] = fs.String(o.name, "", fmt.Sprintf("%s (env %s, default %q)", o.usage, o.env, o.def))
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	values := map[string]string{}
	for _, o := range options {
		values[o.name] = o.def
	}
	if *configFile != "" {
		if err := readConfigFile(*configFile, values); err != nil {
			return Config{}, err
		}
	}
	for _, o := range options {
		if v := getenv(o.env); v != "" {
			values[o.name] = v
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if p, ok := flagVals[f.Name]; ok {
			values[f.Name] = *p
		}
	})
	c := Config{QueueLimits: queue.SeedLimits}
	for _, o := range options {
		if err := o.set(&c, values[o.name]); err != nil {
			return Config{}, fmt.Errorf("--%s (%s) %q: %v", o.name, o.env, values[o.name], err)
		}
	}
	return c, c.fill(goos)
}

func readConfigFile(path string, values map[string]string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var file map[string]any
	if err := json.Unmarshal(raw, &file); err != nil {
		return fmt.Errorf("config file %s is not a JSON object: %w", path, err)
	}
	for k, v := range file {
		if _, ok := values[k]; !ok {
			return fmt.Errorf("config file %s: unknown key %q (keys are the flag names)", path, k)
		}
		values[k] = fmt.Sprint(v)
	}
	return nil
}

// fill sets what depends on the platform, and checks the result.
func (c *Config) fill(goos string) error {
	if c.Platform == "" {
		c.Platform = PlatformLinux
		if goos == "android" {
			c.Platform = PlatformAndroid
		}
	}
	if c.Platform != PlatformLinux && c.Platform != PlatformAndroid {
		return fmt.Errorf("--platform %q: use linux or android", c.Platform)
	}
	if c.StateDir == "" {
		c.StateDir = defaultStateDir(c.Platform)
	}
	if c.ServerURL != "" {
		u, err := url.Parse(c.ServerURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--server %q: give the server's URL, e.g. https://mdm.example.com", c.ServerURL)
		}
	}
	if c.HeartbeatInterval < time.Second || c.NetPoll < 100*time.Millisecond {
		return fmt.Errorf("--heartbeat-interval must be at least 1s and --net-poll at least 100ms")
	}
	return nil
}

func defaultStateDir(platform string) string {
	if platform == PlatformAndroid {
		return "/data/local/tmp/nexmdm" // writable by adb shell, kept across reboots
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "nexmdm-agent")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "nexmdm-agent")
	}
	return "/var/lib/nexmdm-agent"
}

func (c *Config) registerRequest() client.RegisterRequest {
	return client.RegisterRequest{Alias: c.Alias, Serial: c.Serial, AgentVersion: c.AgentVersion,
		AgentVersionCode: c.AgentVersionCode, FCMToken: c.FCMToken}
}
