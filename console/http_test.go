package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"bonafide"
	"bonafide/api"
	"bonafide/console"
)

// TestConsoleSecurityHeaders: every console answer (pages, errors, assets, the login form)
// carries the strict Content-Security-Policy and the other headers; no page has an inline script,
// an inline style or an event-handler attribute that the policy would have to allow.
func TestConsoleSecurityHeaders(t *testing.T) {
	e := coServer(t, coOpts{})
	e.user(bonafide.RoleAdmin, "", "admin@example.com")
	b := e.newClient()
	list := b.login("admin@example.com")
	for _, r := range []*coResp{list, b.do("GET", "/console/login", nil), b.do("GET", "/console/folders/nope", nil),
		b.do("GET", "/console/assets/console.css", nil), b.do("GET", "/console/assets/console.js", nil), b.do("GET", "/console/nothing", nil),
		b.do("GET", "/console/assets/", nil)} {
		if got := r.Header.Get("Content-Security-Policy"); got != console.ContentSecurityPolicy {
			t.Errorf("%s: Content-Security-Policy %q", r, got)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s: %s %q, want %q", r, h, got, want)
			}
		}
		lower := strings.ToLower(r.Body)
		for _, bad := range []string{"<script>", " style=", "<style", " onclick=", " onload=", "javascript:"} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s: contains %q, which the policy forbids", r, bad)
			}
		}
	}
	if r := b.do("GET", "/console/assets/", nil); r.Status != http.StatusNotFound || strings.Contains(r.Body, `<a href="console.css">`) {
		t.Errorf("the assets directory is listed: %s", r)
	}
	for _, p := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(console.ContentSecurityPolicy, p) || strings.Contains(console.ContentSecurityPolicy, "unsafe-inline") {
			t.Errorf("the policy %q lacks %q or allows unsafe-inline", console.ContentSecurityPolicy, p)
		}
	}
}

