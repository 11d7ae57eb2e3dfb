package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"bonafide/internal/assets"
	"bonafide/internal/browsertest"
	"bonafide/internal/testkit"
	"bonafide/web/capture"
)

// captureClip makes the fake camera's clip at test time: 10 s of the pinned franck.mp4 webcam
// recording from 60 s (a live person looking at the camera, no head turn), as y4m in a temp dir.
func captureClip(t *testing.T) string {
	t.Helper()
	src := filepath.Join(assets.ClmtrackrMedia(), "franck.mp4")
	assets.Require(t, src)
	out := filepath.Join(t.TempDir(), "clip.y4m")
	testkit.FFmpeg(t, "-ss", "60", "-i", src, "-t", "10", "-an", "-pix_fmt", "yuv420p", "-r", "25", out)
	return out
}

type captureSessionJSON struct {
	SessionID        string   `json:"session_id"`
	URL              string   `json:"url"`
	State            string   `json:"state"`
	FolderID         string   `json:"folder_id"`
	Actions          []string `json:"actions"`
	AnalysisID       *string  `json:"analysis_id"`
	ResolutionStatus *string  `json:"resolution_status"`
}

func (s *server) captureSession(token string, body map[string]any) captureSessionJSON {
	s.t.Helper()
	data, _ := json.Marshal(body)
	var c captureSessionJSON
	if code := s.call("POST", "/api/capture/sessions", token, strings.NewReader(string(data)), "application/json", &c); code != 201 || c.URL == "" {
		s.t.Fatalf("create capture session: %d %+v", code, c)
	}
	return c
}

func (s *server) getCaptureSession(token, id string) captureSessionJSON {
	s.t.Helper()
	var c captureSessionJSON
	if code := s.call("GET", "/api/capture/sessions/"+id, token, nil, "", &c); code != 200 {
		s.t.Fatalf("get capture session: %d", code)
	}
	return c
}

