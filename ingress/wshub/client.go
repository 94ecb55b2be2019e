package wshub

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// closeGrace bounds the close handshake: writing our close frame, then
// waiting for the client's.
const closeGrace = time.Second

// CloseUnauthorized is the close code for missing, invalid or expired
// credentials, mirroring HTTP 401.
const CloseUnauthorized = 4401

// cause is why a connection ends.
type cause struct {
	code   int    // close frame code; 0: send none
	reason string // close frame text and the log's reason
	drop   string // the dropped-clients metric label, when the client is at fault
}

var (
	causeShutdown     = cause{websocket.CloseGoingAway, "server shutting down", ""}
	causeFull         = cause{websocket.CloseTryAgainLater, "too many clients", ""}
	causePeer         = cause{0, "client closed", ""} // the library answered its close frame
	causeLost         = cause{0, "connection lost", ""}
	causeSlow         = cause{websocket.ClosePolicyViolation, "slow consumer", "slow"}
	causeWriteFailed  = cause{0, "write failed", "write_error"}
	causePong         = cause{websocket.ClosePolicyViolation, "pong timeout", "pong_timeout"}
	causeTooBig       = cause{0, "message too big", "read_limit"} // the library sent 1009
	causeAuthTimeout  = cause{CloseUnauthorized, "authentication timed out", "auth_timeout"}
	causeAuthRequired = cause{CloseUnauthorized, "authenticate first", "auth_required"}
	causeAuthFailed   = cause{CloseUnauthorized, "invalid token", "auth_failed"}
	causeExpired      = cause{CloseUnauthorized, "token expired", "token_expired"}
)

// outMsg is a queued server message: shared and pre-framed, or this client's own.
type outMsg struct {
	typ  string // for the sent-messages metric
	pm   *websocket.PreparedMessage
	data []byte
}

// client is one connection. Its reader goroutine (the upgrade callback)
// handles client messages; its writer goroutine alone writes data frames.
type client struct {
	h          *Hub
	conn       *websocket.Conn
	raw        net.Conn // closing it unblocks both goroutines
	remote     string
	since      time.Time
	send       chan outMsg   // never closed, so enqueuing never panics
	done       chan struct{} // closed by close
	readerDone chan struct{}
	writerDone chan struct{}
	once       sync.Once
	why        cause // set once, before done closes

	ready   atomic.Bool                  // authenticated and in the feed
	expires atomic.Int64                 // unix ns when the credential expires; 0: never
	sub     atomic.Pointer[subscription] // replaced whole, read by the flush loop

	actor string // the reader's; others read it after readerDone
}

func newClient(h *Hub, conn *websocket.Conn, remote string) *client {
	c := &client{
		h: h, conn: conn, raw: unwrap(conn.NetConn()), remote: remote, since: time.Now(),
		send:       make(chan outMsg, h.cfg.SendQueue),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.sub.Store(&subscription{all: true})
	return c
}

// unwrap returns fasthttp's connection under its hijack wrapper, whose
// Close does nothing: the server closes it after the upgrade callback.
func unwrap(nc net.Conn) net.Conn {
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		return u.UnsafeConn()
	}
	return nc
}

// close ends the client for why; the first call wins and reports true.
func (c *client) close(why cause) bool {
	first := false
	c.once.Do(func() {
		first = true
		c.why = why
		close(c.done)
		if why.drop != "" {
			c.h.m.dropped.WithLabelValues(why.drop).Inc()
		}
	})
	return first
}

func (c *client) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// enqueue queues m without waiting. A client whose queue is full is
// dropped on the spot, so it never holds up the flush loop.
func (c *client) enqueue(m outMsg) bool {
	if c.closing() {
		return false
	}
	select {
	case c.send <- m:
		return true
	default:
		if c.close(causeSlow) {
			_ = c.raw.Close() // its socket is full: no close frame would get through
		}
		return false
	}
}

