package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers a Webhook signs its posts with.
const (
	HeaderTimestamp = "X-NexMDM-Timestamp" // unix seconds
	HeaderSignature = "X-NexMDM-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
)

// Webhook posts the notification as JSON to any receiver (a Slack or
// PagerDuty adapter, a script), signed so that the receiver can check it
// came from NexMDM and refuse replays. The body's shape is stable:
//
//	{"kind": "fired", "rule": "offline", "severity": "critical",
//	 "title": "Device offline: Till 4", "text": "…",
//	 "device_id": "…", "device": "Till 4",
//	 "fields": [{"name": "Last seen", "value": "12:04 UTC"}],
//	 "link": "https://…", "at": "2026-01-02T12:18:00Z",
//	 "digest": null | {"fired": 500, "resolved": 0, "devices": ["…"], "window_s": 60}}
//
// Headers: X-NexMDM-Timestamp is unix seconds; X-NexMDM-Signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)). Receivers
// check both with VerifyWebhook. Send makes one attempt: a 429 answer
// wraps ErrRateLimited, another 4xx ErrPermanent.
type Webhook struct {
	URL    string       // the receiver; errors never show it
	Secret []byte       // the HMAC key shared with the receiver; required
	HTTP   *http.Client // nil: http.DefaultClient
}

type webhookBody struct {
	Kind     string         `json:"kind"`
	Rule     string         `json:"rule"`
	Severity Severity       `json:"severity"`
	Title    string         `json:"title"`
	Text     string         `json:"text"`
	DeviceID string         `json:"device_id"`
	Device   string         `json:"device"`
	Fields   []webhookField `json:"fields"`
	Link     string         `json:"link"`
	At       time.Time      `json:"at"`
	Digest   *webhookDigest `json:"digest"`
}

type webhookField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type webhookDigest struct {
	Fired    int      `json:"fired"`
	Resolved int      `json:"resolved"`
	Devices  []string `json:"devices"`
	WindowS  int64    `json:"window_s"`
}

// Send posts n, signed with the current time.
func (w *Webhook) Send(ctx context.Context, n Notification) error {
	if len(w.Secret) == 0 {
		return fmt.Errorf("webhook: no secret: %w", ErrPermanent)
	}
	body, err := json.Marshal(webhookPayload(n))
	if err != nil {
		return fmt.Errorf("webhook: encode: %w", err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := http.Header{}
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sign(w.Secret, ts, body))
	resp, err := postJSON(ctx, w.HTTP, w.URL, body, h)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	switch {
	case resp.status/100 == 2:
		return nil
	case resp.status == http.StatusTooManyRequests:
		return fmt.Errorf("webhook: 429: %w", ErrRateLimited)
	case resp.status/100 == 4 && resp.status != http.StatusRequestTimeout:
		return fmt.Errorf("webhook: %d %s: %w", resp.status, resp.snippet(), ErrPermanent)
	default:
		return fmt.Errorf("webhook: %d %s", resp.status, resp.snippet())
	}
}

func webhookPayload(n Notification) webhookBody {
	b := webhookBody{
		Kind: n.Kind, Rule: n.Rule, Severity: n.Severity, Title: title(n), Text: n.Text,
		DeviceID: n.DeviceID, Device: n.Device, Link: n.Link, At: n.At.UTC(),
		Fields: make([]webhookField, 0, len(n.Fields)),
	}
	for _, f := range n.Fields {
		b.Fields = append(b.Fields, webhookField{f.Name, f.Value})
	}
	if d := n.Digest; d != nil {
		devs := d.Devices
		if devs == nil {
			devs = []string{}
		}
		b.Digest = &webhookDigest{d.Fired, d.Resolved, devs, int64(d.Window.Round(time.Second) / time.Second)}
	}
	return b
}

// sign is "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body).
func sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

var (
	errBadSignature = errors.New("webhook signature does not match")
	errStale        = errors.New("webhook timestamp outside the allowed skew")
)

// VerifyWebhook checks a Webhook post: signature is the X-NexMDM-Signature
// header, timestamp X-NexMDM-Timestamp, body the raw body. It refuses a
// signature that does not match (compared in constant time) and a
// timestamp more than maxSkew from now, so that a captured post cannot be
// replayed later.
func VerifyWebhook(secret []byte, timestamp, signature string, body []byte, now time.Time, maxSkew time.Duration) error {
	if len(secret) == 0 {
		return errors.New("webhook: no secret to verify with")
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook timestamp %q is not unix seconds", timestamp)
	}
	got, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return fmt.Errorf("webhook signature lacks the sha256= prefix: %w", errBadSignature)
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return fmt.Errorf("webhook signature is not hex: %w", errBadSignature)
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(sign(secret, timestamp, body), "sha256="))
	if !hmac.Equal(gotMAC, want) {
		return errBadSignature
	}
	if skew := now.Sub(time.Unix(ts, 0)).Abs(); skew > maxSkew {
		return fmt.Errorf("%w: %s off, at most %s", errStale, skew.Truncate(time.Second), maxSkew)
	}
	return nil
}
