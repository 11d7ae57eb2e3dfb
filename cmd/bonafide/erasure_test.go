package main

import (
	"database/sql"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"bonafide/internal/assets"
)

// erasureJSON is a receipt of POST/GET /api/erasures.
type erasureJSON struct {
	ErasureID string   `json:"erasure_id"`
	Status    string   `json:"status"`
	DryRun    bool     `json:"dry_run"`
	Folders   int      `json:"folders"`
	Media     int      `json:"media"`
	BestShots int      `json:"best_shots"`
	Persons   int      `json:"persons"`
	FolderIDs []string `json:"folder_ids"`
	PersonIDs []string `json:"person_ids"`
	CompanyID *string  `json:"company_id"`
	Finished  *float64 `json:"time_finished"`
}

// erasureWorld is a server with two companies: their CLIENT ADMINs' tokens, acme's CLIENT
// OPERATOR's, and helpers to create folders and persons.
type erasureWorld struct {
	t                      *testing.T
	s                      *server
	dir, photo             string
	admin, acme, other, op string
}

func newErasureWorld(t *testing.T, env ...string) *erasureWorld {
	m := assets.ClmtrackrMedia()
	assets.Require(t, m)
	w := &erasureWorld{t: t, dir: t.TempDir(), photo: filepath.Join(m, "franck_02159.jpg")}
	w.s = startServer(t, w.dir, env...)
	w.admin = w.s.login("admin@example.com", "admin-password")
	user := func(company, role, email string) string {
		if code := w.s.call("POST", "/api/users/", w.admin, jsonReader(map[string]any{"email": email, "password": "long-enough",
			"user_type": role, "company_id": company}), "application/json", nil); code != 201 {
			t.Fatalf("create user %s: %d", email, code)
		}
		return w.s.login(email, "long-enough")
	}
	company := func(name string) string {
		var c struct {
			CompanyID string `json:"company_id"`
		}
		if code := w.s.call("POST", "/api/companies/", w.admin, jsonReader(map[string]any{"name": name}), "application/json", &c); code != 201 {
			t.Fatalf("create company %s: %d", name, code)
		}
		return c.CompanyID
	}
	acme, other := company("acme"), company("other")
	w.acme = user(acme, "CLIENT ADMIN", "boss@acme.example.com")
	w.op = user(acme, "CLIENT OPERATOR", "op@acme.example.com")
	w.other = user(other, "CLIENT ADMIN", "boss@other.example.com")
	return w
}

func jsonReader(v any) *strings.Reader {
	b, _ := json.Marshal(v)
	return strings.NewReader(string(b))
}

// folder uploads one photo into a new folder with meta_data {"client_id": client}; with bestShot
// it also runs a quality analysis that stores a best shot.
func (w *erasureWorld) folder(token, client string, bestShot bool) string {
	w.t.Helper()
	body, ct := multipartBody(w.t, map[string]string{"photo1": w.photo},
		`{"media:tags": {"photo1": ["photo_selfie"]}, "folder:meta_data": {"client_id": "`+client+`"}}`)
	var f folderJSON
	if code := w.s.call("POST", "/api/folders", token, body, ct, &f); code != 201 {
		w.t.Fatalf("folder: %d", code)
	}
	if bestShot {
		var started []analysisJSON
		req := `{"analyses":[{"type":"quality","source_media":["` + f.Media[0].MediaID + `"],"params":{"extract_best_shot":true}}]}`
		if code := w.s.call("POST", "/api/folders/"+f.FolderID+"/analyses", token, strings.NewReader(req), "application/json", &started); code != 201 {
			w.t.Fatalf("analysis: %d", code)
		}
		if a := w.s.poll(token, started[0].AnalysisID, 60*time.Second); a.State != "FINISHED" {
			w.t.Fatalf("analysis: %+v", a)
		}
	}
	return f.FolderID
}

// person adds a person with meta_data {"client_id": client} and one photo to the collection.
func (w *erasureWorld) person(token, collection, client string) string {
	w.t.Helper()
	body, ct := multipartBody(w.t, map[string]string{"image1": w.photo},
		`{"media:tags": {"image1": ["photo_selfie"]}, "person:meta_data": {"client_id": "`+client+`"}}`)
	var p struct {
		PersonID string `json:"person_id"`
	}
	if code := w.s.call("POST", "/api/collections/"+collection+"/persons/", token, body, ct, &p); code != 201 {
		w.t.Fatalf("person: %d", code)
	}
	return p.PersonID
}

// files lists every file under the folder's prefix in the blob store (file:// under the data dir):
// one per stored object, since the file store writes no metadata sidecars.
func (w *erasureWorld) files(folderID string) []string {
	w.t.Helper()
	var out []string
	root := filepath.Join(w.dir, "media", folderID)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil && !errorsIsNotExist(err) {
		w.t.Fatal(err)
	}
	return out
}

