package ingress

import (
	"errors"
	"regexp"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// androidPackage is a Java-style package name, as Android requires.
var androidPackage = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$`)

type monitoringPatchJSON struct {
	Package       *string `json:"monitored_package"`
	DisplayName   *string `json:"display_name"`
	ThresholdMin  *int32  `json:"threshold_min"`
	Enabled       *bool   `json:"enabled"`
	AutoRemediate *bool   `json:"auto_remediate"`
}

func (p *monitoringPatchJSON) validate(field string) *Error {
	switch {
	case p.Package == nil && p.DisplayName == nil && p.ThresholdMin == nil && p.Enabled == nil && p.AutoRemediate == nil:
		return errorf(fasthttp.StatusBadRequest, "empty_patch",
			"send at least one of monitored_package, display_name, threshold_min, enabled, auto_remediate")
	case p.Package != nil && *p.Package != "" && (len(*p.Package) > 255 || !androidPackage.MatchString(*p.Package)):
		return fieldError(field+"monitored_package", "must be an Android package name such as com.example.app, or empty to clear it")
	case p.DisplayName != nil && (len(*p.DisplayName) > 64 || !printable(*p.DisplayName, true)):
		return fieldError(field+"display_name", "must be at most 64 printable characters")
	case p.ThresholdMin != nil && (*p.ThresholdMin < 1 || *p.ThresholdMin > 120):
		return fieldError(field+"threshold_min", "must be from 1 to 120 minutes")
	}
	return nil
}

func (p *monitoringPatchJSON) store() pgstore.MonitoringPatch {
	return pgstore.MonitoringPatch{Package: p.Package, DisplayName: p.DisplayName,
		ThresholdMin: p.ThresholdMin, Enabled: p.Enabled, AutoRemediate: p.AutoRemediate}
}

// getMonitoring is GET /admin/devices/{id}/monitoring: the settings and
// what they currently show.
func (s *Server) getMonitoring(ctx *fasthttp.RequestCtx) {
	id, row, e := s.pathDevice(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	m, err := s.deps.Devices.Monitoring(c, id)
	if err != nil {
		writeError(ctx, lookupError(err, "device", id))
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, monitoringAnswer(id, m, &row))
}

func monitoringAnswer(id uuid.UUID, m persistence.Monitoring, row *actors.DeviceRow) any {
	return struct {
		monitoringJSON
		Service *serviceJSON `json:"service"`
	}{toMonitoringJSON(id, m), toDeviceJSON(row).Service}
}

// patchMonitoring is PATCH /admin/devices/{id}/monitoring.
func (s *Server) patchMonitoring(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "device")
	if e != nil {
		writeError(ctx, e)
		return
	}
	var p monitoringPatchJSON
	if e := decodeJSON(ctx.PostBody(), &p); e != nil {
		writeError(ctx, e)
		return
	}
	if e := p.validate(""); e != nil {
		writeError(ctx, e)
		return
	}
	saved, e := s.applyMonitoring(ctx, []uuid.UUID{id}, &p)
	if e != nil {
		s.audit(ctx, "device.monitoring.update", id.String(), e.Code, map[string]any{"patch": p})
		writeError(ctx, e)
		return
	}
	if len(saved) == 0 {
		s.audit(ctx, "device.monitoring.update", id.String(), "not_found", map[string]any{"patch": p})
		writeError(ctx, errorf(fasthttp.StatusNotFound, "not_found", "no device %s", id))
		return
	}
	s.audit(ctx, "device.monitoring.update", id.String(), "ok", map[string]any{"patch": p})
	row, _ := s.deps.Directory.Row(id, s.now())
	writeJSON(ctx, fasthttp.StatusOK, monitoringAnswer(id, saved[0].Monitoring, &row))
}

// applyMonitoring saves a patch for devices, all or none, then hands the
// new settings to their actors.
func (s *Server) applyMonitoring(ctx *fasthttp.RequestCtx, ids []uuid.UUID, p *monitoringPatchJSON) ([]pgstore.DeviceMonitoring, *Error) {
	c, cancel := dbContext()
	defer cancel()
	saved, err := s.deps.Devices.PatchMonitoring(c, ids, p.store())
	if errors.Is(err, pgstore.ErrMonitorNeedsPackage) {
		return nil, errorf(fasthttp.StatusUnprocessableEntity, "monitoring_needs_package",
			"monitoring cannot be enabled on a device without a monitored_package; send monitored_package too. Nothing was changed")
	}
	if err != nil {
		s.log.Error().Str("event", "device.monitoring.error").Err(err).Msg("save monitoring")
		return nil, storeUnavailable()
	}
	changes := make([]actors.MonitoringChange, len(saved))
	for i, dm := range saved {
		changes[i] = actors.MonitoringChange{ID: dm.ID, Monitoring: dm.Monitoring}
	}
	s.deps.Directory.SetMonitoring(changes)
	return saved, nil
}

// bulkMonitoring is PATCH /admin/devices/monitoring: one patch for many
// devices, applied to all of them or to none.
func (s *Server) bulkMonitoring(ctx *fasthttp.RequestCtx) {
	var req struct {
		bulkTargets
		Settings *monitoringPatchJSON `json:"settings"`
	}
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	if req.Settings == nil {
		writeError(ctx, &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "settings",
			Message: "settings is required: the monitoring fields to set"})
		return
	}
	if e := req.Settings.validate("settings."); e != nil {
		writeError(ctx, e)
		return
	}
	ids, e := s.resolveTargets(&req.bulkTargets, maxBulkTargets)
	if e != nil {
		writeError(ctx, e)
		return
	}
	details := map[string]any{"patch": req.Settings, "targets": len(ids), "filter": req.Filter}
	saved, e := s.applyMonitoring(ctx, ids, req.Settings)
	if e != nil {
		s.audit(ctx, "device.monitoring.bulk_update", "", e.Code, details)
		writeError(ctx, e)
		return
	}
	details["updated"] = len(saved)
	s.audit(ctx, "device.monitoring.bulk_update", "", "ok", details)
	writeJSON(ctx, fasthttp.StatusOK, map[string]int{"matched": len(ids), "updated": len(saved)})
}
