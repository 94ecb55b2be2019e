package ingress

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Error is an API error: an HTTP status, a stable machine-readable code and
// a message a person can act on. Every error body has this shape:
// {"error": code, "message": text[, "field": name]}.
type Error struct {
	Status     int           `json:"-"`
	Code       string        `json:"error"`
	Message    string        `json:"message"`
	Field      string        `json:"field,omitempty"` // the request field at fault
	RetryAfter time.Duration `json:"-"`               // sets Retry-After on 429 and 503
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func fieldError(field, format string, args ...any) *Error {
	return &Error{Status: fasthttp.StatusBadRequest, Code: "invalid_field", Field: field,
		Message: field + " " + fmt.Sprintf(format, args...)}
}

func writeError(ctx *fasthttp.RequestCtx, e *Error) {
	ctx.Response.Reset()
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("application/json")
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		ctx.Response.Header.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	body, _ := json.Marshal(e)
	ctx.SetBody(body)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(ctx, errorf(fasthttp.StatusInternalServerError, "internal", "could not encode the response"))
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}
