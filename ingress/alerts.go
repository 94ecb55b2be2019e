package ingress

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors/alerting"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// Alerter is the alerts supervisor, as the admin API uses it.
type Alerter interface {
	Raise(rule string, details map[string]any)
	SendTest(ctx context.Context, by string) []alerting.TestResult
	Reload(ctx context.Context) error // routes by the channels and rules Postgres holds now
}

// listAlerts is GET /admin/alerts?status&rule&severity&device_id&limit&cursor.
// namedAlert is an alert with its device's alias, from memory, for people
// reading the list.
type namedAlert struct {
	pgstore.AlertRecord
	DeviceAlias string `json:"device_alias"` // "" for a fleet alert or a deleted device
}

func (s *Server) listAlerts(ctx *fasthttp.RequestCtx) {
	qr := newQuery(ctx)
	q := pgstore.AlertQuery{
		Status:   qr.Enum("status", "open", "resolved"),
		Rule:     qr.Enum("rule", alertRuleNames...),
		Severity: qr.Enum("severity", severities...),
		Limit:    qr.Int("limit", 1, 500, 100),
	}
	if raw := string(ctx.QueryArgs().Peek("device_id")); raw != "" && qr.err == nil {
		id, err := uuid.Parse(raw)
		if err != nil {
			qr.fail(fieldError("device_id", "must be a device id (a UUID)"))
		}
		q.DeviceID = &id
	}
	if raw := string(ctx.QueryArgs().Peek("cursor")); raw != "" && qr.err == nil {
		payload, e := s.openCursor("alerts", raw)
		if e != nil {
			qr.fail(e)
		} else if c, ok := parseAlertCursor(payload); ok {
			q.Before = &c
		} else {
			qr.fail(fieldError("cursor", "is not a cursor from this listing"))
		}
	}
	if qr.err != nil {
		writeError(ctx, qr.err)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	items, err := s.deps.Alerts.List(c, q)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	now := s.now()
	named := make([]namedAlert, len(items))
	for i := range items {
		named[i].AlertRecord = items[i]
		if id := items[i].DeviceID; id != nil {
			if row, ok := s.deps.Directory.Row(*id, now); ok {
				named[i].DeviceAlias = row.Alias
			}
		}
	}
	resp := map[string]any{"items": named, "next_cursor": nil}
	if len(items) == q.Limit {
		last := items[len(items)-1]
		resp["next_cursor"] = s.sealCursor("alerts", last.FiredAt.UTC().Format(time.RFC3339Nano)+" "+last.ID.String())
	}
	writeJSON(ctx, fasthttp.StatusOK, resp)
}

func parseAlertCursor(payload string) (pgstore.AlertCursor, bool) {
	if len(payload) < 38 {
		return pgstore.AlertCursor{}, false
	}
	at, err1 := time.Parse(time.RFC3339Nano, payload[:len(payload)-37])
	id, err2 := uuid.Parse(payload[len(payload)-36:])
	return pgstore.AlertCursor{FiredAt: at, ID: id}, err1 == nil && err2 == nil
}

// ackAlert is POST /admin/alerts/{id}/ack.
func (s *Server) ackAlert(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "alert")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	by := principal(ctx).Actor()
	a, err := s.deps.Alerts.Ack(c, id, by, s.now())
	if err != nil {
		s.audit(ctx, "alert.ack", id.String(), "not_found", nil)
		writeError(ctx, lookupError(err, "alert", id))
		return
	}
	s.audit(ctx, "alert.ack", id.String(), "ok", map[string]any{"rule": a.Rule})
	device := uuid.Nil
	if a.DeviceID != nil {
		device = *a.DeviceID
	}
	s.hub.Publish("alert.acknowledged", device, a)
	writeJSON(ctx, fasthttp.StatusOK, a)
}

// testAlert is POST /admin/alerts/test: one test message to every channel,
// answering how each took it.
func (s *Server) testAlert(ctx *fasthttp.RequestCtx) {
	c, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	results := s.deps.Alerter.SendTest(c, principal(ctx).Actor())
	ok := 0
	for _, r := range results {
		if r.OK {
			ok++
		}
	}
	s.audit(ctx, "alert.test", "", "ok", map[string]any{"channels": len(results), "delivered": ok})
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"channels": results})
}

// remediationTTL is how long a remediation launch_app waits for a device.
const remediationTTL = 10 * time.Minute

// RemediateService sends a signed launch_app for a service that is down,
// on behalf of the alerts supervisor, and audits it as the system's.
func (s *Server) RemediateService(device uuid.UUID, pkg string) error {
	c, cancel := dbContext()
	defer cancel()
	params, e := canonicalParams("launch_app", []byte(`{"package":`+strconv.Quote(pkg)+`}`))
	if e != nil {
		return e
	}
	now := s.now()
	cmds, err := s.queueCommands(c, []uuid.UUID{device}, "launch_app", params, remediationTTL, "system:auto-remediation", now)
	if err != nil {
		return err
	}
	if len(cmds) == 0 {
		return fmt.Errorf("device %s is gone", device)
	}
	err = s.deps.Audit.Record(c, pgstore.AuditEntry{At: now, Actor: "system:auto-remediation", Action: "command.create",
		Target: device.String(), Result: "ok", Details: map[string]any{"type": "launch_app", "package": pkg, "command_id": cmds[0].ID}})
	if err != nil {
		s.log.Error().Str("event", "audit.write.error").Str("action", "command.create").Err(err).Msg("audit entry lost")
	}
	return nil
}
