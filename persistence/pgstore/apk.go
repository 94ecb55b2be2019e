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

// APKs is the APK registry: builds CI registered and uploaded
// (apk_builds), and who downloaded them (apk_download_events).
type APKs struct{ pool *pgxpool.Pool }

// NewAPKs returns the repository on pool.
func NewAPKs(pool *pgxpool.Pool) *APKs { return &APKs{pool: pool} }

// Errors of the APK registry.
var (
	// ErrBuildExists means a build of the same package, channel and
	// version code is already registered.
	ErrBuildExists = errors.New("build already registered")
	// ErrBuildInUse means a release references the build, so it stays.
	ErrBuildInUse = errors.New("build is used by a release")
	// ErrAlreadyUploaded means the build already has its file.
	ErrAlreadyUploaded = errors.New("build already uploaded")
)

// APKBuild is a registered build. It is uploaded once BlobKey is set.
type APKBuild struct {
	ID                uuid.UUID
	Package           string
	VersionCode       int32
	VersionName       string
	SHA256            string // 64 lowercase hex
	SignerFingerprint string
	Channel           string
	GitSHA            string
	CIRunURL          string
	SizeBytes         *int64
	BlobKey           *string // apk/<sha256> in the blob store
	UploadedAt        *time.Time
	RegisteredBy      string
	RegisteredAt      time.Time
}

// Uploaded tells whether the build's file is in the blob store.
func (b *APKBuild) Uploaded() bool { return b.BlobKey != nil }

const apkColumns = `id, package, version_code, version_name, sha256, signer_fingerprint, channel,
	git_sha, ci_run_url, size_bytes, blob_key, uploaded_at, registered_by, registered_at`

func scanAPK(row pgx.CollectableRow) (APKBuild, error) {
	var b APKBuild
	err := row.Scan(&b.ID, &b.Package, &b.VersionCode, &b.VersionName, &b.SHA256, &b.SignerFingerprint, &b.Channel,
		&b.GitSHA, &b.CIRunURL, &b.SizeBytes, &b.BlobKey, &b.UploadedAt, &b.RegisteredBy, &b.RegisteredAt)
	return b, err
}

