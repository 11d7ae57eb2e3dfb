package capture

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, method, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// The page's files are served with their types and the strict CSP; nothing else is.
func TestHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(Path, Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, ctype := range map[string]string{"/capture/": "text/html", "/capture/index.html": "text/html",
		"/capture/capture.js": "text/javascript", "/capture/capture.css": "text/css", "/capture/strings.json": "application/json"} {
		resp, body := get(t, srv, "GET", path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || body == "" {
			t.Errorf("GET %s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != CSP {
			t.Errorf("GET %s: CSP %q", path, got)
		}
	}
	for _, path := range []string{"/capture/capture.go", "/capture/../capture.go", "/capture/assets/index.html", "/capture/nope.js"} {
		if resp, _ := get(t, srv, "GET", path); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := get(t, srv, "POST", "/capture/"); resp.StatusCode != 404 {
		t.Errorf("POST /capture/: %d", resp.StatusCode)
	}
	if resp, body := get(t, srv, "HEAD", "/capture/"); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /capture/: %d, %d bytes", resp.StatusCode, len(body))
	}
	for _, part := range []string{"default-src 'self'", "script-src 'self'", "media-src 'self' blob:", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, part) || strings.Contains(CSP, "unsafe-inline") {
			t.Errorf("CSP %q: want %q and no unsafe-inline", CSP, part)
		}
	}
}

// The HTML has no inline script, style or event handler (the CSP would block them), and every
// string the page uses is in strings.json, in every language, with English first.
func TestPageStrings(t *testing.T) {
	html, err := assets.ReadFile("assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := assets.ReadFile("assets/capture.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAll(html, -1) {
		if !strings.Contains(string(tag), " src=") {
			t.Errorf("index.html has an inline script: %s", tag)
		}
	}
	for _, bad := range []*regexp.Regexp{regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`),
		regexp.MustCompile(`\sstyle=`), regexp.MustCompile(`\son[a-z]+=`), regexp.MustCompile(`<style`), regexp.MustCompile(`https?://`)} {
		if loc := bad.FindIndex(html); loc != nil {
			t.Errorf("index.html has %q: nothing inline, nothing from elsewhere", html[loc[0]:min(loc[1]+20, len(html))])
		}
	}
	if regexp.MustCompile(`https?://`).Match(js) {
		t.Error("capture.js names another site; the page must work offline")
	}
	data, err := assets.ReadFile("assets/strings.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]map[string]string
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatalf("strings.json: %v", err)
	}
	en := all["en"]
	if len(en) == 0 {
		t.Fatal("strings.json has no English")
	}
	var used []string
	for _, m := range regexp.MustCompile(`data-i18n="([^"]+)"`).FindAllSubmatch(html, -1) {
		used = append(used, string(m[1]))
	}
	for _, m := range regexp.MustCompile(`\bt\('([A-Za-z_]+)'\s*[,)]`).FindAllSubmatch(js, -1) {
		used = append(used, string(m[1]))
	}
	for _, m := range regexp.MustCompile(`'(err[A-Z][A-Za-z]+)'`).FindAllSubmatch(js, -1) {
		used = append(used, string(m[1]))
	}
	for _, tag := range []string{"video_selfie_blank", "video_selfie_left", "video_selfie_right", "video_selfie_down",
		"video_selfie_high", "video_selfie_smile", "video_selfie_eyes", "video_selfie_scan", "noFace", "tooFar", "tooClose", "tooDark", "severalFaces"} {
		used = append(used, tag)
	}
	slices.Sort(used)
	for _, key := range slices.Compact(used) {
		if en[key] == "" {
			t.Errorf("the page uses %q, which strings.json's English lacks", key)
		}
	}
	for lang, m := range all {
		for key := range en {
			if m[key] == "" {
				t.Errorf("strings.json %s lacks %q", lang, key)
			}
		}
		for key := range m {
			if _, ok := en[key]; !ok {
				t.Errorf("strings.json %s has %q, which English lacks", lang, key)
			}
		}
	}
}
