package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nexmdm/nexmdm/persistence"
)

// MonitoringPatch changes some monitoring settings; nil fields are kept.
type MonitoringPatch struct {
	Package       *string
	DisplayName   *string
	ThresholdMin  *int32
	Enabled       *bool
	AutoRemediate *bool
}

// DeviceMonitoring is one device's settings after a change.
type DeviceMonitoring struct {
	ID         uuid.UUID
	Monitoring persistence.Monitoring
}

// ErrMonitorNeedsPackage means the change would enable monitoring on a
// device with no monitored package.
var ErrMonitorNeedsPackage = errors.New("monitoring enabled without a package")

// PatchMonitoring applies p to every device in ids in one statement, so that
// either all of them change or none does, and returns the settings of the
// devices that exist.
func (d *Devices) PatchMonitoring(ctx context.Context, ids []uuid.UUID, p MonitoringPatch) ([]DeviceMonitoring, error) {
	rows, err := d.pool.Query(ctx, `
		UPDATE devices SET
			monitored_package     = COALESCE($2, monitored_package),
			monitor_display_name  = COALESCE($3, monitor_display_name),
			monitor_threshold_min = COALESCE($4, monitor_threshold_min),
			monitor_enabled       = COALESCE($5, monitor_enabled),
			auto_remediate        = COALESCE($6, auto_remediate)
		WHERE id = ANY($1)
		RETURNING id, monitored_package, monitor_display_name, monitor_threshold_min,
			monitor_enabled, auto_remediate`,
		pgUUIDs(ids), p.Package, p.DisplayName, p.ThresholdMin, p.Enabled, p.AutoRemediate)
	if err != nil {
		return nil, fmt.Errorf("patch monitoring: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeviceMonitoring, error) {
		var dm DeviceMonitoring
		m := &dm.Monitoring
		err := row.Scan(&dm.ID, &m.Package, &m.DisplayName, &m.ThresholdMin, &m.Enabled, &m.AutoRemediate)
		return dm, err
	})
	if sqlState(err) == codeCheckViolation {
		return nil, ErrMonitorNeedsPackage
	}
	if err != nil {
		return nil, fmt.Errorf("patch monitoring: %w", err)
	}
	return out, nil
}

// Monitoring reads one device's settings, or persistence.ErrNotFound.
func (d *Devices) Monitoring(ctx context.Context, id uuid.UUID) (persistence.Monitoring, error) {
	var m persistence.Monitoring
	err := d.pool.QueryRow(ctx, `
		SELECT monitored_package, monitor_display_name, monitor_threshold_min, monitor_enabled, auto_remediate
		FROM devices WHERE id = $1`, id).
		Scan(&m.Package, &m.DisplayName, &m.ThresholdMin, &m.Enabled, &m.AutoRemediate)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, persistence.ErrNotFound
	}
	if err != nil {
		return m, fmt.Errorf("read monitoring: %w", err)
	}
	return m, nil
}
