package wshub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"
	"github.com/valyala/fastjson"
)

// Server message types the hub makes itself.
const (
	TypeStatus  = "device.status"
	TypeSummary = "fleet.summary"
)

// encoder holds the buffers of Run's goroutine, reused across flushes.
type encoder struct {
	status batch     // this flush's device statuses
	msg    []byte    // the message being built
	feed   []*client // this flush's recipients
}

// batch is JSON objects laid end to end in one buffer, with the device each
// is about, so one encoding serves every client's filter.
type batch struct {
	buf   []byte
	spans []span
}

type span struct {
	id         uuid.UUID // uuid.Nil: fleet-wide
	start, end int
}

func (b *batch) reset() { b.buf, b.spans = b.buf[:0], b.spans[:0] }

// commit keeps what was appended since start as id's element, or drops it.
func (b *batch) commit(id uuid.UUID, start int, ok bool) {
	if !ok || len(b.buf) == start {
		b.buf = b.buf[:start]
		return
	}
	b.spans = append(b.spans, span{id: id, start: start, end: len(b.buf)})
}

// split lays the elements keep accepts out as messages head[e1,e2,…]}, a
// new one whenever the next element would take a message past max bytes,
// and hands each to emit, which must copy what it keeps. msg is scratch
// space, returned for reuse. Nothing is emitted when nothing is kept.
func (b *batch) split(msg, head []byte, keep func(uuid.UUID) bool, max int, emit func([]byte)) []byte {
	msg = msg[:0]
	for _, s := range b.spans {
		if keep != nil && !keep(s.id) {
			continue
		}
		e := b.buf[s.start:s.end]
		if len(msg) > 0 && len(msg)+len(e)+3 > max {
			emit(append(msg, "]}"...))
			msg = msg[:0]
		}
		if len(msg) == 0 {
			msg = append(append(msg, head...), '[')
		} else {
			msg = append(msg, ',')
		}
		msg = append(msg, e...)
	}
	if len(msg) > 0 {
		msg = append(msg, "]}"...)
		emit(msg)
	}
	return msg
}

// flushStatus sends the statuses of the devices changed since the last
// flush. It drains the source even with nobody listening, so the source's
// change set stays small.
func (h *Hub) flushStatus(now time.Time) {
	h.changes = h.src.DrainChanged(h.changes[:0])
	if len(h.changes) == 0 || h.listeners.Load() == 0 {
		return
	}
	b := &h.enc.status
	b.reset()
	for _, c := range h.changes {
		start := len(b.buf)
		var ok bool
		b.buf, ok = h.src.AppendStatus(b.buf, c)
		b.commit(c.ID, start, ok)
	}
	h.broadcast(TypeStatus, now, b)
}

// flushEvents sends what was published since the last flush, one message
// (or a few, when large) per event type.
func (h *Hub) flushEvents(now time.Time) {
	h.evMu.Lock()
	evs := h.pending
	h.pending, h.spare = h.spare[:0], nil
	h.evMu.Unlock()
	if len(evs) > 0 && h.listeners.Load() > 0 {
		for _, g := range h.group(evs) {
			h.broadcast(g.typ, now, &g.batch)
		}
	}
	clear(evs) // let the payloads go
	h.evMu.Lock()
	h.spare = evs[:0]
	h.evMu.Unlock()
}

type typedBatch struct {
	typ string
	batch
}

// group encodes events by type, in the order types first appear.
func (h *Hub) group(evs []event) []*typedBatch {
	var groups []*typedBatch
	index := make(map[string]*typedBatch)
	var bad error
	for _, ev := range evs {
		payload, err := json.Marshal(ev.data)
		if err != nil {
			bad = fmt.Errorf("%s: %w", ev.typ, err)
			h.m.eventsDropped.Inc()
			continue
		}
		g := index[ev.typ]
		if g == nil {
			g = &typedBatch{typ: ev.typ}
			index[ev.typ] = g
			groups = append(groups, g)
		}
		start := len(g.buf)
		g.buf = appendElement(g.buf, ev.deviceID, payload)
		g.commit(ev.deviceID, start, true)
	}
	if bad != nil { // once per flush, not once per event
		h.log.Error().Str("event", "ws.event.encode").Err(bad).Msg("event payloads cannot be encoded; dropped")
	}
	return groups
}

