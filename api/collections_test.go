package api

import (
	"net/http"
	"testing"

	"bonafide"
)

// The role table for collections, within one company: every role but the operators creates a
// collection, every company role reads it, only ADMIN and CLIENT ADMIN delete; the list is the
// caller's company's, every company's for the global roles.
func TestCollectionRoles(t *testing.T) {
	w := tuWorldSetup(t)
	env, a := w.env, w.a
	for _, tc := range []struct {
		u            *tuUser
		create, del  int
		listsAtLeast int
	}{
		{a.client, http.StatusCreated, http.StatusForbidden, 1},
		{a.admin, http.StatusCreated, http.StatusOK, 1},
		{a.service, http.StatusCreated, http.StatusForbidden, 1},
		{a.oper, http.StatusForbidden, http.StatusForbidden, 1},
		{w.operator, http.StatusForbidden, http.StatusForbidden, 2},
		{w.admin, http.StatusCreated, http.StatusOK, 2},
	} {
		e := env.tuFor(t)
		body := map[string]any{"alias": "list of " + string(tc.u.Role)}
		if tc.u.Role.Global() {
			body["company_id"] = a.company.ID
		}
		r := e.tuDo("POST", "/api/collections/", tc.u.Token, body)
		if r.Status != tc.create {
			t.Errorf("%s as %s: want %d", r, tc.u.Role, tc.create)
		}
		if got := e.tuDo("GET", "/api/collections/"+a.collectionID, tc.u.Token, nil); got.Status != http.StatusOK {
			t.Errorf("%s as %s: want 200", got, tc.u.Role)
		}
		if got := e.tuDo("GET", "/api/collections/"+a.collectionID+"/persons/"+a.personID, tc.u.Token, nil); got.Status != http.StatusOK {
			t.Errorf("%s as %s: want 200", got, tc.u.Role)
		}
		if got := e.tuDo("GET", "/api/collections", tc.u.Token, nil); got.Status != http.StatusOK || len(got.Arr()) < tc.listsAtLeast {
			t.Errorf("%s as %s: want 200 with at least %d", got, tc.u.Role, tc.listsAtLeast)
		}
		if r.Status == http.StatusCreated {
			id := r.Str("collection_id")
			if got := e.tuDo("DELETE", "/api/collections/"+id, tc.u.Token, nil); got.Status != tc.del {
				t.Errorf("%s as %s: want %d", got, tc.u.Role, tc.del)
			}
		}
	}
	// A client of company A cannot create one in company B.
	env.tuDo("POST", "/api/collections/", a.admin.Token, map[string]any{"alias": "x", "company_id": w.b.company.ID}).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
	// A collection without an alias is refused.
	env.tuDo("POST", "/api/collections/", a.admin.Token, map[string]any{}).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue))
}
