package ingress

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/ingress/devicetoken"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

var channelName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

// agentUpdate is GET /v1/agent/update?channel=stable: the device's offer,
// decided from its actor's memory (token, current version) and the
// in-memory release book. 204: nothing to do.
func (s *Server) agentUpdate(ctx *fasthttp.RequestCtx) {
	device, secret, ok := devicetoken.Parse(bearerToken(ctx))
	if !ok {
		writeError(ctx, errorf(fasthttp.StatusUnauthorized, "invalid_token",
			"send the device token from registration as Authorization: Bearer <token>"))
		return
	}
	channel := string(ctx.QueryArgs().Peek("channel"))
	if channel == "" {
		channel = "stable"
	}
	if !channelName.MatchString(channel) {
		writeError(ctx, fieldError("channel", "must be a channel name such as stable or beta"))
		return
	}
	c, cancel := dbContext()
	defer cancel()
	facts, err := s.deps.Directory.UpdateFacts(c, device, s.deps.Tokens.Digest(secret))
	if err != nil {
		writeError(ctx, routeError(err))
		return
	}
	if facts.Outcome != actors.Stored {
		writeError(ctx, outcomeError(actors.HeartbeatReply{Outcome: facts.Outcome, RetryAfter: 5 * time.Second}))
		return
	}
	offer, ok := s.deps.Rollout.Offer(channel, device, facts.VersionCode)
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, offer)
}

type updateEventRequest struct {
	ReleaseID   uuid.UUID  `json:"release_id"`
	VersionCode int        `json:"version_code"`
	Event       string     `json:"event"`
	Message     string     `json:"message"`
	At          *time.Time `json:"at"`
}

func (r *updateEventRequest) validate() *Error {
	switch {
	case r.ReleaseID == uuid.Nil:
		return &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "release_id",
			Message: "release_id is required: the release_id of the offer"}
	case !slices.Contains(pgstore.UpdateEventNames, r.Event):
		return fieldError("event", "must be one of %v", pgstore.UpdateEventNames)
	case r.VersionCode < 0:
		return fieldError("version_code", "must be the offer's version_code")
	case len(r.Message) > 1024:
		return fieldError("message", "must be at most 1024 bytes")
	}
	return nil
}

// agentUpdateEvent is POST /v1/agent/update-events: a device reports a
// step of an update. Failures count toward the release's auto-pause.
func (s *Server) agentUpdateEvent(ctx *fasthttp.RequestCtx) {
	var req updateEventRequest
	device, ok := s.readDeviceRequest(ctx, 8<<10, &req)
	if !ok {
		return
	}
	c, cancel := dbContext()
	defer cancel()
	now := s.now()
	at := now
	if req.At != nil {
		at = *req.At
	}
	err := s.deps.Releases.RecordUpdateEvent(c, pgstore.UpdateEvent{ReleaseID: req.ReleaseID, DeviceID: device,
		Event: req.Event, VersionCode: req.VersionCode, Message: req.Message, DeviceAt: at, ReceivedAt: now})
	if err != nil {
		writeError(ctx, lookupError(err, "release", req.ReleaseID))
		return
	}
	s.hub.Publish("release.update_event", device, map[string]any{"release_id": req.ReleaseID, "event": req.Event, "at": now})
	if req.Event == "failed" {
		s.autoPause(ctx, req.ReleaseID)
	}
	ctx.SetStatusCode(fasthttp.StatusAccepted)
}

// autoPause pauses an active release whose failure rate passed its
// threshold, once enough devices tried it: a bad build stops itself.
func (s *Server) autoPause(ctx *fasthttp.RequestCtx, id uuid.UUID) {
	c, cancel := dbContext()
	defer cancel()
	r, err := s.deps.Releases.Get(c, id)
	if err != nil || r.Status != pgstore.ReleaseActive {
		return
	}
	attempted, failed, err := s.deps.Releases.Failures(c, id)
	if err != nil || attempted < r.FailureMinDevices || failed*100 <= r.FailureThresholdPct*attempted {
		return
	}
	reason := fmt.Sprintf("auto-paused: %d of %d devices failed to install (threshold %d%%)", failed, attempted, r.FailureThresholdPct)
	if _, err := s.deps.Releases.SetPaused(c, id, true, reason, s.now()); err != nil {
		return // paused meanwhile, or the store is away: the next failure tries again
	}
	if err := s.LoadReleases(c); err != nil {
		s.log.Error().Str("event", "release.reload.error").Err(err).Msg("update checks still see the paused release")
	}
	s.log.Error().Str("event", "release.auto_pause").Str("release", id.String()).Int("failed", failed).
		Int("attempted", attempted).Msg(reason)
	s.auditAs(ctx, "system", "release.auto_pause", id.String(), "ok", map[string]any{"failed": failed, "attempted": attempted})
	if s.deps.Alerter != nil {
		s.deps.Alerter.Raise("release_failures", map[string]any{"release_id": id, "version_code": r.VersionCode,
			"failed": failed, "attempted": attempted, "reason": reason})
	}
	if after, err := s.deps.Releases.Get(c, id); err == nil {
		s.hub.Publish("release.pause", uuid.Nil, toReleaseJSON(&after))
	}
}
