package wshub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// t0 is the tests' fixed "now".
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Tokens the test authenticator knows.
const (
	aliceToken = "alice-token" // expires at t0+1h
	shortToken = "short-token" // expires at t0+1m
	freshToken = "fresh-token" // expires at t0+2h
)

func testAuth(token string, now time.Time) (Identity, error) {
	switch token {
	case aliceToken:
		return Identity{Actor: "alice", ExpiresAt: t0.Add(time.Hour)}, nil
	case shortToken:
		return Identity{Actor: "bob", ExpiresAt: t0.Add(time.Minute)}, nil
	case freshToken:
		return Identity{Actor: "bob", ExpiresAt: t0.Add(2 * time.Hour)}, nil
	}
	return Identity{}, errors.New("signature is invalid")
}

// testConfig is DefaultConfig with intervals long enough that nothing
// happens on its own: tests flush by hand, at times they choose.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.StatusInterval = time.Hour
	cfg.EventInterval = time.Hour
	cfg.SummaryInterval = time.Hour
	cfg.PingInterval = time.Hour
	cfg.PongTimeout = time.Hour
	cfg.AuthTimeout = 10 * time.Second
	return cfg
}

// fakeSource is a fleet whose statuses are battery levels.
type fakeSource struct {
	mu       sync.Mutex
	battery  map[uuid.UUID]int
	changed  []uuid.UUID
	pending  map[uuid.UUID]bool
	drains   atomic.Int64
	statuses atomic.Int64 // AppendStatus calls
}

func newFakeSource() *fakeSource {
	return &fakeSource{battery: map[uuid.UUID]int{}, pending: map[uuid.UUID]bool{}}
}

// Set records a device's new battery level as a change.
func (s *fakeSource) Set(id uuid.UUID, pct int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.battery[id] = pct
	if !s.pending[id] {
		s.pending[id] = true
		s.changed = append(s.changed, id)
	}
}

func (s *fakeSource) Delete(id uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.battery, id)
}

func (s *fakeSource) DrainChanged(dst []Change) []Change {
	s.drains.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.changed {
		dst = append(dst, Change{ID: id})
	}
	s.changed = s.changed[:0]
	clear(s.pending)
	return dst
}

func (s *fakeSource) AppendStatus(dst []byte, c Change) ([]byte, bool) {
	s.statuses.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := c.ID
	pct, ok := s.battery[id]
	if !ok {
		return dst, false
	}
	return fmt.Appendf(dst, `{"device_id":%q,"battery_pct":%d}`, id, pct), true
}

func (s *fakeSource) AppendSummary(dst []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Appendf(dst, `{"devices":%d}`, len(s.battery))
}

// syncBuffer collects log lines from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testHub struct {
	*Hub
	src  *fakeSource
	logs *syncBuffer
	reg  *prometheus.Registry
	addr string // host:port
	now  atomic.Pointer[time.Time]
}

// newTestHub serves a hub on a real listener. With run, Run flushes on its
// tickers; without, the test calls the flushes itself and Run only does
// the shutdown, at cleanup.
func newTestHub(t *testing.T, cfg Config, run bool) *testHub {
	t.Helper()
	th := &testHub{src: newFakeSource(), logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	th.setNow(t0)
	th.Hub = New(cfg, Deps{
		Source: th.src, Auth: testAuth, Log: zerolog.New(th.logs),
		Now: func() time.Time { return *th.now.Load() }, Registry: th.reg,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	th.addr = ln.Addr().String()
	// A short idle duration lets the worker pool's cleaner notice Shutdown quickly.
	srv := &fasthttp.Server{Handler: th.Handle, MaxIdleWorkerDuration: 10 * time.Millisecond}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(); _ = ln.Close(); <-served }) // Close: Serve may not have started

	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	if run {
		go func() { defer close(ran); th.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		if !run {
			th.Run(ctx) // shuts down at once
			return
		}
		<-ran
	})
	return th
}

func (th *testHub) setNow(t time.Time) { th.now.Store(&t) }

// dial opens a WebSocket to /admin/ws, with ?token= when token is set.
func (th *testHub) dial(t *testing.T, token string, header http.Header) (*testClient, *http.Response, error) {
	t.Helper()
	u := "ws://" + th.addr + "/admin/ws"
	if token != "" {
		u += "?token=" + token
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(u, header)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &testClient{t: t, Conn: conn}, resp, nil
}

// connect dials with a query token and reads auth.ok and the summary.
func (th *testHub) connect(t *testing.T, token string) *testClient {
	t.Helper()
	c, _, err := th.dial(t, token, nil)
	require.NoError(t, err)
	require.Equal(t, "auth.ok", c.next().Type)
	require.Equal(t, TypeSummary, c.next().Type)
	return c
}

// serverMessage is any server message, decoded loosely.
type serverMessage struct {
	Type      string          `json:"type"`
	At        string          `json:"at"`
	Data      json.RawMessage `json:"data"`
	ExpiresAt *string         `json:"expires_at"`
	Error     string          `json:"error"`
	Message   string          `json:"message"`
	All       bool            `json:"all"`
	DeviceIDs []string        `json:"device_ids"`
	raw       []byte
}

type testClient struct {
	t *testing.T
	*websocket.Conn
}

// next reads one message, failing the test if none comes within 5s. It
// lifts its deadline afterwards: left on the connection, it would end a
// later background reader (pump, followChunks) on a slow machine.
func (c *testClient) next() serverMessage {
	c.t.Helper()
	require.NoError(c.t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	typ, data, err := c.ReadMessage()
	require.NoError(c.t, err)
	require.NoError(c.t, c.SetReadDeadline(time.Time{}))
	require.Equal(c.t, websocket.TextMessage, typ)
	var m serverMessage
	require.NoError(c.t, json.Unmarshal(data, &m), "message %s", data)
	m.raw = data
	return m
}

func (c *testClient) send(v any) {
	c.t.Helper()
	require.NoError(c.t, c.WriteJSON(v))
}

// closed reads until the server closes the connection and returns its close frame.
func (c *testClient) closed() *websocket.CloseError {
	c.t.Helper()
	require.NoError(c.t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		require.ErrorAs(c.t, err, &ce)
		return ce
	}
}

// statuses decodes a device.status message's data.
func statuses(t *testing.T, m serverMessage) map[uuid.UUID]int {
	t.Helper()
	require.Equal(t, TypeStatus, m.Type)
	var list []struct {
		DeviceID uuid.UUID `json:"device_id"`
		Battery  int       `json:"battery_pct"`
	}
	require.NoError(t, json.Unmarshal(m.Data, &list))
	got := map[uuid.UUID]int{}
	for _, s := range list {
		_, dup := got[s.DeviceID]
		require.False(t, dup, "device %s appears twice in one batch", s.DeviceID)
		got[s.DeviceID] = s.Battery
	}
	return got
}

func readBody(t *testing.T, resp *http.Response) map[string]string {
	t.Helper()
	require.NotNil(t, resp)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]string
	require.NoError(t, json.Unmarshal(b, &body), "body %s", b)
	return body
}

func ids(n int) []uuid.UUID {
	out := make([]uuid.UUID, n)
	for i := range out {
		out[i] = uuid.MustParse("00000000-0000-4000-8000-" + fmt.Sprintf("%012d", i+1))
	}
	return out
}

// counterValue sums a registered metric over its labels.
func counterValue(t *testing.T, th *testHub, name string, labels ...string) float64 {
	t.Helper()
	families, err := th.reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() != labels[i+1] {
						continue metrics
					}
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