// Register stores a new build, not yet uploaded: ErrBuildExists when its
// package, channel and version code are taken.
func (r *APKs) Register(ctx context.Context, b *APKBuild) error {
	_, err := r.pool.Exec(ctx, `
		INSERT INTO apk_builds (id, package, version_code, version_name, sha256, signer_fingerprint, channel,
			git_sha, ci_run_url, registered_by, registered_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		b.ID, b.Package, b.VersionCode, b.VersionName, b.SHA256, b.SignerFingerprint, b.Channel,
		b.GitSHA, b.CIRunURL, b.RegisteredBy, b.RegisteredAt)
	if sqlState(err) == codeUniqueViolation {
		return ErrBuildExists
	}
	if err != nil {
		return fmt.Errorf("register build: %w", err)
	}
	return nil
}

// Get reads a build, or persistence.ErrNotFound.
func (r *APKs) Get(ctx context.Context, id uuid.UUID) (APKBuild, error) {
	rows, err := r.pool.Query(ctx, `SELECT `+apkColumns+` FROM apk_builds WHERE id = $1`, id)
	if err != nil {
		return APKBuild{}, fmt.Errorf("get build: %w", err)
	}
	b, err := pgx.CollectExactlyOneRow(rows, scanAPK)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, persistence.ErrNotFound
	}
	if err != nil {
		return b, fmt.Errorf("get build: %w", err)
	}
	return b, nil
}

// MarkUploaded records that the build's file is stored under key:
// persistence.ErrNotFound when the build is gone, ErrAlreadyUploaded when
// another upload came first.
func (r *APKs) MarkUploaded(ctx context.Context, id uuid.UUID, size int64, key string, at time.Time) (APKBuild, error) {
	rows, err := r.pool.Query(ctx, `
		UPDATE apk_builds SET size_bytes = $2, blob_key = $3, uploaded_at = $4
		WHERE id = $1 AND blob_key IS NULL
		RETURNING `+apkColumns, id, size, key, at)
	if err != nil {
		return APKBuild{}, fmt.Errorf("mark build uploaded: %w", err)
	}
	b, err := pgx.CollectExactlyOneRow(rows, scanAPK)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := r.Get(ctx, id); err != nil {
			return b, err
		}
		return b, ErrAlreadyUploaded
	}
	if err != nil {
		return b, fmt.Errorf("mark build uploaded: %w", err)
	}
	return b, nil
}

// APKQuery filters a listing of builds, newest first; zero values match
// every build.
type APKQuery struct {
	Package     string
	Channel     string
	VersionCode int32
	Uploaded    *bool
	Before      *APKCursor // the last build of the previous page
	Limit       int
}

// APKCursor is the position after the last build of a page.
type APKCursor struct {
	RegisteredAt time.Time `json:"t"`
	ID           uuid.UUID `json:"id"`
}

// List pages through builds newest first.
func (r *APKs) List(ctx context.Context, q APKQuery) ([]APKBuild, error) {
	var beforeAt *time.Time
	var beforeID *uuid.UUID
	if q.Before != nil {
		beforeAt, beforeID = &q.Before.RegisteredAt, &q.Before.ID
	}
	rows, err := r.pool.Query(ctx, `SELECT `+apkColumns+` FROM apk_builds
		WHERE ($1 = '' OR package = $1) AND ($2 = '' OR channel = $2) AND ($3 = 0 OR version_code = $3)
		  AND ($4::boolean IS NULL OR (blob_key IS NOT NULL) = $4)
		  AND ($5::timestamptz IS NULL OR (registered_at, id) < ($5, $6::uuid))
		ORDER BY registered_at DESC, id DESC LIMIT $7`,
		q.Package, q.Channel, q.VersionCode, q.Uploaded, beforeAt, beforeID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list builds: %w", err)
	}
	builds, err := pgx.CollectRows(rows, scanAPK)
	if err != nil {
		return nil, fmt.Errorf("list builds: %w", err)
	}
	return builds, nil
}

// Delete removes a build and its download events, and returns it with
// whether another build has the same SHA-256 (and so the same blob):
// persistence.ErrNotFound when there is no such build, ErrBuildInUse when a
// release references it.
func (r *APKs) Delete(ctx context.Context, id uuid.UUID) (b APKBuild, shared bool, err error) {
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM apk_builds WHERE id = $1 RETURNING `+apkColumns, id)
		if err != nil {
			return err
		}
		if b, err = pgx.CollectExactlyOneRow(rows, scanAPK); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM apk_builds WHERE sha256 = $1)`, b.SHA256).Scan(&shared)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return b, false, persistence.ErrNotFound
	case sqlState(err) == codeForeignKeyViolation:
		return b, false, ErrBuildInUse
	case err != nil:
		return b, false, fmt.Errorf("delete build: %w", err)
	}
	return b, shared, nil
}

// SHA256InUse tells whether any build has the SHA-256, so that its blob
// must stay.
func (r *APKs) SHA256InUse(ctx context.Context, sha string) (bool, error) {
	var used bool
	err := r.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM apk_builds WHERE sha256 = $1)`, sha).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("builds of a sha256: %w", err)
	}
	return used, nil
}

// Download sources.
const (
	DownloadAdmin      = "admin"
	DownloadDevice     = "device"
	DownloadEnrollment = "enrollment"
)

// Download is one download of a build: who asked (Source and Actor), the
// first byte asked for and how many bytes were sent.
type Download struct {
	BuildID    uuid.UUID
	Source     string // DownloadAdmin, DownloadDevice or DownloadEnrollment
	Actor      string
	RangeStart int64
	Bytes      int64
	At         time.Time
}

// RecordDownload stores a download event.
func (r *APKs) RecordDownload(ctx context.Context, d Download) error {
	_, err := r.pool.Exec(ctx, `
		INSERT INTO apk_download_events (build_id, source, actor, range_start, bytes, at)
		VALUES ($1, $2, $3, $4, $5, $6)`, d.BuildID, d.Source, d.Actor, d.RangeStart, d.Bytes, d.At)
	if err != nil {
		return fmt.Errorf("record download: %w", err)
	}
	return nil
}
