package api

// Tests that keep api/openapi.yaml and the server in step: the document loads and validates as
// OpenAPI 3.1, every route the code registers is documented (and every documented operation is
// served), and real responses from a running server validate against the document. Helpers and
// names here start with "oa"; the server comes from tuServer (testutil_test.go), whose fake job
// queue leaves analyses PROCESSING, which is fine: these tests check shapes, not the pipeline.

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"bonafide"
	"bonafide/internal/oascheck"
)

func oaChecker(t *testing.T) *oascheck.Checker {
	t.Helper()
	c, err := oascheck.Load(OpenAPI())
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return c
}

func TestOpenAPISpecLoads(t *testing.T) {
	c := oaChecker(t)
	if !c.Doc().IsOpenAPI31OrLater() || c.Doc().OpenAPI != "3.1.0" {
		t.Errorf("openapi: %q, want 3.1.0", c.Doc().OpenAPI)
	}
	// Every operation documents the error envelope as its default response.
	for _, op := range c.Operations() {
		method, path, _ := strings.Cut(op, " ")
		_, o := c.Find(method, path)
		if o.Responses.Default() == nil {
			t.Errorf("%s: no default (error envelope) response", op)
		}
		if o.OperationID == "" {
			t.Errorf("%s: no operationId", op)
		}
	}
}

// oaRoute is one registration found in the package's source.
type oaRoute struct {
	method, path, where string
}

// oaRegisteredRoutes reads the package's non-test Go files and returns every route registered with
// the route helper (route("GET", "/api/x", ...), served with and without the slash) and every
// method-qualified mux.Handle / mux.HandleFunc pattern. The catch-all "/" is left out.
func oaRegisteredRoutes(t *testing.T) []oaRoute {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []oaRoute
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parsing %s: %v", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			str := func(e ast.Expr) (string, bool) {
				lit, ok := e.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return "", false
				}
				s, err := strconv.Unquote(lit.Value)
				return s, err == nil
			}
			where := fset.Position(call.Pos()).String()
			switch fun := call.Fun.(type) {
			case *ast.Ident:
				if fun.Name != "route" {
					return true
				}
				m, ok1 := str(call.Args[0])
				p, ok2 := str(call.Args[1])
				if ok1 && ok2 {
					out = append(out, oaRoute{m, strings.TrimSuffix(p, "/"), where})
				}
			case *ast.SelectorExpr:
				x, ok := fun.X.(*ast.Ident)
				if !ok || x.Name != "mux" || (fun.Sel.Name != "Handle" && fun.Sel.Name != "HandleFunc") {
					return true
				}
				pat, ok := str(call.Args[0])
				if !ok {
					return true
				}
				m, p, ok := strings.Cut(pat, " ")
				if !ok || strings.Contains(p, "{$}") {
					return true // the catch-all, or route()'s own registrations
				}
				out = append(out, oaRoute{m, p, where})
			}
			return true
		})
	}
	if len(out) < 10 {
		t.Fatalf("found only %d route registrations in the package source; the extraction is broken", len(out))
	}
	return out
}

// oaPatternMatches says whether a ServeMux pattern path (with {name} and {name...} wildcards)
// and a spec path template (with {name} parameters) describe the same paths.
func oaPatternMatches(pattern, template string) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	ts := strings.Split(strings.Trim(template, "/"), "/")
	isParam := func(s string) bool { return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") }
	for i, p := range ps {
		if strings.HasSuffix(p, "...}") {
			return len(ts) > i // the rest, at least one segment
		}
		if i >= len(ts) {
			return false
		}
		if isParam(p) != isParam(ts[i]) || !isParam(p) && p != ts[i] {
			return false
		}
	}
	return len(ps) == len(ts)
}

// TestOpenAPISpecRoutes checks both directions between the source's registrations and the document.
func TestOpenAPISpecRoutes(t *testing.T) {
	c := oaChecker(t)
	routes := oaRegisteredRoutes(t)
	ops := c.Operations()
	documented := map[string]bool{}
	for _, r := range routes {
		found := false
		for _, op := range ops {
			method, tpl, _ := strings.Cut(op, " ")
			if method == r.method && oaPatternMatches(r.path, tpl) {
				found, documented[op] = true, true
			}
		}
		if !found {
			t.Errorf("%s: %s %s is registered but not in api/openapi.yaml", r.where, r.method, r.path)
		}
	}
	for _, op := range ops {
		if !documented[op] {
			t.Errorf("api/openapi.yaml documents %s, but no route(...) or mux.Handle(...) registers it", op)
		}
	}
}

