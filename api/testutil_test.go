package api

// Shared helpers for the package api tests. Every name starts with "tu" so that test files written
// by different people do not clash.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"bonafide"
	"bonafide/blob"
	"bonafide/internal/password"
	"bonafide/internal/testkit"
	"bonafide/sqlite"
)

// tuPassword is every test user's password.
const tuPassword = "correct horse battery"

// tuHash is tuPassword hashed once: argon2id is deliberately slow, more so under -race.
var tuHash = sync.OnceValue(func() string {
	h, err := password.Hash(tuPassword)
	if err != nil {
		panic(err)
	}
	return h
})

// The enqueuer is testkit's recording fake: these tests check the HTTP layer and tenancy, not the
// job queue, so analyses stay PROCESSING. The real River queue is tested in jobs and cmd/bonafide.
var _ sqlite.Enqueuer = testkit.SQLEnqueuer{}

// tuCtx is the context of direct store calls in tests.
func tuCtx() context.Context { return context.Background() }

// tuEnv is a real server (SQLite in a temp dir, file blobs, real HTTP on 127.0.0.1) and its parts.
type tuEnv struct {
	t      *testing.T
	URL    string
	API    *Server
	Store  *sqlite.Store
	Enq    *testkit.Enqueuer
	Clock  *testkit.Clock // a settable clock; it starts at the real time
	client *http.Client
}

// tuSharedThrottle, set as Config.SharedLoginThrottle, asks tuServer for the throttle kept in the
// server's own store (as in scale-out).
var tuSharedThrottle bonafide.LoginThrottleStore = (*sqlite.Store)(nil)

// tuServer starts a server; cfg may tune it (BaseURL is set here).
func tuServer(t *testing.T, cfg ...func(*Config)) *tuEnv {
	t.Helper()
	ctx := context.Background()
	enq := &testkit.Enqueuer{}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "bonafide.db"), sqlite.Options{Enqueuer: enq.SQL(), Logger: discard})
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	blobs, err := blob.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatalf("blob.Open: %v", err)
	}
	t.Cleanup(func() { blobs.Close() })

	ts := httptest.NewUnstartedServer(nil) // listens on 127.0.0.1:0
	base := "http://" + ts.Listener.Addr().String()
	c := Config{BaseURL: base}
	for _, f := range cfg {
		f(&c)
	}
	if c.SharedLoginThrottle == tuSharedThrottle {
		c.SharedLoginThrottle = store
	}
	clock := testkit.NewClock(time.Now())
	srv := New(c, store, blobs, nil /* no engine */, discard, clock.Now)
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	client := &http.Client{Timeout: 30 * time.Second,
		// Never follow redirects: the API must not send any, and a test must see one if it does.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &tuEnv{t: t, URL: base, API: srv, Store: store, Enq: enq, Clock: clock, client: client}
}

// tuFor returns the env bound to another (sub)test, so that helpers fail the right test.
func (e *tuEnv) tuFor(t *testing.T) *tuEnv {
	c := *e
	c.t = t
	return &c
}

// tuCompany creates a company directly in the store.
func (e *tuEnv) tuCompany(name string) *bonafide.Company {
	e.t.Helper()
	c := &bonafide.Company{ID: uuid.NewString(), Name: name, WebhookSecret: "whsec_" + strings.Repeat("QUJD", 8)}
	if err := e.Store.CreateCompany(context.Background(), c); err != nil {
		e.t.Fatalf("CreateCompany: %v", err)
	}
	return c
}

// tuUser is a user created in the store, with a token when logged in.
type tuUser struct {
	*bonafide.User
	Token       string
	ExpireToken string
}

// tuCreateUser creates a user with tuPassword directly in the store; companyID may be "".
func (e *tuEnv) tuCreateUser(role bonafide.Role, companyID, email string) *tuUser {
	e.t.Helper()
	u := &bonafide.User{ID: uuid.NewString(), CompanyID: companyID, Email: email, Role: role,
		PasswordHash: tuHash(), CanQuality: true, CanBiometry: true, FirstName: "First " + string(role)}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatalf("CreateUser %s: %v", email, err)
	}
	return &tuUser{User: u}
}

// tuLogin logs in over HTTP and returns the token pair.
func (e *tuEnv) tuLogin(email, password string) (access, expire string) {
	e.t.Helper()
	r := e.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": email, "password": password}})
	if r.Status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", email, r.Status, r.Body)
	}
	if bytes.Contains(r.Body, []byte("argon2")) {
		e.t.Fatalf("login %s: the answer shows the password hash: %s", email, r.Body)
	}
	m := r.Obj()
	access, _ = m["access_token"].(string)
	expire, _ = m["expire_token"].(string)
	if access == "" || expire == "" {
		e.t.Fatalf("login %s: no tokens in %s", email, r.Body)
	}
	return access, expire
}

// tuUserLoggedIn creates a user and logs it in.
func (e *tuEnv) tuUserLoggedIn(role bonafide.Role, companyID, email string) *tuUser {
	e.t.Helper()
	u := e.tuCreateUser(role, companyID, email)
	u.Token, u.ExpireToken = e.tuLogin(email, tuPassword)
	return u
}

// tuResp is an HTTP answer.
type tuResp struct {
	t      *testing.T
	Method string
	Path   string
	Status int
	Header http.Header
	Body   []byte
}

