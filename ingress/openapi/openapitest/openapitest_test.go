package openapitest

import (
	"net/http"
	"strings"
	"testing"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

var jsonType = header("Content-Type", "application/json")

// The validator passes answers as described and catches each way an
// answer can drift from the description.
func TestValidatorCatchesAnswersNotAsDescribed(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	const id = "0b5e2a6e-8f4e-4a39-9d55-3c1c4e0f2a11"
	errBody := `{"error":"rate_limited","message":"wait"}`
	cases := []struct {
		name         string
		method, path string
		status       int
		header       http.Header
		body         string
		wantErr      string // "" when the answer is as described
	}{
		{"as described", "GET", "/healthz", 200, jsonType, `{"status":"ok"}`, ""},
		{"query strings are ignored", "GET", "/admin/devices?limit=1&sort=alias", 200, jsonType, `{"devices":[],"total":0,"next_cursor":null}`, ""},
		{"a static segment beats a parameter", "PATCH", "/admin/devices/monitoring", 200, jsonType, `{"matched":1,"updated":1}`, ""},
		{"a parameter", "DELETE", "/admin/devices/" + id, 200, jsonType, `{"deleted":"` + id + `"}`, ""},
		{"a status without content", "POST", "/admin/auth/logout", 204, http.Header{}, ``, ""},
		{"a required header", "GET", "/admin/devices", 429, header("Content-Type", "application/json", "Retry-After", "3"), errBody, ""},
		{"unknown route", "GET", "/admin/nothing", 200, jsonType, `{}`, "not in the API description"},
		{"unknown method", "PUT", "/healthz", 200, jsonType, `{"status":"ok"}`, "not in the API description"},
		{"undeclared status", "GET", "/healthz", 418, jsonType, `{"status":"ok"}`, "status is not supported"},
		{"wrong type", "GET", "/healthz", 200, jsonType, `{"status":1}`, "doesn't match"},
		{"undocumented field", "GET", "/healthz", 200, jsonType, `{"status":"ok","uptime":3}`, "doesn't match"},
		{"missing required field", "GET", "/admin/fleet/summary", 200, jsonType, `{"total":1}`, "doesn't match"},
		{"not a uuid", "DELETE", "/admin/devices/" + id, 200, jsonType, `{"deleted":"seven"}`, "doesn't match"},
		{"not a time", "GET", "/admin/users", 200, jsonType,
			`{"users":[{"id":"` + id + `","username":"a","role":"admin","created_at":"yesterday","created_by":"x"}]}`, "doesn't match"},
		{"missing Retry-After", "GET", "/admin/devices", 429, jsonType, errBody, "Retry-After"},
		{"wrong content type", "GET", "/healthz", 200, header("Content-Type", "text/plain"), `ok`, "Content-Type"},
		{"a body where none is declared", "POST", "/admin/auth/logout", 204, jsonType, `{}`, "declares none"},
		{"not JSON", "GET", "/healthz", 200, jsonType, `{"status":`, "decode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Response(tc.method, tc.path, tc.status, tc.header, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Response(%s %s %d) = %v, want nil", tc.method, tc.path, tc.status, err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("Response(%s %s %d) = nil, want an error mentioning %q", tc.method, tc.path, tc.status, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.wantErr)):
				t.Errorf("Response(%s %s %d) = %v, want an error mentioning %q", tc.method, tc.path, tc.status, err, tc.wantErr)
			}
		})
	}
}
