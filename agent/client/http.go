package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
)

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 4 << 20

// HTTPTransport carries requests with net/http: what the agent uses on a
// device (proxies, TLS, HTTP/2 all come from net/http).
type HTTPTransport struct {
	BaseURL string       // e.g. "https://mdm.example.com"
	Client  *http.Client // nil: http.DefaultClient
}

// RoundTrip implements Transport.
func (t *HTTPTransport) RoundTrip(ctx context.Context, r *Request) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, strings.TrimRight(t.BaseURL, "/")+r.Path, bytes.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	if r.AdminKey != "" {
		req.Header.Set("X-Admin-Key", r.AdminKey)
	}
	c := t.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: body}, nil
}
