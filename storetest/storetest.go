package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"bonafide"
	"bonafide/internal/testkit"
)

// Epoch is where every test clock starts.
var Epoch = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// Opener opens an empty store using env's clock and enqueuer. Run closes the store when the subtest ends.
type Opener func(t *testing.T, env Env) bonafide.Store

// Run runs the conformance suite: each subtest opens a fresh store and may run in parallel with others.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Companies", testCompanies},
		{"Users", testUsers},
		{"UserUpdate", testUserUpdate},
		{"Sessions", testSessions},
		{"DeleteExpiredSessions", testDeleteExpiredSessions},
		{"RetireReplaced", testRetireReplaced},
		{"MoveGlobalUsers", testMoveGlobalUsers},
		{"Setting", testSetting},
		{"FolderRoundTrip", testFolderRoundTrip},
		{"FolderCreateAtomic", testFolderCreateAtomic},
		{"FolderUpdate", testFolderUpdate},
		{"FolderDelete", testFolderDelete},
		{"Media", testMedia},
		{"InvalidJSON", testInvalidJSON},
		{"CreateAnalyses", testCreateAnalyses},
		{"CreateAnalysesEnqueueFails", testCreateAnalysesEnqueueFails},
		{"CreateAnalysesMissingFolder", testCreateAnalysesMissingFolder},
		{"FinishAnalysis", testFinishAnalysis},
		{"FinishAnalysisWebhook", testFinishAnalysisWebhook},
		{"FinishAnalysisNoEndpoint", testFinishAnalysisNoEndpoint},
		{"FinishAnalysisWebhookFails", testFinishAnalysisWebhookFails},
		{"ListFoldersSortAndPage", testListFoldersSortAndPage},
		{"ListFoldersFilters", testListFoldersFilters},
		{"ListFoldersMeta", testListFoldersMeta},
		{"ListFoldersResolution", testListFoldersResolution},
		{"ListFoldersAnalysisType", testListFoldersAnalysisType},
		{"DecideAnalysis", testDecideAnalysis},
		{"ImportDecision", testImportDecision},
		{"ReferencedBlobKeys", testReferencedBlobKeys},
		{"Collections", testCollections},
		{"Persons", testPersons},
		{"CaptureSessions", testCaptureSessions},
		{"LoginBackoff", testLoginBackoff},
		{"DeleteAbandonedCaptureSessions", testDeleteAbandonedCaptureSessions},
		{"Retention", testRetention},
		{"Audit", testAudit},
		{"DeleteAuditBefore", testDeleteAuditBefore},
		{"ErasureSelect", testErasureSelect},
		{"Erasure", testErasure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &harness{enq: &testkit.Enqueuer{}, clock: testkit.NewClock(Epoch)}
			h.s = open(t, Env{Enqueuer: h.enq, Now: h.clock.Now})
			t.Cleanup(func() {
				if err := h.s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, h)
		})
	}
}

type harness struct {
	s     bonafide.Store
	enq   *testkit.Enqueuer
	clock *testkit.Clock
}

// --- helpers ----------------------------------------------------------------------------------

func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantCode(t *testing.T, err error, code bonafide.Code, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want code %d", what, code)
	}
	if got := bonafide.CodeOf(err); got != code {
		t.Fatalf("%s: got %v (code %d), want code %d", what, err, got, code)
	}
}

func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	wantCode(t, err, bonafide.CodeNotExist, what)
}

func equal(t *testing.T, got, want any, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

// jsonEq compares JSON documents by value.
func jsonEq(t *testing.T, got, want json.RawMessage, what string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: got invalid JSON %q: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want invalid JSON %q: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: got %s, want %s", what, got, want)
	}
}

func sameTime(t *testing.T, got, want time.Time, what string) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Fatalf("%s: location %v, want UTC", what, got.Location())
	}
}

func ptr[T any](v T) *T { return &v }

func folderIDs(fs []*bonafide.Folder) []string {
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	return ids
}

func (h *harness) folder(t *testing.T, f *bonafide.Folder, media ...*bonafide.Media) *bonafide.Folder {
	t.Helper()
	ok(t, h.s.CreateFolder(t.Context(), f, media), "CreateFolder")
	return f
}

func (h *harness) analyses(t *testing.T, as ...*bonafide.Analysis) {
	t.Helper()
	ok(t, h.s.CreateAnalyses(t.Context(), as), "CreateAnalyses")
}

func (h *harness) finish(t *testing.T, id, state, resolution string) {
	t.Helper()
	ok(t, h.s.FinishAnalysis(t.Context(), &bonafide.Analysis{ID: id, State: state, Resolution: resolution}), "FinishAnalysis "+id)
}

// --- companies, users, sessions ---------------------------------------------------------------

func testCompanies(t *testing.T, h *harness) {
	ctx := t.Context()
	c := &bonafide.Company{Name: "Acme", WebhookSecret: "whsec_c2VjcmV0"}
	ok(t, h.s.CreateCompany(ctx, c), "CreateCompany")
	if c.ID == "" {
		t.Fatal("CreateCompany left ID empty")
	}
	sameTime(t, c.Created, Epoch, "Created")
	sameTime(t, c.Updated, Epoch, "Updated")
	got, err := h.s.GetCompany(ctx, c.ID)
	ok(t, err, "GetCompany")
	equal(t, got, c, "GetCompany")

	wantCode(t, h.s.CreateCompany(ctx, &bonafide.Company{ID: c.ID, Name: "Again"}), bonafide.CodeAlreadyExist, "CreateCompany duplicate")
	c.Name, c.WebhookSecret = "Acme", "whsec_cm90YXRlZA=="
	ok(t, h.s.UpdateCompany(ctx, c), "UpdateCompany")
	got, err = h.s.GetCompany(ctx, c.ID)
	ok(t, err, "GetCompany after update")
	equal(t, got.WebhookSecret, "whsec_cm90YXRlZA==", "UpdateCompany secret")
	wantNotFound(t, h.s.UpdateCompany(ctx, &bonafide.Company{ID: "no-such-company"}), "UpdateCompany missing")
	_, err = h.s.GetCompany(ctx, "no-such-company")
	wantNotFound(t, err, "GetCompany missing")

	for _, n := range []string{"beta corp", "Gamma 100%", "delta_co"} {
		ok(t, h.s.CreateCompany(ctx, &bonafide.Company{Name: n}), "CreateCompany "+n)
	}
	names := func(cs []*bonafide.Company) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	all, err := h.s.ListCompanies(ctx, "")
	ok(t, err, "ListCompanies")
	equal(t, names(all), []string{"Acme", "beta corp", "delta_co", "Gamma 100%"}, "ListCompanies all (by name)")
	for search, want := range map[string][]string{
		"CORP":     {"beta corp"},
		"100%":     {"Gamma 100%"},
		"%":        {"Gamma 100%"},
		"_":        {"delta_co"},
		c.ID:       {"Acme"},
		"nothing!": nil,
	} {
		got, err := h.s.ListCompanies(ctx, search)
		ok(t, err, "ListCompanies "+search)
		equal(t, names(got), want, "ListCompanies "+search)
	}
}

