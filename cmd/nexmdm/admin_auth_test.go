package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexmdm/nexmdm/ingress/adminauth"
)

// api calls the admin API of a test server.
type api struct {
	t    *testing.T
	base string
}

type answer struct {
	status int
	code   string
	body   map[string]any
}

func (a api) do(method, path string, headers map[string]string, body any) answer {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(a.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	require.NoError(a.t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a.checkDescribed(method, path, resp, raw)
	out := answer{status: resp.StatusCode, body: map[string]any{}}
	_ = json.Unmarshal(raw, &out.body)
	out.code, _ = out.body["error"].(string)
	return out
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

var adminKeyHeader = map[string]string{"X-Admin-Key": defaultAdminKey}

// login returns an access and a refresh token.
func (a api) login(user, pw string) (string, string) {
	a.t.Helper()
	r := a.do("POST", "/admin/auth/login", nil, map[string]string{"username": user, "password": pw})
	require.Equal(a.t, 200, r.status, "login %s: %v", user, r.body)
	return r.body["access_token"].(string), r.body["refresh_token"].(string)
}

func (a api) addUser(name, role string) string {
	a.t.Helper()
	pw := "password-of-" + name
	r := a.do("POST", "/admin/users", adminKeyHeader, map[string]string{"username": name, "password": pw, "role": role})
	require.Equal(a.t, 201, r.status, "%v", r.body)
	return pw
}

func (a api) addKey(name string, scopes ...string) (id, key string) {
	a.t.Helper()
	r := a.do("POST", "/admin/keys", adminKeyHeader, map[string]any{"name": name, "scopes": scopes})
	require.Equal(a.t, 201, r.status, "%v", r.body)
	return r.body["api_key"].(map[string]any)["id"].(string), r.body["key"].(string)
}

func newAPI(t *testing.T) (api, *app) {
	e, _, _ := newTestEnv(t)
	a := startInProcess(t, e)
	return api{t: t, base: e.url()}, a
}

// The first start creates an admin and prints its password once; that
// login works, and a second start creates nobody.
func TestFirstAdminIsCreatedOnce(t *testing.T) {
	c, a := newAPI(t)
	var out bytes.Buffer
	require.NoError(t, a.bootstrapAdmin(context.Background(), &out))
	m := regexp.MustCompile(`as admin with password (\S+)`).FindStringSubmatch(out.String())
	require.Len(t, m, 2, out.String())
	access, _ := c.login("admin", m[1])
	me := c.do("GET", "/admin/auth/me", bearer(access), nil)
	assert.Equal(t, "admin", me.body["role"])

	out.Reset()
	require.NoError(t, a.bootstrapAdmin(context.Background(), &out))
	assert.Empty(t, out.String(), "no second admin, no second password")
}

// Each role and each key scope may use exactly the routes its permissions
// allow, route by route.
func TestRolesAndScopesArePermittedRouteByRoute(t *testing.T) {
	c, _ := newAPI(t)
	creds := map[string]map[string]string{"admin-key": adminKeyHeader}
	for _, role := range []string{"admin", "operator", "viewer"} {
		access, _ := c.login(role+"1", c.addUser(role+"1", role))
		creds[role] = bearer(access)
	}
	for _, scope := range []string{"enroll", "apk:write", "admin"} {
		_, key := c.addKey("key "+scope, scope)
		creds["key:"+scope] = map[string]string{"X-Admin-Key": key}
	}
	missing := uuid.NewString()
	readers := []string{"admin-key", "admin", "operator", "viewer", "key:admin"}
	commanders := []string{"admin-key", "admin", "operator", "key:admin"}
	routes := []struct {
		method, path string
		body         any
		allowed      []string // who gets through; the others get 403
	}{
		{"GET", "/admin/auth/me", nil, []string{"admin-key", "admin", "operator", "viewer", "key:admin"}},
		{"POST", "/v1/register", map[string]string{"serial": "perm-" + missing[:8], "alias": "perm"}, []string{"admin-key", "admin", "operator", "key:enroll", "key:admin"}},
		{"GET", "/admin/users", nil, []string{"admin-key", "admin", "key:admin"}},
		{"POST", "/admin/users", map[string]string{"username": "x"}, []string{"admin-key", "admin", "key:admin"}},
		{"PATCH", "/admin/users/" + missing, map[string]string{"role": "viewer"}, []string{"admin-key", "admin", "key:admin"}},
		{"DELETE", "/admin/users/" + missing, nil, []string{"admin-key", "admin", "key:admin"}},
		{"GET", "/admin/keys", nil, []string{"admin-key", "admin", "key:admin"}},
		{"POST", "/admin/keys", map[string]any{"name": ""}, []string{"admin-key", "admin", "key:admin"}},
		{"DELETE", "/admin/keys/" + missing, nil, []string{"admin-key", "admin", "key:admin"}},
		{"GET", "/admin/audit", nil, []string{"admin-key", "admin", "key:admin"}},
		{"DELETE", "/admin/devices/" + missing, nil, []string{"admin-key", "admin", "key:admin"}},
		{"GET", "/admin/devices", nil, readers},
		{"GET", "/admin/devices/" + missing, nil, readers},
		{"GET", "/admin/devices/" + missing + "/heartbeats", nil, readers},
		{"GET", "/admin/devices/" + missing + "/monitoring", nil, readers},
		{"PATCH", "/admin/devices/" + missing + "/monitoring", map[string]any{"enabled": false}, commanders},
		{"PATCH", "/admin/devices/monitoring", map[string]any{"device_ids": []string{missing}, "settings": map[string]any{"enabled": false}}, commanders},
		{"GET", "/admin/fleet/summary", nil, readers},
		{"POST", "/admin/devices/" + missing + "/commands", map[string]any{"type": "ping"}, commanders},
		{"GET", "/admin/commands", nil, readers},
		{"POST", "/admin/devices/selection", map[string]any{"device_ids": []string{missing}}, readers},
		{"POST", "/admin/commands/bulk", map[string]any{"device_ids": []string{missing}, "type": "ping"}, commanders},
		{"GET", "/admin/commands/" + missing, nil, readers},
	}
	for _, r := range routes {
		for who, h := range creds {
			got := c.do(r.method, r.path, h, r.body)
			if contains(r.allowed, who) {
				assert.NotContains(t, []int{401, 403}, got.status, "%s %s as %s: %v", r.method, r.path, who, got.body)
			} else {
				assert.Equal(t, 403, got.status, "%s %s as %s: %v", r.method, r.path, who, got.body)
				assert.Equal(t, "forbidden", got.code)
			}
		}
		assert.Equal(t, 401, c.do(r.method, r.path, nil, r.body).status, "%s %s with no credentials", r.method, r.path)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Expired, forged, alg:none and malformed access tokens are all refused.
func TestBadAccessTokensAreRefused(t *testing.T) {
	c, _ := newAPI(t)
	id := uuid.New()
	expired, _, err := adminauth.NewSessions(defaultJWTSecret).IssueAccess(id, "admin", "admin", time.Now().Add(-time.Hour))
	require.NoError(t, err)
	forged, _, err := adminauth.NewSessions("some-other-secret").IssueAccess(id, "admin", "admin", time.Now())
	require.NoError(t, err)
	b64 := base64.RawURLEncoding.EncodeToString
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		b64([]byte(`{"iss":"nexmdm","sub":"`+id.String()+`","role":"admin","usr":"admin","iat":1,"exp":9999999999}`)) + "."
	for name, tok := range map[string]string{"expired": expired, "forged": forged, "alg none": algNone, "garbage": "not.a.jwt"} {
		r := c.do("GET", "/admin/auth/me", bearer(tok), nil)
		assert.Equal(t, 401, r.status, name)
		assert.Equal(t, "invalid_token", r.code, name)
	}
}

// A refresh rotates the refresh token; presenting a rotated one again
// revokes the whole session; logout revokes too.
func TestRefreshTokensRotateAndReuseRevokesTheSession(t *testing.T) {
	c, _ := newAPI(t)
	pw := c.addUser("rita", "operator")
	_, r1 := c.login("rita", pw)

	first := c.do("POST", "/admin/auth/refresh", nil, map[string]string{"refresh_token": r1})
	require.Equal(t, 200, first.status, "%v", first.body)
	r2 := first.body["refresh_token"].(string)
	assert.NotEqual(t, r1, r2)
	me := c.do("GET", "/admin/auth/me", bearer(first.body["access_token"].(string)), nil)
	assert.Equal(t, "operator", me.body["role"])

	reused := c.do("POST", "/admin/auth/refresh", nil, map[string]string{"refresh_token": r1})
	assert.Equal(t, 401, reused.status)
	assert.Equal(t, "refresh_reused", reused.code)
	assert.Equal(t, "invalid_refresh_token", c.do("POST", "/admin/auth/refresh", nil, map[string]string{"refresh_token": r2}).code,
		"the reuse revoked the token it had been exchanged for")

	_, r3 := c.login("rita", pw)
	assert.Equal(t, 204, c.do("POST", "/admin/auth/logout", nil, map[string]string{"refresh_token": r3}).status)
	assert.Equal(t, "invalid_refresh_token", c.do("POST", "/admin/auth/refresh", nil, map[string]string{"refresh_token": r3}).code)
	assert.Equal(t, 400, c.do("POST", "/admin/auth/refresh", nil, map[string]string{"refresh_token": "nope"}).status)
}

// An admin resets a user's password: the old one stops working and the
// user's sessions cannot refresh; the audit log says it changed, not to what.
func TestAnAdminResetsAPasswordAndEndsTheSessions(t *testing.T) {
	c, _ := newAPI(t)
	pw := c.addUser("paula", "operator")
	_, refresh := c.login("paula", pw)
	users := c.do("GET", "/admin/users", adminKeyHeader, nil).body["users"].([]any)
	var id string
	for _, u := range users {
		if u.(map[string]any)["username"] == "paula" {
			id = u.(map[string]any)["id"].(string)
		}
	}
	require.NotEmpty(t, id)

	short := c.do("PATCH", "/admin/users/"+id, adminKeyHeader, map[string]string{"password": "short"})
	assert.Equal(t, 400, short.status)
	assert.Equal(t, "password", short.body["field"])
	assert.Equal(t, "missing_field", c.do("PATCH", "/admin/users/"+id, adminKeyHeader, map[string]string{}).code)
	bad := c.do("PATCH", "/admin/users/"+id, adminKeyHeader, map[string]string{"role": "boss", "password": "a-new-long-password"})
	assert.Equal(t, 400, bad.status, "nothing changes when one field is bad")
	_, still := c.login("paula", pw)
	require.NotEmpty(t, still)

	r := c.do("PATCH", "/admin/users/"+id, adminKeyHeader, map[string]string{"password": "a-new-long-password", "role": "viewer"})
	require.Equal(t, 200, r.status, "%v", r.body)
	assert.Equal(t, 401, c.do("POST", "/admin/auth/login", nil, map[string]string{"username": "paula", "password": pw}).status)
	_, _ = c.login("paula", "a-new-long-password")
	for _, old := range []string{refresh, still} {
		assert.Equal(t, "invalid_refresh_token", c.do("POST", "/admin/auth/refresh", nil, map[string]string{"refresh_token": old}).code)
	}
	audit := c.do("GET", "/admin/audit?action=user.update", adminKeyHeader, nil).body["entries"].([]any)
	require.NotEmpty(t, audit)
	assert.Equal(t, map[string]any{"password_changed": true, "role": "viewer"}, audit[0].(map[string]any)["details"])
	assert.NotContains(t, mustJSON(t, audit), "a-new-long-password")
}

// Guessing passwords is throttled per user, even with the right password
// afterwards, and the failures are audited.
func TestLoginBruteForceIsThrottled(t *testing.T) {
	c, _ := newAPI(t)
	pw := c.addUser("bob", "viewer")
	for range 10 {
		assert.Equal(t, 401, c.do("POST", "/admin/auth/login", nil, map[string]string{"username": "bob", "password": "guess-guess-guess"}).status)
	}
	r := c.do("POST", "/admin/auth/login", nil, map[string]string{"username": "bob", "password": pw})
	assert.Equal(t, 429, r.status)
	assert.Equal(t, "rate_limited", r.code)
	audit := c.do("GET", "/admin/audit?action=auth.login&result=invalid_credentials", adminKeyHeader, nil)
	assert.Len(t, audit.body["entries"], 10)
}

// API keys are shown once, work by scope, and stop working when revoked.
func TestAPIKeysWorkUntilRevoked(t *testing.T) {
	c, _ := newAPI(t)
	id, key := c.addKey("ci enroll", "enroll")
	h := map[string]string{"X-Admin-Key": key}
	reg := c.do("POST", "/v1/register", h, map[string]string{"serial": "key-1", "alias": "k"})
	assert.Equal(t, 201, reg.status, "%v", reg.body)
	assert.Equal(t, 201, c.do("POST", "/v1/register", bearer(key), map[string]string{"serial": "key-2", "alias": "k"}).status, "also as a bearer token")

	list := c.do("GET", "/admin/keys", adminKeyHeader, nil)
	assert.NotContains(t, mustJSON(t, list.body), key[12:], "the secret is never listed")

	assert.Equal(t, 200, c.do("DELETE", "/admin/keys/"+id, adminKeyHeader, nil).status)
	r := c.do("POST", "/v1/register", h, map[string]string{"serial": "key-3", "alias": "k"})
	assert.Equal(t, 401, r.status)
	assert.Equal(t, "invalid_api_key", r.code)
	assert.Equal(t, "invalid_field", c.do("POST", "/admin/keys", adminKeyHeader, map[string]any{"name": "x", "scopes": []string{"root"}}).code)
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// Every admin action lands in the audit log with who, what, target, where
// and result; the log pages with signed cursors and takes hostile filters
// as plain values.
func TestAuditLogRecordsAdminActionsAndPagesSafely(t *testing.T) {
	c, _ := newAPI(t)
	c.addUser("carol", "viewer")
	c.addUser("dave", "operator")
	keyID, _ := c.addKey("apk ci", "apk:write")
	c.do("DELETE", "/admin/keys/"+keyID, adminKeyHeader, nil)

	r := c.do("GET", "/admin/audit?action=user.create&limit=1", adminKeyHeader, nil)
	require.Equal(t, 200, r.status, "%v", r.body)
	entries := r.body["entries"].([]any)
	require.Len(t, entries, 1)
	newest := entries[0].(map[string]any)
	assert.Equal(t, "dave", newest["target"])
	assert.Equal(t, "admin-key", newest["actor"])
	assert.Equal(t, "ok", newest["result"])
	assert.Equal(t, "127.0.0.1", newest["source_ip"])
	cursor := r.body["next_cursor"].(string)

	next := c.do("GET", "/admin/audit?action=user.create&limit=1&cursor="+cursor, adminKeyHeader, nil)
	assert.Equal(t, "carol", next.body["entries"].([]any)[0].(map[string]any)["target"])

	revoked := c.do("GET", "/admin/audit?action=api_key.revoke", adminKeyHeader, nil)
	assert.Len(t, revoked.body["entries"], 1)

	tampered := strings.Replace(cursor, cursor[:1], string(rune(cursor[0]+1)), 1)
	assert.Equal(t, "invalid_cursor", c.do("GET", "/admin/audit?cursor="+tampered, adminKeyHeader, nil).code)
	assert.Equal(t, "invalid_cursor", c.do("GET", "/admin/audit?cursor=12345", adminKeyHeader, nil).code)
	sqlish := c.do("GET", "/admin/audit?actor=%27%20OR%201%3D1%20--", adminKeyHeader, nil)
	assert.Equal(t, 200, sqlish.status)
	assert.Empty(t, sqlish.body["entries"])
	assert.Equal(t, "invalid_field", c.do("GET", "/admin/audit?actor="+strings.Repeat("a", 300), adminKeyHeader, nil).code)
	assert.Equal(t, "invalid_field", c.do("GET", "/admin/audit?limit=0", adminKeyHeader, nil).code)
}
