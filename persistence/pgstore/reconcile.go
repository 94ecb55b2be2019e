package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nexmdm/nexmdm/persistence"
)

// Reconcile holds the queries of the hourly reconciliation, which compares
// device_last_status and the newest stored heartbeats with the device
// actors and repairs what drifted. Every query takes one chunk of devices,
// so that no statement runs long or locks many rows.
type Reconcile struct{ pool *pgxpool.Pool }

// NewReconcile returns the reconciliation queries on pool.
func NewReconcile(pool *pgxpool.Pool) *Reconcile { return &Reconcile{pool: pool} }

// TryLock takes reconciliation's advisory lock: see TryLock.
func (r *Reconcile) TryLock(ctx context.Context) (release func(), ok bool, err error) {
	return TryLock(ctx, r.pool, "nexmdm.reconcile")
}

// DeviceIDs returns up to limit device ids after the given one, in order: one
// page of a keyset walk over every device.
func (r *Reconcile) DeviceIDs(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	rows, err := r.pool.Query(ctx, `SELECT id FROM devices WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("page devices: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("page devices: %w", err)
	}
	return ids, nil
}

// Existing returns which of ids are enrolled devices.
func (r *Reconcile) Existing(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	rows, err := r.pool.Query(ctx, `SELECT id FROM devices WHERE id = ANY($1)`, pgUUIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("existing devices: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("existing devices: %w", err)
	}
	return found, nil
}

// The newest bucket comes from an ORDER BY ... LIMIT 1 that the planner runs
// as an ordered scan of the daily partitions, newest first: an active device
// costs an index probe or two, not one per partition.
const storedLastSQL = `
SELECT u.id, s.ts, (SELECT max(h.bucket_start) FROM heartbeats h WHERE h.device_id = u.id)
FROM unnest($1::uuid[]) AS u(id)
LEFT JOIN device_last_status s ON s.device_id = u.id`

// StoredLast reads, for each of ids, the ts of its device_last_status row
// and its newest stored heartbeat bucket, in one query.
func (r *Reconcile) StoredLast(ctx context.Context, ids []uuid.UUID) ([]persistence.StoredLast, error) {
	rows, err := r.pool.Query(ctx, storedLastSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("stored last status: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (persistence.StoredLast, error) {
		var s persistence.StoredLast
		var ts, newest pgtype.Timestamptz
		if err := row.Scan(&s.DeviceID, &ts, &newest); err != nil {
			return s, err
		}
		if ts.Valid {
			s.StatusTS = ts.Time
		}
		if newest.Valid {
			s.NewestBucket = persistence.Bucket(newest.Time)
		}
		return s, nil
	})
	if err != nil {
		return nil, fmt.Errorf("stored last status: %w", err)
	}
	return out, nil
}

// olderBucketSQL keeps a repair from rewriting a row that already holds the
// bucket being written, or a newer one: a heartbeat committed meanwhile wins.
const olderBucketSQL = `s.ts < to_timestamp(floor(extract(epoch FROM EXCLUDED.ts) / 10) * 10)`

// heartbeats has no agent_version (text) or app_last_foreground: the row
// keeps its own, the version name only while the version code still matches.
const lastStatusFromHeartbeatsSQL = `
INSERT INTO device_last_status AS s (device_id, ts, received_at, battery_pct, charging,
	ram_used_mb, ram_total_mb, uptime_s, net_type, ssid, signal_dbm, agent_version_code,
	foreground_pkg, power_ok, doze_whitelisted, net_validated, queue_depth)
SELECT h.device_id, h.ts, h.received_at, h.battery_pct, h.charging, h.ram_used_mb,
	h.ram_total_mb, h.uptime_s, h.net_type, h.ssid, h.signal_dbm, h.agent_version_code,
	h.foreground_pkg, h.power_ok, h.doze_whitelisted, h.net_validated, h.queue_depth
FROM unnest($1::uuid[], $2::timestamptz[]) AS u(device_id, bucket_start)
JOIN heartbeats h ON h.device_id = u.device_id AND h.bucket_start = u.bucket_start
ORDER BY h.device_id
ON CONFLICT (device_id) DO UPDATE SET
	ts = EXCLUDED.ts, received_at = EXCLUDED.received_at, battery_pct = EXCLUDED.battery_pct,
	charging = EXCLUDED.charging, ram_used_mb = EXCLUDED.ram_used_mb,
	ram_total_mb = EXCLUDED.ram_total_mb, uptime_s = EXCLUDED.uptime_s,
	net_type = EXCLUDED.net_type, ssid = EXCLUDED.ssid, signal_dbm = EXCLUDED.signal_dbm,
	agent_version = CASE WHEN s.agent_version_code IS NOT DISTINCT FROM EXCLUDED.agent_version_code
		THEN s.agent_version END,
	agent_version_code = EXCLUDED.agent_version_code, foreground_pkg = EXCLUDED.foreground_pkg,
	power_ok = EXCLUDED.power_ok, doze_whitelisted = EXCLUDED.doze_whitelisted,
	net_validated = EXCLUDED.net_validated, queue_depth = EXCLUDED.queue_depth
WHERE ` + olderBucketSQL + `
RETURNING device_id`

// LastStatusFromHeartbeats copies each device's newest stored heartbeat,
// the row of last[i].NewestBucket, into device_last_status where that row
// is missing or holds an older bucket. It returns the devices it repaired.
func (r *Reconcile) LastStatusFromHeartbeats(ctx context.Context, last []persistence.StoredLast) ([]uuid.UUID, error) {
	var repaired []uuid.UUID
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		ids := make([]uuid.UUID, len(last))
		for i, s := range last {
			ids[i] = s.DeviceID
		}
		live, err := holdDevices(ctx, tx, ids)
		if err != nil {
			return err
		}
		var keep []uuid.UUID
		var starts []pgtype.Timestamptz
		for _, s := range last {
			if live[s.DeviceID] && s.NewestBucket > 0 {
				keep = append(keep, s.DeviceID)
				starts = append(starts, pgtype.Timestamptz{Time: persistence.BucketStart(s.NewestBucket), Valid: true})
			}
		}
		if len(keep) == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, lastStatusFromHeartbeatsSQL, keep, starts)
		if err != nil {
			return err
		}
		repaired, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("repair last status from heartbeats: %w", err)
	}
	return repaired, nil
}

const lastStatusFromLiveSQL = `
INSERT INTO device_last_status AS s (device_id, ts, received_at, battery_pct, charging,
	ram_used_mb, ram_total_mb, uptime_s, net_type, ssid, signal_dbm, agent_version,
	agent_version_code, foreground_pkg, power_ok, doze_whitelisted, net_validated, queue_depth)
SELECT device_id, ts, received_at, battery_pct, charging, ram_used_mb, ram_total_mb, uptime_s,
	net_type, ssid, signal_dbm, agent_version, agent_version_code, foreground_pkg, power_ok,
	doze_whitelisted, net_validated, queue_depth
FROM unnest($1::heartbeat_row[])
ON CONFLICT (device_id) DO UPDATE SET
	ts = EXCLUDED.ts, received_at = EXCLUDED.received_at, battery_pct = EXCLUDED.battery_pct,
	charging = EXCLUDED.charging, ram_used_mb = EXCLUDED.ram_used_mb,
	ram_total_mb = EXCLUDED.ram_total_mb, uptime_s = EXCLUDED.uptime_s,
	net_type = EXCLUDED.net_type, ssid = EXCLUDED.ssid, signal_dbm = EXCLUDED.signal_dbm,
	agent_version = EXCLUDED.agent_version, agent_version_code = EXCLUDED.agent_version_code,
	foreground_pkg = EXCLUDED.foreground_pkg, power_ok = EXCLUDED.power_ok,
	doze_whitelisted = EXCLUDED.doze_whitelisted, net_validated = EXCLUDED.net_validated,
	queue_depth = EXCLUDED.queue_depth
WHERE ` + olderBucketSQL + `
RETURNING device_id`

// LastStatusFromLive writes heartbeats that device actors hold as their
// newest stored one into device_last_status where the row is missing or
// holds an older bucket. Actors do not keep app_last_foreground, so the row
// keeps its own. It returns the devices it repaired.
func (r *Reconcile) LastStatusFromLive(ctx context.Context, hs []persistence.Heartbeat) ([]uuid.UUID, error) {
	var repaired []uuid.UUID
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		ids := make([]uuid.UUID, len(hs))
		for i := range hs {
			ids[i] = hs[i].DeviceID
		}
		live, err := holdDevices(ctx, tx, ids)
		if err != nil {
			return err
		}
		keep := make([]*persistence.Heartbeat, 0, len(hs))
		for i := range hs {
			if live[hs[i].DeviceID] {
				keep = append(keep, &hs[i])
			}
		}
		if len(keep) == 0 {
			return nil
		}
		// Device order, as the writer's upsert, so that the two never deadlock.
		slices.SortFunc(keep, func(a, b *persistence.Heartbeat) int { return bytes.Compare(a.DeviceID[:], b.DeviceID[:]) })
		return execRows(ctx, tx.Conn(), "nexmdm_last_status_from_live", lastStatusFromLiveSQL, keep, func(cols [][]byte) error {
			id, err := uuid.FromBytes(cols[0])
			repaired = append(repaired, id)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("repair last status from actors: %w", err)
	}
	return repaired, nil
}
