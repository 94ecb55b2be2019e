package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var secret = []byte("shared-webhook-secret")

// signedReceiver checks each post with VerifyWebhook, as an operator's
// receiver would, and keeps the bodies it accepted.
type signedReceiver struct {
	t        *testing.T
	secret   []byte
	accepted chan string
}

func (r *signedReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	assert.NoError(r.t, err)
	assert.Equal(r.t, "application/json", req.Header.Get("Content-Type"))
	err = VerifyWebhook(r.secret, req.Header.Get("X-NexMDM-Timestamp"), req.Header.Get("X-NexMDM-Signature"),
		body, time.Now(), 5*time.Minute)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.accepted <- string(body)
	w.WriteHeader(http.StatusNoContent)
}

func newTestWebhook(t *testing.T, receiverSecret []byte) (*Webhook, chan string) {
	rcv := &signedReceiver{t: t, secret: receiverSecret, accepted: make(chan string, 1)}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	return &Webhook{URL: srv.URL + "/hooks/nexmdm", Secret: secret, HTTP: srv.Client()}, rcv.accepted
}

func TestWebhookPostsASignedStableShape(t *testing.T) {
	w, accepted := newTestWebhook(t, secret)
	require.NoError(t, w.Send(context.Background(), storm()))
	assert.JSONEq(t, `{
		"kind": "digest", "rule": "offline", "severity": "critical",
		"title": "Storm: 500 devices offline",
		"text": "Site Harbour Road may have lost power.",
		"device_id": "", "device": "", "fields": [],
		"link": "https://mdm.example.com/devices?status=offline",
		"at": "2026-03-14T12:18:00Z",
		"digest": {"fired": 500, "resolved": 0, "devices": ["Till 1", "Till 2", "Till 3"], "window_s": 60}
	}`, <-accepted)

	require.NoError(t, w.Send(context.Background(), offline()))
	assert.JSONEq(t, `{
		"kind": "fired", "rule": "offline", "severity": "critical",
		"title": "Device offline: Till 4", "text": "No heartbeat for 14 minutes.",
		"device_id": "7f3c", "device": "Till 4",
		"fields": [{"name": "Last seen", "value": "12:04 UTC (14 min ago)"}, {"name": "Site", "value": "Harbour Road"}],
		"link": "https://mdm.example.com/alerts/42",
		"at": "2026-03-14T12:18:00Z",
		"digest": null
	}`, <-accepted)
}

func TestWebhookRefusedByAReceiverWithAnotherSecret(t *testing.T) {
	w, _ := newTestWebhook(t, []byte("another secret"))
	err := w.Send(context.Background(), offline())
	assert.ErrorIs(t, err, ErrPermanent)
	assert.Contains(t, err.Error(), "signature does not match")
}

func TestWebhookNeedsASecret(t *testing.T) {
	w, _ := newTestWebhook(t, secret)
	w.Secret = nil
	assert.ErrorIs(t, w.Send(context.Background(), offline()), ErrPermanent)
}

func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"kind":"test"}`)
	ts := strconv.FormatInt(at.Unix(), 10)
	sig := sign(secret, ts, body)
	for _, tc := range []struct {
		name      string
		secret    []byte
		timestamp string
		signature string
		body      []byte
		now       time.Time
		want      error // nil: accepted
	}{
		{"genuine", secret, ts, sig, body, at, nil},
		{"genuine, clocks 4 min apart", secret, ts, sig, body, at.Add(4 * time.Minute), nil},
		{"tampered body", secret, ts, sig, []byte(`{"kind":"fired"}`), at, errBadSignature},
		{"other secret", []byte("other"), ts, sig, body, at, errBadSignature},
		{"timestamp changed", secret, strconv.FormatInt(at.Unix()+60, 10), sig, body, at, errBadSignature},
		{"replayed 10 min later", secret, ts, sig, body, at.Add(10 * time.Minute), errStale},
		{"from the future", secret, ts, sig, body, at.Add(-10 * time.Minute), errStale},
		{"no prefix", secret, ts, sig[len("sha256="):], body, at, errBadSignature},
		{"not hex", secret, ts, "sha256=zz", body, at, errBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook(tc.secret, tc.timestamp, tc.signature, tc.body, tc.now, 5*time.Minute)
			if tc.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
	assert.Error(t, VerifyWebhook(secret, "yesterday", sig, body, at, time.Minute), "timestamp not a number")
	assert.Error(t, VerifyWebhook(nil, ts, sig, body, at, time.Minute), "no secret")
}
