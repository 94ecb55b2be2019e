package ota

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/agent/client"
)

// releaseServer plays the server's side of GET /v1/agent/update, the
// update events and a device-authenticated download that honours Range,
// as DESIGN.md specifies them; the server's own endpoints come with the
// APK registry.
type releaseServer struct {
	*httptest.Server
	mu       sync.Mutex
	offer    *client.UpdateOffer
	file     []byte
	cutAfter int // the first download breaks after this many bytes
	ranges   []string
	events   []string
}

func newReleaseServer(t *testing.T, file []byte) *releaseServer {
	rs := &releaseServer{file: file}
	sum := sha256.Sum256(file)
	rs.offer = &client.UpdateOffer{ReleaseID: "rel-1", VersionCode: 42, URL: "/v1/agent/download/rel-1",
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(file))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/agent/update", func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer dev-token" {
			w.WriteHeader(401)
			return
		}
		if rs.offer == nil {
			w.WriteHeader(204)
			return
		}
		json.NewEncoder(w).Encode(rs.offer)
	})
	mux.HandleFunc("POST /v1/agent/update-events", func(w http.ResponseWriter, r *http.Request) {
		var e client.UpdateEvent
		json.NewDecoder(r.Body).Decode(&e)
		rs.mu.Lock()
		rs.events = append(rs.events, e.Event)
		rs.mu.Unlock()
		w.WriteHeader(202)
	})
	mux.HandleFunc("GET /v1/agent/download/rel-1", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "Bearer dev-token", r.Header.Get("Authorization"))
		rs.mu.Lock()
		rs.ranges = append(rs.ranges, r.Header.Get("Range"))
		cut := rs.cutAfter
		rs.cutAfter = 0
		rs.mu.Unlock()
		if cut > 0 {
			w.Header().Set("Content-Length", "999999")
			w.Write(rs.file[:cut])
			panic(http.ErrAbortHandler) // the connection drops mid-file
		}
		http.ServeContent(w, r, "agent", time.Time{}, bytes.NewReader(rs.file))
	})
	rs.Server = httptest.NewServer(mux)
	t.Cleanup(rs.Close)
	return rs
}

func (rs *releaseServer) seen() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.events...)
}

func newUpdater(t *testing.T, rs *releaseServer, dev Device) (*Updater, string, *int) {
	exe := filepath.Join(t.TempDir(), "nexmdm-agent")
	require.NoError(t, os.WriteFile(exe, []byte("old binary"), 0o755))
	installs := new(int)
	return &Updater{
		Client:    client.New(&client.HTTPTransport{BaseURL: rs.URL}),
		BaseURL:   rs.URL,
		HTTP:      rs.Client(),
		Token:     func() string { return "dev-token" },
		Dir:       filepath.Join(t.TempDir(), "updates"),
		Platform:  Linux{Executable: exe},
		Device:    func(context.Context) Device { return dev },
		Now:       time.Now,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Installed: func(*client.UpdateOffer) { *installs++ },
	}, exe, installs
}

func TestNoOfferIsNothingToDo(t *testing.T) {
	rs := newReleaseServer(t, []byte("x"))
	rs.offer = nil
	u, _, _ := newUpdater(t, rs, Device{})
	out, err := u.Check(context.Background())
	require.NoError(t, err)
	assert.Equal(t, NothingToDo, out)
	assert.Empty(t, rs.seen())
}

func TestAnInterruptedDownloadResumesAndTheBinaryIsReplaced(t *testing.T) {
	file := bytes.Repeat([]byte("new binary "), 10000)
	rs := newReleaseServer(t, file)
	rs.cutAfter = 40000
	u, exe, installs := newUpdater(t, rs, Device{OnWifi: true})

	out, err := u.Check(context.Background())
	assert.Equal(t, Failed, out, "the first download breaks")
	assert.ErrorContains(t, err, "resumes next time")
	out, err = u.Check(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Installed, out)

	assert.Equal(t, []string{"", "bytes=40000-"}, rs.ranges, "the second download asks only for the rest")
	got, err := os.ReadFile(exe)
	require.NoError(t, err)
	assert.Equal(t, file, got)
	info, err := os.Stat(exe)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), info.Mode().Perm())
	assert.Equal(t, 1, *installs)
	assert.Equal(t, []string{"offered", "download_started", "failed", "download_started", "downloaded", "verified", "installing", "installed"}, rs.seen())
}

func TestAFileThatDoesNotMatchItsSHA256IsNeverInstalled(t *testing.T) {
	rs := newReleaseServer(t, []byte("tampered"))
	rs.offer.SHA256 = strings.Repeat("ab", 32)
	u, exe, installs := newUpdater(t, rs, Device{})
	out, err := u.Check(context.Background())
	assert.Equal(t, Failed, out)
	assert.ErrorContains(t, err, "the offer says")
	got, _ := os.ReadFile(exe)
	assert.Equal(t, "old binary", string(got))
	assert.Zero(t, *installs)
	entries, _ := os.ReadDir(u.Dir)
	assert.Empty(t, entries, "the bad file is not kept for resuming")
	assert.Equal(t, []string{"offered", "download_started", "failed"}, rs.seen())
}

func TestConditionsDeferTheUpdate(t *testing.T) {
	low := 20
	cases := map[string]struct {
		offer func(*client.UpdateOffer)
		dev   Device
	}{
		"Wi-Fi only on cellular":    {func(o *client.UpdateOffer) { o.WifiOnly = true }, Device{}},
		"battery below the minimum": {func(o *client.UpdateOffer) { o.MinBatteryPct = 30 }, Device{BatteryPct: &low}},
		"battery unknown":           {func(o *client.UpdateOffer) { o.MinBatteryPct = 30 }, Device{}},
		"in a call":                 {func(o *client.UpdateOffer) { o.NotInCall = true }, Device{InCall: true}},
	}
	for name, c := range cases {
		rs := newReleaseServer(t, []byte("x"))
		c.offer(rs.offer)
		u, _, installs := newUpdater(t, rs, c.dev)
		out, err := u.Check(context.Background())
		require.NoError(t, err, name)
		assert.Equal(t, Deferred, out, name)
		assert.Zero(t, *installs, name)
		assert.Equal(t, []string{"offered", "deferred"}, rs.seen(), name)
	}

	rs := newReleaseServer(t, []byte("x"))
	rs.offer.MinBatteryPct = 30
	u, _, _ := newUpdater(t, rs, Device{BatteryPct: &low, Charging: true})
	out, err := u.Check(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Installed, out, "a charger stands in for battery")
}

func TestSignerDigestIsReadFromApksigner(t *testing.T) {
	out := []byte("Signer #1 certificate DN: CN=NexMDM, O=NexMDM\n" +
		"Signer #1 certificate SHA-256 digest: 3f2a5b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a\n" +
		"Signer #1 certificate SHA-1 digest: 0123456789abcdef0123456789abcdef01234567\n")
	assert.NoError(t, matchSigner(out, "3F:2A:5B:0C:9D:8E:7F:6A:5B:4C:3D:2E:1F:0A:9B:8C:7D:6E:5F:4A:3B:2C:1D:0E:9F:8A:7B:6C:5D:4E:3F:2A"))
	assert.ErrorContains(t, matchSigner(out, strings.Repeat("00", 32)), "the offer expects")
	assert.Error(t, matchSigner([]byte("DOES NOT VERIFY"), "aa"))
}
