package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"bonafide"
	"bonafide/blob"
	"bonafide/internal/testkit"
	"bonafide/sqlite"
)

// tuOrderedForm builds a multipart body whose files keep the given order (tuMultipart's map does
// not), so that "the second file is bad" means what it says.
func tuOrderedForm(t *testing.T, payload string, files ...[2]string) tuForm {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if payload != "" {
		if err := mw.WriteField("payload", payload); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f[0], f[0]+".bin"))
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write([]byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return tuForm{body: buf.Bytes(), contentType: mw.FormDataContentType()}
}

// tuBlobKeys lists every stored key.
func (e *tuEnv) tuBlobKeys() []string {
	e.t.Helper()
	var keys []string
	if err := e.API.blobs.List(context.Background(), "", func(o bonafide.BlobInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return keys
}

// tuDirEmpty fails the test when dir holds any file.
func tuDirEmpty(t *testing.T, dir, when string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("%s: the temporary file %s was left behind", when, e.Name())
	}
}

// failingStore refuses to commit folders and media, as a database that fails mid-transaction.
type failingStore struct{ bonafide.Store }

var errCommit = errors.New("the database went away")

func (failingStore) CreateFolder(context.Context, *bonafide.Folder, []*bonafide.Media) error {
	return errCommit
}
func (failingStore) AddMedia(context.Context, string, []*bonafide.Media) error { return errCommit }

// A refused upload writes nothing: every part is validated before any file is stored, a failure
// while storing or committing deletes what was written, and the spooled parts are always removed.
func TestRefusedUploadWritesNothing(t *testing.T) {
	spoolDir := t.TempDir()
	env := tuServer(t, func(c *Config) { c.UploadDir = spoolDir; c.MaxFiles = 3 })
	company := env.tuCompany("acme")
	u := env.tuUserLoggedIn(bonafide.RoleClientAdmin, company.ID, "admin@example.com")
	jpg := string(tuJPEG(t))

	cases := []struct {
		name string
		form tuForm
		code bonafide.Code
	}{
		{"second file is not media", tuOrderedForm(t, "", [2]string{"photo1", jpg}, [2]string{"notes", "just some text, not a photo"}), bonafide.CodeInvalidType},
		{"second file is empty", tuOrderedForm(t, "", [2]string{"photo1", jpg}, [2]string{"empty", ""}), bonafide.CodeInvalidValue},
		{"too many files", tuOrderedForm(t, "", [2]string{"a", jpg}, [2]string{"b", jpg}, [2]string{"c", jpg}, [2]string{"d", jpg}), bonafide.CodeInvalidValue},
		{"bad analyses", tuOrderedForm(t, `{"analyses":[{"type":"QUALITY","params":"not an object"}]}`, [2]string{"photo1", jpg}), bonafide.CodeInvalidType},
		{"an analysis type Oz does not have", tuOrderedForm(t, `{"analyses":[{"type":"FOO"}]}`, [2]string{"photo1", jpg}), bonafide.CodeInvalidValue},
	}
	for _, c := range cases {
		env.tuDo("POST", "/api/folders", u.Token, c.form).tuExpect(400, int(c.code))
		if keys := env.tuBlobKeys(); len(keys) != 0 {
			t.Errorf("%s: the refused upload stored %v", c.name, keys)
		}
		tuDirEmpty(t, spoolDir, c.name)
	}

	// Adding media to a folder: a bad second file stores nothing either.
	folder := env.tuFolder(u)
	folderID := folder["folder_id"].(string)
	kept := env.tuBlobKeys()
	if len(kept) != 1 {
		t.Fatalf("a folder with one photo stored %v", kept)
	}
	env.tuDo("POST", "/api/folders/"+folderID+"/media", u.Token,
		tuOrderedForm(t, "", [2]string{"photo2", jpg}, [2]string{"notes", "text"})).tuExpect(400, int(bonafide.CodeInvalidType))
	if keys := env.tuBlobKeys(); len(keys) != 1 {
		t.Errorf("a refused media upload stored files: %v", keys)
	}
	tuDirEmpty(t, spoolDir, "refused media upload")
	env.tuDo("POST", "/api/folders/"+folderID+"/media", u.Token, tuOrderedForm(t, "", [2]string{"photo2", jpg})).tuExpect(201, 0)
	if keys := env.tuBlobKeys(); len(keys) != 2 {
		t.Errorf("an accepted media upload: stored %v, want 2 files", keys)
	}
	tuDirEmpty(t, spoolDir, "accepted media upload")

	// The database fails after the files were stored: they are deleted again.
	srv := New(Config{BaseURL: env.URL, UploadDir: spoolDir}, failingStore{env.Store}, env.API.blobs, nil, env.API.log, env.Clock.Now)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	fe := *env
	fe.URL = ts.URL
	fe.tuDo("POST", "/api/folders", u.Token, tuOrderedForm(t, "", [2]string{"photo1", jpg}, [2]string{"photo2", jpg})).tuExpect(500, 0)
	fe.tuDo("POST", "/api/folders/"+folderID+"/media", u.Token, tuOrderedForm(t, "", [2]string{"photo3", jpg})).tuExpect(500, 0)
	if keys := env.tuBlobKeys(); len(keys) != 2 {
		t.Errorf("after failed commits the store holds %v, want only the 2 committed files", keys)
	}
	tuDirEmpty(t, spoolDir, "failed commits")
}

// uploadBody streams a multipart body holding one file of size bytes (a JPEG signature, then
// filler) without building it in memory, so that what a request allocates is the server's alone.
func uploadBody(size int) (io.Reader, string) {
	const boundary = "bonafide-test-boundary"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"photo1\"; filename=\"big.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xFF\xD8\xFF\xE0"
	tail := "\r\n--" + boundary + "--\r\n"
	return io.MultiReader(strings.NewReader(head), io.LimitReader(filler{}, int64(size-4)), strings.NewReader(tail)),
		"multipart/form-data; boundary=" + boundary
}

type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*7 + 1)
	}
	return len(p), nil
}

