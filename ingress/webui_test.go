package ingress

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/ingress/adminauth"
)

const testIndex = `<!doctype html><html><head><script type="module" src="/assets/index-3f2a9c.js"></script></head><body><div id="root"></div></body></html>`

// testBuild is a Vite build as `npm run build` lays it out.
func testBuild() fstest.MapFS {
	return fstest.MapFS{
		"index.html":               {Data: []byte(testIndex)},
		"favicon.svg":              {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		"assets/index-3f2a9c.js":   {Data: []byte("console.log('" + strings.Repeat("nexmdm dashboard ", 400) + "')")},
		"assets/index-77ab01.css":  {Data: []byte("body{color:red}")},
		"assets/_commonjs-9c1.js":  {Data: []byte("export {}")},
		"assets/inter-4b2e.woff2":  {Data: []byte("wOF2 font bytes")},
		"assets/logo-aa11bb.png":   {Data: []byte("\x89PNG\r\n\x1a\n")},
		"assets/nested/chunk-1.js": {Data: []byte("export const x = 1")},
	}
}

func uiServer(ui fstest.MapFS) fasthttp.RequestHandler {
	deps := Deps{Registry: prometheus.NewRegistry(), Sessions: adminauth.NewSessions("webui-test-secret")}
	if ui != nil {
		deps.UI = ui
	}
	return New(DefaultConfig(), deps).Handler()
}

type uiAnswer struct {
	status int
	header map[string]string
	body   []byte
}

func (a uiAnswer) h(name string) string { return a.header[strings.ToLower(name)] }

func uiRequest(h fasthttp.RequestHandler, method, path string, headers ...string) uiAnswer {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	h(&ctx)
	a := uiAnswer{status: ctx.Response.StatusCode(), header: map[string]string{}, body: append([]byte(nil), ctx.Response.Body()...)}
	for k, v := range ctx.Response.Header.All() {
		a.header[strings.ToLower(string(k))] = string(v)
	}
	return a
}

func TestDashboardServesIndexForClientRoutes(t *testing.T) {
	h := uiServer(testBuild())
	for _, p := range []string{"/", "/index.html", "/devices", "/devices/3f1c9a8e-0000-4000-8000-000000000001", "/settings/users", "/login?next=%2Falerts", "/devices/"} {
		a := uiRequest(h, "GET", p)
		assert.Equal(t, 200, a.status, p)
		assert.Equal(t, testIndex, string(a.body), p)
		assert.Equal(t, "text/html; charset=utf-8", a.h("Content-Type"), p)
		assert.Equal(t, "no-cache", a.h("Cache-Control"), "%s: index.html is revalidated, so a new build shows at once", p)
		assert.NotEmpty(t, a.h("ETag"), p)
		assert.Equal(t, "DENY", a.h("X-Frame-Options"), p)
	}
}

func TestDashboardCachesHashedAssetsForAYear(t *testing.T) {
	h := uiServer(testBuild())
	for p, ct := range map[string]string{
		"/assets/index-3f2a9c.js":   "text/javascript; charset=utf-8",
		"/assets/index-77ab01.css":  "text/css; charset=utf-8",
		"/assets/_commonjs-9c1.js":  "text/javascript; charset=utf-8",
		"/assets/inter-4b2e.woff2":  "font/woff2",
		"/assets/logo-aa11bb.png":   "image/png",
		"/assets/nested/chunk-1.js": "text/javascript; charset=utf-8",
	} {
		a := uiRequest(h, "GET", p)
		require.Equal(t, 200, a.status, p)
		assert.Equal(t, ct, a.h("Content-Type"), p)
		assert.Equal(t, "public, max-age=31536000, immutable", a.h("Cache-Control"), p)
		assert.Equal(t, "nosniff", a.h("X-Content-Type-Options"), p)
		assert.Equal(t, string(testBuild()[strings.TrimPrefix(p, "/")].Data), string(a.body), p)
	}
	// Files outside assets/ are not hashed: revalidated like index.html.
	a := uiRequest(h, "GET", "/favicon.svg")
	assert.Equal(t, "image/svg+xml", a.h("Content-Type"))
	assert.Equal(t, "no-cache", a.h("Cache-Control"))
}

// A missing asset (a tab still on an old build) is a 404, never index.html
// under a script's name, which would be cached for a year.
func TestDashboardMissingAssetIsNotFound(t *testing.T) {
	a := uiRequest(uiServer(testBuild()), "GET", "/assets/index-0ld.js")
	assert.Equal(t, 404, a.status)
	assert.Equal(t, "no-store", a.h("Cache-Control"))
	assert.NotContains(t, string(a.body), "<html")
}

func TestAPIPathsKeepTheirJSONNotFound(t *testing.T) {
	h := uiServer(testBuild())
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin"}, {"GET", "/admin/"}, {"GET", "/admin/no-such-thing"}, {"GET", "/admin/devices/x/y/z"},
		{"GET", "/v1"}, {"GET", "/v1/nope"}, {"HEAD", "/v1/nope"},
		{"POST", "/devices"}, {"DELETE", "/"}, {"PUT", "/index.html"},
	} {
		a := uiRequest(h, r.method, r.path)
		assert.Equal(t, 404, a.status, "%s %s", r.method, r.path)
		assert.Equal(t, "application/json", a.h("Content-Type"), "%s %s", r.method, r.path)
		if r.method != "HEAD" {
			var e map[string]string
			require.NoError(t, json.Unmarshal(a.body, &e), "%s %s: %s", r.method, r.path, a.body)
			assert.Equal(t, "not_found", e["error"], "%s %s", r.method, r.path)
		}
	}
	// The routes themselves are untouched.
	a := uiRequest(h, "GET", "/healthz")
	assert.Equal(t, 200, a.status)
	assert.JSONEq(t, `{"status":"ok"}`, string(a.body))
	assert.Equal(t, 200, uiRequest(h, "GET", "/openapi.json").status)
	assert.Equal(t, 200, uiRequest(h, "GET", "/metrics").status)
	assert.Equal(t, 405, uiRequest(h, "GET", "/admin/auth/login").status, "a route's other methods still answer 405")
}

