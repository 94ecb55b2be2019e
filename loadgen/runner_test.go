package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/agent/client"
)

// fakeServer is a device-protocol server whose answers each test scripts;
// it keeps every heartbeat it was sent.
type fakeServer struct {
	URL string

	mu         sync.Mutex
	heartbeats map[string][]sentHeartbeat // token -> heartbeats in arrival order
	registered []string                   // serials
	answer     func(token string, n int) (status int, retryAfter string)
	open       map[string][]string // token -> ids of commands delivered in every answer until reported
	results    []string            // command ids reported done, in order
}

type sentHeartbeat struct {
	at   time.Time
	body string
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	s := &fakeServer{heartbeats: map[string][]sentHeartbeat{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &fasthttp.Server{Handler: s.handle}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = srv.Shutdown() })
	s.URL = "http://" + ln.Addr().String()
	return s
}

func (s *fakeServer) handle(c *fasthttp.RequestCtx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch string(c.Path()) {
	case "/v1/register":
		if string(c.Request.Header.Peek("X-Admin-Key")) != "k" {
			c.SetStatusCode(401)
			c.SetBodyString(`{"error":"bad_admin_key","message":"scripted"}`)
			return
		}
		var serial string
		if _, rest, ok := bytes.Cut(c.PostBody(), []byte(`"serial":"`)); ok {
			serial, _, _ = strings.Cut(string(rest), `"`)
		}
		s.registered = append(s.registered, serial)
		c.SetStatusCode(201)
		c.SetContentType("application/json")
		c.SetBodyString(`{"device_id":"id-` + serial + `","device_token":"tok-` + serial + `-` + time.Now().Format("150405.000000000") + `","heartbeat_interval_s":300}`)
	case "/v1/heartbeat":
		tok := strings.TrimPrefix(string(c.Request.Header.Peek("Authorization")), "Bearer ")
		s.heartbeats[tok] = append(s.heartbeats[tok], sentHeartbeat{time.Now(), string(c.PostBody())})
		status, retryAfter := 200, ""
		if s.answer != nil {
			status, retryAfter = s.answer(tok, len(s.heartbeats[tok]))
		}
		if retryAfter != "" {
			c.Response.Header.Set("Retry-After", retryAfter)
		}
		c.SetStatusCode(status)
		c.SetContentType("application/json")
		if status == 200 {
			cmds := make([]string, len(s.open[tok]))
			for i, id := range s.open[tok] {
				cmds[i] = `{"id":"` + id + `","type":"ping","params_json":"{}","sig":"x"}`
			}
			c.SetBodyString(`{"deduped":false,"commands":[` + strings.Join(cmds, ",") + `],"heartbeat_interval_s":300}`)
		} else {
			c.SetBodyString(`{"error":"x","message":"scripted"}`)
		}
	case "/v1/action-result":
		var r struct {
			CommandID string `json:"command_id"`
		}
		if json.Unmarshal(c.PostBody(), &r) != nil {
			c.SetStatusCode(400)
			return
		}
		tok := strings.TrimPrefix(string(c.Request.Header.Peek("Authorization")), "Bearer ")
		s.open[tok] = slices.DeleteFunc(s.open[tok], func(id string) bool { return id == r.CommandID })
		s.results = append(s.results, r.CommandID)
		c.SetStatusCode(200)
	default:
		c.SetStatusCode(404)
	}
}

func (s *fakeServer) sent(token string) []sentHeartbeat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentHeartbeat(nil), s.heartbeats[token]...)
}

func (s *fakeServer) client(t *testing.T) *client.Client {
	t.Helper()
	tr, err := NewFastTransport(s.URL, 16, 5*time.Second)
	require.NoError(t, err)
	return client.New(tr)
}

func testFleet(n int) []*Device {
	rng := rand.New(rand.NewPCG(9, 9))
	devs := make([]*Device, n)
	for i := range devs {
		serial := SerialOf("t", i)
		devs[i] = NewDevice(Credential{Serial: serial, Token: "tok-" + serial}, time.Now().Add(-time.Hour), rng)
	}
	return devs
}

// With a count, every device sends exactly that many heartbeats, each a new
// 10 s bucket of its own clock, and the report adds up.
func TestCountedRunSendsEveryDeviceItsCount(t *testing.T) {
	s := newFakeServer(t)
	devs := testFleet(20)
	rep, err := Run(context.Background(), Options{
		Client: s.client(t), Devices: devs, Conns: 4, Count: 3, TSStep: 10 * time.Second, Seed: 1,
	})
	require.NoError(t, err)
	assert.EqualValues(t, 60, rep.Sent)
	assert.EqualValues(t, 60, rep.OK)
	assert.EqualValues(t, 60, rep.Stored)
	assert.Empty(t, rep.Failures)
	for _, d := range devs {
		hbs := s.sent(d.Cred.Token)
		require.Len(t, hbs, 3, d.Cred.Serial)
		var prev time.Time
		for _, hb := range hbs {
			ts := tsOf(t, hb.body)
			if !prev.IsZero() {
				assert.Equal(t, 10*time.Second, ts.Sub(prev))
			}
			prev = ts
		}
	}
}

