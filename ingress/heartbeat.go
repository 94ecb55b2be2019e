package ingress

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/ingress/devicetoken"
	"github.com/nexmdm/nexmdm/persistence"
)

// heartbeat is POST /v1/heartbeat: check the request here, let the device
// actor authenticate and dedupe it, and answer 200 only once its row is
// committed (or its bucket was already stored).
func (s *Server) heartbeat(ctx *fasthttp.RequestCtx) {
	if !bodyWithin(ctx, s.cfg.MaxBodyBytes) {
		s.m.rejected.WithLabelValues("body_too_large").Inc()
		return
	}
	now := s.now()
	id, secret, ok := devicetoken.Parse(bearerToken(ctx))
	if !ok {
		s.rejectHeartbeat(ctx, errorf(fasthttp.StatusUnauthorized, "invalid_token",
			"send the device token from registration as Authorization: Bearer <token>"))
		return
	}
	if s.inflight.Add(1) > s.cfg.MaxInflight {
		s.inflight.Add(-1)
		s.rejectHeartbeat(ctx, &Error{Status: fasthttp.StatusServiceUnavailable, Code: "busy",
			Message: "the server is at capacity; retry after the Retry-After delay", RetryAfter: time.Second})
		return
	}
	defer s.inflight.Add(-1)

	req := actors.NewHeartbeatRequest()
	h := &req.Write.Heartbeat
	if e := parseHeartbeat(ctx.PostBody(), h, &req.KeyID); e != nil {
		req.Release()
		s.rejectHeartbeat(ctx, e)
		return
	}
	if e := s.checkTS(h.TS, now); e != nil {
		req.Release()
		s.rejectHeartbeat(ctx, e)
		return
	}
	h.DeviceID = id
	h.ReceivedAt = now
	req.Digest = s.deps.Tokens.Digest(secret)
	req.Secret = string(secret)

	if err := s.deps.Directory.Heartbeat(req); err != nil {
		req.Release()
		s.rejectHeartbeat(ctx, routeError(err))
		return
	}
	rep, ok := req.Wait(s.cfg.HeartbeatTimeout)
	if !ok { // the actor or writer may still hold req: leave it to the GC
		s.rejectHeartbeat(ctx, &Error{Status: fasthttp.StatusServiceUnavailable, Code: "timeout",
			Message: "the heartbeat was not committed in time; retry it", RetryAfter: time.Second})
		return
	}
	cmds, newKey := req.Commands, req.NewKey
	req.Release()
	s.answerHeartbeat(ctx, rep, cmds, s.keyRotation(id, newKey))
}

// checkTS keeps rows that could never be stored out of the writer: one row
// with no partition would fail its whole batch.
func (s *Server) checkTS(ts, now time.Time) *Error {
	if ts.After(now.Add(s.cfg.ClockSkew)) {
		return &Error{Status: fasthttp.StatusBadRequest, Code: "ts_out_of_range", Field: "ts",
			Message: "ts is more than " + s.cfg.ClockSkew.String() + " ahead of the server clock; fix the device clock"}
	}
	if ts.Before(now.Add(-s.cfg.Retention)) {
		return &Error{Status: fasthttp.StatusBadRequest, Code: "ts_out_of_range", Field: "ts",
			Message: "ts is older than the retention period; drop this report"}
	}
	return nil
}

func (s *Server) answerHeartbeat(ctx *fasthttp.RequestCtx, rep actors.HeartbeatReply, cmds []persistence.Command, rotation []byte) {
	switch rep.Outcome {
	case actors.Stored, actors.Deduped:
		deduped := rep.Outcome == actors.Deduped
		if deduped {
			s.m.deduped.Inc()
		} else {
			s.m.stored.Inc()
		}
		writeHeartbeatOK(ctx, deduped, rep.HeartbeatInterval, cmds, rotation)
	default:
		s.rejectHeartbeat(ctx, outcomeError(rep))
	}
}

