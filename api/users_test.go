package api

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"bonafide"
)

// tuAccounts is a small world for the account tests: a global ADMIN and OPERATOR, and two
// companies with a CLIENT ADMIN, a CLIENT OPERATOR and a CLIENT each.
type tuAccounts struct {
	env            *tuEnv
	admin, op      *tuUser
	a, b           *bonafide.Company
	aAdmin, aOp    *tuUser
	aClient, aPeer *tuUser
	bAdmin, bCli   *tuUser
	bodies         [][]byte // every answer, searched for password hashes at the end
}

func tuAccountsSetup(t *testing.T) *tuAccounts {
	env := tuServer(t)
	w := &tuAccounts{env: env}
	w.admin = env.tuUserLoggedIn(bonafide.RoleAdmin, "", "root@example.com")
	w.op = env.tuUserLoggedIn(bonafide.RoleOperator, "", "ops@example.com")
	w.a, w.b = env.tuCompany("Alpha"), env.tuCompany("Beta")
	w.aAdmin = env.tuUserLoggedIn(bonafide.RoleClientAdmin, w.a.ID, "boss@alpha.example.com")
	w.aOp = env.tuUserLoggedIn(bonafide.RoleClientOperator, w.a.ID, "ops@alpha.example.com")
	w.aClient = env.tuUserLoggedIn(bonafide.RoleClient, w.a.ID, "alice@alpha.example.com")
	w.aPeer = env.tuUserLoggedIn(bonafide.RoleClient, w.a.ID, "peter@alpha.example.com")
	w.bAdmin = env.tuUserLoggedIn(bonafide.RoleClientAdmin, w.b.ID, "boss@beta.example.com")
	w.bCli = env.tuUserLoggedIn(bonafide.RoleClient, w.b.ID, "bob@beta.example.com")
	t.Cleanup(func() {
		for _, b := range w.bodies {
			if bytes.Contains(b, []byte("argon2")) || bytes.Contains(b, []byte(`"password":`)) ||
				bytes.Contains(b, []byte(`"password_hash"`)) || bytes.Contains(b, []byte(tuPassword)) {
				t.Errorf("an answer shows a password or its hash: %s", b)
			}
		}
	})
	return w
}

// do sends a request as u (nil: no token) and keeps the body for the password check.
func (w *tuAccounts) do(t *testing.T, u *tuUser, method, path string, body any) *tuResp {
	t.Helper()
	token := ""
	if u != nil {
		token = u.Token
	}
	r := w.env.tuFor(t).tuDo(method, path, token, body)
	w.bodies = append(w.bodies, r.Body)
	return r
}

func tuIDs(items []map[string]any, key string) []string {
	var out []string
	for _, it := range items {
		out = append(out, it[key].(string))
	}
	slices.Sort(out)
	return out
}

func tuSorted(s ...string) []string { slices.Sort(s); return s }

