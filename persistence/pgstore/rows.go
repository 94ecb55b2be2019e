package pgstore

import (
	"bytes"
	"context"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nexmdm/nexmdm/persistence"
)

var heartbeatsTable = pgx.Identifier{"heartbeats"}

var heartbeatColumns = []string{
	"device_id", "bucket_start", "ts", "received_at", "battery_pct", "charging",
	"ram_used_mb", "ram_total_mb", "uptime_s", "net_type", "ssid", "signal_dbm",
	"agent_version_code", "foreground_pkg", "power_ok", "doze_whitelisted",
	"net_validated", "queue_depth",
}

// copySource feeds heartbeat rows to CopyFrom, reusing one value slice:
// pgx encodes each row before asking for the next.
type copySource struct {
	rows []*persistence.HeartbeatWrite
	i    int
	vals []any
}

func newCopySource(rows []*persistence.HeartbeatWrite) *copySource {
	return &copySource{rows: rows, i: -1, vals: make([]any, len(heartbeatColumns))}
}

func (s *copySource) Next() bool { s.i++; return s.i < len(s.rows) }
func (s *copySource) Err() error { return nil }

func (s *copySource) Values() ([]any, error) {
	h := &s.rows[s.i].Heartbeat
	v := s.vals
	v[0] = pgtype.UUID{Bytes: h.DeviceID, Valid: true} // uuid.UUID would go through driver.Valuer and text
	v[1] = persistence.BucketStart(persistence.Bucket(h.TS))
	v[2] = h.TS
	v[3] = h.ReceivedAt
	v[4] = opt(h.Has, persistence.HasBattery, h.BatteryPct)
	v[5] = opt(h.Has, persistence.HasCharging, h.Charging)
	v[6] = opt(h.Has, persistence.HasRAMUsed, h.RAMUsedMB)
	v[7] = opt(h.Has, persistence.HasRAMTotal, h.RAMTotalMB)
	v[8] = opt(h.Has, persistence.HasUptime, h.UptimeS)
	v[9] = opt(h.Has, persistence.HasNetType, h.NetType)
	v[10] = opt(h.Has, persistence.HasSSID, h.SSID)
	v[11] = opt(h.Has, persistence.HasSignal, h.SignalDBm)
	v[12] = opt(h.Has, persistence.HasAgentVersionCode, h.AgentVersionCode)
	v[13] = opt(h.Has, persistence.HasForegroundPkg, h.ForegroundPkg)
	v[14] = opt(h.Has, persistence.HasPowerOK, h.PowerOK)
	v[15] = opt(h.Has, persistence.HasDozeWhitelisted, h.DozeWhitelisted)
	v[16] = opt(h.Has, persistence.HasNetValidated, h.NetValidated)
	v[17] = opt(h.Has, persistence.HasQueueDepth, h.QueueDepth)
	return v, nil
}

// opt is v when the device sent the field, else NULL.
func opt[T any](has, f persistence.Fields, v T) any {
	if has&f == 0 {
		return nil
	}
	return v
}

// columns holds one batch column-wise, for unnest(). Its element types are
// pgtype's, which pgx encodes in binary without a detour through text.
type columns struct {
	ids              ptrArray[pgtype.UUID]
	bucketStarts     ptrArray[pgtype.Timestamptz]
	ts, receivedAt   ptrArray[pgtype.Timestamptz]
	battery          ptrArray[pgtype.Int2]
	charging         ptrArray[pgtype.Bool]
	ramUsed          ptrArray[pgtype.Int4]
	ramTotal         ptrArray[pgtype.Int4]
	uptime           ptrArray[pgtype.Int8]
	netType, ssid    ptrArray[pgtype.Text]
	signal           ptrArray[pgtype.Int2]
	agentVersion     ptrArray[pgtype.Text]
	agentVersionCode ptrArray[pgtype.Int4]
	foregroundPkg    ptrArray[pgtype.Text]
	appLastFg        ptrArray[pgtype.Text]
	powerOK          ptrArray[pgtype.Bool]
	dozeWhitelisted  ptrArray[pgtype.Bool]
	netValidated     ptrArray[pgtype.Bool]
	queueDepth       ptrArray[pgtype.Int4]
}

// ptrArray is a one-dimensional array parameter whose elements pgx reads
// through pointers. pgx boxes each element it encodes in an interface; a
// pointer fits one as it is, where a pgtype value is copied to the heap
// (and a plain slice goes through reflection as well). pgtype's value
// methods make *T as encodable as T.
type ptrArray[T any] []T

