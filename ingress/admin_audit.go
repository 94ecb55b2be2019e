package ingress

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/ingress/adminauth"
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

// Cursors are signed, so a client can hold one but not forge or edit it.
func (s *Server) signCursor(kind string, id int64) string {
	v := strconv.FormatInt(id, 10)
	mac := s.deps.Sessions.Digest("cursor:" + kind + ":" + v)[:12]
	return v + "." + base64.RawURLEncoding.EncodeToString(mac)
}

func (s *Server) readCursor(kind, raw string) (int64, *Error) {
	bad := errorf(fasthttp.StatusBadRequest, "invalid_cursor", "the cursor was not issued by this server or was altered; start from the first page")
	v, mac, ok := strings.Cut(raw, ".")
	if !ok || len(v) > 20 {
		return 0, bad
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !adminauth.DigestEqual(got, s.deps.Sessions.Digest("cursor:" + kind + ":" + v)[:12]) {
		return 0, bad
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}

// listAudit is GET /admin/audit?actor&action&target&result&from&to&limit&cursor.
func (s *Server) listAudit(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	q := pgstore.AuditQuery{Limit: 100}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"actor", &q.Actor}, {"action", &q.Action}, {"target", &q.Target}, {"result", &q.Result}} {
		v := string(args.Peek(f.name))
		if len(v) > 200 {
			writeError(ctx, fieldError(f.name, "must be at most 200 characters"))
			return
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if v := args.Peek(f.name); len(v) > 0 {
			t, err := time.Parse(time.RFC3339, string(v))
			if err != nil {
				writeError(ctx, fieldError(f.name, "must be an RFC 3339 time such as 2026-11-23T10:00:00Z"))
				return
			}
			*f.dst = t
		}
	}
	if v := args.Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > 1000 {
			writeError(ctx, fieldError("limit", "must be 1-1000"))
			return
		}
		q.Limit = n
	}
	if v := args.Peek("cursor"); len(v) > 0 {
		id, e := s.readCursor("audit", string(v))
		if e != nil {
			writeError(ctx, e)
			return
		}
		q.BeforeID = id
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
		resp["next_cursor"] = s.signCursor("audit", entries[len(entries)-1].ID)
	}
	writeJSON(ctx, fasthttp.StatusOK, resp)
}
