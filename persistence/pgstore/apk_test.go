package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

func newTestBuild(pkg, channel string, vc int32, sha string, at time.Time) *pgstore.APKBuild {
	return &pgstore.APKBuild{ID: uuid.New(), Package: pkg, VersionCode: vc, SHA256: sha, Channel: channel,
		RegisteredBy: "test", RegisteredAt: at}
}

// A build is registered once, uploaded once, and listed by filters and
// pages newest first.
func TestAPKsRegisterUploadList(t *testing.T) {
	db := testenv.Postgres(t)
	apks := pgstore.NewAPKs(db.Pool)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var ids []uuid.UUID
	for i := range 5 {
		b := newTestBuild("com.example.a", "stable", int32(i+1), fmt.Sprintf("%064d", i), t0.Add(time.Duration(i)*time.Minute))
		require.NoError(t, apks.Register(ctx, b))
		ids = append(ids, b.ID)
	}
	dup := newTestBuild("com.example.a", "stable", 1, strings.Repeat("f", 64), t0)
	assert.ErrorIs(t, apks.Register(ctx, dup), pgstore.ErrBuildExists)

	b, err := apks.MarkUploaded(ctx, ids[0], 123, "apk/x", t0)
	require.NoError(t, err)
	assert.True(t, b.Uploaded())
	assert.EqualValues(t, 123, *b.SizeBytes)
	_, err = apks.MarkUploaded(ctx, ids[0], 123, "apk/x", t0)
	assert.ErrorIs(t, err, pgstore.ErrAlreadyUploaded)
	_, err = apks.MarkUploaded(ctx, uuid.New(), 1, "apk/y", t0)
	assert.ErrorIs(t, err, persistence.ErrNotFound)

	yes, no := true, false
	for name, tc := range map[string]struct {
		q    pgstore.APKQuery
		want int
	}{
		"uploaded":     {pgstore.APKQuery{Uploaded: &yes, Limit: 10}, 1},
		"not uploaded": {pgstore.APKQuery{Uploaded: &no, Limit: 10}, 4},
		"version":      {pgstore.APKQuery{VersionCode: 3, Limit: 10}, 1},
		"other":        {pgstore.APKQuery{Channel: "beta", Limit: 10}, 0},
	} {
		got, err := apks.List(ctx, tc.q)
		require.NoError(t, err)
		assert.Len(t, got, tc.want, name)
	}
	page, err := apks.List(ctx, pgstore.APKQuery{Package: "com.example.a", Limit: 3})
	require.NoError(t, err)
	require.Len(t, page, 3)
	assert.Equal(t, ids[4], page[0].ID, "newest first")
	last := page[2]
	rest, err := apks.List(ctx, pgstore.APKQuery{Limit: 3, Before: &pgstore.APKCursor{RegisteredAt: last.RegisteredAt, ID: last.ID}})
	require.NoError(t, err)
	require.Len(t, rest, 2)
	assert.Equal(t, []uuid.UUID{ids[1], ids[0]}, []uuid.UUID{rest[0].ID, rest[1].ID})
}

// Delete tells whether the file is shared, refuses a build a release uses,
// and takes the build's download events along.
func TestAPKsDelete(t *testing.T) {
	db := testenv.Postgres(t)
	apks := pgstore.NewAPKs(db.Pool)
	ctx := context.Background()
	now := time.Now()
	sha := strings.Repeat("a", 64)
	a, b := newTestBuild("com.example.d", "stable", 1, sha, now), newTestBuild("com.example.d", "beta", 1, sha, now)
	require.NoError(t, apks.Register(ctx, a))
	require.NoError(t, apks.Register(ctx, b))
	require.NoError(t, apks.RecordDownload(ctx, pgstore.Download{BuildID: a.ID, Source: pgstore.DownloadAdmin, Actor: "admin-key", Bytes: 10, At: now}))

	_, shared, err := apks.Delete(ctx, a.ID)
	require.NoError(t, err)
	assert.True(t, shared, "b has the same file")
	var events int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM apk_download_events`).Scan(&events))
	assert.Zero(t, events)

	_, err = db.Pool.Exec(ctx, `INSERT INTO releases (id, build_id, channel, status, rollout_percent, created_by, created_at, updated_at)
		VALUES ($1, $2, 'beta', 'draft', 10, 'test', now(), now())`, uuid.New(), b.ID)
	require.NoError(t, err)
	_, _, err = apks.Delete(ctx, b.ID)
	assert.ErrorIs(t, err, pgstore.ErrBuildInUse)
	_, err = db.Pool.Exec(ctx, `DELETE FROM releases`)
	require.NoError(t, err)
	_, shared, err = apks.Delete(ctx, b.ID)
	require.NoError(t, err)
	assert.False(t, shared)
	_, _, err = apks.Delete(ctx, b.ID)
	assert.ErrorIs(t, err, persistence.ErrNotFound)
}
