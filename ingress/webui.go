package ingress

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

// The dashboard: a Vite build (Deps.UI) served from memory on the API's
// port. Every GET or HEAD that no route takes and that is not an API path
// gets a file of the build, and a path without one gets index.html, so that
// the client's routes (/devices/123) load the app. API paths keep their JSON
// 404. Hashed files under /assets/ are cached for a year; everything else
// is revalidated (ETag) on every load, so a new build shows at once.

const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
	gzipMinBytes    = 1024
)

// isAPIPath tells whether a path belongs to the API, whose unknown paths
// answer JSON 404 rather than the dashboard.
func isAPIPath(p []byte) bool {
	for _, prefix := range []string{"/admin", "/v1"} {
		if rest, ok := bytes.CutPrefix(p, []byte(prefix)); ok && (len(rest) == 0 || rest[0] == '/') {
			return true
		}
	}
	switch string(p) {
	case "/openapi.json", "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// uiFile is one file of the build, as served.
type uiFile struct {
	body        []byte
	contentType string
	cache       string // Cache-Control
	etag        string // for revalidation; empty on immutable assets

	gzipOnce sync.Once
	gzipped  []byte // nil: served as is
	gzipable bool
}

// gzip is the file compressed, made on first use; nil when not worth it.
func (f *uiFile) gzip() []byte {
	if !f.gzipable {
		return nil
	}
	f.gzipOnce.Do(func() {
		z := fasthttp.AppendGzipBytesLevel(nil, f.body, fasthttp.CompressBestCompression)
		if len(z) < len(f.body)*9/10 {
			f.gzipped = z
		}
	})
	return f.gzipped
}

// webUI is a loaded build. index is nil when the build has no index.html:
// the dashboard was not built, and every page says how to build it.
type webUI struct {
	files map[string]*uiFile // by URL path: "/index.html", "/assets/index-3f2a.js"
	index *uiFile
}

// loadWebUI reads every file of the build into memory.
func loadWebUI(fsys fs.FS) (*webUI, error) {
	u := &webUI{files: map[string]*uiFile{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		u.files["/"+p] = newUIFile(p, body)
		return nil
	})
	if err != nil {
		return nil, err
	}
	u.index = u.files["/index.html"]
	return u, nil
}

func newUIFile(name string, body []byte) *uiFile {
	ct := contentTypeOf(name, body)
	f := &uiFile{body: body, contentType: ct, cache: cacheRevalidate}
	if strings.HasPrefix(name, "assets/") {
		f.cache = cacheImmutable
	} else {
		sum := sha256.Sum256(body)
		f.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	}
	f.gzipable = len(body) >= gzipMinBytes && compressible(ct)
	return f
}

// uiTypes are the types a Vite build has that Go's own table may lack
// (it falls back to the system's, which differs between machines).
var uiTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
	".json": "application/json", ".map": "application/json", ".webmanifest": "application/manifest+json",
	".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".webp": "image/webp",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".txt": "text/plain; charset=utf-8",
	".wasm": "application/wasm",
}

func contentTypeOf(name string, body []byte) string {
	ext := strings.ToLower(path.Ext(name))
	if ct, ok := uiTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return http.DetectContentType(body)
}

func compressible(contentType string) bool {
	t, _, _ := strings.Cut(contentType, ";")
	switch t {
	case "text/html", "text/javascript", "text/css", "text/plain", "application/json",
		"application/manifest+json", "image/svg+xml", "image/x-icon", "application/wasm", "font/ttf":
		return true
	}
	return false
}

// notFound answers what no route takes: a file of the dashboard for a GET
// or HEAD outside the API, else the JSON 404 of the API. Without a UI (nil)
// everything is the JSON 404.
func (s *Server) notFound(ui fs.FS) fasthttp.RequestHandler {
	apiNotFound := func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, errorf(fasthttp.StatusNotFound, "not_found", "no route %s %s", ctx.Method(), ctx.Path()))
	}
	if ui == nil {
		return apiNotFound
	}
	u, err := loadWebUI(ui)
	if err != nil {
		s.log.Error().Str("event", "dashboard.load.error").Err(err).Msg("the dashboard's files could not be read; it is not served")
		u = &webUI{}
	}
	get := s.m.instrument("GET", "(dashboard)", u.serve)
	head := s.m.instrument("HEAD", "(dashboard)", u.serve)
	return func(ctx *fasthttp.RequestCtx) {
		switch {
		case isAPIPath(ctx.Path()):
			apiNotFound(ctx)
		case ctx.IsGet():
			get(ctx)
		case ctx.IsHead():
			head(ctx)
		default:
			apiNotFound(ctx)
		}
	}
}

// serve answers a GET or HEAD for a dashboard path.
func (u *webUI) serve(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("X-Content-Type-Options", "nosniff")
	if u.index == nil {
		if bytes.HasPrefix(ctx.Path(), []byte("/assets/")) {
			u.missing(ctx)
			return
		}
		h.Set("Cache-Control", "no-store")
		h.SetContentType("text/html; charset=utf-8")
		ctx.SetBodyString(notBuiltPage)
		return
	}
	f := u.files[string(ctx.Path())]
	if f == nil {
		if bytes.HasPrefix(ctx.Path(), []byte("/assets/")) {
			u.missing(ctx) // an old build's file: never index.html under a JS name
			return
		}
		f = u.index // a client-side route
	}
	h.Set("Cache-Control", f.cache)
	h.SetContentType(f.contentType)
	if f == u.index {
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		h.Set("Referrer-Policy", "same-origin")
	}
	if f.gzipable {
		h.Add("Vary", "Accept-Encoding")
	}
	body, etag := f.body, f.etag
	if ctx.Request.Header.HasAcceptEncoding("gzip") {
		if z := f.gzip(); z != nil {
			h.SetContentEncoding("gzip")
			body = z
			if etag != "" { // each encoding has its own tag
				etag = strings.TrimSuffix(etag, `"`) + `-gz"`
			}
		}
	}
	if etag != "" {
		h.Set("ETag", etag)
		if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagMatches(inm, etag) {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
	}
	ctx.SetBody(body)
}

func (u *webUI) missing(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusNotFound)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString("not found: this file is not part of the dashboard's current build; reload the page\n")
}

// etagMatches reads an If-None-Match list: "*", or tags, weak or strong.
func etagMatches(header []byte, etag string) bool {
	for _, t := range strings.Split(string(header), ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// notBuiltPage is every dashboard page of a binary built without the UI.
const notBuiltPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>NexMDM: the dashboard was not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2937}
code,pre{background:#f3f4f6;border-radius:4px;padding:.1rem .3rem}pre{padding:.75rem}</style></head>
<body>
<h1>The dashboard was not built</h1>
<p>This nexmdm binary was built without the admin dashboard, so there is no
page to show. The API works as usual: see <a href="/openapi.json">/openapi.json</a>.</p>
<p>Build the dashboard (it needs Node.js and npm) and then the server, which embeds it:</p>
<pre>make ui      # npm ci and npm run build in admin-ui/
make build   # or make run, which do both</pre>
<p>While working on the dashboard, <code>make dev</code> serves it with hot reload.</p>
</body>
</html>
`
