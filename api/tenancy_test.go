package api

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"bonafide"
)

// tuTenant is one company with a user of every company role, and one folder (with a JPEG media and
// a started analysis) created by its CLIENT.
type tuTenant struct {
	name    string
	company *bonafide.Company
	client  *tuUser // owns the folder
	client2 *tuUser // a colleague CLIENT in the same company
	admin   *tuUser // CLIENT ADMIN
	oper    *tuUser // CLIENT OPERATOR
	service *tuUser // CLIENT SERVICE

	folderID, mediaID, analysisID, staticURL string
	folder2ID                                string // created by client2
	collectionID, personID, imageID          string // a blacklist of the company with one person
	captureID                                string // a capture session of the client's
	erasureID                                string // a dry-run erasure of the company's folder
}

func (tn *tuTenant) roles() []*tuUser {
	return []*tuUser{tn.client, tn.client2, tn.admin, tn.oper, tn.service}
}

// secrets are strings of this tenant that must never show up in another tenant's answers.
func (tn *tuTenant) secrets() []string {
	out := []string{tn.company.ID, tn.company.WebhookSecret, tn.folderID, tn.folder2ID, tn.mediaID, tn.analysisID,
		tn.collectionID, tn.personID, tn.imageID, tn.captureID, tn.erasureID}
	for _, u := range tn.roles() {
		out = append(out, u.ID, u.Email)
	}
	return out
}

type tuWorld struct {
	env      *tuEnv
	a, b     *tuTenant
	admin    *tuUser // global ADMIN (no company)
	operator *tuUser // global OPERATOR (no company)
}

func tuTenantSetup(t *testing.T, env *tuEnv, name string) *tuTenant {
	t.Helper()
	// A distinct webhook secret per tenant, so that a leak of it would be seen.
	tn := &tuTenant{name: name, company: env.tuCompanyWithSecret("Company "+name, "whsec_"+strings.Repeat(name+"x", 16))}
	lower := strings.ToLower(name)
	tn.client = env.tuUserLoggedIn(bonafide.RoleClient, tn.company.ID, "client@"+lower+".example.com")
	tn.client2 = env.tuUserLoggedIn(bonafide.RoleClient, tn.company.ID, "client2@"+lower+".example.com")
	tn.admin = env.tuUserLoggedIn(bonafide.RoleClientAdmin, tn.company.ID, "admin@"+lower+".example.com")
	tn.oper = env.tuUserLoggedIn(bonafide.RoleClientOperator, tn.company.ID, "operator@"+lower+".example.com")
	tn.service = env.tuUserLoggedIn(bonafide.RoleClientService, tn.company.ID, "service@"+lower+".example.com")

	f := env.tuFolder(tn.client)
	tn.folderID = f["folder_id"].(string)
	m := f["media"].([]any)[0].(map[string]any)
	tn.mediaID = m["media_id"].(string)
	// The token-checked path: a signed original_url is a link anyone holding it may fetch
	// (signing_test.go); tenancy is about the token.
	tn.staticURL, _, _ = strings.Cut(m["original_url"].(string), "?")
	if !strings.HasPrefix(tn.staticURL, env.URL+"/static/"+tn.folderID+"/") {
		t.Fatalf("original_url %q is not under %s/static/%s/", tn.staticURL, env.URL, tn.folderID)
	}
	tn.analysisID = env.tuStartAnalysis(tn.client, tn.folderID)
	tn.folder2ID = env.tuFolder(tn.client2)["folder_id"].(string)
	col := &bonafide.Collection{CompanyID: tn.company.ID, Alias: "blacklist " + name}
	if err := env.Store.CreateCollection(tuCtx(), col); err != nil {
		t.Fatalf("CreateCollection: %v", err)
	}
	im := &bonafide.PersonImage{OriginalName: "p.jpg", Embedding: []float32{1, 0}}
	person := &bonafide.Person{CollectionID: col.ID}
	if err := env.Store.CreatePerson(tuCtx(), person, []*bonafide.PersonImage{im}); err != nil {
		t.Fatalf("CreatePerson: %v", err)
	}
	tn.collectionID, tn.personID, tn.imageID = col.ID, person.ID, im.ID
	cs := &bonafide.CaptureSession{CompanyID: tn.company.ID, UserID: tn.client.ID, FolderID: tn.folderID, Actions: []string{"video_selfie_left"},
		GestureSeconds: 3, TokenHash: hashToken("capture " + name), State: bonafide.CaptureCreated, Expires: time.Now().Add(time.Hour)}
	if err := env.Store.CreateCaptureSession(tuCtx(), cs); err != nil {
		t.Fatalf("CreateCaptureSession: %v", err)
	}
	tn.captureID = cs.ID
	er := &bonafide.Erasure{CompanyID: tn.company.ID, UserID: tn.admin.ID, DryRun: true,
		Selector: bonafide.ErasureSelector{FolderIDs: []string{tn.folderID}}}
	if err := env.Store.CreateErasure(tuCtx(), er); err != nil {
		t.Fatalf("CreateErasure: %v", err)
	}
	tn.erasureID = er.ID
	return tn
}

