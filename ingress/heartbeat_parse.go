package ingress

import (
	"bytes"
	"math"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/nexmdm/nexmdm/persistence"
)

var (
	parsers        fastjson.ParserPool
	marshalBuffers = sync.Pool{New: func() any { return new([]byte) }}
)

// Limits on heartbeat fields; anything outside is a 400 naming the field.
const (
	maxRAMMB         = 1 << 21 // 2 TiB
	maxUptimeS       = 100 * 365 * 24 * 3600
	maxQueueDepth    = 1_000_000
	maxStringLen     = 255
	maxAppsReported  = 512
	maxSignalDBm     = 0
	minSignalDBm     = -150
	maxAgentVersions = math.MaxInt32
)

// parseHeartbeat decodes and checks a heartbeat body into h. Unknown fields
// are ignored; a field of the wrong type or out of range is an error naming
// it; null counts as absent. Strings are copied (interned), since the body
// is recycled when the handler returns.
func parseHeartbeat(body []byte, h *persistence.Heartbeat, keyID *string) *Error {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return errorf(fasthttp.StatusBadRequest, "malformed_json", "the body is not valid JSON: %v", err)
	}
	o, err := v.Object()
	if err != nil {
		return errorf(fasthttp.StatusBadRequest, "malformed_json", "the body must be a JSON object")
	}

	tsv := o.Get("ts")
	if tsv == nil || tsv.Type() == fastjson.TypeNull {
		return &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "ts",
			Message: "ts is required: the device time of the report, RFC 3339"}
	}
	tsb, err := tsv.StringBytes()
	if err != nil {
		return fieldError("ts", "must be an RFC 3339 string")
	}
	ts, err := time.Parse(time.RFC3339Nano, string(tsb))
	if err != nil {
		return fieldError("ts", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	h.TS = ts.UTC()

	f := fields{o: o, h: h}
	f.integer("battery_pct", persistence.HasBattery, 0, 100, func(n int64) { h.BatteryPct = int16(n) })
	f.boolean("charging", persistence.HasCharging, &h.Charging)
	f.integer("ram_used_mb", persistence.HasRAMUsed, 0, maxRAMMB, func(n int64) { h.RAMUsedMB = int32(n) })
	f.integer("ram_total_mb", persistence.HasRAMTotal, 0, maxRAMMB, func(n int64) { h.RAMTotalMB = int32(n) })
	f.integer("uptime_s", persistence.HasUptime, 0, maxUptimeS, func(n int64) { h.UptimeS = n })
	f.netType()
	f.str("ssid", persistence.HasSSID, 64, &h.SSID)
	f.integer("signal_dbm", persistence.HasSignal, minSignalDBm, maxSignalDBm, func(n int64) { h.SignalDBm = int16(n) })
	f.str("agent_version", persistence.HasAgentVersion, 64, &h.AgentVersion)
	f.integer("agent_version_code", persistence.HasAgentVersionCode, 0, maxAgentVersions, func(n int64) { h.AgentVersionCode = int32(n) })
	f.str("foreground_pkg", persistence.HasForegroundPkg, maxStringLen, &h.ForegroundPkg)
	f.appLastForeground()
	f.boolean("power_ok", persistence.HasPowerOK, &h.PowerOK)
	f.boolean("doze_whitelisted", persistence.HasDozeWhitelisted, &h.DozeWhitelisted)
	f.boolean("net_validated", persistence.HasNetValidated, &h.NetValidated)
	f.integer("queue_depth", persistence.HasQueueDepth, 0, maxQueueDepth, func(n int64) { h.QueueDepth = int32(n) })
	f.str("hmac_key_id", 0, 64, keyID) // not stored: it only steers key rotation
	if f.err != nil {
		return f.err
	}
	if h.Has&persistence.HasRAMUsed != 0 && h.Has&persistence.HasRAMTotal != 0 && h.RAMUsedMB > h.RAMTotalMB {
		return fieldError("ram_used_mb", "must not exceed ram_total_mb")
	}
	return nil
}

// fields reads optional fields, keeping the first error.
type fields struct {
	o   *fastjson.Object
	h   *persistence.Heartbeat
	err *Error
}

func (f *fields) get(name string) *fastjson.Value {
	if f.err != nil {
		return nil
	}
	v := f.o.Get(name)
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	return v
}

func (f *fields) integer(name string, bit persistence.Fields, lo, hi int64, set func(int64)) {
	v := f.get(name)
	if v == nil {
		return
	}
	n, err := v.Int64()
	if err != nil || n < lo || n > hi {
		f.err = fieldError(name, "must be an integer from %d to %d", lo, hi)
		return
	}
	set(n)
	f.h.Has |= bit
}

func (f *fields) boolean(name string, bit persistence.Fields, dst *bool) {
	v := f.get(name)
	if v == nil {
		return
	}
	b, err := v.Bool()
	if err != nil {
		f.err = fieldError(name, "must be true or false")
		return
	}
	*dst = b
	f.h.Has |= bit
}

func (f *fields) str(name string, bit persistence.Fields, maxLen int, dst *string) {
	v := f.get(name)
	if v == nil {
		return
	}
	b, err := v.StringBytes()
	if err != nil || len(b) > maxLen || !storable(b) {
		f.err = fieldError(name, "must be a UTF-8 string of at most %d bytes, without NUL", maxLen)
		return
	}
	*dst = persistence.Intern(b)
	f.h.Has |= bit
}

var netTypes = []string{"wifi", "cellular", "ethernet", "none"}

func (f *fields) netType() {
	v := f.get("net_type")
	if v == nil {
		return
	}
	b, _ := v.StringBytes()
	for _, t := range netTypes {
		if string(b) == t {
			f.h.NetType = t
			f.h.Has |= persistence.HasNetType
			return
		}
	}
	f.err = fieldError("net_type", "must be one of wifi, cellular, ethernet, none")
}

// appLastForeground keeps the object as JSON after checking that it maps
// package names to unix milliseconds.
func (f *fields) appLastForeground() {
	v := f.get("app_last_foreground")
	if v == nil {
		return
	}
	o, err := v.Object()
	if err != nil {
		f.err = fieldError("app_last_foreground", "must be an object of package name to unix milliseconds")
		return
	}
	if o.Len() > maxAppsReported {
		f.err = fieldError("app_last_foreground", "must list at most %d packages", maxAppsReported)
		return
	}
	o.Visit(func(k []byte, x *fastjson.Value) {
		if f.err != nil {
			return
		}
		if len(k) == 0 || len(k) > maxStringLen || !storable(k) {
			f.err = fieldError("app_last_foreground", "keys must be package names of 1 to %d bytes", maxStringLen)
			return
		}
		if n, err := x.Int64(); err != nil || n < 0 {
			f.err = fieldError("app_last_foreground", "values must be unix milliseconds (non-negative integers)")
		}
	})
	if f.err != nil {
		return
	}
	// Marshalled into a kept buffer and then copied into a string, the
	// object costs one allocation of its size, which the writer's columns
	// then share; appended to nil it grew six or seven times.
	scratch := marshalBuffers.Get().(*[]byte)
	*scratch = v.MarshalTo((*scratch)[:0])
	f.h.AppLastForeground = string(*scratch)
	marshalBuffers.Put(scratch)
	f.h.Has |= persistence.HasAppLastForeground
}

// storable reports whether PostgreSQL text and jsonb accept b: valid UTF-8
// with no NUL. Checking here keeps one odd string from failing the COPY of a
// whole batch.
func storable(b []byte) bool { return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 }
