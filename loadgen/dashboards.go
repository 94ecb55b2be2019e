package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// DashboardStats is what a set of dashboards received from the live feed.
type DashboardStats struct {
	Clients   int   `json:"clients"`
	Messages  int64 `json:"messages"`   // by all dashboards
	WireBytes int64 `json:"wire_bytes"` // read from all their sockets: frames as sent, compressed
	Dropped   int64 `json:"dropped"`    // connections the server closed before the end
	// What the one dashboard that inflates and counts everything got.
	Statuses  int64 `json:"device_statuses_each"` // device elements in device.status batches
	Bytes     int64 `json:"bytes_each"`           // message payload after decompression
	Summaries int64 `json:"summaries_each"`
}

// Dashboards are admin WebSocket clients reading the live feed the way the
// dashboard does: subscribed to everything, reading every frame as fast as
// they can. One inflates and counts every message; the others drain the
// frames as sent, compressed: a browser inflates on its own machine, while
// the bench's dashboards share two cores with the server, and a hundred
// inflating measured the loadgen rather than the server.
type Dashboards struct {
	conns []*websocket.Conn
	wg    sync.WaitGroup
	done  atomic.Bool
	wire  atomic.Int64
	stats DashboardStats
}

// Login returns an access token for a dashboard user.
func Login(ctx context.Context, baseURL, username, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	req, err := http.NewRequestWithContext(ctx, "POST", baseURL+"/admin/auth/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Message     string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login as %s: status %d %s", username, resp.StatusCode, out.Message)
	}
	return out.AccessToken, nil
}

// OpenDashboards connects n dashboards to baseURL's /admin/ws with token.
func OpenDashboards(ctx context.Context, baseURL, token string, n int) (*Dashboards, error) {
	wsURL := "ws" + strings.TrimPrefix(baseURL, "http") + "/admin/ws?token=" + token
	d := &Dashboards{stats: DashboardStats{Clients: n}}
	dialer := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 10 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, n: &d.wire}, nil
		}}
	for i := range n {
		conn, resp, err := dialer.DialContext(ctx, wsURL, nil)
		if err != nil {
			d.Close()
			if resp != nil {
				return nil, fmt.Errorf("connect a dashboard: %w (HTTP %d)", err, resp.StatusCode)
			}
			return nil, fmt.Errorf("connect a dashboard: %w", err)
		}
		d.conns = append(d.conns, conn)
		d.wg.Add(1)
		go d.read(conn, i == 0)
	}
	return d, nil
}

// read reads a dashboard's messages until its connection ends; counting,
// it inflates and counts them, otherwise it skips each one's frames.
// Each message streams through one kept buffer; read whole, 100
// dashboards' tens of MB a second were as many bytes of garbage.
func (d *Dashboards) read(conn *websocket.Conn, counting bool) {
	defer d.wg.Done()
	var buf []byte
	if counting {
		buf = make([]byte, 32<<10)
	}
	for {
		var m scannedMessage
		_, r, err := conn.NextReader()
		if err == nil && counting {
			m, err = scanMessage(r, buf)
		}
		if err != nil {
			if !d.done.Load() && !errors.Is(err, websocket.ErrCloseSent) {
				atomic.AddInt64(&d.stats.Dropped, 1)
			}
			return
		}
		atomic.AddInt64(&d.stats.Messages, 1)
		if !counting {
			continue
		}
		atomic.AddInt64(&d.stats.Bytes, m.bytes)
		switch {
		case m.status:
			atomic.AddInt64(&d.stats.Statuses, m.rows)
		case m.summary:
			atomic.AddInt64(&d.stats.Summaries, 1)
		}
	}
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

var (
	statusPrefix  = []byte(`{"type":"device.status"`)
	summaryPrefix = []byte(`{"type":"fleet.summary"`)
	rowKey        = []byte(`{"id":`) // every device.status element, whole row or patch, starts so
)

// scannedMessage is what scanMessage saw of a message.
type scannedMessage struct {
	bytes           int64
	rows            int64 // rowKey's occurrences
	status, summary bool  // by the message's first bytes
}

// scanMessage reads r to its end through buf, counting rowKey also where
// it spans two reads.
func scanMessage(r io.Reader, buf []byte) (scannedMessage, error) {
	var m scannedMessage
	var headBytes [32]byte
	head := headBytes[:0]
	keep := len(rowKey) - 1 // a match needs one byte more than this tail
	carry := 0
	for {
		n, err := r.Read(buf[carry:])
		if n > 0 {
			read := buf[carry : carry+n]
			head = append(head, read[:min(n, cap(head)-len(head))]...)
			m.bytes += int64(n)
			window := buf[:carry+n]
			m.rows += int64(bytes.Count(window, rowKey))
			carry = copy(buf, window[max(0, len(window)-keep):])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, err
		}
	}
	m.status = bytes.HasPrefix(head, statusPrefix)
	m.summary = bytes.HasPrefix(head, summaryPrefix)
	return m, nil
}

// Close disconnects every dashboard and returns what they received.
func (d *Dashboards) Close() DashboardStats {
	d.done.Store(true)
	for _, c := range d.conns {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.Close()
	}
	d.wg.Wait()
	d.stats.WireBytes = d.wire.Load()
	return d.stats
}
