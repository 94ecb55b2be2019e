package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/daemon"
	"github.com/nexmdm/nexmdm/agent/queue"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// runAgentProcess is the agent in a child process, configured by its
// NEXMDM_AGENT_* variables, exactly as cmd/nexmdm-agent runs it.
func runAgentProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err := daemon.Main(ctx, daemon.Invocation{Getenv: os.Getenv, Stderr: os.Stderr, Version: "test", VersionCode: 1})
	if err != nil {
		os.Stderr.WriteString("nexmdm-agent: " + err.Error() + "\n")
	}
	return daemon.ExitCode(err)
}

// agentLogs collects an agent's JSON log lines.
type agentLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *agentLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *agentLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// find returns the log entries with msg whose attributes include match.
func (l *agentLogs) find(msg string, match map[string]any) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != msg {
			continue
		}
		ok := true
		for k, v := range match {
			ok = ok && m[k] == v
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// agentProcess is the agent in a child process.
type agentProcess struct {
	cmd  *exec.Cmd
	logs *agentLogs
	done chan struct{}
}

func agentEnv(server, stateDir, serial string) map[string]string {
	return map[string]string{
		"NEXMDM_AGENT_SERVER":     server,
		"NEXMDM_AGENT_ENROLL_KEY": defaultAdminKey,
		"NEXMDM_AGENT_SERIAL":     serial,
		"NEXMDM_AGENT_ALIAS":      "agent " + serial,
		"NEXMDM_AGENT_STATE_DIR":  stateDir,
		"NEXMDM_AGENT_LOG_LEVEL":  "debug",
	}
}

func startAgentProcess(t *testing.T, env map[string]string) *agentProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NEXMDM_TEST_AS_AGENT=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &agentProcess{cmd: cmd, logs: &agentLogs{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	require.NoError(t, cmd.Start())
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	return p
}

// exitCode waits for the agent to exit on its own.
func (p *agentProcess) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("the agent did not exit\n%s", p.logs)
		return -1
	}
}

func (p *agentProcess) terminate(t *testing.T) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	return p.exitCode(t)
}

func (p *agentProcess) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	<-p.done
}

// inProcessAgent runs the agent in this process, with the real device
// parts except what adjust swaps.
type inProcessAgent struct {
	*daemon.Agent
	logs   *agentLogs
	exited <-chan error // what Run returned, when it stopped on its own
}

func startInProcessAgent(t *testing.T, server string, adjust func(*daemon.Deps), args ...string) inProcessAgent {
	t.Helper()
	base := []string{"--server", server, "--enroll-key", defaultAdminKey, "--serial", "agent-" + t.Name(),
		"--alias", t.Name(), "--state-dir", t.TempDir(), "--log-level", "debug"}
	cfg, err := daemon.LoadConfig(append(base, args...), func(string) string { return "" }, "linux", os.Stderr)
	require.NoError(t, err)
	logs := &agentLogs{}
	level := new(slog.LevelVar)
	level.Set(slog.LevelDebug)
	deps, err := daemon.NewDeps(cfg, "/", slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})), level)
	require.NoError(t, err)
	if adjust != nil {
		adjust(&deps)
	}
	a, err := daemon.Open(cfg, deps)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done, exited := make(chan struct{}), make(chan error, 1)
	go func() { exited <- a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	require.Eventually(t, func() bool { return a.DeviceID() != "" }, 20*time.Second, 10*time.Millisecond,
		"the agent never enrolled\n%s", logs)
	return inProcessAgent{Agent: a, logs: logs, exited: exited}
}

// storedBuckets are a device's heartbeat buckets in the order the server
// received them.
func storedBuckets(t *testing.T, db *testenv.DB, deviceID string) []time.Time {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(),
		`SELECT bucket_start FROM heartbeats WHERE device_id = $1 ORDER BY received_at, bucket_start`, deviceID)
	require.NoError(t, err)
	var out []time.Time
	for rows.Next() {
		var b time.Time
		require.NoError(t, rows.Scan(&b))
		out = append(out, b.UTC())
	}
	require.NoError(t, rows.Err())
	return out
}

func deviceBySerial(t *testing.T, db *testenv.DB, serial string) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		return db.Pool.QueryRow(context.Background(), `SELECT id::text FROM devices WHERE serial = $1`, serial).Scan(&id) == nil
	}, 20*time.Second, 20*time.Millisecond, "device %s never enrolled", serial)
	return id
}

// queueBacklog writes heartbeats for n consecutive buckets from start into
// a stopped agent's queue: a device that was offline for a while.
func queueBacklog(t *testing.T, stateDir string, start time.Time, n int) []time.Time {
	t.Helper()
	db, err := bolt.Open(filepath.Join(stateDir, "agent.db"), 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	defer db.Close()
	q, err := queue.Open(db, queue.SeedLimits, time.Now, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	var buckets []time.Time
	for i := range n {
		ts := start.Add(time.Duration(i) * 10 * time.Second).Truncate(10 * time.Second)
		battery := 90 - i%50
		hb := &client.Heartbeat{TS: ts, BatteryPct: &battery, NetType: "wifi"}
		require.NoError(t, q.EnqueueHeartbeat(ts.Unix()/10, hb.AppendJSON(nil)))
		buckets = append(buckets, ts.UTC())
	}
	return buckets
}

func registerRequest(serial string) client.RegisterRequest {
	return client.RegisterRequest{Alias: serial, Serial: serial}
}
