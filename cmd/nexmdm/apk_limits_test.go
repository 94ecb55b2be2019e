package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An upload over the limit, with a hash that is not the registered one, or
// of a file that is not an APK is refused, and nothing is stored: no blob,
// the build still not uploaded, no temporary file left.
func TestAPKUploadRefusalsStoreNothing(t *testing.T) {
	a := newAPKEnv(t, 64<<10)
	big := apkFixture(t, 100<<10, true)
	bigID := a.registered("com.example.big", 1, big)
	for _, chunked := range []bool{false, true} {
		r := a.upload(adminKeyHeader, bigID, big, false, chunked)
		assert.Equal(t, 413, r.status, "chunked %v: %v", chunked, r.body)
		assert.Equal(t, "apk_too_large", r.code)
		assert.Contains(t, r.body["message"], "65536 bytes")
	}
	uploaded, blob := a.stored(bigID, sha256Hex(big))
	assert.False(t, uploaded || blob, "an upload over the limit stores nothing")

	file, other := apkFixture(t, 10<<10, true), apkFixture(t, 11<<10, true)
	otherID := a.registered("com.example.app", 2, other)
	r := a.upload(adminKeyHeader, otherID, file, false, false)
	assert.Equal(t, 400, r.status)
	assert.Equal(t, "sha256_mismatch", r.code)
	uploaded, blob = a.stored(otherID, sha256Hex(other))
	_, blobOfFile := a.stored(otherID, sha256Hex(file))
	assert.False(t, uploaded || blob || blobOfFile, "a mismatch stores nothing")

	for name, f := range map[string][]byte{"not a zip": bytes.Repeat([]byte("not a zip "), 500), "no manifest": apkFixture(t, 2000, false)} {
		id := a.registered("com.example."+strings.ReplaceAll(name, " ", ""), 3, f)
		r := a.upload(adminKeyHeader, id, f, false, false)
		assert.Equal(t, 400, r.status, name)
		assert.Equal(t, "not_an_apk", r.code, name)
		uploaded, blob := a.stored(id, sha256Hex(f))
		assert.False(t, uploaded || blob, "%s: nothing stored", name)
	}

	spooled, err := os.ReadDir(os.Getenv("TMPDIR"))
	require.NoError(t, err)
	for _, f := range spooled {
		assert.False(t, strings.HasPrefix(f.Name(), "nexmdm-apk-"), "temporary file %s left behind", f.Name())
	}
}

// An upload streams through the server: it holds a few buffers of it at a
// time, never the whole file (the server runs in this process, so the
// test sees what it allocates).
func TestAPKUploadStreamsWithoutBuffering(t *testing.T) {
	a := newAPKEnv(t, 0)
	file := apkFixture(t, 24<<20, true)
	id := a.registered("com.example.stream", 1, file)
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	require.NoError(t, mw.WriteField("build_id", id))
	_, err := mw.CreateFormFile("file", "app.apk")
	require.NoError(t, err)
	prefix := bytes.Clone(head.Bytes())
	head.Reset()
	require.NoError(t, mw.Close())
	body := io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(file), bytes.NewReader(head.Bytes()))
	req, err := http.NewRequest("POST", a.base+"/admin/apk/upload", body)
	require.NoError(t, err)
	req.ContentLength = int64(len(prefix) + len(file) + head.Len())
	req.Header.Set("Content-Type", mw.FormDataContentType())

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := a.send(req, adminKeyHeader)
	runtime.ReadMemStats(&after)
	require.Equal(t, 200, r.status, "%v", r.body)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(len(file)/4), "a %d-byte upload allocated %d bytes", len(file), allocated)
}

