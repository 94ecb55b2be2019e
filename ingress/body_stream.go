package ingress

import (
	"io"
	"sync"

	"github.com/valyala/fasthttp"
)

// The server streams request bodies (fasthttp's StreamRequestBody) so that
// an APK upload never sits whole in memory. fasthttp then no longer refuses
// a body over MaxRequestBodySize: it calls the handler with the body still
// on the wire (8 KiB of it read ahead), and PostBody would read all of it,
// however large. bufferBody gives every other route what it had before:
// the body in memory, at most the server's limit of it, and 413 past it.

// maxBody is the largest body a route other than the upload takes.
func (s *Server) maxBody() int { return max(s.cfg.MaxBodyBytes, maxAdminBody) }

func bodyTooLarge(limit int) *Error {
	return errorf(fasthttp.StatusRequestEntityTooLarge, "body_too_large",
		"the body is larger than the limit of %d bytes", limit)
}

// bufferBody runs h once the request body is within the limit. A declared
// length over it is refused before a byte of the body is read; a chunked
// body is read up to the limit and then refused.
func (s *Server) bufferBody(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	limit := s.maxBody()
	return func(ctx *fasthttp.RequestCtx) {
		if e := readBody(ctx, limit); e != nil {
			writeError(ctx, e) // fasthttp drains what is left of the body, or closes past 256 KiB
			return
		}
		h(ctx)
	}
}

// readBody reads a streamed body within limit into the request, so that
// handlers use PostBody as before. fasthttp's own PostBody on a streamed
// body would also log a warning per request: on the heartbeat path that
// cost 10 % of throughput.
func readBody(ctx *fasthttp.RequestCtx, limit int) *Error {
	n := ctx.Request.Header.ContentLength()
	stream := ctx.RequestBodyStream()
	switch {
	case n > limit:
		return bodyTooLarge(limit)
	case stream == nil:
		return nil
	case n >= 0:
		return readKnownLength(ctx, stream, n)
	}
	body, err := io.ReadAll(io.LimitReader(stream, int64(limit)+1)) // chunked
	switch {
	case err != nil:
		return errorf(fasthttp.StatusBadRequest, "bad_request", "the request could not be read: %v", err)
	case len(body) > limit:
		return bodyTooLarge(limit)
	}
	ctx.Request.SetBody(body)
	return nil
}

// bodyBuffers are scratch space for bodies read off the stream; SetBody
// copies out of them.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func readKnownLength(ctx *fasthttp.RequestCtx, stream io.Reader, n int) *Error {
	bp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bp)
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	buf := (*bp)[:n]
	if _, err := io.ReadFull(stream, buf); err != nil {
		return errorf(fasthttp.StatusBadRequest, "bad_request", "the request could not be read: %v", err)
	}
	ctx.Request.SetBody(buf)
	return nil
}