// oaConcrete fills a path template's parameters.
func oaConcrete(tpl string) string {
	var segs []string
	for _, s := range strings.Split(tpl, "/") {
		switch {
		case s == "{file}":
			s = "x.jpg"
		case strings.HasPrefix(s, "{"):
			s = uuid.NewString()
		}
		segs = append(segs, s)
	}
	return strings.Join(segs, "/")
}

// TestOpenAPIProbe calls every documented operation without a token, in both slash forms, and
// checks that the server routes it (anything but the catch-all's "no endpoint" answer) and that
// the answer validates.
func TestOpenAPIProbe(t *testing.T) {
	c := oaChecker(t)
	env := tuServer(t)
	env.client.Transport = c.Transport(nil, t)
	for _, op := range c.Operations() {
		method, tpl, _ := strings.Cut(op, " ")
		item := c.Doc().Paths.Value(tpl)
		forms := []string{oaConcrete(tpl)}
		if noSlash, _ := item.Extensions["x-bonafide-no-trailing-slash"].(bool); !noSlash {
			forms = append(forms, forms[0]+"/")
		}
		for _, p := range forms {
			r := env.tuDo(method, p, "", nil)
			if r.Status == http.StatusNotFound && strings.Contains(string(r.Body), "no endpoint") {
				t.Errorf("%s (%s): not routed: %s", op, p, r)
			}
		}
	}
}