func TestUsersCreate(t *testing.T) {
	w := tuAccountsSetup(t)
	const created, forbidden = http.StatusCreated, http.StatusForbidden
	codeForbidden := int(bonafide.CodeForbidden)

	t.Run("ADMIN creates any client role in any company", func(t *testing.T) {
		for _, role := range []bonafide.Role{bonafide.RoleClient,
			bonafide.RoleClientAdmin, bonafide.RoleClientOperator, bonafide.RoleClientService} {
			email := strings.ToLower(strings.ReplaceAll(string(role), " ", "-")) + "@new.example.com"
			r := w.do(t, w.admin, "POST", "/api/users", map[string]any{"email": email, "password": "s3cret-pass",
				"user_type": role, "company_id": w.b.ID, "first_name": "Ann", "last_name": "Lee", "middle_name": "Q",
				"can_start_analysis_quality": false}).tuExpect(created, 0)
			m := r.Obj()
			if m["user_type"] != string(role) || m["email"] != email || m["company_id"] != w.b.ID || m["first_name"] != "Ann" ||
				m["last_name"] != "Lee" || m["middle_name"] != "Q" || m["can_start_analysis_quality"] != false ||
				m["can_start_analysis_biometry"] != true || m["is_active"] != true || m["user_id"] == "" {
				t.Errorf("%s", r)
			}
			// The new account logs in with its password.
			w.env.tuFor(t).tuLogin(email, "s3cret-pass")
		}
		// Global roles join the reserved company "global" (created when missing), and only it.
		r := w.do(t, w.admin, "POST", "/api/users/", map[string]any{"email": "op2@example.com", "password": "s3cret-pass",
			"user_type": "OPERATOR"}).tuExpect(created, 0)
		if r.Str("company_id") != bonafide.GlobalCompanyID {
			t.Errorf("%s: want the company global", r)
		}
		r = w.do(t, w.admin, "POST", "/api/users/", map[string]any{"email": "admin2@example.com", "password": "s3cret-pass",
			"user_type": "ADMIN", "company_id": bonafide.GlobalCompanyID}).tuExpect(created, 0)
		if r.Str("company_id") != bonafide.GlobalCompanyID {
			t.Errorf("%s: want the company global", r)
		}
		for _, role := range []string{"ADMIN", "OPERATOR"} {
			r := w.do(t, w.admin, "POST", "/api/users", map[string]any{"email": "g@new.example.com", "password": "s3cret-pass",
				"user_type": role, "company_id": w.b.ID}).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue))
			if !strings.Contains(r.Str("error_message"), `reserved company "global"`) {
				t.Errorf("%s: the message should name the reserved company", r)
			}
		}
	})
	t.Run("CLIENT ADMIN creates CLIENT roles in its own company", func(t *testing.T) {
		r := w.do(t, w.aAdmin, "POST", "/api/users", map[string]any{"email": "Carol@Alpha.example.com", "password": "s3cret-pass"}).tuExpect(created, 0)
		if r.Str("company_id") != w.a.ID || r.Str("user_type") != "CLIENT" || r.Str("email") != "carol@alpha.example.com" {
			t.Errorf("%s: want a CLIENT of company Alpha with a lower-case email", r)
		}
		for _, role := range []string{"CLIENT OPERATOR", "CLIENT SERVICE", "CLIENT ADMIN"} {
			w.do(t, w.aAdmin, "POST", "/api/users", map[string]any{"email": strings.ReplaceAll(strings.ToLower(role), " ", ".") + "@alpha.example.com",
				"password": "s3cret-pass", "user_type": role, "company_id": w.a.ID}).tuExpect(created, 0)
		}
		// Pre-6.0 flags: CLIENT + is_service.
		r = w.do(t, w.aAdmin, "POST", "/api/users", map[string]any{"email": "svc2@alpha.example.com", "password": "s3cret-pass",
			"is_service": true}).tuExpect(created, 0)
		if r.Str("user_type") != "CLIENT SERVICE" || r.Obj()["is_service"] != true {
			t.Errorf("%s: want CLIENT SERVICE", r)
		}
		for _, role := range []string{"ADMIN", "OPERATOR"} {
			w.do(t, w.aAdmin, "POST", "/api/users", map[string]any{"email": "x@alpha.example.com", "password": "s3cret-pass", "user_type": role}).
				tuExpect(forbidden, codeForbidden)
		}
		w.do(t, w.aAdmin, "POST", "/api/users", map[string]any{"email": "x@alpha.example.com", "password": "s3cret-pass", "company_id": w.b.ID}).
			tuExpect(forbidden, codeForbidden)
	})
	t.Run("others cannot create users", func(t *testing.T) {
		for _, u := range []*tuUser{w.op, w.aOp, w.aClient} {
			w.do(t, u, "POST", "/api/users", map[string]any{"email": "y@alpha.example.com", "password": "s3cret-pass"}).
				tuExpect(forbidden, codeForbidden)
		}
	})
	t.Run("duplicate email", func(t *testing.T) {
		r := w.do(t, w.admin, "POST", "/api/users", map[string]any{"email": "ALICE@alpha.example.com", "password": "s3cret-pass", "company_id": w.a.ID}).
			tuExpect(http.StatusBadRequest, int(bonafide.CodeAlreadyExist))
		if !strings.Contains(r.Str("error_message"), "alice@alpha.example.com") {
			t.Errorf("%s: the message should name the email", r)
		}
	})
	t.Run("validation", func(t *testing.T) {
		for _, c := range []struct {
			body  any
			code  bonafide.Code
			words string // the message must mention this
		}{
			{map[string]any{"password": "s3cret-pass", "company_id": w.a.ID}, bonafide.CodeInvalidStructure, "email"},
			{map[string]any{"email": "z@alpha.example.com", "company_id": w.a.ID}, bonafide.CodeInvalidStructure, "password"},
			{map[string]any{"email": "not an email", "password": "s3cret-pass", "company_id": w.a.ID}, bonafide.CodeInvalidValue, "email"},
			{map[string]any{"email": "z@alpha.example.com", "password": "short", "company_id": w.a.ID}, bonafide.CodeInvalidValue, "at least 8"},
			{map[string]any{"email": "z@alpha.example.com", "password": "s3cret-pass", "company_id": w.a.ID, "user_type": "ROOT"}, bonafide.CodeInvalidValue, "user_type"},
			{map[string]any{"email": "z@alpha.example.com", "password": "s3cret-pass", "company_id": "no-such-company"}, bonafide.CodeInvalidValue, "company_id"},
			{map[string]any{"email": "z@alpha.example.com", "password": "s3cret-pass"}, bonafide.CodeInvalidStructure, "company_id"},
			{map[string]any{"email": "z@alpha.example.com", "password": "s3cret-pass", "company_id": w.a.ID, "first_name": 5}, bonafide.CodeInvalidType, "first_name"},
			{map[string]any{"email": "z@alpha.example.com", "password": "s3cret-pass", "company_id": w.a.ID, "can_start_analysis_quality": "yes"}, bonafide.CodeInvalidType, "can_start_analysis_quality"},
			{map[string]any{"email": "z@alpha.example.com", "password": "s3cret-pass", "company_id": w.a.ID, "last_name": strings.Repeat("x", 151)}, bonafide.CodeInvalidValue, "last_name"},
			{[]byte(`{"email": `), bonafide.CodeInvalidStructure, "JSON"},
			{[]byte(`["z@alpha.example.com"]`), bonafide.CodeInvalidStructure, "object"},
		} {
			r := w.do(t, w.admin, "POST", "/api/users", c.body).tuExpect(http.StatusBadRequest, int(c.code))
			if !strings.Contains(r.Str("error_message"), c.words) {
				t.Errorf("%s: the message should mention %q", r, c.words)
			}
		}
	})
}

