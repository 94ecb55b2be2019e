package ingress

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// audit records an admin action by the request's principal. An entry that
// cannot be written is logged as lost; the action itself has happened.
func (s *Server) audit(ctx *fasthttp.RequestCtx, action, target, result string, details map[string]any) {
	actor := "anonymous"
	if p := principal(ctx); p != nil {
		actor = p.Actor()
	}
	s.auditAs(ctx, actor, action, target, result, details)
}

func (s *Server) auditAs(ctx *fasthttp.RequestCtx, actor, action, target, result string, details map[string]any) {
	c, cancel := dbContext()
	defer cancel()
	err := s.deps.Audit.Record(c, pgstore.AuditEntry{
		At: s.now(), Actor: actor, Action: action, Target: target,
		SourceIP: ctx.RemoteIP().String(), Result: result, Details: details,
	})
	if err != nil {
		s.log.Error().Str("event", "audit.write.error").Str("action", action).Err(err).Msg("audit entry lost")
	}
}

// listAudit is GET /admin/audit?actor&action&target&result&from&to&limit&cursor.
func (s *Server) listAudit(ctx *fasthttp.RequestCtx) {
	qr := newQuery(ctx)
	q := pgstore.AuditQuery{
		Actor: qr.Text("actor", 200), Action: qr.Text("action", 200),
		Target: qr.Text("target", 200), Result: qr.Text("result", 200),
		From: qr.Time("from", time.Time{}), To: qr.Time("to", time.Time{}),
		Limit: qr.Int("limit", 1, 1000, 100),
	}
	if v := qr.args.Peek("cursor"); len(v) > 0 && qr.err == nil {
		payload, e := s.openCursor("audit", string(v))
		id, err := strconv.ParseInt(payload, 10, 64)
		if e == nil && (err != nil || id <= 0) {
			e = errorf(fasthttp.StatusBadRequest, "invalid_cursor", "the cursor is not valid; start from the first page")
		}
		qr.fail(e)
		q.BeforeID = id
	}
	if qr.err != nil {
		writeError(ctx, qr.err)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	entries, err := s.deps.Audit.List(c, q)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	resp := map[string]any{"entries": entries, "next_cursor": nil}
	if len(entries) == q.Limit {
		resp["next_cursor"] = s.sealCursor("audit", strconv.FormatInt(entries[len(entries)-1].ID, 10))
	}
	writeJSON(ctx, fasthttp.StatusOK, resp)
}
