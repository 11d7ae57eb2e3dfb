package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bonafide/internal/assets"
)

// get fetches a URL without any token header, as a browser's fetch() of original_url does.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// Media and best-shot URLs work without the token header (signed, expiring), an altered one answers
// 403, and the key is the installation's: a URL signed before a restart still works after it.
func TestServeSignedURLs(t *testing.T) {
	photo := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	assets.Require(t, photo)
	want, err := os.ReadFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	token := s.login("admin@example.com", "admin-password")
	body, ct := multipartBody(t, map[string]string{"photo1": photo},
		`{"media:tags":{"photo1":["photo_selfie"]},"analyses":[{"type":"QUALITY"}]}`)
	var f folderJSON
	if code := s.call("POST", "/api/folders/", token, body, ct, &f); code != 201 {
		t.Fatalf("folder: %d", code)
	}
	a := s.poll(token, f.Analyses[0].AnalysisID, 60*time.Second)
	if a.State != "FINISHED" || len(a.ResultsMedia) != 1 || len(a.ResultsMedia[0].OutputImages) != 1 {
		t.Fatalf("analysis: %+v", a)
	}
	media, shot := f.Media[0].OriginalURL, a.ResultsMedia[0].OutputImages[0].OriginalURL
	if code, data := get(t, media); code != 200 || !bytes.Equal(data, want) {
		t.Fatalf("media URL without a token: %d, %d bytes", code, len(data))
	}
	if code, data := get(t, shot); code != 200 || !bytes.HasPrefix(data, []byte("\xFF\xD8")) {
		t.Fatalf("best-shot URL without a token: %d", code)
	}
	tampered := strings.Replace(media, "expires=", "expires=1", 1)
	if code, data := get(t, tampered); code != 403 || !bytes.HasPrefix(data, []byte(`{"error_code": 9`)) {
		t.Fatalf("altered URL: %d %s", code, data)
	}
	unsigned, _, _ := strings.Cut(media, "?")
	if code, _ := get(t, unsigned); code != 401 {
		t.Fatalf("unsigned URL without a token: %d, want 401", code)
	}

	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	s2 := startServer(t, dir)
	// The new process listens on another port: same path and signature, new address.
	_, rest, _ := strings.Cut(strings.TrimPrefix(media, "http://"), "/")
	if code, data := get(t, s2.url+"/"+rest); code != 200 || !bytes.Equal(data, want) {
		t.Fatalf("a URL signed before the restart: %d, %d bytes", code, len(data))
	}
}
