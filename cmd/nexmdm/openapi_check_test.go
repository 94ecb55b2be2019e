package main

import (
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/ingress/openapi/openapitest"
)

var described struct {
	once sync.Once
	v    *openapitest.Validator
	err  error
}

// checkDescribed fails the test when an answer is not as the API
// description (ingress/openapi/openapi.json) says: an undescribed route or
// status, a missing Retry-After, a JSON body off its schema. Bodies that
// are not JSON are left to the test.
func (a api) checkDescribed(method, path string, resp *http.Response, body []byte) {
	a.t.Helper()
	described.once.Do(func() { described.v, described.err = openapitest.NewValidator() })
	if described.err != nil {
		a.t.Errorf("the API description: %v", described.err)
		return
	}
	if len(body) > 0 && !isJSON(resp.Header.Get("Content-Type")) {
		return
	}
	if err := described.v.Response(method, path, resp.StatusCode, resp.Header, body); err != nil {
		a.t.Errorf("the answer is not as ingress/openapi/openapi.json describes it: %v", err)
	}
}

func isJSON(contentType string) bool {
	t, _, err := mime.ParseMediaType(contentType)
	return err == nil && (t == "application/json" || strings.HasSuffix(t, "+json"))
}

// The operations and answers the other tests do not reach through api.do
// are checked against the description here.
func TestRemainingAnswersAreAsDescribed(t *testing.T) {
	c, _ := newAPI(t)
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
		assert.Equal(t, 200, c.do("GET", path, nil, nil).status, path)
	}
	assert.Equal(t, 400, c.do("GET", "/admin/ws", nil, nil).status, "not a WebSocket handshake")
	assert.Equal(t, 401, c.do("GET", "/admin/ws?token=forged", nil, nil).status)

	reg := c.do("POST", "/v1/register", adminKeyHeader, map[string]string{"alias": "described", "serial": "described-1"})
	require.Equal(t, 201, reg.status, "%v", reg.body)
	device := bearer(reg.body["device_token"].(string))
	beat := map[string]any{"ts": time.Now().UTC().Format(time.RFC3339), "battery_pct": 50, "net_type": "wifi"}
	assert.Equal(t, 200, c.do("POST", "/v1/heartbeat", device, beat).status)
	assert.Equal(t, 400, c.do("POST", "/v1/heartbeat", device, map[string]any{"battery_pct": 50}).status)
	assert.Equal(t, 401, c.do("POST", "/v1/heartbeat", bearer("garbage"), beat).status)
	assert.Equal(t, 200, c.do("GET", "/admin/devices/"+reg.body["device_id"].(string), adminKeyHeader, nil).status)
	assert.Equal(t, 200, c.do("DELETE", "/admin/devices/"+reg.body["device_id"].(string), adminKeyHeader, nil).status)
	assert.Equal(t, 410, c.do("POST", "/v1/heartbeat", device, beat).status)

	pw := c.addUser("fay", "admin")
	assert.Equal(t, 409, c.do("POST", "/admin/users", adminKeyHeader, map[string]string{"username": "fay", "password": pw, "role": "admin"}).status)
	ids := map[string]string{}
	for _, u := range c.do("GET", "/admin/users", adminKeyHeader, nil).body["users"].([]any) {
		ids[u.(map[string]any)["username"].(string)] = u.(map[string]any)["id"].(string)
	}
	fay, _ := c.login("fay", pw)
	assert.Equal(t, 409, c.do("DELETE", "/admin/users/"+ids["fay"], bearer(fay), nil).status, "nobody deletes themselves")
	assert.Equal(t, 200, c.do("PATCH", "/admin/users/"+ids["fay"], adminKeyHeader, map[string]string{"role": "viewer"}).status)
	assert.Equal(t, 200, c.do("DELETE", "/admin/users/"+ids["fay"], adminKeyHeader, nil).status)
}