func (r *tuResp) String() string {
	return fmt.Sprintf("%s %s -> %d %s", r.Method, r.Path, r.Status, r.Body)
}

// JSON decodes the body (UseNumber not needed: no large numbers here).
func (r *tuResp) JSON() any {
	r.t.Helper()
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		r.t.Fatalf("%s: body is not JSON: %v", r, err)
	}
	return v
}

// Obj decodes a JSON object body.
func (r *tuResp) Obj() map[string]any {
	r.t.Helper()
	m, ok := r.JSON().(map[string]any)
	if !ok {
		r.t.Fatalf("%s: body is not a JSON object", r)
	}
	return m
}

// Arr decodes a JSON array body.
func (r *tuResp) Arr() []any {
	r.t.Helper()
	a, ok := r.JSON().([]any)
	if !ok {
		r.t.Fatalf("%s: body is not a JSON array", r)
	}
	return a
}

// Items returns the items of a pagination envelope.
func (r *tuResp) Items() []map[string]any {
	r.t.Helper()
	raw, ok := r.Obj()["items"].([]any)
	if !ok {
		r.t.Fatalf("%s: no items array", r)
	}
	out := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		out = append(out, it.(map[string]any))
	}
	return out
}

// Str returns a string field of an object body.
func (r *tuResp) Str(key string) string {
	r.t.Helper()
	s, _ := r.Obj()[key].(string)
	return s
}

// Code returns error_code of an Oz error envelope, failing the test when the body is not one.
func (r *tuResp) Code() int {
	r.t.Helper()
	m := r.Obj()
	c, ok := m["error_code"].(float64)
	if !ok {
		r.t.Fatalf("%s: not an Oz error envelope (no numeric error_code)", r)
	}
	if msg, _ := m["error_message"].(string); msg == "" {
		r.t.Fatalf("%s: error envelope without error_message", r)
	}
	for _, k := range []string{"error_details", "details"} {
		if _, ok := m[k]; !ok {
			r.t.Fatalf("%s: error envelope without %s", r, k)
		}
	}
	return int(c)
}

// tuExpect fails unless the answer has this status and, for errors, this Oz code.
func (r *tuResp) tuExpect(status, code int) *tuResp {
	r.t.Helper()
	if r.Status != status {
		r.t.Fatalf("%s: want status %d", r, status)
	}
	if status >= 400 {
		if c := r.Code(); c != code {
			r.t.Fatalf("%s: want error_code %d", r, code)
		}
	}
	return r
}

// tuDo sends a request; body may be nil, []byte (sent as is), or a value encoded as JSON. path may
// be absolute (a media URL) or start with "/".
func (e *tuEnv) tuDo(method, path, token string, body any, headers ...string) *tuResp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case tuForm:
		rd, ct = bytes.NewReader(b.body), b.contentType
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(data), "application/json"
	}
	url := path
	if strings.HasPrefix(path, "/") {
		url = e.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("X-Forensic-Access-Token", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	if strings.HasPrefix(url, e.URL+"/") && resp.Header.Get(RequestIDHeader) == "" { // every answer of the API server
		e.t.Errorf("%s %s: the answer has no %s", method, path, RequestIDHeader)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		e.t.Fatalf("%s %s: redirected (%d, Location %q); the API must never redirect", method, path, resp.StatusCode, resp.Header.Get("Location"))
	}
	return &tuResp{t: e.t, Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// tuForm is a multipart body.
type tuForm struct {
	body        []byte
	contentType string
}

// tuMultipart builds a multipart body: files by field name, and the payload part when payload is
// not nil.
func tuMultipart(t *testing.T, files map[string][]byte, payload any) tuForm {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if payload != nil {
		data, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := mw.WriteField("payload", string(data)); err != nil {
			t.Fatal(err)
		}
	}
	for field, data := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, field+".jpg"))
		h.Set("Content-Type", "image/jpeg")
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return tuForm{body: buf.Bytes(), contentType: mw.FormDataContentType()}
}

// tuJPEG encodes a small generated JPEG (a gradient, so it is not trivially uniform).
func tuJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{R: uint8(x * 4), G: uint8(y * 5), B: 128, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tuFolder creates a folder with one JPEG as the given user and returns the folder object.
func (e *tuEnv) tuFolder(u *tuUser) map[string]any {
	e.t.Helper()
	form := tuMultipart(e.t, map[string][]byte{"photo1": tuJPEG(e.t)},
		map[string]any{"media:tags": map[string][]string{"photo1": {"photo_selfie"}}, "folder:meta_data": map[string]string{"owner": u.Email}})
	r := e.tuDo("POST", "/api/folders", u.Token, form).tuExpect(http.StatusCreated, 0)
	return r.Obj()
}

// tuStartAnalysis starts a quality analysis in the folder and returns its id.
func (e *tuEnv) tuStartAnalysis(u *tuUser, folderID string) string {
	e.t.Helper()
	r := e.tuDo("POST", "/api/folders/"+folderID+"/analyses", u.Token,
		map[string]any{"analyses": []map[string]any{{"type": "quality"}}}).tuExpect(http.StatusCreated, 0)
	arr := r.Arr()
	if len(arr) != 1 {
		e.t.Fatalf("%s: want one analysis", r)
	}
	id, _ := arr[0].(map[string]any)["analysis_id"].(string)
	if id == "" {
		e.t.Fatalf("%s: no analysis_id", r)
	}
	return id
}