func TestUsersReadAndList(t *testing.T) {
	w := tuAccountsSetup(t)
	notFound := int(bonafide.CodeNotExist)

	t.Run("me", func(t *testing.T) {
		for _, u := range []*tuUser{w.admin, w.aClient, w.bCli} {
			r := w.do(t, u, "GET", "/api/users/me", nil).tuExpect(http.StatusOK, 0)
			if r.Str("user_id") != u.ID || r.Str("email") != u.Email || r.Str("user_type") != string(u.Role) {
				t.Errorf("%s: want %s", r, u.Email)
			}
		}
	})
	t.Run("get", func(t *testing.T) {
		for _, c := range []struct {
			who    *tuUser
			target *tuUser
			ok     bool
		}{
			{w.aClient, w.aClient, true}, {w.aClient, w.aPeer, false}, {w.aClient, w.aAdmin, false},
			{w.aAdmin, w.aPeer, true}, {w.aOp, w.aPeer, true}, {w.aAdmin, w.bCli, false}, {w.aOp, w.bAdmin, false},
			{w.aAdmin, w.admin, false}, {w.admin, w.bCli, true}, {w.op, w.aAdmin, true},
		} {
			r := w.do(t, c.who, "GET", "/api/users/"+c.target.ID, nil)
			if c.ok {
				if r.tuExpect(http.StatusOK, 0).Str("user_id") != c.target.ID {
					t.Errorf("%s", r)
				}
			} else {
				r.tuExpect(http.StatusNotFound, notFound)
			}
		}
		w.do(t, w.admin, "GET", "/api/users/00000000-0000-0000-0000-000000000000", nil).tuExpect(http.StatusNotFound, notFound)
	})
	t.Run("list", func(t *testing.T) {
		all := tuSorted(w.admin.ID, w.op.ID, w.aAdmin.ID, w.aOp.ID, w.aClient.ID, w.aPeer.ID, w.bAdmin.ID, w.bCli.ID)
		alpha := tuSorted(w.aAdmin.ID, w.aOp.ID, w.aClient.ID, w.aPeer.ID)
		beta := tuSorted(w.bAdmin.ID, w.bCli.ID)
		for _, c := range []struct {
			who  *tuUser
			path string
			want []string
		}{
			{w.admin, "/api/users", all}, {w.op, "/api/users/", all},
			{w.admin, "/api/users?company_id=" + w.b.ID, beta},
			{w.aAdmin, "/api/users", alpha}, {w.aOp, "/api/users", alpha},
			{w.aAdmin, "/api/users?company_id=" + w.a.ID, alpha},
			{w.bAdmin, "/api/users", beta},
		} {
			r := w.do(t, c.who, "GET", c.path, nil).tuExpect(http.StatusOK, 0)
			if got := tuIDs(r.Items(), "user_id"); !slices.Equal(got, c.want) {
				t.Errorf("%s as %s: got %v, want %v", c.path, c.who.Email, got, c.want)
			}
			if tc := r.Obj()["total_count"]; tc != float64(len(c.want)) {
				t.Errorf("%s: total_count %v", c.path, tc)
			}
		}
		r := w.do(t, w.admin, "GET", "/api/users?limit=3&offset=2&total_omit=true", nil).tuExpect(http.StatusOK, 0)
		if n := len(r.Items()); n != 3 || r.Obj()["total_count"] != nil {
			t.Errorf("paged: %s", r)
		}
		w.do(t, w.admin, "GET", "/api/users?offset=-1", nil).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue))
		w.do(t, w.aAdmin, "GET", "/api/users?company_id="+w.b.ID, nil).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
		for _, u := range []*tuUser{w.aClient, w.bCli} {
			w.do(t, u, "GET", "/api/users", nil).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
		}
	})
}