// A device reports each command delivered to it done, once, as the agent
// does, so that the server stops delivering it.
func TestDevicesReportDeliveredCommandsDone(t *testing.T) {
	s := newFakeServer(t)
	devs := testFleet(3)
	s.open = map[string][]string{devs[0].Cred.Token: {"c1", "c2"}, devs[2].Cred.Token: {"c3"}}
	rep, err := Run(context.Background(), Options{
		Client: s.client(t), Devices: devs, Conns: 1, Count: 3, TSStep: 10 * time.Second, Seed: 1,
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"c1", "c2", "c3"}, s.results, "each reported once")
	assert.EqualValues(t, 3, rep.Commands)
	assert.EqualValues(t, 9, rep.OK, "heartbeats go on as before")
}

// A 503 with Retry-After holds the device for that long, and the retry is
// the same heartbeat, as an agent's queue would resend it.
func TestRetryAfterHoldsTheDeviceAndResendsTheSameHeartbeat(t *testing.T) {
	s := newFakeServer(t)
	s.answer = func(_ string, n int) (int, string) {
		if n == 1 {
			return 503, "1"
		}
		return 200, ""
	}
	devs := testFleet(5)
	rep, err := Run(context.Background(), Options{
		Client: s.client(t), Devices: devs, Conns: 5, Count: 2, TSStep: 10 * time.Second, Seed: 2,
	})
	require.NoError(t, err)
	assert.EqualValues(t, 5, rep.Failures["503 x"])
	assert.EqualValues(t, 10, rep.OK)
	for _, d := range devs {
		hbs := s.sent(d.Cred.Token)
		require.Len(t, hbs, 3)
		assert.Equal(t, hbs[0].body, hbs[1].body, "the refused heartbeat is the one retried")
		assert.GreaterOrEqual(t, hbs[1].at.Sub(hbs[0].at), 900*time.Millisecond, "the retry waits for Retry-After")
		assert.NotEqual(t, hbs[1].body, hbs[2].body)
	}
}

// A 410 stops the device for good; the rest of the fleet carries on.
func TestGoneStopsTheDevice(t *testing.T) {
	s := newFakeServer(t)
	devs := testFleet(4)
	gone := devs[2].Cred.Token
	s.answer = func(tok string, _ int) (int, string) {
		if tok == gone {
			return 410, ""
		}
		return 200, ""
	}
	rep, err := Run(context.Background(), Options{
		Client: s.client(t), Devices: devs, Conns: 2, Count: 5, TSStep: 10 * time.Second, Seed: 3,
	})
	require.NoError(t, err)
	assert.Len(t, s.sent(gone), 1)
	assert.EqualValues(t, 1, rep.Failures["410 x"])
	assert.EqualValues(t, 15, rep.OK)
}

// A paced run spreads device starts over the ramp and keeps each device to
// its interval: nobody sends twice within one interval.
func TestPacedRunKeepsEachDeviceToItsInterval(t *testing.T) {
	s := newFakeServer(t)
	devs := testFleet(50)
	_, err := Run(context.Background(), Options{
		Client: s.client(t), Devices: devs, Conns: 4, Interval: 400 * time.Millisecond,
		RampUp: 400 * time.Millisecond, Duration: 1500 * time.Millisecond, Seed: 4,
	})
	require.NoError(t, err)
	var firsts []time.Time
	for _, d := range devs {
		hbs := s.sent(d.Cred.Token)
		require.NotEmpty(t, hbs)
		firsts = append(firsts, hbs[0].at)
		for i := 1; i < len(hbs); i++ {
			assert.GreaterOrEqual(t, hbs[i].at.Sub(hbs[i-1].at), 300*time.Millisecond, "interval minus jitter and scheduling")
		}
	}
	earliest, latest := firsts[0], firsts[0]
	for _, f := range firsts {
		earliest, latest = minTime(earliest, f), maxTime(latest, f)
	}
	assert.Greater(t, latest.Sub(earliest), 200*time.Millisecond, "starts are spread over the ramp, not all at once")
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func tsOf(t *testing.T, body string) time.Time {
	t.Helper()
	_, rest, ok := strings.Cut(body, `"ts":"`)
	require.True(t, ok, body)
	v, _, _ := strings.Cut(rest, `"`)
	ts, err := time.Parse(time.RFC3339Nano, v)
	require.NoError(t, err)
	return ts
}