func testUsers(t *testing.T, h *harness) {
	ctx := t.Context()
	c := &bonafide.Company{Name: "Acme"}
	ok(t, h.s.CreateCompany(ctx, c), "CreateCompany")
	n, err := h.s.CountUsers(ctx)
	ok(t, err, "CountUsers")
	equal(t, n, 0, "CountUsers empty")

	u := &bonafide.User{CompanyID: c.ID, Email: "Alice@Example.COM", FirstName: "Alice", LastName: "Liddell", MiddleName: "P",
		Role: bonafide.RoleClientAdmin, PasswordHash: "$argon2id$x", CanQuality: true}
	ok(t, h.s.CreateUser(ctx, u), "CreateUser")
	if u.ID == "" {
		t.Fatal("CreateUser left ID empty")
	}
	equal(t, u.Email, "alice@example.com", "stored email")
	got, err := h.s.GetUser(ctx, u.ID)
	ok(t, err, "GetUser")
	equal(t, got, u, "GetUser")
	got, err = h.s.GetUserByEmail(ctx, "ALICE@example.com")
	ok(t, err, "GetUserByEmail")
	equal(t, got, u, "GetUserByEmail")

	err = h.s.CreateUser(ctx, &bonafide.User{Email: "alice@EXAMPLE.com", Role: bonafide.RoleClient})
	wantCode(t, err, bonafide.CodeAlreadyExist, "CreateUser duplicate email")
	wantCode(t, h.s.CreateUser(ctx, &bonafide.User{ID: u.ID, Email: "other@example.com", Role: bonafide.RoleClient}),
		bonafide.CodeAlreadyExist, "CreateUser duplicate id")
	wantNotFound(t, h.s.CreateUser(ctx, &bonafide.User{CompanyID: "no-such-company", Email: "x@example.com", Role: bonafide.RoleClient}),
		"CreateUser unknown company")
	_, err = h.s.GetUser(ctx, "no-such-user")
	wantNotFound(t, err, "GetUser missing")
	_, err = h.s.GetUserByEmail(ctx, "nobody@example.com")
	wantNotFound(t, err, "GetUserByEmail missing")

	h.clock.Advance(time.Second)
	admin := &bonafide.User{Email: "root@example.com", Role: bonafide.RoleAdmin, Disabled: true, CanBiometry: true}
	ok(t, h.s.CreateUser(ctx, admin), "CreateUser without company")
	got, err = h.s.GetUser(ctx, admin.ID)
	ok(t, err, "GetUser admin")
	equal(t, got, admin, "GetUser admin")

	list, err := h.s.ListUsers(ctx, c.ID)
	ok(t, err, "ListUsers company")
	equal(t, list, []*bonafide.User{u}, "ListUsers company")
	list, err = h.s.ListUsers(ctx, "")
	ok(t, err, "ListUsers all")
	equal(t, list, []*bonafide.User{u, admin}, "ListUsers all (oldest first)")
	n, err = h.s.CountUsers(ctx)
	ok(t, err, "CountUsers")
	equal(t, n, 2, "CountUsers")
}

func testUserUpdate(t *testing.T, h *harness) {
	ctx := t.Context()
	a := &bonafide.User{Email: "a@example.com", Role: bonafide.RoleClient}
	b := &bonafide.User{Email: "b@example.com", Role: bonafide.RoleClient}
	ok(t, h.s.CreateUser(ctx, a), "CreateUser a")
	ok(t, h.s.CreateUser(ctx, b), "CreateUser b")
	c := &bonafide.Company{Name: "Acme"}
	ok(t, h.s.CreateCompany(ctx, c), "CreateCompany")

	h.clock.Advance(time.Minute)
	a.Email, a.FirstName, a.Role, a.CompanyID, a.Disabled, a.PasswordHash = "A2@Example.com", "Ann", bonafide.RoleClientOperator, c.ID, true, "h2"
	ok(t, h.s.UpdateUser(ctx, a), "UpdateUser")
	equal(t, a.Email, "a2@example.com", "updated email lower-cased")
	sameTime(t, a.Updated, Epoch.Add(time.Minute), "Updated")
	sameTime(t, a.Created, Epoch, "Created")
	got, err := h.s.GetUserByEmail(ctx, "a2@example.com")
	ok(t, err, "GetUserByEmail after update")
	equal(t, got, a, "after UpdateUser")
	_, err = h.s.GetUserByEmail(ctx, "a@example.com")
	wantNotFound(t, err, "old email")

	b.Email = "A2@EXAMPLE.COM"
	wantCode(t, h.s.UpdateUser(ctx, b), bonafide.CodeAlreadyExist, "UpdateUser to a taken email")
	wantNotFound(t, h.s.UpdateUser(ctx, &bonafide.User{ID: "no-such-user", Email: "z@example.com", Role: bonafide.RoleClient}),
		"UpdateUser missing")
}

func testSessions(t *testing.T, h *harness) {
	ctx := t.Context()
	u := &bonafide.User{Email: "s@example.com", Role: bonafide.RoleClientService}
	ok(t, h.s.CreateUser(ctx, u), "CreateUser")
	ss := &bonafide.Session{TokenHash: "tok1", ExpireHash: "exp1", UserID: u.ID, Expires: Epoch.Add(15 * time.Minute), LongLived: true}
	ok(t, h.s.CreateSession(ctx, ss), "CreateSession")
	sameTime(t, ss.Created, Epoch, "Created")
	got, err := h.s.GetSession(ctx, "tok1")
	ok(t, err, "GetSession")
	equal(t, got, ss, "GetSession")
	got, err = h.s.GetSessionByExpireHash(ctx, "exp1")
	ok(t, err, "GetSessionByExpireHash")
	equal(t, got, ss, "GetSessionByExpireHash")

	// Two sessions without a refresh token may coexist.
	ok(t, h.s.CreateSession(ctx, &bonafide.Session{TokenHash: "tok2", UserID: u.ID, Expires: Epoch}), "CreateSession no refresh")
	ok(t, h.s.CreateSession(ctx, &bonafide.Session{TokenHash: "tok3", UserID: u.ID, Expires: Epoch}), "CreateSession no refresh 2")
	_, err = h.s.GetSessionByExpireHash(ctx, "")
	wantNotFound(t, err, "GetSessionByExpireHash empty")

	wantCode(t, h.s.CreateSession(ctx, &bonafide.Session{TokenHash: "tok1", UserID: u.ID, Expires: Epoch}), bonafide.CodeAlreadyExist, "CreateSession duplicate")
	wantNotFound(t, h.s.CreateSession(ctx, &bonafide.Session{TokenHash: "tok9", UserID: "no-such-user", Expires: Epoch}), "CreateSession unknown user")

	later := Epoch.Add(time.Hour)
	ok(t, h.s.ExtendSession(ctx, "tok1", later), "ExtendSession")
	got, err = h.s.GetSession(ctx, "tok1")
	ok(t, err, "GetSession after extend")
	sameTime(t, got.Expires, later, "Expires after extend")
	wantNotFound(t, h.s.ExtendSession(ctx, "nope", later), "ExtendSession missing")

	ok(t, h.s.DeleteSession(ctx, "tok1"), "DeleteSession")
	_, err = h.s.GetSession(ctx, "tok1")
	wantNotFound(t, err, "GetSession deleted")
	_, err = h.s.GetSessionByExpireHash(ctx, "exp1")
	wantNotFound(t, err, "GetSessionByExpireHash deleted")
	wantNotFound(t, h.s.DeleteSession(ctx, "tok1"), "DeleteSession again")
}

// An older install kept its ADMIN in the client company "default": start-up moves every global
// role into the reserved company (created once, with the fixed id), leaves client users where they
// are, and changes nothing the second time.
func testMoveGlobalUsers(t *testing.T, h *harness) {
	ctx := t.Context()
	secret := func() (string, error) { return "whsec_dGVzdA==", nil }
	def := &bonafide.Company{Name: "default"}
	ok(t, h.s.CreateCompany(ctx, def), "CreateCompany default")
	admin := &bonafide.User{Email: "admin@bonafide.local", Role: bonafide.RoleAdmin, CompanyID: def.ID}
	op := &bonafide.User{Email: "op@example.com", Role: bonafide.RoleOperator}
	cli := &bonafide.User{Email: "boss@example.com", Role: bonafide.RoleClientAdmin, CompanyID: def.ID}
	for _, u := range []*bonafide.User{admin, op, cli} {
		ok(t, h.s.CreateUser(ctx, u), "CreateUser "+u.Email)
	}
	adminFolder := h.folder(t, &bonafide.Folder{CompanyID: def.ID, UserID: admin.ID})
	clientFolder := h.folder(t, &bonafide.Folder{CompanyID: def.ID, UserID: cli.ID})
	n, err := bonafide.MoveGlobalUsers(ctx, h.s, secret, nil)
	ok(t, err, "MoveGlobalUsers")
	equal(t, n, 2, "users moved")
	g, err := bonafide.CompanyNamed(ctx, h.s, bonafide.GlobalCompanyName)
	ok(t, err, "CompanyNamed global")
	if g == nil {
		t.Fatal("no company global after MoveGlobalUsers")
	}
	equal(t, g.ID, bonafide.GlobalCompanyID, "global company id")
	equal(t, g.WebhookSecret, "whsec_dGVzdA==", "global company secret")
	for _, c := range []struct {
		u       *bonafide.User
		company string
	}{{admin, g.ID}, {op, g.ID}, {cli, def.ID}} {
		got, err := h.s.GetUser(ctx, c.u.ID)
		ok(t, err, "GetUser")
		equal(t, got.CompanyID, c.company, c.u.Email+" company")
	}
	// The ADMIN's folders moved with it (the company's CLIENT ADMIN could read them); the client's stay.
	for _, c := range []struct {
		f       *bonafide.Folder
		company string
	}{{adminFolder, g.ID}, {clientFolder, def.ID}} {
		got, err := h.s.GetFolder(ctx, c.f.ID)
		ok(t, err, "GetFolder")
		equal(t, got.CompanyID, c.company, "folder company")
	}
	n, err = bonafide.MoveGlobalUsers(ctx, h.s, secret, nil)
	ok(t, err, "MoveGlobalUsers again")
	equal(t, n, 0, "users moved the second time")
	all, err := h.s.ListCompanies(ctx, "")
	ok(t, err, "ListCompanies")
	equal(t, len(all), 2, "companies (default and global)")
	// Creating it again, as a second node would, finds the same company.
	again, err := bonafide.EnsureCompany(ctx, h.s, "GLOBAL", bonafide.GlobalCompanyID, secret)
	ok(t, err, "EnsureCompany")
	equal(t, again.ID, g.ID, "EnsureCompany id")
}