// TestConsoleCookieFlags: the session cookie is HttpOnly, SameSite=Strict, scoped to /console/, not
// Secure over plain HTTP but Secure when the request came over TLS.
func TestConsoleCookieFlags(t *testing.T) {
	e := coServer(t, coOpts{})
	e.user(bonafide.RoleOperator, "", "op@example.com")
	b := e.newClient()
	page := b.do("GET", "/console/login", nil)
	check := func(r *coResp, name string, secure bool) *http.Cookie {
		t.Helper()
		for _, c := range r.Cookie {
			if c.Name != name {
				continue
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || c.Secure != secure {
				t.Errorf("cookie %s: HttpOnly %v, SameSite %v, Path %q, Secure %v (want Secure %v)", name, c.HttpOnly, c.SameSite, c.Path, c.Secure, secure)
			}
			return c
		}
		t.Fatalf("%s: no %s cookie", r, name)
		return nil
	}
	check(page, "bonafide_console_login", false)
	r := b.do("POST", "/console/login", url.Values{"csrf": {page.csrf(t)}, "email": {"op@example.com"}, "password": {coPassword}})
	if s := check(r, "bonafide_console", false); len(s.Value) != 128 {
		t.Errorf("the session cookie holds %d characters, want a 128-hex token", len(s.Value))
	}
	if strings.Contains(r.Header.Get("Set-Cookie"), "Expires") {
		t.Errorf("the session cookie outlives the browser session: %s", r.Header.Get("Set-Cookie"))
	}

	// Over TLS the same cookies are Secure.
	tls := coServer(t, coOpts{})
	tls.user(bonafide.RoleOperator, "", "op@example.com")
	ts := newTLSFront(t, tls)
	resp, err := ts.Client().Get(ts.URL + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "bonafide_console_login" && (!c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode) {
			t.Errorf("over TLS: %+v", c)
		}
	}
	if len(resp.Cookies()) == 0 {
		t.Error("over TLS: no cookie set")
	}
}

// TestConsoleCSRF: every change (login, decision, logout) is refused without the form's token,
// with a token of another session, and from another origin; the same forms with the right token
// work.
func TestConsoleCSRF(t *testing.T) {
	e := coServer(t, coOpts{})
	acme := e.company("Acme")
	client := e.user(bonafide.RoleClient, acme.ID, "client@example.com")
	e.user(bonafide.RoleOperator, "", "op@example.com")
	folderID, analysisID := finishedFolder(t, e, client)

	// Login without the login cookie's token, or with a made-up one.
	b := e.newClient()
	b.do("GET", "/console/login", nil)
	for _, tok := range []string{"", strings.Repeat("0", 64)} {
		r := b.do("POST", "/console/login", url.Values{"csrf": {tok}, "email": {"op@example.com"}, "password": {coPassword}})
		if r.Status != http.StatusForbidden || hasSession(r) {
			t.Errorf("login with csrf %q: %s", tok, r)
		}
	}
	list := b.login("op@example.com")
	token := list.csrf(t)
	decision := func(tok string, headers ...string) *coResp {
		return b.do("POST", "/console/analyses/"+analysisID+"/decision", url.Values{"csrf": {tok}, "resolution": {"SUCCESS"}, "comment": {"ok"}}, headers...)
	}
	other := e.newClient()
	otherToken := other.login("op@example.com").csrf(t)
	for name, r := range map[string]*coResp{
		"no token":                 decision(""),
		"another session's token":  decision(otherToken),
		"a cross-site request":     decision(token, "Sec-Fetch-Site", "cross-site"),
		"another origin":           decision(token, "Origin", "https://evil.example"),
		"logout without the token": b.do("POST", "/console/logout", url.Values{}),
	} {
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "<html") {
			t.Errorf("%s: want a 403 page: %s", name, r)
		}
	}
	a, err := e.Store.GetAnalysis(context.Background(), analysisID)
	if err != nil || a.Decision != nil {
		t.Fatalf("a refused form changed the analysis: %+v %v", a.Decision, err)
	}
	if r := decision(token); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/console/folders/"+folderID) {
		t.Fatalf("the decision with the token: %s", r)
	}
	if r := b.do("POST", "/console/logout", url.Values{"csrf": {token}}); r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %s", r)
	}
	if r := b.do("GET", "/console/", nil); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/login" {
		t.Errorf("after logout the console still serves the list: %s", r)
	}
}

func hasSession(r *coResp) bool {
	for _, c := range r.Cookie {
		if c.Name == "bonafide_console" && c.Value != "" {
			return true
		}
	}
	return false
}

// finishedFolder makes a folder of the client's with a finished, DECLINED QUALITY analysis written
// the way the worker writes one (engine details with a frame trace).
func finishedFolder(t *testing.T, e *coEnv, owner *bonafide.User) (folderID, analysisID string) {
	t.Helper()
	ctx := context.Background()
	m := &bonafide.Media{Kind: bonafide.KindImage, OriginalName: "selfie.jpg", BlobKey: "x/selfie.jpg", Tags: []string{"photo_selfie"}}
	f := &bonafide.Folder{CompanyID: owner.CompanyID, UserID: owner.ID, MetaData: json.RawMessage(`{"transaction_id":"t-1"}`)}
	if err := e.Store.CreateFolder(ctx, f, []*bonafide.Media{m}); err != nil {
		t.Fatal(err)
	}
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	if err := e.Store.CreateAnalyses(ctx, []*bonafide.Analysis{a}); err != nil {
		t.Fatal(err)
	}
	conf := 0.81
	face, pas := 0.42, 0.9
	details := &bonafide.Evidence{LivenessEvidence: &bonafide.LivenessEvidence{
		Reasons: []bonafide.Reason{{Code: "PASSIVE_ATTACK", Message: "the passive model sees an attack"}},
		Signals: []bonafide.Signal{{Name: "passive", Score: &pas, Value: 0.9, Weight: 2.5, Detail: "P(attack)"}},
		Engine:  bonafide.EngineInfo{Version: "bonafide-engine/test", Calibration: "c1", Models: []bonafide.ModelInfo{{Name: "passive", File: "p.onnx", SHA256: "ab"}}},
		Frames:  []bonafide.FrameTrace{{Index: 0, Face: &face, Passive: &pas}},
	}}
	a.State, a.Resolution = bonafide.StateFinished, bonafide.ResolutionDeclined
	a.ResultsData = json.RawMessage(`{"confidence_spoofing":0.81}`)
	a.Results = []bonafide.MediaResult{{MediaID: m.ID, Kind: m.Kind, ConfidenceSpoofing: &conf, Resolution: bonafide.ResolutionDeclined, Details: details}}
	if err := e.Store.FinishAnalysis(ctx, a); err != nil {
		t.Fatal(err)
	}
	return f.ID, a.ID
}

