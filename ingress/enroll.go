package ingress

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/ingress/enrollscript"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// Enrollment keys: what a script's key may live for.
const (
	defaultEnrollKeyHours = 24
	maxEnrollKeyHours     = 7 * 24
)

// enrollScriptAnswer is GET /admin/enroll/script?kind=all's body: every
// form with one key, for the dashboard.
type enrollScriptAnswer struct {
	Alias        string                  `json:"alias"`
	KeyID        uuid.UUID               `json:"key_id"`
	KeyExpiresAt time.Time               `json:"key_expires_at"`
	ServerURL    string                  `json:"server_url"`
	Build        buildJSON               `json:"build"`
	Scripts      map[string]string       `json:"scripts"`
	ExitCodes    []enrollscript.ExitCode `json:"exit_codes"`
}

// enrollScript is GET /admin/enroll/script?alias=&kind=: an enrollment
// script with a freshly minted enroll key, never the admin key.
func (s *Server) enrollScript(ctx *fasthttp.RequestCtx) {
	p := principal(ctx)
	if p.Kind == "key" && !p.Can(adminauth.Manage) {
		writeError(ctx, errorf(fasthttp.StatusForbidden, "forbidden",
			"an API key with only the enroll scope cannot mint enroll keys; log in, or use an admin key"))
		return
	}
	q := newQuery(ctx)
	kindName := q.Enum("kind", "sh", "cmd", "sh-oneliner", "cmd-oneliner", "all")
	hours := q.Int("expires_in_hours", 1, maxEnrollKeyHours, defaultEnrollKeyHours)
	buildID := q.Text("build_id", 36)
	alias := string(ctx.QueryArgs().Peek("alias"))
	if q.err == nil && kindName == "" {
		q.fail(&Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "kind",
			Message: "kind is required: sh, cmd, sh-oneliner, cmd-oneliner or all"})
	}
	if q.err == nil {
		if why := enrollscript.CheckAlias(alias); why != "" {
			q.fail(fieldError("alias", "%s", why))
		}
	}
	if q.err != nil {
		writeError(ctx, q.err)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	build, e := s.enrollmentBuild(c, buildID)
	if e != nil {
		writeError(ctx, e)
		return
	}
	key, prefix, digest := s.deps.Sessions.NewAPIKey()
	now := s.now()
	k := &pgstore.APIKey{ID: uuid.New(), Name: "enroll script: " + alias, Prefix: prefix, Digest: digest,
		Scopes: []string{adminauth.ScopeEnroll}, CreatedAt: now, CreatedBy: p.Actor()}
	exp := now.Add(time.Duration(hours) * time.Hour)
	k.ExpiresAt = &exp

	kinds := enrollscript.Kinds
	if kindName != "all" {
		kinds = []enrollscript.Kind{enrollscript.Kind(kindName)}
	}
	params, e := s.scriptParams(alias, key, exp, build)
	if e != nil {
		writeError(ctx, e)
		return
	}
	scripts, e := s.renderScripts(kinds, params)
	if e != nil {
		writeError(ctx, e)
		return
	}
	if err := s.deps.APIKeys.Create(c, k); err != nil { // only once every form rendered: no orphan keys
		writeError(ctx, storeUnavailable())
		return
	}
	s.audit(ctx, "enroll.script", k.ID.String(), "ok", map[string]any{
		"alias": alias, "kind": kindName, "key_id": k.ID, "expires_at": exp, "build_id": build.ID,
	})
	ctx.Response.Header.Set("Cache-Control", "no-store") // it holds a secret
	if kindName == "all" {
		writeJSON(ctx, fasthttp.StatusOK, enrollScriptAnswer{
			Alias: alias, KeyID: k.ID, KeyExpiresAt: exp, ServerURL: s.cfg.PublicURL,
			Build: toBuildJSON(&build), Scripts: scripts, ExitCodes: enrollscript.ExitCodes(params),
		})
		return
	}
	writeScript(ctx, enrollscript.Kind(kindName), alias, scripts[kindName])
}

// enrollScriptForKey is GET /v1/enroll/script?kind=sh|cmd&alias_b64=: the
// full script a one-liner fetches, holding the very enroll key it was
// fetched with. A stronger key is refused: it must not end up in a script.
func (s *Server) enrollScriptForKey(ctx *fasthttp.RequestCtx) {
	p := principal(ctx)
	if p.Kind != "key" || !slices.Equal(p.Scopes, []string{adminauth.ScopeEnroll}) {
		writeError(ctx, errorf(fasthttp.StatusForbidden, "enroll_key_required",
			"this route puts the calling key into the script, so it takes only an enroll-scoped API key; admins use GET /admin/enroll/script"))
		return
	}
	q := newQuery(ctx)
	kindName := q.Enum("kind", "sh", "cmd")
	alias, err := enrollscript.DecodeAlias(string(ctx.QueryArgs().Peek("alias_b64")))
	switch {
	case q.err != nil:
		writeError(ctx, q.err)
		return
	case kindName == "":
		writeError(ctx, &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "kind", Message: "kind is required: sh or cmd"})
		return
	case err != nil:
		writeError(ctx, fieldError("alias_b64", "%v", err))
		return
	}
	if why := enrollscript.CheckAlias(alias); why != "" {
		writeError(ctx, fieldError("alias_b64", "holds an alias that %s", why))
		return
	}
	c, cancel := dbContext()
	defer cancel()
	build, e := s.enrollmentBuild(c, "")
	if e != nil {
		writeError(ctx, e)
		return
	}
	kind := enrollscript.Kind(kindName)
	params, e := s.scriptParams(alias, presentedKey(ctx), p.ExpiresAt, build)
	if e != nil {
		writeError(ctx, e)
		return
	}
	scripts, e := s.renderScripts([]enrollscript.Kind{kind}, params)
	if e != nil {
		writeError(ctx, e)
		return
	}
	s.audit(ctx, "enroll.script.fetch", p.ID.String(), "ok", map[string]any{"alias": alias, "kind": kindName, "build_id": build.ID})
	ctx.Response.Header.Set("Cache-Control", "no-store")
	writeScript(ctx, kind, alias, scripts[kindName])
}

