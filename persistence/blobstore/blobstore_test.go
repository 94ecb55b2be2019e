package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/nexmdm/nexmdm/persistence/blobstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestStore(t *testing.T, opts ...blobstore.Option) (*blobstore.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs") // Open creates it
	s, err := blobstore.Open(context.Background(), "file://"+dir, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func readRange(t *testing.T, s *blobstore.Store, key string, off, n int64) []byte {
	t.Helper()
	r, err := s.NewRangeReader(context.Background(), key, off, n)
	if err != nil {
		t.Fatalf("NewRangeReader(%q, %d, %d): %v", key, off, n, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A blob goes in, reads back whole and by range, and goes away.
func TestPutReadDelete(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, dir := newTestStore(t, blobstore.WithRegisterer(reg))
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := s.Put(ctx, "apk/abc", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "apk", "abc")); err != nil {
		t.Errorf("the blob is not in the directory: %v", err)
	}
	if got := readRange(t, s, "apk/abc", 0, -1); !bytes.Equal(got, data) {
		t.Errorf("whole read: %d bytes, want %d", len(got), len(data))
	}
	if got := readRange(t, s, "apk/abc", 9995, 100); string(got) != "56789" {
		t.Errorf("tail range = %q, want %q", got, "56789")
	}
	if n, err := s.Size(ctx, "apk/abc"); err != nil || n != int64(len(data)) {
		t.Errorf("Size = %d, %v; want %d", n, err, len(data))
	}
	if err := s.Delete(ctx, "apk/abc"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if ok, err := s.Exists(ctx, "apk/abc"); ok || err != nil {
		t.Errorf("Exists after Delete = %v, %v", ok, err)
	}
	if err := s.Delete(ctx, "apk/abc"); err != nil {
		t.Errorf("a second Delete = %v, want nil", err)
	}
	if _, err := s.NewRangeReader(ctx, "apk/abc", 0, -1); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("NewRangeReader of a missing blob = %v, want ErrNotFound", err)
	}
	if _, err := s.Size(ctx, "apk/abc"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Size of a missing blob = %v, want ErrNotFound", err)
	}
	if got := counter(t, reg, "nexmdm_blob_bytes_total", "put"); got != float64(len(data)) {
		t.Errorf("nexmdm_blob_bytes_total{op=put} = %v, want %d", got, len(data))
	}
}

// counter reads a counter of reg with the label op.
func counter(t *testing.T, reg *prometheus.Registry, name, op string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == name && l.GetName() == "op" && l.GetValue() == op {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{op=%q}", name, op)
	return 0
}

// flaky fails its first reads, as a source that breaks mid-upload would.
type flaky struct {
	data  []byte
	fails atomic.Int32 // reads left that fail
}

func (f *flaky) ReadAt(p []byte, off int64) (int, error) {
	if f.fails.Add(-1) >= 0 {
		return 0, errors.New("disk hiccup")
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}

// An upload that fails is tried again, up to 3 times, and a try that
// fails leaves nothing behind.
func TestPutRetriesThenGivesUp(t *testing.T) {
	cases := []struct {
		name    string
		fails   int32
		wantErr bool
	}{
		{"first try", 0, false},
		{"third try", 2, false},
		{"never", 3, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestStore(t, blobstore.WithRetry(3, time.Millisecond))
			src := &flaky{data: []byte(strings.Repeat("apk", 100))}
			src.fails.Store(tc.fails)
			err := s.Put(context.Background(), "apk/x", src, int64(len(src.data)))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Put with %d failing reads = %v, want error %v", tc.fails, err, tc.wantErr)
			}
			ok, _ := s.Exists(context.Background(), "apk/x")
			if ok == tc.wantErr {
				t.Errorf("Exists = %v after Put = %v", ok, err)
			}
		})
	}
}

// A source shorter than the size given is a failed upload, not a short blob.
func TestPutRefusesAShortSource(t *testing.T) {
	s, _ := newTestStore(t, blobstore.WithRetry(1, 0))
	if err := s.Put(context.Background(), "apk/short", strings.NewReader("abc"), 10); err == nil {
		t.Fatal("Put of 3 bytes as 10 succeeded")
	}
	if ok, _ := s.Exists(context.Background(), "apk/short"); ok {
		t.Error("a short upload left a blob")
	}
}

func TestOpenRefusesUnknownSchemesAndRelativePaths(t *testing.T) {
	for _, u := range []string{"gs://bucket", "file://relative/dir", "ftp://x"} {
		if s, err := blobstore.Open(context.Background(), u); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
	s, err := blobstore.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatalf("Open(mem://): %v", err)
	}
	s.Close()
}

// A stream is stored whole; a stream that fails midway leaves no blob and
// no staged file behind.
func TestPutStream(t *testing.T) {
	s, dir := newTestStore(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("archive "), 4096)
	n, err := s.PutStream(ctx, "archives/a.gz", bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("PutStream = %d, %v; want %d, nil", n, err, len(data))
	}
	if got := readRange(t, s, "archives/a.gz", 0, -1); !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes, want %d", len(got), len(data))
	}

	pr, pw := io.Pipe()
	go func() {
		pw.Write(data[:1000])
		pw.CloseWithError(errors.New("copy failed"))
	}()
	if _, err := s.PutStream(ctx, "archives/b.gz", pr); err == nil || !strings.Contains(err.Error(), "copy failed") {
		t.Fatalf("PutStream of a failing stream = %v, want its error", err)
	}
	if ok, _ := s.Exists(ctx, "archives/b.gz"); ok {
		t.Error("a failed stream left a blob")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "archives"))
	for _, e := range entries {
		if e.Name() != "a.gz" && e.Name() != "a.gz.attrs" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