func tuWorldSetup(t *testing.T) *tuWorld {
	t.Helper()
	env := tuServer(t)
	w := &tuWorld{env: env}
	w.admin = env.tuUserLoggedIn(bonafide.RoleAdmin, "", "root@bonafide.example.com")
	w.operator = env.tuUserLoggedIn(bonafide.RoleOperator, "", "ops@bonafide.example.com")
	w.a = tuTenantSetup(t, env, "A")
	w.b = tuTenantSetup(t, env, "B")
	return w
}

// tuCompanyWithSecret creates a company with the given webhook secret.
func (e *tuEnv) tuCompanyWithSecret(name, secret string) *bonafide.Company {
	e.t.Helper()
	c := &bonafide.Company{Name: name, WebhookSecret: secret}
	if err := e.Store.CreateCompany(tuCtx(), c); err != nil {
		e.t.Fatalf("CreateCompany: %v", err)
	}
	return c
}

type tuRoute struct {
	method, path string
	body         any
}

// tuVictimRoutes is every route, aimed at the victim tenant's objects.
func tuVictimRoutes(t *testing.T, v *tuTenant) []tuRoute {
	jpg := tuMultipart(t, map[string][]byte{"photo9": tuJPEG(t)}, nil)
	f, m, x := v.folderID, v.mediaID, v.analysisID
	rs := []tuRoute{
		{"GET", "/api/folders/" + f, nil},
		{"GET", "/api/folders/" + f + "/?with_analyses=true&with_user=true&with_company=true", nil},
		{"GET", "/api/folders/" + f + "/meta_data", nil},
		{"POST", "/api/folders/" + f + "/meta_data", map[string]string{"pwned": "yes"}},
		{"PATCH", "/api/folders/" + f + "/meta_data", map[string]string{"pwned": "yes"}},
		{"DELETE", "/api/folders/" + f + "/meta_data", nil},
		{"DELETE", "/api/folders/" + f, nil},
		{"POST", "/api/folders/" + f + "/media", jpg},
		{"GET", "/api/folders/" + f + "/media", nil},
		{"GET", "/api/media/" + m, nil},
		{"PATCH", "/api/media/" + m, map[string]any{"tags": []string{"pwned"}}},
		{"DELETE", "/api/media/" + m, nil},
		{"POST", "/api/folders/" + f + "/analyses", map[string]any{"analyses": []map[string]string{{"type": "quality"}}}},
		{"GET", "/api/folders/" + f + "/analyses", nil},
		{"GET", "/api/analyses/" + x, nil},
		{"PATCH", "/api/analyses/" + x, map[string]string{"resolution_status": "SUCCESS", "resolution_comment": "pwned"}},
		{"GET", v.staticURL, nil},
		{"GET", "/api/users?company_id=" + v.company.ID, nil},
		{"GET", "/api/companies/" + v.company.ID, nil},
		{"PATCH", "/api/companies/" + v.company.ID, map[string]string{"name": "pwned"}},
		{"DELETE", "/api/companies/" + v.company.ID, nil},
		{"GET", "/api/companies/" + v.company.ID + "/webhook_secret", nil},
		{"POST", "/api/companies/" + v.company.ID + "/webhook_secret", nil},
	}
	c, p := "/api/collections/"+v.collectionID, "/api/collections/"+v.collectionID+"/persons/"+v.personID
	rs = append(rs,
		tuRoute{"GET", c, nil},
		tuRoute{"DELETE", c, nil},
		tuRoute{"GET", c + "/meta_data", nil},
		tuRoute{"POST", c + "/meta_data", map[string]string{"pwned": "yes"}},
		tuRoute{"PATCH", c + "/meta_data", map[string]string{"pwned": "yes"}},
		tuRoute{"DELETE", c + "/meta_data", nil},
		tuRoute{"POST", c + "/persons", jpg},
		tuRoute{"GET", c + "/persons", nil},
		tuRoute{"GET", p, nil},
		tuRoute{"DELETE", p, nil},
		tuRoute{"POST", p + "/images", jpg},
		tuRoute{"GET", p + "/images", nil},
		tuRoute{"DELETE", p + "/images/" + v.imageID, nil},
		tuRoute{"GET", "/api/capture/sessions/" + v.captureID, nil},
		tuRoute{"GET", "/api/erasures/" + v.erasureID, nil},
		tuRoute{"POST", "/api/erasures", map[string]any{"company_id": v.company.ID, "folder_ids": []string{v.folderID}}})
	for _, u := range v.roles() {
		rs = append(rs,
			tuRoute{"GET", "/api/users/" + u.ID, nil},
			tuRoute{"PATCH", "/api/users/" + u.ID, map[string]string{"first_name": "pwned"}},
			tuRoute{"DELETE", "/api/users/" + u.ID, nil})
	}
	return rs
}

