// Package blobstore keeps large files, such as APK builds, in a bucket of
// gocloud.dev/blob: a local directory (file://), S3 or an S3-compatible
// store (s3://bucket?region=…&endpoint=…), or memory (mem://, for tests).
// Uploads retry with backoff; every operation is logged with a stable
// event and counted in Prometheus metrics.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/memblob"  // mem://
	_ "gocloud.dev/blob/s3blob"   // s3://
	"gocloud.dev/gcerrors"
)

// ErrNotFound means no blob has the key.
var ErrNotFound = errors.New("blob not found")

// Store is a bucket with retries, logs and metrics.
type Store struct {
	bucket   *blob.Bucket
	log      zerolog.Logger
	m        *metrics
	attempts int           // tries of an upload
	backoff  time.Duration // wait before the second try; doubles after each failure
}

// Option tunes a Store.
type Option func(*Store)

// WithLogger logs the store's events to log.
func WithLogger(log zerolog.Logger) Option { return func(s *Store) { s.log = log } }

// WithRegisterer registers the store's metrics with reg.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(s *Store) { s.m = newMetrics(reg) }
}

// WithRetry sets how many times an upload is tried (at least 1) and the
// first wait between tries.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(s *Store) { s.attempts, s.backoff = max(attempts, 1), backoff }
}

// Open opens the bucket at rawURL. A file:// directory is created when
// missing, and its uploads are staged next to their final path so that
// they land with a rename on the same filesystem.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blob URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		if !filepath.IsAbs(u.Path) || (u.Host != "" && u.Host != "localhost") {
			return nil, fmt.Errorf("blob URL %q: want file:// and an absolute path, such as file:///var/lib/nexmdm/blobs", rawURL)
		}
		if err := os.MkdirAll(u.Path, 0o750); err != nil {
			return nil, fmt.Errorf("create the blob directory: %w", err)
		}
		q := u.Query()
		q.Set("no_tmp_dir", "true")
		u.RawQuery = q.Encode()
	case "s3", "mem":
	default:
		return nil, fmt.Errorf("blob URL %q: the scheme must be file, s3 or mem", rawURL)
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open the blob bucket: %w", err)
	}
	return New(b, opts...), nil
}

// New wraps an open bucket; the Store closes it.
func New(b *blob.Bucket, opts ...Option) *Store {
	s := &Store{bucket: b, log: zerolog.Nop(), attempts: 3, backoff: 500 * time.Millisecond}
	for _, o := range opts {
		o(s)
	}
	if s.m == nil {
		s.m = newMetrics(nil)
	}
	return s
}

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// Put stores size bytes of r under key, replacing any blob there. A
// failed try is retried with exponential backoff, reading r again from
// its start; a blob is visible only once a try has fully succeeded.
func (s *Store) Put(ctx context.Context, key string, r io.ReaderAt, size int64) error {
	start := time.Now()
	s.log.Info().Str("event", "storage.upload.start").Str("key", key).Int64("bytes", size).Msg("upload")
	wait := s.backoff
	var err error
	for attempt := 1; attempt <= s.attempts; attempt++ {
		if err = s.put(ctx, key, io.NewSectionReader(r, 0, size), size); err == nil {
			s.m.op("put", "ok")
			s.m.bytes.WithLabelValues("put").Add(float64(size))
			s.log.Info().Str("event", "storage.upload.success").Str("key", key).Int64("bytes", size).
				Int("attempt", attempt).Dur("took", time.Since(start)).Msg("uploaded")
			return nil
		}
		last := attempt == s.attempts || ctx.Err() != nil
		s.log.Warn().Str("event", "storage.upload.error").Str("key", key).Int("attempt", attempt).
			Bool("final", last).Err(err).Msg("upload failed")
		if last {
			break
		}
		s.m.op("put", "retry")
		if err := sleep(ctx, wait); err != nil {
			break
		}
		wait *= 2
	}
	s.m.op("put", "error")
	return fmt.Errorf("put %s: %w", key, err)
}

// put is one try: any failure aborts the write, so nothing partial stays.
func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return err
	}
	n, err := io.Copy(w, r)
	if err == nil && n != size {
		err = fmt.Errorf("read %d bytes of %d", n, size)
	}
	if err != nil {
		cancel() // aborts the write
		_ = w.Close()
		return err
	}
	return w.Close()
}