// outcomeError is the answer to a device request its actor did not accept.
func outcomeError(rep actors.HeartbeatReply) *Error {
	switch rep.Outcome {
	case actors.Unauthorized:
		return errorf(fasthttp.StatusUnauthorized, "invalid_token", "the device token is not valid; re-enroll the device")
	case actors.TokenRevoked:
		return errorf(fasthttp.StatusGone, "token_revoked", "this token was replaced when the device re-enrolled; stop using it")
	case actors.DeviceDeleted:
		return errorf(fasthttp.StatusGone, "device_deleted", "the device was deleted; stop and wipe credentials")
	case actors.RateLimited:
		return &Error{Status: fasthttp.StatusTooManyRequests, Code: "rate_limited",
			Message: "the device sends heartbeats too fast; wait for Retry-After", RetryAfter: rep.RetryAfter}
	case actors.Busy:
		return &Error{Status: fasthttp.StatusServiceUnavailable, Code: "busy",
			Message: "the server is at capacity; retry after the Retry-After delay", RetryAfter: rep.RetryAfter}
	}
	return &Error{Status: fasthttp.StatusServiceUnavailable, Code: "store_unavailable",
		Message: "the heartbeat could not be stored; retry it", RetryAfter: rep.RetryAfter}
}

func routeError(err error) *Error {
	switch {
	case errors.Is(err, actors.ErrUnknownDevice):
		return errorf(fasthttp.StatusUnauthorized, "unknown_device", "no device has this token's id; enroll the device")
	case errors.Is(err, actors.ErrDeviceDeleted):
		return errorf(fasthttp.StatusGone, "device_deleted", "the device was deleted; stop and wipe credentials")
	default:
		return &Error{Status: fasthttp.StatusServiceUnavailable, Code: "store_unavailable",
			Message: "the device's state could not be loaded; retry", RetryAfter: time.Second}
	}
}

func (s *Server) rejectHeartbeat(ctx *fasthttp.RequestCtx, e *Error) {
	s.m.rejectedAll.Inc()
	s.m.rejected.WithLabelValues(e.Code).Inc()
	writeError(ctx, e)
}

func writeHeartbeatOK(ctx *fasthttp.RequestCtx, deduped bool, interval time.Duration, cmds []persistence.Command, rotation []byte) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	var buf [96]byte
	b := append(buf[:0], `{"deduped":`...)
	b = strconv.AppendBool(b, deduped)
	b = append(b, `,"commands":`...)
	b = appendDelivered(b, cmds)
	b = append(b, `,"heartbeat_interval_s":`...)
	b = strconv.AppendInt(b, int64(interval/time.Second), 10)
	b = append(b, rotation...)
	b = append(b, '}')
	ctx.SetBody(b)
}

func bearerToken(ctx *fasthttp.RequestCtx) []byte {
	auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const prefix = "Bearer "
	if len(auth) <= len(prefix) || !bytes.EqualFold(auth[:len(prefix)], []byte(prefix)) {
		return nil
	}
	return bytes.TrimSpace(auth[len(prefix):])
}

// deliveredCommand is a command as DESIGN.md delivers it to a device.
type deliveredCommand struct {
	ID           string `json:"id"`
	DeviceID     string `json:"device_id"`
	Type         string `json:"type"`
	ParamsJSON   string `json:"params_json"`
	IssuedAtUnix int64  `json:"issued_at_unix"`
	HMACKeyID    string `json:"hmac_key_id"`
	Sig          string `json:"sig"`
}

func appendDelivered(b []byte, cmds []persistence.Command) []byte {
	if len(cmds) == 0 {
		return append(b, "[]"...)
	}
	out := make([]deliveredCommand, len(cmds))
	for i, c := range cmds {
		out[i] = deliveredCommand{ID: c.ID.String(), DeviceID: c.DeviceID.String(), Type: c.Type,
			ParamsJSON: c.ParamsJSON, IssuedAtUnix: c.IssuedAt.Unix(), HMACKeyID: c.KeyID, Sig: c.Sig}
	}
	js, _ := json.Marshal(out) // strings and ints: cannot fail
	return append(b, js...)
}

// keyRotation is the heartbeat answer's `"hmac_rotation"` member, which
// hands a device the command key of the current master key, or nil.
func (s *Server) keyRotation(device uuid.UUID, kid string) []byte {
	if kid == "" {
		return nil
	}
	key, err := s.deps.Keys.DeviceKey(kid, device)
	if err != nil {
		return nil
	}
	b, _ := json.Marshal(map[string]string{"hmac_key_id": kid, "hmac_key": base64.StdEncoding.EncodeToString(key)})
	return append([]byte(`,"hmac_rotation":`), b...)
}
