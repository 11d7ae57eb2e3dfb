package main

// End-to-end checks of the wire details real Oz clients rely on (issue 11), over real HTTP
// against a `bonafide serve` child process; every answer is validated against api/openapi.yaml.

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rawResp is an answer as bytes.
type rawResp struct {
	status int
	header http.Header
	body   []byte
}

// raw sends a request (headers in pairs) and returns the answer as it came; absolute URLs (a
// media's original_url) are sent as they are.
func (s *server) raw(method, path, token string, body io.Reader, contentType string, headers ...string) rawResp {
	s.t.Helper()
	url := path
	if strings.HasPrefix(path, "/") {
		url = s.url + path
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Forensic-Access-Token", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: 120 * time.Second, Transport: specChecker(s.t).Transport(http.DefaultTransport, s.t),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return rawResp{resp.StatusCode, resp.Header, data}
}

// Oz's deployment scripts read the login answer with grep -Po '"access_token": "\K[0-9a-z]*' and
// check that an error body starts with {"error_code":.
func TestServeWireJSON(t *testing.T) {
	s := startServer(t, t.TempDir())
	r := s.raw("POST", "/api/authorize/auth/", "", strings.NewReader(`{"credentials": {"email": "admin@example.com", "password": "admin-password"}}`), "application/json")
	m := regexp.MustCompile(`"access_token": "([0-9a-z]*)`).FindSubmatch(r.body)
	if r.status != 200 || m == nil || len(m[1]) != 128 {
		t.Fatalf("login %d: the deployment script's grep finds no token in %s", r.status, r.body)
	}
	e := s.raw("POST", "/api/authorize/auth/", "", strings.NewReader(`{"credentials": {"email": "admin@example.com", "password": "wrong"}}`), "application/json")
	if e.status != 401 || !strings.HasPrefix(string(e.body), `{"error_code": 15, "error_message": "`) {
		t.Fatalf("bad login %d: %s", e.status, e.body)
	}
	v := s.raw("GET", "/api/folders/?with_analyses=true", string(m[1]), nil, "")
	if v.status != 200 || !strings.Contains(string(v.body), `"limit": 100, "offset": 0, "total_count": 0}`) {
		t.Fatalf("folder list %d: %s", v.status, v.body)
	}
}
