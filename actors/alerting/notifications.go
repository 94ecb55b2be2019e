package alerting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/actors/notify"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// notify sends the groups whose window has closed (see group): per rule and
// direction, one digest per channel when StormThreshold devices or more are
// in it, else one message per alert.
func (s *Supervisor) notify(now time.Time) {
	due := map[groupKey][]item{}
	s.mu.Lock()
	for k, g := range s.window {
		if g.due(now, s.cfg.Window) {
			due[k] = g.items
			delete(s.window, k)
		}
	}
	s.mu.Unlock()
	s.mu.Lock()
	routes, rules := s.routes, s.rules
	s.mu.Unlock()
	for k, items := range due {
		rc := rules[k.rule]
		if rc.disabled {
			continue
		}
		sev := s.severity(k.rule)
		var msgs []notify.Notification
		if len(items) >= s.cfg.StormThreshold {
			msgs = []notify.Notification{s.digest(k, items, sev, now)}
		} else {
			for _, it := range items {
				msgs = append(msgs, s.message(it, sev))
			}
		}
		for _, r := range routes {
			if !rc.reaches(r, sev) {
				continue
			}
			for _, m := range msgs {
				r.enqueue(m)
			}
		}
	}
}

func (s *Supervisor) digest(k groupKey, items []item, sev notify.Severity, now time.Time) notify.Notification {
	d := &notify.Digest{Window: s.cfg.Window}
	if k.fired {
		d.Fired = len(items)
	} else {
		d.Resolved = len(items)
	}
	for _, it := range items[:min(10, len(items))] {
		d.Devices = append(d.Devices, it.device)
	}
	link := ""
	if s.cfg.DashboardURL != "" {
		link = s.cfg.DashboardURL + "/alerts?rule=" + k.rule
	}
	return notify.Notification{Kind: notify.KindDigest, Rule: k.rule, Severity: sev, Digest: d, Link: link, At: now}
}

// message renders one alert for a human.
func (s *Supervisor) message(it item, sev notify.Severity) notify.Notification {
	a := &it.alert
	n := notify.Notification{Kind: notify.KindFired, Rule: a.Rule, Severity: sev, Device: it.device, At: a.FiredAt}
	if a.ResolvedAt != nil {
		n.Kind, n.At = notify.KindResolved, *a.ResolvedAt
	}
	if a.DeviceID != nil {
		n.DeviceID = a.DeviceID.String()
		if s.cfg.DashboardURL != "" {
			n.Link = s.cfg.DashboardURL + "/devices/" + n.DeviceID
		}
	}
	n.Title, n.Text = describe(a, it.device, n.Kind == notify.KindResolved)
	keys := make([]string, 0, len(a.Details))
	for k := range a.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if v := a.Details[k]; v != nil {
			n.Fields = append(n.Fields, notify.Field{Name: k, Value: fmt.Sprint(v)})
		}
	}
	return n
}

// describe is an alert's title and sentence.
func describe(a *pgstore.AlertRecord, device string, resolved bool) (string, string) {
	d := a.Details
	switch a.Rule {
	case "offline":
		if resolved {
			return "Back online: " + device, device + " is reporting again."
		}
		return "Device offline: " + device, fmt.Sprintf("%s has sent no heartbeat since %v.", device, d["last_seen"])
	case "low_battery":
		if resolved {
			return "Battery recovered: " + device, fmt.Sprintf("%s is at %v%% or charging.", device, d["battery_pct"])
		}
		return "Low battery: " + device, fmt.Sprintf("%s is at %v%% and not charging.", device, d["battery_pct"])
	case "service_down":
		svc := fmt.Sprint(d["service"])
		if svc == "" || svc == "<nil>" {
			svc = fmt.Sprint(d["package"])
		}
		if resolved {
			return fmt.Sprintf("Service back: %s on %s", svc, device), fmt.Sprintf("%s is in the foreground again on %s.", svc, device)
		}
		return fmt.Sprintf("Service down: %s on %s", svc, device),
			fmt.Sprintf("%s has not been in the foreground on %s for more than %v minutes (last seen %v).", svc, device, d["threshold_min"], d["last_foreground"])
	case "release_failures":
		return fmt.Sprint("Release paused: ", d["release_id"]), fmt.Sprint(d["reason"])
	}
	return a.Rule + ": " + device, ""
}

// routeWorker delivers one channel's messages in order, off the
// supervisor's loop, so that a slow channel delays only itself. Messages
// the channel's rate limit refuses are folded into one digest a window.
type routeWorker struct {
	route  Route
	queue  chan notify.Notification
	done   chan struct{} // closed to retire the worker once its queue is sent
	m      *metrics
	log    zerolog.Logger
	folded []notify.Notification
}

func newRouteWorker(r Route, m *metrics, log zerolog.Logger) *routeWorker {
	return &routeWorker{route: r, queue: make(chan notify.Notification, 1024), done: make(chan struct{}), m: m, log: log}
}

// retire stops the worker after it has sent what it holds.
func (w *routeWorker) retire() { close(w.done) }

func (w *routeWorker) enqueue(n notify.Notification) {
	select {
	case w.queue <- n:
	default:
		w.m.notifications.WithLabelValues(w.route.Name, "dropped").Inc()
		w.log.Warn().Str("event", "alerts.notify.dropped").Str("channel", w.route.Name).Msg("channel backlog full")
	}
}

func (w *routeWorker) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-w.queue:
			w.send(ctx, n)
		case <-t.C:
			w.sendFolded(ctx)
		case <-w.done:
			for {
				select {
				case n := <-w.queue:
					w.send(ctx, n)
				default:
					w.sendFolded(ctx)
					return
				}
			}
		}
	}
}

func (w *routeWorker) send(ctx context.Context, n notify.Notification) {
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := w.route.Channel.Send(c, n)
	cancel()
	switch {
	case errors.Is(err, notify.ErrRateLimited):
		w.m.notifications.WithLabelValues(w.route.Name, "rate_limited").Inc()
		w.folded = append(w.folded, n)
	case err != nil:
		w.m.notifications.WithLabelValues(w.route.Name, "failed").Inc()
		w.log.Error().Str("event", "alerts.notify.error").Str("channel", w.route.Name).Str("title", n.Title).Err(err).Msg("notification not delivered")
	default:
		w.m.notifications.WithLabelValues(w.route.Name, "sent").Inc()
	}
}

// sendFolded sends what the rate limit held back as one digest per rule.
func (w *routeWorker) sendFolded(ctx context.Context) {
	if len(w.folded) == 0 {
		return
	}
	byRule := map[string]*notify.Notification{}
	var order []string
	for _, n := range w.folded {
		d := byRule[n.Rule]
		if d == nil {
			d = &notify.Notification{Kind: notify.KindDigest, Rule: n.Rule, Severity: n.Severity, Digest: &notify.Digest{}, At: n.At}
			byRule[n.Rule] = d
			order = append(order, n.Rule)
		}
		add := func(fired, resolved int) { d.Digest.Fired += fired; d.Digest.Resolved += resolved }
		switch {
		case n.Digest != nil:
			add(n.Digest.Fired, n.Digest.Resolved)
		case n.Kind == notify.KindResolved:
			add(0, 1)
		default:
			add(1, 0)
		}
		if len(d.Digest.Devices) < 10 && n.Device != "" {
			d.Digest.Devices = append(d.Digest.Devices, n.Device)
		}
	}
	w.folded = nil
	for _, rule := range order {
		w.send(ctx, *byRule[rule]) // still limited: it folds again, for the next window
	}
}