func TestDashboardGzipsWhatShrinks(t *testing.T) {
	h := uiServer(testBuild())
	a := uiRequest(h, "GET", "/assets/index-3f2a9c.js", "Accept-Encoding", "gzip, deflate, br")
	require.Equal(t, 200, a.status)
	assert.Equal(t, "gzip", a.h("Content-Encoding"))
	assert.Equal(t, "Accept-Encoding", a.h("Vary"))
	zr, err := gzip.NewReader(bytes.NewReader(a.body))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, testBuild()["assets/index-3f2a9c.js"].Data, plain)

	plainAnswer := uiRequest(h, "GET", "/assets/index-3f2a9c.js")
	assert.Empty(t, plainAnswer.h("Content-Encoding"), "no Accept-Encoding: as is")
	assert.Equal(t, testBuild()["assets/index-3f2a9c.js"].Data, plainAnswer.body)

	small := uiRequest(h, "GET", "/assets/index-77ab01.css", "Accept-Encoding", "gzip")
	assert.Empty(t, small.h("Content-Encoding"), "too small to be worth it")
	png := uiRequest(h, "GET", "/assets/logo-aa11bb.png", "Accept-Encoding", "gzip")
	assert.Empty(t, png.h("Content-Encoding"))
}

func TestDashboardRevalidatesWithETag(t *testing.T) {
	h := uiServer(testBuild())
	first := uiRequest(h, "GET", "/devices/42")
	etag := first.h("ETag")
	require.NotEmpty(t, etag)
	again := uiRequest(h, "GET", "/", "If-None-Match", etag)
	assert.Equal(t, 304, again.status)
	assert.Empty(t, again.body)
	assert.Equal(t, "no-cache", again.h("Cache-Control"))
	assert.Equal(t, 200, uiRequest(h, "GET", "/", "If-None-Match", `"another-build"`).status)
}

func TestDashboardHEAD(t *testing.T) {
	h := uiServer(testBuild())
	a := uiRequest(h, "HEAD", "/devices")
	assert.Equal(t, 200, a.status)
	assert.Equal(t, "text/html; charset=utf-8", a.h("Content-Type"))
	assert.Equal(t, "no-cache", a.h("Cache-Control"))
}

// A binary built without `make ui` says so on every page, and how to fix it.
func TestDashboardNotBuiltPage(t *testing.T) {
	h := uiServer(fstest.MapFS{})
	for _, p := range []string{"/", "/devices/1"} {
		a := uiRequest(h, "GET", p)
		assert.Equal(t, 200, a.status, p)
		assert.Equal(t, "text/html; charset=utf-8", a.h("Content-Type"), p)
		assert.Contains(t, string(a.body), "dashboard was not built", p)
		assert.Contains(t, string(a.body), "make ui", p)
		assert.Equal(t, "no-store", a.h("Cache-Control"), "%s: once built, the real page shows at once", p)
	}
	assert.Equal(t, 404, uiRequest(h, "GET", "/assets/index-3f2a9c.js").status)
	assert.Equal(t, "application/json", uiRequest(h, "GET", "/admin/nope").h("Content-Type"))
}

// Without a UI at all every unknown path is the API's JSON 404.
func TestNoDashboardMeansJSONNotFound(t *testing.T) {
	a := uiRequest(uiServer(nil), "GET", "/")
	assert.Equal(t, 404, a.status)
	assert.Equal(t, "application/json", a.h("Content-Type"))
}

func TestIsAPIPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/admin": true, "/admin/x": true, "/v1": true, "/v1/heartbeat": true, "/openapi.json": true,
		"/healthz": true, "/readyz": true, "/metrics": true,
		"/": false, "/administrators": false, "/v1x": false, "/devices": false, "/alerts/1": false, "/metrics/x": false,
	} {
		assert.Equal(t, want, isAPIPath([]byte(p)), p)
	}
}