// A refreshed session names the one it replaces; both are valid until RetireReplaced, which
// deletes the old one and clears the link (a second call changes nothing).
func testRetireReplaced(t *testing.T, h *harness) {
	ctx := t.Context()
	u := &bonafide.User{Email: "r@example.com", Role: bonafide.RoleClient}
	ok(t, h.s.CreateUser(ctx, u), "CreateUser")
	old := &bonafide.Session{TokenHash: "old", ExpireHash: "old-exp", UserID: u.ID, Expires: Epoch.Add(time.Hour)}
	ok(t, h.s.CreateSession(ctx, old), "CreateSession old")
	neu := &bonafide.Session{TokenHash: "new", ExpireHash: "new-exp", UserID: u.ID, Expires: Epoch.Add(time.Hour), Replaces: "old"}
	ok(t, h.s.CreateSession(ctx, neu), "CreateSession new")
	got, err := h.s.GetSession(ctx, "new")
	ok(t, err, "GetSession new")
	equal(t, got, neu, "GetSession new")
	_, err = h.s.GetSession(ctx, "old")
	ok(t, err, "the old session is valid before the new one is used")

	ok(t, h.s.RetireReplaced(ctx, "new"), "RetireReplaced")
	_, err = h.s.GetSession(ctx, "old")
	wantNotFound(t, err, "GetSession old after RetireReplaced")
	_, err = h.s.GetSessionByExpireHash(ctx, "old-exp")
	wantNotFound(t, err, "GetSessionByExpireHash old after RetireReplaced")
	got, err = h.s.GetSession(ctx, "new")
	ok(t, err, "GetSession new after RetireReplaced")
	equal(t, got.Replaces, "", "Replaces after RetireReplaced")

	ok(t, h.s.RetireReplaced(ctx, "new"), "RetireReplaced again")
	wantNotFound(t, h.s.RetireReplaced(ctx, "nope"), "RetireReplaced unknown session")
	// A session whose replaced one is already gone (deleted, expired) just loses the link.
	ok(t, h.s.CreateSession(ctx, &bonafide.Session{TokenHash: "orphan", UserID: u.ID, Expires: Epoch.Add(time.Hour), Replaces: "gone"}), "CreateSession orphan")
	ok(t, h.s.RetireReplaced(ctx, "orphan"), "RetireReplaced orphan")
}

// Expired sessions are purged; live ones and a session expiring exactly now (still refused by
// the API, kept by the purge) stay.
func testDeleteExpiredSessions(t *testing.T, h *harness) {
	ctx := t.Context()
	u := &bonafide.User{Email: "x@example.com", Role: bonafide.RoleClient}
	ok(t, h.s.CreateUser(ctx, u), "CreateUser")
	for i, exp := range []time.Duration{-time.Hour, -time.Millisecond, 0, time.Minute, 5 * 365 * 24 * time.Hour} {
		ok(t, h.s.CreateSession(ctx, &bonafide.Session{TokenHash: fmt.Sprintf("tok%d", i), ExpireHash: fmt.Sprintf("exp%d", i),
			UserID: u.ID, Expires: Epoch.Add(exp)}), "CreateSession")
	}
	n, err := h.s.DeleteExpiredSessions(ctx, Epoch)
	ok(t, err, "DeleteExpiredSessions")
	equal(t, n, 2, "sessions purged")
	for i := range 5 {
		_, err := h.s.GetSession(ctx, fmt.Sprintf("tok%d", i))
		if i < 2 {
			wantNotFound(t, err, "expired session")
		} else {
			ok(t, err, "live session")
		}
	}
	n, err = h.s.DeleteExpiredSessions(ctx, Epoch)
	ok(t, err, "DeleteExpiredSessions again")
	equal(t, n, 0, "sessions purged again")

	// Logging a user out everywhere may keep the caller's own session.
	ok(t, h.s.DeleteUserSessions(ctx, u.ID, "tok3"), "DeleteUserSessions except tok3")
	for i := 2; i < 5; i++ {
		_, err := h.s.GetSession(ctx, fmt.Sprintf("tok%d", i))
		if i == 3 {
			ok(t, err, "kept session")
		} else {
			wantNotFound(t, err, "ended session")
		}
	}
	ok(t, h.s.DeleteUserSessions(ctx, u.ID, ""), "DeleteUserSessions")
	_, err = h.s.GetSession(ctx, "tok3")
	wantNotFound(t, err, "every session ended")
}

// --- folders and media ------------------------------------------------------------------------

func testFolderRoundTrip(t *testing.T, h *harness) {
	ctx := t.Context()
	f := &bonafide.Folder{
		CompanyID: "c1", UserID: "u1",
		MetaData:           json.RawMessage(`{"transaction_id":"tx-1","n":42,"nested":{"ok":true},"uni":"héllo ☃"}`),
		ResolutionEndpoint: "https://example.com/hook",
	}
	m1 := &bonafide.Media{Kind: bonafide.KindVideo, OriginalName: "v.mp4", FieldName: "video1", BlobKey: "k/v.mp4",
		ContentType: "video/mp4", Size: 12345, SHA256: "ab12", Tags: []string{"video_selfie", "orientation_portrait"},
		MetaData: json.RawMessage(`{"device":"x"}`), Info: json.RawMessage(`{"width":640,"height":480,"duration":2.5}`)}
	m2 := &bonafide.Media{Kind: bonafide.KindImage, OriginalName: "p.jpg", BlobKey: "k/p.jpg", ContentType: "image/jpeg"}
	h.folder(t, f, m1, m2)
	if f.ID == "" || m1.ID == "" || m2.ID == "" {
		t.Fatal("CreateFolder left IDs empty")
	}
	equal(t, m1.FolderID, f.ID, "media FolderID")
	sameTime(t, f.Created, Epoch, "folder Created")
	sameTime(t, m2.Updated, Epoch, "media Updated")

	got, err := h.s.GetFolder(ctx, f.ID)
	ok(t, err, "GetFolder")
	equal(t, [6]any{got.ID, got.CompanyID, got.UserID, got.ResolutionEndpoint, got.Created, got.Updated},
		[6]any{f.ID, "c1", "u1", f.ResolutionEndpoint, Epoch, Epoch}, "GetFolder fields")
	jsonEq(t, got.MetaData, f.MetaData, "folder meta_data")
	jsonEq(t, got.TechnicalMetaData, json.RawMessage(`{}`), "folder technical_meta_data defaults to {}")

	ms, err := h.s.ListMedia(ctx, f.ID)
	ok(t, err, "ListMedia")
	if len(ms) != 2 || ms[0].ID != m1.ID || ms[1].ID != m2.ID {
		t.Fatalf("ListMedia: got %d media, want m1, m2 in upload order", len(ms))
	}
	g := ms[0]
	equal(t, [9]any{g.FolderID, g.Kind, g.OriginalName, g.FieldName, g.BlobKey, g.ContentType, g.Size, g.SHA256, g.Tags},
		[9]any{f.ID, bonafide.KindVideo, "v.mp4", "video1", "k/v.mp4", "video/mp4", int64(12345), "ab12", m1.Tags}, "media fields")
	jsonEq(t, g.MetaData, m1.MetaData, "media meta_data")
	jsonEq(t, g.Info, m1.Info, "media info")
	g2, err := h.s.GetMedia(ctx, m2.ID)
	ok(t, err, "GetMedia")
	if len(g2.Tags) != 0 {
		t.Fatalf("nil tags came back as %v", g2.Tags)
	}
	jsonEq(t, g2.MetaData, json.RawMessage(`{}`), "nil media meta_data defaults to {}")
	if len(g2.Info) != 0 && string(g2.Info) != "null" && string(g2.Info) != "{}" {
		t.Fatalf("nil media info came back as %s", g2.Info)
	}

	_, err = h.s.GetFolder(ctx, "no-such-folder")
	wantNotFound(t, err, "GetFolder missing")
	empty := h.folder(t, &bonafide.Folder{})
	ms, err = h.s.ListMedia(ctx, empty.ID)
	ok(t, err, "ListMedia empty folder")
	equal(t, len(ms), 0, "media in empty folder")
	_, err = h.s.ListMedia(ctx, "no-such-folder")
	wantNotFound(t, err, "ListMedia missing folder")
}

