package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/executor"
	"github.com/nexmdm/nexmdm/agent/ota"
	"github.com/nexmdm/nexmdm/agent/queue"
	"github.com/nexmdm/nexmdm/agent/telemetry"
)

func TestConfigFlagsBeatEnvironmentBeatsFileBeatsDefaults(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agent.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"server":"http://file:1","alias":"from file","allow-shell":true}`), 0o600))
	env := map[string]string{"NEXMDM_AGENT_CONFIG": file, "NEXMDM_AGENT_SERVER": "http://env:2", "NEXMDM_AGENT_ALIAS": "from env"}
	cfg, err := LoadConfig([]string{"--alias", "from flag"}, func(k string) string { return env[k] }, "linux", &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "http://env:2", cfg.ServerURL)
	assert.Equal(t, "from flag", cfg.Alias)
	assert.True(t, cfg.AllowShell, "the file's value stands where nothing overrides it")
	assert.Equal(t, 5*time.Minute, cfg.HeartbeatInterval, "defaults fill the rest")
	assert.Equal(t, PlatformLinux, cfg.Platform)
	assert.Equal(t, queue.SeedLimits, cfg.QueueLimits)

	cfg, err = LoadConfig(nil, func(string) string { return "" }, "android", &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, PlatformAndroid, cfg.Platform)
	assert.Equal(t, "/data/local/tmp/nexmdm", cfg.StateDir)
}

func TestBadConfigIsRefusedWithTheSettingNamed(t *testing.T) {
	none := func(string) string { return "" }
	for args, want := range map[string]string{
		"--server ftp://x":           "--server",
		"--heartbeat-interval soon":  "--heartbeat-interval",
		"--platform windows":         "--platform",
		"--allow-shell maybe":        "--allow-shell",
		"--config /nonexistent.json": "config file",
	} {
		_, err := LoadConfig(strings.Fields(args), none, "linux", &bytes.Buffer{})
		assert.ErrorContains(t, err, want, args)
	}
	file := filepath.Join(t.TempDir(), "agent.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"sever":"typo"}`), 0o600))
	_, err := LoadConfig([]string{"--config", file}, none, "linux", &bytes.Buffer{})
	assert.ErrorContains(t, err, `unknown key "sever"`)
}

func TestCallStateIsReadFromTelephonyRegistry(t *testing.T) {
	assert.False(t, inCall([]byte("  mCallState=0\n  mCallIncomingNumber=\n  mCallState=0\n")))
	assert.True(t, inCall([]byte("  mCallState=0\n  mCallState=2\n")), "a call on the second SIM counts")
}

// fixedReading is a device that always reads the same.
type fixedReading telemetry.Reading

func (f fixedReading) Collect(context.Context) (telemetry.Reading, error) {
	return telemetry.Reading(f), nil
}

// logLines is a thread-safe sink for the agent's JSON logs.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) find(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// unavailable is a server that enrolls devices and then answers 503.
func unavailable(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/register" {
			w.WriteHeader(201)
			w.Write([]byte(`{"device_id":"d1","device_token":"t","hmac_key_id":"k1","hmac_key":"AAAA","heartbeat_interval_s":3600}`))
			return
		}
		w.WriteHeader(503)
		w.Write([]byte(`{"error":"overloaded","message":"later"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func startAgent(t *testing.T, server string, r telemetry.Reading, before func(a *Agent)) *logLines {
	logs := &logLines{}
	cfg, err := LoadConfig([]string{"--server", server, "--enroll-key", "k", "--serial", "s1", "--alias", "a",
		"--state-dir", t.TempDir()}, func(string) string { return "" }, "linux", &bytes.Buffer{})
	require.NoError(t, err)
	a, err := Open(cfg, Deps{
		HTTP: http.DefaultClient, Collector: fixedReading(r), Runner: executor.ExecRunner{},
		Platform: ota.Linux{Executable: filepath.Join(t.TempDir(), "agent")},
		Now:      time.Now, Rand: func() float64 { return 0.5 },
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	if before != nil {
		before(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	return logs
}

func firstRetry(t *testing.T, logs *logLines) map[string]any {
	var got []map[string]any
	require.Eventually(t, func() bool { got = logs.find("retry.schedule"); return len(got) > 0 }, 10*time.Second, 10*time.Millisecond)
	return got[0]
}

func TestLowBatteryPausesHeartbeatRetries(t *testing.T) {
	low, charging := 5, false
	logs := startAgent(t, unavailable(t).URL, telemetry.Reading{BatteryPct: &low, Charging: &charging}, nil)
	retry := firstRetry(t, logs)
	assert.Equal(t, true, retry["low_power_pause"])
	assert.Equal(t, "5m0s", retry["in"], "a paused retry waits for the cap, not the 1 s jitter")
}

func TestLowBatteryStillRetriesResultsAndChargingLiftsThePause(t *testing.T) {
	low, charging := 5, false
	logs := startAgent(t, unavailable(t).URL, telemetry.Reading{BatteryPct: &low, Charging: &charging}, func(a *Agent) {
		a.report("cmd-1", executor.Outcome{Message: "pong"}, nil) // queued before the first heartbeat
	})
	retry := firstRetry(t, logs)
	assert.Equal(t, false, retry["low_power_pause"], "a command result is essential")
	assert.Equal(t, "1s", retry["in"])

	charging = true
	logs = startAgent(t, unavailable(t).URL, telemetry.Reading{BatteryPct: &low, Charging: &charging}, nil)
	assert.Equal(t, false, firstRetry(t, logs)["low_power_pause"])
}
