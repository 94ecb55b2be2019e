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

func TestActionResultIsPostedWithTheDeviceToken(t *testing.T) {
	tr := &canned{resp: &Response{Status: 200, Body: []byte(`{}`)}}
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	err := New(tr).ActionResult(context.Background(), "tok", &ActionResult{CommandID: "c1", Status: ResultSucceeded, FinishedAt: at})
	require.NoError(t, err)
	assert.Equal(t, "/v1/action-result", tr.got.Path)
	assert.Equal(t, "tok", tr.got.Token)
	assert.JSONEq(t, `{"command_id":"c1","status":"succeeded","finished_at":"2026-11-23T10:00:00Z"}`, string(tr.got.Body))

	tr.resp = &Response{Status: 409, Body: []byte(`{"error":"already_final","message":"m"}`)}
	assert.ErrorIs(t, New(tr).ActionResult(context.Background(), "tok", &ActionResult{CommandID: "c1"}), ErrConflict)
}

func TestCheckUpdateTellsNothingToDoFromAnOffer(t *testing.T) {
	tr := &canned{resp: &Response{Status: 204}}
	offer, err := New(tr).CheckUpdate(context.Background(), "tok", "beta")
	require.NoError(t, err)
	assert.Nil(t, offer, "204 is no update")
	assert.Equal(t, "/v1/agent/update?channel=beta", tr.got.Path)

	tr.resp = &Response{Status: 200, Body: []byte(`{"release_id":"r","version_code":7,"url":"/u","sha256":"ab","size":3,"wifi_only":true,"min_battery_pct":30}`)}
	offer, err = New(tr).CheckUpdate(context.Background(), "tok", "")
	require.NoError(t, err)
	assert.Equal(t, &UpdateOffer{ReleaseID: "r", VersionCode: 7, URL: "/u", SHA256: "ab", Size: 3, WifiOnly: true, MinBatteryPct: 30}, offer)

	tr.resp = &Response{Status: 410, Body: []byte(`{"error":"device_deleted","message":"m"}`)}
	_, err = New(tr).CheckUpdate(context.Background(), "tok", "")
	assert.ErrorIs(t, err, ErrGone)
}
