package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// response is what post needs of an HTTP answer; the body is read and
// closed so that the connection can be reused.
type response struct {
	status int
	header http.Header
	body   []byte
}

// snippet is the start of the body, for an error message.
func (r response) snippet() string {
	return truncate(oneLine(string(r.body)), 200)
}

// postJSON posts body to url. A transport error leaves the URL out: webhook
// URLs hold tokens.
func postJSON(ctx context.Context, c *http.Client, target string, body []byte, header http.Header) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return response{}, fmt.Errorf("bad webhook URL: %w", ErrPermanent)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "NexMDM-notify")
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("post: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return response{}, fmt.Errorf("read answer: %w", unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// unwrapURLError drops the *url.Error layer, whose message repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