// pageState is what the capture page shows: its screen, the verdict's resolution, its error key
// and its text.
func pageState(ctx context.Context) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.screen + " resolution=" + (document.body.dataset.resolution || "") + " error=" + (document.body.dataset.error || "") + " face=" + (document.body.dataset.face || "") + " [" + (document.body.dataset.faceMetrics || "") + "]: " + document.body.innerText.replace(/\s+/g, " ")`))
	return s
}

func waitPage(t *testing.T, ctx context.Context, expr string, timeout time.Duration) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := browsertest.WaitFor(wctx, expr, 100*time.Millisecond); err != nil {
		t.Fatalf("%v\npage: %s", err, pageState(ctx))
	}
}

// TestCaptureScreenshot makes the README's picture of the capture page (only with
// BONAFIDE_SCREENSHOTS=dir): Chromium's own fake camera (its test pattern, no person: nothing
// third-party in the picture), so the page is guiding ("no face").
func TestCaptureScreenshot(t *testing.T) {
	dir := os.Getenv("BONAFIDE_SCREENSHOTS")
	if dir == "" {
		t.Skip("BONAFIDE_SCREENSHOTS is not set")
	}
	ctx := browsertest.New(t, browsertest.WithFlag("use-fake-device-for-media-stream", true),
		browsertest.WithFlag("use-fake-ui-for-media-stream", true), browsertest.WithWindowSize(480, 860))
	s := startServer(t, t.TempDir())
	token := s.login("admin@example.com", "admin-password")
	c := s.captureSession(token, map[string]any{"actions": []string{"video_selfie_blank", "video_selfie_left"}})
	if err := chromedp.Do(ctx, chromedp.Navigate(c.URL)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, `document.body.dataset.screen === "intro"`, 20*time.Second)
	browsertest.Screenshot(t, ctx, dir, "capture-intro.png", false)
	if err := chromedp.Do(ctx, chromedp.Click("#start")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, `document.getElementById("hint").textContent !== ""`, 30*time.Second)
	browsertest.Screenshot(t, ctx, dir, "capture.png", false)
}

// The capture page in a real browser (Debian's chromium, headless, its fake camera playing a live
// clip): a session made through the API is opened, the person is guided and recorded, the clip
// uploaded and analysed, the verdict shown, and the page goes back to return_url. The session is
// FINISHED with a SUCCESS analysis; the same link then is refused as used, an expired link as
// expired; a session asking for a head turn that the clip does not make ends DECLINED with
// CHALLENGE_NOT_MET.
func TestCapturePageInBrowser(t *testing.T) {
	clip := captureClip(t)
	ctx := browsertest.New(t, browsertest.WithFakeCamera(clip), browsertest.WithWindowSize(480, 860), browsertest.WithTimeout(5*time.Minute))
	s := startServer(t, t.TempDir())
	token := s.login("admin@example.com", "admin-password")
	hooks := make(chan []byte, 8)
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/hook" {
			data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			hooks <- data
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>back</title><p>back at the integrator</p>")
	}))
	defer back.Close()

	// Made first, checked last: it has expired by then.
	expiring := s.captureSession(token, map[string]any{"actions": []string{"video_selfie_blank"}, "expires_in": 30})
	expiresAt := time.Now().Add(30 * time.Second)

	// The page itself: served by the server, with a strict CSP.
	resp, err := http.Get(s.url + capture.Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != capture.CSP || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d, CSP %q", capture.Path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}

	live := s.captureSession(token, map[string]any{"actions": []string{"video_selfie_blank"}, "return_url": back.URL + "/done",
		"folder_meta_data": map[string]string{"order": "o-1"}, "resolution_endpoint": back.URL + "/hook"})
	t.Run("live person", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(live.URL)); err != nil {
			t.Fatal(err)
		}
		waitPage(t, ctx, `document.body.dataset.screen === "intro"`, 20*time.Second)
		if st := s.getCaptureSession(token, live.SessionID).State; st != "OPENED" {
			t.Fatalf("state %s after the page opened, want OPENED", st)
		}
		if hash, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`)); hash != "" {
			t.Fatalf("the token stays in the address bar: %q", hash)
		}
		if err := chromedp.Do(ctx, chromedp.Click("#start")); err != nil {
			t.Fatal(err)
		}
		waitPage(t, ctx, `document.body.dataset.recording === "1"`, 40*time.Second)
		waitPage(t, ctx, `document.body.dataset.screen === "verdict"`, 90*time.Second)
		if got := pageState(ctx); !strings.Contains(got, "resolution=SUCCESS") || !strings.Contains(got, "verified") {
			t.Fatalf("verdict on the page: %s", got)
		}
		c := s.getCaptureSession(token, live.SessionID)
		if c.State != "FINISHED" || c.ResolutionStatus == nil || *c.ResolutionStatus != "SUCCESS" || c.AnalysisID == nil {
			t.Fatalf("session %+v, want FINISHED with a SUCCESS analysis", c)
		}
		var a analysisJSON
		if code := s.call("GET", "/api/analyses/"+*c.AnalysisID, token, nil, "", &a); code != 200 || a.State != "FINISHED" || a.ResolutionStatus != "SUCCESS" {
			t.Fatalf("analysis: %d %+v", code, a)
		}
		var f folderJSON
		if code := s.call("GET", "/api/folders/"+live.FolderID, token, nil, "", &f); code != 200 || len(f.Media) != 1 || f.Media[0].MediaType != "VIDEO_FOLDER" {
			t.Fatalf("folder: %d %+v", code, f)
		}
		waitPage(t, ctx, fmt.Sprintf(`location.href === %q`, back.URL+"/done"), 20*time.Second)
		select {
		case body := <-hooks:
			var hook folderJSON
			if err := json.Unmarshal(body, &hook); err != nil || hook.FolderID != live.FolderID || hook.SystemResolution != "SUCCESS" || len(hook.Media) != 1 {
				t.Fatalf("webhook: %v %s", err, body)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no webhook for the capture session's folder")
		}
	})

	t.Run("used link", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(live.URL)); err != nil {
			t.Fatal(err)
		}
		waitPage(t, ctx, `document.body.dataset.screen === "error" && document.body.dataset.error === "errUsed"`, 20*time.Second)
	})

	t.Run("gesture not made", func(t *testing.T) {
		left := s.captureSession(token, map[string]any{"actions": []string{"video_selfie_left"}, "gesture_seconds": 3})
		if err := chromedp.Do(ctx, chromedp.Navigate(left.URL)); err != nil {
			t.Fatal(err)
		}
		waitPage(t, ctx, `document.body.dataset.screen === "intro"`, 20*time.Second)
		if err := chromedp.Do(ctx, chromedp.Click("#start")); err != nil {
			t.Fatal(err)
		}
		waitPage(t, ctx, `document.body.dataset.screen === "verdict"`, 120*time.Second)
		if got := pageState(ctx); !strings.Contains(got, "resolution=DECLINED") {
			t.Fatalf("verdict on the page: %s", got)
		}
		c := s.getCaptureSession(token, left.SessionID)
		if c.State != "FINISHED" || c.ResolutionStatus == nil || *c.ResolutionStatus != "DECLINED" {
			t.Fatalf("session %+v, want FINISHED, DECLINED", c)
		}
		var raw map[string]any
		if code := s.call("GET", "/api/analyses/"+*c.AnalysisID, token, nil, "", &raw); code != 200 {
			t.Fatalf("analysis: %d", code)
		}
		if data, _ := json.Marshal(raw); !strings.Contains(string(data), `"CHALLENGE_NOT_MET"`) {
			t.Fatalf("analysis without CHALLENGE_NOT_MET: %s", data)
		}
	})

	t.Run("upload fails, then the retry works", func(t *testing.T) {
		retry := s.captureSession(token, map[string]any{"actions": []string{"video_selfie_blank"}})
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		offline := []*network.Conditions{{URLPattern: s.url + "/api/capture/link/media", Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: offline}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(retry.URL)); err != nil {
			t.Fatal(err)
		}
		waitPage(t, ctx, `document.body.dataset.screen === "intro"`, 20*time.Second)
		if err := chromedp.Do(ctx, chromedp.Click("#start")); err != nil {
			t.Fatal(err)
		}
		waitPage(t, ctx, `document.body.dataset.screen === "upload" && document.body.dataset.error === "uploadFailed" && !document.getElementById("retry").hidden`, 60*time.Second)
		if st := s.getCaptureSession(token, retry.SessionID).State; st != "OPENED" {
			t.Fatalf("state %s after a failed upload, want OPENED", st)
		}
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: []*network.Conditions{}}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Click("#retry")); err != nil {
			t.Fatal(err)
		}
		waitPage(t, ctx, `document.body.dataset.screen === "verdict"`, 90*time.Second)
		if c := s.getCaptureSession(token, retry.SessionID); c.State != "FINISHED" || c.ResolutionStatus == nil || *c.ResolutionStatus != "SUCCESS" {
			t.Fatalf("session after the retry: %+v", c)
		}
	})

	t.Run("expired link", func(t *testing.T) {
		if wait := time.Until(expiresAt) + time.Second; wait > 0 {
			time.Sleep(wait) // the server's clock is real: the 30 s link must run out
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(expiring.URL)); err != nil {
			t.Fatal(err)
		}
		waitPage(t, ctx, `document.body.dataset.screen === "error" && document.body.dataset.error === "errExpired"`, 20*time.Second)
		if st := s.getCaptureSession(token, expiring.SessionID).State; st != "EXPIRED" {
			t.Fatalf("state %s, want EXPIRED", st)
		}
	})
}