func testFolderCreateAtomic(t *testing.T, h *harness) {
	ctx := t.Context()
	f := h.folder(t, &bonafide.Folder{}, &bonafide.Media{ID: "m-taken", Kind: bonafide.KindImage})
	wantCode(t, h.s.CreateFolder(ctx, &bonafide.Folder{ID: f.ID}, nil), bonafide.CodeAlreadyExist, "CreateFolder duplicate id")

	// The second media's ID is taken, so neither the folder nor its first media may remain.
	g := &bonafide.Folder{ID: "f-atomic"}
	err := h.s.CreateFolder(ctx, g, []*bonafide.Media{{ID: "m-new", Kind: bonafide.KindImage}, {ID: "m-taken", Kind: bonafide.KindImage}})
	wantCode(t, err, bonafide.CodeAlreadyExist, "CreateFolder with a taken media id")
	_, err = h.s.GetFolder(ctx, "f-atomic")
	wantNotFound(t, err, "folder of a failed CreateFolder")
	_, err = h.s.GetMedia(ctx, "m-new")
	wantNotFound(t, err, "media of a failed CreateFolder")
	got, err := h.s.GetMedia(ctx, "m-taken")
	ok(t, err, "GetMedia m-taken")
	equal(t, got.FolderID, f.ID, "m-taken still belongs to the first folder")
}

func testFolderUpdate(t *testing.T, h *harness) {
	ctx := t.Context()
	f := h.folder(t, &bonafide.Folder{CompanyID: "c1", UserID: "u1", MetaData: json.RawMessage(`{"a":1}`)})
	h.clock.Advance(time.Minute)
	f.MetaData = json.RawMessage(`{"a":2,"b":"x"}`)
	f.TechnicalMetaData = json.RawMessage(`{"sdk":"web"}`)
	f.ResolutionEndpoint = "https://example.com/h"
	f.CompanyID = "c2" // ignored: a folder's owner never changes
	ok(t, h.s.UpdateFolder(ctx, f), "UpdateFolder")
	sameTime(t, f.Updated, Epoch.Add(time.Minute), "Updated")
	got, err := h.s.GetFolder(ctx, f.ID)
	ok(t, err, "GetFolder")
	jsonEq(t, got.MetaData, f.MetaData, "meta_data")
	jsonEq(t, got.TechnicalMetaData, f.TechnicalMetaData, "technical_meta_data")
	equal(t, got.ResolutionEndpoint, f.ResolutionEndpoint, "endpoint")
	equal(t, got.CompanyID, "c1", "company unchanged")
	sameTime(t, got.Created, Epoch, "Created unchanged")
	sameTime(t, got.Updated, Epoch.Add(time.Minute), "Updated stored")
	wantNotFound(t, h.s.UpdateFolder(ctx, &bonafide.Folder{ID: "no-such-folder"}), "UpdateFolder missing")
}

func testFolderDelete(t *testing.T, h *harness) {
	ctx := t.Context()
	m := &bonafide.Media{Kind: bonafide.KindImage}
	f := h.folder(t, &bonafide.Folder{}, m)
	other := &bonafide.Media{Kind: bonafide.KindImage}
	keep := h.folder(t, &bonafide.Folder{}, other)
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, a)

	ok(t, h.s.DeleteFolder(ctx, f.ID), "DeleteFolder")
	_, err := h.s.GetFolder(ctx, f.ID)
	wantNotFound(t, err, "GetFolder deleted")
	_, err = h.s.GetMedia(ctx, m.ID)
	wantNotFound(t, err, "GetMedia of deleted folder")
	_, err = h.s.GetAnalysis(ctx, a.ID)
	wantNotFound(t, err, "GetAnalysis of deleted folder")
	_, err = h.s.ListAnalyses(ctx, f.ID)
	wantNotFound(t, err, "ListAnalyses of deleted folder")
	wantNotFound(t, h.s.DeleteFolder(ctx, f.ID), "DeleteFolder again")

	_, err = h.s.GetMedia(ctx, other.ID)
	ok(t, err, "other folder's media survives")
	_, err = h.s.GetFolder(ctx, keep.ID)
	ok(t, err, "other folder survives")
}

func testMedia(t *testing.T, h *harness) {
	ctx := t.Context()
	f := h.folder(t, &bonafide.Folder{})
	wantNotFound(t, h.s.AddMedia(ctx, "no-such-folder", []*bonafide.Media{{Kind: bonafide.KindImage}}), "AddMedia missing folder")

	h.clock.Advance(time.Minute)
	m1 := &bonafide.Media{Kind: bonafide.KindShotSet, OriginalName: "shots.zip", Tags: []string{"photo_selfie"}}
	m2 := &bonafide.Media{Kind: bonafide.KindImage, OriginalName: "b.png"}
	ok(t, h.s.AddMedia(ctx, f.ID, []*bonafide.Media{m1, m2}), "AddMedia")
	equal(t, m1.FolderID, f.ID, "AddMedia sets FolderID")
	sameTime(t, m1.Created, Epoch.Add(time.Minute), "media Created")
	got, err := h.s.GetFolder(ctx, f.ID)
	ok(t, err, "GetFolder")
	sameTime(t, got.Updated, Epoch.Add(time.Minute), "AddMedia bumps the folder's Updated")
	ms, err := h.s.ListMedia(ctx, f.ID)
	ok(t, err, "ListMedia")
	if len(ms) != 2 || ms[0].ID != m1.ID || ms[1].ID != m2.ID {
		t.Fatalf("ListMedia after AddMedia: %d media", len(ms))
	}

	h.clock.Advance(time.Minute)
	m1.BlobKey, m1.Size, m1.SHA256, m1.Tags = "b/1", 99, "cafe", []string{"photo_selfie", "x"}
	m1.Info = json.RawMessage(`{"frames":7}`)
	m1.MetaData = json.RawMessage(`{"k":"v"}`)
	ok(t, h.s.UpdateMedia(ctx, m1), "UpdateMedia")
	g, err := h.s.GetMedia(ctx, m1.ID)
	ok(t, err, "GetMedia")
	equal(t, [4]any{g.BlobKey, g.Size, g.SHA256, g.Tags}, [4]any{"b/1", int64(99), "cafe", []string{"photo_selfie", "x"}}, "updated media")
	jsonEq(t, g.Info, m1.Info, "updated info")
	jsonEq(t, g.MetaData, m1.MetaData, "updated meta")
	sameTime(t, g.Updated, Epoch.Add(2*time.Minute), "media Updated")
	sameTime(t, g.Created, Epoch.Add(time.Minute), "media Created kept")
	wantNotFound(t, h.s.UpdateMedia(ctx, &bonafide.Media{ID: "no-such-media", Kind: bonafide.KindImage}), "UpdateMedia missing")

	ok(t, h.s.DeleteMedia(ctx, m1.ID), "DeleteMedia")
	_, err = h.s.GetMedia(ctx, m1.ID)
	wantNotFound(t, err, "GetMedia deleted")
	wantNotFound(t, h.s.DeleteMedia(ctx, m1.ID), "DeleteMedia again")
	ms, err = h.s.ListMedia(ctx, f.ID)
	ok(t, err, "ListMedia")
	equal(t, len(ms), 1, "media left")
	_, err = h.s.GetFolder(ctx, f.ID)
	ok(t, err, "folder survives DeleteMedia")
}

