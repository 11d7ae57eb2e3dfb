package oascheck

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func load(t *testing.T) *Checker {
	t.Helper()
	spec, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const errBody = `{"error_code":10,"error_message":"Object not exist","error_details":null,"details":null}`

func TestLoadRejects(t *testing.T) {
	if _, err := Load([]byte("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\n")); err == nil {
		t.Error("a 3.0 document was accepted")
	}
	if _, err := Load([]byte("openapi: 3.1.0\ninfo: {title: x}\npaths: {}\n")); err == nil {
		t.Error("a document without info.version was accepted")
	}
	if _, err := Load([]byte("not: [yaml")); err == nil {
		t.Error("broken YAML was accepted")
	}
}

func TestNormalizeAndFind(t *testing.T) {
	c := load(t)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/api/folders", "/api/folders"},
		{"GET", "/api/folders/", "/api/folders"},
		{"GET", "/api/folders/?limit=1&total_omit=true", "/api/folders"},
		{"GET", "/api/folders/0b1f0c1e-5f3e-4c7e-9a55-1e1f0a0b0c0d?with_analyses=true", "/api/folders/{folder_id}"},
		{"POST", "/api/folders/x/analyses/", "/api/folders/{folder_id}/analyses"},
		{"GET", "/api/users/me", "/api/users/me"},
		{"GET", "/api/users/me/", "/api/users/me"},
		{"GET", "/api/users/abc", "/api/users/{user_id}"},
		{"GET", "/static/f/m.jpg", "/static/{folder_id}/{file}"},
	} {
		got, op := c.Find(tc.method, tc.path)
		if got != tc.want || op == nil {
			t.Errorf("Find(%s %s) = %q, %v; want %q", tc.method, tc.path, got, op != nil, tc.want)
		}
	}
	if tpl, _ := c.Find("GET", "/api/nothing"); tpl != "" {
		t.Errorf("an unknown path matched %q", tpl)
	}
	if tpl, op := c.Find("PUT", "/api/folders"); tpl != "/api/folders" || op != nil {
		t.Errorf("PUT /api/folders: %q, %v", tpl, op != nil)
	}
	if tpl, _ := c.Find("GET", "/api/folders//media"); tpl != "" {
		t.Errorf("an empty segment matched %q", tpl)
	}
}

func TestResponse(t *testing.T) {
	c := load(t)
	page := `{"offset":0,"limit":100,"total_count":null,"items":[]}`
	ok := []struct {
		method, path string
		status       int
		ct, body     string
	}{
		{"GET", "/api/folders/?total_omit=true", 200, "application/json", page},
		{"GET", "/api/folders", 200, "application/json", `{"offset":0,"limit":100,"total_count":0,"items":[]}`},
		{"GET", "/api/folders/abc", 404, "application/json", errBody},
		{"GET", "/api/users", 401, "application/json; charset=utf-8", `{"error_code":6,"error_message":"no token","error_details":{"key_path":"x"},"details":{"key_path":"x"}}`},
		{"GET", "/healthz", 200, "application/json", `{"status":"ok"}` + "\n"},
		{"GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", "# HELP x\n"},
		{"GET", "/static/f/a.jpg", 200, "image/jpeg", "\xff\xd8\xff"},
		{"GET", "/api/nothing", 404, "application/json", errBody},
		{"PUT", "/api/folders", 404, "application/json", errBody},
		{"OPTIONS", "/api/folders", 204, "", ""},
		{"HEAD", "/healthz", 200, "application/json", ""},
		{"GET", "/api/folders/abc/analyses", 200, "application/json", `[]`},
		{"DELETE", "/api/folders/x/", 200, "application/json", `{"folder_id":"0b1f0c1e-5f3e-4c7e-9a55-1e1f0a0b0c0d"}`},
	}
	for _, tc := range ok {
		h := http.Header{"X-Request-Id": {"0f8fad5b-d9cb-469f-a165-70867728950e"}} // the server's answers all carry one
		if tc.ct != "" {
			h.Set("Content-Type", tc.ct)
		}
		if err := c.Response(tc.method, tc.path, tc.status, h, []byte(tc.body)); err != nil {
			t.Errorf("%s %s %d: %v", tc.method, tc.path, tc.status, err)
		}
	}
	bad := []struct {
		name, method, path string
		status             int
		ct, body, want     string
	}{
		{"envelope instead of bare array", "GET", "/api/folders/abc/analyses", 200, "application/json", page, "schema"},
		{"missing total_count", "GET", "/api/folders", 200, "application/json", `{"offset":0,"limit":100,"items":[]}`, "total_count"},
		{"extra field", "GET", "/healthz", 200, "application/json", `{"status":"ok","x":1}`, "schema"},
		{"wrong content type", "GET", "/healthz", 200, "text/html", `{"status":"ok"}`, "Content-Type"},
		{"not JSON", "GET", "/healthz", 200, "application/json", `ok`, "not JSON"},
		{"error without details", "GET", "/api/folders/abc", 404, "application/json", `{"error_code":10,"error_message":"x","error_details":null}`, "details"},
		{"undocumented 200", "GET", "/api/nothing", 200, "application/json", `{}`, "success status"},
		{"catch-all not envelope", "GET", "/api/nothing", 404, "text/plain", `404 page not found`, "error envelope"},
		{"id not a UUID", "DELETE", "/api/folders/x", 200, "application/json", `{"folder_id":"not-a-uuid"}`, "uuid"},
		{"preflight with body", "OPTIONS", "/api/folders", 200, "text/plain", `x`, "preflight"},
	}
	for _, tc := range bad {
		h := http.Header{"Content-Type": {tc.ct}, "X-Request-Id": {"req-1"}}
		err := c.Response(tc.method, tc.path, tc.status, h, []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	// The Error response requires the X-Request-Id header.
	err := c.Response("GET", "/api/folders/abc", 404, http.Header{"Content-Type": {"application/json"}}, []byte(errBody))
	if err == nil || !strings.Contains(err.Error(), "X-Request-Id") {
		t.Errorf("an error without X-Request-Id: err = %v", err)
	}
}

// fakeTB records Errorf calls.
type fakeTB struct {
	testing.TB
	errs []string
}

func (f *fakeTB) Errorf(format string, args ...any) { f.errs = append(f.errs, format) }
func (f *fakeTB) Helper()                           {}

func TestTransport(t *testing.T) {
	c := load(t)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte(`{"status":"ok"}`))
		default:
			w.Write([]byte(`{"status":"wrong"}`))
		}
	}))
	defer ts.Close()
	tb := &fakeTB{TB: t}
	rt := c.Transport(nil, tb)
	client := &http.Client{Transport: rt}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := client.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		if n == 0 {
			t.Errorf("%s: the transport consumed the body", p)
		}
	}
	if len(tb.errs) != 1 {
		t.Errorf("got %d failures, want 1 (the /readyz one): %v", len(tb.errs), tb.errs)
	}
	if Checked(rt) != 2 {
		t.Errorf("Checked = %d, want 2", Checked(rt))
	}
}
