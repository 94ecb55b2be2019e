package ingress

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// Bulk deletes are limited to bulkDeleteRate a minute, server-wide.
const bulkDeleteRate = 10

// JobRunner runs bulk deletes in the background.
type JobRunner interface{ Kick() }

// confirmText is what an operator types to delete a selection.
func confirmText(n int) string { return fmt.Sprintf("DELETE %d", n) }

type bulkDeleteRequest struct {
	SelectionID  uuid.UUID `json:"selection_id"`
	Confirm      string    `json:"confirm"`
	PurgeHistory bool      `json:"purge_history"`
}

// bulkDelete is POST /admin/devices/bulk-delete: it checks the selection
// and the confirmation, stores a job and answers at once; the job runner
// deletes the devices and, with purge_history, their heartbeats.
func (s *Server) bulkDelete(ctx *fasthttp.RequestCtx) {
	var req bulkDeleteRequest
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	details := map[string]any{"selection_id": req.SelectionID, "purge_history": req.PurgeHistory}
	job, e := s.checkBulkDelete(&req, principal(ctx).Actor())
	if e == nil {
		if wait, ok := s.bulkDeletes.admit("bulk-delete", s.now()); !ok {
			e = &Error{Status: fasthttp.StatusTooManyRequests, Code: "rate_limited", RetryAfter: wait,
				Message: fmt.Sprintf("at most %d bulk deletes a minute; retry after Retry-After", bulkDeleteRate)}
		}
	}
	if e == nil {
		job.ID, job.CreatedBy, job.CreatedAt = uuid.New(), principal(ctx).Actor(), s.now()
		c, cancel := dbContext()
		defer cancel()
		if err := s.deps.Jobs.Create(c, job); err != nil {
			e = storeUnavailable()
		}
	}
	if e != nil {
		s.audit(ctx, "device.bulk_delete", "", e.Code, details)
		writeError(ctx, e)
		return
	}
	details["devices"], details["job_id"] = job.Total, job.ID
	s.audit(ctx, "device.bulk_delete", job.ID.String(), "ok", details)
	s.deps.JobRunner.Kick()
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]any{"job_id": job.ID, "status": pgstore.JobDeleting, "total": job.Total})
}

func (s *Server) checkBulkDelete(req *bulkDeleteRequest, actor string) (pgstore.Job, *Error) {
	if req.SelectionID == uuid.Nil {
		return pgstore.Job{}, &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "selection_id",
			Message: "selection_id is required: make one with POST /admin/devices/selection"}
	}
	c, cancel := dbContext()
	defer cancel()
	sel, e := s.selection(c, req.SelectionID)
	if e != nil {
		return pgstore.Job{}, e
	}
	if sel.CreatedBy != actor {
		return pgstore.Job{}, errorf(fasthttp.StatusForbidden, "selection_foreign",
			"selection %s was made by %s: make your own, so that you confirm what you saw", sel.ID, sel.CreatedBy)
	}
	if want := confirmText(len(sel.DeviceIDs)); req.Confirm != want {
		return pgstore.Job{}, &Error{Status: fasthttp.StatusBadRequest, Code: "confirm_mismatch", Field: "confirm",
			Message: fmt.Sprintf("type %q to delete these %d devices", want, len(sel.DeviceIDs))}
	}
	return pgstore.Job{DeviceIDs: sel.DeviceIDs, Total: len(sel.DeviceIDs), PurgeHistory: req.PurgeHistory}, nil
}

// getJob is GET /admin/jobs/{id}.
func (s *Server) getJob(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "job")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	j, err := s.deps.Jobs.Get(c, id)
	if err != nil {
		writeError(ctx, lookupError(err, "job", id))
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, j)
}