// TestTenancyCrossTenant walks every route with every company role's token against the other
// tenant's ids: the answer is always 403 or 404 as an Oz error envelope, never the other's data.
func TestTenancyCrossTenant(t *testing.T) {
	w := tuWorldSetup(t)
	for _, pair := range [][2]*tuTenant{{w.a, w.b}, {w.b, w.a}} {
		attacker, victim := pair[0], pair[1]
		routes := tuVictimRoutes(t, victim)
		secrets := victim.secrets()
		for _, u := range attacker.roles() {
			for _, rt := range routes {
				name := fmt.Sprintf("%s %s/%s %s", attacker.name, u.Role, u.Email, rt.method+" "+strings.TrimPrefix(rt.path, w.env.URL))
				t.Run(name, func(t *testing.T) {
					env := w.env.tuFor(t)
					r := env.tuDo(rt.method, rt.path, u.Token, rt.body)
					if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
						t.Fatalf("%s: want 403 or 404", r)
					}
					if c := r.Code(); c != int(bonafide.CodeForbidden) && c != int(bonafide.CodeNotExist) {
						t.Fatalf("%s: want error_code 9 or 10", r)
					}
					for _, s := range secrets {
						if !strings.Contains(rt.path, s) && bytes.Contains(r.Body, []byte(s)) {
							t.Fatalf("%s: the answer leaks the other tenant's %q", r, s)
						}
					}
				})
			}
		}
		// Lists never include the other tenant's objects.
		for _, u := range attacker.roles() {
			for _, path := range []string{"/api/folders?with_analyses=true", "/api/users", "/api/companies"} {
				t.Run(fmt.Sprintf("%s %s list %s", attacker.name, u.Role, path), func(t *testing.T) {
					r := w.env.tuFor(t).tuDo("GET", path, u.Token, nil)
					if r.Status != http.StatusOK && r.Status != http.StatusForbidden {
						t.Fatalf("%s: want 200 or 403", r)
					}
					for _, s := range secrets {
						if bytes.Contains(r.Body, []byte(s)) {
							t.Fatalf("%s: the list leaks the other tenant's %q", r, s)
						}
					}
				})
			}
		}
	}

	// Nothing of either tenant was changed by the walk.
	env := w.env
	for _, tn := range []*tuTenant{w.a, w.b} {
		r := env.tuDo("GET", "/api/folders/"+tn.folderID+"?with_analyses=true", tn.client.Token, nil).tuExpect(http.StatusOK, 0)
		f := r.Obj()
		if meta := f["meta_data"].(map[string]any); meta["pwned"] != nil || meta["owner"] != tn.client.Email {
			t.Errorf("tenant %s folder meta_data changed: %v", tn.name, meta)
		}
		media := f["media"].([]any)
		if len(media) != 1 {
			t.Errorf("tenant %s folder has %d media, want 1", tn.name, len(media))
		} else if tags := media[0].(map[string]any)["tags"].([]any); len(tags) != 1 || tags[0] != "photo_selfie" {
			t.Errorf("tenant %s media tags changed: %v", tn.name, tags)
		}
		if as := f["analyses"].([]any); len(as) != 1 {
			t.Errorf("tenant %s folder has %d analyses, want 1", tn.name, len(as))
		}
		for _, u := range tn.roles() {
			got, err := env.Store.GetUser(tuCtx(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Disabled || got.FirstName == "pwned" {
				t.Errorf("tenant %s user %s changed: disabled=%v first_name=%q", tn.name, u.Email, got.Disabled, got.FirstName)
			}
		}
		c, err := env.Store.GetCompany(tuCtx(), tn.company.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != tn.company.Name || c.WebhookSecret != tn.company.WebhookSecret {
			t.Errorf("tenant %s company changed: %+v", tn.name, c)
		}
	}
}

// TestTenancyWithinCompany checks who sees and changes what inside one company and globally.
func TestTenancyWithinCompany(t *testing.T) {
	w := tuWorldSetup(t)
	env, a, b := w.env, w.a, w.b
	objectPaths := func(tn *tuTenant) []string {
		return []string{"/api/folders/" + tn.folderID, "/api/folders/" + tn.folderID + "/media",
			"/api/folders/" + tn.folderID + "/analyses", "/api/folders/" + tn.folderID + "/meta_data",
			"/api/media/" + tn.mediaID, "/api/analyses/" + tn.analysisID, tn.staticURL}
	}

	t.Run("readers of A's folder", func(t *testing.T) {
		for _, u := range []*tuUser{a.client, a.admin, a.oper, a.service, w.admin, w.operator} {
			for _, p := range objectPaths(a) {
				r := env.tuFor(t).tuDo("GET", p, u.Token, nil)
				if r.Status != http.StatusOK {
					t.Errorf("%s as %s: want 200", r, u.Role)
				}
			}
		}
		// The static file is the uploaded JPEG.
		r := env.tuFor(t).tuDo("GET", a.staticURL, a.client.Token, nil).tuExpect(http.StatusOK, 0)
		if ct := r.Header.Get("Content-Type"); ct != "image/jpeg" || !bytes.HasPrefix(r.Body, []byte{0xFF, 0xD8}) {
			t.Errorf("static file: Content-Type %q, %d bytes", ct, len(r.Body))
		}
	})
	t.Run("colleague CLIENT does not see", func(t *testing.T) {
		for _, p := range objectPaths(a) {
			r := env.tuFor(t).tuDo("GET", p, a.client2.Token, nil)
			if r.Status != http.StatusNotFound || r.Code() != int(bonafide.CodeNotExist) {
				t.Errorf("%s: want 404 code 10", r)
			}
		}
	})
	t.Run("global roles see both tenants", func(t *testing.T) {
		for _, u := range []*tuUser{w.admin, w.operator} {
			for _, tn := range []*tuTenant{a, b} {
				env.tuFor(t).tuDo("GET", "/api/folders/"+tn.folderID, u.Token, nil).tuExpect(http.StatusOK, 0)
				env.tuFor(t).tuDo("GET", "/api/analyses/"+tn.analysisID, u.Token, nil).tuExpect(http.StatusOK, 0)
			}
		}
	})
	t.Run("lists", func(t *testing.T) {
		ids := func(u *tuUser) []string {
			var out []string
			for _, it := range env.tuFor(t).tuDo("GET", "/api/folders/", u.Token, nil).tuExpect(http.StatusOK, 0).Items() {
				out = append(out, it["folder_id"].(string))
			}
			slices.Sort(out)
			return out
		}
		sorted := func(s ...string) []string { slices.Sort(s); return s }
		for _, c := range []struct {
			u    *tuUser
			want []string
		}{
			{a.client, sorted(a.folderID)},
			{a.client2, sorted(a.folder2ID)},
			{a.admin, sorted(a.folderID, a.folder2ID)},
			{a.oper, sorted(a.folderID, a.folder2ID)},
			{a.service, sorted(a.folderID, a.folder2ID)},
			{b.client, sorted(b.folderID)},
			{w.admin, sorted(a.folderID, a.folder2ID, b.folderID, b.folder2ID)},
			{w.operator, sorted(a.folderID, a.folder2ID, b.folderID, b.folder2ID)},
		} {
			if got := ids(c.u); !slices.Equal(got, c.want) {
				t.Errorf("%s %s lists %v, want %v", c.u.Role, c.u.Email, got, c.want)
			}
		}
	})
	t.Run("operators cannot create or change", func(t *testing.T) {
		for _, u := range []*tuUser{w.operator, a.oper} {
			form := tuMultipart(t, map[string][]byte{"photo1": tuJPEG(t)}, nil)
			env.tuFor(t).tuDo("POST", "/api/folders", u.Token, form).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
			env.tuFor(t).tuDo("POST", "/api/folders/"+a.folderID+"/analyses", u.Token,
				map[string]any{"analyses": []map[string]string{{"type": "quality"}}}).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
			env.tuFor(t).tuDo("PATCH", "/api/folders/"+a.folderID+"/meta_data", u.Token, map[string]string{"k": "v"}).
				tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
		}
		// CLIENT SERVICE and CLIENT ADMIN may create folders.
		for _, u := range []*tuUser{a.service, a.admin, w.admin} {
			env.tuFor(t).tuFolder(u)
		}
	})
	t.Run("only ADMIN and CLIENT ADMIN delete", func(t *testing.T) {
		for _, u := range []*tuUser{a.client, a.oper, a.service, w.operator} {
			env.tuFor(t).tuDo("DELETE", "/api/folders/"+a.folderID, u.Token, nil).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
			env.tuFor(t).tuDo("DELETE", "/api/media/"+a.mediaID, u.Token, nil).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
		}
		env.tuFor(t).tuDo("DELETE", "/api/folders/"+a.folderID, a.client2.Token, nil).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
		for _, u := range []*tuUser{a.admin, w.admin} {
			f := env.tuFor(t).tuFolder(a.client)
			id := f["folder_id"].(string)
			mediaID := f["media"].([]any)[0].(map[string]any)["media_id"].(string)
			env.tuFor(t).tuDo("DELETE", "/api/media/"+mediaID, u.Token, nil).tuExpect(http.StatusOK, 0)
			env.tuFor(t).tuDo("GET", "/api/media/"+mediaID, a.client.Token, nil).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
			env.tuFor(t).tuDo("DELETE", "/api/folders/"+id+"/", u.Token, nil).tuExpect(http.StatusOK, 0)
			env.tuFor(t).tuDo("GET", "/api/folders/"+id, a.client.Token, nil).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
		}
		// The fixtures survived.
		env.tuFor(t).tuDo("GET", "/api/folders/"+a.folderID, a.client.Token, nil).tuExpect(http.StatusOK, 0)
	})
}

// TestAuthTokenErrors: 401 with codes 6 and 7, and both header spellings.
func TestAuthTokenErrors(t *testing.T) {
	env := tuServer(t)
	c := env.tuCompany("Acme")
	u := env.tuUserLoggedIn(bonafide.RoleClient, c.ID, "alice@acme.example.com")

	env.tuDo("GET", "/api/folders", "", nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthNotProvided))
	env.tuDo("GET", "/api/folders", strings.Repeat("ab", 64), nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthInvalid))
	env.tuDo("GET", "/api/users/me", "", nil, "X-Forensic-Access-Token", "nonsense").tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthInvalid))
	for _, h := range []string{"X-Forensic-Access-Token", "X-Forensics-Access-Token", "x-forensic-access-token", "x-forensics-access-token"} {
		r := env.tuDo("GET", "/api/users/me", "", nil, h, u.Token).tuExpect(http.StatusOK, 0)
		if r.Str("user_id") != u.ID {
			t.Errorf("header %s: %s", h, r)
		}
	}
	// /api/version needs no token.
	env.tuDo("GET", "/api/version", "", nil).tuExpect(http.StatusOK, 0)
}