// postUpload creates a folder with one file of size bytes through the handler and returns the bytes
// the process allocated meanwhile.
func postUpload(t testing.TB, h http.Handler, token string, size int) uint64 {
	body, ct := uploadBody(size)
	req := httptest.NewRequest("POST", "/api/folders", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Forensic-Access-Token", token)
	rec := httptest.NewRecorder()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h.ServeHTTP(rec, req)
	runtime.ReadMemStats(&after)
	if rec.Code != http.StatusCreated {
		t.Fatalf("upload: %d %s", rec.Code, rec.Body)
	}
	return after.TotalAlloc - before.TotalAlloc
}

// An upload of the largest file allowed (15 MB) streams to disk: the request allocates a small
// fraction of the file's size (held whole in memory it allocated more than twice the file: 33.6 MB; streamed, 1.1 MB).
// This counts bytes, not time.
func TestUploadMemoryBounded(t *testing.T) {
	env := tuServer(t, func(c *Config) { c.UploadDir = t.TempDir() })
	company := env.tuCompany("acme")
	u := env.tuUserLoggedIn(bonafide.RoleClient, company.ID, "client@example.com")
	h := env.API.Handler()
	const size = 15<<20 - 1024
	postUpload(t, h, u.Token, 1<<20) // warm up (pools, statements)
	alloc := postUpload(t, h, u.Token, size)
	t.Logf("a %d MB upload allocated %.2f MB", size>>20, float64(alloc)/(1<<20))
	if alloc > 4<<20 {
		t.Fatalf("a %d-byte upload allocated %d bytes: the file is held in memory", size, alloc)
	}
}

// BenchmarkUpload15MB reports the bytes allocated per 15 MB upload (MB-alloc/op).
func BenchmarkUpload15MB(b *testing.B) {
	ctx := context.Background()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bonafide.db"), sqlite.Options{Enqueuer: (&testkit.Enqueuer{}).SQL(), Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	blobs, err := blob.Open(ctx, "file://"+b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer blobs.Close()
	c := &bonafide.Company{ID: uuid.NewString(), Name: "acme"}
	u := &bonafide.User{ID: uuid.NewString(), CompanyID: c.ID, Email: "bench@example.com", Role: bonafide.RoleClient, PasswordHash: "x", CanQuality: true}
	token := uuid.NewString()
	if err := store.CreateCompany(ctx, c); err != nil {
		b.Fatal(err)
	}
	if err := store.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	if err := store.CreateSession(ctx, &bonafide.Session{TokenHash: hashToken(token), ExpireHash: hashToken(token + "e"), UserID: u.ID,
		Expires: time.Now().Add(time.Hour), Created: time.Now()}); err != nil {
		b.Fatal(err)
	}
	h := New(Config{BaseURL: "http://127.0.0.1", UploadDir: b.TempDir()}, store, blobs, nil, discard, nil).Handler()
	const size = 15<<20 - 1024
	var total uint64
	n := 0
	for b.Loop() {
		total += postUpload(b, h, token, size)
		n++
	}
	b.ReportMetric(float64(total)/float64(n)/(1<<20), "MB-alloc/op")
}

// Multipart as Oz reads it: a part without a file name is a form field (ignored, never a media),
// and tags or meta_data naming a file that was not sent are ignored with a note in the folder's
// technical_meta_data, on create and on adding media.
func TestUploadFormFieldsAndAbsentTags(t *testing.T) {
	env := tuServer(t)
	env.client.Transport = oaChecker(t).Transport(nil, t)
	company := env.tuCompany("acme")
	u := env.tuUserLoggedIn(bonafide.RoleClient, company.ID, "client@example.com")
	jpg := tuJPEG(t)
	form := func(payload string) tuForm {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("photo1", "selfie.jpg")
		_, _ = fw.Write(jpg)
		_ = mw.WriteField("transaction_id", "rn-42") // a React Native client's text part
		_ = mw.WriteField("additional_info", "web sdk env")
		_ = mw.WriteField("payload", payload)
		_ = mw.Close()
		return tuForm{body: buf.Bytes(), contentType: mw.FormDataContentType()}
	}
	f := env.tuDo("POST", "/api/folders", u.Token, form(`{"media:tags": {"photo1": ["photo_selfie"], "photo_id": ["photo_id", "photo_id_front"]}, "media:meta_data": {"photo_id": {"a": 1}}}`)).tuExpect(201, 0).Obj()
	media := f["media"].([]any)
	if len(media) != 1 || media[0].(map[string]any)["original_name"] != "selfie.jpg" {
		t.Fatalf("a text part became a media, or the file was lost: %v", media)
	}
	tech := f["technical_meta_data"].(map[string]any)
	notes, _ := tech["notes"].([]any)
	if len(notes) != 2 || !strings.Contains(notes[0].(string), `media:tags names the field "photo_id"`) || !strings.Contains(notes[1].(string), "media:meta_data") {
		t.Errorf("notes: %v", tech)
	}
	if tech["additional_info"] != "web sdk env" {
		t.Errorf("additional_info lost beside the notes: %v", tech)
	}
	// Adding media: the note goes to the folder.
	folderID := f["folder_id"].(string)
	env.tuDo("POST", "/api/folders/"+folderID+"/media", u.Token, form(`{"media:tags": {"photo9": ["photo_selfie"]}}`)).tuExpect(201, 0)
	got := env.tuDo("GET", "/api/folders/"+folderID, u.Token, nil).tuExpect(200, 0).Obj()
	notes, _ = got["technical_meta_data"].(map[string]any)["notes"].([]any)
	if len(notes) != 3 || !strings.Contains(notes[2].(string), "photo9") {
		t.Errorf("notes after adding media: %v", got["technical_meta_data"])
	}
	// Only text parts: no file.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("photo1", "not a file")
	_ = mw.Close()
	env.tuDo("POST", "/api/folders/"+folderID+"/media", u.Token, tuForm{body: buf.Bytes(), contentType: mw.FormDataContentType()}).tuExpect(400, 3)
}