func TestUsersPatch(t *testing.T) {
	w := tuAccountsSetup(t)
	forbidden, codeForbidden := http.StatusForbidden, int(bonafide.CodeForbidden)

	t.Run("self changes names and password only", func(t *testing.T) {
		r := w.do(t, w.aClient, "PATCH", "/api/users/"+w.aClient.ID, map[string]any{"first_name": " Alice ", "last_name": "Liddell"}).tuExpect(http.StatusOK, 0)
		if r.Str("first_name") != "Alice" || r.Str("last_name") != "Liddell" {
			t.Errorf("%s", r)
		}
		// Sending back the GET body unchanged is fine.
		me := w.do(t, w.aClient, "GET", "/api/users/me", nil).tuExpect(http.StatusOK, 0).Obj()
		me["middle_name"] = "P"
		w.do(t, w.aClient, "PATCH", "/api/users/"+w.aClient.ID+"/", me).tuExpect(http.StatusOK, 0)
		for _, body := range []map[string]any{{"user_type": "CLIENT ADMIN"}, {"is_admin": true}, {"company_id": w.b.ID},
			{"email": "evil@alpha.example.com"}, {"is_active": false}, {"can_start_analysis_quality": false}} {
			r := w.do(t, w.aClient, "PATCH", "/api/users/"+w.aClient.ID, body).tuExpect(forbidden, codeForbidden)
			if !strings.Contains(r.Str("error_message"), "first_name, last_name, middle_name and password") {
				t.Errorf("%s: the message should say what may be changed", r)
			}
		}
		w.do(t, w.aClient, "PATCH", "/api/users/"+w.aClient.ID, map[string]any{"password": "short"}).
			tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue))
		// A self password change needs the current password.
		r = w.do(t, w.aClient, "PATCH", "/api/users/"+w.aClient.ID, map[string]any{"password": "a new passphrase"}).
			tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidStructure))
		if !strings.Contains(r.Str("error_message"), "current_password") {
			t.Errorf("%s: the message should name current_password", r)
		}
		r = w.do(t, w.aClient, "PATCH", "/api/users/"+w.aClient.ID, map[string]any{"password": "a new passphrase", "current_password": "not it at all"}).
			tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue))
		if !strings.Contains(r.Str("error_message"), "current_password is not your current password") {
			t.Errorf("%s: the message should say the current password is wrong", r)
		}
		w.do(t, w.aClient, "PATCH", "/api/users/"+w.aClient.ID, map[string]any{"password": "a new passphrase", "current_password": tuPassword}).tuExpect(http.StatusOK, 0)
		w.env.tuFor(t).tuLogin(w.aClient.Email, "a new passphrase")
		w.env.tuFor(t).tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": w.aClient.Email, "password": tuPassword}}).
			tuExpect(http.StatusUnauthorized, int(bonafide.CodeCredentialsBad))
	})
	t.Run("other users", func(t *testing.T) {
		// A CLIENT and a CLIENT OPERATOR do not change colleagues.
		w.do(t, w.aClient, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"first_name": "x"}).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
		w.do(t, w.aOp, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"first_name": "x"}).tuExpect(forbidden, codeForbidden)
		w.do(t, w.op, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"first_name": "x"}).tuExpect(forbidden, codeForbidden)
		// CLIENT ADMIN manages its company's users within the CLIENT roles.
		r := w.do(t, w.aAdmin, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"user_type": "CLIENT OPERATOR", "email": "pete@alpha.example.com",
			"can_start_analyse_quality": false}).tuExpect(http.StatusOK, 0)
		if r.Str("user_type") != "CLIENT OPERATOR" || r.Str("email") != "pete@alpha.example.com" || r.Obj()["can_start_analysis_quality"] != false {
			t.Errorf("%s", r)
		}
		w.do(t, w.aAdmin, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"user_type": "ADMIN"}).tuExpect(forbidden, codeForbidden)
		w.do(t, w.aAdmin, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"company_id": w.b.ID}).tuExpect(forbidden, codeForbidden)
		w.do(t, w.aAdmin, "PATCH", "/api/users/"+w.bCli.ID, map[string]any{"first_name": "x"}).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
		w.do(t, w.aAdmin, "PATCH", "/api/users/"+w.aAdmin.ID, map[string]any{"user_type": "CLIENT"}).tuExpect(forbidden, codeForbidden)
		// Duplicate email on change.
		w.do(t, w.aAdmin, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"email": w.aOp.Email}).
			tuExpect(http.StatusBadRequest, int(bonafide.CodeAlreadyExist))
		// A global ADMIN that belongs to company Alpha is visible to its CLIENT ADMIN but not theirs to change.
		root2 := w.env.tuFor(t).tuCreateUser(bonafide.RoleAdmin, w.a.ID, "root2@example.com")
		w.do(t, w.aAdmin, "PATCH", "/api/users/"+root2.ID, map[string]any{"first_name": "x"}).tuExpect(forbidden, codeForbidden)
		w.do(t, w.aAdmin, "DELETE", "/api/users/"+root2.ID, nil).tuExpect(forbidden, codeForbidden)
		// ADMIN changes anything, including moving a user to another company.
		r = w.do(t, w.admin, "PATCH", "/api/users/"+w.bCli.ID, map[string]any{"company_id": w.a.ID, "user_type": "CLIENT SERVICE"}).tuExpect(http.StatusOK, 0)
		if r.Str("company_id") != w.a.ID || r.Str("user_type") != "CLIENT SERVICE" {
			t.Errorf("%s", r)
		}
		w.do(t, w.admin, "PATCH", "/api/users/"+w.bCli.ID, map[string]any{"company_id": ""}).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue))
		w.do(t, w.admin, "PATCH", "/api/users/"+w.bCli.ID, map[string]any{"company_id": "nope"}).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue))
		w.do(t, w.admin, "PATCH", "/api/users/"+w.admin.ID, map[string]any{"is_active": false}).tuExpect(forbidden, codeForbidden)
	})
}

