package wshub

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests let Run flush on its own tickers.

// pump reads c in the background, which also answers pings, and hands over
// the messages; the channel closes when the connection ends.
func (c *testClient) pump() <-chan serverMessage {
	out := make(chan serverMessage, 1024)
	go func() {
		defer close(out)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var m serverMessage
			_ = json.Unmarshal(data, &m)
			out <- m
		}
	}()
	return out
}

// await returns the next message of type typ from a pump.
func await(t *testing.T, msgs <-chan serverMessage, typ string) serverMessage {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-msgs:
			require.True(t, ok, "connection ended while waiting for %s", typ)
			if m.Type == typ {
				return m
			}
		case <-timeout:
			require.FailNow(t, "no "+typ+" within 5s")
		}
	}
}

func TestRunDrainsTheSourceEvenWithoutClients(t *testing.T) {
	cfg := testConfig()
	cfg.StatusInterval = 5 * time.Millisecond
	th := newTestHub(t, cfg, true)
	th.src.Set(uuid.New(), 1)

	require.Eventually(t, func() bool { return th.src.drains.Load() >= 3 }, 5*time.Second, time.Millisecond)
	assert.Zero(t, th.src.statuses.Load(), "nothing is encoded for nobody")
}

func TestTheHubIsListeningOnlyWhileAnAuthenticatedClientIsConnected(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	assert.False(t, th.Listening(), "no client")
	_, _, err := th.dial(t, "", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return th.Clients() == 1 }, 5*time.Second, time.Millisecond)
	assert.False(t, th.Listening(), "a client that has not authenticated yet")

	c := th.connect(t, aliceToken)
	assert.True(t, th.Listening())

	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return !th.Listening() }, 5*time.Second, time.Millisecond, "the client left")
}

func TestRunFlushesStatusesEventsAndSummaries(t *testing.T) {
	cfg := testConfig()
	cfg.StatusInterval = 10 * time.Millisecond
	cfg.EventInterval = 10 * time.Millisecond
	cfg.SummaryInterval = 10 * time.Millisecond
	th := newTestHub(t, cfg, true)
	msgs := th.connect(t, aliceToken).pump()
	x := uuid.New()
	th.src.Set(x, 64)
	th.Publish("command.ack", x, map[string]string{"command_id": "c1"})

	assert.Equal(t, map[uuid.UUID]int{x: 64}, statuses(t, await(t, msgs, TypeStatus)))
	assert.JSONEq(t, `[{"device_id":"`+x.String()+`","command_id":"c1"}]`, string(await(t, msgs, "command.ack").Data))
	await(t, msgs, TypeSummary)
	await(t, msgs, TypeSummary)
}

func TestServerPingsClients(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval = 10 * time.Millisecond
	th := newTestHub(t, cfg, false)
	c := th.connect(t, aliceToken)
	pinged := make(chan struct{}, 1)
	c.SetPingHandler(func(data string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	c.pump()

	select {
	case <-pinged:
	case <-time.After(5 * time.Second):
		t.Fatal("no ping within 5s")
	}
}

func TestClientThatDoesNotAnswerPingsIsClosedAfterPongTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval = 20 * time.Millisecond
	cfg.PongTimeout = 500 * time.Millisecond
	th := newTestHub(t, cfg, false)
	polite := th.connect(t, aliceToken).pump() // the default ping handler answers
	deaf := th.connect(t, aliceToken)
	deaf.SetPingHandler(func(string) error { return nil })

	ce := deaf.closed()
	assert.Equal(t, websocket.ClosePolicyViolation, ce.Code)
	assert.Equal(t, "pong timeout", ce.Text)
	require.Eventually(t, func() bool { return th.Clients() == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 1.0, counterValue(t, th, "nexmdm_ws_clients_dropped_total", "reason", "pong_timeout"))

	th.marker(t0)
	await(t, polite, "marker") // lived as long, and is still here
}

type chunk struct {
	Step int    `json:"step"`
	Blob string `json:"blob"`
}

func TestSlowClientIsDroppedWhileOthersKeepReceiving(t *testing.T) {
	cfg := testConfig()
	cfg.StatusInterval = 10 * time.Millisecond
	cfg.EventInterval = 10 * time.Millisecond
	cfg.SendQueue = 16
	cfg.WriteTimeout = time.Minute // it is the full queue that drops the client
	th := newTestHub(t, cfg, true)
	_, _, err := th.dial(t, aliceToken, nil) // and never read
	require.NoError(t, err)
	fast := th.connect(t, aliceToken)
	require.Eventually(t, func() bool { return th.listeners.Load() == 2 }, 5*time.Second, time.Millisecond)
	var fastStep atomic.Int64
	fastStep.Store(-1)
	go followChunks(fast, &fastStep)

	publishers := publishFromManyGoroutines(th.Hub, 8, 2000)
	blob := strings.Repeat("x", 64<<10)
	slowDrops := func() float64 {
		return counterValue(t, th, "nexmdm_ws_clients_dropped_total", "reason", "slow")
	}
	step := 0
	for ; slowDrops() == 0; step++ {
		require.Less(t, step, 1000, "the slow client was never dropped")
		for range 8 { // 512 KiB a step
			th.Publish("job.chunk", uuid.Nil, chunk{Step: step, Blob: blob})
		}
		th.src.Set(uuid.New(), step%100)
		require.Eventually(t, func() bool { return fastStep.Load() >= int64(step) }, 5*time.Second, time.Millisecond,
			"the fast client stopped receiving at step %d", step)
	}

	require.Eventually(t, func() bool { return th.Clients() == 1 }, 5*time.Second, time.Millisecond)
	assert.Contains(t, th.logs.String(), `"event":"ws.client.dropped"`)
	assert.Contains(t, th.logs.String(), `"reason":"slow"`)
	select {
	case <-publishers:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked")
	}
	drained := th.src.drains.Load()
	require.Eventually(t, func() bool { return th.src.drains.Load() > drained+2 }, 5*time.Second, time.Millisecond)
	th.Publish("job.chunk", uuid.Nil, chunk{Step: step})
	require.Eventually(t, func() bool { return fastStep.Load() >= int64(step) }, 5*time.Second, time.Millisecond)
}

// followChunks records the highest job.chunk step c has received.
func followChunks(c *testClient, step *atomic.Int64) {
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			Type string  `json:"type"`
			Data []chunk `json:"data"`
		}
		if json.Unmarshal(data, &m) != nil || m.Type != "job.chunk" {
			continue
		}
		for _, ch := range m.Data {
			if int64(ch.Step) > step.Load() {
				step.Store(int64(ch.Step))
			}
		}
	}
}

// publishFromManyGoroutines publishes n small events from each of g
// goroutines and closes the channel when all have returned.
func publishFromManyGoroutines(h *Hub, g, n int) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for i := range n {
				h.Publish("device.online", uuid.New(), map[string]int{"i": i})
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

func TestRunEndClosesClientsAsGoingAway(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); th.Run(ctx) }()
	c := th.connect(t, aliceToken)

	cancel()
	ce := c.closed()
	assert.Equal(t, websocket.CloseGoingAway, ce.Code)
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	assert.Zero(t, th.Clients())
	_, resp, err := th.dial(t, aliceToken, nil)
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	assert.Equal(t, 503, resp.StatusCode)
}
