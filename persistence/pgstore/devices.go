package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nexmdm/nexmdm/persistence"
)

// Devices is the device repository.
type Devices struct{ pool *pgxpool.Pool }

// NewDevices returns the repository on pool.
func NewDevices(pool *pgxpool.Pool) *Devices { return &Devices{pool: pool} }

// Enrollment is what registering a device writes.
type Enrollment struct {
	NewID            uuid.UUID // used when the serial is new
	Serial           string
	Alias            string
	Model            string
	Manufacturer     string
	AndroidVersion   string
	SDKInt           int32
	AgentVersion     string
	AgentVersionCode int32
	FCMToken         string
	TokenBcrypt      string
	TokenDigest      []byte
	PepperID         string
	HMACKeyID        string
	EnrollKeyID      *uuid.UUID // the API key it registered with; nil: the admin key or a user
}

// Enrolled is the outcome of Enroll.
type Enrolled struct {
	ID            uuid.UUID
	Created       bool      // false: the serial was enrolled before and keeps its id
	EnrolledAt    time.Time // first enrollment of the serial
	RevokedDigest []byte    // the replaced token's digest, on re-enrollment
}

// Enroll inserts a device, or re-enrolls its serial: the id stays, the facts
// are refreshed and the token is replaced, which revokes the old one.
func (d *Devices) Enroll(ctx context.Context, e Enrollment) (Enrolled, error) {
	var out Enrolled
	err := d.pool.QueryRow(ctx, `
		INSERT INTO devices AS d (id, serial, alias, model, manufacturer, android_version, sdk_int,
			agent_version, agent_version_code, fcm_token, token_bcrypt, token_digest,
			token_pepper_id, hmac_key_id, enroll_key_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (serial) DO UPDATE SET
			alias = EXCLUDED.alias, model = EXCLUDED.model, manufacturer = EXCLUDED.manufacturer,
			android_version = EXCLUDED.android_version, sdk_int = EXCLUDED.sdk_int,
			agent_version = EXCLUDED.agent_version, agent_version_code = EXCLUDED.agent_version_code,
			fcm_token = EXCLUDED.fcm_token, token_bcrypt = EXCLUDED.token_bcrypt,
			token_digest = EXCLUDED.token_digest, token_pepper_id = EXCLUDED.token_pepper_id,
			revoked_token_digest = d.token_digest, hmac_key_id = EXCLUDED.hmac_key_id,
			enroll_key_id = EXCLUDED.enroll_key_id, token_rotated_at = now()
		RETURNING id, (xmax = 0), revoked_token_digest, enrolled_at`,
		e.NewID, e.Serial, e.Alias, e.Model, e.Manufacturer, e.AndroidVersion, e.SDKInt,
		e.AgentVersion, e.AgentVersionCode, e.FCMToken, e.TokenBcrypt, e.TokenDigest,
		e.PepperID, e.HMACKeyID, e.EnrollKeyID,
	).Scan(&out.ID, &out.Created, &out.RevokedDigest, &out.EnrolledAt)
	if err != nil {
		return Enrolled{}, fmt.Errorf("enroll device: %w", err)
	}
	return out, nil
}

// Registration is a device's latest registration, as an enrollment
// script's last step checks it.
type Registration struct {
	DeviceID     uuid.UUID  `json:"device_id"`
	Alias        string     `json:"alias"`
	Serial       string     `json:"serial"`
	EnrollKeyID  *uuid.UUID `json:"-"`
	RegisteredAt time.Time  `json:"registered_at"`
	LastSeen     *time.Time `json:"last_seen"` // the last stored heartbeat's arrival
}

// RegistrationBySerial reads the registration of the device with serial,
// or persistence.ErrNotFound.
func (d *Devices) RegistrationBySerial(ctx context.Context, serial string) (Registration, error) {
	var r Registration
	err := d.pool.QueryRow(ctx, `
		SELECT d.id, d.alias, d.serial, d.enroll_key_id, d.token_rotated_at, s.received_at
		FROM devices d LEFT JOIN device_last_status s ON s.device_id = d.id
		WHERE d.serial = $1`, serial).Scan(&r.DeviceID, &r.Alias, &r.Serial, &r.EnrollKeyID, &r.RegisteredAt, &r.LastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, persistence.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("read registration: %w", err)
	}
	return r, nil
}

