package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bonafide"
)

// retentionMediaJSON is a media object with the retention's fields.
type retentionMediaJSON struct {
	MediaID       string   `json:"media_id"`
	OriginalURL   string   `json:"original_url"`
	Deleted       bool     `json:"deleted"`
	DeletedReason string   `json:"deleted_reason"`
	TimeDeleted   *float64 `json:"time_deleted"`
}

// retentionJPEG writes a small generated JPEG and returns its path.
func retentionJPEG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for y := range 24 {
		for x := range 32 {
			img.Set(x, y, color.RGBA{R: uint8(x * 8), G: uint8(y * 10), B: 90, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// adminCompanyID is the id of the ADMIN's company (the reserved one).
func adminCompanyID(t *testing.T, s *server, token string) string {
	t.Helper()
	var page struct {
		Items []struct {
			CompanyID string `json:"company_id"`
			Name      string `json:"name"`
		} `json:"items"`
	}
	if code := s.call("GET", "/api/companies/?search_text="+url.QueryEscape(bonafide.GlobalCompanyName), token, nil, "", &page); code != 200 {
		t.Fatalf("list companies: %d", code)
	}
	for _, c := range page.Items {
		if c.Name == bonafide.GlobalCompanyName {
			return c.CompanyID
		}
	}
	t.Fatalf("no company %q in %+v", bonafide.GlobalCompanyName, page)
	return ""
}

// setRetention PATCHes a company's retention and returns the company's retention as answered.
func setRetention(t *testing.T, s *server, token, companyID, body string) map[string]*string {
	t.Helper()
	var c struct {
		Retention map[string]*string `json:"retention"`
	}
	if code := s.call("PATCH", "/api/companies/"+companyID, token, strings.NewReader(body), "application/json", &c); code != 200 {
		t.Fatalf("PATCH retention %s: %d", body, code)
	}
	return c.Retention
}

// localPath is the path of a rendered /static/ URL (signature included).
func localPath(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// storedFiles lists the stored files under the data directory's media (sidecars aside).
func storedFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	root := filepath.Join(dir, "media")
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = true
		return nil
	})
	return out
}

// eventually polls cond every 50 ms until it holds, failing the test past timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Retention over real HTTP on the real server: a company's setting by PATCH, the periodic run
// deleting media files and best shots (the media then shown deleted, its URLs 410, the analysis
// and its scores kept, the files gone from storage), then whole folders, counted in /metrics.
func TestServeRetention(t *testing.T) { serveRetention(t) }

// The same on PostgreSQL (the scale-out store; River's leader enqueues the job), when
// BONAFIDE_TEST_POSTGRES_URL is set.
func TestServeRetentionPostgres(t *testing.T) {
	url := os.Getenv("BONAFIDE_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("BONAFIDE_TEST_POSTGRES_URL is not set")
	}
	serveRetention(t, "BONAFIDE_DATABASE_URL="+freshDatabase(t, url))
}

func serveRetention(t *testing.T, env ...string) {
	live, _ := seedMedia(t)
	dir := t.TempDir()
	s := startServer(t, dir, append([]string{"BONAFIDE_RETENTION_INTERVAL=1s"}, env...)...)
	token := s.login("admin@example.com", "admin-password")
	company := adminCompanyID(t, s, token)

	// A video analysed (best shot), and a photo never analysed.
	body, ct := multipartBody(t, map[string]string{"video1": live}, `{"media:tags":{"video1":["video_selfie","video_selfie_blank"]}}`)
	var analysed folderJSON
	if code := s.call("POST", "/api/folders", token, body, ct, &analysed); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var started []analysisJSON
	if code := s.call("POST", "/api/folders/"+analysed.FolderID+"/analyses", token, strings.NewReader(`{"analyses":[{"type":"QUALITY"}]}`), "application/json", &started); code != 201 {
		t.Fatalf("analysis: %d", code)
	}
	a := s.poll(token, started[0].AnalyseID, 60*time.Second)
	if a.State != "FINISHED" || len(a.ResultsMedia) != 1 || len(a.ResultsMedia[0].OutputImages) != 1 {
		t.Fatalf("analysis: %+v", a)
	}
	shotURL := a.ResultsMedia[0].OutputImages[0].OriginalURL
	body, ct = multipartBody(t, map[string]string{"photo1": retentionJPEG(t)}, `{"media:tags":{"photo1":["photo_selfie"]}}`)
	var never folderJSON
	if code := s.call("POST", "/api/folders", token, body, ct, &never); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	if code := s.call("GET", localPath(t, shotURL), "", nil, "", nil); code != 200 {
		t.Fatalf("best shot before retention: %d", code)
	}
	if n := len(storedFiles(t, dir)); n != 3 {
		t.Fatalf("stored files before retention: %d, want 3 (video, best shot, photo)", n)
	}

	ret := setRetention(t, s, token, company, `{"retention":{"media":"1s"}}`)
	if ret["media"] == nil || *ret["media"] != "1s" || ret["folders"] != nil {
		t.Fatalf("retention after PATCH: %v", ret)
	}
	var got struct {
		Retention map[string]*string `json:"retention"`
	}
	if code := s.call("GET", "/api/companies/"+company, token, nil, "", &got); code != 200 || got.Retention["media"] == nil || *got.Retention["media"] != "1s" {
		t.Fatalf("GET company: %d %v", code, got.Retention)
	}
	if code := s.call("PATCH", "/api/companies/"+company, token, strings.NewReader(`{"retention":{"media":"30 days"}}`), "application/json", nil); code != 400 {
		t.Fatalf("PATCH a bad duration: %d, want 400", code)
	}

	for _, f := range []folderJSON{analysed, never} {
		var ms []retentionMediaJSON
		eventually(t, 20*time.Second, "media of "+f.FolderID+" deleted", func() bool {
			ms = nil
			s.call("GET", "/api/folders/"+f.FolderID+"/media/", token, nil, "", &ms)
			return len(ms) == 1 && ms[0].Deleted
		})
		m := ms[0]
		if m.DeletedReason != "retention" || m.TimeDeleted == nil {
			t.Fatalf("deleted media: %+v", m)
		}
		var e struct {
			Code    int    `json:"error_code"`
			Message string `json:"error_message"`
		}
		if code := s.call("GET", localPath(t, m.OriginalURL), "", nil, "", &e); code != 410 || e.Code != 410 || !strings.Contains(e.Message, "retention") {
			t.Fatalf("deleted media's URL: %d %+v", code, e)
		}
		if code := s.call("GET", "/static/"+strings.TrimPrefix(staticKey(t, m.OriginalURL), "/"), token, nil, "", nil); code != 410 {
			t.Fatalf("deleted media's file with the token header: %d", code)
		}
	}
	if code := s.call("GET", localPath(t, shotURL), "", nil, "", nil); code != 410 {
		t.Fatalf("best shot after retention: %d, want 410", code)
	}
	eventually(t, 10*time.Second, "files gone", func() bool { return len(storedFiles(t, dir)) == 0 })
	after := s.poll(token, started[0].AnalyseID, time.Second)
	if after.State != "FINISHED" || after.ResolutionStatus != a.ResolutionStatus || after.ResultsMedia[0].ResultsData.ConfidenceSpoofing == nil {
		t.Fatalf("the analysis after retention: %+v", after)
	}

	// Whole folders, then.
	ret = setRetention(t, s, token, company, `{"retention":{"folders":"1s"}}`)
	if ret["media"] == nil || *ret["media"] != "1s" || ret["folders"] == nil || *ret["folders"] != "1s" {
		t.Fatalf("retention after the second PATCH: %v", ret)
	}
	for _, f := range []folderJSON{analysed, never} {
		eventually(t, 20*time.Second, "folder "+f.FolderID+" removed", func() bool {
			return s.call("GET", "/api/folders/"+f.FolderID, token, nil, "", nil) == 404
		})
	}
	metrics := s.metricsText()
	for _, want := range []string{`bonafide_retention_deleted_total{kind="media"} 2`, `bonafide_retention_deleted_total{kind="folder"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(metrics, "retention"))
		}
	}
	// The trail has the runs (by the system) and the settings changes (by the admin).
	for _, action := range []string{"retention.run", "company.update"} {
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		if code := s.call("GET", "/api/audit?action="+action, token, nil, "", &page); code != 200 || len(page.Items) == 0 {
			t.Errorf("GET /api/audit?action=%s: %d, %d entries", action, code, len(page.Items))
		}
	}
	if ret := setRetention(t, s, token, company, `{"retention":null}`); ret["media"] != nil || ret["folders"] != nil {
		t.Fatalf("retention null: %v", ret)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// retentionRows reads every media row's state straight from the database: whether it is marked
// deleted, and whether its files were recorded removed.
func retentionRows(t *testing.T, dir string) (rows map[string][2]bool) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "bonafide.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, err := db.Query(`SELECT blob_key, deleted_at IS NOT NULL, files_deleted_at IS NOT NULL FROM media`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows = map[string][2]bool{}
	for r.Next() {
		var key string
		var marked, finished bool
		if err := r.Scan(&key, &marked, &finished); err != nil {
			t.Fatal(err)
		}
		rows[key] = [2]bool{marked, finished}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkRetentionInvariant: no row claims a file that is gone (a media not marked has its file; one
// recorded removed has none), and no file is without a row.
func checkRetentionInvariant(t *testing.T, dir string) (marked, finished int) {
	t.Helper()
	rows, files := retentionRows(t, dir), storedFiles(t, dir)
	for key, st := range rows {
		switch {
		case !st[0] && !files[key]:
			t.Errorf("media row %s is not deleted but its file is gone", key)
		case st[1] && files[key]:
			t.Errorf("media row %s is recorded without files but its file is there", key)
		}
		if st[0] && !st[1] {
			marked++
		}
		if st[1] {
			finished++
		}
	}
	for key := range files {
		if _, ok := rows[key]; !ok {
			t.Errorf("stored file %s has no media row", key)
		}
	}
	return marked, finished
}

// A SIGKILL in the middle of a retention run leaves no row claiming a file that is gone and no
// file without a row, and the restarted server finishes the run. The server runs on its default
// timings but the retention interval; it is killed as soon as the first file disappears.
func TestServeRetentionSIGKILL(t *testing.T) {
	dir := t.TempDir()
	env := []string{"BONAFIDE_RETENTION_INTERVAL=1s"}
	s := startServer(t, dir, env...)
	token := s.login("admin@example.com", "admin-password")
	company := adminCompanyID(t, s, token)
	photo := retentionJPEG(t)
	const folders, perFolder = 60, 10
	files := map[string]string{}
	for i := range perFolder {
		files[fmt.Sprintf("photo%d", i)] = photo
	}
	for i := range folders {
		body, ct := multipartBody(t, files, "")
		if code := s.call("POST", "/api/folders", token, body, ct, nil); code != 201 {
			t.Fatalf("upload %d: %d", i, code)
		}
	}
	total := len(storedFiles(t, dir))
	if total != folders*perFolder {
		t.Fatalf("stored files: %d, want %d", total, folders*perFolder)
	}
	setRetention(t, s, token, company, `{"retention":{"media":"1s"}}`)
	deadline := time.Now().Add(30 * time.Second)
	for len(storedFiles(t, dir)) == total {
		if time.Now().After(deadline) {
			t.Fatal("the retention deleted nothing in 30 s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	marked, finished := checkRetentionInvariant(t, dir)
	t.Logf("killed with %d files left of %d: %d media marked and not finished, %d finished", len(storedFiles(t, dir)), total, marked, finished)
	if t.Failed() {
		return
	}

	restart := time.Now()
	s2 := startServer(t, dir, env...)
	_ = s2
	eventually(t, 30*time.Second, "the restarted server finishes the run", func() bool {
		rows := retentionRows(t, dir)
		for _, st := range rows {
			if !st[1] {
				return false
			}
		}
		return len(rows) == total
	})
	checkRetentionInvariant(t, dir)
	if n := len(storedFiles(t, dir)); n != 0 {
		t.Fatalf("%d files left after the restart", n)
	}
	t.Logf("the restarted server finished the run in %.1f s", time.Since(restart).Seconds())
}
