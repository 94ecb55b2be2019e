package ingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/persistence/blobstore"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

const apkContentType = "application/vnd.android.package-archive"

// downloadBuild is GET /admin/apk/download/{id}: the build's file, for an
// admin.
func (s *Server) downloadBuild(ctx *fasthttp.RequestCtx) {
	b, e := s.pathBuild(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	s.serveBuild(ctx, &b, pgstore.DownloadAdmin, principal(ctx).Actor())
}

// agentDownload is GET /v1/agent/download/{id}: the build's file, for a
// device, which authenticates with its token.
func (s *Server) agentDownload(ctx *fasthttp.RequestCtx) {
	device, e := s.authorizeDevice(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	b, e := s.pathBuild(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	s.serveBuild(ctx, &b, pgstore.DownloadDevice, device.String())
}

// pathBuild loads the build named in the path, which must be uploaded.
func (s *Server) pathBuild(ctx *fasthttp.RequestCtx) (pgstore.APKBuild, *Error) {
	id, e := pathID(ctx, "build")
	if e != nil {
		return pgstore.APKBuild{}, e
	}
	c, cancel := dbContext()
	defer cancel()
	b, err := s.deps.APKs.Get(c, id)
	if err != nil {
		return b, lookupError(err, "build", id)
	}
	if !b.Uploaded() || b.SizeBytes == nil {
		return b, errorf(fasthttp.StatusNotFound, "not_uploaded", "build %s has no file yet; upload it with POST /admin/apk/upload", id)
	}
	return b, nil
}

// serveBuild streams an uploaded build's file from the blob store, never
// whole in memory, honouring one Range (bytes=a-b, a- or -n: 206; out of
// the file: 416). The download is recorded in apk_download_events, with
// source (pgstore.DownloadAdmin, DownloadDevice, DownloadEnrollment) and
// actor, when the response has been sent, with the bytes that went out.
func (s *Server) serveBuild(ctx *fasthttp.RequestCtx, b *pgstore.APKBuild, source, actor string) {
	size := *b.SizeBytes
	off, n, partial, ok := parseRange(string(ctx.Request.Header.Peek("Range")), size)
	if !ok {
		writeError(ctx, errorf(fasthttp.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable",
			"the file has %d bytes; ask for a range within them", size))
		ctx.Response.Header.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		return
	}
	rctx, cancel := context.WithCancel(context.Background()) // the body is read after the handler returns
	r, err := s.deps.Blobs.NewRangeReader(rctx, *b.BlobKey, off, n)
	if err != nil {
		cancel()
		s.log.Error().Str("event", "apk.download.error").Stringer("build_id", b.ID).Err(err).Msg("open the file")
		if errors.Is(err, blobstore.ErrNotFound) {
			writeError(ctx, errorf(fasthttp.StatusInternalServerError, "internal", "build %s's file is missing from storage", b.ID))
			return
		}
		writeError(ctx, &Error{Status: fasthttp.StatusServiceUnavailable, Code: "storage_unavailable",
			Message: "the file could not be read from storage; retry", RetryAfter: 5 * time.Second})
		return
	}
	h := &ctx.Response.Header
	h.SetContentType(apkContentType)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%d.apk"`, b.Package, b.VersionCode))
	h.Set("ETag", `"`+b.SHA256+`"`)
	h.Set("Accept-Ranges", "bytes")
	ctx.SetStatusCode(fasthttp.StatusOK)
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, size))
		ctx.SetStatusCode(fasthttp.StatusPartialContent)
	}
	ctx.SetBodyStream(&servedFile{
		progressReader: progressReader{r: r, idle: s.cfg.WriteTimeout, extend: ctx.SetWriteDeadline},
		file:           r, cancel: cancel, s: s,
		ev: pgstore.Download{BuildID: b.ID, Source: source, Actor: actor, RangeStart: off},
	}, int(n))
}

// servedFile is a download's body: it keeps the write deadline moving
// while bytes go out, counts them, and records the download when fasthttp
// closes it.
type servedFile struct {
	progressReader
	file   io.Closer
	cancel context.CancelFunc
	s      *Server
	ev     pgstore.Download
}

func (f *servedFile) Read(p []byte) (int, error) {
	n, err := f.progressReader.Read(p)
	f.ev.Bytes += int64(n)
	return n, err
}

// CloseWithError implements fasthttp.ReadCloserWithError: werr is why the
// response could not be written, if it could not.
func (f *servedFile) CloseWithError(werr error) error {
	err := f.file.Close()
	f.cancel()
	f.ev.At = f.s.now()
	c, cancel := dbContext()
	defer cancel()
	if rerr := f.s.deps.APKs.RecordDownload(c, f.ev); rerr != nil {
		f.s.log.Error().Str("event", "apk.download.record.error").Stringer("build_id", f.ev.BuildID).Err(rerr).Msg("download not recorded")
	}
	ev := f.s.log.Info()
	if werr != nil {
		ev = f.s.log.Warn().Err(werr)
	}
	ev.Str("event", "apk.download").Stringer("build_id", f.ev.BuildID).Str("source", f.ev.Source).
		Int64("range_start", f.ev.RangeStart).Int64("bytes", f.ev.Bytes).Msg("build downloaded")
	return err
}

// parseRange reads a Range header against a file of size bytes: the
// offset and length to send, whether that is a part (206), and ok false
// when the range is outside the file (416). No header, several ranges,
// another unit or bad syntax mean the whole file: RFC 9110 lets a server
// ignore such a Range.
func parseRange(header string, size int64) (off, n int64, partial, ok bool) {
	spec, isBytes := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	first, last, dash := strings.Cut(strings.TrimSpace(spec), "-")
	if !isBytes || !dash || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	if first == "" { // the last n bytes
		k, valid := digits(last)
		switch {
		case !valid:
			return 0, size, false, true
		case k == 0 || size == 0:
			return 0, 0, false, false
		}
		k = min(k, size)
		return size - k, k, true, true
	}
	a, valid := digits(first)
	b := size - 1
	if last != "" {
		var validLast bool
		b, validLast = digits(last)
		valid = valid && validLast && b >= a
	}
	switch {
	case !valid:
		return 0, size, false, true
	case a >= size:
		return 0, 0, false, false
	}
	b = min(b, size-1)
	return a, b - a + 1, true, true
}

// digits parses a non-negative decimal made of digits only.
func digits(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
