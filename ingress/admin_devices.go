package ingress

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
)

// deleteDevice is DELETE /admin/devices/{id}: the device's heartbeats get
// 410 from now on, and its row, status and snapshot are removed.
func (s *Server) deleteDevice(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "device")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deleted, err := s.deps.Directory.Delete(c, []uuid.UUID{id})
	if err != nil {
		s.log.Error().Str("event", "device.delete.error").Stringer("device_id", id).Err(err).Msg("delete device")
		s.audit(ctx, "device.delete", id.String(), "store_unavailable", nil)
		writeError(ctx, &Error{Status: fasthttp.StatusServiceUnavailable, Code: "store_unavailable",
			Message: "the device could not be deleted; retry", RetryAfter: time.Second})
		return
	}
	if len(deleted) == 0 {
		s.audit(ctx, "device.delete", id.String(), "not_found", nil)
		writeError(ctx, errorf(fasthttp.StatusNotFound, "not_found", "no device %s", id))
		return
	}
	s.audit(ctx, "device.delete", id.String(), "ok", nil)
	s.log.Info().Str("event", "device.delete").Stringer("device_id", id).Msg("device deleted")
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"deleted": id.String()})
}
