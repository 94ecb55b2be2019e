package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nexmdm/nexmdm/persistence"
)

// UpdateEvent is one step a device reports while it updates.
type UpdateEvent struct {
	ReleaseID   uuid.UUID
	DeviceID    uuid.UUID
	Event       string
	VersionCode int
	Message     string
	DeviceAt    time.Time
	ReceivedAt  time.Time
}

// UpdateEventNames are the steps devices report, in install order.
var UpdateEventNames = []string{"offered", "deferred", "download_started", "downloaded", "verified", "installing", "installed", "failed"}

// RecordUpdateEvent stores a device's step. persistence.ErrNotFound: no
// such release.
func (s *Releases) RecordUpdateEvent(ctx context.Context, e UpdateEvent) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO update_events (release_id, device_id, event, version_code, message, device_at, received_at)
		SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM releases WHERE id = $1)`,
		e.ReleaseID, e.DeviceID, e.Event, e.VersionCode, e.Message, e.DeviceAt, e.ReceivedAt)
	if err != nil {
		return fmt.Errorf("record update event: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return persistence.ErrNotFound
	}
	return nil
}

// Failures counts, for a release, the devices that started installing it
// and those whose latest step is a failure: the auto-pause rule's inputs.
func (s *Releases) Failures(ctx context.Context, release uuid.UUID) (attempted, failed int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE event = 'failed') FROM (
			SELECT DISTINCT ON (device_id) event FROM update_events
			WHERE release_id = $1 AND event NOT IN ('offered', 'deferred')
			ORDER BY device_id, received_at DESC, id DESC) latest`, release).Scan(&attempted, &failed)
	return attempted, failed, err
}

// Adoption is how a release is being taken up.
type Adoption struct {
	States   map[string]int  `json:"states"`   // devices by their latest step
	Timeline []AdoptionPoint `json:"timeline"` // per hour
}

// AdoptionPoint is an hour's installs and failures.
type AdoptionPoint struct {
	Hour      time.Time `json:"hour"`
	Installed int       `json:"installed"`
	Failed    int       `json:"failed"`
}

// Adoption reads a release's adoption: states per device, and installs
// and failures per hour.
func (s *Releases) Adoption(ctx context.Context, release uuid.UUID) (Adoption, error) {
	a := Adoption{States: map[string]int{}, Timeline: []AdoptionPoint{}}
	rows, err := s.pool.Query(ctx, `SELECT event, count(*) FROM (
			SELECT DISTINCT ON (device_id) event FROM update_events WHERE release_id = $1
			ORDER BY device_id, received_at DESC, id DESC) latest GROUP BY event`, release)
	if err != nil {
		return a, err
	}
	for rows.Next() {
		var ev string
		var n int
		if err := rows.Scan(&ev, &n); err != nil {
			rows.Close()
			return a, err
		}
		a.States[ev] = n
	}
	rows.Close()
	rows, err = s.pool.Query(ctx, `SELECT date_trunc('hour', received_at) AS hour,
			count(*) FILTER (WHERE event = 'installed'), count(*) FILTER (WHERE event = 'failed')
		FROM update_events WHERE release_id = $1 AND event IN ('installed', 'failed') GROUP BY 1 ORDER BY 1`, release)
	if err != nil {
		return a, err
	}
	for rows.Next() {
		var p AdoptionPoint
		if err := rows.Scan(&p.Hour, &p.Installed, &p.Failed); err != nil {
			rows.Close()
			return a, err
		}
		a.Timeline = append(a.Timeline, p)
	}
	return a, rows.Err()
}

// VersionSample is how many devices ran a version at a time.
type VersionSample struct {
	At          time.Time `json:"at"`
	VersionCode int       `json:"version_code"`
	Devices     int       `json:"devices"`
}

// RecordVersions stores one sample of the fleet's versions and drops
// samples older than keep.
func (s *Releases) RecordVersions(ctx context.Context, samples []VersionSample, keep time.Duration) error {
	if len(samples) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, v := range samples {
		b.Queue(`INSERT INTO agent_version_samples (at, version_code, devices) VALUES ($1, $2, $3)
			ON CONFLICT (at, version_code) DO UPDATE SET devices = EXCLUDED.devices`, v.At, v.VersionCode, v.Devices)
	}
	b.Queue(`DELETE FROM agent_version_samples WHERE at < $1`, samples[0].At.Add(-keep))
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record version samples: %w", err)
	}
	return nil
}

// VersionHistory returns the samples since a time, oldest first.
func (s *Releases) VersionHistory(ctx context.Context, since time.Time) ([]VersionSample, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, version_code, devices FROM agent_version_samples
		WHERE at >= $1 ORDER BY at, version_code`, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []VersionSample{}
	for rows.Next() {
		var v VersionSample
		if err := rows.Scan(&v.At, &v.VersionCode, &v.Devices); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