func TestUsersDisable(t *testing.T) {
	w := tuAccountsSetup(t)
	forbidden, codeForbidden := http.StatusForbidden, int(bonafide.CodeForbidden)

	w.do(t, w.aClient, "DELETE", "/api/users/"+w.aPeer.ID, nil).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
	w.do(t, w.aOp, "DELETE", "/api/users/"+w.aPeer.ID, nil).tuExpect(forbidden, codeForbidden)
	w.do(t, w.op, "DELETE", "/api/users/"+w.aPeer.ID, nil).tuExpect(forbidden, codeForbidden)
	w.do(t, w.bAdmin, "DELETE", "/api/users/"+w.aPeer.ID, nil).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
	w.do(t, w.aAdmin, "DELETE", "/api/users/"+w.aAdmin.ID, nil).tuExpect(forbidden, codeForbidden)
	w.do(t, w.aClient, "DELETE", "/api/users/"+w.aClient.ID, nil).tuExpect(forbidden, codeForbidden)

	r := w.do(t, w.aAdmin, "DELETE", "/api/users/"+w.aPeer.ID, nil).tuExpect(http.StatusOK, 0)
	if r.Obj()["is_active"] != false {
		t.Errorf("%s: want is_active false", r)
	}
	w.do(t, w.aAdmin, "DELETE", "/api/users/"+w.aPeer.ID+"/", nil).tuExpect(http.StatusOK, 0) // again: no change
	// Disabling ended the user's sessions: the old token is unknown.
	w.do(t, w.aPeer, "GET", "/api/users/me", nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthInvalid))
	// The account still shows, disabled; ADMIN re-enables it.
	if w.do(t, w.aAdmin, "GET", "/api/users/"+w.aPeer.ID, nil).tuExpect(http.StatusOK, 0).Obj()["is_active"] != false {
		t.Error("the disabled user should show is_active false")
	}
	w.do(t, w.admin, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"is_active": true}).tuExpect(http.StatusOK, 0)
	w.env.tuFor(t).tuLogin(w.aPeer.Email, tuPassword)
	// ADMIN disables anyone, a global OPERATOR included.
	w.do(t, w.admin, "DELETE", "/api/users/"+w.op.ID, nil).tuExpect(http.StatusOK, 0)
}

