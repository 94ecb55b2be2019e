package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// discordReceiver stands in for Discord: each request gets the next
// scripted answer, and the last answer repeats.
type discordReceiver struct {
	t       *testing.T
	answers []func(w http.ResponseWriter)

	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

func (r *discordReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, err := io.ReadAll(req.Body)
	assert.NoError(r.t, err)
	r.mu.Lock()
	i := min(len(r.requests), len(r.answers)-1)
	r.requests = append(r.requests, req)
	r.bodies = append(r.bodies, string(b))
	r.mu.Unlock()
	r.answers[i](w)
}

func (r *discordReceiver) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

func status(code int) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(code) }
}

func rateLimited(body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1") // the body's finer figure wins
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, body)
	}
}

// newTestDiscord returns a Discord aimed at a receiver giving answers, and
// the waits its Sleep was asked for.
func newTestDiscord(t *testing.T, answers ...func(w http.ResponseWriter)) (*Discord, *discordReceiver, *[]time.Duration) {
	rcv := &discordReceiver{t: t, answers: answers}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	var waits []time.Duration
	d := &Discord{
		URL:  srv.URL + "/api/webhooks/123/secret-token",
		HTTP: srv.Client(),
		Sleep: func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			return ctx.Err()
		},
	}
	return d, rcv, &waits
}

func offline() Notification {
	return Notification{
		Kind: KindFired, Rule: "offline", Severity: Critical, At: at,
		Title: "Device offline: Till 4", Text: "No heartbeat for 14 minutes.",
		DeviceID: "7f3c", Device: "Till 4",
		Fields: []Field{{"Last seen", "12:04 UTC (14 min ago)"}, {"Site", "Harbour Road"}},
		Link:   "https://mdm.example.com/alerts/42",
	}
}

func TestDiscordPostsOneEmbed(t *testing.T) {
	d, rcv, waits := newTestDiscord(t, status(http.StatusNoContent))
	require.NoError(t, d.Send(context.Background(), offline()))

	require.Equal(t, 1, rcv.calls())
	req := rcv.requests[0]
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, "/api/webhooks/123/secret-token", req.URL.Path)
	assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
	assert.JSONEq(t, `{
		"embeds": [{
			"title": "Device offline: Till 4",
			"description": "No heartbeat for 14 minutes.",
			"url": "https://mdm.example.com/alerts/42",
			"color": 15158332,
			"fields": [
				{"name": "Last seen", "value": "12:04 UTC (14 min ago)", "inline": true},
				{"name": "Site", "value": "Harbour Road", "inline": true}
			],
			"timestamp": "2026-03-14T12:18:00Z",
			"footer": {"text": "NexMDM"}
		}],
		"allowed_mentions": {"parse": []}
	}`, rcv.bodies[0])
	assert.Empty(t, *waits)
}

func TestDiscordDigestEmbed(t *testing.T) {
	d, rcv, _ := newTestDiscord(t, status(http.StatusNoContent))
	require.NoError(t, d.Send(context.Background(), storm()))
	assert.JSONEq(t, `{
		"embeds": [{
			"title": "Storm: 500 devices offline",
			"description": "500 devices went offline in the last 60 s (sample: Till 1, Till 2, Till 3, …).\nSite Harbour Road may have lost power.",
			"url": "https://mdm.example.com/devices?status=offline",
			"color": 15158332,
			"timestamp": "2026-03-14T12:18:00Z",
			"footer": {"text": "NexMDM"}
		}],
		"allowed_mentions": {"parse": []}
	}`, rcv.bodies[0])
}

func TestDiscordColours(t *testing.T) {
	recovered := storm()
	recovered.Digest = &Digest{Resolved: 480}
	for _, tc := range []struct {
		name string
		n    Notification
		want int
	}{
		{"critical", Notification{Kind: KindFired, Severity: Critical}, 0xE74C3C},
		{"warning", Notification{Kind: KindFired, Severity: Warning}, 0xE67E22},
		{"info", Notification{Kind: KindTest, Severity: Info}, 0x3498DB},
		{"resolved", Notification{Kind: KindResolved, Severity: Critical}, 0x2ECC71},
		{"recovery digest", recovered, 0x2ECC71},
		{"storm digest", storm(), 0xE74C3C},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, embed(tc.n).Color, "color(%s)", tc.name)
		})
	}
}

