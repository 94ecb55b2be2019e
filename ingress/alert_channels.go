package ingress

import (
	"context"
	"net/url"
	"regexp"
	"slices"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors/alerting"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

var (
	channelNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	alertRuleNames     = []string{"offline", "low_battery", "service_down", "release_failures"}
	severities         = []string{"info", "warning", "critical"}
)

// channelJSON is a channel as the API shows it: never its credentials.
type channelJSON struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Target      string    `json:"target"` // scheme and host of the URL
	HasSecret   bool      `json:"has_secret"`
	EmailFrom   string    `json:"email_from,omitempty"`
	EmailTo     []string  `json:"email_to,omitempty"`
	MinSeverity string    `json:"min_severity"`
	Enabled     bool      `json:"enabled"`
}

func toChannelJSON(c *pgstore.AlertChannel) channelJSON {
	target := ""
	if u, err := url.Parse(c.URL); err == nil {
		target = u.Scheme + "://" + u.Hostname()
	}
	return channelJSON{ID: c.ID, Name: c.Name, Kind: c.Kind, Target: target, HasSecret: c.Secret != "",
		EmailFrom: c.EmailFrom, EmailTo: c.EmailTo, MinSeverity: c.MinSeverity, Enabled: c.Enabled}
}

// channelRequest is POST and PATCH /admin/alert-channels: absent fields
// keep their value on PATCH.
type channelRequest struct {
	Name        *string   `json:"name"`
	Kind        *string   `json:"kind"`
	URL         *string   `json:"url"`
	Secret      *string   `json:"secret"`
	EmailFrom   *string   `json:"email_from"`
	EmailTo     *[]string `json:"email_to"`
	MinSeverity *string   `json:"min_severity"`
	Enabled     *bool     `json:"enabled"`
}

func (r *channelRequest) apply(c *pgstore.AlertChannel) *Error {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.Name, r.Name)
	set(&c.URL, r.URL)
	set(&c.Secret, r.Secret)
	set(&c.EmailFrom, r.EmailFrom)
	set(&c.MinSeverity, r.MinSeverity)
	if r.EmailTo != nil {
		c.EmailTo = *r.EmailTo
	}
	if r.Enabled != nil {
		c.Enabled = *r.Enabled
	}
	switch {
	case !channelNamePattern.MatchString(c.Name):
		return fieldError("name", "must be 1-32 lowercase letters, digits, - or _")
	case !slices.Contains([]string{"discord", "webhook", "email"}, c.Kind):
		return fieldError("kind", "must be discord, webhook or email")
	case !slices.Contains(severities, c.MinSeverity):
		return fieldError("min_severity", "must be info, warning or critical")
	}
	if c.Kind != "email" {
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fieldError("url", "must be the http(s) URL the %s receives at", c.Kind)
		}
	}
	if _, err := alerting.BuildRoute(*c, nil); err != nil {
		return errorf(fasthttp.StatusBadRequest, "invalid_channel", "%v", err)
	}
	return nil
}

func (s *Server) listAlertChannels(ctx *fasthttp.RequestCtx) {
	c, cancel := dbContext()
	defer cancel()
	chans, err := s.deps.Alerts.Channels(c)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	items := make([]channelJSON, len(chans))
	for i := range chans {
		items[i] = toChannelJSON(&chans[i])
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"items": items})
}

func (s *Server) createAlertChannel(ctx *fasthttp.RequestCtx) {
	var req channelRequest
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	ch := pgstore.AlertChannel{ID: uuid.New(), MinSeverity: "warning", Enabled: true, CreatedAt: s.now(), UpdatedAt: s.now()}
	if req.Kind != nil {
		ch.Kind = *req.Kind
	}
	e := req.apply(&ch)
	c, cancel := dbContext()
	defer cancel()
	if e == nil {
		if err := s.deps.Alerts.CreateChannel(c, ch); err == pgstore.ErrExists {
			e = errorf(fasthttp.StatusConflict, "channel_exists", "a channel named %s exists", ch.Name)
		} else if err != nil {
			e = storeUnavailable()
		}
	}
	s.channelChanged(ctx, "alert_channel.create", &ch, e, fasthttp.StatusCreated)
}

func (s *Server) patchAlertChannel(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "alert channel")
	if e != nil {
		writeError(ctx, e)
		return
	}
	var req channelRequest
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	ch, err := s.deps.Alerts.GetChannel(c, id)
	if err != nil {
		writeError(ctx, lookupError(err, "alert channel", id))
		return
	}
	if req.Kind != nil && *req.Kind != ch.Kind {
		writeError(ctx, fieldError("kind", "cannot change; delete the channel and create another"))
		return
	}
	ch.UpdatedAt = s.now()
	if e = req.apply(&ch); e == nil {
		if err := s.deps.Alerts.UpdateChannel(c, ch); err == pgstore.ErrExists {
			e = errorf(fasthttp.StatusConflict, "channel_exists", "a channel named %s exists", ch.Name)
		} else if err != nil {
			e = storeUnavailable()
		}
	}
	s.channelChanged(ctx, "alert_channel.update", &ch, e, fasthttp.StatusOK)
}

