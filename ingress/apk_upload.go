package ingress

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

const (
	multipartSlack = 1 << 20 // what a multipart body may carry beside the file
	maxFieldBytes  = 1 << 10 // a form field other than the file
	maxParts       = 8
	uploadTimeout  = 10 * time.Minute // storing a spooled file in the blob store
)

var errBodyTooLarge = errors.New("request body over the limit")

// upload is a build's file, received into a temporary file.
type upload struct {
	build *pgstore.APKBuild
	file  *os.File
	size  int64
	sha   string
}

func (u *upload) close() {
	if u.file != nil {
		u.file.Close()
		os.Remove(u.file.Name())
	}
}

// uploadAPK is POST /admin/apk/upload, multipart with the fields build_id
// and file, in either order. The file streams to a temporary file while
// it is hashed, never whole in memory, and is refused past the limit; it
// must have the registered SHA-256 and be a zip with an AndroidManifest.xml.
// Only then is it stored, as apk/<sha256>, and the build marked uploaded.
func (s *Server) uploadAPK(ctx *fasthttp.RequestCtx) {
	up := &upload{}
	defer up.close()
	if e := s.receiveUpload(ctx, up); e != nil {
		target := ""
		if up.build != nil {
			target = up.build.ID.String()
		}
		s.audit(ctx, "apk.upload", target, e.Code, nil)
		writeError(ctx, e) // fasthttp drains what is left of the body, or closes past 256 KiB
		return
	}
	b := up.build
	details := map[string]any{"package": b.Package, "version_code": b.VersionCode, "sha256": up.sha, "size_bytes": up.size}
	if e := checkUpload(up); e != nil {
		s.audit(ctx, "apk.upload", b.ID.String(), e.Code, details)
		writeError(ctx, e)
		return
	}
	stored, e := s.storeUpload(up)
	if e != nil {
		s.audit(ctx, "apk.upload", b.ID.String(), e.Code, details)
		writeError(ctx, e)
		return
	}
	s.audit(ctx, "apk.upload", b.ID.String(), "ok", details)
	writeJSON(ctx, fasthttp.StatusOK, toBuildJSON(&stored))
}

// checkUpload compares the file with the registered build.
func checkUpload(up *upload) *Error {
	if up.sha != up.build.SHA256 {
		return errorf(fasthttp.StatusBadRequest, "sha256_mismatch",
			"the file's SHA-256 is %s but build %s was registered with %s; nothing was stored", up.sha, up.build.ID, up.build.SHA256)
	}
	if !isAPK(up.file, up.size) {
		return errorf(fasthttp.StatusBadRequest, "not_an_apk",
			"the file is not an APK: a zip archive with an AndroidManifest.xml; nothing was stored")
	}
	return nil
}

// isAPK tells whether r is a zip archive with an AndroidManifest.xml.
func isAPK(r io.ReaderAt, size int64) bool {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return false
	}
	for _, f := range zr.File {
		if f.Name == "AndroidManifest.xml" {
			return true
		}
	}
	return false
}

// storeUpload puts the file in the blob store (with retries) and marks the
// build uploaded.
func (s *Server) storeUpload(up *upload) (pgstore.APKBuild, *Error) {
	c, cancel := context.WithTimeout(context.Background(), uploadTimeout)
	defer cancel()
	key := blobKey(up.sha)
	if err := s.deps.Blobs.Put(c, key, up.file, up.size); err != nil {
		s.log.Error().Str("event", "apk.upload.error").Stringer("build_id", up.build.ID).Err(err).Msg("store the file")
		return pgstore.APKBuild{}, &Error{Status: fasthttp.StatusServiceUnavailable, Code: "storage_unavailable",
			Message: "the file could not be stored; upload it again", RetryAfter: 5 * time.Second}
	}
	b, err := s.deps.APKs.MarkUploaded(c, up.build.ID, up.size, key, s.now().UTC().Truncate(time.Microsecond))
	switch {
	case errors.Is(err, pgstore.ErrAlreadyUploaded):
		return b, alreadyUploaded(up.build.ID)
	case errors.Is(err, persistence.ErrNotFound): // deleted while the file came in
		if used, err := s.deps.APKs.SHA256InUse(c, up.sha); err == nil && !used {
			s.dropBlob(c, up.sha)
		}
		return b, errorf(fasthttp.StatusNotFound, "not_found", "build %s was deleted during the upload", up.build.ID)
	case err != nil:
		return b, storeUnavailable()
	}
	return b, nil
}

func alreadyUploaded(id uuid.UUID) *Error {
	return errorf(fasthttp.StatusConflict, "already_uploaded",
		"build %s already has its file; register a new version_code for a new file", id)
}

func (s *Server) apkTooLarge() *Error {
	return errorf(fasthttp.StatusRequestEntityTooLarge, "apk_too_large",
		"the APK is larger than the limit of %d bytes (NEXMDM_APK_MAX_BYTES)", s.cfg.MaxAPKBytes)
}