func TestDiscordKeepsToEmbedLimits(t *testing.T) {
	n := offline()
	n.Title = strings.Repeat("t", 300)
	n.Fields = nil
	for range 30 {
		n.Fields = append(n.Fields, Field{"Name", strings.Repeat("v", 1100)})
	}
	n.Fields = append(n.Fields, Field{"", ""})
	e := embed(n)
	assert.Len(t, []rune(e.Title), maxTitle)
	total := len([]rune(e.Title)) + len([]rune(e.Description)) + len(e.Footer.Text)
	for _, f := range e.Fields {
		assert.LessOrEqual(t, len([]rune(f.Value)), maxFieldValue)
		total += len([]rune(f.Name)) + len([]rune(f.Value))
	}
	assert.LessOrEqual(t, len(e.Fields), maxFields)
	assert.LessOrEqual(t, total, maxEmbedTotal)
	assert.Equal(t, "-", embed(Notification{Fields: []Field{{"", ""}}}).Fields[0].Value, "Discord refuses empty fields")
}

func TestDiscordWaitsOutA429(t *testing.T) {
	d, rcv, waits := newTestDiscord(t,
		rateLimited(`{"message": "You are being rate limited.", "retry_after": 0.05, "global": false}`),
		status(http.StatusNoContent))
	require.NoError(t, d.Send(context.Background(), offline()))
	assert.Equal(t, 2, rcv.calls())
	assert.Equal(t, []time.Duration{50 * time.Millisecond}, *waits)
	assert.Equal(t, rcv.bodies[0], rcv.bodies[1], "the same message again")
}

func TestDiscordGivesUpAfterThree429s(t *testing.T) {
	d, rcv, waits := newTestDiscord(t, rateLimited(`{"retry_after": 0.05, "global": false}`))
	err := d.Send(context.Background(), offline())
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.Equal(t, 3, rcv.calls())
	assert.Len(t, *waits, 2, "a wait between tries, none after the last")
}

func TestDiscordUsesRetryAfterHeader(t *testing.T) {
	d, _, waits := newTestDiscord(t, rateLimited(``), status(http.StatusNoContent))
	require.NoError(t, d.Send(context.Background(), offline()))
	assert.Equal(t, []time.Duration{time.Second}, *waits)
}

func TestDiscordLongRetryAfterIsASpentBudget(t *testing.T) {
	d, rcv, waits := newTestDiscord(t, rateLimited(`{"retry_after": 120, "global": true}`))
	assert.ErrorIs(t, d.Send(context.Background(), offline()), ErrRateLimited)
	assert.Equal(t, 1, rcv.calls())
	assert.Empty(t, *waits)
}

func TestDiscord400IsPermanent(t *testing.T) {
	d, rcv, waits := newTestDiscord(t, func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"message": "Invalid Form Body", "code": 50035}`)
	})
	err := d.Send(context.Background(), offline())
	assert.ErrorIs(t, err, ErrPermanent)
	assert.Contains(t, err.Error(), "Invalid Form Body")
	assert.Equal(t, 1, rcv.calls())
	assert.Empty(t, *waits)
}

func TestDiscordRetries5xx(t *testing.T) {
	d, rcv, waits := newTestDiscord(t,
		status(http.StatusInternalServerError), status(http.StatusBadGateway), status(http.StatusNoContent))
	require.NoError(t, d.Send(context.Background(), offline()))
	assert.Equal(t, 3, rcv.calls())
	assert.Equal(t, []time.Duration{serverBackoff, serverBackoff}, *waits)
}

func TestDiscordReturns5xxAfterThreeTries(t *testing.T) {
	d, rcv, _ := newTestDiscord(t, status(http.StatusServiceUnavailable))
	err := d.Send(context.Background(), offline())
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrPermanent)
	assert.Equal(t, 3, rcv.calls())
}

func TestDiscordNetworkErrorHidesTheToken(t *testing.T) {
	d, _, waits := newTestDiscord(t, status(http.StatusNoContent))
	srv := httptest.NewServer(http.NotFoundHandler())
	d.URL = srv.URL + "/api/webhooks/123/secret-token"
	srv.Close() // nothing listens there now
	err := d.Send(context.Background(), offline())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret-token")
	assert.Len(t, *waits, 2)
}

func TestDiscordStopsWithTheContext(t *testing.T) {
	d, rcv, _ := newTestDiscord(t, rateLimited(`{"retry_after": 0.05}`))
	d.Sleep = nil // the real wait
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := d.Send(ctx, offline())
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.Equal(t, 1, rcv.calls(), "a 50 ms wait does not fit a 20 ms deadline")
}
