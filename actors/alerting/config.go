package alerting

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/nexmdm/nexmdm/actors/notify"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// ruleConfig is a rule's severity and routing, as the admin API set them.
type ruleConfig struct {
	severity notify.Severity
	disabled bool     // recorded and shown, never sent
	channels []string // names; empty: every channel the severity reaches
}

// BuildRoute makes a channel's route. tlsConfig is for SMTP (nil: the
// system's roots).
func BuildRoute(c pgstore.AlertChannel, tlsConfig *tls.Config) (Route, error) {
	client := &http.Client{Timeout: 20 * time.Second}
	r := Route{Name: c.Name, MinSeverity: notify.Severity(c.MinSeverity)}
	switch c.Kind {
	case "discord":
		r.Channel = notify.Limited(&notify.Discord{URL: c.URL, HTTP: client}, notify.DiscordPerMinute, nil)
	case "webhook":
		if c.Secret == "" {
			return r, fmt.Errorf("channel %s: a webhook needs a secret to sign with", c.Name)
		}
		r.Channel = &notify.Webhook{URL: c.URL, Secret: []byte(c.Secret), HTTP: client}
	case "email":
		email, err := notify.NewEmail(c.URL, c.EmailFrom, c.EmailTo, tlsConfig)
		if err != nil {
			return r, fmt.Errorf("channel %s: %w", c.Name, err)
		}
		r.Channel = email
	default:
		return r, fmt.Errorf("channel %s: unknown kind %q", c.Name, c.Kind)
	}
	return r, nil
}

// Reload reads the channels and rules from the store and routes by them
// from now on. A channel that cannot be built is skipped and logged; the
// admin API checks channels before it stores them.
func (s *Supervisor) Reload(ctx context.Context) error {
	channels, err := s.deps.Store.Channels(ctx)
	if err != nil {
		return fmt.Errorf("load alert channels: %w", err)
	}
	rules, err := s.deps.Store.Rules(ctx)
	if err != nil {
		return fmt.Errorf("load alert rules: %w", err)
	}
	var routes []Route
	for _, c := range channels {
		if !c.Enabled {
			continue
		}
		r, err := BuildRoute(c, s.cfg.SMTPTLS)
		if err != nil {
			s.deps.Log.Error().Str("event", "alerts.channel.error").Err(err).Msg("channel skipped")
			continue
		}
		routes = append(routes, r)
	}
	cfgs := map[string]ruleConfig{}
	for _, r := range rules {
		cfgs[r.Rule] = ruleConfig{severity: notify.Severity(r.Severity), disabled: !r.Enabled, channels: r.Channels}
	}
	s.setRoutes(routes, cfgs)
	return nil
}

// setRoutes replaces the route workers; messages queued on the old ones
// are sent by them before they stop.
func (s *Supervisor) setRoutes(routes []Route, rules map[string]ruleConfig) {
	workers := make([]*routeWorker, 0, len(routes))
	for _, r := range routes {
		workers = append(workers, newRouteWorker(r, s.m, s.deps.Log))
	}
	s.mu.Lock()
	old := s.routes
	s.routes, s.rules = workers, rules
	started := s.runCtx != nil
	s.mu.Unlock()
	if started {
		for _, w := range workers {
			go w.run(s.runCtx, s.cfg.Window)
		}
	}
	for _, w := range old {
		w.retire()
	}
}

// reaches reports whether a rule's notification at sev goes to route r.
func (rc ruleConfig) reaches(r *routeWorker, sev notify.Severity) bool {
	if len(rc.channels) > 0 {
		return slices.Contains(rc.channels, r.route.Name)
	}
	return sev.AtLeast(r.route.MinSeverity)
}
