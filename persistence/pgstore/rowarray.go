package pgstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nexmdm/nexmdm/persistence"
)

// A batch of heartbeats goes to PostgreSQL as one heartbeat_row[] parameter
// (migration 000012), encoded here in the binary array format. As twenty
// column arrays it cost a heap value per field, pgx's encode plans, and a
// send buffer that pgx shrinks to 1 KB after every statement and so regrew
// a step at a time for each parameter: about 1 KB allocated per heartbeat
// under stress, half of all the server allocated. One parameter grows it
// once.

// rowFields are heartbeat_row's field types, in its order.
var rowFields = [...]uint32{
	pgtype.UUIDOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID, // device_id, bucket_start, ts, received_at
	pgtype.Int2OID, pgtype.BoolOID, pgtype.Int4OID, pgtype.Int4OID, pgtype.Int8OID, // battery_pct, charging, ram_used_mb, ram_total_mb, uptime_s
	pgtype.TextOID, pgtype.TextOID, pgtype.Int2OID, pgtype.TextOID, pgtype.Int4OID, // net_type, ssid, signal_dbm, agent_version, agent_version_code
	pgtype.TextOID, pgtype.TextOID, // foreground_pkg, app_last_foreground
	pgtype.BoolOID, pgtype.BoolOID, pgtype.BoolOID, pgtype.Int4OID, // power_ok, doze_whitelisted, net_validated, queue_depth
}

// appendRowArray appends hs as a heartbeat_row[] whose element type has
// the OID elem.
func appendRowArray(dst []byte, elem uint32, hs []*persistence.Heartbeat) []byte {
	dst = appendUint32s(dst, 1, 0, elem, uint32(len(hs)), 1) // one dimension from 1, no NULL elements
	for _, h := range hs {
		at := len(dst)
		dst = appendRow(append(dst, 0, 0, 0, 0), h)
		binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	return dst
}

func appendRow(dst []byte, h *persistence.Heartbeat) []byte {
	f := rowWriter{dst: appendUint32s(dst, uint32(len(rowFields)))}
	has := func(bit persistence.Fields) bool { return h.Has&bit != 0 }
	f.bytes(true, h.DeviceID[:])
	f.time(persistence.BucketStart(persistence.Bucket(h.TS)))
	f.time(h.TS)
	f.time(h.ReceivedAt)
	f.int2(has(persistence.HasBattery), h.BatteryPct)
	f.bool(has(persistence.HasCharging), h.Charging)
	f.int4(has(persistence.HasRAMUsed), h.RAMUsedMB)
	f.int4(has(persistence.HasRAMTotal), h.RAMTotalMB)
	f.int8(has(persistence.HasUptime), h.UptimeS)
	f.text(has(persistence.HasNetType), h.NetType)
	f.text(has(persistence.HasSSID), h.SSID)
	f.int2(has(persistence.HasSignal), h.SignalDBm)
	f.text(has(persistence.HasAgentVersion), h.AgentVersion)
	f.int4(has(persistence.HasAgentVersionCode), h.AgentVersionCode)
	f.text(has(persistence.HasForegroundPkg), h.ForegroundPkg)
	f.text(has(persistence.HasAppLastForeground), h.AppLastForeground)
	f.bool(has(persistence.HasPowerOK), h.PowerOK)
	f.bool(has(persistence.HasDozeWhitelisted), h.DozeWhitelisted)
	f.bool(has(persistence.HasNetValidated), h.NetValidated)
	f.int4(has(persistence.HasQueueDepth), h.QueueDepth)
	return f.dst
}

// rowWriter appends a record's fields, each as its type's OID, its length
// (-1: NULL) and its binary value.
type rowWriter struct {
	dst []byte
	i   int
}

func (w *rowWriter) field(valid bool, n int) bool {
	oid := rowFields[w.i]
	w.i++
	if !valid {
		w.dst = appendUint32s(w.dst, oid, 0xFFFFFFFF)
		return false
	}
	w.dst = appendUint32s(w.dst, oid, uint32(n))
	return true
}

func (w *rowWriter) bytes(valid bool, b []byte) {
	if w.field(valid, len(b)) {
		w.dst = append(w.dst, b...)
	}
}

func (w *rowWriter) text(valid bool, s string) {
	if w.field(valid, len(s)) {
		w.dst = append(w.dst, s...)
	}
}

func (w *rowWriter) bool(valid, b bool) {
	if w.field(valid, 1) {
		if b {
			w.dst = append(w.dst, 1)
		} else {
			w.dst = append(w.dst, 0)
		}
	}
}

func (w *rowWriter) int2(valid bool, n int16) {
	if w.field(valid, 2) {
		w.dst = binary.BigEndian.AppendUint16(w.dst, uint16(n))
	}
}

func (w *rowWriter) int4(valid bool, n int32) {
	if w.field(valid, 4) {
		w.dst = binary.BigEndian.AppendUint32(w.dst, uint32(n))
	}
}

func (w *rowWriter) int8(valid bool, n int64) {
	if w.field(valid, 8) {
		w.dst = binary.BigEndian.AppendUint64(w.dst, uint64(n))
	}
}

// microsToY2K is PostgreSQL's timestamp epoch, 2000-01-01, in unix µs.
const microsToY2K = 946_684_800_000_000

func (w *rowWriter) time(t time.Time) {
	w.int8(true, t.UnixMicro()-microsToY2K)
}

func appendUint32s(dst []byte, vs ...uint32) []byte {
	for _, v := range vs {
		dst = binary.BigEndian.AppendUint32(dst, v)
	}
	return dst
}

// decodeTimestamptz reads a binary timestamptz result column.
func decodeTimestamptz(b []byte) (time.Time, error) {
	if len(b) != 8 {
		return time.Time{}, fmt.Errorf("timestamptz of %d bytes", len(b))
	}
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b)) + microsToY2K).UTC(), nil
}

