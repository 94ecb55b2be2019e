package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

// apkEnv is a server with its own blob directory, and helpers for the APK
// registry's multipart uploads and binary downloads.
type apkEnv struct {
	api
	e     env
	db    *testenv.DB
	blobs string // the blob directory
}

func newAPKEnv(t *testing.T, maxBytes int) *apkEnv { return newAPKEnvWith(t, maxBytes, nil) }

// newAPKEnvWith sets more of the server's environment.
func newAPKEnvWith(t *testing.T, maxBytes int, more env) *apkEnv {
	t.Helper()
	e, db, _ := newTestEnv(t)
	for k, v := range more {
		e[k] = v
	}
	blobs := t.TempDir()
	e["NEXMDM_BLOB_URL"] = "file://" + blobs
	if maxBytes > 0 {
		e["NEXMDM_APK_MAX_BYTES"] = fmt.Sprint(maxBytes)
	}
	t.Setenv("TMPDIR", t.TempDir()) // where uploads are spooled, to see them cleaned up
	startInProcess(t, e)
	return &apkEnv{api: api{t: t, base: e.url()}, e: e, db: db, blobs: blobs}
}

// apkFixture is a real zip, as an APK is: an AndroidManifest.xml and a
// classes.dex of filler bytes, stored uncompressed so that its size is
// about filler.
func apkFixture(t *testing.T, filler int, manifest bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	if manifest {
		add("AndroidManifest.xml", []byte(`<manifest package="com.nexmdm.agent"/>`))
	}
	dex := make([]byte, filler)
	rnd := rand.New(rand.NewPCG(uint64(filler), 9))
	for i := range dex {
		dex[i] = byte(rnd.Uint32())
	}
	add("classes.dex", dex)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// register registers a build and returns its id.
func (a *apkEnv) register(h map[string]string, pkg string, versionCode int, channel, sha string) answer {
	a.t.Helper()
	return a.do("POST", "/admin/apk/register", h, map[string]any{
		"package": pkg, "version_code": versionCode, "version_name": fmt.Sprintf("1.%d", versionCode),
		"sha256": strings.ToUpper(sha), "signer_fingerprint": strings.Repeat("AB:", 31) + "AB", "channel": channel,
		"git_sha": "0123abcd", "ci_run_url": "https://ci.example.com/runs/42",
	})
}

func (a *apkEnv) registered(pkg string, versionCode int, file []byte) string {
	a.t.Helper()
	r := a.register(adminKeyHeader, pkg, versionCode, "stable", sha256Hex(file))
	require.Equal(a.t, 201, r.status, "%v", r.body)
	return r.body["id"].(string)
}

// upload posts a multipart upload: the build_id field first, or the file
// first. chunked sends it without a Content-Length.
func (a *apkEnv) upload(h map[string]string, buildID string, file []byte, fileFirst, chunked bool) answer {
	a.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	writeFile := func() {
		w, err := mw.CreateFormFile("file", "app-debug.apk")
		require.NoError(a.t, err)
		_, err = w.Write(file)
		require.NoError(a.t, err)
	}
	if fileFirst && file != nil {
		writeFile()
	}
	if buildID != "" {
		require.NoError(a.t, mw.WriteField("build_id", buildID))
	}
	if !fileFirst && file != nil {
		writeFile()
	}
	require.NoError(a.t, mw.Close())
	var rd io.Reader = &body
	if chunked {
		rd = io.MultiReader(&body) // hides the length: the client sends it chunked
	}
	req, err := http.NewRequest("POST", a.base+"/admin/apk/upload", rd)
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return a.send(req, h)
}

func (a *apkEnv) send(req *http.Request, h map[string]string) answer {
	a.t.Helper()
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a.checkDescribed(req.Method, req.URL.RequestURI(), resp, raw)
	out := answer{status: resp.StatusCode, body: map[string]any{}}
	_ = json.Unmarshal(raw, &out.body)
	out.code, _ = out.body["error"].(string)
	return out
}

// download GETs a build's file with an optional Range.
func (a *apkEnv) download(path string, h map[string]string, rng string) (int, http.Header, []byte) {
	a.t.Helper()
	req, err := http.NewRequest("GET", a.base+path, nil)
	require.NoError(a.t, err)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	a.checkDescribed("GET", path, resp, raw)
	return resp.StatusCode, resp.Header, raw
}

// stored says what the registry holds of a build: uploaded or not, and
// whether its blob is in the directory.
func (a *apkEnv) stored(id, sha string) (uploaded, blob bool) {
	a.t.Helper()
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce((SELECT blob_key IS NOT NULL FROM apk_builds WHERE id = $1), false)`, id).Scan(&uploaded))
	_, err := os.Stat(filepath.Join(a.blobs, "apk", sha))
	return uploaded, err == nil
}

// downloads lists a build's recorded downloads as "source actor start bytes".
func (a *apkEnv) downloads(id string) []string {
	a.t.Helper()
	rows, err := a.db.Pool.Query(context.Background(),
		`SELECT source, actor, range_start, bytes FROM apk_download_events WHERE build_id = $1 ORDER BY id`, id)
	require.NoError(a.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var src, actor string
		var start, n int64
		require.NoError(a.t, rows.Scan(&src, &actor, &start, &n))
		out = append(out, fmt.Sprintf("%s %s %d %d", src, actor, start, n))
	}
	return out
}

// checkDownloads downloads the file whole and by ranges, checking bytes
// and headers.
func (a *apkEnv) checkDownloads(path string, h map[string]string, file []byte) {
	t := a.t
	t.Helper()
	sha := sha256Hex(file)
	status, hdr, got := a.download(path, h, "")
	require.Equal(t, 200, status)
	assert.True(t, bytes.Equal(file, got), "the whole file, byte for byte")
	assert.Equal(t, "application/vnd.android.package-archive", hdr.Get("Content-Type"))
	assert.Equal(t, fmt.Sprint(len(file)), hdr.Get("Content-Length"))
	assert.Equal(t, `attachment; filename="com.nexmdm.agent-7.apk"`, hdr.Get("Content-Disposition"))
	assert.Equal(t, `"`+sha+`"`, hdr.Get("ETag"))
	assert.Equal(t, "bytes", hdr.Get("Accept-Ranges"))

	size := len(file)
	for rng, want := range map[string][2]int{"bytes=0-99": {0, 100}, "bytes=100-": {100, size}, "bytes=-10": {size - 10, size}} {
		status, hdr, got := a.download(path, h, rng)
		require.Equal(t, 206, status, rng)
		assert.True(t, bytes.Equal(file[want[0]:want[1]], got), "%s: the bytes of the file", rng)
		assert.Equal(t, fmt.Sprintf("bytes %d-%d/%d", want[0], want[1]-1, size), hdr.Get("Content-Range"), rng)
	}
	status, hdr, _ = a.download(path, h, fmt.Sprintf("bytes=%d-", size))
	assert.Equal(t, 416, status)
	assert.Equal(t, fmt.Sprintf("bytes */%d", size), hdr.Get("Content-Range"))
}

// A build goes through the registry: registered, uploaded, listed, and
// downloaded whole and by range, by an admin and by a device, each
// download recorded.
func TestAPKRegisterUploadListDownload(t *testing.T) {
	a := newAPKEnv(t, 0)
	file := apkFixture(t, 300<<10, true)
	sha := sha256Hex(file)
	id := a.registered("com.nexmdm.agent", 7, file)

	up := a.upload(adminKeyHeader, id, file, false, false)
	require.Equal(t, 200, up.status, "%v", up.body)
	assert.Equal(t, true, up.body["uploaded"])
	assert.EqualValues(t, len(file), up.body["size_bytes"])
	assert.Equal(t, sha, up.body["sha256"], "stored lowercase")
	assert.Equal(t, strings.Repeat("ab", 32), up.body["signer_fingerprint"])
	_, blob := a.stored(id, sha)
	assert.True(t, blob, "the file is in the blob directory as apk/<sha256>")

	list := a.do("GET", "/admin/apk/builds?package=com.nexmdm.agent&channel=stable&uploaded=true&version_code=7", adminKeyHeader, nil)
	require.Equal(t, 200, list.status, "%v", list.body)
	require.Len(t, list.body["items"], 1)
	assert.Equal(t, id, list.body["items"].([]any)[0].(map[string]any)["id"])
	assert.Empty(t, a.do("GET", "/admin/apk/builds?uploaded=false", adminKeyHeader, nil).body["items"])

	a.checkDownloads("/admin/apk/download/"+id, adminKeyHeader, file)
	size := len(file)

	reg, err := newClient(a.base).Register(context.Background(), defaultAdminKey, client.RegisterRequest{Alias: "dl", Serial: "dl-1"})
	require.NoError(t, err)
	status, _, got := a.download("/v1/agent/download/"+id, bearer(reg.DeviceToken), "bytes=1000-")
	require.Equal(t, 206, status)
	assert.True(t, bytes.Equal(file[1000:], got), "a device resumes from byte 1000")
	status, _, _ = a.download("/v1/agent/download/"+id, bearer(reg.DeviceID+"."+strings.Repeat("A", 43)), "")
	assert.Equal(t, 401, status, "a wrong device token")
	status, _, _ = a.download("/v1/agent/download/"+id, adminKeyHeader, "")
	assert.Equal(t, 401, status, "the device route takes device tokens only")

	want := []string{
		fmt.Sprintf("admin admin-key 0 %d", size), "admin admin-key 0 100",
		fmt.Sprintf("admin admin-key 100 %d", size-100), fmt.Sprintf("admin admin-key %d 10", size-10),
		fmt.Sprintf("device %s 1000 %d", reg.DeviceID, size-1000),
	}
	assert.Eventually(t, func() bool { return len(a.downloads(id)) == len(want) }, 5*time.Second, 20*time.Millisecond)
	assert.ElementsMatch(t, want, a.downloads(id), "every download, with its source, actor, first byte and bytes")
	audit := a.do("GET", "/admin/audit?action=apk.upload&target="+id, adminKeyHeader, nil)
	assert.Len(t, audit.body["entries"], 1)
}
