package bonafide

import "testing"

// The collection rules, lifted from the API's handlers: global roles choose the company, the
// others keep their own.
func TestCollectionRules(t *testing.T) {
	admin := &User{Role: RoleAdmin, CompanyID: "g"}
	client := &User{Role: RoleClientAdmin, CompanyID: "c"}
	orphan := &User{Role: RoleClient}
	for _, tc := range []struct {
		u                *User
		asked            string
		create, list     string
		createErr, lsErr bool
	}{
		{admin, "", "g", "", false, false},
		{admin, "x", "x", "x", false, false},
		{client, "", "c", "c", false, false},
		{client, "c", "c", "c", false, false},
		{client, "x", "", "c", true, false},
		{orphan, "", "", "", false, true},
	} {
		got, err := CollectionCompany(tc.u, tc.asked)
		if got != tc.create || (err != nil) != tc.createErr || (err != nil && CodeOf(err) != CodeForbidden) {
			t.Errorf("CollectionCompany(%s, %q) = %q, %v", tc.u.Role, tc.asked, got, err)
		}
		got, err = CollectionScope(tc.u, tc.asked)
		if got != tc.list || (err != nil) != tc.lsErr || (err != nil && CodeOf(err) != CodeForbidden) {
			t.Errorf("CollectionScope(%s, %q) = %q, %v", tc.u.Role, tc.asked, got, err)
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

// TestErasureRules: ADMIN erases in any company or all, CLIENT ADMIN only in its own, nobody else.
func TestErasureRules(t *testing.T) {
	for _, tc := range []struct {
		u      *User
		asked  string
		scope  string
		forbid bool
	}{
		{&User{Role: RoleAdmin, CompanyID: "g"}, "", "", false},
		{&User{Role: RoleAdmin, CompanyID: "g"}, "x", "x", false},
		{&User{Role: RoleClientAdmin, CompanyID: "c"}, "", "c", false},
		{&User{Role: RoleClientAdmin, CompanyID: "c"}, "c", "c", false},
		{&User{Role: RoleClientAdmin, CompanyID: "c"}, "x", "", true},
		{&User{Role: RoleClientAdmin}, "", "", true},
		{&User{Role: RoleOperator}, "", "", true},
		{&User{Role: RoleClientOperator, CompanyID: "c"}, "", "", true},
		{&User{Role: RoleClient, CompanyID: "c"}, "", "", true},
		{&User{Role: RoleClientService, CompanyID: "c"}, "", "", true},
	} {
		got, err := ErasureScope(tc.u, tc.asked)
		if got != tc.scope || (err != nil) != tc.forbid || (err != nil && CodeOf(err) != CodeForbidden) {
			t.Errorf("ErasureScope(%s of %q, %q) = %q, %v", tc.u.Role, tc.u.CompanyID, tc.asked, got, err)
		}
	}
	own, all := &Erasure{CompanyID: "c"}, &Erasure{}
	for _, tc := range []struct {
		u        *User
		own, all bool
	}{
		{&User{Role: RoleAdmin}, true, true},
		{&User{Role: RoleClientAdmin, CompanyID: "c"}, true, false},
		{&User{Role: RoleClientAdmin, CompanyID: "d"}, false, false},
		{&User{Role: RoleClientAdmin}, false, false},
		{&User{Role: RoleOperator}, false, false},
		{&User{Role: RoleClientOperator, CompanyID: "c"}, false, false},
	} {
		if CanSeeErasure(tc.u, own) != tc.own || CanSeeErasure(tc.u, all) != tc.all {
			t.Errorf("CanSeeErasure(%s of %q): own %v, all %v", tc.u.Role, tc.u.CompanyID, CanSeeErasure(tc.u, own), CanSeeErasure(tc.u, all))
		}
	}
}