func (c *client) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.h.cfg.PingInterval)
	defer ping.Stop()
	for {
		if c.closing() { // before more queued messages
			c.goodbye()
			return
		}
		var err error
		select {
		case <-c.done:
			continue
		case m := <-c.send:
			err = c.write(m)
		case <-ping.C:
			err = c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.cfg.WriteTimeout))
		}
		if err != nil {
			c.close(causeWriteFailed)
			_ = c.raw.Close()
			return
		}
	}
}

func (c *client) write(m outMsg) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.h.cfg.WriteTimeout))
	var err error
	if m.pm != nil {
		err = c.conn.WritePreparedMessage(m.pm)
	} else {
		err = c.conn.WriteMessage(websocket.TextMessage, m.data)
	}
	if err == nil {
		c.h.m.sent.WithLabelValues(m.typ).Inc()
	}
	return err
}

// goodbye sends the close frame, gives the client a moment to answer it
// (the reader sees the answer), then ends the connection.
func (c *client) goodbye() {
	if c.why.code != 0 {
		msg := websocket.FormatCloseMessage(c.why.code, c.why.reason)
		_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeGrace))
	}
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
	}
	_ = c.raw.Close()
}

// readLoop reads until the connection fails. pre is the identity from the
// query token, if any. Once the client is closing, it only drains, so the
// client's close frame is read and the socket ends cleanly.
func (c *client) readLoop(pre *Identity) {
	defer close(c.readerDone)
	cfg := c.h.cfg
	c.conn.SetReadLimit(cfg.MaxMessageBytes)
	authed := false
	c.conn.SetPongHandler(func(string) error {
		if !authed { // pongs must not stretch the auth deadline
			return nil
		}
		return c.conn.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
	})
	_ = c.conn.SetReadDeadline(time.Now().Add(cfg.AuthTimeout))
	if pre != nil {
		authed = c.authenticated(*pre, c.h.now())
	}
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			c.close(readCause(err, authed))
			return
		}
		if c.closing() {
			continue
		}
		if authed {
			_ = c.conn.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
		}
		authed = c.handle(typ, data, authed)
	}
}

func readCause(err error, authed bool) cause {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return causePeer
	case errors.Is(err, websocket.ErrReadLimit):
		return causeTooBig
	case errors.As(err, &ne) && ne.Timeout() && authed:
		return causePong
	case errors.As(err, &ne) && ne.Timeout():
		return causeAuthTimeout
	default:
		return causeLost
	}
}

// authenticated applies a valid identity: the first time, the client gets
// the fleet summary and joins the feed.
func (c *client) authenticated(id Identity, now time.Time) bool {
	c.actor = id.Actor
	if id.ExpiresAt.IsZero() {
		c.expires.Store(0)
	} else {
		c.expires.Store(id.ExpiresAt.UnixNano())
	}
	first := !c.ready.Load()
	if first { // logged before the client can read its answer, so the log is in order
		c.h.log.Info().Str("event", "ws.client.connect").Str("remote", c.remote).Str("actor", id.Actor).Msg("dashboard client connected")
	}
	c.enqueue(outMsg{typ: "auth.ok", data: authOK(id.ExpiresAt)})
	if first {
		// In the feed before the summary goes out: a client that has its
		// summary gets every event published after it.
		c.h.listen(c)
		c.enqueue(outMsg{typ: TypeSummary, data: appendSummary(nil, c.h.src, now)})
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(c.h.cfg.PongTimeout))
	return true
}

// logClose records how the connection ended, after both goroutines have.
func (c *client) logClose() {
	log := c.h.log
	if c.why.drop != "" {
		log.Warn().Str("event", "ws.client.dropped").Str("remote", c.remote).Str("actor", c.actor).
			Str("reason", c.why.drop).Msg("dashboard client dropped")
	}
	log.Info().Str("event", "ws.client.close").Str("remote", c.remote).Str("actor", c.actor).
		Str("reason", c.why.reason).Int("code", c.why.code).Dur("duration", time.Since(c.since)).
		Msg("dashboard client closed")
}
