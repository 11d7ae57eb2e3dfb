package console_test

// The console's tests run the whole server as serve wires it: SQLite in a temp dir with River's
// queue, file blobs, the API, the console mounted over it (console.Mount), real HTTP on 127.0.0.1,
// and, when a test asks for it, the workers with the real engine (the pinned models).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"bonafide"
	"bonafide/api"
	"bonafide/blob"
	"bonafide/console"
	"bonafide/internal/assets"
	"bonafide/internal/password"
	"bonafide/internal/testkit"
	"bonafide/jobs"
	"bonafide/liveness"
	"bonafide/pipeline"
	"bonafide/sqlite"
)

const coPassword = "correct horse battery"

var coHash = sync.OnceValue(func() string {
	h, err := password.Hash(coPassword)
	if err != nil {
		panic(err)
	}
	return h
})

type coEnv struct {
	t       testing.TB
	URL     string
	Store   *sqlite.Store
	API     *api.Server
	http    *http.Client // no cookies, no redirects followed
	handler http.Handler
}

type coOpts struct {
	engine     bool // run analyses with the real engine
	apiCfg     func(*api.Config)
	consoleCfg func(*console.Config)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func coServer(t testing.TB, o coOpts) *coEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.OpenDB(ctx, "sqlite://"+filepath.Join(t.TempDir(), "bonafide.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	enq, err := jobs.NewSQLiteEnqueuer(db, jobs.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	store := sqlite.New(db, sqlite.Options{Enqueuer: enq})
	t.Cleanup(func() { store.Close() })
	blobs, err := blob.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })

	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	cfg := api.Config{BaseURL: base, URLKey: strings.Repeat("k", 64)}
	if o.apiCfg != nil {
		o.apiCfg(&cfg)
	}
	var analyzer bonafide.Analyzer
	if o.engine {
		assets.Require(t, assets.ClmtrackrMedia())
		e, err := liveness.New(testkit.Runtime(t), liveness.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		analyzer = pipeline.New(e)
	}
	srv := api.New(cfg, store, blobs, analyzer, quiet, nil)
	ccfg := console.Config{Key: cfg.URLKey, SignURL: srv.SignedURL, Status: api.StatusOf, Version: "test", Log: quiet}
	if o.consoleCfg != nil {
		o.consoleCfg(&ccfg)
	}
	ops, err := console.New(ccfg, store, srv)
	if err != nil {
		t.Fatal(err)
	}
	if o.engine {
		q, err := jobs.NewSQLite(db, jobs.Deps{Store: store, Blobs: blobs, Analyzer: analyzer, RenderFolder: srv.RenderFolder}, jobs.Config{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = q.Stop(c)
		})
	}
	handler := srv.Guard(ops.Mount(srv.Handler())) // as serve mounts it: request ids and audit sources for the console too
	ts.Config.Handler = handler
	ts.Start()
	t.Cleanup(ts.Close)
	return &coEnv{t: t, URL: base, Store: store, API: srv, handler: handler, http: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (e *coEnv) company(name string) *bonafide.Company {
	e.t.Helper()
	c := &bonafide.Company{ID: uuid.NewString(), Name: name, WebhookSecret: "whsec_" + strings.Repeat("QUJD", 8)}
	if err := e.Store.CreateCompany(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// user creates an account with coPassword; global roles go to the reserved company.
func (e *coEnv) user(role bonafide.Role, companyID, email string) *bonafide.User {
	e.t.Helper()
	if role.Global() {
		g, err := bonafide.GlobalCompany(context.Background(), e.Store, func() (string, error) { return "whsec_" + strings.Repeat("QUJD", 8), nil })
		if err != nil {
			e.t.Fatal(err)
		}
		companyID = g.ID
	}
	u := &bonafide.User{ID: uuid.NewString(), CompanyID: companyID, Email: email, Role: role, PasswordHash: coHash(), CanQuality: true, CanBiometry: true}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// token logs in through the API.
func (e *coEnv) token(email string) string {
	e.t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	e.apiJSON("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": email, "password": coPassword}}, 200, &out)
	return out.AccessToken
}

// apiJSON sends a JSON request to the API and decodes the answer, which must have the status.
func (e *coEnv) apiJSON(method, path, token string, body any, status int, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	if token != "" {
		req.Header.Set("X-Forensic-Access-Token", token)
	}
	req.Header.Set("Content-Type", "application/json")
	e.decode(req, status, out)
}

func (e *coEnv) decode(req *http.Request, status int, out any) {
	e.t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", req.Method, req.URL.Path, err, data)
		}
	}
}

// upload creates a folder with the files (field name -> path) and meta_data, through the API.
func (e *coEnv) upload(token string, files map[string]string, tags map[string][]string, meta map[string]any) string {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for field, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			e.t.Fatal(err)
		}
		w, _ := mw.CreateFormFile(field, filepath.Base(path))
		w.Write(data)
	}
	payload, _ := json.Marshal(map[string]any{"media:tags": tags, "folder:meta_data": meta})
	mw.WriteField("payload", string(payload))
	mw.Close()
	req, _ := http.NewRequest("POST", e.URL+"/api/folders/", &buf)
	req.Header.Set("X-Forensic-Access-Token", token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var out struct {
		FolderID string `json:"folder_id"`
	}
	e.decode(req, 201, &out)
	return out.FolderID
}

// analyse starts a QUALITY analysis and waits until the workers finish it (bounded by the test's
// deadline, not a timed assertion).
func (e *coEnv) analyse(token, folderID string) string {
	e.t.Helper()
	var started []struct {
		ID string `json:"analyse_id"`
	}
	e.apiJSON("POST", "/api/folders/"+folderID+"/analyses/", token, map[string]any{"analyses": []map[string]any{{"type": "quality"}}}, 201, &started)
	id := started[0].ID
	for {
		var a struct {
			State string `json:"state"`
		}
		e.apiJSON("GET", "/api/analyses/"+id, token, nil, 200, &a)
		if a.State != bonafide.StateProcessing {
			if a.State != bonafide.StateFinished {
				e.t.Fatalf("analysis %s ended %s", id, a.State)
			}
			return id
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browserClient is an HTTP client with a cookie jar that follows no redirects: a console session.
type browserClient struct {
	e   *coEnv
	c   *http.Client
	jar http.CookieJar
}

func (e *coEnv) newClient() *browserClient {
	jar, _ := cookiejar.New(nil)
	return &browserClient{e: e, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type coResp struct {
	Status int
	Header http.Header
	Body   string
	Cookie []*http.Cookie
}

func (b *browserClient) do(method, path string, form url.Values, headers ...string) *coResp {
	b.e.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.URL+path, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &coResp{Status: resp.StatusCode, Header: resp.Header, Body: string(data), Cookie: resp.Cookies()}
}

func (r *coResp) String() string {
	body := r.Body
	if len(body) > 600 {
		body = body[:600] + "…"
	}
	return fmt.Sprintf("HTTP %d %s", r.Status, body)
}

// csrf is the value of the first hidden csrf field of a page.
func (r *coResp) csrf(t testing.TB) string {
	t.Helper()
	const marker = `name="csrf" value="`
	i := strings.Index(r.Body, marker)
	if i < 0 {
		t.Fatalf("no csrf field in the page: %s", r)
	}
	rest := r.Body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// login logs the client in through the console's form and returns the folder list page.
func (b *browserClient) login(email string) *coResp {
	b.e.t.Helper()
	page := b.do("GET", "/console/login", nil)
	r := b.do("POST", "/console/login", url.Values{"csrf": {page.csrf(b.e.t)}, "email": {email}, "password": {coPassword}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/" {
		b.e.t.Fatalf("console login of %s: %s", email, r)
	}
	list := b.do("GET", "/console/", nil)
	if list.Status != 200 {
		b.e.t.Fatalf("folder list after login: %s", list)
	}
	return list
}
