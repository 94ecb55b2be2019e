package ingress

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/ingress/adminauth"
)

// query reads optional query parameters; the first bad one is kept in err
// and later reads return zero values.
type query struct {
	args *fasthttp.Args
	err  *Error
}

func newQuery(ctx *fasthttp.RequestCtx) *query { return &query{args: ctx.QueryArgs()} }

func (q *query) fail(e *Error) {
	if q.err == nil {
		q.err = e
	}
}

// Int reads an integer within [lo, hi].
func (q *query) Int(name string, lo, hi, def int) int {
	v := q.args.Peek(name)
	if len(v) == 0 || q.err != nil {
		return def
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < lo || n > hi {
		q.fail(fieldError(name, "must be an integer from %d to %d", lo, hi))
	}
	return n
}

// Time reads an RFC 3339 time.
func (q *query) Time(name string, def time.Time) time.Time {
	v := q.args.Peek(name)
	if len(v) == 0 || q.err != nil {
		return def
	}
	t, err := time.Parse(time.RFC3339, string(v))
	if err != nil {
		q.fail(fieldError(name, "must be an RFC 3339 time such as 2026-11-23T10:00:00Z"))
	}
	return t
}

// Text reads printable text of at most max bytes.
func (q *query) Text(name string, max int) string {
	v := string(q.args.Peek(name))
	if len(v) > max || !printable(v, true) {
		q.fail(fieldError(name, "must be at most %d printable characters", max))
		return ""
	}
	return v
}

// Enum reads a value that must be one of allowed.
func (q *query) Enum(name string, allowed ...string) string {
	v := string(q.args.Peek(name))
	if v == "" || slices.Contains(allowed, v) {
		return v
	}
	q.fail(fieldError(name, "must be one of %s", strings.Join(allowed, ", ")))
	return ""
}

// Bool reads true or false.
func (q *query) Bool(name string) bool {
	return q.Enum(name, "true", "false") == "true"
}

// Cursors are signed, so a client can hold one but not forge or edit it.
// kind keeps a cursor of one listing from being replayed on another.
func (s *Server) sealCursor(kind, payload string) string {
	v := base64.RawURLEncoding.EncodeToString([]byte(payload))
	mac := s.deps.Sessions.Digest("cursor:" + kind + ":" + v)[:12]
	return v + "." + base64.RawURLEncoding.EncodeToString(mac)
}

func (s *Server) openCursor(kind, raw string) (string, *Error) {
	v, mac, ok := strings.Cut(raw, ".")
	if ok && len(raw) <= 512 {
		got, err := base64.RawURLEncoding.DecodeString(mac)
		payload, perr := base64.RawURLEncoding.DecodeString(v)
		if err == nil && perr == nil && adminauth.DigestEqual(got, s.deps.Sessions.Digest("cursor:" + kind + ":" + v)[:12]) {
			return string(payload), nil
		}
	}
	return "", errorf(fasthttp.StatusBadRequest, "invalid_cursor",
		"the cursor was not issued by this server for this listing, or was altered; start from the first page")
}
