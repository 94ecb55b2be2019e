package wshub

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// Handle serves GET /admin/ws. A valid ?token= authenticates before the
// upgrade (an invalid one gets 401); without one, the client must send
// {"type":"auth","token":…} within AuthTimeout. Over MaxClients, or after
// Run has ended, it answers 503.
func (h *Hub) Handle(ctx *fasthttp.RequestCtx) {
	if err := h.full(); err != nil {
		ctx.Response.Header.Set("Retry-After", "5")
		writeError(ctx, fasthttp.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	var pre *Identity
	remote := ctx.RemoteAddr().String()
	if tok := ctx.QueryArgs().Peek("token"); len(tok) > 0 {
		id, err := h.authenticate(string(tok), remote, h.now())
		if err != nil {
			writeError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "the token is invalid or expired")
			return
		}
		pre = &id
	}
	err := h.upgrader.Upgrade(ctx, func(conn *websocket.Conn) { h.serve(conn, pre, remote) })
	if err != nil {
		h.log.Debug().Str("event", "ws.upgrade.fail").Str("remote", remote).Err(err).Msg("websocket upgrade refused")
	}
}

// serve runs one connection; fasthttp closes it when serve returns.
func (h *Hub) serve(conn *websocket.Conn, pre *Identity, remote string) {
	c := newClient(h, conn, remote)
	if err := h.add(c); err != nil {
		why := causeShutdown
		if errors.Is(err, ErrFull) {
			why = causeFull
		}
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(why.code, why.reason), time.Now().Add(closeGrace))
		return
	}
	go c.writeLoop()
	c.readLoop(pre)
	<-c.writerDone
	h.remove(c)
	c.logClose()
}

// checkOrigin allows same-origin browsers, the configured extra origins,
// and clients that send no Origin (not browsers; they still need a token).
func (h *Hub) checkOrigin(ctx *fasthttp.RequestCtx) bool {
	origin := string(ctx.Request.Header.Peek("Origin"))
	if origin == "" {
		return true
	}
	for _, o := range h.cfg.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, string(ctx.Host()))
}

// upgradeError answers a refused handshake in the API's error shape.
func upgradeError(ctx *fasthttp.RequestCtx, status int, reason error) {
	code := "bad_request"
	switch status {
	case fasthttp.StatusForbidden:
		code = "forbidden_origin"
	case fasthttp.StatusMethodNotAllowed:
		code = "method_not_allowed"
	}
	writeError(ctx, status, code, reason.Error())
}

// writeError writes {"error": code, "message": text}, as the rest of the API does.
func writeError(ctx *fasthttp.RequestCtx, status int, code, message string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	body, _ := json.Marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{code, message})
	ctx.SetBody(body)
}