// PutStream stores everything r yields under key, replacing any blob
// there, and returns the bytes written. A stream cannot be read twice, so
// there is one try: an error from r or the bucket aborts the write and
// nothing partial stays. The caller retries by producing the stream again.
func (s *Store) PutStream(ctx context.Context, key string, r io.Reader) (int64, error) {
	start := time.Now()
	s.log.Info().Str("event", "storage.upload.start").Str("key", key).Bool("stream", true).Msg("upload")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	var n int64
	if err == nil {
		if n, err = io.Copy(w, r); err != nil {
			cancel() // aborts the write
			_ = w.Close()
		} else {
			err = w.Close()
		}
	}
	if err != nil {
		s.m.op("put", "error")
		s.log.Warn().Str("event", "storage.upload.error").Str("key", key).Int64("bytes", n).Bool("final", true).Err(err).Msg("upload failed")
		return n, fmt.Errorf("put %s: %w", key, err)
	}
	s.m.op("put", "ok")
	s.m.bytes.WithLabelValues("put").Add(float64(n))
	s.log.Info().Str("event", "storage.upload.success").Str("key", key).Int64("bytes", n).
		Dur("took", time.Since(start)).Msg("uploaded")
	return n, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewRangeReader reads length bytes of the blob from offset (length < 0:
// to its end). ctx must last as long as the reads. The reader logs and
// counts the download when it is closed.
func (s *Store) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	s.log.Debug().Str("event", "storage.download.start").Str("key", key).Int64("offset", offset).Int64("length", length).Msg("download")
	r, err := s.bucket.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		err = s.mapErr(err)
		s.m.op("get", "error")
		s.log.Warn().Str("event", "storage.download.error").Str("key", key).Err(err).Msg("download failed")
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return &reader{r: r, s: s, key: key, start: time.Now()}, nil
}

// reader counts what a download read and reports it once, on Close.
type reader struct {
	r     *blob.Reader
	s     *Store
	key   string
	n     int64
	err   error
	start time.Time
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && r.err == nil {
		r.err = err
	}
	return n, err
}

func (r *reader) Close() error {
	err := r.r.Close()
	r.s.m.bytes.WithLabelValues("get").Add(float64(r.n))
	if r.err != nil {
		r.s.m.op("get", "error")
		r.s.log.Warn().Str("event", "storage.download.error").Str("key", r.key).Int64("bytes", r.n).Err(r.err).Msg("download failed")
		return err
	}
	r.s.m.op("get", "ok")
	r.s.log.Debug().Str("event", "storage.download.success").Str("key", r.key).Int64("bytes", r.n).
		Dur("took", time.Since(r.start)).Msg("downloaded")
	return err
}

// Attributes returns the blob's attributes, or ErrNotFound.
func (s *Store) Attributes(ctx context.Context, key string) (*blob.Attributes, error) {
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("attributes of %s: %w", key, s.mapErr(err))
	}
	return a, nil
}

// Size returns the blob's size in bytes, or ErrNotFound.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	a, err := s.Attributes(ctx, key)
	if err != nil {
		return 0, err
	}
	return a.Size, nil
}

// Exists tells whether a blob has the key.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := s.bucket.Exists(ctx, key)
	if err != nil {
		return false, fmt.Errorf("exists %s: %w", key, err)
	}
	return ok, nil
}

// Delete removes the blob; a blob that is already gone is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.mapErr(s.bucket.Delete(ctx, key))
	existed := !errors.Is(err, ErrNotFound)
	if !existed {
		err = nil
	}
	if err != nil {
		s.m.op("delete", "error")
		s.log.Warn().Str("event", "storage.delete").Str("key", key).Err(err).Msg("delete failed")
		return fmt.Errorf("delete %s: %w", key, err)
	}
	s.m.op("delete", "ok")
	s.log.Info().Str("event", "storage.delete").Str("key", key).Bool("existed", existed).Msg("deleted")
	return nil
}

func (s *Store) mapErr(err error) error {
	if err != nil && gcerrors.Code(err) == gcerrors.NotFound {
		return ErrNotFound
	}
	return err
}

// metrics are the store's Prometheus metrics.
type metrics struct {
	ops   *prometheus.CounterVec
	bytes *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_blob_ops_total", Help: "Blob store operations by op (put, get, delete) and result (ok, retry, error).",
		}, []string{"op", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexmdm_blob_bytes_total", Help: "Bytes written (put) and read (get) through the blob store.",
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.ops, m.bytes)
	}
	return m
}

func (m *metrics) op(op, result string) { m.ops.WithLabelValues(op, result).Inc() }