func testInvalidJSON(t *testing.T, h *harness) {
	ctx := t.Context()
	bad := json.RawMessage(`{"a":`)
	wantCode(t, h.s.CreateFolder(ctx, &bonafide.Folder{MetaData: bad}, nil), bonafide.CodeInvalidValue, "CreateFolder bad meta")
	f := h.folder(t, &bonafide.Folder{})
	wantCode(t, h.s.UpdateFolder(ctx, &bonafide.Folder{ID: f.ID, TechnicalMetaData: bad}), bonafide.CodeInvalidValue, "UpdateFolder bad tech meta")
	wantCode(t, h.s.AddMedia(ctx, f.ID, []*bonafide.Media{{Kind: bonafide.KindImage, Info: bad}}), bonafide.CodeInvalidValue, "AddMedia bad info")
	wantCode(t, h.s.CreateAnalyses(ctx, []*bonafide.Analysis{{FolderID: f.ID, Type: "QUALITY", Params: bad}}), bonafide.CodeInvalidValue, "CreateAnalyses bad params")
	equal(t, len(h.enq.Analyses()), 0, "nothing enqueued")
}

// --- analyses ---------------------------------------------------------------------------------

func testCreateAnalyses(t *testing.T, h *harness) {
	ctx := t.Context()
	m := &bonafide.Media{Kind: bonafide.KindVideo}
	f := h.folder(t, &bonafide.Folder{}, m)
	h.clock.Advance(time.Second)
	a1 := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY", Params: json.RawMessage(`{"extract_best_shot":true}`),
		MetaData: json.RawMessage(`{"x":"y"}`), SourceMedia: []string{m.ID}}
	a2 := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, a1, a2)
	if a1.ID == "" || a2.ID == "" {
		t.Fatal("CreateAnalyses left IDs empty")
	}
	equal(t, h.enq.Analyses(), []string{a1.ID, a2.ID}, "enqueued analyses")
	equal(t, a1.State, bonafide.StateProcessing, "default state")
	if a1.GroupID == "" || a1.GroupID != a2.GroupID {
		t.Fatalf("analyses created together must share a group: %q, %q", a1.GroupID, a2.GroupID)
	}
	sameTime(t, a1.Created, Epoch.Add(time.Second), "Created")

	got, err := h.s.GetAnalysis(ctx, a1.ID)
	ok(t, err, "GetAnalysis")
	equal(t, [8]any{got.ID, got.FolderID, got.GroupID, got.Type, got.State, got.Resolution, got.SourceMedia, got.Error},
		[8]any{a1.ID, f.ID, a1.GroupID, "QUALITY", bonafide.StateProcessing, "", []string{m.ID}, ""}, "analysis fields")
	jsonEq(t, got.Params, a1.Params, "params")
	jsonEq(t, got.MetaData, a1.MetaData, "meta_data")
	equal(t, len(got.Results), 0, "no results yet")
	if len(got.ResultsData) != 0 && string(got.ResultsData) != "null" {
		t.Fatalf("results_data before finishing: %s", got.ResultsData)
	}
	sameTime(t, got.Created, Epoch.Add(time.Second), "stored Created")
	fg, err := h.s.GetFolder(ctx, f.ID)
	ok(t, err, "GetFolder")
	sameTime(t, fg.Updated, Epoch.Add(time.Second), "CreateAnalyses bumps the folder's Updated")

	h.clock.Advance(time.Second)
	a3 := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY", GroupID: "explicit-group"}
	h.analyses(t, a3)
	equal(t, a3.GroupID, "explicit-group", "explicit group kept")
	list, err := h.s.ListAnalyses(ctx, f.ID)
	ok(t, err, "ListAnalyses")
	var ids []string
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	equal(t, ids, []string{a1.ID, a2.ID, a3.ID}, "ListAnalyses in creation order")
	equal(t, h.enq.Analyses(), []string{a1.ID, a2.ID, a3.ID}, "enqueued analyses")

	_, err = h.s.GetAnalysis(ctx, "no-such-analysis")
	wantNotFound(t, err, "GetAnalysis missing")
	_, err = h.s.ListAnalyses(ctx, "no-such-folder")
	wantNotFound(t, err, "ListAnalyses missing folder")
	wantCode(t, h.s.CreateAnalyses(ctx, []*bonafide.Analysis{{ID: a1.ID, FolderID: f.ID, Type: "QUALITY"}}), bonafide.CodeAlreadyExist, "CreateAnalyses duplicate id")
	equal(t, len(h.enq.Analyses()), 3, "a failed CreateAnalyses enqueues nothing")
}

func testCreateAnalysesEnqueueFails(t *testing.T, h *harness) {
	ctx := t.Context()
	f := h.folder(t, &bonafide.Folder{})
	h.enq.Err = errors.New("queue is down")
	a1 := &bonafide.Analysis{ID: "a-1", FolderID: f.ID, Type: "QUALITY"}
	a2 := &bonafide.Analysis{ID: "a-2", FolderID: f.ID, Type: "QUALITY"}
	err := h.s.CreateAnalyses(ctx, []*bonafide.Analysis{a1, a2})
	if err == nil {
		t.Fatal("CreateAnalyses succeeded although enqueueing failed")
	}
	if !errors.Is(err, h.enq.Err) {
		t.Errorf("CreateAnalyses error %v does not wrap the enqueuer's error", err)
	}
	for _, id := range []string{"a-1", "a-2"} {
		_, err := h.s.GetAnalysis(ctx, id)
		wantNotFound(t, err, "analysis "+id+" after a failed enqueue")
	}
	list, err := h.s.ListAnalyses(ctx, f.ID)
	ok(t, err, "ListAnalyses")
	equal(t, len(list), 0, "analyses left after a failed enqueue")
	fg, err := h.s.GetFolder(ctx, f.ID)
	ok(t, err, "GetFolder")
	sameTime(t, fg.Updated, Epoch, "folder untouched after a failed enqueue")

	h.enq.Err = nil
	h.analyses(t, &bonafide.Analysis{ID: "a-1", FolderID: f.ID, Type: "QUALITY"})
	equal(t, h.enq.Analyses(), []string{"a-1"}, "enqueued after recovery")
}

func testCreateAnalysesMissingFolder(t *testing.T, h *harness) {
	ctx := t.Context()
	f := h.folder(t, &bonafide.Folder{})
	err := h.s.CreateAnalyses(ctx, []*bonafide.Analysis{{ID: "a-ok", FolderID: f.ID, Type: "QUALITY"}, {FolderID: "no-such-folder", Type: "QUALITY"}})
	wantNotFound(t, err, "CreateAnalyses missing folder")
	_, err = h.s.GetAnalysis(ctx, "a-ok")
	wantNotFound(t, err, "no analysis of a failed batch remains")
	equal(t, len(h.enq.Analyses()), 0, "nothing enqueued")
	ok(t, h.s.CreateAnalyses(ctx, nil), "CreateAnalyses of nothing")
}