// TestConsoleTenancy: the console shows what the API would: another company's folder is 404 (the
// same page as a folder that does not exist), the list holds only the caller's folders, a CLIENT
// sees its own folder but has no decision form and its decision POST is refused, and a CLIENT
// OPERATOR of another company cannot decide either.
func TestConsoleTenancy(t *testing.T) {
	e := coServer(t, coOpts{})
	acme, other := e.company("Acme"), e.company("Other")
	client := e.user(bonafide.RoleClient, acme.ID, "client@example.com")
	rival := e.user(bonafide.RoleClientAdmin, other.ID, "rival@example.com")
	e.user(bonafide.RoleClientOperator, other.ID, "rivalop@example.com")
	mine, analysisID := finishedFolder(t, e, client)
	theirs, _ := finishedFolder(t, e, rival)

	c := e.newClient()
	list := c.login("client@example.com")
	if !strings.Contains(list.Body, mine) || strings.Contains(list.Body, theirs) {
		t.Errorf("the client's list: has its folder %v, has the other company's %v", strings.Contains(list.Body, mine), strings.Contains(list.Body, theirs))
	}
	own := c.do("GET", "/console/folders/"+mine, nil)
	if own.Status != 200 || !strings.Contains(own.Body, "PASSIVE_ATTACK") || strings.Contains(own.Body, "/decision") {
		t.Errorf("the client's own folder: want it shown without a decision form: %s", own)
	}
	if !strings.Contains(own.Body, "<dt>Company</dt><dd title=\""+acme.ID+"\">Acme</dd>") {
		t.Errorf("the folder page does not name its company: %s", own)
	}
	foreign := c.do("GET", "/console/folders/"+theirs, nil)
	missing := c.do("GET", "/console/folders/00000000-0000-4000-8000-000000000000", nil)
	if foreign.Status != http.StatusNotFound || missing.Status != http.StatusNotFound || strings.Contains(foreign.Body, theirs+"</code></h1>") {
		t.Errorf("another company's folder: %s; a missing one: %s", foreign, missing)
	}
	if !strings.Contains(foreign.Body, "client@example.com") || !strings.Contains(foreign.Body, "Back to the folders") {
		t.Errorf("the 404 page does not keep the session's header: %s", foreign)
	}
	if r := c.do("POST", "/console/analyses/"+analysisID+"/decision", url.Values{"csrf": {own.csrf(t)}, "resolution": {"SUCCESS"}}); r.Status != http.StatusForbidden {
		t.Errorf("a CLIENT's decision: %s", r)
	}
	e.user(bonafide.RoleClientService, acme.ID, "service@example.com")
	sc := e.newClient()
	page := sc.do("GET", "/console/login", nil)
	if r := sc.do("POST", "/console/login", url.Values{"csrf": {page.csrf(t)}, "email": {"service@example.com"}, "password": {coPassword}}); r.Status != http.StatusForbidden || hasSession(r) {
		t.Errorf("a CLIENT SERVICE login to the console: %s", r)
	}
	rc := e.newClient()
	rivalList := rc.login("rivalop@example.com")
	if r := rc.do("POST", "/console/analyses/"+analysisID+"/decision", url.Values{"csrf": {rivalList.csrf(t)}, "resolution": {"SUCCESS"}}); r.Status != http.StatusNotFound {
		t.Errorf("another company's CLIENT OPERATOR deciding: %s", r)
	}
	if a, _ := e.Store.GetAnalysis(context.Background(), analysisID); a.Decision != nil {
		t.Errorf("a refused decision was stored: %+v", a.Decision)
	}
}

