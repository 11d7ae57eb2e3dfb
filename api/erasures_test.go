package api

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"bonafide"
)

// erasureFolder creates a folder of one photo with meta_data {"client_id": client} and returns its id.
func (e *tuEnv) erasureFolder(u *tuUser, client string) string {
	e.t.Helper()
	form := tuMultipart(e.t, map[string][]byte{"photo1": tuJPEG(e.t)},
		map[string]any{"media:tags": map[string][]string{"photo1": {"photo_selfie"}}, "folder:meta_data": map[string]string{"client_id": client}})
	return e.tuDo("POST", "/api/folders", u.Token, form).tuExpect(http.StatusCreated, 0).Str("folder_id")
}

// TestErasureAPI: validation, dry runs, the receipt and tenancy over HTTP, every answer checked
// against api/openapi.yaml. The job queue is the recording fake here (the erasure itself is worked
// end to end by cmd/bonafide's TestServeErasure with the real binary).
func TestErasureAPI(t *testing.T) {
	c := oaChecker(t)
	env := tuServer(t, func(cfg *Config) { cfg.ErasureWait = 50 * time.Millisecond })
	env.client.Transport = c.Transport(nil, t)
	a, b := env.tuCompany("A"), env.tuCompany("B")
	admin := env.tuUserLoggedIn(bonafide.RoleAdmin, a.ID, "admin@example.com")
	adminA := env.tuUserLoggedIn(bonafide.RoleClientAdmin, a.ID, "ca@a.example")
	adminB := env.tuUserLoggedIn(bonafide.RoleClientAdmin, b.ID, "ca@b.example")
	operatorA := env.tuUserLoggedIn(bonafide.RoleClientOperator, a.ID, "co@a.example")
	clientA := env.tuUserLoggedIn(bonafide.RoleClient, a.ID, "c@a.example")
	fa := env.erasureFolder(adminA, "c-42")
	fa2 := env.erasureFolder(adminA, "c-43")
	fb := env.erasureFolder(adminB, "c-42")
	sel := map[string]any{"folder_meta_data": map[string]string{"client_id": "c-42"}, "dry_run": true}

	// Who may erase.
	env.tuDo("POST", "/api/erasures", operatorA.Token, sel).tuExpect(http.StatusForbidden, 9)
	env.tuDo("POST", "/api/erasures", clientA.Token, sel).tuExpect(http.StatusForbidden, 9)
	env.tuDo("POST", "/api/erasures", "", sel).tuExpect(http.StatusUnauthorized, 6)
	env.tuDo("POST", "/api/erasures", adminB.Token, map[string]any{"company_id": a.ID, "folder_ids": []string{fa}}).tuExpect(http.StatusForbidden, 9)

	// The body.
	for _, tc := range []struct {
		body any
		code int
	}{
		{nil, 3},
		{[]byte(`[]`), 3},
		{[]byte(`{"folder_ids": [`), 3},
		{map[string]any{}, 4},
		{map[string]any{"dry_run": true}, 4},
		{map[string]any{"folder_meta_data": map[string]string{}, "folder_ids": []string{}}, 4},
		{map[string]any{"folder_metadata": map[string]string{"client_id": "c-42"}}, 3},
		{map[string]any{"folder_meta_data": map[string]any{"client_id": 42}}, 5},
		{map[string]any{"folder_meta_data": map[string]any{"client_id": nil}}, 5},
		{map[string]any{"folder_meta_data": "c-42"}, 5},
		{map[string]any{"folder_ids": "x"}, 5},
		{map[string]any{"folder_ids": []string{""}}, 4},
		{map[string]any{"folder_ids": []string{fa}, "dry_run": "yes"}, 5},
		{map[string]any{"person_meta_data": map[string]string{"": "x"}}, 4},
	} {
		r := env.tuDo("POST", "/api/erasures", adminA.Token, tc.body).tuExpect(http.StatusBadRequest, tc.code)
		if r.Str("error_message") == "" {
			t.Errorf("%s: no message", r)
		}
	}

	// A dry run counts and deletes nothing; the receipt is kept.
	r := env.tuDo("POST", "/api/erasures", adminA.Token, sel, "X-Request-Id", "erasure-dry-1").tuExpect(http.StatusOK, 0)
	dry := r.Obj()
	if dry["status"] != "FINISHED" || dry["dry_run"] != true || dry["folders"] != 1.0 || dry["media"] != 1.0 || dry["persons"] != 0.0 ||
		dry["company_id"] != a.ID || dry["user_id"] != adminA.ID || dry["request_id"] != "erasure-dry-1" || dry["client_address"] != "127.0.0.1" {
		t.Errorf("dry run receipt: %s", r)
	}
	if ids, _ := dry["folder_ids"].([]any); len(ids) != 1 || ids[0] != fa {
		t.Errorf("dry run folder_ids %v, want [%s] (company B's c-42 is not A's)", dry["folder_ids"], fa)
	}
	env.tuDo("GET", "/api/folders/"+fa, adminA.Token, nil).tuExpect(http.StatusOK, 0)
	id := r.Str("erasure_id")
	got := env.tuDo("GET", "/api/erasures/"+id+"/", adminA.Token, nil).tuExpect(http.StatusOK, 0).Obj()
	if got["erasure_id"] != id || got["folders"] != 1.0 || got["time_finished"] == nil {
		t.Errorf("GET receipt: %v", got)
	}
	env.tuDo("GET", "/api/erasures/"+id, admin.Token, nil).tuExpect(http.StatusOK, 0)
	env.tuDo("GET", "/api/erasures/"+id, adminB.Token, nil).tuExpect(http.StatusNotFound, 10)
	env.tuDo("GET", "/api/erasures/"+id, operatorA.Token, nil).tuExpect(http.StatusForbidden, 9)
	env.tuDo("GET", "/api/erasures/no-such", adminA.Token, nil).tuExpect(http.StatusNotFound, 10)

	// An ADMIN's dry run spans every company, unless it names one.
	all := env.tuDo("POST", "/api/erasures", admin.Token, sel).tuExpect(http.StatusOK, 0).Obj()
	if ids, _ := all["folder_ids"].([]any); len(ids) != 2 || all["company_id"] != nil {
		t.Errorf("ADMIN dry run: %v", all)
	}
	allID, _ := all["erasure_id"].(string)
	env.tuDo("GET", "/api/erasures/"+allID, adminA.Token, nil).tuExpect(http.StatusNotFound, 10)
	one := env.tuDo("POST", "/api/erasures", admin.Token, map[string]any{"company_id": b.ID, "folder_meta_data": map[string]string{"client_id": "c-42"}, "dry_run": true}).tuExpect(http.StatusOK, 0).Obj()
	if ids, _ := one["folder_ids"].([]any); len(ids) != 1 || ids[0] != fb {
		t.Errorf("ADMIN dry run in company B: %v", one)
	}

	// Company B's CLIENT ADMIN names A's folders: nothing of A is selected.
	other := env.tuDo("POST", "/api/erasures", adminB.Token, map[string]any{"folder_ids": []string{fa, fa2}}).Obj()
	if ids, _ := other["folder_ids"].([]any); len(ids) != 0 {
		t.Errorf("B's erasure selected A's folders: %v", other)
	}

	// A real erasure waits for its job, then answers 202 IN_PROGRESS (no queue works it here).
	before := len(env.Enq.Erasures())
	real := env.tuDo("POST", "/api/erasures", adminA.Token, map[string]any{"folder_ids": []string{fa}}).tuExpect(http.StatusAccepted, 0).Obj()
	rid, _ := real["erasure_id"].(string)
	if real["status"] != "IN_PROGRESS" || real["time_finished"] != nil || !slices.Contains(env.Enq.Erasures()[before:], rid) {
		t.Errorf("real erasure: %v; enqueued %v", real, env.Enq.Erasures())
	}
}