func (s *Server) deleteAlertChannel(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "alert channel")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	if err := s.deps.Alerts.DeleteChannel(c, id); err != nil {
		writeError(ctx, lookupError(err, "alert channel", id))
		return
	}
	s.audit(ctx, "alert_channel.delete", id.String(), "ok", nil)
	s.reloadAlerts()
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// channelChanged audits a channel change (never its credentials), routes
// by it from now on, and answers.
func (s *Server) channelChanged(ctx *fasthttp.RequestCtx, action string, ch *pgstore.AlertChannel, e *Error, status int) {
	details := map[string]any{"name": ch.Name, "kind": ch.Kind, "min_severity": ch.MinSeverity, "enabled": ch.Enabled}
	if e != nil {
		s.audit(ctx, action, ch.ID.String(), e.Code, details)
		writeError(ctx, e)
		return
	}
	s.audit(ctx, action, ch.ID.String(), "ok", details)
	s.reloadAlerts()
	writeJSON(ctx, status, toChannelJSON(ch))
}

func (s *Server) reloadAlerts() {
	c, cancel := dbContext()
	defer cancel()
	if err := s.deps.Alerter.Reload(c); err != nil {
		s.log.Error().Str("event", "alerts.reload.error").Err(err).Msg("alerts route by the previous channels")
	}
}

// ruleJSON is a rule's effective settings.
type ruleJSON struct {
	Rule     string   `json:"rule"`
	Severity string   `json:"severity"`
	Enabled  bool     `json:"enabled"`
	Channels []string `json:"channels"`
}

func (s *Server) listAlertRules(ctx *fasthttp.RequestCtx) {
	c, cancel := dbContext()
	defer cancel()
	stored, err := s.deps.Alerts.Rules(c)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	out := make([]ruleJSON, 0, len(alertRuleNames))
	for _, name := range alertRuleNames {
		r := ruleJSON{Rule: name, Severity: string(alerting.DefaultConfig().Severity[name]), Enabled: true, Channels: []string{}}
		if i := slices.IndexFunc(stored, func(x pgstore.AlertRule) bool { return x.Rule == name }); i >= 0 {
			r.Severity, r.Enabled, r.Channels = stored[i].Severity, stored[i].Enabled, stored[i].Channels
		}
		out = append(out, r)
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"items": out})
}

// putAlertRule is PUT /admin/alert-rules/{rule} {severity, enabled, channels}.
func (s *Server) putAlertRule(ctx *fasthttp.RequestCtx) {
	name, _ := ctx.UserValue("rule").(string)
	var req ruleJSON
	e := decodeJSON(ctx.PostBody(), &req)
	c, cancel := dbContext()
	defer cancel()
	if e == nil {
		e = s.checkRule(c, name, &req)
	}
	if e == nil {
		err := s.deps.Alerts.PutRule(c, pgstore.AlertRule{Rule: name, Severity: req.Severity, Enabled: req.Enabled,
			Channels: req.Channels, UpdatedAt: s.now()})
		if err != nil {
			e = storeUnavailable()
		}
	}
	details := map[string]any{"severity": req.Severity, "enabled": req.Enabled, "channels": req.Channels}
	if e != nil {
		s.audit(ctx, "alert_rule.update", name, e.Code, details)
		writeError(ctx, e)
		return
	}
	s.audit(ctx, "alert_rule.update", name, "ok", details)
	s.reloadAlerts()
	req.Rule = name
	writeJSON(ctx, fasthttp.StatusOK, req)
}

func (s *Server) checkRule(c context.Context, name string, req *ruleJSON) *Error {
	switch {
	case !slices.Contains(alertRuleNames, name):
		return errorf(fasthttp.StatusNotFound, "not_found", "no rule %q; the rules are %v", name, alertRuleNames)
	case !slices.Contains(severities, req.Severity):
		return fieldError("severity", "must be info, warning or critical")
	}
	if req.Channels == nil {
		req.Channels = []string{}
	}
	chans, err := s.deps.Alerts.Channels(c)
	if err != nil {
		return storeUnavailable()
	}
	for _, n := range req.Channels {
		if !slices.ContainsFunc(chans, func(ch pgstore.AlertChannel) bool { return ch.Name == n }) {
			return fieldError("channels", "names no channel %q", n)
		}
	}
	return nil
}