func TestCompanies(t *testing.T) {
	w := tuAccountsSetup(t)
	forbidden, codeForbidden := http.StatusForbidden, int(bonafide.CodeForbidden)
	notFound, codeNotFound := http.StatusNotFound, int(bonafide.CodeNotExist)

	var gammaID string
	t.Run("create", func(t *testing.T) {
		r := w.do(t, w.admin, "POST", "/api/companies/", map[string]any{"name": "  Gamma Ltd "}).tuExpect(http.StatusCreated, 0)
		gammaID = r.Str("company_id")
		if r.Str("name") != "Gamma Ltd" || gammaID == "" || bytes.Contains(r.Body, []byte("whsec_")) {
			t.Errorf("%s", r)
		}
		c, err := w.env.Store.GetCompany(tuCtx(), gammaID)
		if err != nil || !strings.HasPrefix(c.WebhookSecret, "whsec_") || len(c.WebhookSecret) < 30 {
			t.Errorf("stored company %+v, %v: want a generated whsec_ secret", c, err)
		}
		w.do(t, w.admin, "POST", "/api/companies", map[string]any{"name": "gamma ltd"}).tuExpect(http.StatusBadRequest, int(bonafide.CodeAlreadyExist))
		w.do(t, w.admin, "POST", "/api/companies", map[string]any{}).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidStructure))
		w.do(t, w.admin, "POST", "/api/companies", map[string]any{"name": " "}).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue))
		w.do(t, w.admin, "POST", "/api/companies", map[string]any{"name": 7}).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidType))
		for _, u := range []*tuUser{w.op, w.aAdmin, w.aClient} {
			w.do(t, u, "POST", "/api/companies", map[string]any{"name": "Delta"}).tuExpect(forbidden, codeForbidden)
		}
	})
	t.Run("read", func(t *testing.T) {
		for _, c := range []struct {
			who  *tuUser
			path string
			want []string
		}{
			{w.admin, "/api/companies", tuSorted(w.a.ID, w.b.ID, gammaID)},
			{w.op, "/api/companies/", tuSorted(w.a.ID, w.b.ID, gammaID)},
			{w.admin, "/api/companies?search_text=alp", []string{w.a.ID}},
			{w.admin, "/api/companies?search_text=" + w.b.ID, []string{w.b.ID}},
			{w.aClient, "/api/companies", []string{w.a.ID}},
			{w.aAdmin, "/api/companies?search_text=beta", nil},
			{w.bCli, "/api/companies?search_text=bet", []string{w.b.ID}},
		} {
			r := w.do(t, c.who, "GET", c.path, nil).tuExpect(http.StatusOK, 0)
			if got := tuIDs(r.Items(), "company_id"); !slices.Equal(got, c.want) {
				t.Errorf("%s as %s: got %v, want %v", c.path, c.who.Email, got, c.want)
			}
		}
		r := w.do(t, w.aClient, "GET", "/api/companies/"+w.a.ID, nil).tuExpect(http.StatusOK, 0)
		if r.Str("name") != "Alpha" || bytes.Contains(r.Body, []byte("whsec_")) {
			t.Errorf("%s", r)
		}
		w.do(t, w.aClient, "GET", "/api/companies/"+w.b.ID, nil).tuExpect(notFound, codeNotFound)
		w.do(t, w.op, "GET", "/api/companies/"+w.b.ID, nil).tuExpect(http.StatusOK, 0)
		w.do(t, w.admin, "GET", "/api/companies/nope", nil).tuExpect(notFound, codeNotFound)
	})
	t.Run("webhook secret", func(t *testing.T) {
		for _, u := range []*tuUser{w.admin, w.aAdmin} {
			r := w.do(t, u, "GET", "/api/companies/"+w.a.ID+"/webhook_secret", nil).tuExpect(http.StatusOK, 0)
			if r.Str("webhook_secret") != w.a.WebhookSecret {
				t.Errorf("%s: want the company's secret", r)
			}
		}
		for _, u := range []*tuUser{w.op, w.aOp, w.aClient} {
			w.do(t, u, "GET", "/api/companies/"+w.a.ID+"/webhook_secret", nil).tuExpect(forbidden, codeForbidden)
			w.do(t, u, "POST", "/api/companies/"+w.a.ID+"/webhook_secret", nil).tuExpect(forbidden, codeForbidden)
		}
		w.do(t, w.bAdmin, "GET", "/api/companies/"+w.a.ID+"/webhook_secret", nil).tuExpect(notFound, codeNotFound)
		r := w.do(t, w.aAdmin, "POST", "/api/companies/"+w.a.ID+"/webhook_secret/", nil)
		secret := r.tuExpect(http.StatusOK, 0).Str("webhook_secret")
		if !strings.HasPrefix(secret, "whsec_") || secret == w.a.WebhookSecret {
			t.Errorf("%s: want a new whsec_ secret", r)
		}
		if got := w.do(t, w.admin, "GET", "/api/companies/"+w.a.ID+"/webhook_secret", nil).tuExpect(http.StatusOK, 0).Str("webhook_secret"); got != secret {
			t.Errorf("after rotation GET shows %q, want %q", got, secret)
		}
	})
	t.Run("change and delete", func(t *testing.T) {
		for _, u := range []*tuUser{w.op, w.aAdmin} {
			w.do(t, u, "PATCH", "/api/companies/"+w.a.ID, map[string]any{"name": "Alpha2"}).tuExpect(forbidden, codeForbidden)
			w.do(t, u, "DELETE", "/api/companies/"+w.a.ID, nil).tuExpect(forbidden, codeForbidden)
		}
		w.do(t, w.bAdmin, "PATCH", "/api/companies/"+w.a.ID, map[string]any{"name": "Alpha2"}).tuExpect(notFound, codeNotFound)
		r := w.do(t, w.admin, "DELETE", "/api/companies/"+w.a.ID, nil).tuExpect(http.StatusNotImplemented, int(bonafide.CodeNotRealized))
		if !strings.Contains(r.Str("error_message"), "not realized") {
			t.Errorf("%s", r)
		}
		w.do(t, w.admin, "PATCH", "/api/companies/"+w.a.ID, map[string]any{}).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidStructure))
		r = w.do(t, w.admin, "PATCH", "/api/companies/"+w.a.ID, map[string]any{"name": "Alpha Two"})
		if r.tuExpect(http.StatusOK, 0).Str("name") != "Alpha Two" {
			t.Errorf("%s", r)
		}
		w.do(t, w.admin, "PATCH", "/api/companies/"+w.a.ID, map[string]any{"name": "beta"}).tuExpect(http.StatusBadRequest, int(bonafide.CodeAlreadyExist))
	})
}

