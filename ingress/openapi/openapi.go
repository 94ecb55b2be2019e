// Package openapi is the OpenAPI 3 description of NexMDM's whole HTTP API:
// the device protocol, the admin API, the live feed, health and metrics. It
// holds the hand-written document and serves it at GET /openapi.json.
// Tests keep it true: ingress checks that it names exactly the server's
// routes, and the end-to-end tests check real answers against it with
// openapitest. The server itself never validates against it.
package openapi

import (
	_ "embed"
	"slices"

	"github.com/valyala/fasthttp"
)

//go:embed openapi.json
var document []byte

// JSON returns the document.
func JSON() []byte { return slices.Clone(document) }

// Handler serves the document: GET /openapi.json.
func Handler(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(document)
}
