// Package capture serves the capture page: the person's side of a capture session (the
// integrator's side is the API's /api/capture/sessions). The page is plain HTML, CSS and
// JavaScript embedded in the binary, with no build step and nothing fetched from elsewhere, so it
// works offline; it talks to the API only through the capture token of its link.
package capture

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Path is where the page is served.
const Path = "/capture/"

// CSP is the page's Content-Security-Policy: its own files only, no inline script or style, the
// camera's stream and recorded blobs as media, no framing, no form posts elsewhere.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'none'; frame-ancestors 'none'"

// files are the page's files and their types; nothing else is served.
var files = map[string]string{
	"index.html":   "text/html; charset=utf-8",
	"capture.js":   "text/javascript; charset=utf-8",
	"capture.css":  "text/css; charset=utf-8",
	"strings.json": "application/json; charset=utf-8",
}

// Handler serves GET (and HEAD) Path and the page's files under it.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Path)
		if name == "" {
			name = "index.html"
		}
		ctype, ok := files[path.Clean(name)]
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			h := w.Header()
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Content-Security-Policy", CSP)
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("not found\n"))
			return
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Security-Policy", CSP)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(data)
		}
	})
}