// presentedKey is the API key the request authenticated with.
func presentedKey(ctx *fasthttp.RequestCtx) string {
	if k := ctx.Request.Header.Peek("X-Admin-Key"); len(k) > 0 {
		return string(k)
	}
	return strings.TrimPrefix(string(ctx.Request.Header.Peek("Authorization")), "Bearer ")
}

// scriptParams are a script's inputs; the public URL must be one devices
// can reach.
func (s *Server) scriptParams(alias, key string, exp time.Time, b pgstore.APKBuild) (enrollscript.Params, *Error) {
	if why := enrollscript.CheckServerURL(s.cfg.PublicURL); why != "" {
		return enrollscript.Params{}, errorf(fasthttp.StatusConflict, "public_url_unusable",
			"the server's public URL %q %s; set NEXMDM_PUBLIC_URL to the address devices reach", s.cfg.PublicURL, why)
	}
	return enrollscript.Params{
		ServerURL: s.cfg.PublicURL, EnrollKey: key, KeyExpiresAt: exp, Alias: alias, Bloatware: s.cfg.EnrollBloatware,
		Build: enrollscript.Build{ID: b.ID.String(), Package: b.Package, VersionCode: b.VersionCode,
			VersionName: b.VersionName, SHA256: b.SHA256, Size: *b.SizeBytes},
	}, nil
}

func (s *Server) renderScripts(kinds []enrollscript.Kind, params enrollscript.Params) (map[string]string, *Error) {
	out := map[string]string{}
	for _, k := range kinds {
		text, err := enrollscript.Render(k, params)
		if err != nil {
			s.log.Error().Str("event", "enroll.script.error").Err(err).Msg("render an enrollment script")
			return nil, errorf(fasthttp.StatusConflict, "script_unrenderable", "%v", err)
		}
		out[string(k)] = text
	}
	return out, nil
}

func writeScript(ctx *fasthttp.RequestCtx, kind enrollscript.Kind, alias, text string) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; charset=utf-8")
	if kind == enrollscript.Bash || kind == enrollscript.Cmd {
		ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+kind.Filename(alias)+`"`)
	}
	ctx.SetBodyString(text)
}

// enrollmentBuild is the agent build scripts install: the one asked for,
// else the stable channel's current release, else the newest uploaded
// build of the agent package.
func (s *Server) enrollmentBuild(c context.Context, asked string) (pgstore.APKBuild, *Error) {
	var id uuid.UUID
	switch {
	case asked != "":
		parsed, err := uuid.Parse(asked)
		if err != nil {
			return pgstore.APKBuild{}, fieldError("build_id", "must be a build's UUID")
		}
		id = parsed
	default:
		if r, ok := s.deps.Rollout.Current("stable"); ok && r.Package == s.cfg.AgentPackage {
			id = r.BuildID
			break
		}
		uploaded := true
		builds, err := s.deps.APKs.List(c, pgstore.APKQuery{Package: s.cfg.AgentPackage, Uploaded: &uploaded, Limit: 1})
		if err != nil {
			return pgstore.APKBuild{}, storeUnavailable()
		}
		if len(builds) == 0 {
			return pgstore.APKBuild{}, errorf(fasthttp.StatusConflict, "no_agent_build",
				"no build of the agent (%s) is uploaded; upload one under APK builds (POST /admin/apk/register, then /admin/apk/upload)", s.cfg.AgentPackage)
		}
		return builds[0], nil
	}
	b, err := s.deps.APKs.Get(c, id)
	if err != nil {
		return b, lookupError(err, "build", id)
	}
	if !b.Uploaded() {
		return b, errorf(fasthttp.StatusConflict, "not_uploaded", "build %s has no file yet; upload it first", id)
	}
	return b, nil
}

// enrollAPK is GET /v1/enroll/apk/{id}: a build's file for an enrollment
// script, which authenticates with its enroll key.
func (s *Server) enrollAPK(ctx *fasthttp.RequestCtx) {
	b, e := s.pathBuild(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	s.serveBuild(ctx, &b, pgstore.DownloadEnrollment, principal(ctx).Actor())
}

// enrollStatus is GET /v1/enroll/status?serial=: 200 once the device with
// serial has registered with the calling key (or, for a caller that is
// not an API key, at all); 404 not_registered before.
func (s *Server) enrollStatus(ctx *fasthttp.RequestCtx) {
	serial := strings.TrimSpace(string(ctx.QueryArgs().Peek("serial")))
	if serial == "" || len(serial) > 128 || !printable(serial, false) {
		writeError(ctx, fieldError("serial", "is required: the device's serial as adb shows it"))
		return
	}
	c, cancel := dbContext()
	defer cancel()
	reg, err := s.deps.Devices.RegistrationBySerial(c, serial)
	p := principal(ctx)
	notYet := errors.Is(err, persistence.ErrNotFound) ||
		(err == nil && p.Kind == "key" && (reg.EnrollKeyID == nil || *reg.EnrollKeyID != p.ID))
	switch {
	case notYet:
		writeError(ctx, errorf(fasthttp.StatusNotFound, "not_registered",
			"no device with serial %s has registered with this key yet", serial))
	case err != nil:
		writeError(ctx, storeUnavailable())
	default:
		writeJSON(ctx, fasthttp.StatusOK, reg)
	}
}