// The page's errors in a real browser: a link that is not valid (in French, by ?lang=fr), a
// camera the browser refuses (headless chromium without the fake permission prompt denies it), and
// a browser without MediaRecorder.
func TestCapturePageErrorsInBrowser(t *testing.T) {
	clip := captureClip(t)
	ctx := browsertest.New(t, browsertest.WithFlag("use-fake-device-for-media-stream", true),
		browsertest.WithFlag("use-file-for-fake-video-capture", clip), browsertest.WithFlag("deny-permission-prompts", true),
		browsertest.WithWindowSize(480, 860), browsertest.WithTimeout(2*time.Minute))
	s := startServer(t, t.TempDir())
	token := s.login("admin@example.com", "admin-password")

	if err := chromedp.Do(ctx, chromedp.Navigate(s.url+capture.Path+"?lang=fr#"+strings.Repeat("0", 64))); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, `document.body.dataset.screen === "error" && document.body.dataset.error === "errInvalid"`, 20*time.Second)
	if got := pageState(ctx); !strings.Contains(got, "Ce lien n'est pas valide") {
		t.Fatalf("the French error: %s", got)
	}
	if lang, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "fr" {
		t.Fatalf("html lang %q", lang)
	}

	c := s.captureSession(token, map[string]any{"actions": []string{"video_selfie_blank"}})
	if err := chromedp.Do(ctx, chromedp.Navigate(c.URL)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, `document.body.dataset.screen === "intro"`, 20*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click("#start")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, `document.body.dataset.screen === "error" && document.body.dataset.error === "errCameraDenied"`, 20*time.Second)
	if st := s.getCaptureSession(token, c.SessionID).State; st != "OPENED" {
		t.Fatalf("state %s: a refused camera uploads nothing", st)
	}

	// A browser without MediaRecorder is told so before anything else.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: "delete window.MediaRecorder;"}); err != nil {
		t.Fatal(err)
	}
	c = s.captureSession(token, map[string]any{"actions": []string{"video_selfie_blank"}})
	if err := chromedp.Do(ctx, chromedp.Navigate(c.URL)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, `document.body.dataset.screen === "error" && document.body.dataset.error === "errUnsupported"`, 20*time.Second)
}