func errorsIsNotExist(err error) bool {
	return strings.Contains(err.Error(), "no such file or directory")
}

func (w *erasureWorld) erase(token string, body map[string]any, want int) erasureJSON {
	w.t.Helper()
	var e erasureJSON
	if code := w.s.call("POST", "/api/erasures", token, jsonReader(body), "application/json", &e); code != want {
		w.t.Fatalf("POST /api/erasures %v: %d, want %d", body, code, want)
	}
	return e
}

// TestServeErasure erases a data subject over real HTTP with the real queue: folders with their
// media and best shots (rows and every file in the blob store), and collection persons; a dry run
// first; tenancy (another company's CLIENT ADMIN erases only its own data, a CLIENT OPERATOR
// nothing); the receipt read back.
func TestServeErasure(t *testing.T) {
	w := newErasureWorld(t)
	s := w.s
	f1 := w.folder(w.acme, "c-42", true)
	f2 := w.folder(w.acme, "c-42", false)
	keep := w.folder(w.acme, "c-43", false)
	theirs := w.folder(w.other, "c-42", false)
	var col struct {
		CollectionID string `json:"collection_id"`
	}
	if code := s.call("POST", "/api/collections/", w.acme, strings.NewReader(`{"alias": "blacklist"}`), "application/json", &col); code != 201 {
		t.Fatalf("collection: %d", code)
	}
	p42 := w.person(w.acme, col.CollectionID, "c-42")
	p43 := w.person(w.acme, col.CollectionID, "c-43")
	if n := len(w.files(f1)); n != 2 {
		t.Fatalf("folder f1 has %d stored files %v, want the photo and its best shot", n, w.files(f1))
	}
	for _, f := range []string{f2, keep, theirs} {
		if len(w.files(f)) != 1 {
			t.Fatalf("folder %s: want one stored file", f)
		}
	}
	subject := map[string]any{"folder_meta_data": map[string]string{"client_id": "c-42"}, "person_meta_data": map[string]string{"client_id": "c-42"}}

	// Who may not.
	w.erase(w.op, subject, 403)
	w.erase(w.acme, map[string]any{}, 400)
	w.erase(w.acme, map[string]any{"folder_meta_data": map[string]string{"client_id": "c-42"}, "folder_ids": nil, "everything": true}, 400)

	// A dry run counts and leaves everything.
	dry := w.erase(w.acme, map[string]any{"folder_meta_data": subject["folder_meta_data"], "person_meta_data": subject["person_meta_data"], "dry_run": true}, 200)
	if dry.Status != "FINISHED" || !dry.DryRun || dry.Folders != 2 || dry.Media != 2 || dry.BestShots != 1 || dry.Persons != 1 {
		t.Fatalf("dry run: %+v", dry)
	}
	f1files := len(w.files(f1))
	if s.call("GET", "/api/folders/"+f1, w.acme, nil, "", nil) != 200 {
		t.Fatal("the dry run deleted something")
	}

	// Company other's CLIENT ADMIN names acme's folders: only its own c-42 folder goes.
	o := w.erase(w.other, map[string]any{"folder_ids": []string{f1, f2, keep}, "folder_meta_data": map[string]string{"client_id": "c-42"},
		"person_meta_data": map[string]string{"client_id": "c-42"}}, 200)
	if o.Status != "FINISHED" || o.Folders != 1 || o.Persons != 0 || !slices.Equal(o.FolderIDs, []string{theirs}) {
		t.Fatalf("other's erasure: %+v", o)
	}
	if len(w.files(theirs)) != 0 || len(w.files(f1)) != f1files || len(w.files(f2)) != 1 {
		t.Fatal("other's erasure: wrong files deleted")
	}

	// The real erasure.
	e := w.erase(w.acme, subject, 200)
	if e.Status != "FINISHED" || e.DryRun || e.Folders != 2 || e.Media != 2 || e.BestShots != 1 || e.Persons != 1 || e.Finished == nil {
		t.Fatalf("erasure: %+v", e)
	}
	want := []string{f1, f2}
	slices.Sort(want)
	if !slices.Equal(e.FolderIDs, want) || !slices.Equal(e.PersonIDs, []string{p42}) {
		t.Fatalf("erasure targets: %+v", e)
	}
	for _, f := range []string{f1, f2} {
		if left := w.files(f); len(left) != 0 {
			t.Errorf("folder %s: files left in the blob store: %v", f, left)
		}
		if code := s.call("GET", "/api/folders/"+f, w.acme, nil, "", nil); code != 404 {
			t.Errorf("erased folder %s: %d, want 404", f, code)
		}
	}
	if len(w.files(keep)) != 1 || s.call("GET", "/api/folders/"+keep, w.acme, nil, "", nil) != 200 {
		t.Error("the c-43 folder was touched")
	}
	pp := "/api/collections/" + col.CollectionID + "/persons/"
	if code := s.call("GET", pp+p42, w.acme, nil, "", nil); code != 404 {
		t.Errorf("erased person: %d, want 404", code)
	}
	if code := s.call("GET", pp+p43, w.acme, nil, "", nil); code != 200 {
		t.Errorf("the c-43 person: %d, want 200", code)
	}

	// The receipt, later; not to another company, nor to an operator.
	var got erasureJSON
	if code := s.call("GET", "/api/erasures/"+e.ErasureID, w.acme, nil, "", &got); code != 200 || got.Folders != 2 || got.Status != "FINISHED" {
		t.Fatalf("GET receipt: %d %+v", code, got)
	}
	if code := s.call("GET", "/api/erasures/"+e.ErasureID, w.other, nil, "", nil); code != 404 {
		t.Errorf("another company's receipt: %d, want 404", code)
	}
	if code := s.call("GET", "/api/erasures/"+e.ErasureID, w.op, nil, "", nil); code != 403 {
		t.Errorf("operator reads a receipt: %d, want 403", code)
	}
	if code := s.call("GET", "/api/erasures/"+e.ErasureID, w.admin, nil, "", nil); code != 200 {
		t.Errorf("ADMIN reads a receipt: %d, want 200", code)
	}
	// The trail names the erasure (found by its id) and outlives the folders it erased.
	var trail struct {
		Items []json.RawMessage `json:"items"`
	}
	if code := s.call("GET", "/api/audit?action=erasure&object_id="+e.ErasureID, w.admin, nil, "", &trail); code != 200 || len(trail.Items) != 1 {
		t.Errorf("GET /api/audit for the erasure: %d, %d entries, want 1", code, len(trail.Items))
	}
}

