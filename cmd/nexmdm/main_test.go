package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// TestMain lets a test run this very binary as the server, or as the device
// agent, in a child process (re-exec), so that kill -9 and SIGTERM hit a
// real process.
func TestMain(m *testing.M) {
	if os.Getenv("NEXMDM_TEST_AS_SERVER") == "1" {
		os.Exit(run([]string{"serve"}, os.Getenv, os.Stdout, os.Stderr))
	}
	if os.Getenv("NEXMDM_TEST_AS_AGENT") == "1" {
		os.Exit(runAgentProcess())
	}
	os.Exit(m.Run())
}

// env is a test's configuration: its own database, Redis prefix and port.
type env map[string]string

func newTestEnv(t *testing.T) (env, *testenv.DB, *testenv.Redis) {
	t.Helper()
	db := testenv.Postgres(t)
	rds := testenv.NewRedis(t)
	return env{
		"DATABASE_URL":          db.URL,
		"REDIS_URL":             rds.URL,
		"NEXMDM_REDIS_PREFIX":   rds.Prefix,
		"NEXMDM_ADDR":           freeAddr(t),
		"NEXMDM_BCRYPT_COST":    "4",
		"NEXMDM_DB_MAX_CONNS":   "8",
		"NEXMDM_LOG_LEVEL":      "warn",
		"NEXMDM_SWEEP_INTERVAL": "1s",
		"NEXMDM_BLOB_URL":       "file://" + t.TempDir(),
	}, db, rds
}

func (e env) get(k string) string { return e[k] }

func (e env) url() string { return "http://" + e["NEXMDM_ADDR"] }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// startInProcess runs the server in this process until the test ends.
func startInProcess(t *testing.T, e env) *app {
	t.Helper()
	cfg, err := loadConfig(e.get)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, pgstoreMigrate(ctx, cfg))
	a, err := newApp(ctx, cfg, zerolog.New(io.Discard))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", cfg.Addr)
	require.NoError(t, err)
	go a.server.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.shutdown(ctx)
	})
	return a
}

func pgstoreMigrate(ctx context.Context, cfg config) error {
	return migrateDB(ctx, cfg, zerolog.Nop())
}

// serverProcess is the server in a child process.
type serverProcess struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startProcess(t *testing.T, e env) *serverProcess {
	t.Helper()
	cfg, err := loadConfig(e.get)
	require.NoError(t, err)
	require.NoError(t, pgstoreMigrate(context.Background(), cfg))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NEXMDM_TEST_AS_SERVER=1")
	for k, v := range e {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	p := &serverProcess{cmd: cmd, out: out}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitReady(t, e.url(), p)
	return p
}

func waitReady(t *testing.T, base string, p *serverProcess) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := ""
	if p != nil {
		out = p.out.String()
	}
	t.Fatalf("server at %s not ready after 30s\n%s", base, out)
}

func (p *serverProcess) signal(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not exit on %v\n%s", sig, p.out.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

func newClient(base string) *client.Client {
	return client.New(&client.HTTPTransport{BaseURL: base, Client: &http.Client{Timeout: 30 * time.Second}})
}

// enrollFleet registers n devices with serials prefix-0..n-1.
func enrollFleet(t *testing.T, c *client.Client, prefix string, n int) []*client.Registration {
	t.Helper()
	regs := make([]*client.Registration, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Register(context.Background(), defaultAdminKey, client.RegisterRequest{
				Alias: fmt.Sprintf("%s %d", prefix, i), Serial: fmt.Sprintf("%s-%d", prefix, i),
			})
			regs[i] = r
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return regs
}

// rawPost sends a request as-is and returns status, error code and body.
func rawPost(t *testing.T, url string, headers map[string]string, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var code string
	if i := strings.Index(string(b), `"error":"`); i >= 0 {
		rest := string(b)[i+9:]
		code = rest[:strings.Index(rest, `"`)]
	}
	return resp.StatusCode, code, resp.Header
}