// TestOpenAPIResponses drives a real server through every kind of answer with the checker's
// transport on the client, so each response is validated against the document.
func TestOpenAPIResponses(t *testing.T) {
	c := oaChecker(t)
	env := tuServer(t, func(cfg *Config) { cfg.SingleRequestTimeout = 200 * time.Millisecond })
	rt := c.Transport(nil, t)
	env.client.Transport = rt
	company := env.tuCompany("Acme")
	admin := env.tuUserLoggedIn(bonafide.RoleAdmin, company.ID, "admin@example.com")
	client := env.tuUserLoggedIn(bonafide.RoleClient, company.ID, "client@example.com")

	// Auth: refresh, wrong password, no token, bad token, the alias header.
	access, expire := env.tuLogin("client@example.com", tuPassword)
	r := env.tuDo("POST", "/api/authorize/refresh/", access, map[string]string{"expire_token": expire}).tuExpect(200, 0)
	if r.Str("access_token") == "" {
		t.Errorf("%s: no access_token", r)
	}
	env.tuDo("POST", "/api/authorize/auth/", "", map[string]any{"credentials": map[string]string{"email": "client@example.com", "password": "wrong password"}}).tuExpect(401, 15)
	env.tuDo("POST", "/api/authorize/auth", "", map[string]any{}).tuExpect(400, 3)
	env.tuDo("GET", "/api/folders", "", nil).tuExpect(401, 6)
	env.tuDo("GET", "/api/folders", strings.Repeat("ab", 64), nil).tuExpect(401, 7)
	env.tuDo("GET", "/api/users/me", "", nil, "X-Forensics-Access-Token", client.Token).tuExpect(200, 0)

	// Operational endpoints.
	env.tuDo("GET", "/api/version", "", nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/version/", "", nil).tuExpect(200, 0)
	env.tuDo("GET", "/healthz", "", nil).tuExpect(200, 0)
	env.tuDo("HEAD", "/healthz", "", nil)
	env.tuDo("GET", "/readyz", "", nil).tuExpect(200, 0)
	env.tuDo("GET", "/metrics", "", nil).tuExpect(200, 0)
	env.tuDo("OPTIONS", "/api/folders/", "", nil).tuExpect(204, 0)
	if r := env.tuDo("GET", "/api/openapi.yaml", "", nil); r.Status == 200 && string(r.Body) != string(OpenAPI()) {
		t.Errorf("GET /api/openapi.yaml does not serve the embedded document")
	}

	// Folders: multipart with a payload, an empty body, and single-request mode (the analyses stay
	// PROCESSING, so this answers at the 200 ms timeout).
	jpeg := tuJPEG(t)
	form := tuMultipart(t, map[string][]byte{"photo1": jpeg}, map[string]any{
		"media:tags":       map[string][]string{"photo1": {"photo_selfie"}},
		"media:meta_data":  map[string]any{"photo1": map[string]string{"foo": "bar"}},
		"folder:meta_data": map[string]any{"transaction_id": "t-1", "person_info": map[string]string{"first_name": "John"}},
	})
	folder := env.tuDo("POST", "/api/folders/", client.Token, form).tuExpect(201, 0).Obj()
	folderID := folder["folder_id"].(string)
	mediaURL := folder["media"].([]any)[0].(map[string]any)["original_url"].(string)
	env.tuDo("POST", "/api/folders", client.Token, nil).tuExpect(201, 0)
	single := tuMultipart(t, map[string][]byte{"video1": jpeg}, map[string]any{
		"media:tags": map[string][]string{"video1": {"video_selfie", "video_selfie_blank"}},
		"analyses":   []map[string]any{{"type": "quality", "params": map[string]bool{"extract_best_shot": true}}},
	})
	if r := env.tuDo("POST", "/api/folders", client.Token, single).tuExpect(201, 0); r.Obj()["analyses"] == nil {
		t.Errorf("%s: single-request mode without analyses", r)
	}
	env.tuDo("POST", "/api/folders", client.Token, []byte(`{"not":"multipart"}`), "Content-Type", "application/json").tuExpect(400, 3)

	// Media.
	more := tuMultipart(t, map[string][]byte{"photo2": jpeg}, nil)
	added := env.tuDo("POST", "/api/folders/"+folderID+"/media/", client.Token, more).tuExpect(201, 0).Arr()
	mediaID := added[0].(map[string]any)["media_id"].(string)
	env.tuDo("GET", "/api/folders/"+folderID+"/media", client.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/media/"+mediaID, client.Token, nil).tuExpect(200, 0)
	env.tuDo("PATCH", "/api/media/"+mediaID+"/", client.Token, map[string]any{"tags": []string{"photo_id", "photo_id_front"}}).tuExpect(200, 0)
	env.tuDo("PATCH", "/api/media/"+mediaID, client.Token, map[string]any{}).tuExpect(400, 3)
	env.tuDo("GET", mediaURL, client.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", mediaURL, client.Token, nil, "Range", "bytes=0-9").tuExpect(206, 0)
	if r := env.tuDo("GET", mediaURL, client.Token, nil, "Range", "bytes=999999-"); r.Status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("%s: want 416 (Go's file server answers it in plain text)", r)
	}
	env.tuDo("GET", "/static/"+folderID+"/nothing.jpg", client.Token, nil).tuExpect(404, 10)

	// Folder meta_data.
	env.tuDo("GET", "/api/folders/"+folderID+"/meta_data", client.Token, nil).tuExpect(200, 0)
	env.tuDo("POST", "/api/folders/"+folderID+"/meta_data", client.Token, map[string]any{"a": 1}).tuExpect(200, 0)
	env.tuDo("PATCH", "/api/folders/"+folderID+"/meta_data/", client.Token, map[string]any{"client_iin": "123"}).tuExpect(200, 0)
	env.tuDo("DELETE", "/api/folders/"+folderID+"/meta_data", client.Token, nil).tuExpect(200, 0)

	// Analyses: start, list, get; then one finished and one failed through the store, so the
	// results_media shape is checked too.
	started := env.tuDo("POST", "/api/folders/"+folderID+"/analyses/", client.Token,
		map[string]any{"analyses": []map[string]any{{"type": "QUALITY"}, {"type": "quality", "source_media": []string{mediaID}}}}).tuExpect(201, 0).Arr()
	if len(started) != 2 {
		t.Fatalf("started %d analyses, want 2", len(started))
	}
	a1 := started[0].(map[string]any)["analyse_id"].(string)
	a2 := started[1].(map[string]any)["analysis_id"].(string)
	env.tuDo("GET", "/api/analyses/"+a1, client.Token, nil).tuExpect(200, 0)
	oaFinish(t, env, a1, folderID, mediaID, true)
	oaFinish(t, env, a2, folderID, mediaID, false)
	got := env.tuDo("GET", "/api/analyses/"+a1+"/", client.Token, nil).tuExpect(200, 0).Obj()
	if got["resolution"] != "DECLINED" || got["resolution_status"] != "DECLINED" {
		t.Errorf("finished analysis: resolution %v / %v", got["resolution"], got["resolution_status"])
	}
	env.tuDo("GET", "/api/analyses/"+a2, client.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/folders/"+folderID+"/analyses", client.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/folders/"+folderID+"/analyses/?type=QUALITY&state.exclude=PROCESSING", client.Token, nil).tuExpect(200, 0)
	env.tuDo("POST", "/api/folders/"+folderID+"/analyses", client.Token, []byte(`{"analyses": [`)).tuExpect(400, 3)
	env.tuDo("POST", "/api/folders/"+folderID+"/analyses", client.Token, map[string]any{"analyses": []map[string]string{{"type": "FOO"}}}).tuExpect(400, 4)
	env.tuDo("POST", "/api/folders/"+folderID+"/analyses", client.Token, map[string]any{"analyses": []map[string]string{{"type": "liveness"}, {"type": "documents"}}}).tuExpect(201, 0)
	env.tuDo("POST", "/api/instant/folders", client.Token, tuMultipart(t, map[string][]byte{"photo1": jpeg}, nil)).tuExpect(501, 2)

	// Folder reads, with every flag, both slash forms, and the list in both total modes.
	env.tuDo("GET", "/api/folders/"+folderID+"?with_analyses=true&with_user=true&with_company=true", client.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/folders/"+folderID+"/", client.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/folders/?with_analyses=true", client.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/folders?total_omit=true&limit=1&sorting=time_created{asc}", admin.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/folders?meta_data=transaction_id==t-1&resolution_status=FINISHED", admin.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/folders?limit=6000", client.Token, nil).tuExpect(400, 4)
	env.tuDo("GET", "/api/folders/"+uuid.NewString(), client.Token, nil).tuExpect(404, 10)
	if r := env.tuDo("PUT", "/api/folders", client.Token, nil).tuExpect(405, 1); r.Header.Get("Allow") != "GET, HEAD, POST, OPTIONS" {
		t.Errorf("%s: Allow %q", r, r.Header.Get("Allow"))
	}
	if r := env.tuDo("POST", "/api/analyses/"+a1+"/", client.Token, nil).tuExpect(405, 1); r.Header.Get("Allow") != "GET, HEAD, PATCH, OPTIONS" {
		t.Errorf("%s: Allow %q", r, r.Header.Get("Allow"))
	}
	env.tuDo("DELETE", "/static/"+folderID+"/x.jpg", client.Token, nil).tuExpect(405, 1)
	env.tuDo("PUT", "/api/no/such/endpoint", client.Token, nil).tuExpect(404, 10)
	env.tuDo("GET", "/api/no/such/endpoint/", client.Token, nil).tuExpect(404, 10)

	// Users and companies.
	env.tuDo("GET", "/api/users", admin.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/users/?total_omit=true&company_id="+company.ID, admin.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/users", client.Token, nil).tuExpect(403, 9)
	created := env.tuDo("POST", "/api/users/", admin.Token, map[string]any{"email": "new@example.com", "password": "long enough password",
		"user_type": "CLIENT OPERATOR", "company_id": company.ID, "first_name": "New"}).tuExpect(201, 0)
	newID := created.Str("user_id")
	env.tuDo("POST", "/api/users", admin.Token, map[string]any{"email": "x@example.com"}).tuExpect(400, 3)
	env.tuDo("GET", "/api/users/me/", client.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/users/"+newID, admin.Token, nil).tuExpect(200, 0)
	env.tuDo("PATCH", "/api/users/"+newID, admin.Token, map[string]any{"last_name": "Doe", "is_admin": false}).tuExpect(200, 0)
	env.tuDo("DELETE", "/api/users/"+newID+"/", admin.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/users/"+uuid.NewString(), admin.Token, nil).tuExpect(404, 10)
	env.tuDo("GET", "/api/companies", admin.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/companies/?search_text=acm&total_omit=1", client.Token, nil).tuExpect(200, 0)
	other := env.tuDo("POST", "/api/companies", admin.Token, map[string]string{"name": "Other Co"}).tuExpect(201, 0).Str("company_id")
	env.tuDo("POST", "/api/companies", admin.Token, map[string]string{"name": "other co"}).tuExpect(400, 13)
	env.tuDo("GET", "/api/companies/"+other, admin.Token, nil).tuExpect(200, 0)
	env.tuDo("PATCH", "/api/companies/"+other, admin.Token, map[string]string{"name": "Renamed"})
	env.tuDo("DELETE", "/api/companies/"+other, admin.Token, nil)
	env.tuDo("GET", "/api/companies/"+company.ID+"/webhook_secret", admin.Token, nil).tuExpect(200, 0)
	env.tuDo("POST", "/api/companies/"+company.ID+"/webhook_secret/", admin.Token, nil)
	env.tuDo("GET", "/api/companies/"+company.ID+"/webhook_secret", client.Token, nil).tuExpect(403, 9)

	// Deletes (ADMIN), last.
	env.tuDo("DELETE", "/api/media/"+mediaID, client.Token, nil).tuExpect(403, 9)
	env.tuDo("DELETE", "/api/media/"+mediaID, admin.Token, nil).tuExpect(200, 0)
	env.tuDo("DELETE", "/api/folders/"+folderID+"/", admin.Token, nil).tuExpect(200, 0)
	env.tuDo("GET", "/api/analyses/"+a1, client.Token, nil).tuExpect(404, 10)

	if n := oascheck.Checked(rt); n < 60 {
		t.Errorf("the checker saw %d responses; the transport is not on the client", n)
	}
}

// oaFinish finishes an analysis in the store the way the worker does: declined with a best shot
// and engine details, or failed with an error.
func oaFinish(t *testing.T, env *tuEnv, id, folderID, mediaID string, ok bool) {
	t.Helper()
	ctx := context.Background()
	a, err := env.Store.GetAnalysis(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		a.State, a.Resolution, a.Error, a.ResultsData = bonafide.StateFailed, "", "media could not be decoded", json.RawMessage(`{}`)
	} else {
		conf := 0.73
		key := folderID + "/best_shot_" + id + ".jpg"
		if err := env.API.blobs.Put(ctx, key, tuJPEG(t), "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		score := 0.8
		details := &bonafide.Evidence{LivenessEvidence: &bonafide.LivenessEvidence{
			Reasons:    []bonafide.Reason{{Code: "PASSIVE_ATTACK", Message: "screen replay"}},
			Signals:    []bonafide.Signal{{Name: "moire", Score: &score}},
			Challenges: []bonafide.Challenge{},
			Engine:     bonafide.EngineInfo{Version: "test", Calibration: "none", Models: []bonafide.ModelInfo{}},
		}}
		a.State, a.Resolution = bonafide.StateFinished, bonafide.ResolutionDeclined
		a.ResultsData = json.RawMessage(`{"confidence_spoofing":0.73}`)
		a.Results = []bonafide.MediaResult{
			{MediaID: mediaID, Kind: bonafide.KindImage, ConfidenceSpoofing: &conf, Resolution: "DECLINED", BestShotKey: key, Details: details},
			{MediaID: mediaID, Kind: bonafide.KindVideo, Resolution: "SUCCESS"},
		}
	}
	if err := env.Store.FinishAnalysis(ctx, a); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPIServed checks the handler method directly (server.go registers it as
// GET /api/openapi.yaml).
func TestOpenAPIServed(t *testing.T) {
	s := New(Config{}, nil, nil, nil, nil, nil)
	rec := httptest.NewRecorder()
	if err := s.openapi(rec, httptest.NewRequest("GET", "/api/openapi.yaml", nil)); err != nil {
		t.Fatal(err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q", ct)
	}
	if rec.Code != 200 || rec.Body.String() != string(OpenAPI()) {
		t.Errorf("status %d, %d bytes", rec.Code, rec.Body.Len())
	}
	data, err := os.ReadFile("openapi.yaml")
	if err != nil || string(data) != string(OpenAPI()) {
		t.Errorf("the embedded document differs from openapi.yaml (%v)", err)
	}
}