// Any password change ends the user's sessions: a self change keeps only the caller's current
// session; an administrator's change ends them all; wrong current passwords are throttled like
// failed logins.
func TestPasswordChangeEndsSessions(t *testing.T) {
	env := tuServer(t)
	c := env.tuCompany("Acme")
	boss := env.tuUserLoggedIn(bonafide.RoleClientAdmin, c.ID, "boss@acme.example.com")
	alice := env.tuUserLoggedIn(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	phone, _ := env.tuLogin(alice.Email, tuPassword)

	env.tuDo("PATCH", "/api/users/"+alice.ID, alice.Token, map[string]any{"password": "second passphrase", "current_password": tuPassword}).
		tuExpect(http.StatusOK, 0)
	env.tuDo("GET", "/api/users/me", alice.Token, nil).tuExpect(http.StatusOK, 0)
	env.tuDo("GET", "/api/users/me", phone, nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthInvalid))

	// An administrator's reset ends every session, and the old password no longer logs in.
	laptop, _ := env.tuLogin(alice.Email, "second passphrase")
	env.tuDo("PATCH", "/api/users/"+alice.ID, boss.Token, map[string]any{"password": "third passphrase"}).tuExpect(http.StatusOK, 0)
	for _, tok := range []string{alice.Token, laptop} {
		env.tuDo("GET", "/api/users/me", tok, nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthInvalid))
	}
	env.tuDo("GET", "/api/users/me", boss.Token, nil).tuExpect(http.StatusOK, 0)
	env.tuLogin(alice.Email, "third passphrase")

	// Guessing the current password with a stolen token is throttled like logging in.
	thief, _ := env.tuLogin(alice.Email, "third passphrase")
	for range 5 {
		env.tuDo("PATCH", "/api/users/"+alice.ID, thief, map[string]any{"password": "owned owned", "current_password": "guess guess"}).
			tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidValue))
	}
	r := env.tuDo("PATCH", "/api/users/"+alice.ID, thief, map[string]any{"password": "owned owned", "current_password": "third passphrase"}).
		tuExpect(http.StatusTooManyRequests, int(bonafide.CodeThrottled))
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("%s: no Retry-After", r)
	}
}