const deviceRecordSQL = `
	SELECT d.id, d.token_digest, d.token_pepper_id, d.token_bcrypt, d.revoked_token_digest,
		d.monitored_package, d.monitor_display_name, d.monitor_threshold_min, d.monitor_enabled,
		d.auto_remediate, d.alias, d.serial, d.model, d.agent_version, d.enrolled_at, d.fcm_token, d.hmac_key_id,
		s.ts, s.received_at, s.battery_pct, s.charging, s.ram_used_mb, s.ram_total_mb,
		s.uptime_s, s.net_type, s.ssid, s.signal_dbm, s.agent_version, s.agent_version_code,
		s.foreground_pkg, s.app_last_foreground, s.power_ok, s.doze_whitelisted,
		s.net_validated, s.queue_depth
	FROM devices d LEFT JOIN device_last_status s ON s.device_id = d.id`

// LoadMany reads the devices of ids that exist, in no particular order,
// with one query for them all.
func (d *Devices) LoadMany(ctx context.Context, ids []uuid.UUID) ([]*persistence.DeviceRecord, error) {
	var recs []*persistence.DeviceRecord
	err := d.each(ctx, func(rec *persistence.DeviceRecord) error {
		recs = append(recs, rec)
		return nil
	}, deviceRecordSQL+` WHERE d.id = ANY($1)`, pgUUIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("load devices: %w", err)
	}
	return recs, nil
}