func (a ptrArray[T]) Dimensions() []pgtype.ArrayDimension {
	if a == nil {
		return nil
	}
	return []pgtype.ArrayDimension{{Length: int32(len(a)), LowerBound: 1}}
}

func (a ptrArray[T]) Index(i int) any { return &a[i] }
func (a ptrArray[T]) IndexType() any  { return new(T) }

// columnsPool keeps the writer's column arrays from one batch to the
// next; built anew they were 400 bytes a heartbeat under stress.
var columnsPool = sync.Pool{New: func() any { return new(columns) }}

// newColumns returns empty columns; release them once their statement has
// run, since pgx has encoded them by then.
func newColumns() *columns {
	c := columnsPool.Get().(*columns)
	c.ids, c.bucketStarts, c.ts, c.receivedAt = c.ids[:0], c.bucketStarts[:0], c.ts[:0], c.receivedAt[:0]
	c.battery, c.charging, c.ramUsed, c.ramTotal = c.battery[:0], c.charging[:0], c.ramUsed[:0], c.ramTotal[:0]
	c.uptime, c.netType, c.ssid, c.signal = c.uptime[:0], c.netType[:0], c.ssid[:0], c.signal[:0]
	c.agentVersion, c.agentVersionCode, c.foregroundPkg, c.appLastFg = c.agentVersion[:0], c.agentVersionCode[:0], c.foregroundPkg[:0], c.appLastFg[:0]
	c.powerOK, c.dozeWhitelisted, c.netValidated, c.queueDepth = c.powerOK[:0], c.dozeWhitelisted[:0], c.netValidated[:0], c.queueDepth[:0]
	return c
}

func (c *columns) release() { columnsPool.Put(c) }

func (c *columns) add(h *persistence.Heartbeat) {
	has := func(f persistence.Fields) bool { return h.Has&f != 0 }
	c.ids = append(c.ids, pgtype.UUID{Bytes: h.DeviceID, Valid: true})
	c.bucketStarts = append(c.bucketStarts, pgtype.Timestamptz{Time: persistence.BucketStart(persistence.Bucket(h.TS)), Valid: true})
	c.ts = append(c.ts, pgtype.Timestamptz{Time: h.TS, Valid: true})
	c.receivedAt = append(c.receivedAt, pgtype.Timestamptz{Time: h.ReceivedAt, Valid: true})
	c.battery = append(c.battery, pgtype.Int2{Int16: h.BatteryPct, Valid: has(persistence.HasBattery)})
	c.charging = append(c.charging, pgtype.Bool{Bool: h.Charging, Valid: has(persistence.HasCharging)})
	c.ramUsed = append(c.ramUsed, pgtype.Int4{Int32: h.RAMUsedMB, Valid: has(persistence.HasRAMUsed)})
	c.ramTotal = append(c.ramTotal, pgtype.Int4{Int32: h.RAMTotalMB, Valid: has(persistence.HasRAMTotal)})
	c.uptime = append(c.uptime, pgtype.Int8{Int64: h.UptimeS, Valid: has(persistence.HasUptime)})
	c.netType = append(c.netType, pgtype.Text{String: h.NetType, Valid: has(persistence.HasNetType)})
	c.ssid = append(c.ssid, pgtype.Text{String: h.SSID, Valid: has(persistence.HasSSID)})
	c.signal = append(c.signal, pgtype.Int2{Int16: h.SignalDBm, Valid: has(persistence.HasSignal)})
	c.agentVersion = append(c.agentVersion, pgtype.Text{String: h.AgentVersion, Valid: has(persistence.HasAgentVersion)})
	c.agentVersionCode = append(c.agentVersionCode, pgtype.Int4{Int32: h.AgentVersionCode, Valid: has(persistence.HasAgentVersionCode)})
	c.foregroundPkg = append(c.foregroundPkg, pgtype.Text{String: h.ForegroundPkg, Valid: has(persistence.HasForegroundPkg)})
	c.appLastFg = append(c.appLastFg, pgtype.Text{String: h.AppLastForeground, Valid: has(persistence.HasAppLastForeground)})
	c.powerOK = append(c.powerOK, pgtype.Bool{Bool: h.PowerOK, Valid: has(persistence.HasPowerOK)})
	c.dozeWhitelisted = append(c.dozeWhitelisted, pgtype.Bool{Bool: h.DozeWhitelisted, Valid: has(persistence.HasDozeWhitelisted)})
	c.netValidated = append(c.netValidated, pgtype.Bool{Bool: h.NetValidated, Valid: has(persistence.HasNetValidated)})
	c.queueDepth = append(c.queueDepth, pgtype.Int4{Int32: h.QueueDepth, Valid: has(persistence.HasQueueDepth)})
}