// TestConsoleLoginThrottle: console logins go through the API's login, so its backoff applies to
// them, and failures in the console and in the API count together.
func TestConsoleLoginThrottle(t *testing.T) {
	e := coServer(t, coOpts{apiCfg: func(c *api.Config) { c.LoginFailures = 2; c.LoginBackoff = time.Hour; c.LoginBackoffMax = time.Hour }})
	e.user(bonafide.RoleOperator, "", "op@example.com")
	b := e.newClient()
	try := func(pw string) *coResp {
		page := b.do("GET", "/console/login", nil)
		return b.do("POST", "/console/login", url.Values{"csrf": {page.csrf(t)}, "email": {"op@example.com"}, "password": {pw}})
	}
	if r := try("wrong password 1"); r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "wrong") {
		t.Fatalf("a wrong password: %s", r)
	}
	// The second failure through the API.
	e.apiJSON("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": "op@example.com", "password": "wrong password 2"}}, 401, nil)
	r := try(coPassword)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || hasSession(r) || !strings.Contains(r.Body, "wait") {
		t.Fatalf("the right password while throttled: %s (Retry-After %q)", r, r.Header.Get("Retry-After"))
	}
	if r := try(""); r.Status != http.StatusBadRequest {
		t.Errorf("an empty password: %s", r)
	}
	if r := try(strings.Repeat("p", 2000)); r.Status != http.StatusBadRequest {
		t.Errorf("an oversized password: %s", r)
	}
}

// TestConsoleRootAndAPI: GET / leads to the console; the API's paths answer as before (JSON
// errors, 405 with Allow), and the console needs a login.
func TestConsoleRootAndAPI(t *testing.T) {
	e := coServer(t, coOpts{})
	b := e.newClient()
	for path, want := range map[string]string{"/": "/console/", "/console": "/console/", "/console/": "/console/login", "/console/folders/x": "/console/login"} {
		if r := b.do("GET", path, nil); r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("GET %s: %s, Location %q, want %q", path, r, r.Header.Get("Location"), want)
		}
	}
	for path, status := range map[string]int{"/api/folders": 401, "/api/nothing": 404, "/healthz": 200, "/api/version": 200} {
		r := b.do("GET", path, nil)
		if r.Status != status || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %s (%s), want %d JSON", path, r, r.Header.Get("Content-Type"), status)
		}
	}
	if r := b.do("POST", "/", nil); r.Status != http.StatusNotFound || !strings.Contains(r.Body, `"error_code": 10`) {
		t.Errorf("POST /: %s, want the API's 404", r)
	}
	if r := b.do("PUT", "/api/folders", nil); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") == "" {
		t.Errorf("PUT /api/folders: %s", r)
	}
	if r := b.do("POST", "/console/analyses/x/decision", url.Values{"csrf": {"x"}}); r.Status != http.StatusUnauthorized {
		t.Errorf("a decision without a session: %s", r)
	}
}

