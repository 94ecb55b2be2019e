package ingress

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors/rollout"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// releaseJSON is a release as the admin API shows it.
type releaseJSON struct {
	ID                  uuid.UUID  `json:"id"`
	BuildID             uuid.UUID  `json:"build_id"`
	Channel             string     `json:"channel"`
	Status              string     `json:"status"`
	RolloutPercent      int        `json:"rollout_percent"`
	WifiOnly            bool       `json:"wifi_only"`
	MinBatteryPct       int        `json:"min_battery_pct"`
	NotInCall           bool       `json:"not_in_call"`
	FailureThresholdPct int        `json:"failure_threshold_pct"`
	FailureMinDevices   int        `json:"failure_min_devices"`
	RollbackOf          *uuid.UUID `json:"rollback_of"`
	AllowDowngrade      bool       `json:"allow_downgrade"`
	PausedReason        string     `json:"paused_reason"`
	CreatedBy           string     `json:"created_by"`
	CreatedAt           time.Time  `json:"created_at"`
	PromotedAt          *time.Time `json:"promoted_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
	Package             string     `json:"package"`
	VersionCode         int        `json:"version_code"`
	VersionName         string     `json:"version_name"`
}

func toReleaseJSON(r *pgstore.ReleaseRecord) releaseJSON {
	return releaseJSON{ID: r.ID, BuildID: r.BuildID, Channel: r.Channel, Status: r.Status, RolloutPercent: r.RolloutPercent,
		WifiOnly: r.WifiOnly, MinBatteryPct: r.MinBatteryPct, NotInCall: r.NotInCall, FailureThresholdPct: r.FailureThresholdPct,
		FailureMinDevices: r.FailureMinDevices, RollbackOf: r.RollbackOf, AllowDowngrade: r.AllowDowngrade,
		PausedReason: r.PausedReason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, PromotedAt: r.PromotedAt,
		UpdatedAt: r.UpdatedAt, Package: r.Package, VersionCode: r.VersionCode, VersionName: r.VersionName}
}

// LoadReleases fills the in-memory book update checks read from.
func (s *Server) LoadReleases(ctx context.Context) error {
	recs, err := s.deps.Releases.Current(ctx)
	if err != nil {
		return fmt.Errorf("load releases: %w", err)
	}
	book := make([]rollout.Release, 0, len(recs))
	for _, r := range recs {
		book = append(book, rollout.Release{
			ID: r.ID, Channel: r.Channel, Active: r.Status == pgstore.ReleaseActive, Percent: r.RolloutPercent,
			AllowDowngrade: r.AllowDowngrade, BuildID: r.BuildID, Package: r.Package, VersionCode: r.VersionCode,
			VersionName: r.VersionName, SHA256: r.SHA256, Signer: r.Signer, Size: r.Size,
			WifiOnly: r.WifiOnly, MinBatteryPct: r.MinBatteryPct, NotInCall: r.NotInCall,
		})
	}
	s.deps.Rollout.Set(book)
	return nil
}

type createReleaseRequest struct {
	BuildID             uuid.UUID `json:"build_id"`
	RolloutPercent      int       `json:"rollout_percent"`
	WifiOnly            bool      `json:"wifi_only"`
	MinBatteryPct       *int      `json:"min_battery_pct"`
	NotInCall           *bool     `json:"not_in_call"`
	FailureThresholdPct *int      `json:"failure_threshold_pct"`
	FailureMinDevices   *int      `json:"failure_min_devices"`
}

func (r *createReleaseRequest) record() (pgstore.ReleaseRecord, *Error) {
	rec := pgstore.ReleaseRecord{BuildID: r.BuildID, RolloutPercent: r.RolloutPercent, WifiOnly: r.WifiOnly,
		NotInCall: true, FailureThresholdPct: 20, FailureMinDevices: 10}
	if r.MinBatteryPct != nil {
		rec.MinBatteryPct = *r.MinBatteryPct
	}
	if r.NotInCall != nil {
		rec.NotInCall = *r.NotInCall
	}
	if r.FailureThresholdPct != nil {
		rec.FailureThresholdPct = *r.FailureThresholdPct
	}
	if r.FailureMinDevices != nil {
		rec.FailureMinDevices = *r.FailureMinDevices
	}
	switch {
	case r.BuildID == uuid.Nil:
		return rec, &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "build_id",
			Message: "build_id is required: the id of an uploaded build from the APK registry"}
	case rec.RolloutPercent < 1 || rec.RolloutPercent > 100:
		return rec, fieldError("rollout_percent", "must be an integer from 1 to 100")
	case rec.MinBatteryPct < 0 || rec.MinBatteryPct > 100:
		return rec, fieldError("min_battery_pct", "must be an integer from 0 to 100")
	case rec.FailureThresholdPct < 1 || rec.FailureThresholdPct > 100:
		return rec, fieldError("failure_threshold_pct", "must be an integer from 1 to 100")
	case rec.FailureMinDevices < 1 || rec.FailureMinDevices > 100000:
		return rec, fieldError("failure_min_devices", "must be an integer from 1 to 100000")
	}
	return rec, nil
}

// createRelease is POST /admin/releases: a draft from an uploaded build,
// for the build's channel.
func (s *Server) createRelease(ctx *fasthttp.RequestCtx) {
	var req createReleaseRequest
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	rec, e := req.record()
	c, cancel := dbContext()
	defer cancel()
	if e == nil {
		e = s.checkBuildForRelease(c, &rec)
	}
	if e != nil {
		s.audit(ctx, "release.create", req.BuildID.String(), e.Code, nil)
		writeError(ctx, e)
		return
	}
	rec.ID, rec.CreatedBy, rec.CreatedAt = uuid.New(), principal(ctx).Actor(), s.now()
	if err := s.deps.Releases.Create(c, rec); err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	s.audit(ctx, "release.create", rec.ID.String(), "ok", map[string]any{"build_id": rec.BuildID, "rollout_percent": rec.RolloutPercent})
	s.answerRelease(ctx, c, rec.ID, fasthttp.StatusCreated)
}

func (s *Server) checkBuildForRelease(c context.Context, rec *pgstore.ReleaseRecord) *Error {
	channel, uploaded, err := s.deps.Releases.BuildChannel(c, rec.BuildID)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return errorf(fasthttp.StatusNotFound, "build_not_found", "no build %s in the APK registry", rec.BuildID)
	case err != nil:
		return storeUnavailable()
	case !uploaded:
		return errorf(fasthttp.StatusConflict, "build_not_uploaded", "build %s is registered but its file is not uploaded yet", rec.BuildID)
	}
	rec.Channel = channel
	return nil
}

func (s *Server) answerRelease(ctx *fasthttp.RequestCtx, c context.Context, id uuid.UUID, status int) {
	r, err := s.deps.Releases.Get(c, id)
	if err != nil {
		writeError(ctx, lookupError(err, "release", id))
		return
	}
	writeJSON(ctx, status, toReleaseJSON(&r))
}

// listReleases is GET /admin/releases?channel&limit.
func (s *Server) listReleases(ctx *fasthttp.RequestCtx) {
	q := newQuery(ctx)
	channel, limit := q.Text("channel", 32), q.Int("limit", 1, 200, 50)
	if q.err != nil {
		writeError(ctx, q.err)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	recs, err := s.deps.Releases.List(c, channel, limit)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	items := make([]releaseJSON, len(recs))
	for i := range recs {
		items[i] = toReleaseJSON(&recs[i])
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"items": items})
}

// getRelease is GET /admin/releases/{id}.
func (s *Server) getRelease(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "release")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	s.answerRelease(ctx, c, id, fasthttp.StatusOK)
}

// releaseAdoption is GET /admin/releases/{id}/adoption.
func (s *Server) releaseAdoption(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "release")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	r, err := s.deps.Releases.Get(c, id)
	if err != nil {
		writeError(ctx, lookupError(err, "release", id))
		return
	}
	a, err := s.deps.Releases.Adoption(c, id)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	since := r.CreatedAt.Add(-24 * time.Hour)
	history, err := s.deps.Releases.VersionHistory(c, since)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	versions, _ := s.deps.Directory.AgentVersions(0, 0)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"release_id": id, "version_code": r.VersionCode,
		"states": a.States, "timeline": a.Timeline, "versions": versions, "version_history": history})
}