// TestServeErasureCrash kills the real server with SIGKILL in the middle of an erasure (paced so
// that it is mid-way), then starts it again: the receipt said IN_PROGRESS, and the restarted server
// finishes the erasure, every file gone.
func TestServeErasureCrash(t *testing.T) {
	w := newErasureWorld(t, "BONAFIDE_ERASURE_PACE=300ms", "BONAFIDE_ERASURE_WAIT=10ms")
	var folders []string
	for range 12 {
		folders = append(folders, w.folder(w.acme, "c-42", false))
	}
	e := w.erase(w.acme, map[string]any{"folder_meta_data": map[string]string{"client_id": "c-42"}}, 202)
	if e.Status != "IN_PROGRESS" || len(e.FolderIDs) != 12 {
		t.Fatalf("erasure: %+v", e)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got erasureJSON
		if code := w.s.call("GET", "/api/erasures/"+e.ErasureID, w.acme, nil, "", &got); code != 200 {
			t.Fatalf("GET receipt: %d", code)
		}
		if got.Folders >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the erasure did not start: %+v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := w.s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w.s.cmd.Wait()

	db, err := sql.Open("sqlite", "file:"+filepath.Join(w.dir, "bonafide.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	var status string
	var done int
	if err := db.QueryRow(`SELECT status, folders FROM erasures WHERE id = ?`, e.ErasureID).Scan(&status, &done); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if status != "IN_PROGRESS" || done < 2 || done >= 12 {
		t.Fatalf("after SIGKILL: %s with %d folders erased, want IN_PROGRESS mid-way", status, done)
	}
	left := 0
	for _, f := range folders {
		left += len(w.files(f))
	}
	if left == 0 || left > 12-done {
		t.Fatalf("after SIGKILL: %d files left with %d of 12 folders erased", left, done)
	}

	s2 := startServer(t, w.dir)
	token := s2.login("boss@acme.example.com", "long-enough")
	deadline = time.Now().Add(60 * time.Second)
	var got erasureJSON
	for {
		if code := s2.call("GET", "/api/erasures/"+e.ErasureID, token, nil, "", &got); code != 200 {
			t.Fatalf("GET receipt after restart: %d", code)
		}
		if got.Status == "FINISHED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the erasure did not finish after the restart: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.Folders != 12 || got.Media != 12 {
		t.Fatalf("after restart: %+v, want 12 folders and 12 media, each counted once", got)
	}
	for _, f := range folders {
		if left := w.files(f); len(left) != 0 {
			t.Errorf("folder %s: files left: %v", f, left)
		}
		if code := s2.call("GET", "/api/folders/"+f, token, nil, "", nil); code != 404 {
			t.Errorf("folder %s: %d, want 404", f, code)
		}
	}
}
