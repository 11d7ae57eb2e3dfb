package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeRequestIDs: every answer of the real binary, the console's and the redirects' too,
// carries X-Request-Id (the client's own when well formed), and the server's log lines about a
// request carry its id.
func TestServeRequestIDs(t *testing.T) {
	s := startServer(t, t.TempDir())
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, id, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/", "/console/login", "/api/version", "/api/no/such/thing", "/healthz", "/capture/"} {
		if resp := do("GET", path, "", ""); len(resp.Header.Values("X-Request-Id")) != 1 || resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: %d, X-Request-Id %q", path, resp.StatusCode, resp.Header.Values("X-Request-Id"))
		}
	}
	const id = "serve-test-0001"
	resp := do("POST", "/api/authorize/auth", id, `{"credentials": {"email": "admin@example.com", "password": "wrong"}}`)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Request-Id") != id {
		t.Fatalf("a failed login: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		logs := s.logs.String()
		s.mu.Unlock()
		found := false
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, `"msg":"login failed"`) && strings.Contains(line, `"request_id":"`+id+`"`) {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line of the failed login carries request_id %q:\n%s", id, tail(logs, 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
