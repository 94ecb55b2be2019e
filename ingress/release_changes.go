package ingress

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/actors/rollout"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// maxNudges bounds the check_update commands one change sends; devices
// beyond it find the release at their next six-hourly check.
const maxNudges = maxBulkTargets

// nudgeTTL is how long a nudge waits for a device that is offline.
const nudgeTTL = time.Hour

// releaseChange is one transition of a release: it applies the change and
// returns the release as it was before, and details for the audit entry.
type releaseChange func(c context.Context, id uuid.UUID, now time.Time) (pgstore.ReleaseRecord, map[string]any, *Error)

// changeRelease runs a transition: apply, refresh the book the update
// checks read, nudge newly eligible devices, audit, tell the live feed.
func (s *Server) changeRelease(ctx *fasthttp.RequestCtx, action string, change releaseChange) {
	id, e := pathID(ctx, "release")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	before, details, e := change(c, id, s.now())
	if e != nil {
		s.audit(ctx, "release."+action, id.String(), e.Code, details)
		writeError(ctx, e)
		return
	}
	if err := s.LoadReleases(c); err != nil {
		s.log.Error().Str("event", "release.reload.error").Err(err).Msg("update checks still see the previous releases")
	}
	after, err := s.deps.Releases.Get(c, id)
	if err != nil {
		writeError(ctx, lookupError(err, "release", id))
		return
	}
	if n := s.nudge(c, &before, &after, principal(ctx).Actor()); n > 0 {
		details = withDetail(details, "nudged", n)
	}
	answer, custom := details["answer"] // the change's own answer, not audited
	delete(details, "answer")
	s.audit(ctx, "release."+action, id.String(), "ok", details)
	s.hub.Publish("release."+action, uuid.Nil, toReleaseJSON(&after))
	if custom {
		writeJSON(ctx, fasthttp.StatusOK, answer)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, toReleaseJSON(&after))
}

func withDetail(d map[string]any, k string, v any) map[string]any {
	if d == nil {
		d = map[string]any{}
	}
	d[k] = v
	return d
}

func releaseError(err error, id uuid.UUID) *Error {
	switch {
	case errors.Is(err, pgstore.ErrReleaseState):
		return errorf(fasthttp.StatusConflict, "release_state", "release %s: %v", id, err)
	case errors.Is(err, persistence.ErrNotFound):
		return errorf(fasthttp.StatusNotFound, "not_found", "no release %s", id)
	}
	return storeUnavailable()
}

func (s *Server) promoteRelease(ctx *fasthttp.RequestCtx) {
	s.changeRelease(ctx, "promote", func(c context.Context, id uuid.UUID, now time.Time) (pgstore.ReleaseRecord, map[string]any, *Error) {
		before, err := s.deps.Releases.Promote(c, id, now)
		if err != nil {
			return before, nil, releaseError(err, id)
		}
		return before, map[string]any{"rollout_percent": before.RolloutPercent}, nil
	})
}

// patchRelease is PATCH /admin/releases/{id} {rollout_percent}: raising it
// adds devices (and nudges them), lowering it stops new offers.
func (s *Server) patchRelease(ctx *fasthttp.RequestCtx) {
	var req struct {
		RolloutPercent *int `json:"rollout_percent"`
	}
	e := decodeJSON(ctx.PostBody(), &req)
	if e == nil && (req.RolloutPercent == nil || *req.RolloutPercent < 1 || *req.RolloutPercent > 100) {
		e = fieldError("rollout_percent", "must be an integer from 1 to 100")
	}
	if e != nil {
		writeError(ctx, e)
		return
	}
	s.changeRelease(ctx, "rollout", func(c context.Context, id uuid.UUID, now time.Time) (pgstore.ReleaseRecord, map[string]any, *Error) {
		before, err := s.deps.Releases.SetPercent(c, id, *req.RolloutPercent, now)
		details := map[string]any{"from": before.RolloutPercent, "to": *req.RolloutPercent}
		if err != nil {
			return before, details, releaseError(err, id)
		}
		return before, details, nil
	})
}

func (s *Server) pauseRelease(ctx *fasthttp.RequestCtx)  { s.setPaused(ctx, true) }
func (s *Server) resumeRelease(ctx *fasthttp.RequestCtx) { s.setPaused(ctx, false) }

