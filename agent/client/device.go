package client

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// ActionResult is the body of POST /v1/action-result: how a command ended.
type ActionResult struct {
	CommandID  string    `json:"command_id"`
	Status     string    `json:"status"` // succeeded or failed
	Message    string    `json:"message,omitempty"`
	Output     string    `json:"output,omitempty"`
	FinishedAt time.Time `json:"finished_at"`
}

// Result statuses.
const (
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"
)

// ActionResult reports how a command ended. The server keeps the first
// result: a repeat is ErrConflict, a command it does not know ErrNotFound.
func (c *Client) ActionResult(ctx context.Context, token string, r *ActionResult) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.ActionResultRaw(ctx, token, body)
}

// ActionResultRaw is ActionResult with a body already encoded (as the
// agent's queue keeps it).
func (c *Client) ActionResultRaw(ctx context.Context, token string, body []byte) error {
	return c.call(ctx, &Request{Method: "POST", Path: "/v1/action-result", Token: token, Body: body}, 200, nil)
}

// UpdateOffer is the answer of GET /v1/agent/update: the release this
// device should install, and the conditions to install it under.
type UpdateOffer struct {
	ReleaseID         string `json:"release_id"`
	Package           string `json:"package,omitempty"`
	VersionCode       int    `json:"version_code"`
	VersionName       string `json:"version_name,omitempty"`
	URL               string `json:"url"` // device-authenticated: send the device token
	SHA256            string `json:"sha256"`
	SignerFingerprint string `json:"signer_fingerprint,omitempty"`
	Size              int64  `json:"size"`
	WifiOnly          bool   `json:"wifi_only"`
	MinBatteryPct     int    `json:"min_battery_pct"`
	NotInCall         bool   `json:"not_in_call"`
}

// CheckUpdate asks whether there is an update for this device on channel
// ("" is the server's default, stable): nil when there is none (204).
func (c *Client) CheckUpdate(ctx context.Context, token, channel string) (*UpdateOffer, error) {
	path := "/v1/agent/update"
	if channel != "" {
		path += "?channel=" + url.QueryEscape(channel)
	}
	r := &Request{Method: "GET", Path: path, Token: token}
	resp, err := c.t.RoundTrip(ctx, r)
	if err != nil {
		return nil, err
	}
	switch resp.Status {
	case 204:
		return nil, nil
	case 200:
		var out UpdateOffer
		if err := json.Unmarshal(resp.Body, &out); err != nil {
			return nil, err
		}
		return &out, nil
	}
	return nil, responseError(resp)
}

// UpdateEvent is one step of installing an update, as the device reports
// it to POST /v1/agent/update-events.
type UpdateEvent struct {
	ReleaseID   string    `json:"release_id"`
	VersionCode int       `json:"version_code"`
	Event       string    `json:"event"`
	Message     string    `json:"message,omitempty"`
	At          time.Time `json:"at"`
}

// Update events, in the order an install goes through them.
const (
	UpdateOffered     = "offered"
	UpdateDeferred    = "deferred" // a constraint (Wi-Fi, battery, call) is not met yet
	UpdateDownloading = "download_started"
	UpdateDownloaded  = "downloaded"
	UpdateVerified    = "verified"
	UpdateInstalling  = "installing"
	UpdateInstalled   = "installed"
	UpdateFailed      = "failed"
)

// UpdateEvent reports a step of an update.
func (c *Client) UpdateEvent(ctx context.Context, token string, e *UpdateEvent) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return c.call(ctx, &Request{Method: "POST", Path: "/v1/agent/update-events", Token: token, Body: body}, 202, nil)
}
