package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Embed colours, as Discord's decimal RGB.
const (
	colorCritical = 0xE74C3C // red
	colorWarning  = 0xE67E22 // orange
	colorInfo     = 0x3498DB // blue
	colorResolved = 0x2ECC71 // green
)

// Discord's documented embed limits, in characters.
const (
	maxTitle       = 256
	maxDescription = 4096
	maxFields      = 25
	maxFieldName   = 256
	maxFieldValue  = 1024
	maxEmbedTotal  = 6000
)

const (
	discordAttempts = 3                // 429s and 5xx share this budget
	maxRetryAfter   = 30 * time.Second // a longer wait is a spent budget: digest it
	serverBackoff   = 500 * time.Millisecond
)

// Discord posts to a Discord webhook with one rich embed: title,
// description, colour by severity and kind (red critical, orange warning,
// blue info, green resolved), inline fields, timestamp, url = Link and
// footer "NexMDM". On 429 it waits for retry_after and tries again; 4xx
// other than 429 is ErrPermanent; 5xx and network errors are tried up to 3
// times with a short backoff.
type Discord struct {
	URL   string                                           // the webhook URL; it holds a token, so errors never show it
	HTTP  *http.Client                                     // nil: http.DefaultClient
	Sleep func(ctx context.Context, d time.Duration) error // nil: a real wait that ends with ctx
}

type discordPayload struct {
	Embeds          []discordEmbed  `json:"embeds"`
	AllowedMentions allowedMentions `json:"allowed_mentions"`
}

// allowedMentions with no parse keeps an alias like "@everyone" from pinging.
type allowedMentions struct {
	Parse []string `json:"parse"`
}

type discordEmbed struct {
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	URL         string         `json:"url,omitempty"`
	Color       int            `json:"color"`
	Fields      []discordField `json:"fields,omitempty"`
	Timestamp   string         `json:"timestamp,omitempty"`
	Footer      discordFooter  `json:"footer"`
}

type discordField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline"`
}

type discordFooter struct {
	Text string `json:"text"`
}

// Send posts n as one embed.
func (d *Discord) Send(ctx context.Context, n Notification) error {
	body, err := json.Marshal(discordPayload{
		Embeds:          []discordEmbed{embed(n)},
		AllowedMentions: allowedMentions{Parse: []string{}},
	})
	if err != nil {
		return fmt.Errorf("discord: encode: %w", err)
	}
	var last error
	for attempt := 1; ; attempt++ {
		wait, err := d.post(ctx, body)
		if err == nil {
			return nil
		}
		last = err
		if wait < 0 || attempt == discordAttempts {
			return last
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return fmt.Errorf("%w (next try after the deadline)", last)
		}
		if err := d.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%w (%w)", last, err)
		}
	}
}

// post makes one attempt. On failure it says how long to wait before the
// next one, or a negative wait when another would fail the same way.
func (d *Discord) post(ctx context.Context, body []byte) (time.Duration, error) {
	resp, err := postJSON(ctx, d.HTTP, d.URL, body, nil)
	if err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("discord: %w", err)
		}
		return serverBackoff, fmt.Errorf("discord: %w", err)
	}
	switch {
	case resp.status/100 == 2:
		return 0, nil
	case resp.status == http.StatusTooManyRequests:
		wait := retryAfter(resp)
		err := fmt.Errorf("discord: 429, retry after %s: %w", wait, ErrRateLimited)
		if wait > maxRetryAfter {
			return -1, err
		}
		return wait, err
	case resp.status/100 == 4:
		return -1, fmt.Errorf("discord: %d %s: %w", resp.status, resp.snippet(), ErrPermanent)
	default:
		return serverBackoff, fmt.Errorf("discord: %d %s", resp.status, resp.snippet())
	}
}

// retryAfter reads Discord's retry_after (JSON body, seconds, float), else
// the Retry-After header, else one second.
func retryAfter(resp response) time.Duration {
	var rl struct {
		RetryAfter *float64 `json:"retry_after"`
	}
	if json.Unmarshal(resp.body, &rl) == nil && rl.RetryAfter != nil && *rl.RetryAfter >= 0 {
		return time.Duration(*rl.RetryAfter * float64(time.Second))
	}
	if s, err := strconv.ParseFloat(resp.header.Get("Retry-After"), 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	return time.Second
}

func (d *Discord) sleep(ctx context.Context, wait time.Duration) error {
	if d.Sleep != nil {
		return d.Sleep(ctx, wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// embed renders n within Discord's limits.
func embed(n Notification) discordEmbed {
	e := discordEmbed{
		Title:     truncate(title(n), maxTitle),
		URL:       n.Link,
		Color:     color(n),
		Footer:    discordFooter{Text: "NexMDM"},
		Timestamp: timestamp(n.At),
	}
	desc := n.Text
	if s := digestSummary(n); s != "" {
		desc = s + "\n" + desc
	}
	e.Description = truncate(desc, maxDescription)
	budget := maxEmbedTotal - len([]rune(e.Title)) - len([]rune(e.Description)) - len(e.Footer.Text)
	for _, f := range n.Fields {
		if len(e.Fields) == maxFields {
			break
		}
		df := discordField{Name: truncate(orDash(f.Name), maxFieldName), Value: truncate(orDash(f.Value), maxFieldValue), Inline: true}
		budget -= len([]rune(df.Name)) + len([]rune(df.Value))
		if budget < 0 {
			break
		}
		e.Fields = append(e.Fields, df)
	}
	return e
}

// color is green for a recovery, else red, orange or blue by severity.
func color(n Notification) int {
	switch {
	case resolved(n):
		return colorResolved
	case n.Severity == Critical:
		return colorCritical
	case n.Severity == Warning:
		return colorWarning
	default:
		return colorInfo
	}
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// orDash stands in for an empty embed field, which Discord refuses.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