// appendElement appends an event's payload with "device_id" added, so
// clients can tell which device it is about. A payload that is not an
// object goes under "value".
func appendElement(dst []byte, id uuid.UUID, payload []byte) []byte {
	if id == uuid.Nil {
		return append(dst, payload...)
	}
	isObject := payload[0] == '{'
	if isObject && bytes.Contains(payload, []byte(`"device_id"`)) && fastjson.Exists(payload, "device_id") {
		return append(dst, payload...) // the publisher said it already
	}
	dst = append(dst, `{"device_id":"`...)
	dst = append(dst, id.String()...)
	dst = append(dst, '"')
	switch {
	case string(payload) == "null":
		return append(dst, '}')
	case isObject && payload[1] == '}': // json.Marshal output is compact
		return append(dst, '}')
	case isObject:
		return append(append(dst, ','), payload[1:]...)
	default:
		dst = append(dst, `,"value":`...)
		return append(append(dst, payload...), '}')
	}
}

// pushSummary sends every client the fleet summary.
func (h *Hub) pushSummary(now time.Time) {
	if h.listeners.Load() == 0 {
		return
	}
	h.enc.msg = appendSummary(h.enc.msg[:0], h.src, now)
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, h.enc.msg)
	if err != nil {
		h.log.Error().Str("event", "ws.prepare").Err(err).Msg("summary cannot be framed")
		return
	}
	h.enc.feed = h.feed(h.enc.feed[:0])
	for _, c := range h.enc.feed {
		c.enqueue(outMsg{typ: TypeSummary, pm: pm})
	}
	clear(h.enc.feed)
}

func appendSummary(dst []byte, src Source, now time.Time) []byte {
	dst = appendHead(dst, TypeSummary, now)
	return append(src.AppendSummary(dst), '}')
}

// broadcast sends a batch: clients following every device share messages
// encoded (and compressed) once; the others get their own filtered copy.
func (h *Hub) broadcast(typ string, now time.Time, b *batch) {
	head := appendHead(nil, typ, now)
	h.enc.feed = h.feed(h.enc.feed[:0])
	var shared []*websocket.PreparedMessage
	for _, c := range h.enc.feed {
		sub := c.sub.Load()
		if !sub.all {
			h.enc.msg = b.split(h.enc.msg, head, sub.keep, h.cfg.MaxBatchBytes, func(m []byte) {
				c.enqueue(outMsg{typ: typ, data: bytes.Clone(m)})
			})
			continue
		}
		if shared == nil {
			shared = h.prepare(head, b)
		}
		for _, pm := range shared {
			if !c.enqueue(outMsg{typ: typ, pm: pm}) {
				break
			}
		}
	}
	clear(h.enc.feed)
}

// prepare frames a whole batch once for every client that takes it all.
func (h *Hub) prepare(head []byte, b *batch) []*websocket.PreparedMessage {
	shared := []*websocket.PreparedMessage{}
	h.enc.msg = b.split(h.enc.msg, head, nil, h.cfg.MaxBatchBytes, func(m []byte) {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, m) // copies m
		if err != nil {
			h.log.Error().Str("event", "ws.prepare").Err(err).Msg("batch cannot be framed")
			return
		}
		shared = append(shared, pm)
	})
	return shared
}

// appendHead appends the envelope up to its data: {"type":…,"at":…,"data":
func appendHead(dst []byte, typ string, now time.Time) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, typ)
	dst = append(dst, `,"at":"`...)
	dst = now.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `","data":`...)
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}
