package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"bonafide/console"
)

// TestServeConsole: the real binary serves the operator console beside the API: GET / leads to
// it, its login page carries the strict policy, and the API's own paths answer as before.
func TestServeConsole(t *testing.T) {
	s := startServer(t, t.TempDir())
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, string(data)
	}
	if resp, _ := get("/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Errorf("GET /: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get("/console/login")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != console.ContentSecurityPolicy || !strings.Contains(body, `name="password"`) {
		t.Errorf("GET /console/login: %d, policy %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if resp, body := get("/api/no/such/thing"); resp.StatusCode != 404 || !strings.Contains(body, `"error_code": 10`) {
		t.Errorf("GET /api/no/such/thing: %d %s", resp.StatusCode, body)
	}
	if code := s.call("GET", "/api/version", "", nil, "", nil); code != 200 {
		t.Errorf("GET /api/version: %d", code)
	}
	// Console requests are in the Prometheus metrics beside the API's, by route.
	if resp, body := get("/metrics"); resp.StatusCode != 200 || !strings.Contains(body, `route="/console/login"`) {
		t.Errorf("GET /metrics: %d, no series for the console's login page", resp.StatusCode)
	}
}
