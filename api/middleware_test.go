package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// mwLog is a concurrency-safe buffer of JSON log lines.
type mwLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *mwLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the decoded log lines whose msg is msg.
func (l *mwLog) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// mwServer serves a Server without a store whose pages and routes are given, logging to the
// returned buffer.
func mwServer(t *testing.T, pages map[string]http.Handler, wrap func(*Server, http.Handler) http.Handler) (*httptest.Server, *mwLog) {
	t.Helper()
	logs := &mwLog{}
	srv := New(Config{Pages: pages}, nil, nil, nil, slog.New(slog.NewJSONHandler(logs, nil)), nil)
	h := srv.Handler()
	if wrap != nil {
		h = wrap(srv, h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts, logs
}

func mwGet(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, body
}

// mwEnvelope decodes an internal-error envelope and checks that both details name id.
func mwEnvelope(t *testing.T, body []byte, id string) {
	t.Helper()
	var e struct {
		Code    int               `json:"error_code"`
		Message string            `json:"error_message"`
		Details map[string]string `json:"error_details"`
		Alias   map[string]string `json:"details"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not the error envelope: %v: %s", err, body)
	}
	if e.Code != 0 || e.Message != unknownErrorMessage {
		t.Errorf("envelope code %d message %q, want 0 %q", e.Code, e.Message, unknownErrorMessage)
	}
	if e.Details["request_id"] != id || e.Alias["request_id"] != id {
		t.Errorf("details %v / %v, want request_id %q", e.Details, e.Alias, id)
	}
}

func TestPanicAnswersTheEnvelopeAndTheServerKeepsServing(t *testing.T) {
	pages := map[string]http.Handler{
		"GET /boom": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000") // headers of the answer it meant to send
			w.Header().Set("Content-Disposition", `attachment; filename="x.mp4"`)
			panic("boom: the secret /srv/bonafide/config is broken")
		}),
	}
	ts, logs := mwServer(t, pages, nil)

	resp, body := mwGet(t, ts.URL+"/boom")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("the envelope kept the handler's Content-Disposition %q or lost the CORS headers", cd)
	}
	id := resp.Header.Get(RequestIDHeader)
	if !wellFormedRequestID(id) {
		t.Fatalf("X-Request-Id %q", id)
	}
	mwEnvelope(t, body, id)
	for _, leak := range []string{"/srv/bonafide", "goroutine", ".go:", "boom"} {
		if bytes.Contains(body, []byte(leak)) {
			t.Errorf("the answer leaks %q: %s", leak, body)
		}
	}
	if err := oaChecker(t).Response("GET", "/boom", resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("OpenAPI: %v", err)
	}

	panics := logs.lines(t, "panic serving a request")
	if len(panics) != 1 {
		t.Fatalf("%d panic log lines, want 1", len(panics))
	}
	p := panics[0]
	if p["request_id"] != id || p["level"] != "ERROR" || p["path"] != "/boom" {
		t.Errorf("panic log line %v, want request_id %q", p, id)
	}
	if stack, _ := p["stack"].(string); !strings.Contains(stack, "middleware_test.go") {
		t.Errorf("the log line has no stack of the handler: %q", stack)
	}
	if msg, _ := p["panic"].(string); !strings.Contains(msg, "boom") {
		t.Errorf("the log line does not say what panicked: %q", msg)
	}

	// The server keeps serving, and a panic again is answered again.
	for range 2 {
		if resp, body := mwGet(t, ts.URL+"/healthz"); resp.StatusCode != http.StatusOK || resp.Header.Get(RequestIDHeader) == "" {
			t.Fatalf("after a panic: /healthz %d %q: %s", resp.StatusCode, resp.Header.Get(RequestIDHeader), body)
		}
		if resp, _ := mwGet(t, ts.URL+"/boom"); resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("a second panic answered %d", resp.StatusCode)
		}
	}
}

// A handler that panics after its answer began cannot be answered with the envelope: the
// connection is cut, so the client never takes the half answer for a whole one.
func TestPanicAfterTheAnswerBeganCutsTheConnection(t *testing.T) {
	pages := map[string]http.Handler{
		"GET /half": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("partial"))
			_ = http.NewResponseController(w).Flush() // through the middleware's Unwrap
			panic("half way")
		}),
	}
	ts, logs := mwServer(t, pages, nil)
	resp, err := http.Get(ts.URL + "/half")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a half answer read whole")
	}
	if n := len(logs.lines(t, "panic serving a request")); n != 1 {
		t.Errorf("%d panic log lines, want 1", n)
	}
	if resp, _ := mwGet(t, ts.URL+"/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after a panic: /healthz %d", resp.StatusCode)
	}
}

func TestInternalErrorNamesTheRequestID(t *testing.T) {
	logs := &mwLog{}
	srv := New(Config{}, nil, nil, nil, slog.New(slog.NewJSONHandler(logs, nil)), nil)
	ts := httptest.NewServer(withRequestID(srv.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("open /var/lib/bonafide/secret: permission denied")
	}, false)))
	t.Cleanup(ts.Close)

	resp, body := mwGet(t, ts.URL+"/x", RequestIDHeader, "trace-42:a.b_c")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get(RequestIDHeader); got != "trace-42:a.b_c" {
		t.Fatalf("a well-formed incoming id was not kept: %q", got)
	}
	mwEnvelope(t, body, "trace-42:a.b_c")
	if bytes.Contains(body, []byte("/var/lib")) {
		t.Errorf("the answer leaks the cause: %s", body)
	}
	lines := logs.lines(t, "internal error")
	if len(lines) != 1 || lines[0]["request_id"] != "trace-42:a.b_c" || !strings.Contains(lines[0]["err"].(string), "permission denied") {
		t.Errorf("log lines %v", lines)
	}
}

func TestRequestIDOnEveryAnswer(t *testing.T) {
	ts, _ := mwServer(t, nil, nil)
	for _, tc := range []struct {
		method, path, incoming string
		status                 int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/api/version", "", 200},
		{"GET", "/api/folders", "", 401},
		{"GET", "/nowhere", "", 404},
		{"PUT", "/api/version", "", 405},
		{"OPTIONS", "/api/folders", "", 204},
		{"GET", "/metrics", "", 200},
		{"GET", "/healthz", "0f8fad5b-d9cb-469f-a165-70867728950e", 200},
		{"GET", "/healthz", "has space", 200},
		{"GET", "/healthz", strings.Repeat("a", 129), 200},
		{"GET", "/healthz", "semi;colon", 200},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		if tc.incoming != "" {
			req.Header.Set(RequestIDHeader, tc.incoming)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get(RequestIDHeader)
		if resp.StatusCode != tc.status || !wellFormedRequestID(got) || len(resp.Header.Values(RequestIDHeader)) != 1 {
			t.Errorf("%s %s (incoming %q): %d, X-Request-Id %q", tc.method, tc.path, tc.incoming, resp.StatusCode, resp.Header.Values(RequestIDHeader))
		}
		if keep := wellFormedRequestID(tc.incoming); keep != (got == tc.incoming) {
			t.Errorf("incoming %q answered %q", tc.incoming, got)
		}
	}
}

// Guard around the API (as serve mounts the console beside it) gives one id per request, which
// the API keeps.
func TestGuardKeepsOneID(t *testing.T) {
	var inner string
	pages := map[string]http.Handler{"GET /seen": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = RequestID(r.Context())
	})}
	ts, _ := mwServer(t, pages, func(s *Server, h http.Handler) http.Handler { return s.Guard(h) })
	resp, _ := mwGet(t, ts.URL+"/seen")
	if ids := resp.Header.Values(RequestIDHeader); len(ids) != 1 || ids[0] != inner || inner == "" {
		t.Errorf("answer ids %q, the handler saw %q", ids, inner)
	}
}

func TestRequestLogAddsTheID(t *testing.T) {
	var buf bytes.Buffer
	log := withRequestLog(slog.New(slog.NewJSONHandler(&buf, nil)).With("component", "api"))
	if withRequestLog(log) != log {
		t.Error("wrapped twice")
	}
	var seen string
	h := withRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestID(r.Context())
		log.InfoContext(r.Context(), "handled")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["request_id"] != seen || seen == "" || line["component"] != "api" {
		t.Errorf("log line %v, request id %q", line, seen)
	}
}
