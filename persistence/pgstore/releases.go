package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nexmdm/nexmdm/persistence"
)

// Releases keeps OTA releases and what devices report while they update.
type Releases struct{ pool *pgxpool.Pool }

// NewReleases returns the repository on pool.
func NewReleases(pool *pgxpool.Pool) *Releases { return &Releases{pool: pool} }

// Release statuses.
const (
	ReleaseDraft      = "draft"
	ReleaseActive     = "active"
	ReleasePaused     = "paused"
	ReleaseSuperseded = "superseded"
	ReleaseRolledBack = "rolled_back"
)

// ErrReleaseState is an operation the release's status does not allow.
var ErrReleaseState = errors.New("the release's status does not allow this")

// ReleaseRecord is a release with the facts of its build.
type ReleaseRecord struct {
	ID                  uuid.UUID
	BuildID             uuid.UUID
	Channel             string
	Status              string
	RolloutPercent      int
	WifiOnly            bool
	MinBatteryPct       int
	NotInCall           bool
	FailureThresholdPct int
	FailureMinDevices   int
	RollbackOf          *uuid.UUID
	AllowDowngrade      bool
	PausedReason        string
	CreatedBy           string
	CreatedAt           time.Time
	PromotedAt          *time.Time
	UpdatedAt           time.Time

	Package     string
	VersionCode int
	VersionName string
	SHA256      string
	Signer      string
	Size        int64 // 0 until the build is uploaded
}

// Uploaded reports whether the build's file is in the blob store.
func (r *ReleaseRecord) Uploaded() bool { return r.Size > 0 }

const releaseColumns = `r.id, r.build_id, r.channel, r.status, r.rollout_percent, r.wifi_only, r.min_battery_pct,
	r.not_in_call, r.failure_threshold_pct, r.failure_min_devices, r.rollback_of, r.allow_downgrade, r.paused_reason,
	r.created_by, r.created_at, r.promoted_at, r.updated_at,
	b.package, b.version_code, b.version_name, b.sha256, b.signer_fingerprint, coalesce(b.size_bytes, 0)`

const releaseFrom = ` FROM releases r JOIN apk_builds b ON b.id = r.build_id`

func scanRelease(row pgx.Row) (ReleaseRecord, error) {
	var r ReleaseRecord
	err := row.Scan(&r.ID, &r.BuildID, &r.Channel, &r.Status, &r.RolloutPercent, &r.WifiOnly, &r.MinBatteryPct,
		&r.NotInCall, &r.FailureThresholdPct, &r.FailureMinDevices, &r.RollbackOf, &r.AllowDowngrade, &r.PausedReason,
		&r.CreatedBy, &r.CreatedAt, &r.PromotedAt, &r.UpdatedAt,
		&r.Package, &r.VersionCode, &r.VersionName, &r.SHA256, &r.Signer, &r.Size)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, persistence.ErrNotFound
	}
	return r, err
}

