package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// HistoryPoint summarises one device's heartbeats in one step of time.
type HistoryPoint struct {
	At         time.Time // start of the step
	Samples    int
	BatteryAvg *float64
	BatteryMin *int16
	BatteryMax *int16
	Charging   *bool // charging at any heartbeat in the step
	RAMUsedAvg *float64
	RAMTotal   *int32
	SignalAvg  *float64
}

// History reads a device's heartbeats in [from, to) bucketed by step. The
// range is on the partition key, so only the partitions it covers are read,
// each through the (device_id, bucket_start) primary key.
func (d *Devices) History(ctx context.Context, id uuid.UUID, from, to time.Time, step time.Duration) ([]HistoryPoint, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT date_bin($4::interval, bucket_start, $2) AS at, count(*),
			avg(battery_pct)::float8, min(battery_pct), max(battery_pct), bool_or(charging),
			avg(ram_used_mb)::float8, max(ram_total_mb), avg(signal_dbm)::float8
		FROM heartbeats
		WHERE device_id = $1 AND bucket_start >= $2 AND bucket_start < $3
		GROUP BY 1 ORDER BY 1`,
		id, from, to, pgtype.Interval{Microseconds: step.Microseconds(), Valid: true})
	if err != nil {
		return nil, fmt.Errorf("heartbeat history: %w", err)
	}
	points, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (HistoryPoint, error) {
		var p HistoryPoint
		err := row.Scan(&p.At, &p.Samples, &p.BatteryAvg, &p.BatteryMin, &p.BatteryMax, &p.Charging,
			&p.RAMUsedAvg, &p.RAMTotal, &p.SignalAvg)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat history: %w", err)
	}
	return points, nil
}
