package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func corsRequest(t *testing.T, method, url, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("X-Admin-Key", defaultAdminKey)
	if method == "OPTIONS" {
		req.Header.Set("Access-Control-Request-Method", "GET")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func TestCORSIsOffByDefault(t *testing.T) {
	e, _, _ := newTestEnv(t)
	startInProcess(t, e)
	resp := corsRequest(t, "GET", e.url()+"/admin/fleet/summary", "https://evil.example")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	assert.NotEqual(t, 204, corsRequest(t, "OPTIONS", e.url()+"/admin/fleet/summary", "https://evil.example").StatusCode)
}

func TestCORSAllowsOnlyConfiguredOrigins(t *testing.T) {
	e, _, _ := newTestEnv(t)
	e["NEXMDM_CORS_ORIGINS"] = "https://ops.example.com, https://noc.example.com/"
	startInProcess(t, e)
	url := e.url() + "/admin/fleet/summary"

	pre := corsRequest(t, "OPTIONS", url, "https://noc.example.com")
	assert.Equal(t, 204, pre.StatusCode)
	assert.Equal(t, "https://noc.example.com", pre.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, pre.Header.Get("Access-Control-Allow-Headers"), "Authorization")

	get := corsRequest(t, "GET", url, "https://ops.example.com")
	assert.Equal(t, 200, get.StatusCode)
	assert.Equal(t, "https://ops.example.com", get.Header.Get("Access-Control-Allow-Origin"))

	assert.Equal(t, 403, corsRequest(t, "OPTIONS", url, "https://evil.example").StatusCode)
	assert.Empty(t, corsRequest(t, "GET", url, "https://evil.example").Header.Get("Access-Control-Allow-Origin"))
}
