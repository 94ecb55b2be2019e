package wshub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"
)

// clientMessage is every message a client may send:
//
//	{"type":"auth","token":"…"}
//	{"type":"subscribe","all":true}
//	{"type":"subscribe","device_id":"…"}
//	{"type":"unsubscribe","device_id":"…"}
type clientMessage struct {
	Type     string `json:"type"`
	Token    string `json:"token"`
	All      bool   `json:"all"`
	DeviceID string `json:"device_id"`
}

// subscription is which devices a client follows. Fleet-wide events reach
// every client.
type subscription struct {
	all     bool
	devices map[uuid.UUID]struct{} // when not all
}

func (s *subscription) keep(id uuid.UUID) bool {
	if id == uuid.Nil {
		return true
	}
	_, ok := s.devices[id]
	return ok
}

// errExpiredToken is an Authenticator's identity that has already expired.
var errExpiredToken = errors.New("wshub: token expired")

// authenticate checks a bearer token from remote ("ip:port"); the token
// itself is never logged.
func (h *Hub) authenticate(token, remote string, now time.Time) (Identity, error) {
	id, err := h.auth(token, now)
	if err == nil && !id.ExpiresAt.IsZero() && !id.ExpiresAt.After(now) {
		err = errExpiredToken
	}
	if err != nil {
		h.log.Info().Str("event", "ws.auth.fail").Err(err).Msg("dashboard client token rejected")
		if h.failed != nil {
			ip, _, splitErr := net.SplitHostPort(remote)
			if splitErr != nil {
				ip = remote
			}
			h.failed(ip)
		}
	}
	return id, err
}

// handle acts on one client message and reports whether the client is
// authenticated afterwards. Before auth, anything but auth closes the client.
func (c *client) handle(typ int, data []byte, authed bool) bool {
	var m clientMessage
	if typ != websocket.TextMessage || json.Unmarshal(data, &m) != nil {
		if !authed {
			c.close(causeAuthRequired)
			return false
		}
		c.replyError("bad_message", "messages are JSON objects in text frames")
		return true
	}
	if m.Type == "auth" {
		now := c.h.now()
		id, err := c.h.authenticate(m.Token, c.remote, now)
		if err != nil {
			c.close(causeAuthFailed)
			return false
		}
		return c.authenticated(id, now)
	}
	if !authed {
		c.close(causeAuthRequired)
		return false
	}
	switch m.Type {
	case "subscribe":
		c.subscribe(m)
	case "unsubscribe":
		c.unsubscribe(m)
	default:
		c.replyError("bad_message", fmt.Sprintf("unknown message type %q", m.Type))
	}
	return true
}

func (c *client) subscribe(m clientMessage) {
	if m.All {
		c.sub.Store(&subscription{all: true})
		c.replySubscription()
		return
	}
	id, err := uuid.Parse(m.DeviceID)
	if err != nil || id == uuid.Nil {
		c.replyError("bad_message", `subscribe takes "all":true or a device_id`)
		return
	}
	cur := c.sub.Load()
	next := &subscription{devices: make(map[uuid.UUID]struct{}, len(cur.devices)+1)}
	for d := range cur.devices { // none when cur.all: the first device replaces "all"
		next.devices[d] = struct{}{}
	}
	if _, ok := next.devices[id]; !ok && len(next.devices) >= c.h.cfg.MaxSubscriptions {
		c.replyError("too_many_subscriptions", fmt.Sprintf("a client follows at most %d devices", c.h.cfg.MaxSubscriptions))
		return
	}
	next.devices[id] = struct{}{}
	c.sub.Store(next)
	c.replySubscription()
}

func (c *client) unsubscribe(m clientMessage) {
	id, err := uuid.Parse(m.DeviceID)
	if err != nil {
		c.replyError("bad_message", "unsubscribe takes a device_id")
		return
	}
	cur := c.sub.Load()
	if cur.all {
		c.replyError("bad_message", "following all devices: subscribe to single devices first")
		return
	}
	next := &subscription{devices: make(map[uuid.UUID]struct{}, len(cur.devices))}
	for d := range cur.devices {
		if d != id {
			next.devices[d] = struct{}{}
		}
	}
	c.sub.Store(next)
	c.replySubscription()
}

// replySubscription confirms the subscription now in effect:
// {"type":"subscription","all":false,"device_ids":["…"]}.
func (c *client) replySubscription() {
	sub := c.sub.Load()
	ids := make([]string, 0, len(sub.devices))
	for d := range sub.devices {
		ids = append(ids, d.String())
	}
	slices.Sort(ids)
	data, _ := json.Marshal(struct {
		Type      string   `json:"type"`
		All       bool     `json:"all"`
		DeviceIDs []string `json:"device_ids"`
	}{"subscription", sub.all, ids})
	c.enqueue(outMsg{typ: "subscription", data: data})
}

// replyError tells the client a message was refused:
// {"type":"error","error":code,"message":text}.
func (c *client) replyError(code, message string) {
	data, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Error   string `json:"error"`
		Message string `json:"message"`
	}{"error", code, message})
	c.enqueue(outMsg{typ: "error", data: data})
}

// authOK is {"type":"auth.ok","expires_at":RFC3339Nano or null}.
func authOK(expires time.Time) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"auth.ok","expires_at":`)
	if expires.IsZero() {
		b.WriteString("null")
	} else {
		b.WriteByte('"')
		b.Write(expires.UTC().AppendFormat(nil, time.RFC3339Nano))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.Bytes()
}
