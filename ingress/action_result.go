package ingress

import (
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// maxResultOutput bounds a command's output as stored.
const maxResultOutput = 64 << 10

type actionResultRequest struct {
	CommandID  uuid.UUID  `json:"command_id"`
	Status     string     `json:"status"`
	Message    string     `json:"message"`
	Output     string     `json:"output"`
	FinishedAt *time.Time `json:"finished_at"`
}

func (r *actionResultRequest) validate() *Error {
	switch {
	case r.CommandID == uuid.Nil:
		return &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "command_id",
			Message: "command_id is required: the id of the command this result is for"}
	case r.Status != persistence.CommandSucceeded && r.Status != persistence.CommandFailed:
		return fieldError("status", "must be succeeded or failed")
	case len(r.Message) > 1024:
		return fieldError("message", "must be at most 1024 bytes")
	case len(r.Output) > maxResultOutput:
		return fieldError("output", "must be at most %d bytes; truncate it on the device", maxResultOutput)
	case !storable([]byte(r.Message)):
		return fieldError("message", "must be text without NUL bytes")
	case !storable([]byte(r.Output)):
		return fieldError("output", "must be text without NUL bytes; strip them on the device")
	}
	return nil
}

// actionResult is POST /v1/action-result: a device reports how a command
// ended. It is idempotent: the first result counts, a repeat is 409.
func (s *Server) actionResult(ctx *fasthttp.RequestCtx) {
	var req actionResultRequest
	device, ok := s.readDeviceRequest(ctx, maxActionResultBody, &req)
	if !ok {
		return
	}
	c, cancel := dbContext()
	defer cancel()
	now := s.now()
	finished := now
	if req.FinishedAt != nil {
		finished = *req.FinishedAt
	}
	err := s.deps.Commands.Finish(c, pgstore.Result{
		CommandID: req.CommandID, DeviceID: device, Status: req.Status, Message: req.Message,
		Output: req.Output, FinishedAt: finished, At: now,
	})
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		writeError(ctx, errorf(fasthttp.StatusNotFound, "unknown_command", "this device has no command %s", req.CommandID))
		return
	case errors.Is(err, pgstore.ErrCommandFinal):
		writeError(ctx, errorf(fasthttp.StatusConflict, "command_final", "command %s already has its final status", req.CommandID))
		return
	case err != nil:
		s.log.Error().Str("event", "command.result.error").Err(err).Msg("store command result")
		writeError(ctx, storeUnavailable())
		return
	}
	s.deps.Directory.CommandFinished(device, req.CommandID)
	s.hub.Publish("command."+req.Status, device, map[string]any{"command_id": req.CommandID, "status": req.Status, "at": now})
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"command_id": req.CommandID.String(), "status": req.Status})
}
