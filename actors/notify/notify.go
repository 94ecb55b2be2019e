// Package notify delivers alert notifications to operators' channels:
// Discord webhooks, signed generic webhooks and email. The alerts
// supervisor decides what to send and when; this package only formats a
// Notification for each service and delivers it, honouring each service's
// limits (Discord's 429 retry_after, a per-channel token bucket).
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Severity orders alerts: info < warning < critical.
type Severity string

// The severities, lowest first.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// AtLeast reports whether s is min or more severe. An unknown severity
// ranks as Info.
func (s Severity) AtLeast(min Severity) bool { return s.rank() >= min.rank() }

func (s Severity) rank() int {
	switch s {
	case Critical:
		return 2
	case Warning:
		return 1
	default:
		return 0
	}
}

// Notification is one message: an alert firing or resolving on one device,
// a digest of many, or a test.
type Notification struct {
	Kind     string    // "fired", "resolved", "digest", "test"
	Rule     string    // "offline", "low_battery", "service_down", "release_failures", or "" for test
	Severity Severity  // routing and colour
	Title    string    // e.g. "Device offline: Till 4"; empty for a digest gets DigestTitle's
	Text     string    // one or two sentences for a human
	DeviceID string    // "" for digests and fleet-level alerts
	Device   string    // alias
	Fields   []Field   // extra facts: embed fields, table rows
	Link     string    // dashboard URL for this alert or the filtered device list
	At       time.Time // when it fired, resolved or the digest window closed
	Digest   *Digest   // set for Kind "digest"
}

// Field is one extra fact, e.g. {"Last seen", "12:04 UTC (14 min ago)"}.
type Field struct{ Name, Value string }

// Digest summarises many devices firing or recovering on one rule within a
// window, so that a storm makes one message instead of hundreds.
type Digest struct {
	Fired, Resolved int           // devices in the window
	Devices         []string      // up to 10 aliases, as a sample
	Window          time.Duration // how long the window was
}

// The notification kinds.
const (
	KindFired    = "fired"
	KindResolved = "resolved"
	KindDigest   = "digest"
	KindTest     = "test"
)

// Channel delivers notifications. Send returns nil once the service
// accepted the message.
type Channel interface {
	Send(ctx context.Context, n Notification) error
}

// ErrRateLimited means the channel's own budget is spent; the caller should
// fold the message into a digest instead of sending it.
var ErrRateLimited = errors.New("notify: channel rate limited")

// ErrPermanent means the service refused the message itself (a wrong URL,
// credentials or payload); sending it again will fail the same way.
var ErrPermanent = errors.New("notify: permanent failure")

// resolved reports whether n announces a recovery: green, not red.
func resolved(n Notification) bool {
	if n.Kind == KindResolved {
		return true
	}
	return n.Kind == KindDigest && n.Digest != nil && n.Digest.Fired == 0 && n.Digest.Resolved > 0
}

// title is n.Title, or for a digest without one, a title from its counts.
func title(n Notification) string {
	if n.Title != "" || n.Digest == nil {
		return oneLine(n.Title)
	}
	d := n.Digest
	fired, back := rulePhrase(n.Rule)
	if d.Fired == 0 {
		return fmt.Sprintf("Recovered: %s %s", devices(d.Resolved), back.state)
	}
	t := fmt.Sprintf("Storm: %s %s", devices(d.Fired), fired.state)
	if d.Resolved > 0 {
		t += fmt.Sprintf(", %d %s", d.Resolved, back.state)
	}
	return t
}

// Describe renders n as a subject line, "[NexMDM] <title>", and a plain
// text body with the text, digest counts, device, fields and link. Email
// uses it, and so can logs.
func Describe(n Notification) (subject, plain string) {
	var b strings.Builder
	t := title(n)
	b.WriteString(t + "\n\n")
	if s := digestSummary(n); s != "" {
		b.WriteString(s + "\n")
	}
	if n.Text != "" {
		b.WriteString(n.Text + "\n")
	}
	b.WriteString("\n")
	for _, f := range factsOf(n) {
		fmt.Fprintf(&b, "%s: %s\n", f.Name, f.Value)
	}
	return "[NexMDM] " + t, b.String()
}

// factsOf is the rows shown under the text: device, n's fields, severity,
// time and link.
func factsOf(n Notification) []Field {
	var fs []Field
	if n.Device != "" || n.DeviceID != "" {
		d := n.Device
		switch {
		case d == "":
			d = n.DeviceID
		case n.DeviceID != "":
			d += " (" + n.DeviceID + ")"
		}
		fs = append(fs, Field{"Device", d})
	}
	fs = append(fs, n.Fields...)
	if n.Severity != "" {
		fs = append(fs, Field{"Severity", string(n.Severity)})
	}
	if !n.At.IsZero() {
		fs = append(fs, Field{"At", n.At.UTC().Format("2006-01-02 15:04:05 UTC")})
	}
	if n.Link != "" {
		fs = append(fs, Field{"Link", n.Link})
	}
	return fs
}

// digestSummary is "500 devices went offline in the last 60 s (sample:
// …)." plus a line for recoveries, or "" when n is no digest.
func digestSummary(n Notification) string {
	d := n.Digest
	if d == nil {
		return ""
	}
	fired, back := rulePhrase(n.Rule)
	var lines []string
	sampled := false
	for _, part := range []struct {
		count int
		p     phrase
	}{{d.Fired, fired}, {d.Resolved, back}} {
		if part.count == 0 {
			continue
		}
		s := fmt.Sprintf("%s %s in the last %s", devices(part.count), part.p.verb, window(d.Window))
		if !sampled && len(d.Devices) > 0 {
			s += " (sample: " + sample(d.Devices, part.count) + ")"
			sampled = true
		}
		lines = append(lines, s+".")
	}
	return strings.Join(lines, "\n")
}

// phrase says what happened to a device: "went offline" / "offline".
type phrase struct{ verb, state string }

// rulePhrase words a rule's firing and its recovery.
func rulePhrase(rule string) (fired, back phrase) {
	switch rule {
	case "offline":
		return phrase{"went offline", "offline"}, phrase{"came back online", "back online"}
	case "low_battery":
		return phrase{"ran low on battery", "on low battery"}, phrase{"recovered from low battery", "charged again"}
	case "service_down":
		return phrase{"lost their monitored service", "with a service down"}, phrase{"saw their service running again", "with the service back up"}
	case "release_failures":
		return phrase{"failed to install the release", "failing the release"}, phrase{"installed the release", "recovered from release failures"}
	default:
		return phrase{"fired " + rule, "alerting"}, phrase{"recovered from " + rule, "recovered"}
	}
}

func devices(n int) string {
	if n == 1 {
		return "1 device"
	}
	return fmt.Sprintf("%d devices", n)
}

// window is "60 s" under two minutes, "5 min" on whole minutes above it.
func window(d time.Duration) string {
	if d >= 2*time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
}

// sample lists the aliases, with "…" when they are fewer than total.
func sample(aliases []string, total int) string {
	s := strings.Join(aliases, ", ")
	if total > len(aliases) {
		s += ", …"
	}
	return s
}

// oneLine keeps a header-bound string on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncate cuts s to at most max runes, ending in "…" when cut.
func truncate(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}