// Count is the number of enrolled devices.
func (d *Devices) Count(ctx context.Context) (int, error) {
	var n int
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM devices`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count devices: %w", err)
	}
	return n, nil
}

// ForEach streams every device to fn.
func (d *Devices) ForEach(ctx context.Context, fn func(*persistence.DeviceRecord) error) error {
	if err := d.each(ctx, fn, deviceRecordSQL); err != nil {
		return fmt.Errorf("list devices: %w", err)
	}
	return nil
}

// each streams the device records sql selects to fn.
func (d *Devices) each(ctx context.Context, fn func(*persistence.DeviceRecord) error, sql string, args ...any) error {
	rows, err := d.pool.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	sc := newDeviceScan()
	for rows.Next() {
		rec, err := sc.next(rows)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return rows.Err()
}

// deviceScan reads the rows of deviceRecordSQL into records. Its column
// destinations are reused from row to row: as Scan's arguments, made anew
// for each row, they were a slice of 36 and a dozen values on the heap,
// 60 MB of garbage for a restart that loads 100,000 devices.
type deviceScan struct {
	r                    persistence.DeviceRecord
	id                   pgtype.UUID // uuid.UUID scans through its text form
	ts, received         pgtype.Timestamptz
	battery, signal      pgtype.Int2
	ramUsed, ramTotal    pgtype.Int4
	agentCode, queue     pgtype.Int4
	uptime               pgtype.Int8
	charging, powerOK    pgtype.Bool
	doze, netValid       pgtype.Bool
	netType, ssid, agent pgtype.Text
	fgPkg                pgtype.Text
	appFg                []byte
	dest                 []any
}

func newDeviceScan() *deviceScan {
	sc := &deviceScan{}
	r := &sc.r
	sc.dest = []any{&sc.id, &r.TokenDigest, &r.PepperID, &r.TokenBcrypt, &r.RevokedDigest,
		&r.Monitoring.Package, &r.Monitoring.DisplayName, &r.Monitoring.ThresholdMin,
		&r.Monitoring.Enabled, &r.Monitoring.AutoRemediate,
		&r.Facts.Alias, &r.Facts.Serial, &r.Facts.Model, &r.Facts.AgentVersion, &r.Facts.EnrolledAt, &r.Facts.FCMToken, &r.Facts.HMACKeyID,
		&sc.ts, &sc.received, &sc.battery, &sc.charging, &sc.ramUsed, &sc.ramTotal, &sc.uptime, &sc.netType, &sc.ssid,
		&sc.signal, &sc.agent, &sc.agentCode, &sc.fgPkg, &sc.appFg, &sc.powerOK, &sc.doze, &sc.netValid, &sc.queue}
	return sc
}

// next scans the current row into a new record.
func (sc *deviceScan) next(rows pgx.Rows) (*persistence.DeviceRecord, error) {
	sc.r, sc.appFg = persistence.DeviceRecord{}, nil // so that no byte slice is scanned into twice
	if err := rows.Scan(sc.dest...); err != nil {
		return nil, err
	}
	r := new(persistence.DeviceRecord)
	*r = sc.r
	r.ID = sc.id.Bytes
	if !sc.ts.Valid {
		return r, nil
	}
	h := &persistence.Heartbeat{DeviceID: r.ID, TS: sc.ts.Time, ReceivedAt: sc.received.Time}
	set := func(f persistence.Fields, valid bool) {
		if valid {
			h.Has |= f
		}
	}
	h.BatteryPct, h.Charging = sc.battery.Int16, sc.charging.Bool
	h.RAMUsedMB, h.RAMTotalMB, h.UptimeS = sc.ramUsed.Int32, sc.ramTotal.Int32, sc.uptime.Int64
	h.NetType, h.SSID, h.SignalDBm = sc.netType.String, sc.ssid.String, sc.signal.Int16
	h.AgentVersion, h.AgentVersionCode = sc.agent.String, sc.agentCode.Int32
	h.ForegroundPkg, h.AppLastForeground = sc.fgPkg.String, string(sc.appFg)
	h.PowerOK, h.DozeWhitelisted, h.NetValidated = sc.powerOK.Bool, sc.doze.Bool, sc.netValid.Bool
	h.QueueDepth = sc.queue.Int32
	set(persistence.HasBattery, sc.battery.Valid)
	set(persistence.HasCharging, sc.charging.Valid)
	set(persistence.HasRAMUsed, sc.ramUsed.Valid)
	set(persistence.HasRAMTotal, sc.ramTotal.Valid)
	set(persistence.HasUptime, sc.uptime.Valid)
	set(persistence.HasNetType, sc.netType.Valid)
	set(persistence.HasSSID, sc.ssid.Valid)
	set(persistence.HasSignal, sc.signal.Valid)
	set(persistence.HasAgentVersion, sc.agent.Valid)
	set(persistence.HasAgentVersionCode, sc.agentCode.Valid)
	set(persistence.HasForegroundPkg, sc.fgPkg.Valid)
	set(persistence.HasAppLastForeground, sc.appFg != nil)
	set(persistence.HasPowerOK, sc.powerOK.Valid)
	set(persistence.HasDozeWhitelisted, sc.doze.Valid)
	set(persistence.HasNetValidated, sc.netValid.Valid)
	set(persistence.HasQueueDepth, sc.queue.Valid)
	r.Last = h
	return r, nil
}

// Tombstones lists the ids of deleted devices.
func (d *Devices) Tombstones(ctx context.Context) ([]uuid.UUID, error) {
	rows, err := d.pool.Query(ctx, `SELECT device_id FROM device_tombstones`)
	if err != nil {
		return nil, fmt.Errorf("list tombstones: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list tombstones: %w", err)
	}
	return ids, nil
}

// Delete hard-deletes devices, their last status and their commands in one
// transaction and leaves a tombstone for each. It returns the ids that
// existed.
func (d *Devices) Delete(ctx context.Context, ids []uuid.UUID, at time.Time) ([]uuid.UUID, error) {
	var deleted []uuid.UUID
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, deviceDeletes); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			WITH gone AS (DELETE FROM devices WHERE id = ANY($1) RETURNING id, serial)
			INSERT INTO device_tombstones (device_id, serial, deleted_at)
			SELECT id, serial, $2 FROM gone
			ON CONFLICT (device_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at
			RETURNING device_id`, pgUUIDs(ids), at)
		if err != nil {
			return err
		}
		if deleted, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM device_last_status WHERE device_id = ANY($1)`, pgUUIDs(ids))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM commands WHERE device_id = ANY($1)`, pgUUIDs(ids)) // their events cascade
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete devices: %w", err)
	}
	return deleted, nil
}

