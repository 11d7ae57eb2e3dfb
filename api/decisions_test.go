package api

import (
	"net/http"
	"strings"
	"testing"

	"bonafide"
	"bonafide/internal/oascheck"
)

// TestDecideAnalysis: PATCH /api/analyses/{id} sets an operator's decision; the analysis then shows
// it as resolution_status/resolution with resolution_operator, resolution_comment and
// resolution_time, keeps the engine's verdict as system_resolution, and the folder shows the
// comment while its system_resolution stays the engine's. Who may decide, bad bodies and
// unfinished analyses are refused with the Oz codes. Every answer is validated against the
// OpenAPI document.
func TestDecideAnalysis(t *testing.T) {
	c := oaChecker(t)
	env := tuServer(t)
	rt := c.Transport(nil, t)
	env.client.Transport = rt
	acme := env.tuCompany("Acme")
	other := env.tuCompany("Other")
	client := env.tuUserLoggedIn(bonafide.RoleClient, acme.ID, "client@example.com")
	service := env.tuUserLoggedIn(bonafide.RoleClientService, acme.ID, "service@example.com")
	clientOp := env.tuUserLoggedIn(bonafide.RoleClientOperator, acme.ID, "clientop@example.com")
	otherOp := env.tuUserLoggedIn(bonafide.RoleClientOperator, other.ID, "otherop@example.com")
	operator := env.tuUserLoggedIn(bonafide.RoleOperator, "", "operator@example.com")
	admin := env.tuUserLoggedIn(bonafide.RoleAdmin, "", "admin@example.com")

	folder := env.tuFolder(client)
	folderID := folder["folder_id"].(string)
	mediaID := folder["media"].([]any)[0].(map[string]any)["media_id"].(string)
	id := env.tuStartAnalysis(client, folderID)
	path := "/api/analyses/" + id

	decide := map[string]string{"resolution_status": "success", "resolution_comment": "  a real person; the glare is the window  "}
	env.tuDo("PATCH", path, operator.Token, decide).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue)) // still PROCESSING
	oaFinish(t, env, id, folderID, mediaID, true)                                                                   // DECLINED by the engine

	before := env.tuDo("GET", path, client.Token, nil).tuExpect(200, 0).Obj()
	if before["resolution_status"] != "DECLINED" || before["system_resolution"] != "DECLINED" || before["resolution_operator"] != nil ||
		before["resolution_comment"] != nil || before["resolution_time"] != nil {
		t.Fatalf("before any decision: %v", before)
	}

	for _, u := range []*tuUser{client, service} {
		if r := env.tuDo("PATCH", path, u.Token, decide).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden)); !strings.Contains(r.Str("error_message"), string(u.Role)) {
			t.Errorf("%s: the refusal does not name the role", r)
		}
	}
	env.tuDo("PATCH", path, otherOp.Token, decide).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
	env.tuDo("PATCH", path, "", decide).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthNotProvided))
	env.tuDo("PATCH", path, operator.Token, map[string]string{"resolution_status": "OPERATOR_REQUIRED"}).tuExpect(400, int(bonafide.CodeInvalidValue))
	env.tuDo("PATCH", path, operator.Token, map[string]string{"resolution_comment": "no status"}).tuExpect(400, int(bonafide.CodeInvalidStructure))
	env.tuDo("PATCH", path, operator.Token, map[string]any{"resolution_status": 1}).tuExpect(400, int(bonafide.CodeInvalidType))
	env.tuDo("PATCH", path, operator.Token, map[string]string{"resolution_status": "SUCCESS",
		"resolution_comment": strings.Repeat("x", bonafide.MaxDecisionComment+1)}).tuExpect(400, int(bonafide.CodeInvalidValue))
	env.tuDo("PATCH", "/api/analyses/00000000-0000-4000-8000-000000000000", operator.Token, decide).tuExpect(404, int(bonafide.CodeNotExist))
	if got := env.tuDo("GET", path, client.Token, nil).tuExpect(200, 0).Obj(); got["resolution_operator"] != nil {
		t.Fatalf("a refused decision was stored: %v", got)
	}

	got := env.tuDo("PATCH", path, operator.Token, decide).tuExpect(200, 0).Obj()
	want := map[string]any{"resolution_status": "SUCCESS", "resolution": "SUCCESS", "system_resolution": "DECLINED",
		"resolution_operator": operator.ID, "resolution_comment": "a real person; the glare is the window", "state": "FINISHED"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("PATCH answer %s = %v, want %v", k, got[k], v)
		}
	}
	if ts, _ := got["resolution_time"].(float64); ts != epoch(env.Clock.Now()) {
		t.Errorf("resolution_time %v", got["resolution_time"])
	}
	read := env.tuDo("GET", path, client.Token, nil).tuExpect(200, 0).Obj()
	for k, v := range want {
		if read[k] != v {
			t.Errorf("GET after the decision: %s = %v, want %v", k, read[k], v)
		}
	}
	f := env.tuDo("GET", "/api/folders/"+folderID+"?with_analyses=true", client.Token, nil).tuExpect(200, 0).Obj()
	if f["system_resolution"] != "DECLINED" || f["resolution_status"] != "FINISHED" || f["resolution_comment"] != want["resolution_comment"] {
		t.Errorf("folder: system_resolution %v, resolution_status %v, resolution_comment %v", f["system_resolution"], f["resolution_status"], f["resolution_comment"])
	}
	if a := f["analyses"].([]any)[0].(map[string]any); a["resolution_status"] != "SUCCESS" || a["system_resolution"] != "DECLINED" {
		t.Errorf("folder's analysis: %v / %v", a["resolution_status"], a["system_resolution"])
	}

	// The company's CLIENT OPERATOR and an ADMIN decide too; the later decision replaces the first.
	env.tuDo("PATCH", path+"/", clientOp.Token, map[string]string{"resolution": "DECLINED"}).tuExpect(200, 0)
	last := env.tuDo("PATCH", path, admin.Token, map[string]string{"resolution_status": "DECLINED", "resolution_comment": "second look"}).tuExpect(200, 0).Obj()
	if last["resolution_status"] != "DECLINED" || last["resolution_operator"] != admin.ID || last["resolution_comment"] != "second look" {
		t.Errorf("the later decision: %v", last)
	}
	if n := oascheck.Checked(rt); n < 15 {
		t.Errorf("the checker saw %d responses", n)
	}
}