// BuildChannel is the channel of a build, and whether its file is
// uploaded: a release is made only from an uploaded build, for its channel.
func (s *Releases) BuildChannel(ctx context.Context, build uuid.UUID) (channel string, uploaded bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT channel, blob_key IS NOT NULL FROM apk_builds WHERE id = $1`, build).Scan(&channel, &uploaded)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, persistence.ErrNotFound
	}
	return channel, uploaded, err
}

// Create stores a draft release.
func (s *Releases) Create(ctx context.Context, r ReleaseRecord) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO releases (id, build_id, channel, status, rollout_percent, wifi_only,
		min_battery_pct, not_in_call, failure_threshold_pct, failure_min_devices, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
		r.ID, r.BuildID, r.Channel, r.RolloutPercent, r.WifiOnly, r.MinBatteryPct, r.NotInCall,
		r.FailureThresholdPct, r.FailureMinDevices, r.CreatedBy, r.CreatedAt)
	if err != nil {
		return fmt.Errorf("create release: %w", err)
	}
	return nil
}

// Get reads a release, or persistence.ErrNotFound.
func (s *Releases) Get(ctx context.Context, id uuid.UUID) (ReleaseRecord, error) {
	return scanRelease(s.pool.QueryRow(ctx, `SELECT `+releaseColumns+releaseFrom+` WHERE r.id = $1`, id))
}

// List returns releases, newest first, of one channel or of all ("").
func (s *Releases) List(ctx context.Context, channel string, limit int) ([]ReleaseRecord, error) {
	return s.query(ctx, `SELECT `+releaseColumns+releaseFrom+` WHERE ($1 = '' OR r.channel = $1)
		ORDER BY r.created_at DESC, r.id DESC LIMIT $2`, channel, limit)
}

// Current returns each channel's current release (active or paused).
func (s *Releases) Current(ctx context.Context) ([]ReleaseRecord, error) {
	return s.query(ctx, `SELECT `+releaseColumns+releaseFrom+` WHERE r.status IN ('active', 'paused')`)
}

func (s *Releases) query(ctx context.Context, sql string, args ...any) ([]ReleaseRecord, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReleaseRecord, error) { return scanRelease(r) })
}

// lockRelease reads a release for update within tx, checking its status.
func lockRelease(ctx context.Context, tx pgx.Tx, id uuid.UUID, allowed ...string) (ReleaseRecord, error) {
	r, err := scanRelease(tx.QueryRow(ctx, `SELECT `+releaseColumns+releaseFrom+` WHERE r.id = $1 FOR UPDATE OF r`, id))
	if err != nil {
		return r, err
	}
	for _, st := range allowed {
		if r.Status == st {
			return r, nil
		}
	}
	return r, fmt.Errorf("%w: it is %s", ErrReleaseState, r.Status)
}

// Promote makes a draft the channel's current release; the one it replaces
// becomes superseded. It returns the release before the change.
func (s *Releases) Promote(ctx context.Context, id uuid.UUID, at time.Time) (ReleaseRecord, error) {
	var before ReleaseRecord
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if before, err = lockRelease(ctx, tx, id, ReleaseDraft); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE releases SET status = 'superseded', updated_at = $2
			WHERE channel = $1 AND status IN ('active', 'paused')`, before.Channel, at); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE releases SET status = 'active', promoted_at = $2, updated_at = $2 WHERE id = $1`, id, at)
		return err
	})
	return before, err
}

// SetPercent changes the rollout percent of a release that is not over,
// returning it as it was.
func (s *Releases) SetPercent(ctx context.Context, id uuid.UUID, percent int, at time.Time) (ReleaseRecord, error) {
	var before ReleaseRecord
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if before, err = lockRelease(ctx, tx, id, ReleaseDraft, ReleaseActive, ReleasePaused); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE releases SET rollout_percent = $2, updated_at = $3 WHERE id = $1`, id, percent, at)
		return err
	})
	return before, err
}

// SetPaused pauses an active release (with a reason) or resumes a paused one.
func (s *Releases) SetPaused(ctx context.Context, id uuid.UUID, paused bool, reason string, at time.Time) (ReleaseRecord, error) {
	from, to := ReleaseActive, ReleasePaused
	if !paused {
		from, to, reason = ReleasePaused, ReleaseActive, ""
	}
	var before ReleaseRecord
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if before, err = lockRelease(ctx, tx, id, from); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE releases SET status = $2, paused_reason = $3, updated_at = $4 WHERE id = $1`, id, to, reason, at)
		return err
	})
	return before, err
}

// Rollback stops a current release and makes the channel's previous
// release current again, for every device (100%), allowing a downgrade
// only when asked. It returns the restored release's id, or nil when the
// channel had none before.
func (s *Releases) Rollback(ctx context.Context, id uuid.UUID, downgrade bool, at time.Time) (*uuid.UUID, error) {
	var restored *uuid.UUID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := lockRelease(ctx, tx, id, ReleaseActive, ReleasePaused)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE releases SET status = 'rolled_back', updated_at = $2 WHERE id = $1`, id, at); err != nil {
			return err
		}
		var prev uuid.UUID
		err = tx.QueryRow(ctx, `SELECT id FROM releases WHERE channel = $1 AND status = 'superseded' AND promoted_at < $2
			ORDER BY promoted_at DESC LIMIT 1`, r.Channel, r.PromotedAt).Scan(&prev)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		restored = &prev
		_, err = tx.Exec(ctx, `UPDATE releases SET status = 'active', rollback_of = $2, allow_downgrade = $3,
			rollout_percent = 100, paused_reason = '', updated_at = $4 WHERE id = $1`, prev, id, downgrade, at)
		return err
	})
	return restored, err
}

// BuildFile is what a device needs to fetch and check an uploaded build.
type BuildFile struct {
	Package     string
	VersionCode int
	SHA256      string
	Size        int64
}

// UploadedBuild reads an uploaded build's file facts; persistence.ErrNotFound
// when there is no such build or its file is not uploaded yet.
func (s *Releases) UploadedBuild(ctx context.Context, id uuid.UUID) (BuildFile, error) {
	var f BuildFile
	err := s.pool.QueryRow(ctx, `SELECT package, version_code, sha256, size_bytes FROM apk_builds
		WHERE id = $1 AND blob_key IS NOT NULL`, id).Scan(&f.Package, &f.VersionCode, &f.SHA256, &f.Size)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, persistence.ErrNotFound
	}
	return f, err
}