func testFinishAnalysis(t *testing.T, h *harness) {
	ctx := t.Context()
	m := &bonafide.Media{Kind: bonafide.KindVideo}
	f := h.folder(t, &bonafide.Folder{}, m)
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, a)

	h.clock.Advance(3 * time.Second)
	results := []bonafide.MediaResult{
		{MediaID: m.ID, Kind: bonafide.KindVideo, ConfidenceSpoofing: ptr(0.0579), Resolution: bonafide.ResolutionSuccess,
			BestShotKey: "best/1.jpg", Details: &bonafide.Evidence{LivenessEvidence: &bonafide.LivenessEvidence{
				Reasons: []bonafide.Reason{{Code: "OK", Message: "ok"}}, Signals: []bonafide.Signal{{Name: "passive", Score: ptr(0.0579), Value: 0.0579}},
				Frames: []bonafide.FrameTrace{{Index: 12, Time: 0.48, Passive: ptr(0.0579)}}, Threshold: 0.5}}},
		{MediaID: "m-broken", Kind: bonafide.KindImage, Resolution: bonafide.ResolutionDeclined, Error: "no face"},
	}
	fin := &bonafide.Analysis{ID: a.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess,
		ResultsData: json.RawMessage(`{"confidence_spoofing":0.0579}`), Results: results}
	ok(t, h.s.FinishAnalysis(ctx, fin), "FinishAnalysis")
	equal(t, fin.FolderID, f.ID, "FinishAnalysis fills FolderID")
	sameTime(t, fin.Updated, Epoch.Add(3*time.Second), "Updated")

	got, err := h.s.GetAnalysis(ctx, a.ID)
	ok(t, err, "GetAnalysis")
	equal(t, [4]any{got.State, got.Resolution, got.Error, got.GroupID}, [4]any{bonafide.StateFinished, bonafide.ResolutionSuccess, "", a.GroupID}, "finished fields")
	jsonEq(t, got.ResultsData, fin.ResultsData, "results_data")
	if len(got.Results) != 2 {
		t.Fatalf("results: got %d, want 2", len(got.Results))
	}
	r := got.Results[0]
	if r.ConfidenceSpoofing == nil || *r.ConfidenceSpoofing != 0.0579 {
		t.Fatalf("confidence_spoofing did not round-trip: %v", r.ConfidenceSpoofing)
	}
	equal(t, r.Details, results[0].Details, "result details")
	r.ConfidenceSpoofing, r.Details = nil, nil
	equal(t, r, bonafide.MediaResult{MediaID: m.ID, Kind: bonafide.KindVideo, Resolution: bonafide.ResolutionSuccess, BestShotKey: "best/1.jpg"}, "result 0")
	equal(t, got.Results[1], results[1], "result 1 (no score)")
	sameTime(t, got.Updated, Epoch.Add(3*time.Second), "stored Updated")
	sameTime(t, got.Created, Epoch, "Created kept")
	fg, err := h.s.GetFolder(ctx, f.ID)
	ok(t, err, "GetFolder")
	sameTime(t, fg.Updated, Epoch.Add(3*time.Second), "FinishAnalysis bumps the folder's Updated")

	failed := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, failed)
	ok(t, h.s.FinishAnalysis(ctx, &bonafide.Analysis{ID: failed.ID, State: bonafide.StateFailed, Error: "timed out"}), "FinishAnalysis FAILED")
	got, err = h.s.GetAnalysis(ctx, failed.ID)
	ok(t, err, "GetAnalysis failed")
	equal(t, [2]string{got.State, got.Error}, [2]string{bonafide.StateFailed, "timed out"}, "failed fields")

	wantNotFound(t, h.s.FinishAnalysis(ctx, &bonafide.Analysis{ID: "no-such-analysis", State: bonafide.StateFinished}), "FinishAnalysis missing")
	wantCode(t, h.s.FinishAnalysis(ctx, &bonafide.Analysis{ID: a.ID, State: bonafide.StateProcessing}), bonafide.CodeInvalidValue, "FinishAnalysis to PROCESSING")
	equal(t, len(h.enq.Webhooks()), 0, "no webhook without an endpoint")
}

func testFinishAnalysisWebhook(t *testing.T, h *harness) {
	f := h.folder(t, &bonafide.Folder{ResolutionEndpoint: "https://example.com/hook"})
	a1 := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	a2 := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, a1, a2)
	other := h.folder(t, &bonafide.Folder{ResolutionEndpoint: "https://example.com/other"})
	busy := &bonafide.Analysis{FolderID: other.ID, Type: "QUALITY"}
	h.analyses(t, busy) // another folder's processing analysis must not hold back f's webhook

	h.finish(t, a1.ID, bonafide.StateFinished, bonafide.ResolutionSuccess)
	equal(t, len(h.enq.Webhooks()), 0, "webhook while another analysis of the folder is processing")
	h.finish(t, a2.ID, bonafide.StateFailed, "")
	hooks := h.enq.Webhooks()
	if len(hooks) != 1 || hooks[0].FolderID != f.ID || hooks[0].EventID == "" {
		t.Fatalf("after the last analysis finished: webhooks %+v, want one for folder %s with an event id", hooks, f.ID)
	}
	// A retried job finishing the same analysis again changes nothing (the first finish wins) and
	// sends no second webhook.
	err := h.s.FinishAnalysis(t.Context(), &bonafide.Analysis{ID: a2.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionDeclined})
	if !errors.Is(err, bonafide.ErrAlreadyFinished) {
		t.Fatalf("finishing an already finished analysis: %v, want ErrAlreadyFinished", err)
	}
	got, err := h.s.GetAnalysis(t.Context(), a2.ID)
	ok(t, err, "GetAnalysis")
	equal(t, [2]string{got.State, got.Resolution}, [2]string{bonafide.StateFailed, ""}, "the first finish stands")
	equal(t, len(h.enq.Webhooks()), 1, "webhooks after finishing an already finished analysis")

	// A new group re-arms the webhook, with a new event id.
	a3 := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, a3)
	h.finish(t, a3.ID, bonafide.StateFinished, bonafide.ResolutionSuccess)
	hooks = h.enq.Webhooks()
	if len(hooks) != 2 || hooks[1].FolderID != f.ID || hooks[1].EventID == hooks[0].EventID {
		t.Fatalf("after a second group: webhooks %+v, want two with distinct event ids", hooks)
	}
	h.finish(t, busy.ID, bonafide.StateFinished, bonafide.ResolutionSuccess)
	hooks = h.enq.Webhooks()
	if len(hooks) != 3 || hooks[2].FolderID != other.ID {
		t.Fatalf("other folder: webhooks %+v", hooks)
	}
}

func testFinishAnalysisNoEndpoint(t *testing.T, h *harness) {
	f := h.folder(t, &bonafide.Folder{})
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, a)
	h.finish(t, a.ID, bonafide.StateFinished, bonafide.ResolutionSuccess)
	equal(t, len(h.enq.Webhooks()), 0, "webhooks for a folder without resolution_endpoint")
}

func testFinishAnalysisWebhookFails(t *testing.T, h *harness) {
	ctx := t.Context()
	f := h.folder(t, &bonafide.Folder{ResolutionEndpoint: "https://example.com/hook"})
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, a)
	h.enq.Err = errors.New("queue is down")
	err := h.s.FinishAnalysis(ctx, &bonafide.Analysis{ID: a.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess})
	if err == nil {
		t.Fatal("FinishAnalysis succeeded although the webhook could not be enqueued")
	}
	got, err := h.s.GetAnalysis(ctx, a.ID)
	ok(t, err, "GetAnalysis")
	equal(t, got.State, bonafide.StateProcessing, "state after a failed FinishAnalysis (rolled back)")
	h.enq.Err = nil
	h.finish(t, a.ID, bonafide.StateFinished, bonafide.ResolutionSuccess)
	equal(t, len(h.enq.Webhooks()), 1, "webhooks after the retry")
}

// --- listing ----------------------------------------------------------------------------------