// TestAuthExpiry: the token slides while used, and expires (code 8) after SessionTTL of silence.
func TestAuthExpiry(t *testing.T) {
	env := tuServer(t, func(c *Config) { c.SessionTTL = time.Minute })
	c := env.tuCompany("Acme")
	u := env.tuUserLoggedIn(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	for range 3 { // 120 s in all, more than the TTL: each request extends it
		env.Clock.Advance(40 * time.Second)
		env.tuDo("GET", "/api/folders", u.Token, nil).tuExpect(http.StatusOK, 0)
	}
	env.Clock.Advance(61 * time.Second)
	env.tuDo("GET", "/api/folders", u.Token, nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthExpired))
}

// TestTrailingSlash: every form answers the same way, and nothing redirects (tuDo fails on 3xx).
func TestTrailingSlash(t *testing.T) {
	env := tuServer(t)
	c := env.tuCompany("Acme")
	u := env.tuUserLoggedIn(bonafide.RoleClientAdmin, c.ID, "boss@acme.example.com")
	f := env.tuFolder(u)
	id := f["folder_id"].(string)
	mediaID := f["media"].([]any)[0].(map[string]any)["media_id"].(string)
	aid := env.tuStartAnalysis(u, id)
	for _, p := range []string{"/api/folders", "/api/folders/" + id, "/api/folders/" + id + "/media",
		"/api/folders/" + id + "/analyses", "/api/folders/" + id + "/meta_data", "/api/media/" + mediaID,
		"/api/analyses/" + aid, "/api/users", "/api/users/me", "/api/users/" + u.ID, "/api/companies",
		"/api/companies/" + c.ID, "/api/companies/" + c.ID + "/webhook_secret"} {
		for _, q := range []string{p, p + "/", p + "?limit=5", p + "/?limit=5"} {
			env.tuDo("GET", q, u.Token, nil).tuExpect(http.StatusOK, 0)
		}
	}
	for _, p := range []string{"/api/authorize/auth", "/api/authorize/auth/"} {
		env.tuDo("POST", p, "", map[string]any{"credentials": map[string]string{"email": u.Email, "password": tuPassword}}).tuExpect(http.StatusOK, 0)
	}
	for _, p := range []string{"/api/folders", "/api/folders/"} {
		env.tuDo("POST", p, u.Token, tuMultipart(t, map[string][]byte{"p": tuJPEG(t)}, nil)).tuExpect(http.StatusCreated, 0)
	}
	for _, p := range []string{"/api/folders/" + id + "/analyses", "/api/folders/" + id + "/analyses/"} {
		env.tuDo("POST", p, u.Token, map[string]any{"analyses": []map[string]string{{"type": "QUALITY"}}}).tuExpect(http.StatusCreated, 0)
	}
	env.tuDo("GET", "/api/no/such/route", u.Token, nil).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
}