// binaryFormats puts every parameter and result column in binary.
var binaryFormats = []int16{pgtype.BinaryFormatCode}

// rowArrayBuffers keeps encode buffers from one batch to the next.
var rowArrayBuffers = sync.Pool{New: func() any { return new([]byte) }}

// execRows runs sql, prepared on conn under name the first time, with hs
// as its one parameter ($1::heartbeat_row[]), and hands each result row's
// binary columns to row, which must not keep them.
func execRows(ctx context.Context, conn *pgx.Conn, name, sql string, hs []*persistence.Heartbeat, row func([][]byte) error) error {
	sd, err := conn.Prepare(ctx, name, sql) // a map lookup once prepared
	if err != nil {
		return err
	}
	elem, err := heartbeatRowOID(ctx, conn)
	if err != nil {
		return err
	}
	buf := rowArrayBuffers.Get().(*[]byte)
	defer rowArrayBuffers.Put(buf)
	*buf = appendRowArray((*buf)[:0], elem, hs)
	rr := conn.PgConn().ExecPrepared(ctx, sd.Name, [][]byte{*buf}, binaryFormats, binaryFormats)
	var rowErr error
	for rr.NextRow() {
		if rowErr == nil && row != nil {
			rowErr = row(rr.Values())
		}
	}
	if _, err := rr.Close(); err != nil {
		return err
	}
	return rowErr
}

// heartbeatRowOID is heartbeat_row's OID in conn's database, loaded into
// the connection's type map the first time.
func heartbeatRowOID(ctx context.Context, conn *pgx.Conn) (uint32, error) {
	m := conn.TypeMap()
	if t, ok := m.TypeForName("heartbeat_row"); ok {
		return t.OID, nil
	}
	t, err := conn.LoadType(ctx, "heartbeat_row")
	if err != nil {
		return 0, fmt.Errorf("load type heartbeat_row: %w", err)
	}
	m.RegisterType(t)
	return t.OID, nil
}
