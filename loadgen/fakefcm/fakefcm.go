// Package fakefcm is a local stand-in for Firebase Cloud Messaging. It
// speaks the HTTP v1 `projects/{project}/messages:send` API with its real
// answers and error shapes (UNREGISTERED, QUOTA_EXCEEDED, UNAVAILABLE,
// INTERNAL), so that the real firebase client can be pointed at it with
// option.WithEndpoint. It records every message, and hands each to the
// simulated device that owns the token, as FCM would push it.
package fakefcm

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Message is one delivered data message.
type Message struct {
	ID    string
	Token string
	Data  map[string]string
	At    time.Time
}

// Server is a running fake.
type Server struct {
	srv *http.Server
	url string

	mu           sync.Mutex
	seq          int
	unregistered map[string]bool
	failures     map[string][]int // token -> statuses to answer, in order, before delivering
	attempts     map[string]int
	messages     []Message
	receivers    map[string]func(Message)
}

// Start serves the fake on addr (e.g. "127.0.0.1:0").
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		url: "http://" + ln.Addr().String(), unregistered: map[string]bool{},
		failures: map[string][]int{}, attempts: map[string]int{}, receivers: map[string]func(Message){},
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Endpoint is what the firebase client takes as option.WithEndpoint.
func (s *Server) Endpoint() string { return s.url + "/v1" }

// Close stops the fake.
func (s *Server) Close() error { return s.srv.Close() }

// Unregister makes token answer UNREGISTERED from now on, as FCM does for
// an app that was uninstalled.
func (s *Server) Unregister(token string) {
	s.mu.Lock()
	s.unregistered[token] = true
	s.mu.Unlock()
}

// FailNext makes the next sends to token answer these statuses, in order:
// 503 (UNAVAILABLE), 500 (INTERNAL) or 429 (QUOTA_EXCEEDED).
func (s *Server) FailNext(token string, statuses ...int) {
	s.mu.Lock()
	s.failures[token] = append(s.failures[token], statuses...)
	s.mu.Unlock()
}

// OnMessage delivers token's messages to fn, as a device receives pushes.
// fn runs on the request's goroutine and must not block for long.
func (s *Server) OnMessage(token string, fn func(Message)) {
	s.mu.Lock()
	s.receivers[token] = fn
	s.mu.Unlock()
}

// Messages returns every delivered message, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Attempts is how many sends to token were made, failed ones included.
func (s *Server) Attempts(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[token]
}

var sendPath = regexp.MustCompile(`^/v1/projects/([^/]+)/messages:send$`)

type sendRequest struct {
	ValidateOnly bool `json:"validate_only"`
	Message      struct {
		Token string            `json:"token"`
		Data  map[string]string `json:"data"`
	} `json:"message"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	m := sendPath.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodPost {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "", "Requested entity was not found.")
		return
	}
	var req sendRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Message.Token == "" {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
		return
	}
	if size := dataSize(req.Message.Data); size > 4096 {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", fmt.Sprintf("Android message is too big: %d bytes", size))
		return
	}
	token := req.Message.Token
	s.mu.Lock()
	s.attempts[token]++
	status := 0
	if f := s.failures[token]; len(f) > 0 {
		status, s.failures[token] = f[0], f[1:]
	}
	gone := s.unregistered[token]
	s.mu.Unlock()
	switch {
	case gone:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
		return
	case status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "0")
		writeError(w, status, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
		return
	case status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		writeError(w, status, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Send requests'.")
		return
	case status != 0:
		writeError(w, http.StatusInternalServerError, "INTERNAL", "INTERNAL", "Internal error encountered.")
		return
	}
	id := s.deliver(m[1], token, req)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"name": "projects/" + m[1] + "/messages/" + id})
}

func (s *Server) deliver(project, token string, req sendRequest) string {
	s.mu.Lock()
	s.seq++
	id := project + "-" + strconv.Itoa(s.seq)
	msg := Message{ID: id, Token: token, Data: req.Message.Data, At: time.Now()}
	var fn func(Message)
	if !req.ValidateOnly {
		s.messages = append(s.messages, msg)
		fn = s.receivers[token]
	}
	s.mu.Unlock()
	if fn != nil {
		fn(msg)
	}
	return id
}

func dataSize(data map[string]string) int {
	n := 0
	for k, v := range data {
		n += len(k) + len(v)
	}
	return n
}

// writeError answers in FCM's error shape; errorCode goes in an FcmError
// detail, which the firebase client reads (messaging.IsUnregistered, ...).
func writeError(w http.ResponseWriter, code int, status, errorCode, message string) {
	body := map[string]any{"code": code, "message": message, "status": status}
	if errorCode != "" {
		body["details"] = []map[string]string{{
			"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": errorCode,
		}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": body})
}
