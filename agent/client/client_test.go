package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type canned struct {
	resp *Response
	err  error
	got  *Request
}

func (c *canned) RoundTrip(_ context.Context, r *Request) (*Response, error) {
	c.got = r
	return c.resp, c.err
}

func TestErrorsAreTypedByStatus(t *testing.T) {
	for status, want := range map[int]error{
		400: ErrBadRequest, 401: ErrUnauthorized, 410: ErrGone, 413: ErrTooLarge, 429: ErrRateLimited, 503: ErrUnavailable,
	} {
		tr := &canned{resp: &Response{Status: status, Body: []byte(`{"error":"some_code","message":"m","field":"f"}`)}}
		_, err := New(tr).Heartbeat(context.Background(), "tok", &Heartbeat{TS: time.Now()})
		assert.ErrorIs(t, err, want, "status %d", status)
		var e *Error
		require.True(t, errors.As(err, &e))
		assert.Equal(t, "some_code", e.Code)
		assert.Equal(t, "f", e.Field)
	}
}

func TestRetryAfterIsRead(t *testing.T) {
	tr := &canned{resp: &Response{Status: 503, RetryAfter: "7", Body: []byte(`not json`)}}
	_, err := New(tr).Heartbeat(context.Background(), "tok", &Heartbeat{TS: time.Now()})
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, 7*time.Second, e.RetryAfter)
	assert.Equal(t, "http_503", e.Code, "a body without our shape still gets a code")
	assert.True(t, e.Retryable())
}

func TestHeartbeatSendsTokenAndOmitsUnknownFields(t *testing.T) {
	tr := &canned{resp: &Response{Status: 200, Body: []byte(`{"deduped":true,"commands":[],"heartbeat_interval_s":60}`)}}
	ts := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	resp, err := New(tr).Heartbeat(context.Background(), "tok", &Heartbeat{TS: ts, BatteryPct: new(0)})
	require.NoError(t, err)
	assert.True(t, resp.Deduped)
	assert.Equal(t, 60, resp.HeartbeatIntervalS)
	assert.Equal(t, "tok", tr.got.Token)
	assert.JSONEq(t, `{"ts":"2026-11-23T10:00:00Z","battery_pct":0}`, string(tr.got.Body), "a zero battery is sent, an unknown one is not")
}
