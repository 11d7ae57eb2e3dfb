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

	"bonafide"
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
	token := string(m[1])

	// A known path with a method it does not serve: 405, code 1, and Allow.
	n := s.raw("PUT", "/api/folders/", token, nil, "")
	if n.status != 405 || !strings.HasPrefix(string(n.body), `{"error_code": 1, `) || n.header.Get("Allow") != "GET, HEAD, POST, OPTIONS" {
		t.Fatalf("PUT /api/folders/: %d %q %s", n.status, n.header.Get("Allow"), n.body)
	}
	if u := s.raw("PUT", "/api/nothing/here", token, nil, ""); u.status != 404 {
		t.Fatalf("unknown path: %d %s", u.status, u.body)
	}

	// with_analyses=true on a folder without analyses: "analyses": [].
	var f folderJSON
	if st := s.call("POST", "/api/folders", token, nil, "", &f); st != 201 {
		t.Fatalf("empty folder: %d", st)
	}
	g := s.raw("GET", "/api/folders/"+f.FolderID+"?with_analyses=true", token, nil, "")
	if g.status != 200 || !strings.Contains(string(g.body), `"analyses": []`) {
		t.Fatalf("with_analyses=true: %d %s", g.status, g.body)
	}
}

// The iOS SDK's document flow sends quality + documents + biometry in one request (and old
// clients say "liveness"): every type Bonafide runs runs, the others are FAILED analyses saying
// so, and the liveness verdict still comes.
func TestServeWireMixedTypes(t *testing.T) {
	live, _ := seedMedia(t)
	s := startServer(t, t.TempDir())
	token := s.login("admin@example.com", "admin-password")
	body, ct := multipartBody(t, map[string]string{"video1": live}, `{"media:tags": {"video1": ["video_selfie", "video_selfie_blank"]}}`)
	var f folderJSON
	if st := s.call("POST", "/api/folders/", token, body, ct, &f); st != 201 {
		t.Fatalf("upload: %d", st)
	}
	req := `{"analyses": [{"type": "liveness"}, {"type": "documents"}, {"type": "biometry"}]}`
	var started []struct {
		analysisJSON
		Type string `json:"type"`
	}
	if st := s.call("POST", "/api/folders/"+f.FolderID+"/analyses/", token, strings.NewReader(req), "application/json", &started); st != 201 || len(started) != 3 {
		t.Fatalf("mixed request: %d %+v", st, started)
	}
	for _, a := range started {
		if _, runs := bonafide.LookupAnalysisType(a.Type); runs {
			continue
		}
		if a.State != "FAILED" || !strings.Contains(a.Error, a.Type) {
			t.Errorf("%s is not run here, yet: %+v", a.Type, a)
		}
	}
	if started[0].Type != "QUALITY" {
		t.Fatalf("liveness is not QUALITY: %+v", started[0])
	}
	if q := s.poll(token, started[0].AnalyseID, 90*time.Second); q.State != "FINISHED" || q.ResolutionStatus != "SUCCESS" {
		t.Fatalf("the liveness part of a mixed request: %+v", q)
	}
	var e struct {
		Code    int    `json:"error_code"`
		Message string `json:"error_message"`
	}
	if st := s.call("POST", "/api/folders/"+f.FolderID+"/analyses/", token, strings.NewReader(`{"analyses": [{"type": "quality"}, {"type": "FOO"}]}`), "application/json", &e); st != 400 || e.Code != 4 || !strings.Contains(e.Message, "FOO") {
		t.Fatalf("FOO: %d %+v", st, e)
	}
}

// POST /api/authorize/refresh keeps the old pair until the new pair is first used.
func TestServeWireRefresh(t *testing.T) {
	s := startServer(t, t.TempDir())
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpireToken string `json:"expire_token"`
	}
	if st := s.call("POST", "/api/authorize/auth", "", strings.NewReader(`{"credentials": {"email": "admin@example.com", "password": "admin-password"}}`), "application/json", &tok); st != 200 {
		t.Fatalf("login: %d", st)
	}
	var fresh struct {
		AccessToken string `json:"access_token"`
	}
	if st := s.call("POST", "/api/authorize/refresh/", tok.AccessToken, strings.NewReader(`{"expire_token": "`+tok.ExpireToken+`"}`), "application/json", &fresh); st != 200 || fresh.AccessToken == "" {
		t.Fatalf("refresh: %d", st)
	}
	if st := s.call("GET", "/api/users/me", tok.AccessToken, nil, "", nil); st != 200 {
		t.Fatalf("the old pair before the new one is used: %d", st)
	}
	if st := s.call("GET", "/api/users/me", fresh.AccessToken, nil, "", nil); st != 200 {
		t.Fatalf("the new pair: %d", st)
	}
	var e struct {
		Code int `json:"error_code"`
	}
	if st := s.call("GET", "/api/users/me", tok.AccessToken, nil, "", &e); st != 401 || e.Code != 7 {
		t.Fatalf("the old pair after the new one was used: %d %+v", st, e)
	}
}
