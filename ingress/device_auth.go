package ingress

import (
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/ingress/devicetoken"
)

// authorizeDevice checks the device token as a heartbeat's is checked.
func (s *Server) authorizeDevice(ctx *fasthttp.RequestCtx) (uuid.UUID, *Error) {
	device, secret, ok := devicetoken.Parse(bearerToken(ctx))
	if !ok {
		return device, errorf(fasthttp.StatusUnauthorized, "invalid_token",
			"send the device token from registration as Authorization: Bearer <token>")
	}
	c, cancel := dbContext()
	defer cancel()
	outcome, err := s.deps.Directory.Authorize(c, device, s.deps.Tokens.Digest(secret))
	if err != nil {
		return device, routeError(err)
	}
	if outcome != actors.Stored {
		return device, outcomeError(actors.HeartbeatReply{Outcome: outcome, RetryAfter: 5 * time.Second})
	}
	return device, nil
}

// deviceBody is a device request body that checks itself.
type deviceBody interface{ validate() *Error }

// readDeviceRequest authorizes the device token and reads a JSON body of
// at most limit bytes into req. On failure it has answered already.
func (s *Server) readDeviceRequest(ctx *fasthttp.RequestCtx, limit int, req deviceBody) (uuid.UUID, bool) {
	device, e := s.authorizeDevice(ctx)
	if e == nil && len(ctx.PostBody()) > limit {
		e = bodyTooLarge(limit)
	}
	if e == nil {
		e = decodeJSON(ctx.PostBody(), req)
	}
	if e == nil {
		e = req.validate()
	}
	if e != nil {
		writeError(ctx, e)
		return device, false
	}
	return device, true
}
