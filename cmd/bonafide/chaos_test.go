package main

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"bonafide/internal/assets"
)

// chaosClient talks to a server that may die at any moment: unlike server.call, a failed
// request is an answer ("not accepted"), not a test failure.
type chaosClient struct {
	http *http.Client
}

func (c *chaosClient) do(method, url, token string, body []byte, contentType string, out any) (int, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("X-Forensic-Access-Token", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("%s %s: not JSON: %s", method, url, data)
		}
	}
	return resp.StatusCode, nil
}

// accepted is what the server answered 201 for: a folder with its one media, and the analysis
// when that was accepted too.
type accepted struct {
	folder, media, sha, analysis string
}

// TestServeChaos kills the embedded server with SIGKILL 20 times at random moments while two
// clients upload photos and videos and start analyses, restarting it each time on the default
// timings. Then every accepted analysis finishes (within 90 s of the last restart) exactly once
// (one webhook-id per folder, and the result the webhook carried is the one stored), every
// accepted media is stored byte for byte (sha256), and no stored file lacks a row.
func TestServeChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos test restarts the server 20 times")
	}
	live, _ := seedMedia(t)
	photo := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	files := []struct{ field, path, tags string }{
		{"photo1", photo, `["photo_selfie"]`},
		{"photo1", photo, `["photo_selfie"]`},
		{"video1", live, `["video_selfie","video_selfie_blank"]`},
	}
	bodies := make([][]byte, len(files))
	sums := make([]string, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = data
		h := sha256.Sum256(data)
		sums[i] = hex.EncodeToString(h[:])
	}

	// The webhook receiver: webhook-ids and the analysis result carried, per folder.
	var mu sync.Mutex
	hookIDs := map[string]map[string]bool{}
	hookResult := map[string]string{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var f struct {
			FolderID string            `json:"folder_id"`
			Analyses []json.RawMessage `json:"analyses"`
		}
		_ = json.Unmarshal(body, &f)
		mu.Lock()
		defer mu.Unlock()
		if hookIDs[f.FolderID] == nil {
			hookIDs[f.FolderID] = map[string]bool{}
		}
		hookIDs[f.FolderID][r.Header.Get("webhook-id")] = true
		if len(f.Analyses) == 1 {
			hookResult[f.FolderID] = resultOf(f.Analyses[0])
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	seed := uint64(time.Now().UnixNano())
	t.Logf("chaos seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 20))
	dir := t.TempDir()
	var env []string // the default settings
	client := &chaosClient{http: &http.Client{Timeout: 30 * time.Second}}
	var (
		amu  sync.Mutex
		acc  []accepted
		sent int
	)
	upload := func(s *server, token string, n int) {
		f := files[n%len(files)]
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		w, _ := mw.CreateFormFile(f.field, filepath.Base(f.path))
		_, _ = w.Write(bodies[n%len(files)])
		_ = mw.WriteField("payload", fmt.Sprintf(`{"media:tags":{%q:%s}}`, f.field, f.tags))
		_ = mw.Close()
		var folder folderJSON
		amu.Lock()
		sent++
		amu.Unlock()
		if code, err := client.do("POST", s.url+"/api/folders/", token, buf.Bytes(), mw.FormDataContentType(), &folder); err != nil || code != 201 {
			return
		}
		a := accepted{folder: folder.FolderID, media: folder.Media[0].MediaID, sha: sums[n%len(files)]}
		req := fmt.Sprintf(`{"analyses":[{"type":"QUALITY"}],"resolution_endpoint":%q}`, receiver.URL+"/hook")
		var started []analysisJSON
		if code, err := client.do("POST", s.url+"/api/folders/"+folder.FolderID+"/analyses", token, []byte(req), "application/json", &started); err == nil && code == 201 {
			a.analysis = started[0].AnalyseID
		}
		amu.Lock()
		acc = append(acc, a)
		amu.Unlock()
	}

	const kills = 20
	for k := range kills {
		s := startServer(t, dir, env...)
		token := s.login("admin@example.com", "admin-password")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range 2 {
			wg.Go(func() {
				for n := c; ; n += 2 {
					select {
					case <-stop:
						return
					default:
					}
					upload(s, token, n)
					// A steady load the server sustains (about 2 uploads a second in all), as
					// from people in front of cameras: a backlog that only grows would test the
					// throughput, not the recovery.
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(700+rand.IntN(600)) * time.Millisecond):
					}
				}
			})
		}
		time.Sleep(time.Duration(500+rng.IntN(3500)) * time.Millisecond)
		if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = s.cmd.Wait()
		close(stop)
		wg.Wait()
		amu.Lock()
		t.Logf("kill %d: %d uploads accepted of %d sent so far", k+1, len(acc), sent)
		amu.Unlock()
	}

	restart := time.Now()
	s := startServer(t, dir, env...)
	token := s.login("admin@example.com", "admin-password")
	analyses := 0
	for _, a := range acc {
		if a.analysis == "" {
			continue
		}
		analyses++
		got := pollQuiet(s, token, a.analysis, 90*time.Second-time.Since(restart))
		if got.State == "PROCESSING" {
			dumpJobs(t, filepath.Join(dir, "bonafide.db"))
			t.Fatalf("analysis %s still PROCESSING 90 s after the last restart", a.analysis)
		}
		if got.State != "FINISHED" {
			t.Fatalf("analysis %s after the chaos: %+v", a.analysis, got)
		}
	}
	t.Logf("%d uploads and %d analyses accepted over %d kills; all finished %.1f s after the last restart (default timings)",
		len(acc), analyses, kills, time.Since(restart).Seconds())
	if analyses < 2*kills {
		t.Fatalf("only %d analyses accepted over %d kills: the load was too light to mean anything", analyses, kills)
	}

	// Exactly once: one webhook event per folder, carrying the result that is stored.
	deadline := time.Now().Add(60 * time.Second)
	for _, a := range acc {
		if a.analysis == "" {
			continue
		}
		for {
			mu.Lock()
			n := len(hookIDs[a.folder])
			mu.Unlock()
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("folder %s: no webhook", a.folder)
			}
			time.Sleep(200 * time.Millisecond)
		}
		var stored json.RawMessage
		if code := s.call("GET", "/api/analyses/"+a.analysis, token, nil, "", &stored); code != 200 {
			t.Fatalf("analysis %s: %d", a.analysis, code)
		}
		mu.Lock()
		ids, carried := hookIDs[a.folder], hookResult[a.folder]
		mu.Unlock()
		if len(ids) != 1 {
			t.Errorf("folder %s: %d webhook events (%v), want one: the analysis finished more than once", a.folder, len(ids), ids)
		}
		if want := resultOf(stored); carried != want {
			t.Errorf("analysis %s: the webhook carried %s, the store holds %s", a.analysis, carried, want)
		}
	}

	// No media lost, byte for byte; and every stored file belongs to a row.
	referenced := map[string]bool{}
	for offset := 0; ; offset += 500 {
		var page struct {
			Items []struct {
				FolderID string `json:"folder_id"`
				Media    []struct {
					OriginalURL string `json:"original_url"`
				} `json:"media"`
				Analyses []analysisJSON `json:"analyses"`
			} `json:"items"`
		}
		if code := s.call("GET", fmt.Sprintf("/api/folders/?with_analyses=true&limit=500&offset=%d", offset), token, nil, "", &page); code != 200 {
			t.Fatalf("folder list: %d", code)
		}
		for _, f := range page.Items {
			for _, m := range f.Media {
				referenced[staticKey(t, m.OriginalURL)] = true
			}
			for _, a := range f.Analyses {
				for _, r := range a.ResultsMedia {
					for _, img := range r.OutputImages {
						referenced[staticKey(t, img.OriginalURL)] = true
					}
				}
			}
		}
		if len(page.Items) < 500 {
			break
		}
	}
	for _, a := range acc {
		var f folderJSON
		if code := s.call("GET", "/api/folders/"+a.folder, token, nil, "", &f); code != 200 || len(f.Media) != 1 {
			t.Fatalf("accepted folder %s: %d, %d media", a.folder, code, len(f.Media))
		}
		req, _ := http.NewRequest("GET", f.Media[0].OriginalURL, nil)
		req.Header.Set("X-Forensic-Access-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if h := sha256.Sum256(data); resp.StatusCode != 200 || hex.EncodeToString(h[:]) != a.sha {
			t.Errorf("media %s of folder %s: %d, %d bytes, not the bytes uploaded", a.media, a.folder, resp.StatusCode, len(data))
		}
	}
	root := filepath.Join(dir, "media")
	stored := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		key := filepath.ToSlash(rel) // one file per object: a metadata sidecar would be an orphan too
		stored++
		if !referenced[key] {
			t.Errorf("orphan file %s: no row refers to it", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d stored files, all referenced; %d keys referenced", stored, len(referenced))
}

// resultOf is an analysis' state, resolution and confidence, as one comparable string.
func resultOf(raw json.RawMessage) string {
	var a analysisJSON
	_ = json.Unmarshal(raw, &a)
	s := a.State + "/" + a.ResolutionStatus
	for _, r := range a.ResultsMedia {
		if c := r.ResultsData.ConfidenceSpoofing; c != nil {
			s += fmt.Sprintf("/%.6f", *c)
		}
	}
	return s
}

func staticKey(t *testing.T, url string) string {
	t.Helper()
	_, key, ok := strings.Cut(url, "/static/")
	if !ok {
		t.Fatalf("not a /static/ URL: %s", url)
	}
	key, _, _ = strings.Cut(key, "?") // the signature
	return key
}

// pollQuiet is server.poll without the fatal timeout: it returns the last state seen.
func pollQuiet(s *server, token, id string, timeout time.Duration) analysisJSON {
	end := time.Now().Add(timeout)
	for {
		var a analysisJSON
		if code := s.call("GET", "/api/analyses/"+id, token, nil, "", &a); code != 200 {
			s.t.Fatalf("poll %s: %d", id, code)
		}
		if a.State != "PROCESSING" || time.Now().After(end) {
			return a
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// dumpJobs logs the queue's unfinished jobs, to see why an analysis did not finish.
func dumpJobs(t *testing.T, path string) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Log(err)
		return
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, kind, state, attempt, max_attempts, args, scheduled_at, attempted_at, errors FROM river_job WHERE state NOT IN ('completed')`)
	if err != nil {
		t.Log(err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, attempt, maxAttempts int
		var kind, state, args string
		var scheduled, attempted, errs sql.NullString
		if err := rows.Scan(&id, &kind, &state, &attempt, &maxAttempts, &args, &scheduled, &attempted, &errs); err != nil {
			t.Log(err)
			return
		}
		t.Logf("job %d %s %s attempt %d/%d args %s scheduled %s attempted %s errors %s", id, kind, state, attempt, maxAttempts, args, scheduled.String, attempted.String, errs.String)
	}
}

// An analysis whose every attempt was cut by a dying process ends FAILED with the reason when the
// server starts again, instead of staying PROCESSING for ever (and is not run again: it might be
// what stops the server).
func TestServeAbandonsAnalysisAfterEveryAttemptCrashed(t *testing.T) {
	live, _ := seedMedia(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	token := s.login("admin@example.com", "admin-password")
	body, ct := multipartBody(t, map[string]string{"video1": live}, `{"media:tags":{"video1":["video_selfie","video_selfie_blank"]}}`)
	var f folderJSON
	if code := s.call("POST", "/api/folders", token, body, ct, &f); code != 201 {
		t.Fatalf("folder: %d", code)
	}
	var started []analysisJSON
	if code := s.call("POST", "/api/folders/"+f.FolderID+"/analyses", token, strings.NewReader(`{"analyses":[{"type":"QUALITY"}]}`), "application/json", &started); code != 201 {
		t.Fatalf("analysis: %d", code)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "bonafide.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'analysis' AND state = 'running'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the analysis job never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	// As if this was the last of its attempts.
	if _, err := db.Exec(`UPDATE river_job SET attempt = max_attempts WHERE kind = 'analysis'`); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, dir)
	token = s2.login("admin@example.com", "admin-password")
	a := s2.poll(token, started[0].AnalyseID, 30*time.Second)
	if a.State != "FAILED" || !strings.Contains(a.Error, "server stopped while analysing this media on every attempt") {
		t.Fatalf("after every attempt crashed: %+v, want FAILED with the reason", a)
	}
}
