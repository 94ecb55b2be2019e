package wshub

import (
	"net/http"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueryTokenAuthenticatesBeforeTheUpgrade(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	th.src.Set(uuid.New(), 80)
	c, _, err := th.dial(t, aliceToken, nil)
	require.NoError(t, err)

	ok := c.next()
	assert.Equal(t, "auth.ok", ok.Type)
	require.NotNil(t, ok.ExpiresAt)
	assert.Equal(t, "2025-03-01T13:00:00Z", *ok.ExpiresAt)

	summary := c.next()
	assert.Equal(t, TypeSummary, summary.Type, "fleet.summary follows auth at once")
	assert.Equal(t, "2025-03-01T12:00:00Z", summary.At)
	assert.JSONEq(t, `{"devices":1}`, string(summary.Data))
	assert.Equal(t, 1, th.Clients())
}

func TestInvalidQueryTokenGets401BeforeTheUpgrade(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	_, resp, err := th.dial(t, "forged-token", nil)
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "unauthorized", readBody(t, resp)["error"])
	assert.Contains(t, th.logs.String(), `"event":"ws.auth.fail"`)
	assert.NotContains(t, th.logs.String(), "forged-token", "tokens are never logged")
}

func TestFirstMessageAuthenticatesWithoutQueryToken(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	c, _, err := th.dial(t, "", nil)
	require.NoError(t, err)
	c.send(map[string]string{"type": "auth", "token": aliceToken})

	assert.Equal(t, "auth.ok", c.next().Type)
	assert.Equal(t, TypeSummary, c.next().Type)
	assert.NotContains(t, th.logs.String(), aliceToken)
	assert.Contains(t, th.logs.String(), `"event":"ws.client.connect"`)
}

func TestClientThatNeverAuthenticatesIsClosedAfterAuthTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.AuthTimeout = 100 * time.Millisecond
	cfg.PingInterval = 10 * time.Millisecond // answering pings must not keep it open
	th := newTestHub(t, cfg, false)
	c, _, err := th.dial(t, "", nil)
	require.NoError(t, err)

	ce := c.closed()
	assert.Equal(t, CloseUnauthorized, ce.Code)
	assert.Equal(t, "authentication timed out", ce.Text)
	require.Eventually(t, func() bool { return th.Clients() == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1.0, counterValue(t, th, "nexmdm_ws_clients_dropped_total", "reason", "auth_timeout"))
}

func TestBadAuthMessagesCloseWith4401(t *testing.T) {
	for _, tc := range []struct {
		name   string
		first  any
		reason string
	}{
		{"invalid token", map[string]string{"type": "auth", "token": "forged-token"}, "invalid token"},
		{"expired token", map[string]string{"type": "auth", "token": shortToken}, "invalid token"},
		{"no auth first", map[string]any{"type": "subscribe", "all": true}, "authenticate first"},
		{"not JSON", "hello", "authenticate first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := newTestHub(t, testConfig(), false)
			th.setNow(t0.Add(2 * time.Minute)) // shortToken has expired
			c, _, err := th.dial(t, "", nil)
			require.NoError(t, err)
			c.send(tc.first)

			ce := c.closed()
			assert.Equal(t, CloseUnauthorized, ce.Code)
			assert.Equal(t, tc.reason, ce.Text)
		})
	}
}

func TestExpiredIdentityIsClosedUnlessItReauthenticates(t *testing.T) {
	th := newTestHub(t, testConfig(), false)
	stale := th.connect(t, shortToken)
	renewed := th.connect(t, shortToken)

	renewed.send(map[string]string{"type": "auth", "token": freshToken})
	ok := renewed.next()
	require.Equal(t, "auth.ok", ok.Type)
	assert.Equal(t, "2025-03-01T14:00:00Z", *ok.ExpiresAt)
	th.expire(t0.Add(59 * time.Second))
	th.expire(t0.Add(time.Minute))

	ce := stale.closed()
	assert.Equal(t, CloseUnauthorized, ce.Code)
	assert.Equal(t, "token expired", ce.Text)

	th.Publish("alert.test", uuid.Nil, map[string]int{"n": 1})
	th.flushEvents(t0.Add(time.Minute))
	assert.Equal(t, "alert.test", renewed.next().Type, "the re-authenticated client stays")
}

func TestOriginMustBeTheSameHostOrAllowed(t *testing.T) {
	cfg := testConfig()
	cfg.AllowedOrigins = []string{"https://admin.example.com"}
	th := newTestHub(t, cfg, false)
	for _, tc := range []struct {
		origin string
		want   bool
	}{
		{"", true},
		{"http://" + th.addr, true},
		{"https://admin.example.com", true},
		{"https://evil.example.com", false},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		_, resp, err := th.dial(t, aliceToken, h)
		if tc.want {
			assert.NoError(t, err, "Origin %q", tc.origin)
			continue
		}
		require.ErrorIs(t, err, websocket.ErrBadHandshake, "Origin %q", tc.origin)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Equal(t, "forbidden_origin", readBody(t, resp)["error"])
	}
}

func TestConnectionsOverMaxClientsGet503(t *testing.T) {
	cfg := testConfig()
	cfg.MaxClients = 1
	th := newTestHub(t, cfg, false)
	th.connect(t, aliceToken)

	_, resp, err := th.dial(t, aliceToken, nil)
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "unavailable", readBody(t, resp)["error"])
}
