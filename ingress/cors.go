package ingress

import (
	"slices"

	"github.com/valyala/fasthttp"
)

// withCORS lets the configured origins call the API from a browser. It is
// off unless origins are configured: the dashboard is served same-origin.
// Credentials travel as bearer tokens, never cookies, so none are allowed.
func withCORS(origins []string, next fasthttp.RequestHandler) fasthttp.RequestHandler {
	if len(origins) == 0 {
		return next
	}
	return func(ctx *fasthttp.RequestCtx) {
		origin := ctx.Request.Header.Peek("Origin")
		if len(origin) == 0 {
			next(ctx)
			return
		}
		allowed := slices.Contains(origins, string(origin))
		preflight := ctx.IsOptions() && len(ctx.Request.Header.Peek("Access-Control-Request-Method")) > 0
		if preflight && !allowed {
			writeError(ctx, errorf(fasthttp.StatusForbidden, "cors_forbidden",
				"origin %s may not call this API; add it to NEXMDM_CORS_ORIGINS", origin))
			return
		}
		if preflight {
			h := &ctx.Response.Header
			h.Set("Access-Control-Allow-Origin", string(origin))
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Admin-Key")
			h.Set("Access-Control-Max-Age", "600")
			h.Add("Vary", "Origin")
			ctx.SetStatusCode(fasthttp.StatusNoContent)
			return
		}
		next(ctx)
		if allowed {
			ctx.Response.Header.Set("Access-Control-Allow-Origin", string(origin))
			ctx.Response.Header.Set("Access-Control-Expose-Headers", "Retry-After")
			ctx.Response.Header.Add("Vary", "Origin")
		}
	}
}