// The multipart form is checked field by field, in either order.
func TestAPKUploadFormIsChecked(t *testing.T) {
	a := newAPKEnv(t, 0)
	file := apkFixture(t, 20<<10, true)
	id := a.registered("com.example.form", 1, file)

	cases := []struct {
		name      string
		buildID   string
		file      []byte
		status    int
		code      string
		fileFirst bool
	}{
		{"unknown build", uuid.NewString(), file, 404, "not_found", false},
		{"unknown build, file first", uuid.NewString(), file, 404, "not_found", true},
		{"no build_id", "", file, 400, "missing_field", false},
		{"no file", id, nil, 400, "missing_field", false},
		{"bad build_id", "seven", file, 400, "invalid_field", false},
		{"file first", id, file, 200, "", true},
		{"again", id, file, 409, "already_uploaded", false},
	}
	for _, tc := range cases {
		r := a.upload(adminKeyHeader, tc.buildID, tc.file, tc.fileFirst, false)
		assert.Equal(t, tc.status, r.status, "%s: %v", tc.name, r.body)
		assert.Equal(t, tc.code, r.code, tc.name)
	}
	req, err := http.NewRequest("POST", a.base+"/admin/apk/upload", strings.NewReader(`{"build_id":"`+id+`"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	assert.Equal(t, "not_multipart", a.send(req, adminKeyHeader).code)
}

// An apk:write key (CI's) registers and uploads but neither lists nor
// deletes; a viewer lists but does not register. A package, channel and
// version code are registered once, and every field is checked.
func TestAPKPermissionsAndRegistrationChecks(t *testing.T) {
	a := newAPKEnv(t, 0)
	_, key := a.addKey("ci", "apk:write")
	ci := map[string]string{"X-Admin-Key": key}
	file := apkFixture(t, 4<<10, true)
	reg := a.register(ci, "com.example.ci", 10, "beta", sha256Hex(file))
	require.Equal(t, 201, reg.status, "%v", reg.body)
	assert.Equal(t, "key:ci", reg.body["registered_by"])
	id := reg.body["id"].(string)
	assert.Equal(t, 200, a.upload(ci, id, file, false, false).status)
	assert.Equal(t, 403, a.do("DELETE", "/admin/apk/builds/"+id, ci, nil).status)
	assert.Equal(t, 403, a.do("GET", "/admin/apk/builds", ci, nil).status)

	access, _ := a.login("vic", a.addUser("vic", "viewer"))
	viewer := bearer(access)
	assert.Len(t, a.do("GET", "/admin/apk/builds", viewer, nil).body["items"], 1)
	assert.Equal(t, 403, a.register(viewer, "com.example.ci", 11, "beta", sha256Hex(file)).status)
	status, _, _ := a.download("/admin/apk/download/"+id, viewer, "bytes=0-9")
	assert.Equal(t, 206, status, "a viewer downloads")
	_, enrollKey := a.addKey("enroll", "enroll")
	status, _, _ = a.download("/admin/apk/download/"+id, map[string]string{"X-Admin-Key": enrollKey}, "")
	assert.Equal(t, 403, status, "an enroll key downloads through the enrollment route, not this one")
	status, _, _ = a.download("/v1/enroll/apk/"+id, map[string]string{"X-Admin-Key": enrollKey}, "bytes=0-9")
	assert.Equal(t, 206, status, "the enrollment route")

	dup := a.register(ci, "com.example.ci", 10, "beta", sha256Hex(file))
	assert.Equal(t, 409, dup.status)
	assert.Equal(t, "build_exists", dup.code)
	assert.Equal(t, 201, a.register(ci, "com.example.ci", 10, "stable", sha256Hex(file)).status, "another channel")

	good := map[string]any{"package": "com.example.ok", "version_code": 1, "sha256": sha256Hex(file), "channel": "stable"}
	for field, bad := range map[string]any{
		"package": "not a package", "version_code": 0, "sha256": "abc", "channel": "Beta!",
		"signer_fingerprint": "xyz", "git_sha": "main", "ci_run_url": "ftp://ci.example.com/1", "version_name": "a\nb",
	} {
		body := map[string]any{}
		for k, v := range good {
			body[k] = v
		}
		body[field] = bad
		r := a.do("POST", "/admin/apk/register", ci, body)
		assert.Equal(t, 400, r.status, field)
		assert.Equal(t, field, r.body["field"], "%s: %v", field, r.body)
	}
	missing := a.do("POST", "/admin/apk/register", ci, map[string]any{"package": "com.example.ok", "sha256": sha256Hex(file), "channel": "stable"})
	assert.Equal(t, "missing_field", missing.code)
	assert.Equal(t, "version_code", missing.body["field"])
}

// Deleting a build removes its row and, unless another build has the same
// file, its blob; a build a release uses stays.
func TestAPKDeleteRemovesRowAndBlob(t *testing.T) {
	a := newAPKEnv(t, 0)
	file := apkFixture(t, 8<<10, true)
	sha := sha256Hex(file)
	first := a.registered("com.example.del", 1, file)
	r := a.register(adminKeyHeader, "com.example.del", 1, "beta", sha)
	require.Equal(t, 201, r.status)
	second := r.body["id"].(string)
	for _, id := range []string{first, second} {
		require.Equal(t, 200, a.upload(adminKeyHeader, id, file, false, false).status)
	}

	assert.Equal(t, 204, a.do("DELETE", "/admin/apk/builds/"+first, adminKeyHeader, nil).status)
	_, blob := a.stored(second, sha)
	assert.True(t, blob, "the other build still has the file")
	assert.Len(t, a.do("GET", "/admin/apk/builds", adminKeyHeader, nil).body["items"], 1)

	ctx := context.Background()
	_, err := a.db.Pool.Exec(ctx, `INSERT INTO releases (id, build_id, channel, status, rollout_percent, created_by, created_at, updated_at)
		VALUES ($1, $2, 'beta', 'draft', 10, 'test', now(), now())`, uuid.New(), second)
	require.NoError(t, err)
	r = a.do("DELETE", "/admin/apk/builds/"+second, adminKeyHeader, nil)
	assert.Equal(t, 409, r.status)
	assert.Equal(t, "build_in_release", r.code)
	_, err = a.db.Pool.Exec(ctx, `DELETE FROM releases`)
	require.NoError(t, err)

	assert.Equal(t, 204, a.do("DELETE", "/admin/apk/builds/"+second, adminKeyHeader, nil).status)
	_, blob = a.stored(first, sha)
	assert.False(t, blob, "the last build with the file took it along")
	assert.Empty(t, a.do("GET", "/admin/apk/builds", adminKeyHeader, nil).body["items"])
	assert.Equal(t, 404, a.do("DELETE", "/admin/apk/builds/"+second, adminKeyHeader, nil).status)
	assert.Equal(t, 400, a.do("DELETE", "/admin/apk/builds/seven", adminKeyHeader, nil).status)
	audit := a.do("GET", "/admin/audit?action=apk.delete&result=ok", adminKeyHeader, nil)
	assert.Len(t, audit.body["entries"], 2)
}

// Builds page newest first with signed cursors.
func TestAPKBuildsPage(t *testing.T) {
	a := newAPKEnv(t, 0)
	for v := 1; v <= 5; v++ {
		a.registered("com.example.page", v, []byte(fmt.Sprint(v)))
	}
	var seen []float64
	path := "/admin/apk/builds?package=com.example.page&limit=2"
	for page := 0; page < 3; page++ {
		r := a.do("GET", path, adminKeyHeader, nil)
		require.Equal(t, 200, r.status, "%v", r.body)
		for _, it := range r.body["items"].([]any) {
			seen = append(seen, it.(map[string]any)["version_code"].(float64))
		}
		cur, more := r.body["next_cursor"].(string)
		if !more {
			break
		}
		path = "/admin/apk/builds?package=com.example.page&limit=2&cursor=" + cur
	}
	assert.Equal(t, []float64{5, 4, 3, 2, 1}, seen)
	assert.Equal(t, "invalid_cursor", a.do("GET", "/admin/apk/builds?cursor=abc.def", adminKeyHeader, nil).code)
	assert.Equal(t, "invalid_field", a.do("GET", "/admin/apk/builds?limit=500", adminKeyHeader, nil).code)
}

// Request bodies stream (for uploads), yet every other route keeps its
// limit: a declared length over it is refused before the body is read,
// and a chunked body is read only up to it.
func TestAPKStreamingKeepsOtherBodyLimits(t *testing.T) {
	a := newAPKEnv(t, 0)
	for name, head := range map[string]string{
		"declared 100 MiB": "Content-Length: 104857600\r\n",
		"chunked 8 MiB":    "Transfer-Encoding: chunked\r\n",
	} {
		conn, err := net.Dial("tcp", a.e["NEXMDM_ADDR"])
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		fmt.Fprintf(conn, "POST /admin/commands/bulk HTTP/1.1\r\nHost: nexmdm\r\nX-Admin-Key: %s\r\nContent-Type: application/json\r\n%s\r\n", defaultAdminKey, head)
		go func() { // the client keeps sending; the server stops reading
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for range 128 {
				if strings.HasPrefix(head, "Transfer") {
					fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
				} else if _, err := conn.Write(chunk); err != nil {
					return
				}
			}
		}()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err, name)
		raw, _ := io.ReadAll(resp.Body)
		conn.Close()
		var body map[string]any
		require.NoError(t, json.Unmarshal(raw, &body), "%s: %s", name, raw)
		assert.Equal(t, 413, resp.StatusCode, name)
		assert.Equal(t, "body_too_large", body["error"], name)
	}
}
