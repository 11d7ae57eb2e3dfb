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