func testListFoldersSortAndPage(t *testing.T, h *harness) {
	ctx := t.Context()
	// Created: f0 < f1 < f2 = f3 < f4; Updated in a different order: f3 < f0 < f4 < f1 < f2.
	mk := func(id string, created, updated int) {
		h.folder(t, &bonafide.Folder{ID: id, Created: Epoch.Add(time.Duration(created) * time.Minute), Updated: Epoch.Add(time.Duration(updated) * time.Minute)})
	}
	mk("f0", 0, 10)
	mk("f1", 1, 30)
	mk("f2", 2, 40)
	mk("f3", 2, 5)
	mk("f4", 3, 20)
	cases := []struct {
		name   string
		filter bonafide.FolderFilter
		want   []string
		total  int
	}{
		{"default: created desc", bonafide.FolderFilter{Limit: -1}, []string{"f4", "f3", "f2", "f1", "f0"}, -1},
		{"created asc", bonafide.FolderFilter{SortField: "time_created", SortAsc: true, Limit: -1}, []string{"f0", "f1", "f2", "f3", "f4"}, -1},
		{"updated desc", bonafide.FolderFilter{SortField: "time_updated", Limit: -1}, []string{"f2", "f1", "f4", "f0", "f3"}, -1},
		{"updated asc", bonafide.FolderFilter{SortField: "time_updated", SortAsc: true, Limit: -1}, []string{"f3", "f0", "f4", "f1", "f2"}, -1},
		{"page 1", bonafide.FolderFilter{Limit: 2, WithTotal: true}, []string{"f4", "f3"}, 5},
		{"page 2", bonafide.FolderFilter{Offset: 2, Limit: 2, WithTotal: true}, []string{"f2", "f1"}, 5},
		{"page 3", bonafide.FolderFilter{Offset: 4, Limit: 2, WithTotal: true}, []string{"f0"}, 5},
		{"past the end", bonafide.FolderFilter{Offset: 9, Limit: 2, WithTotal: true}, []string{}, 5},
		{"limit 0 counts only", bonafide.FolderFilter{Limit: 0, WithTotal: true}, []string{}, 5},
		{"offset without limit", bonafide.FolderFilter{Offset: 3, Limit: -1}, []string{"f1", "f0"}, -1},
	}
	for _, c := range cases {
		got, total, err := h.s.ListFolders(ctx, c.filter)
		ok(t, err, c.name)
		equal(t, folderIDs(got), c.want, c.name)
		equal(t, total, c.total, c.name+" total")
	}
	got, _, err := h.s.ListFolders(ctx, bonafide.FolderFilter{Limit: 1, SortField: "time_created"})
	ok(t, err, "ListFolders")
	sameTime(t, got[0].Created, Epoch.Add(3*time.Minute), "listed Created")
	sameTime(t, got[0].Updated, Epoch.Add(20*time.Minute), "listed Updated")
	_, _, err = h.s.ListFolders(ctx, bonafide.FolderFilter{SortField: "name"})
	wantCode(t, err, bonafide.CodeInvalidValue, "sort by an unknown field")
}

func testListFoldersFilters(t *testing.T, h *harness) {
	ctx := t.Context()
	at := func(m int) time.Time { return Epoch.Add(time.Duration(m) * time.Minute) }
	h.folder(t, &bonafide.Folder{ID: "a", CompanyID: "c1", UserID: "u1", Created: at(0), Updated: at(50)})
	h.folder(t, &bonafide.Folder{ID: "b", CompanyID: "c1", UserID: "u2", Created: at(10), Updated: at(40)})
	h.folder(t, &bonafide.Folder{ID: "c", CompanyID: "c2", UserID: "u3", Created: at(20), Updated: at(30)})
	h.folder(t, &bonafide.Folder{ID: "d", CompanyID: "c2", UserID: "u3", Created: at(30), Updated: at(35)})
	cases := []struct {
		name   string
		filter bonafide.FolderFilter
		want   []string
	}{
		{"company", bonafide.FolderFilter{CompanyID: "c1"}, []string{"b", "a"}},
		{"user", bonafide.FolderFilter{UserID: "u3"}, []string{"d", "c"}},
		{"company and user", bonafide.FolderFilter{CompanyID: "c1", UserID: "u3"}, []string{}},
		{"created min (inclusive)", bonafide.FolderFilter{CreatedMin: ptr(at(10))}, []string{"d", "c", "b"}},
		{"created max (inclusive)", bonafide.FolderFilter{CreatedMax: ptr(at(10))}, []string{"b", "a"}},
		{"created range", bonafide.FolderFilter{CreatedMin: ptr(at(5)), CreatedMax: ptr(at(25))}, []string{"c", "b"}},
		{"updated min", bonafide.FolderFilter{UpdatedMin: ptr(at(40))}, []string{"b", "a"}},
		{"updated max", bonafide.FolderFilter{UpdatedMax: ptr(at(35))}, []string{"d", "c"}},
		{"updated range and company", bonafide.FolderFilter{UpdatedMin: ptr(at(31)), UpdatedMax: ptr(at(45)), CompanyID: "c2"}, []string{"d"}},
		{"sub-millisecond bound", bonafide.FolderFilter{CreatedMin: ptr(at(30).Add(-time.Microsecond))}, []string{"d"}},
	}
	for _, c := range cases {
		c.filter.Limit, c.filter.WithTotal = -1, true
		got, total, err := h.s.ListFolders(ctx, c.filter)
		ok(t, err, c.name)
		equal(t, folderIDs(got), c.want, c.name)
		equal(t, total, len(c.want), c.name+" total")
	}
}

func testListFoldersMeta(t *testing.T, h *harness) {
	ctx := t.Context()
	metas := map[string]string{
		"m1": `{"transaction_id":"tx-1","n":42,"flag":true,"a.b":"dotted","q\"k":"quoted"}`,
		"m2": `{"transaction_id":"tx-2","n":7.5,"flag":false,"nested":{"x":1}}`,
		"m3": `{"transaction_id":"tx-1","other":"y","n":"42"}`,
		"m4": `{}`,
		"m5": `{"transaction_id":null,"n":null}`,
	}
	i := 0
	for _, id := range []string{"m1", "m2", "m3", "m4", "m5"} {
		h.folder(t, &bonafide.Folder{ID: id, MetaData: json.RawMessage(metas[id]), Created: Epoch.Add(time.Duration(i) * time.Minute)})
		i++
	}
	h.folder(t, &bonafide.Folder{ID: "m6", Created: Epoch.Add(10 * time.Minute)}) // nil meta_data
	cases := []struct {
		name      string
		eq, notEq map[string]string
		want      []string
	}{
		{"string", map[string]string{"transaction_id": "tx-1"}, nil, []string{"m3", "m1"}},
		{"integer and numeric string", map[string]string{"n": "42"}, nil, []string{"m3", "m1"}},
		{"real", map[string]string{"n": "7.5"}, nil, []string{"m2"}},
		{"true", map[string]string{"flag": "true"}, nil, []string{"m1"}},
		{"false", map[string]string{"flag": "false"}, nil, []string{"m2"}},
		{"dotted key is literal", map[string]string{"a.b": "dotted"}, nil, []string{"m1"}},
		{"quoted key", map[string]string{`q"k`: "quoted"}, nil, []string{"m1"}},
		{"injection attempt", map[string]string{`x') OR 1=1 --`: "y"}, nil, []string{}},
		{"two keys", map[string]string{"transaction_id": "tx-1", "other": "y"}, nil, []string{"m3"}},
		{"no match", map[string]string{"transaction_id": "tx-9"}, nil, []string{}},
		{"not equal (missing key counts)", nil, map[string]string{"transaction_id": "tx-1"}, []string{"m6", "m5", "m4", "m2"}},
		{"equal and not equal", map[string]string{"transaction_id": "tx-1"}, map[string]string{"other": "y"}, []string{"m1"}},
		{"nested is not top-level", map[string]string{"x": "1"}, nil, []string{}},
	}
	for _, c := range cases {
		got, total, err := h.s.ListFolders(ctx, bonafide.FolderFilter{MetaEquals: c.eq, MetaNotEquals: c.notEq, Limit: -1, WithTotal: true})
		ok(t, err, c.name)
		equal(t, folderIDs(got), c.want, c.name)
		equal(t, total, len(c.want), c.name+" total")
	}
}

