// Package client speaks the NexMDM device protocol (v1) over a pluggable
// HTTP transport: registration and heartbeats, with typed errors for every
// status the server answers. The agent and the loadgen both use it, so the
// protocol exists in one place.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Request is one protocol call, for a Transport to carry.
type Request struct {
	Method   string
	Path     string // e.g. "/v1/heartbeat"
	Token    string // device token, sent as Authorization: Bearer
	AdminKey string // sent as X-Admin-Key
	Body     []byte // JSON
}

// Response is what came back.
type Response struct {
	Status     int
	RetryAfter string // the Retry-After header, if any
	Body       []byte
}

// Transport carries requests to a server. It returns an error only when no
// HTTP response arrived.
type Transport interface {
	RoundTrip(ctx context.Context, r *Request) (*Response, error)
}

// Client is a device protocol client.
type Client struct{ t Transport }

// New returns a client over t.
func New(t Transport) *Client { return &Client{t: t} }

// RegisterRequest is the body of POST /v1/register.
type RegisterRequest struct {
	Alias            string `json:"alias"`
	Serial           string `json:"serial"`
	Model            string `json:"model,omitempty"`
	Manufacturer     string `json:"manufacturer,omitempty"`
	AndroidVersion   string `json:"android_version,omitempty"`
	SDKInt           int    `json:"sdk_int,omitempty"`
	AgentVersion     string `json:"agent_version,omitempty"`
	AgentVersionCode int    `json:"agent_version_code,omitempty"`
	FCMToken         string `json:"fcm_token,omitempty"`
}

// Registration is what the server issues: keep it secret.
type Registration struct {
	DeviceID           string `json:"device_id"`
	DeviceToken        string `json:"device_token"`
	HMACKeyID          string `json:"hmac_key_id"`
	HMACKey            string `json:"hmac_key"` // base64
	HeartbeatIntervalS int    `json:"heartbeat_interval_s"`
}

// Heartbeat is the body of POST /v1/heartbeat. Nil pointers are fields the
// device could not read; they are left out.
type Heartbeat struct {
	TS                time.Time        `json:"ts"`
	BatteryPct        *int             `json:"battery_pct,omitempty"`
	Charging          *bool            `json:"charging,omitempty"`
	RAMUsedMB         *int             `json:"ram_used_mb,omitempty"`
	RAMTotalMB        *int             `json:"ram_total_mb,omitempty"`
	UptimeS           *int64           `json:"uptime_s,omitempty"`
	NetType           string           `json:"net_type,omitempty"` // wifi, cellular, ethernet, none
	SSID              string           `json:"ssid,omitempty"`
	SignalDBm         *int             `json:"signal_dbm,omitempty"`
	AgentVersion      string           `json:"agent_version,omitempty"`
	AgentVersionCode  *int             `json:"agent_version_code,omitempty"`
	ForegroundPkg     string           `json:"foreground_pkg,omitempty"`
	AppLastForeground map[string]int64 `json:"app_last_foreground,omitempty"` // package -> unix ms
	PowerOK           *bool            `json:"power_ok,omitempty"`
	DozeWhitelisted   *bool            `json:"doze_whitelisted,omitempty"`
	NetValidated      *bool            `json:"net_validated,omitempty"`
	QueueDepth        *int             `json:"queue_depth,omitempty"`
	HMACKeyID         string           `json:"hmac_key_id,omitempty"` // the newest command key the device holds
}

// HeartbeatResponse is the answer to a stored or deduped heartbeat.
type HeartbeatResponse struct {
	Deduped            bool              `json:"deduped"`
	Commands           []json.RawMessage `json:"commands"`
	HeartbeatIntervalS int               `json:"heartbeat_interval_s"`
	HMACRotation       *KeyRotation      `json:"hmac_rotation,omitempty"`
}

// KeyRotation hands a device the command key of the server's current master
// key. The device keeps its old key too, and says it holds the new one by
// sending hmac_key_id in its next heartbeats.
type KeyRotation struct {
	HMACKeyID string `json:"hmac_key_id"`
	HMACKey   string `json:"hmac_key"` // base64
}

// Register enrolls a device with an admin or enrollment key.
func (c *Client) Register(ctx context.Context, adminKey string, r RegisterRequest) (*Registration, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var out Registration
	if err := c.call(ctx, &Request{Method: "POST", Path: "/v1/register", AdminKey: adminKey, Body: body}, 201, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Heartbeat reports a heartbeat. It returns once the server has committed
// it (or found its bucket stored); any error is an *Error or a transport
// error.
func (c *Client) Heartbeat(ctx context.Context, token string, hb *Heartbeat) (*HeartbeatResponse, error) {
	return c.HeartbeatRaw(ctx, token, hb.AppendJSON(nil))
}

// HeartbeatRaw is Heartbeat with a body already encoded.
func (c *Client) HeartbeatRaw(ctx context.Context, token string, body []byte) (*HeartbeatResponse, error) {
	r := &Request{Method: "POST", Path: "/v1/heartbeat", Token: token, Body: body}
	resp, err := c.roundTrip(ctx, r, 200)
	if err != nil {
		return nil, err
	}
	var out HeartbeatResponse
	if err := decodeHeartbeatResponse(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("%s %s: decode answer: %w", r.Method, r.Path, err)
	}
	return &out, nil
}

func (c *Client) call(ctx context.Context, r *Request, want int, out any) error {
	resp, err := c.roundTrip(ctx, r, want)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", r.Method, r.Path, err)
	}
	return nil
}

// roundTrip sends r and returns the answer when its status is want.
func (c *Client) roundTrip(ctx context.Context, r *Request, want int) (*Response, error) {
	resp, err := c.t.RoundTrip(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	if resp.Status != want {
		return nil, responseError(resp)
	}
	return resp, nil
}

// Error is a protocol error answer: the status, the stable code and the
// server's message.
type Error struct {
	Status     int
	Code       string
	Message    string
	Field      string
	RetryAfter time.Duration // from Retry-After, on 429 and 503
}

func (e *Error) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Sentinels for errors.Is: each matches any *Error with its status.
var (
	ErrBadRequest   = errors.New("400 bad request")
	ErrUnauthorized = errors.New("401 unauthorized")
	ErrNotFound     = errors.New("404 not found")
	ErrConflict     = errors.New("409 conflict")
	ErrGone         = errors.New("410 gone")
	ErrTooLarge     = errors.New("413 too large")
	ErrRateLimited  = errors.New("429 rate limited")
	ErrUnavailable  = errors.New("503 unavailable")
)

var statusSentinels = map[int]error{
	400: ErrBadRequest, 401: ErrUnauthorized, 404: ErrNotFound, 409: ErrConflict,
	410: ErrGone, 413: ErrTooLarge, 429: ErrRateLimited, 503: ErrUnavailable,
}

// Is makes errors.Is(err, ErrGone) and the like work.
func (e *Error) Is(target error) bool { return statusSentinels[e.Status] == target }

// Retryable reports whether the same request may succeed later: 429, 5xx.
func (e *Error) Retryable() bool { return e.Status == 429 || e.Status >= 500 }

func responseError(resp *Response) *Error {
	e := &Error{Status: resp.Status}
	var body struct {
		Code    string `json:"error"`
		Message string `json:"message"`
		Field   string `json:"field"`
	}
	if json.Unmarshal(resp.Body, &body) == nil {
		e.Code, e.Message, e.Field = body.Code, body.Message, body.Field
	}
	if e.Code == "" {
		e.Code = "http_" + strconv.Itoa(resp.Status)
	}
	if secs, err := strconv.Atoi(resp.RetryAfter); err == nil && secs >= 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}
