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
