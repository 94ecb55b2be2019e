package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// The APK registry: CI registers a build's metadata, then uploads its file
// (apk_upload.go); admins list, download (apk_download.go) and delete
// builds. Files are content-addressed in the blob store: apk/<sha256>.

var (
	hex64    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	gitSHA   = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	colonHex = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){31}$`)
)

const maxBuilds = 200 // per page

// blobKey is where a file with this SHA-256 lives in the blob store.
func blobKey(sha string) string { return "apk/" + sha }

// buildJSON is a build as the admin API shows it.
type buildJSON struct {
	ID                string     `json:"id"`
	Package           string     `json:"package"`
	VersionCode       int32      `json:"version_code"`
	VersionName       string     `json:"version_name"`
	SHA256            string     `json:"sha256"`
	SignerFingerprint string     `json:"signer_fingerprint"`
	Channel           string     `json:"channel"`
	GitSHA            string     `json:"git_sha"`
	CIRunURL          string     `json:"ci_run_url"`
	Uploaded          bool       `json:"uploaded"`
	SizeBytes         *int64     `json:"size_bytes"`
	UploadedAt        *time.Time `json:"uploaded_at"`
	RegisteredBy      string     `json:"registered_by"`
	RegisteredAt      time.Time  `json:"registered_at"`
	DownloadURL       string     `json:"download_url"`
}

func toBuildJSON(b *pgstore.APKBuild) buildJSON {
	return buildJSON{
		ID: b.ID.String(), Package: b.Package, VersionCode: b.VersionCode, VersionName: b.VersionName,
		SHA256: b.SHA256, SignerFingerprint: b.SignerFingerprint, Channel: b.Channel, GitSHA: b.GitSHA,
		CIRunURL: b.CIRunURL, Uploaded: b.Uploaded(), SizeBytes: b.SizeBytes, UploadedAt: b.UploadedAt,
		RegisteredBy: b.RegisteredBy, RegisteredAt: b.RegisteredAt, DownloadURL: "/admin/apk/download/" + b.ID.String(),
	}
}

// registerBuildRequest is POST /admin/apk/register's body.
type registerBuildRequest struct {
	Package           string `json:"package"`
	VersionCode       *int64 `json:"version_code"`
	VersionName       string `json:"version_name"`
	SHA256            string `json:"sha256"`
	SignerFingerprint string `json:"signer_fingerprint"`
	Channel           string `json:"channel"`
	GitSHA            string `json:"git_sha"`
	CIRunURL          string `json:"ci_run_url"`
}

func missingField(field, what string) *Error {
	return &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: field,
		Message: field + " is required: " + what}
}

// build checks the request and returns the build it describes, with
// hex normalised to lowercase and the signer fingerprint without colons.
func (r *registerBuildRequest) build() (pgstore.APKBuild, *Error) {
	sha, gitRev := strings.ToLower(r.SHA256), strings.ToLower(r.GitSHA)
	signer := strings.ToLower(r.SignerFingerprint)
	if colonHex.MatchString(signer) {
		signer = strings.ReplaceAll(signer, ":", "")
	}
	switch {
	case r.Package == "":
		return pgstore.APKBuild{}, missingField("package", "the Android application id, such as com.example.agent")
	case len(r.Package) > 255 || !androidPackage.MatchString(r.Package):
		return pgstore.APKBuild{}, fieldError("package", "must be an Android package name such as com.example.agent")
	case r.VersionCode == nil:
		return pgstore.APKBuild{}, missingField("version_code", "the build's versionCode")
	case *r.VersionCode < 1 || *r.VersionCode > 2_100_000_000:
		return pgstore.APKBuild{}, fieldError("version_code", "must be an integer from 1 to 2100000000")
	case len(r.VersionName) > 100 || !printable(r.VersionName, true):
		return pgstore.APKBuild{}, fieldError("version_name", "must be at most 100 printable characters")
	case r.SHA256 == "":
		return pgstore.APKBuild{}, missingField("sha256", "the SHA-256 of the APK file, in hex")
	case !hex64.MatchString(sha):
		return pgstore.APKBuild{}, fieldError("sha256", "must be 64 hex digits: the SHA-256 of the APK file")
	case signer != "" && !hex64.MatchString(signer):
		return pgstore.APKBuild{}, fieldError("signer_fingerprint", "must be the signing certificate's SHA-256: 64 hex digits, with or without colons")
	case r.Channel == "":
		return pgstore.APKBuild{}, missingField("channel", "the release channel, such as stable or beta")
	case !channelName.MatchString(r.Channel):
		return pgstore.APKBuild{}, fieldError("channel", "must be 1-32 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
	case gitRev != "" && !gitSHA.MatchString(gitRev):
		return pgstore.APKBuild{}, fieldError("git_sha", "must be a git commit id: 7 to 64 hex digits")
	case r.CIRunURL != "" && !httpURL(r.CIRunURL):
		return pgstore.APKBuild{}, fieldError("ci_run_url", "must be an http or https URL of at most 2048 characters")
	}
	return pgstore.APKBuild{
		Package: r.Package, VersionCode: int32(*r.VersionCode), VersionName: r.VersionName, SHA256: sha,
		SignerFingerprint: signer, Channel: r.Channel, GitSHA: gitRev, CIRunURL: r.CIRunURL,
	}, nil
}

func httpURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && len(raw) <= 2048 && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && printable(raw, false)
}

// registerBuild is POST /admin/apk/register: CI describes a build before
// it uploads the file.
func (s *Server) registerBuild(ctx *fasthttp.RequestCtx) {
	var req registerBuildRequest
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	b, e := req.build()
	if e != nil {
		writeError(ctx, e)
		return
	}
	b.ID, b.RegisteredBy, b.RegisteredAt = uuid.New(), principal(ctx).Actor(), s.now().UTC().Truncate(time.Microsecond)
	details := map[string]any{"package": b.Package, "version_code": b.VersionCode, "channel": b.Channel, "sha256": b.SHA256}
	c, cancel := dbContext()
	defer cancel()
	err := s.deps.APKs.Register(c, &b)
	switch {
	case errors.Is(err, pgstore.ErrBuildExists):
		s.audit(ctx, "apk.register", "", "build_exists", details)
		writeError(ctx, errorf(fasthttp.StatusConflict, "build_exists",
			"%s version_code %d is already registered on channel %s; bump the version code", b.Package, b.VersionCode, b.Channel))
		return
	case err != nil:
		s.log.Error().Str("event", "apk.register.error").Err(err).Msg("register build")
		writeError(ctx, storeUnavailable())
		return
	}
	s.audit(ctx, "apk.register", b.ID.String(), "ok", details)
	writeJSON(ctx, fasthttp.StatusCreated, toBuildJSON(&b))
}

// listBuilds is GET /admin/apk/builds?package&channel&version_code&uploaded&limit&cursor,
// newest first.
func (s *Server) listBuilds(ctx *fasthttp.RequestCtx) {
	q := newQuery(ctx)
	bq := pgstore.APKQuery{
		Package:     q.Text("package", 255),
		Channel:     q.Text("channel", 32),
		VersionCode: int32(q.Int("version_code", 1, 2_100_000_000, 0)),
		Limit:       q.Int("limit", 1, maxBuilds, 50),
	}
	if up := q.Enum("uploaded", "true", "false"); up != "" {
		v := up == "true"
		bq.Uploaded = &v
	}
	if v := q.args.Peek("cursor"); len(v) > 0 && q.err == nil {
		payload, e := s.openCursor("apk_builds", string(v))
		var cur pgstore.APKCursor
		if e == nil && json.Unmarshal([]byte(payload), &cur) != nil {
			e = errorf(fasthttp.StatusBadRequest, "invalid_cursor", "the cursor is not valid; start from the first page")
		}
		q.fail(e)
		bq.Before = &cur
	}
	if q.err != nil {
		writeError(ctx, q.err)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	builds, err := s.deps.APKs.List(c, bq)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	out := struct {
		Items      []buildJSON `json:"items"`
		NextCursor *string     `json:"next_cursor"`
	}{Items: make([]buildJSON, len(builds))}
	for i := range builds {
		out.Items[i] = toBuildJSON(&builds[i])
	}
	if len(builds) == bq.Limit {
		last := builds[len(builds)-1]
		b, _ := json.Marshal(pgstore.APKCursor{RegisteredAt: last.RegisteredAt, ID: last.ID})
		cur := s.sealCursor("apk_builds", string(b))
		out.NextCursor = &cur
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// deleteBuild is DELETE /admin/apk/builds/{id}: refused while a release
// uses the build. The file goes too, unless another build has the same
// SHA-256.
func (s *Server) deleteBuild(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "build")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	b, shared, err := s.deps.APKs.Delete(c, id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		s.audit(ctx, "apk.delete", id.String(), "not_found", nil)
		writeError(ctx, errorf(fasthttp.StatusNotFound, "not_found", "no build %s", id))
		return
	case errors.Is(err, pgstore.ErrBuildInUse):
		s.audit(ctx, "apk.delete", id.String(), "build_in_release", nil)
		writeError(ctx, errorf(fasthttp.StatusConflict, "build_in_release",
			"build %s is used by a release; a build stays as long as a release refers to it", id))
		return
	case err != nil:
		s.log.Error().Str("event", "apk.delete.error").Stringer("build_id", id).Err(err).Msg("delete build")
		writeError(ctx, storeUnavailable())
		return
	}
	blobDeleted := !shared && s.dropBlob(c, b.SHA256)
	s.audit(ctx, "apk.delete", id.String(), "ok", map[string]any{
		"package": b.Package, "version_code": b.VersionCode, "channel": b.Channel, "sha256": b.SHA256, "blob_deleted": blobDeleted,
	})
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// dropBlob deletes the file with this SHA-256; a failure is logged (the
// file is orphaned, not lost) and reported as false.
func (s *Server) dropBlob(c context.Context, sha string) bool {
	if err := s.deps.Blobs.Delete(c, blobKey(sha)); err != nil {
		s.log.Error().Str("event", "apk.blob.orphan").Str("sha256", sha).Err(err).Msg("could not delete a build's file")
		return false
	}
	return true
}