// insertHeartbeats names heartbeats' columns in heartbeatColumns' order.
const insertHeartbeats = `
INSERT INTO heartbeats (device_id, bucket_start, ts, received_at, battery_pct, charging,
	ram_used_mb, ram_total_mb, uptime_s, net_type, ssid, signal_dbm, agent_version_code,
	foreground_pkg, power_ok, doze_whitelisted, net_validated, queue_depth)`

// insertIfAbsentSQL stores the rows whose buckets are new and returns them.
const insertIfAbsentSQL = insertHeartbeats + `
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[],
	$5::int2[], $6::bool[], $7::int4[], $8::int4[], $9::int8[], $10::text[], $11::text[],
	$12::int2[], $13::int4[], $14::text[], $15::bool[], $16::bool[], $17::bool[], $18::int4[])
ON CONFLICT (device_id, bucket_start) DO NOTHING
RETURNING device_id, bucket_start`

// batchColumns is a batch column-wise.
func batchColumns(writes []*persistence.HeartbeatWrite) *columns {
	c := newColumns()
	for _, x := range writes {
		c.add(&x.Heartbeat)
	}
	return c
}

// heartbeatArgs are insertIfAbsentSQL's parameters.
func (c *columns) heartbeatArgs() []any {
	return []any{c.ids, c.bucketStarts, c.ts, c.receivedAt, c.battery, c.charging, c.ramUsed,
		c.ramTotal, c.uptime, c.netType, c.ssid, c.signal, c.agentVersionCode, c.foregroundPkg,
		c.powerOK, c.dozeWhitelisted, c.netValidated, c.queueDepth}
}