func (s *Server) setPaused(ctx *fasthttp.RequestCtx, paused bool) {
	var req struct {
		Reason string `json:"reason"`
	}
	if len(ctx.PostBody()) > 0 {
		if e := decodeJSON(ctx.PostBody(), &req); e != nil {
			writeError(ctx, e)
			return
		}
	}
	if req.Reason == "" {
		req.Reason = "paused by " + principal(ctx).Actor()
	}
	action := map[bool]string{true: "pause", false: "resume"}[paused]
	s.changeRelease(ctx, action, func(c context.Context, id uuid.UUID, now time.Time) (pgstore.ReleaseRecord, map[string]any, *Error) {
		before, err := s.deps.Releases.SetPaused(c, id, paused, req.Reason, now)
		if err != nil {
			return before, nil, releaseError(err, id)
		}
		return before, map[string]any{"reason": req.Reason}, nil
	})
}

// rollbackRelease is POST /admin/releases/{id}/rollback {downgrade}: stop
// offering the release and offer the channel's previous one again. Devices
// that already took the release are reported; with downgrade they are
// offered the previous version too.
func (s *Server) rollbackRelease(ctx *fasthttp.RequestCtx) {
	var req struct {
		Downgrade bool `json:"downgrade"`
	}
	if len(ctx.PostBody()) > 0 {
		if e := decodeJSON(ctx.PostBody(), &req); e != nil {
			writeError(ctx, e)
			return
		}
	}
	s.changeRelease(ctx, "rollback", func(c context.Context, id uuid.UUID, now time.Time) (pgstore.ReleaseRecord, map[string]any, *Error) {
		before, err := s.deps.Releases.Get(c, id)
		if err != nil {
			return before, nil, releaseError(err, id)
		}
		restored, err := s.deps.Releases.Rollback(c, id, req.Downgrade, now)
		if err != nil {
			return before, nil, releaseError(err, id)
		}
		versions, ids := s.deps.Directory.AgentVersions(before.VersionCode, 1000)
		n := 0
		for _, v := range versions {
			if v.VersionCode == before.VersionCode {
				n = v.Devices
			}
		}
		if req.Downgrade && restored != nil {
			if _, err := s.queueCommands(c, ids, "check_update", "{}", nudgeTTL, principal(ctx).Actor(), now); err != nil {
				s.log.Error().Str("event", "release.nudge.error").Err(err).Msg("devices find the rollback at their next check")
			}
		}
		rolled, _ := s.deps.Releases.Get(c, id)
		answer := map[string]any{"rolled_back": toReleaseJSON(&rolled), "restored": nil,
			"already_updated": map[string]any{"count": n, "device_ids": ids, "offered_previous": req.Downgrade && restored != nil}}
		if restored != nil {
			if r, err := s.deps.Releases.Get(c, *restored); err == nil {
				answer["restored"] = toReleaseJSON(&r)
			}
		}
		return before, map[string]any{"restored": restored, "already_updated": n, "downgrade": req.Downgrade, "answer": answer}, nil
	})
}

// nudge sends check_update to the devices a change made newly eligible:
// those that entered the cohort of a release that is now active and do not
// report its version yet. It returns how many it nudged.
func (s *Server) nudge(c context.Context, before, after *pgstore.ReleaseRecord, actor string) int {
	if after.Status != pgstore.ReleaseActive {
		return 0
	}
	from := before.RolloutPercent
	if before.Status != pgstore.ReleaseActive {
		from = 0 // it offered nothing before: every cohort device is new
	}
	if after.RolloutPercent <= from {
		return 0
	}
	now := s.now()
	ids, _ := s.deps.Directory.SelectDevices(actors.DeviceFilter{}, now, 1<<30)
	var eligible []uuid.UUID
	for _, id := range ids {
		slot := rollout.Slot(after.ID, id)
		if slot < uint64(from) || slot >= uint64(after.RolloutPercent) {
			continue
		}
		if row, ok := s.deps.Directory.Row(id, now); !ok || row.AgentVersionCode == after.VersionCode ||
			(row.AgentVersionCode > after.VersionCode && !after.AllowDowngrade) {
			continue // gone, or not eligible: the check would answer 204
		}
		if eligible = append(eligible, id); len(eligible) == maxNudges {
			break
		}
	}
	cmds, err := s.queueCommands(c, eligible, "check_update", "{}", nudgeTTL, actor, now)
	if err != nil {
		s.log.Error().Str("event", "release.nudge.error").Err(err).Int("devices", len(eligible)).Msg("devices find the release at their next check")
		return 0
	}
	return len(cmds)
}
