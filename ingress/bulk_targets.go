package ingress

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

const (
	maxBulkTargets = 10_000  // devices one bulk change may touch
	maxSelection   = 100_000 // devices one selection may hold
	selectionTTL   = 15 * time.Minute
)

// bulkTargets names the devices of a bulk request: a list of ids, a
// filter, or a selection made earlier; exactly one of them.
type bulkTargets struct {
	DeviceIDs   []uuid.UUID `json:"device_ids"`
	Filter      *filterJSON `json:"filter"`
	SelectionID *uuid.UUID  `json:"selection_id"`
}

// filterJSON is the listing's filter as a request body.
type filterJSON struct {
	Status       string `json:"status"`
	Q            string `json:"q"`
	AgentVersion string `json:"agent_version"`
	BatteryBelow int16  `json:"battery_below"`
	ServiceDown  bool   `json:"service_down"`
}

func (f *filterJSON) check() *Error {
	switch {
	case f.Status != "" && f.Status != "online" && f.Status != "offline" && f.Status != "never":
		return fieldError("filter.status", "must be one of online, offline, never")
	case len(f.Q) > 64 || !printable(f.Q, true):
		return fieldError("filter.q", "must be at most 64 printable characters")
	case len(f.AgentVersion) > 64 || !printable(f.AgentVersion, true):
		return fieldError("filter.agent_version", "must be at most 64 printable characters")
	case f.BatteryBelow < 0 || f.BatteryBelow > 101:
		return fieldError("filter.battery_below", "must be from 1 to 101, or 0 for any")
	}
	return nil
}

func (f *filterJSON) filter() actors.DeviceFilter {
	return actors.DeviceFilter{Presence: f.Status, Search: f.Q, AgentVersion: f.AgentVersion,
		BatteryBelow: f.BatteryBelow, ServiceDown: f.ServiceDown}
}

func tooMany(n, limit int) *Error {
	return errorf(fasthttp.StatusUnprocessableEntity, "too_many_targets",
		"the request names %d devices; it takes at most %d, so narrow it", n, limit)
}

// resolveTargets returns the target ids, at most limit of them.
func (s *Server) resolveTargets(t *bulkTargets, limit int) ([]uuid.UUID, *Error) {
	kinds := 0
	for _, set := range []bool{t.DeviceIDs != nil, t.Filter != nil, t.SelectionID != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds != 1:
		return nil, errorf(fasthttp.StatusBadRequest, "invalid_targets", "send exactly one of device_ids, filter or selection_id")
	case t.DeviceIDs != nil && len(t.DeviceIDs) == 0:
		return nil, fieldError("device_ids", "must name at least one device")
	case len(t.DeviceIDs) > limit:
		return nil, tooMany(len(t.DeviceIDs), limit)
	case t.DeviceIDs != nil:
		return t.DeviceIDs, nil
	case t.SelectionID != nil:
		return s.selectionTargets(*t.SelectionID, limit)
	}
	if e := t.Filter.check(); e != nil {
		return nil, e
	}
	ids, total := s.deps.Directory.SelectDevices(t.Filter.filter(), s.now(), limit+1)
	if total > limit {
		return nil, tooMany(total, limit)
	}
	return ids, nil
}

func (s *Server) selectionTargets(id uuid.UUID, limit int) ([]uuid.UUID, *Error) {
	c, cancel := dbContext()
	defer cancel()
	sel, e := s.selection(c, id)
	if e != nil {
		return nil, e
	}
	if len(sel.DeviceIDs) > limit {
		return nil, tooMany(len(sel.DeviceIDs), limit)
	}
	return sel.DeviceIDs, nil
}

// createSelection is POST /admin/devices/selection: a snapshot of the
// devices named by ids or a filter, which bulk actions then take by its id
// for 15 minutes, whatever happens to the fleet meanwhile.
// selection reads a selection that has not expired.
func (s *Server) selection(c context.Context, id uuid.UUID) (pgstore.Selection, *Error) {
	sel, err := s.deps.Selections.Get(c, id, s.now())
	if errors.Is(err, persistence.ErrNotFound) {
		return sel, errorf(fasthttp.StatusNotFound, "selection_not_found",
			"selection %s is unknown or expired (selections live 15 minutes); make a new one", id)
	}
	if err != nil {
		return sel, storeUnavailable()
	}
	return sel, nil
}

func (s *Server) createSelection(ctx *fasthttp.RequestCtx) {
	var t bulkTargets
	if e := decodeJSON(ctx.PostBody(), &t); e != nil {
		writeError(ctx, e)
		return
	}
	if t.SelectionID != nil {
		writeError(ctx, fieldError("selection_id", "cannot be used here: select by device_ids or filter"))
		return
	}
	ids, e := s.resolveTargets(&t, maxSelection)
	if e != nil {
		writeError(ctx, e)
		return
	}
	now := s.now()
	known := ids[:0:0]
	for _, id := range ids {
		if _, ok := s.deps.Directory.Row(id, now); ok {
			known = append(known, id)
		}
	}
	p := principal(ctx)
	sel := pgstore.Selection{ID: uuid.New(), DeviceIDs: known, CreatedBy: p.Actor(), CreatedAt: now, ExpiresAt: now.Add(selectionTTL)}
	c, cancel := dbContext()
	defer cancel()
	if err := s.deps.Selections.Create(c, sel, t.Filter); err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	s.audit(ctx, "device.selection.create", sel.ID.String(), "ok", map[string]any{"count": len(known), "filter": t.Filter})
	writeJSON(ctx, fasthttp.StatusCreated, map[string]any{
		"selection_id": sel.ID, "count": len(known), "expires_at": sel.ExpiresAt, "confirm": confirmText(len(known)),
	})
}
