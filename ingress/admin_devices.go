package ingress

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/persistence"
)

// listDevices is GET /admin/devices: a page of the fleet from memory.
func (s *Server) listDevices(ctx *fasthttp.RequestCtx) {
	q, e := s.deviceQuery(newQuery(ctx))
	if e != nil {
		writeError(ctx, e)
		return
	}
	page := s.deps.Directory.ListDevices(q, s.now())
	rows := make([]deviceJSON, len(page.Rows))
	for i := range page.Rows {
		rows[i] = toDeviceJSON(&page.Rows[i])
	}
	resp := struct {
		Devices    []deviceJSON `json:"devices"`
		Total      int          `json:"total"`
		NextCursor *string      `json:"next_cursor"`
	}{Devices: rows, Total: page.Total}
	if page.Next != nil {
		c := s.sealDeviceCursor(q, page.Next)
		resp.NextCursor = &c
	}
	writeJSON(ctx, fasthttp.StatusOK, resp)
}

// deviceFilter reads the listing's filter parameters, which bulk actions
// share.
func deviceFilter(q *query) actors.DeviceFilter {
	return actors.DeviceFilter{
		Presence:     q.Enum("status", "online", "offline", "never"),
		Search:       q.Text("q", 64),
		AgentVersion: q.Text("agent_version", 64),
		BatteryBelow: int16(q.Int("battery_below", 1, 101, 0)),
		ServiceDown:  q.Bool("service_down"),
	}
}

func (s *Server) deviceQuery(q *query) (actors.DeviceQuery, *Error) {
	dq := actors.DeviceQuery{Filter: deviceFilter(q), Limit: q.Int("limit", 1, 500, 50)}
	sortName := q.Enum("sort", "last_seen", "alias", "serial", "battery", "enrolled_at", "agent_version")
	if sortName == "" {
		sortName = "last_seen"
	}
	dq.Sort = actors.SortKeys[sortName]
	switch q.Enum("order", "asc", "desc") {
	case "asc":
	case "desc":
		dq.Desc = true
	default:
		dq.Desc = dq.Sort == actors.SortLastSeen // newest first unless asked
	}
	if raw := q.args.Peek("cursor"); len(raw) > 0 && q.err == nil {
		c, e := s.openDeviceCursor(dq, string(raw))
		q.fail(e)
		dq.After = c
	}
	return dq, q.err
}

// deviceCursor is a listing position; it names its sort so that a cursor
// is not replayed under another order.
type deviceCursor struct {
	Sort actors.SortKey `json:"s"`
	Desc bool           `json:"d"`
	Num  int64          `json:"n,omitempty"`
	Str  string         `json:"t,omitempty"`
	ID   uuid.UUID      `json:"i"`
}

func (s *Server) sealDeviceCursor(q actors.DeviceQuery, c *actors.Cursor) string {
	b, _ := json.Marshal(deviceCursor{Sort: q.Sort, Desc: q.Desc, Num: c.Num, Str: c.Str, ID: c.ID})
	return s.sealCursor("devices", string(b))
}

func (s *Server) openDeviceCursor(q actors.DeviceQuery, raw string) (*actors.Cursor, *Error) {
	payload, e := s.openCursor("devices", raw)
	if e != nil {
		return nil, e
	}
	var c deviceCursor
	if err := json.Unmarshal([]byte(payload), &c); err != nil || c.Sort != q.Sort || c.Desc != q.Desc {
		return nil, errorf(fasthttp.StatusBadRequest, "invalid_cursor",
			"the cursor belongs to another sort order; start from the first page")
	}
	return &actors.Cursor{Num: c.Num, Str: c.Str, ID: c.ID}, nil
}

// fleetSummary is GET /admin/fleet/summary.
func (s *Server) fleetSummary(ctx *fasthttp.RequestCtx) {
	sum := s.deps.Directory.Summary(s.now())
	writeJSON(ctx, fasthttp.StatusOK, toSummaryJSON(&sum))
}

// deviceDetail is GET /admin/devices/{id}: the live state from the device's
// actor plus what enrollment recorded.
func (s *Server) deviceDetail(ctx *fasthttp.RequestCtx) {
	id, row, e := s.pathDevice(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	info, err := s.deps.Devices.Info(c, id)
	if err != nil {
		writeError(ctx, lookupError(err, "device", id))
		return
	}
	st, err := s.deps.Directory.Status(c, id)
	if err != nil {
		writeError(ctx, &Error{Status: fasthttp.StatusServiceUnavailable, Code: "device_unavailable",
			Message: "the device's live state could not be loaded; retry", RetryAfter: time.Second})
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, struct {
		deviceJSON
		Enrollment enrollmentJSON `json:"enrollment"`
		Live       map[string]any `json:"live"`
		Monitoring monitoringJSON `json:"monitoring"`
	}{toDeviceJSON(&row), toEnrollmentJSON(&info), liveJSON(&st.Live), toMonitoringJSON(id, st.Monitoring)})
}

// pathDevice reads the {id} of a device route and finds its row.
func (s *Server) pathDevice(ctx *fasthttp.RequestCtx) (uuid.UUID, actors.DeviceRow, *Error) {
	id, e := pathID(ctx, "device")
	if e != nil {
		return id, actors.DeviceRow{}, e
	}
	row, ok := s.deps.Directory.Row(id, s.now())
	if !ok {
		return id, row, errorf(fasthttp.StatusNotFound, "not_found", "no device %s", id)
	}
	return id, row, nil
}

// historyMaxPoints bounds a chart's points; a finer step is coarsened.
const historyMaxPoints = 1000

// deviceHeartbeats is GET /admin/devices/{id}/heartbeats?from&to&step:
// the history downsampled for charts. step is in seconds; by default the
// range is cut into about 300 points.
func (s *Server) deviceHeartbeats(ctx *fasthttp.RequestCtx) {
	id, _, e := s.pathDevice(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	q := newQuery(ctx)
	now := s.now()
	to := q.Time("to", now)
	from := q.Time("from", to.Add(-24*time.Hour))
	stepS := q.Int("step", 10, 86400, 0)
	if q.err == nil && !from.Before(to) {
		q.fail(fieldError("from", "must be before to"))
	}
	if q.err == nil && to.Sub(from) > s.cfg.Retention+24*time.Hour {
		q.fail(fieldError("from", "must be within the retention of %s", s.cfg.Retention))
	}
	if q.err != nil {
		writeError(ctx, q.err)
		return
	}
	span := to.Sub(from)
	step := time.Duration(stepS) * time.Second
	if step == 0 {
		step = max(persistence.BucketWidth, (span / 300).Truncate(time.Second))
	}
	if span/step > historyMaxPoints {
		step = (span/historyMaxPoints + time.Second).Truncate(time.Second)
	}
	c, cancel := dbContext()
	defer cancel()
	points, err := s.deps.Devices.History(c, id, from, to, step)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"device_id": id, "from": from, "to": to, "step_s": int64(step / time.Second), "points": toPointsJSON(points),
	})
}

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
