package bonafide

import (
	"strings"
	"testing"
	"time"
)

func TestParseDecision(t *testing.T) {
	for _, c := range []struct {
		res, comment, wantRes, wantComment string
		ok                                 bool
	}{
		{" success ", "  fine  ", ResolutionSuccess, "fine", true},
		{"DECLINED", "", ResolutionDeclined, "", true},
		{"declined", strings.Repeat("é", MaxDecisionComment), ResolutionDeclined, strings.Repeat("é", MaxDecisionComment), true},
		{"OPERATOR_REQUIRED", "", "", "", false},
		{"", "", "", "", false},
		{"SUCCESS", strings.Repeat("x", MaxDecisionComment+1), "", "", false},
		{"SUCCESS", "bad \xff utf-8", "", "", false},
	} {
		res, com, err := ParseDecision(c.res, c.comment)
		if (err == nil) != c.ok || res != c.wantRes || com != c.wantComment {
			t.Errorf("ParseDecision(%q, %d chars) = %q, %d chars, %v", c.res, len(c.comment), res, len(com), err)
		}
		if err != nil && CodeOf(err) != CodeInvalidValue {
			t.Errorf("ParseDecision(%q): code %d, want 4", c.res, CodeOf(err))
		}
	}
}

// TestFolderRules: who sees and who decides, for every role, on a folder of company A created by
// user a1.
func TestFolderRules(t *testing.T) {
	f := &Folder{CompanyID: "A", UserID: "a1"}
	for _, c := range []struct {
		u           User
		see, decide bool
	}{
		{User{ID: "g", Role: RoleAdmin, CompanyID: GlobalCompanyID}, true, true},
		{User{ID: "o", Role: RoleOperator, CompanyID: GlobalCompanyID}, true, true},
		{User{ID: "a1", Role: RoleClient, CompanyID: "A"}, true, false},
		{User{ID: "a2", Role: RoleClient, CompanyID: "A"}, false, false},
		{User{ID: "a3", Role: RoleClientAdmin, CompanyID: "A"}, true, true},
		{User{ID: "a4", Role: RoleClientOperator, CompanyID: "A"}, true, true},
		{User{ID: "a5", Role: RoleClientService, CompanyID: "A"}, true, false},
		{User{ID: "b1", Role: RoleClientAdmin, CompanyID: "B"}, false, false},
		{User{ID: "b2", Role: RoleClientOperator, CompanyID: "B"}, false, false},
		{User{ID: "x", Role: RoleClientOperator}, false, false},
	} {
		if got := CanSeeFolder(&c.u, f); got != c.see {
			t.Errorf("CanSeeFolder(%s %s) = %v", c.u.Role, c.u.ID, got)
		}
		if got := CanSeeFolder(&c.u, f) && CanDecide(&c.u, f); got != c.decide {
			t.Errorf("CanDecide(%s %s) = %v", c.u.Role, c.u.ID, got)
		}
	}
	if _, _, err := FolderScope(&User{Role: RoleClientOperator}); CodeOf(err) != CodeForbidden {
		t.Errorf("FolderScope of a company role without a company: %v", err)
	}
	if c, u, err := FolderScope(&User{ID: "a1", Role: RoleClient, CompanyID: "A"}); c != "A" || u != "a1" || err != nil {
		t.Errorf("FolderScope of a CLIENT: %q %q %v", c, u, err)
	}
}

func TestLatestDecision(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	as := []*Analysis{{}, {Decision: &Decision{Comment: "old", At: t0}}, {Decision: &Decision{Comment: "new", At: t0.Add(time.Second)}}, {}}
	if d := LatestDecision(as); d == nil || d.Comment != "new" {
		t.Errorf("LatestDecision: %+v", d)
	}
	if d := LatestDecision([]*Analysis{{}}); d != nil {
		t.Errorf("LatestDecision without decisions: %+v", d)
	}
}