// The reserved company "global": no client user is created into it or moved into it, a user
// made ADMIN or OPERATOR moves into it and one made a client role must leave it, and no company
// takes, loses or drops its name.
func TestGlobalCompanyGuard(t *testing.T) {
	w := tuAccountsSetup(t)
	bad, codeBad := http.StatusBadRequest, int(bonafide.CodeInvalidValue)
	forbidden, codeForbidden := http.StatusForbidden, int(bonafide.CodeForbidden)
	g := w.do(t, w.admin, "POST", "/api/users", map[string]any{"email": "op3@example.com", "password": "s3cret-pass", "user_type": "OPERATOR"}).
		tuExpect(http.StatusCreated, 0)
	globalID := g.Str("company_id")

	for _, role := range []string{"CLIENT", "CLIENT ADMIN", "CLIENT OPERATOR", "CLIENT SERVICE"} {
		r := w.do(t, w.admin, "POST", "/api/users", map[string]any{"email": "c@new.example.com", "password": "s3cret-pass",
			"user_type": role, "company_id": globalID}).tuExpect(bad, codeBad)
		if !strings.Contains(r.Str("error_message"), `reserved company "global"`) {
			t.Errorf("%s: the message should name the reserved company", r)
		}
	}
	w.do(t, w.admin, "PATCH", "/api/users/"+w.aClient.ID, map[string]any{"company_id": globalID}).tuExpect(bad, codeBad)
	// Made ADMIN: moved into global; sent back to a client role: must name a client company.
	r := w.do(t, w.admin, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"user_type": "ADMIN"}).tuExpect(http.StatusOK, 0)
	if r.Str("company_id") != globalID {
		t.Errorf("%s: an ADMIN belongs to company global", r)
	}
	w.do(t, w.admin, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"user_type": "CLIENT"}).tuExpect(bad, codeBad)
	w.do(t, w.admin, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"user_type": "OPERATOR", "company_id": w.a.ID}).tuExpect(bad, codeBad)
	r = w.do(t, w.admin, "PATCH", "/api/users/"+w.aPeer.ID, map[string]any{"user_type": "CLIENT", "company_id": w.a.ID}).tuExpect(http.StatusOK, 0)
	if r.Str("company_id") != w.a.ID {
		t.Errorf("%s", r)
	}
	// The companies API keeps the name.
	for _, name := range []string{"global", " Global "} {
		r := w.do(t, w.admin, "POST", "/api/companies", map[string]any{"name": name}).tuExpect(bad, codeBad)
		if !strings.Contains(r.Str("error_message"), "reserved") {
			t.Errorf("%s: the message should say the name is reserved", r)
		}
		w.do(t, w.admin, "PATCH", "/api/companies/"+w.a.ID, map[string]any{"name": name}).tuExpect(bad, codeBad)
	}
	w.do(t, w.admin, "PATCH", "/api/companies/"+globalID, map[string]any{"name": "root"}).tuExpect(forbidden, codeForbidden)
	w.do(t, w.admin, "DELETE", "/api/companies/"+globalID, nil).tuExpect(forbidden, codeForbidden)
	if got := w.do(t, w.admin, "GET", "/api/companies/"+globalID, nil).tuExpect(http.StatusOK, 0).Str("name"); got != "global" {
		t.Errorf("company global is named %q", got)
	}
}