// TestAuthRefresh: a refreshed pair works and replaces the old one, which stays valid until the
// new pair is first used (Oz: "the old pair is deleted the first time the new pair is used");
// another user's session cannot be refreshed.
func TestAuthRefresh(t *testing.T) {
	env := tuServer(t)
	c := env.tuCompany("Acme")
	alice := env.tuUserLoggedIn(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	bob := env.tuUserLoggedIn(bonafide.RoleClient, c.ID, "bob@acme.example.com")

	r := env.tuDo("POST", "/api/authorize/refresh/", alice.Token, map[string]string{"expire_token": alice.ExpireToken}).tuExpect(http.StatusOK, 0)
	access, expire := r.Str("access_token"), r.Str("expire_token")
	if len(access) != 128 || expire == "" || access == alice.Token {
		t.Fatalf("refresh: %s", r)
	}
	// Until the new pair is used, the old one still works (a client that lost the answer).
	env.tuDo("GET", "/api/users/me", alice.Token, nil).tuExpect(http.StatusOK, 0)
	env.tuDo("GET", "/api/users/me", alice.Token, nil).tuExpect(http.StatusOK, 0)
	if got := env.tuDo("GET", "/api/users/me", access, nil).tuExpect(http.StatusOK, 0).Str("user_id"); got != alice.ID {
		t.Fatalf("new token is user %s, want %s", got, alice.ID)
	}
	// The new pair's first use retired the old one.
	env.tuDo("GET", "/api/users/me", alice.Token, nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthInvalid))
	env.tuDo("POST", "/api/authorize/refresh", access, map[string]string{"expire_token": alice.ExpireToken}).
		tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthInvalid))
	// Bob cannot refresh Alice's session.
	env.tuDo("POST", "/api/authorize/refresh", bob.Token, map[string]string{"expire_token": expire}).
		tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
	env.tuDo("GET", "/api/users/me", access, nil).tuExpect(http.StatusOK, 0)
	// Without expire_token: code 3 naming the field.
	r = env.tuDo("POST", "/api/authorize/refresh", access, map[string]string{}).tuExpect(http.StatusBadRequest, int(bonafide.CodeInvalidStructure))
	if !strings.Contains(r.Str("error_message"), "expire_token") {
		t.Errorf("%s: the message should name expire_token", r)
	}
}

