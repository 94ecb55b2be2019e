package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	Messages  int64 `json:"messages"`
	Statuses  int64 `json:"device_statuses"` // device rows in device.status batches
	Bytes     int64 `json:"bytes"`           // message payload after decompression
	Summaries int64 `json:"summaries"`
	Dropped   int64 `json:"dropped"` // connections the server closed before the end
}

// Dashboards are admin WebSocket clients reading the live feed the way the
// dashboard does: subscribed to everything, reading as fast as they can.
type Dashboards struct {
	conns []*websocket.Conn
	wg    sync.WaitGroup
	done  atomic.Bool
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
	dialer := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 10 * time.Second}
	d := &Dashboards{stats: DashboardStats{Clients: n}}
	for range n {
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
		go d.read(conn)
	}
	return d, nil
}

// read counts what a dashboard receives without decoding it: the bench's
// dashboards share the machine with the server, so they must be cheap.
func (d *Dashboards) read(conn *websocket.Conn) {
	defer d.wg.Done()
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			if !d.done.Load() && !errors.Is(err, websocket.ErrCloseSent) {
				atomic.AddInt64(&d.stats.Dropped, 1)
			}
			return
		}
		atomic.AddInt64(&d.stats.Messages, 1)
		atomic.AddInt64(&d.stats.Bytes, int64(len(msg)))
		switch {
		case bytes.HasPrefix(msg, statusPrefix):
			// every device row has exactly one "enrolled_at"
			atomic.AddInt64(&d.stats.Statuses, int64(bytes.Count(msg, enrolledKey)))
		case bytes.HasPrefix(msg, summaryPrefix):
			atomic.AddInt64(&d.stats.Summaries, 1)
		}
	}
}

var (
	statusPrefix  = []byte(`{"type":"device.status"`)
	summaryPrefix = []byte(`{"type":"fleet.summary"`)
	enrolledKey   = []byte(`"enrolled_at":`)
)

// Close disconnects every dashboard and returns what they received.
func (d *Dashboards) Close() DashboardStats {
	d.done.Store(true)
	for _, c := range d.conns {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.Close()
	}
	d.wg.Wait()
	return d.stats
}