// resolutionScenario builds folders with known statuses; want maps each filter value to the folders
// it must select (newest first).
func resolutionScenario(t *testing.T, h *harness) map[string][]string {
	t.Helper()
	i := 0
	folder := func(id string) string {
		h.folder(t, &bonafide.Folder{ID: id, Created: Epoch.Add(time.Duration(i) * time.Minute)})
		i++
		return id
	}
	group := func(folderID, groupID string, n int) []string {
		var as []*bonafide.Analysis
		var ids []string
		for k := range n {
			a := &bonafide.Analysis{ID: fmt.Sprintf("%s-%s-%d", folderID, groupID, k), FolderID: folderID, GroupID: groupID, Type: "QUALITY"}
			as = append(as, a)
			ids = append(ids, a.ID)
		}
		h.analyses(t, as...)
		return ids
	}
	tick := func() { h.clock.Advance(time.Second) }

	folder("initial")

	folder("processing")
	p := group("processing", "g1", 2)
	tick()
	h.finish(t, p[0], bonafide.StateFinished, bonafide.ResolutionSuccess)

	folder("success")
	s := group("success", "g1", 2)
	tick()
	h.finish(t, s[0], bonafide.StateFinished, bonafide.ResolutionSuccess)
	h.finish(t, s[1], bonafide.StateFinished, bonafide.ResolutionSuccess)

	folder("declined")
	d := group("declined", "g1", 2)
	tick()
	h.finish(t, d[0], bonafide.StateFinished, bonafide.ResolutionSuccess)
	h.finish(t, d[1], bonafide.StateFinished, bonafide.ResolutionDeclined)

	folder("failed")
	f := group("failed", "g1", 2)
	tick()
	h.finish(t, f[0], bonafide.StateFinished, bonafide.ResolutionSuccess)
	h.finish(t, f[1], bonafide.StateFailed, "")

	// An old declined group, then a newer group that succeeded: the verdict follows the newer one.
	folder("redeemed")
	old := group("redeemed", "g1", 1)
	tick()
	h.finish(t, old[0], bonafide.StateFinished, bonafide.ResolutionDeclined)
	tick()
	nw := group("redeemed", "g2", 1)
	tick()
	h.finish(t, nw[0], bonafide.StateFinished, bonafide.ResolutionSuccess)

	// Group g1 was created first but finished last (declined): it is the last-finished group.
	folder("late")
	l1 := group("late", "g1", 1)
	l2 := group("late", "g2", 1)
	tick()
	h.finish(t, l2[0], bonafide.StateFinished, bonafide.ResolutionSuccess)
	tick()
	h.finish(t, l1[0], bonafide.StateFinished, bonafide.ResolutionDeclined)

	// A failure in an older group makes the folder FAILED; the verdict still follows the last group.
	folder("failedold")
	fo := group("failedold", "g1", 1)
	tick()
	h.finish(t, fo[0], bonafide.StateFailed, "")
	tick()
	fn := group("failedold", "g2", 1)
	tick()
	h.finish(t, fn[0], bonafide.StateFinished, bonafide.ResolutionSuccess)

	// A successful folder that is being analysed again is PROCESSING, not SUCCESS.
	folder("rerun")
	r1 := group("rerun", "g1", 1)
	tick()
	h.finish(t, r1[0], bonafide.StateFinished, bonafide.ResolutionSuccess)
	group("rerun", "g2", 1)

	return map[string][]string{
		"INITIAL":    {"initial"},
		"PROCESSING": {"rerun", "processing"},
		"FINISHED":   {"late", "redeemed", "declined", "success"},
		"FAILED":     {"failedold", "failed"},
		"SUCCESS":    {"failedold", "redeemed", "success"},
		"DECLINED":   {"late", "declined"},
	}
}

func testListFoldersResolution(t *testing.T, h *harness) {
	ctx := t.Context()
	want := resolutionScenario(t, h)
	for _, st := range []string{"INITIAL", "PROCESSING", "FINISHED", "FAILED", "SUCCESS", "DECLINED", "OPERATOR_REQUIRED"} {
		got, total, err := h.s.ListFolders(ctx, bonafide.FolderFilter{ResolutionStatus: st, Limit: -1, WithTotal: true})
		ok(t, err, st)
		w := want[st]
		if w == nil {
			w = []string{}
		}
		equal(t, folderIDs(got), w, "resolution_status="+st)
		equal(t, total, len(w), st+" total")
	}
	got, _, err := h.s.ListFolders(ctx, bonafide.FolderFilter{ResolutionStatus: "SUCCESS", Limit: 1, Offset: 1})
	ok(t, err, "paged SUCCESS")
	equal(t, folderIDs(got), []string{"redeemed"}, "paged SUCCESS")
	_, _, err = h.s.ListFolders(ctx, bonafide.FolderFilter{ResolutionStatus: "BOGUS"})
	wantCode(t, err, bonafide.CodeInvalidValue, "unknown resolution_status")
}

// ResolutionScenario builds the folders of the resolution test in s and returns, for each filter value,
// the IDs of the folders it must select (newest first). A store package uses it to check that its own
// Go status derivation agrees with its SQL filter.
func ResolutionScenario(t *testing.T, s bonafide.Store, enq *testkit.Enqueuer, clock *testkit.Clock) map[string][]string {
	t.Helper()
	return resolutionScenario(t, &harness{s: s, enq: enq, clock: clock})
}

// testReferencedBlobKeys: media files and best shots are referenced; a deleted media's file, a
// deleted folder's files and keys no row names are not.
func testReferencedBlobKeys(t *testing.T, h *harness) {
	ctx := t.Context()
	f := h.folder(t, &bonafide.Folder{ID: "f-refs"})
	m1 := &bonafide.Media{ID: "m-refs-1", Kind: bonafide.KindImage, BlobKey: "f-refs/m-refs-1.jpeg"}
	m2 := &bonafide.Media{ID: "m-refs-2", Kind: bonafide.KindImage, BlobKey: "f-refs/m-refs-2.jpeg"}
	ok(t, h.s.AddMedia(ctx, f.ID, []*bonafide.Media{m1, m2}), "AddMedia")
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, a)
	best := "f-refs/best_shot_" + a.ID + "_m-refs-1.jpg"
	ok(t, h.s.FinishAnalysis(ctx, &bonafide.Analysis{ID: a.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess,
		Results: []bonafide.MediaResult{{MediaID: m1.ID, Kind: bonafide.KindImage, Resolution: bonafide.ResolutionSuccess, BestShotKey: best},
			{MediaID: m2.ID, Kind: bonafide.KindImage, Resolution: bonafide.ResolutionSuccess}}}), "FinishAnalysis")
	other := h.folder(t, &bonafide.Folder{ID: "f-refs-other"}, &bonafide.Media{ID: "m-refs-3", Kind: bonafide.KindImage, BlobKey: "f-refs-other/m-refs-3.jpeg"})

	keys := []string{m1.BlobKey, m2.BlobKey, best, "f-refs/orphan.jpeg", "f-refs/best_shot_x_y.jpg", "no-such-folder/m.jpeg",
		"f-refs-other/m-refs-3.jpeg", "no-folder-at-all", ""}
	got, err := h.s.ReferencedBlobKeys(ctx, keys)
	ok(t, err, "ReferencedBlobKeys")
	equal(t, got, map[string]bool{m1.BlobKey: true, m2.BlobKey: true, best: true, "f-refs-other/m-refs-3.jpeg": true}, "referenced")

	ok(t, h.s.DeleteMedia(ctx, m2.ID), "DeleteMedia")
	ok(t, h.s.DeleteFolder(ctx, other.ID), "DeleteFolder")
	got, err = h.s.ReferencedBlobKeys(ctx, keys)
	ok(t, err, "ReferencedBlobKeys after deletes")
	equal(t, got, map[string]bool{m1.BlobKey: true, best: true}, "referenced after deletes")

	got, err = h.s.ReferencedBlobKeys(ctx, nil)
	ok(t, err, "ReferencedBlobKeys of none")
	equal(t, len(got), 0, "nothing referenced among no keys")
}

// A setting is stored once: the first value wins, every later caller reads it.
func testSetting(t *testing.T, h *harness) {
	ctx := t.Context()
	v, err := h.s.Setting(ctx, "url_signing_key", "first")
	ok(t, err, "Setting")
	equal(t, v, "first", "the first value is stored")
	v, err = h.s.Setting(ctx, "url_signing_key", "second")
	ok(t, err, "Setting again")
	equal(t, v, "first", "a later value does not replace it")
	v, err = h.s.Setting(ctx, "other", "x")
	ok(t, err, "Setting other")
	equal(t, v, "x", "settings are by name")
}
