package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/persistence/blobstore"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// `nexmdm archive list` and `nexmdm archive restore`: usage errors exit 2,
// an unknown partition 1, a tampered archive 3 and restores nothing.
func TestArchiveCommand(t *testing.T) {
	db := testenv.Postgres(t)
	dir := t.TempDir()
	e := env{"DATABASE_URL": db.URL, "NEXMDM_BLOB_URL": "file://" + dir, "NEXMDM_LOG_LEVEL": "error"}
	ctx := context.Background()
	now := time.Now().UTC()
	old := pgstore.DayOf(now).AddDate(0, 0, -100)
	parts, err := pgstore.NewPartitions(ctx, db.Pool)
	require.NoError(t, err)
	require.NoError(t, parts.EnsureRange(ctx, old, old.Add(24*time.Hour)))
	for _, d := range []time.Time{old, old.Add(24 * time.Hour)} {
		_, err := db.Pool.Exec(ctx, `INSERT INTO heartbeats (device_id, bucket_start, ts, received_at) VALUES ($1, $2, $2, $2)`, uuid.New(), d)
		require.NoError(t, err)
	}
	blobs, err := blobstore.Open(ctx, "file://"+dir)
	require.NoError(t, err)
	defer blobs.Close()
	rep, err := pgstore.NewArchiver(db.Pool, blobs, time.Now, zerolog.Nop(), nil).RunRetention(ctx, 90*24*time.Hour)
	require.NoError(t, err)
	require.Len(t, rep.Dropped, 2)
	first, second := pgstore.PartitionName(old), pgstore.PartitionName(old.Add(24*time.Hour))

	archive := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"archive"}, args...), e.get, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, _ := archive("list")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, first)
	assert.Contains(t, out, "dropped")
	assert.Contains(t, out, "archives/heartbeats/"+second+".csv.gz")

	for _, args := range [][]string{{}, {"restore"}, {"restore", first, "extra"}, {"purge"}} {
		code, _, stderr := archive(args...)
		assert.Equal(t, 2, code, "archive %v", args)
		assert.Contains(t, stderr, "usage:", "archive %v", args)
	}
	code, _, stderr := archive("restore", "heartbeats_p19990101")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no archive of that partition")

	code, out, stderr = archive("restore", first)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "restored "+first+": 1 rows, checksum verified, attached to heartbeats again")
	code, _, stderr = archive("restore", first)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "exists")

	path := filepath.Join(dir, filepath.FromSlash(pgstore.ArchiveKey(second)))
	require.NoError(t, os.WriteFile(path, []byte("not the archive"), 0o600))
	code, _, stderr = archive("restore", second)
	assert.Equal(t, 3, code)
	assert.Contains(t, stderr, "checksum mismatch")
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = $1`, second).Scan(&n))
	assert.Zero(t, n, "a refused restore creates no table")
}
