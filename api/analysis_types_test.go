package api

import (
	"strings"
	"testing"
	"time"

	"bonafide"
)

// A request naming several types runs every type this server has; an Oz type it does not run is
// an analysis in state FAILED saying so; a name Oz does not have refuses the request.
func TestMixedAnalysisTypes(t *testing.T) {
	// The fake queue never finishes QUALITY: single-request mode answers at its timeout.
	env := tuServer(t, func(c *Config) { c.SingleRequestTimeout = 100 * time.Millisecond })
	env.client.Transport = oaChecker(t).Transport(nil, t)
	company := env.tuCompany("Acme")
	u := env.tuUserLoggedIn(bonafide.RoleClient, company.ID, "client@example.com")
	folderID := env.tuFolder(u)["folder_id"].(string)
	runs := func(name string) bool { _, ok := bonafide.LookupAnalysisType(name); return ok }

	types := []string{"quality", "documents", "biometry", "collection", "Liveness"}
	got := env.tuDo("POST", "/api/folders/"+folderID+"/analyses", u.Token, map[string]any{"analyses": []map[string]string{
		{"type": types[0]}, {"type": types[1]}, {"type": types[2]}, {"type": types[3]}, {"type": types[4]}}}).tuExpect(201, 0).Arr()
	if len(got) != len(types) {
		t.Fatalf("%d analyses for %d types", len(got), len(types))
	}
	for i, raw := range got {
		a := raw.(map[string]any)
		want := bonafide.CanonicalAnalysisType(types[i])
		if a["type"] != want {
			t.Errorf("analysis %d: type %v, want %s", i, a["type"], want)
		}
		if runs(want) {
			if a["state"] != bonafide.StateProcessing || a["error"] != nil {
				t.Errorf("%s runs here: state %v error %v", want, a["state"], a["error"])
			}
			continue
		}
		msg, _ := a["error"].(string)
		if a["state"] != bonafide.StateFailed || a["resolution_status"] != bonafide.StateFailed || !strings.Contains(msg, want) || !strings.Contains(msg, "not available on this server") {
			t.Errorf("%s is not run here: state %v, error %q", want, a["state"], msg)
		}
	}
	// Only the types that run were queued.
	queued := 0
	for _, name := range types {
		if runs(bonafide.CanonicalAnalysisType(name)) {
			queued++
		}
	}
	if n := len(env.Enq.Analyses()); n != queued {
		t.Errorf("%d analyses queued, want %d", n, queued)
	}
	stored := env.tuDo("GET", "/api/folders/"+folderID+"/analyses?type=DOCUMENTS", u.Token, nil).tuExpect(200, 0).Arr()
	if len(stored) != 1 || stored[0].(map[string]any)["state"] != bonafide.StateFailed {
		t.Errorf("the DOCUMENTS analysis is not stored FAILED: %v", stored)
	}

	// A name Oz does not have either refuses the whole request, and nothing is created.
	before := len(env.tuDo("GET", "/api/folders/"+folderID+"/analyses", u.Token, nil).tuExpect(200, 0).Arr())
	r := env.tuDo("POST", "/api/folders/"+folderID+"/analyses", u.Token, map[string]any{"analyses": []map[string]string{{"type": "quality"}, {"type": "FOO"}}}).tuExpect(400, 4)
	if !strings.Contains(r.String(), "FOO") {
		t.Errorf("%s: the message does not name the type", r)
	}
	if after := len(env.tuDo("GET", "/api/folders/"+folderID+"/analyses", u.Token, nil).tuExpect(200, 0).Arr()); after != before {
		t.Errorf("a refused request created %d analyses", after-before)
	}

	// The same in single-request mode (multipart payload).
	form := tuMultipart(t, map[string][]byte{"photo1": tuJPEG(t)}, map[string]any{"analyses": []map[string]string{{"type": "liveness"}, {"type": "documents"}}})
	f := env.tuDo("POST", "/api/folders", u.Token, form).tuExpect(201, 0).Obj()
	as := f["analyses"].([]any)
	if len(as) != 2 || as[0].(map[string]any)["type"] != "QUALITY" || as[1].(map[string]any)["state"] != bonafide.StateFailed {
		t.Errorf("single request: %v", as)
	}
	env.tuDo("POST", "/api/folders", u.Token, tuMultipart(t, map[string][]byte{"photo1": tuJPEG(t)}, map[string]any{"analyses": []map[string]string{{"type": "foo"}}})).tuExpect(400, 4)
}