// deviceDeletes names the advisory lock that Delete holds, so that no
// transaction holding it shared (holdDevices) sees a device that a delete
// then removes before the transaction's rows for it are in.
const deviceDeletes = "nexmdm.devices.delete"

// holdDevices reports which of ids are devices and keeps them so until the
// transaction ends: rows written for them meanwhile (commands, a repaired
// last status) are never left behind by a delete. Without a row lock on
// each device, it adds no WAL, where a key-share lock per device wrote a
// record each and, after a checkpoint, a full image of every page.
func holdDevices(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtext($1))`, deviceDeletes); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT id FROM devices WHERE id = ANY($1)`, pgUUIDs(ids))
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, err
	}
	live := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		live[id] = true
	}
	return live, nil
}

// SetTokenDigest replaces a device's token digest, after its secret was
// verified against the bcrypt hash under a new pepper.
func (d *Devices) SetTokenDigest(ctx context.Context, id uuid.UUID, digest []byte, pepperID string) error {
	tag, err := d.pool.Exec(ctx, `UPDATE devices SET token_digest = $2, token_pepper_id = $3 WHERE id = $1`, id, digest, pepperID)
	if err != nil {
		return fmt.Errorf("set token digest: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return persistence.ErrNotFound
	}
	return nil
}

// SetHMACKeyID records that a device now holds the command key derived
// from master key kid.
func (d *Devices) SetHMACKeyID(ctx context.Context, id uuid.UUID, kid string) error {
	if _, err := d.pool.Exec(ctx, `UPDATE devices SET hmac_key_id = $2 WHERE id = $1`, id, kid); err != nil {
		return fmt.Errorf("set hmac key id: %w", err)
	}
	return nil
}

// ForgetFCMToken clears a device's FCM token after FCM said it is no
// longer registered, unless the device has since sent a new one.
func (d *Devices) ForgetFCMToken(ctx context.Context, id uuid.UUID, token string) error {
	if _, err := d.pool.Exec(ctx, `UPDATE devices SET fcm_token = '' WHERE id = $1 AND fcm_token = $2`, id, token); err != nil {
		return fmt.Errorf("forget fcm token: %w", err)
	}
	return nil
}

// DeviceInfo is what enrollment recorded of a device.
type DeviceInfo struct {
	ID               uuid.UUID
	Serial           string
	Alias            string
	Model            string
	Manufacturer     string
	AndroidVersion   string
	SDKInt           int32
	AgentVersion     string
	AgentVersionCode int32
	FCMRegistered    bool
	HMACKeyID        string
	EnrolledAt       time.Time
	TokenRotatedAt   time.Time
}

// Info reads a device's enrollment facts, or persistence.ErrNotFound.
func (d *Devices) Info(ctx context.Context, id uuid.UUID) (DeviceInfo, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT id, serial, alias, model, manufacturer, android_version, sdk_int, agent_version,
			agent_version_code, fcm_token <> '', hmac_key_id, enrolled_at, token_rotated_at
		FROM devices WHERE id = $1`, id)
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("device info: %w", err)
	}
	info, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (DeviceInfo, error) {
		var i DeviceInfo
		err := row.Scan(&i.ID, &i.Serial, &i.Alias, &i.Model, &i.Manufacturer, &i.AndroidVersion,
			&i.SDKInt, &i.AgentVersion, &i.AgentVersionCode, &i.FCMRegistered, &i.HMACKeyID,
			&i.EnrolledAt, &i.TokenRotatedAt)
		return i, err
	})
	if IsNotFound(err) {
		return DeviceInfo{}, persistence.ErrNotFound
	}
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("device info: %w", err)
	}
	return info, nil
}

// IsNotFound reports whether err means the row does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, persistence.ErrNotFound) || errors.Is(err, pgx.ErrNoRows)
}