// TestConsoleListPaging: the list pages through the folders (50 a page by default, newest first)
// with exact counts, the filters narrow it in the store (verdict, analysis type, meta_data,
// dates), and bad filter values are a 400 page naming the field.
func TestConsoleListPaging(t *testing.T) {
	e := coServer(t, coOpts{})
	acme := e.company("Acme")
	client := e.user(bonafide.RoleClient, acme.ID, "client@example.com")
	e.user(bonafide.RoleAdmin, "", "admin@example.com")
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 120 {
		f := &bonafide.Folder{CompanyID: acme.ID, UserID: client.ID, Created: start.Add(time.Duration(i) * time.Hour), Updated: start.Add(time.Duration(i) * time.Hour),
			MetaData: json.RawMessage(fmt.Sprintf(`{"n":"%d"}`, i))}
		if err := e.Store.CreateFolder(ctx, f, nil); err != nil {
			t.Fatal(err)
		}
	}
	finished, _ := finishedFolder(t, e, client) // the newest, DECLINED
	b := e.newClient()
	first := b.login("admin@example.com")
	if n := strings.Count(first.Body, `class="folder-link"`); n != 50 || !strings.Contains(first.Body, "1–50 of 121") || !strings.Contains(first.Body, "Page 1 of 3") {
		t.Fatalf("page 1: %d rows: %s", n, first)
	}
	if !strings.Contains(first.Body, `href="/console/?page=2"`) || strings.Contains(first.Body, `rel="prev"`) {
		t.Errorf("page 1's links")
	}
	last := b.do("GET", "/console/?page=3", nil)
	if n := strings.Count(last.Body, `class="folder-link"`); n != 21 || !strings.Contains(last.Body, "101–121 of 121") || strings.Contains(last.Body, `rel="next"`) {
		t.Errorf("page 3: %d rows", n)
	}
	for q, want := range map[string]int{
		"verdict=DECLINED":                1,
		"verdict=INITIAL":                 120,
		"type=quality":                    1,
		"type=BIOMETRY":                   0,
		"meta_key=n&meta_value=7":         1,
		"from=2026-03-02&to=2026-03-02":   24,
		"from=2026-03-05&verdict=INITIAL": 36,
	} {
		r := b.do("GET", "/console/?"+q, nil)
		got := strings.Count(r.Body, `class="folder-link"`)
		if r.Status != 200 || got != min(want, 50) {
			t.Errorf("?%s: %d rows, want %d: %s", q, got, want, r)
		}
		if q == "verdict=DECLINED" && !strings.Contains(r.Body, finished) {
			t.Errorf("?%s: the declined folder is not listed", q)
		}
	}
	for q, field := range map[string]string{"page=0": "page", "from=yesterday": "from", "verdict=MAYBE": "MAYBE", "type=FOO": "FOO",
		"meta_value=x": "meta_data", "meta_key=" + strings.Repeat("k", 300): "meta_key"} {
		if r := b.do("GET", "/console/?"+q, nil); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, field) {
			t.Errorf("?%s: want a 400 page naming %s: %s", q, field, r)
		}
	}
}

// newTLSFront serves the same handler over TLS (httptest's certificate).
func newTLSFront(t *testing.T, e *coEnv) *httptest.Server {
	ts := httptest.NewTLSServer(e.handler)
	t.Cleanup(ts.Close)
	return ts
}

// TestConsoleFormBounds: a form body larger than 64 KiB is refused (400 page naming the limit),
// and one that stops arriving is cut after the body timeout (here 200 ms) with a 400 page.
func TestConsoleFormBounds(t *testing.T) {
	e := coServer(t, coOpts{consoleCfg: func(c *console.Config) { c.BodyTimeout = 200 * time.Millisecond }})
	b := e.newClient()
	page := b.do("GET", "/console/login", nil)
	big := url.Values{"csrf": {page.csrf(t)}, "email": {"a@example.com"}, "password": {strings.Repeat("p", 70<<10)}}
	if r := b.do("POST", "/console/login", big); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "65536 bytes") {
		t.Errorf("a 70 KiB form: %s", r)
	}

	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /console/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncsrf=")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("a stalled form got no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "stopped arriving") {
		t.Errorf("a stalled form: %d %s", resp.StatusCode, body)
	}
}