// receiveUpload reads the multipart body part by part from the request
// stream: build_id (the build must exist and have no file yet) and file
// (into a temporary file, hashed on the way).
func (s *Server) receiveUpload(ctx *fasthttp.RequestCtx, up *upload) *Error {
	boundary := string(ctx.Request.Header.MultipartFormBoundary())
	if boundary == "" {
		return errorf(fasthttp.StatusBadRequest, "not_multipart",
			"send multipart/form-data with the fields build_id and file, e.g. curl -F build_id=<id> -F file=@app.apk")
	}
	limit := s.cfg.MaxAPKBytes + multipartSlack
	if int64(ctx.Request.Header.ContentLength()) > limit {
		return s.apkTooLarge()
	}
	// Never PostBody here: it would read the whole stream into memory.
	var body io.Reader = &progressReader{r: ctx.RequestBodyStream(), idle: s.cfg.ReadTimeout, extend: ctx.SetReadDeadline}
	if ctx.RequestBodyStream() == nil { // a server that does not stream, such as a test's
		body = bytes.NewReader(ctx.Request.Body())
	}
	mr := multipart.NewReader(&cappedReader{r: body, left: limit}, boundary)
	for range maxParts {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return s.finishUpload(up)
		}
		if err != nil {
			return s.multipartError(err)
		}
		e := s.receivePart(part, up)
		part.Close()
		if e != nil {
			return e
		}
	}
	return errorf(fasthttp.StatusBadRequest, "malformed_multipart", "send only the fields build_id and file")
}

func (s *Server) receivePart(part *multipart.Part, up *upload) *Error {
	switch part.FormName() {
	case "build_id":
		raw, err := io.ReadAll(io.LimitReader(part, maxFieldBytes))
		if err != nil {
			return s.multipartError(err)
		}
		id, err := uuid.ParseBytes(bytes.TrimSpace(raw))
		if err != nil || up.build != nil {
			return fieldError("build_id", "must be the id (a UUID) that POST /admin/apk/register answered, sent once")
		}
		return s.loadUploadBuild(id, up)
	case "file":
		if up.file != nil {
			return fieldError("file", "must be sent once")
		}
		return s.spool(part, up)
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(part, maxFieldBytes+1)); err != nil {
		return s.multipartError(err)
	}
	return nil // an extra field is ignored, as unknown JSON fields are
}

// loadUploadBuild finds the build the upload is for: it must exist and
// have no file yet.
func (s *Server) loadUploadBuild(id uuid.UUID, up *upload) *Error {
	c, cancel := dbContext()
	defer cancel()
	b, err := s.deps.APKs.Get(c, id)
	if err != nil {
		return lookupError(err, "build", id)
	}
	up.build = &b
	if b.Uploaded() {
		return alreadyUploaded(id)
	}
	return nil
}

// spool copies the file part to a temporary file, hashing it, and refuses
// it past the limit.
func (s *Server) spool(part io.Reader, up *upload) *Error {
	f, err := os.CreateTemp("", "nexmdm-apk-*")
	if err != nil {
		s.log.Error().Str("event", "apk.upload.error").Err(err).Msg("create a temporary file")
		return errorf(fasthttp.StatusInternalServerError, "internal", "the upload could not be received")
	}
	up.file = f
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(part, s.cfg.MaxAPKBytes+1))
	switch {
	case err != nil:
		return s.multipartError(err)
	case n > s.cfg.MaxAPKBytes:
		return s.apkTooLarge()
	}
	up.size, up.sha = n, hex.EncodeToString(h.Sum(nil))
	return nil
}

// finishUpload checks that both fields came.
func (s *Server) finishUpload(up *upload) *Error {
	switch {
	case up.build == nil:
		return missingField("build_id", "the id that POST /admin/apk/register answered")
	case up.file == nil:
		return missingField("file", "the APK file")
	}
	return nil
}

func (s *Server) multipartError(err error) *Error {
	if errors.Is(err, errBodyTooLarge) {
		return s.apkTooLarge()
	}
	return errorf(fasthttp.StatusBadRequest, "malformed_multipart", "the multipart body could not be read: %v", err)
}

// cappedReader fails with errBodyTooLarge past left bytes.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1] // one byte past the limit tells that the body goes on
	}
	n, err := c.r.Read(p)
	if c.left -= int64(n); c.left < 0 {
		return 0, errBodyTooLarge
	}
	return n, err
}

// progressReader keeps pushing a connection deadline idle ahead while
// reads make progress, so that a long transfer is cut only when it
// stalls, not by the per-request timeout.
type progressReader struct {
	r      io.Reader
	idle   time.Duration
	extend func(time.Time) error
	next   time.Time // when to extend again
}

func (p *progressReader) Read(b []byte) (int, error) {
	if now := time.Now(); p.idle > 0 && !now.Before(p.next) {
		_ = p.extend(now.Add(p.idle)) // no connection (a test's context): nothing to extend
		p.next = now.Add(time.Second)
	}
	return p.r.Read(b)
}