// insertIfAbsent stores rows whose bucket may already be stored, and marks
// the ones that were as Duplicate.
func insertIfAbsent(ctx context.Context, tx pgx.Tx, writes []*persistence.HeartbeatWrite) error {
	c := batchColumns(writes)
	defer c.release()
	rows, err := tx.Query(ctx, insertIfAbsentSQL, c.heartbeatArgs()...)
	if err != nil {
		return err
	}
	type key struct {
		id     uuid.UUID
		bucket int64
	}
	inserted := map[key]bool{}
	for rows.Next() {
		var k key
		var start pgtype.Timestamptz
		if err := rows.Scan(&k.id, &start); err != nil {
			rows.Close()
			return err
		}
		k.bucket = persistence.Bucket(start.Time)
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, x := range writes {
		h := &x.Heartbeat
		x.Duplicate = !inserted[key{h.DeviceID, persistence.Bucket(h.TS)}]
	}
	return nil
}

// lastStatusInsert and lastStatusSet frame an upsert of device_last_status
// from a row source u; an older heartbeat never replaces a newer one.
const lastStatusInsert = `
INSERT INTO device_last_status AS s (device_id, ts, received_at, battery_pct, charging,
	ram_used_mb, ram_total_mb, uptime_s, net_type, ssid, signal_dbm, agent_version,
	agent_version_code, foreground_pkg, app_last_foreground, power_ok, doze_whitelisted,
	net_validated, queue_depth)
SELECT u.device_id, u.ts, u.received_at, u.battery_pct, u.charging, u.ram_used_mb,
	u.ram_total_mb, u.uptime_s, u.net_type, u.ssid, u.signal_dbm, u.agent_version,
	u.agent_version_code, u.foreground_pkg, u.app_last_foreground::jsonb, u.power_ok,
	u.doze_whitelisted, u.net_validated, u.queue_depth`

const lastStatusSet = `
ON CONFLICT (device_id) DO UPDATE SET
	ts = EXCLUDED.ts, received_at = EXCLUDED.received_at, battery_pct = EXCLUDED.battery_pct,
	charging = EXCLUDED.charging, ram_used_mb = EXCLUDED.ram_used_mb,
	ram_total_mb = EXCLUDED.ram_total_mb, uptime_s = EXCLUDED.uptime_s,
	net_type = EXCLUDED.net_type, ssid = EXCLUDED.ssid, signal_dbm = EXCLUDED.signal_dbm,
	agent_version = EXCLUDED.agent_version, agent_version_code = EXCLUDED.agent_version_code,
	foreground_pkg = EXCLUDED.foreground_pkg, app_last_foreground = EXCLUDED.app_last_foreground,
	power_ok = EXCLUDED.power_ok, doze_whitelisted = EXCLUDED.doze_whitelisted,
	net_validated = EXCLUDED.net_validated, queue_depth = EXCLUDED.queue_depth
WHERE s.ts <= EXCLUDED.ts`

const upsertLastStatusSQL = lastStatusInsert + `
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::int2[], $5::bool[],
	$6::int4[], $7::int4[], $8::int8[], $9::text[], $10::text[], $11::int2[], $12::text[],
	$13::int4[], $14::text[], $15::text[], $16::bool[], $17::bool[], $18::bool[], $19::int4[])
	AS u(device_id, ts, received_at, battery_pct, charging, ram_used_mb, ram_total_mb,
	uptime_s, net_type, ssid, signal_dbm, agent_version, agent_version_code, foreground_pkg,
	app_last_foreground, power_ok, doze_whitelisted, net_validated, queue_depth)` + lastStatusSet

// lastStatusArgs are upsertLastStatusSQL's parameters.
func (c *columns) lastStatusArgs() []any {
	return []any{c.ids, c.ts, c.receivedAt, c.battery, c.charging, c.ramUsed, c.ramTotal, c.uptime,
		c.netType, c.ssid, c.signal, c.agentVersion, c.agentVersionCode, c.foregroundPkg, c.appLastFg,
		c.powerOK, c.dozeWhitelisted, c.netValidated, c.queueDepth}
}

// storeHeartbeatsSQL is a batch of new buckets in one statement: the rows
// into heartbeats, and each device's newest into device_last_status. One
// statement is one set of parameters to encode and send, where an insert
// plus an upsert sent nearly every column twice. Sorting by device makes
// the upsert lock rows in device order, as every writer of the table does,
// so that concurrent commits cannot deadlock.
const storeHeartbeatsSQL = `
WITH r AS (
	SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[],
		$5::int2[], $6::bool[], $7::int4[], $8::int4[], $9::int8[], $10::text[], $11::text[],
		$12::int2[], $13::text[], $14::int4[], $15::text[], $16::text[], $17::bool[], $18::bool[],
		$19::bool[], $20::int4[])
	AS r(device_id, bucket_start, ts, received_at, battery_pct, charging, ram_used_mb, ram_total_mb,
		uptime_s, net_type, ssid, signal_dbm, agent_version, agent_version_code, foreground_pkg,
		app_last_foreground, power_ok, doze_whitelisted, net_validated, queue_depth)
), stored AS (` + insertHeartbeats + `
	SELECT device_id, bucket_start, ts, received_at, battery_pct, charging, ram_used_mb,
		ram_total_mb, uptime_s, net_type, ssid, signal_dbm, agent_version_code, foreground_pkg,
		power_ok, doze_whitelisted, net_validated, queue_depth
	FROM r
)` + lastStatusInsert + `
FROM (SELECT DISTINCT ON (device_id) * FROM r ORDER BY device_id, ts DESC) AS u` + lastStatusSet

// storeArgs are storeHeartbeatsSQL's parameters.
func (c *columns) storeArgs() []any {
	return []any{c.ids, c.bucketStarts, c.ts, c.receivedAt, c.battery, c.charging, c.ramUsed,
		c.ramTotal, c.uptime, c.netType, c.ssid, c.signal, c.agentVersion, c.agentVersionCode,
		c.foregroundPkg, c.appLastFg, c.powerOK, c.dozeWhitelisted, c.netValidated, c.queueDepth}
}

// upsertLastStatus writes each device's newest stored heartbeat of the batch
// into device_last_status; an older one (a replayed backlog) never replaces
// a newer one. Rows go in device order so that two concurrent committers
// lock them in the same order and cannot deadlock.
func upsertLastStatus(ctx context.Context, tx pgx.Tx, writes []*persistence.HeartbeatWrite) error {
	newest := make([]*persistence.Heartbeat, 0, len(writes))
	for _, x := range writes {
		if !x.Duplicate {
			newest = append(newest, &x.Heartbeat)
		}
	}
	if len(newest) == 0 {
		return nil
	}
	slices.SortFunc(newest, func(a, b *persistence.Heartbeat) int {
		if c := bytes.Compare(a.DeviceID[:], b.DeviceID[:]); c != 0 {
			return c
		}
		return b.TS.Compare(a.TS) // newest first
	})
	c := newColumns()
	defer c.release()
	for i, h := range newest {
		if i > 0 && newest[i-1].DeviceID == h.DeviceID {
			continue
		}
		c.add(h)
	}
	return execPrepared(ctx, tx.Conn(), "nexmdm_upsert_last_status", upsertLastStatusSQL, c.lastStatusArgs()...)
}
