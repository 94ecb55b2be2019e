package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/loadgen/fakefcm"
)

// RoundTrip measures commands end to end, as an operator sees them: from
// the admin's POST to the device's result being accepted. Commands reach
// the simulated devices as FCM pushes from a local fake; each device
// answers with POST /v1/action-result at once.
type RoundTrip struct {
	BaseURL  string
	AdminKey string
	FCM      *fakefcm.Server
	Devices  []Credential // each pushed to at FCMToken(Serial)
	Commands int
	Rate     float64       // commands per second
	Timeout  time.Duration // a command with no result by then is lost
	Client   *http.Client
}

// RoundTripReport is what a RoundTrip measured.
type RoundTripReport struct {
	Sent      int     `json:"sent"`
	Completed int     `json:"completed"`
	Lost      int     `json:"lost"`
	Latency   Latency `json:"latency_ms"`
}

// FCMToken is the FCM token a simulated device registers.
func FCMToken(serial string) string { return "loadgen-" + serial }

// Run sends Commands commands at Rate, one device after another, and waits
// for their results.
func (r *RoundTrip) Run(ctx context.Context) (*RoundTripReport, error) {
	if r.Client == nil {
		r.Client = &http.Client{Timeout: 30 * time.Second}
	}
	var (
		mu   sync.Mutex
		sent = map[string][]time.Time{} // device id -> when its unanswered commands were posted, oldest first
		hist = hdrhistogram.New(latLowest, latHighest, latDigits)
		done = make(chan struct{}, r.Commands)
	)
	for _, d := range r.Devices {
		d := d
		r.FCM.OnMessage(FCMToken(d.Serial), func(m fakefcm.Message) {
			go func() {
				if err := r.answer(ctx, d, m); err != nil {
					return
				}
				mu.Lock()
				q := sent[d.DeviceID]
				ok := len(q) > 0
				if ok {
					hist.RecordValue(time.Since(q[0]).Microseconds())
					sent[d.DeviceID] = q[1:]
				}
				mu.Unlock()
				if ok {
					done <- struct{}{}
				}
			}()
		})
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / r.Rate))
	defer tick.Stop()
	rep := &RoundTripReport{}
	for i := 0; i < r.Commands; i++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		d := r.Devices[i%len(r.Devices)]
		mu.Lock()
		sent[d.DeviceID] = append(sent[d.DeviceID], time.Now())
		mu.Unlock()
		if err := r.post(ctx, d.DeviceID); err != nil {
			return nil, err
		}
		rep.Sent++
	}
	deadline := time.After(r.Timeout)
	for rep.Completed < rep.Sent {
		select {
		case <-done:
			rep.Completed++
		case <-deadline:
			rep.Lost = rep.Sent - rep.Completed
			rep.Latency = summarize(hist)
			return rep, nil
		}
	}
	rep.Latency = summarize(hist)
	return rep, nil
}

func (r *RoundTrip) post(ctx context.Context, deviceID string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", r.BaseURL+"/admin/devices/"+deviceID+"/commands",
		bytes.NewReader([]byte(`{"type":"ping"}`)))
	if err != nil {
		return err
	}
	req.Header.Set("X-Admin-Key", r.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("send a command: HTTP %d", resp.StatusCode)
	}
	return nil
}

// answer is the device: it reads the pushed command and reports success.
func (r *RoundTrip) answer(ctx context.Context, d Credential, m fakefcm.Message) error {
	var cmd struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(m.Data["command"]), &cmd); err != nil {
		return err
	}
	dev := client.New(&client.HTTPTransport{BaseURL: r.BaseURL, Client: r.Client})
	return dev.ActionResult(ctx, d.Token, &client.ActionResult{
		CommandID: cmd.ID, Status: client.ResultSucceeded, Message: "pong", FinishedAt: time.Now()})
}