// TestLoginThrottle: right after 5 failed logins the next attempt answers 429 code 101, even with
// the right password (it must wait its backoff, see TestLoginBackoffPerAccount); other accounts
// are not affected; after the wait the owner logs in.
func TestLoginThrottle(t *testing.T) {
	env := tuServer(t)
	c := env.tuCompany("Acme")
	env.tuCreateUser(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	env.tuCreateUser(bonafide.RoleClient, c.ID, "bob@acme.example.com")
	login := func(email, pw string) *tuResp {
		return env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": email, "password": pw}})
	}
	for range 5 {
		login("alice@acme.example.com", "wrong password").tuExpect(http.StatusUnauthorized, int(bonafide.CodeCredentialsBad))
	}
	login("alice@acme.example.com", "wrong password").tuExpect(http.StatusTooManyRequests, int(bonafide.CodeThrottled))
	login("ALICE@acme.example.com", tuPassword).tuExpect(http.StatusTooManyRequests, int(bonafide.CodeThrottled))
	login("bob@acme.example.com", tuPassword).tuExpect(http.StatusOK, 0)
	env.Clock.Advance(16 * time.Minute)
	login("alice@acme.example.com", tuPassword).tuExpect(http.StatusOK, 0)
	// An unknown email gets the same answer as a wrong password.
	login("nobody@acme.example.com", tuPassword).tuExpect(http.StatusUnauthorized, int(bonafide.CodeCredentialsBad))
}

// TestLoginDisabled: a disabled account cannot log in (403 code 211), its sessions end (its old
// token is unknown from then on), and enabling it again does not revive them.
func TestLoginDisabled(t *testing.T) {
	env := tuServer(t)
	c := env.tuCompany("Acme")
	boss := env.tuUserLoggedIn(bonafide.RoleClientAdmin, c.ID, "boss@acme.example.com")
	u := env.tuUserLoggedIn(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	env.tuDo("DELETE", "/api/users/"+u.ID, boss.Token, nil).tuExpect(http.StatusOK, 0)
	env.tuDo("GET", "/api/folders", u.Token, nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthInvalid))
	env.tuDo("PATCH", "/api/users/"+u.ID, boss.Token, map[string]any{"is_active": true}).tuExpect(http.StatusOK, 0)
	env.tuDo("GET", "/api/folders", u.Token, nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthInvalid))
	env.tuDo("DELETE", "/api/users/"+u.ID, boss.Token, nil).tuExpect(http.StatusOK, 0)
	env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": u.Email, "password": tuPassword}}).
		tuExpect(http.StatusForbidden, int(bonafide.CodeUserBlocked))
	// A wrong password on a disabled account is still just a wrong password.
	env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": u.Email, "password": "nope nope"}}).
		tuExpect(http.StatusUnauthorized, int(bonafide.CodeCredentialsBad))
}