// A clip longer than the session gave its gesture (a recording made beforehand, say) fails it:
// uploaded through the link by a client of its own, an 8 s clip for a 3 s gesture of a live
// person ends DECLINED with CHALLENGE_NOT_MET, where the first 3 s of the same clip pass.
func TestCaptureClipTooLong(t *testing.T) {
	src := filepath.Join(assets.ClmtrackrMedia(), "franck.mp4")
	assets.Require(t, src)
	dir := t.TempDir()
	long, short := filepath.Join(dir, "long.webm"), filepath.Join(dir, "short.webm")
	testkit.FFmpeg(t, "-ss", "60", "-i", src, "-t", "8", "-an", "-c:v", "libvpx", "-b:v", "1M", long)
	testkit.FFmpeg(t, "-ss", "60", "-i", src, "-t", "3", "-an", "-c:v", "libvpx", "-b:v", "1M", short)
	s := startServer(t, t.TempDir())
	token := s.login("admin@example.com", "admin-password")
	for _, tc := range []struct {
		clip, want string
	}{{short, "SUCCESS"}, {long, "DECLINED"}} {
		c := s.captureSession(token, map[string]any{"actions": []string{"video_selfie_blank"}, "gesture_seconds": 3})
		_, capToken, _ := strings.Cut(c.URL, "#")
		body, ct := multipartBody(t, map[string]string{"gesture1": tc.clip}, "")
		req, _ := http.NewRequest("POST", s.url+"/api/capture/link/media", body)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-Capture-Token", capToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var up struct {
			AnalysisID string `json:"analysis_id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&up)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("upload: %d", resp.StatusCode)
		}
		a := s.poll(token, up.AnalysisID, 60*time.Second)
		if a.ResolutionStatus != tc.want {
			t.Fatalf("%s: %s, want %s", filepath.Base(tc.clip), a.ResolutionStatus, tc.want)
		}
		var raw map[string]any
		s.call("GET", "/api/analyses/"+up.AnalysisID, token, nil, "", &raw)
		data, _ := json.Marshal(raw)
		if tooLong := strings.Contains(string(data), "longer than the 4.5 s allowed"); tooLong != (tc.want == "DECLINED") {
			t.Fatalf("%s: the over-long reason is %v: %s", filepath.Base(tc.clip), tooLong, data)
		}
	}
}
