package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"bonafide"
)

// auditFind returns the entries of GET /api/audit?query as admin sees them.
func auditFind(env *tuEnv, token, query string) []map[string]any {
	env.t.Helper()
	return env.tuDo("GET", "/api/audit?"+query, token, nil).tuExpect(http.StatusOK, 0).Items()
}

// auditWant checks that some entry of action names the object (any when objectID is ""), and that
// the newest one is actor's; it returns that newest entry.
func auditWant(env *tuEnv, token, action, objectID, actor string) map[string]any {
	env.t.Helper()
	q := url.Values{"action": {action}}
	if objectID != "" {
		q.Set("object_id", objectID)
	}
	items := auditFind(env, token, q.Encode())
	if len(items) == 0 {
		env.t.Fatalf("no %s entry for object %q", action, objectID)
	}
	e := items[0]
	if actor != "" && e["actor"] != actor {
		env.t.Errorf("%s entry: actor %v, want %s", action, e["actor"], actor)
	}
	return e
}

// TestAuditTrail: every kind of recorded action leaves an entry over real HTTP, with the actor, the
// company, the objects, the client address and the request id; no entry carries a password or a
// token; every answer is validated against the OpenAPI document.
func TestAuditTrail(t *testing.T) {
	c := oaChecker(t)
	env := tuServer(t)
	env.client.Transport = c.Transport(nil, t)
	ctx := context.Background()
	acme := env.tuCompany("Acme")
	admin := env.tuUserLoggedIn(bonafide.RoleAdmin, "", "admin@example.com")
	cadmin := env.tuUserLoggedIn(bonafide.RoleClientAdmin, acme.ID, "cadmin@example.com")
	client := env.tuUserLoggedIn(bonafide.RoleClient, acme.ID, "client@example.com")
	operator := env.tuUserLoggedIn(bonafide.RoleOperator, "", "operator@example.com")

	// Logins: success, then a wrong password and an unknown email.
	e := auditWant(env, admin.Token, bonafide.AuditLogin, client.ID, client.ID)
	if e["company_id"] != acme.ID || e["client_address"] != "127.0.0.1" || e["request_id"] == nil {
		t.Errorf("login entry: %v", e)
	}
	env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": "client@example.com", "password": "wrong password"}}).tuExpect(401, 15)
	e = auditWant(env, admin.Token, bonafide.AuditLoginFailed, client.ID, client.ID)
	if d, _ := e["details"].(map[string]any); d["reason"] != "bad_credentials" {
		t.Errorf("failed login entry: %v", e)
	}
	env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": "nobody@example.com", "password": "x"}}).tuExpect(401, 15)
	auditWant(env, admin.Token, bonafide.AuditLoginFailed, "", bonafide.AuditAnonymous)

	// Reads of biometric data: a media through the token header and through its signed URL, a best shot.
	folder := env.tuFolder(client)
	folderID := folder["folder_id"].(string)
	media := folder["media"].([]any)[0].(map[string]any)
	mediaID := media["media_id"].(string)
	signed, _ := url.Parse(media["original_url"].(string))
	env.tuDo("GET", signed.RequestURI(), "", nil, "X-Request-Id", "audit-signed-1").tuExpect(200, 0)
	e = auditWant(env, admin.Token, bonafide.AuditMediaRead, mediaID, bonafide.AuditAnonymous)
	if e["request_id"] != "audit-signed-1" || e["company_id"] != acme.ID {
		t.Errorf("signed media read: %v", e)
	}
	env.tuDo("GET", signed.Path, client.Token, nil).tuExpect(200, 0)
	e = auditWant(env, admin.Token, bonafide.AuditMediaRead, mediaID, client.ID)
	if d, _ := e["details"].(map[string]any); d["via"] != "token" {
		t.Errorf("token media read: %v", e)
	}
	id := env.tuStartAnalysis(client, folderID)
	oaFinish(t, env, id, folderID, mediaID, true)
	env.tuDo("GET", "/static/"+folderID+"/best_shot_"+id+".jpg", operator.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditBestShotRead, folderID, operator.ID)
	// A file that does not exist is no read.
	before := len(auditFind(env, admin.Token, "action=media.read&limit=-1"))
	env.tuDo("GET", "/static/"+folderID+"/nothing.jpg", client.Token, nil).tuExpect(404, int(bonafide.CodeNotExist))
	if after := len(auditFind(env, admin.Token, "action=media.read&limit=-1")); after != before {
		t.Errorf("a missing file was recorded as read (%d -> %d entries)", before, after)
	}

	// An operator's decision.
	env.tuDo("PATCH", "/api/analyses/"+id, operator.Token, map[string]string{"resolution_status": "SUCCESS"}).tuExpect(200, 0)
	e = auditWant(env, admin.Token, bonafide.AuditDecision, id, operator.ID)
	if e["company_id"] != acme.ID {
		t.Errorf("decision entry: %v", e)
	}

	// Person images: read and delete; person and collection deletions.
	col := &bonafide.Collection{ID: uuid.NewString(), CompanyID: acme.ID, Alias: "blacklist"}
	if err := env.Store.CreateCollection(ctx, col); err != nil {
		t.Fatal(err)
	}
	person := &bonafide.Person{ID: uuid.NewString(), CollectionID: col.ID}
	img := &bonafide.PersonImage{ID: uuid.NewString(), PersonID: person.ID, CollectionID: col.ID, OriginalName: "a.jpg", ContentType: "image/jpeg"}
	if err := env.Store.CreatePerson(ctx, person, []*bonafide.PersonImage{img}); err != nil {
		t.Fatal(err)
	}
	ppath := "/api/collections/" + col.ID + "/persons/" + person.ID
	env.tuDo("GET", ppath+"/images/"+img.ID, cadmin.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditPersonImageRead, img.ID, cadmin.ID)
	env.tuDo("GET", ppath+"/images", cadmin.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditPersonImageRead, person.ID, cadmin.ID)
	env.tuDo("DELETE", ppath+"/images/"+img.ID, cadmin.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditPersonImageDel, img.ID, cadmin.ID)
	env.tuDo("DELETE", ppath, cadmin.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditPersonDelete, person.ID, cadmin.ID)
	env.tuDo("DELETE", "/api/collections/"+col.ID, cadmin.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditCollectionDelete, col.ID, cadmin.ID)

	// Deletions of a media and a folder (the entries outlive them).
	env.tuDo("DELETE", "/api/media/"+mediaID, cadmin.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditMediaDelete, mediaID, cadmin.ID)
	env.tuDo("DELETE", "/api/folders/"+folderID, cadmin.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditFolderDelete, folderID, cadmin.ID)
	if n := len(auditFind(env, admin.Token, "object_id="+folderID+"&limit=-1")); n < 5 {
		t.Errorf("after the folder's deletion, %d entries name it; want its reads, decision and deletions", n)
	}

	// Users and roles, companies, the webhook secret.
	u := env.tuDo("POST", "/api/users", cadmin.Token, map[string]any{"email": "new@example.com", "password": "a long enough password",
		"user_type": "CLIENT"}).tuExpect(201, 0).Obj()
	uid := u["user_id"].(string)
	e = auditWant(env, admin.Token, bonafide.AuditUserCreate, uid, cadmin.ID)
	if d, _ := e["details"].(map[string]any); d["role"] != "CLIENT" {
		t.Errorf("user.create entry: %v", e)
	}
	env.tuDo("PATCH", "/api/users/"+uid, cadmin.Token, map[string]any{"user_type": "CLIENT OPERATOR", "password": "another long password"}).tuExpect(200, 0)
	e = auditWant(env, admin.Token, bonafide.AuditUserUpdate, uid, cadmin.ID)
	if d, _ := e["details"].(map[string]any); d["role"] != "CLIENT OPERATOR" || d["previous_role"] != "CLIENT" || d["credentials"] != "changed" {
		t.Errorf("user.update entry: %v", e)
	}
	env.tuDo("DELETE", "/api/users/"+uid, cadmin.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditUserDisable, uid, cadmin.ID)
	co := env.tuDo("POST", "/api/companies", admin.Token, map[string]string{"name": "Beta"}).tuExpect(201, 0).Obj()
	coID := co["company_id"].(string)
	auditWant(env, admin.Token, bonafide.AuditCompanyCreate, coID, admin.ID)
	env.tuDo("PATCH", "/api/companies/"+coID, admin.Token, map[string]string{"name": "Beta 2"}).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditCompanyUpdate, coID, admin.ID)
	env.tuDo("POST", "/api/companies/"+acme.ID+"/webhook_secret", cadmin.Token, nil).tuExpect(200, 0)
	auditWant(env, admin.Token, bonafide.AuditWebhookSecret, acme.ID, cadmin.ID)

	// No entry carries a password, a token or a hash.
	all := env.tuDo("GET", "/api/audit?limit=-1", admin.Token, nil).tuExpect(200, 0)
	for _, secret := range []string{tuPassword, "another long password", "wrong password", client.Token, admin.Token, "argon2", "whsec_"} {
		if strings.Contains(string(all.Body), secret) {
			t.Errorf("the audit trail shows %q", secret)
		}
	}

	// Filters and paging through the API.
	page := env.tuDo("GET", "/api/audit?limit=2&offset=1&actor="+admin.ID, admin.Token, nil).tuExpect(200, 0).Obj()
	if page["limit"] != float64(2) || page["offset"] != float64(1) || page["total_count"] == nil || len(page["items"].([]any)) > 2 {
		t.Errorf("a page: %v", page)
	}
	env.tuDo("GET", "/api/audit?time_created.min=abc", admin.Token, nil).tuExpect(400, int(bonafide.CodeInvalidType))
	if n := len(auditFind(env, admin.Token, "time_created.max=1")); n != 0 {
		t.Errorf("entries before 1970: %d", n)
	}
}

// TestAuditTenancy: ADMIN reads every company's entries, CLIENT ADMIN only its company's, every
// other role is refused with 403 code 9.
func TestAuditTenancy(t *testing.T) {
	env := tuServer(t)
	acme, other := env.tuCompany("Acme"), env.tuCompany("Other")
	admin := env.tuUserLoggedIn(bonafide.RoleAdmin, "", "admin@example.com")
	cadmin := env.tuUserLoggedIn(bonafide.RoleClientAdmin, acme.ID, "cadmin@example.com")
	otherClient := env.tuUserLoggedIn(bonafide.RoleClient, other.ID, "oc@example.com")
	refused := []*tuUser{
		env.tuUserLoggedIn(bonafide.RoleOperator, "", "op@example.com"),
		env.tuUserLoggedIn(bonafide.RoleClient, acme.ID, "c@example.com"),
		env.tuUserLoggedIn(bonafide.RoleClientOperator, acme.ID, "cop@example.com"),
		env.tuUserLoggedIn(bonafide.RoleClientService, acme.ID, "cs@example.com"),
	}
	for _, u := range refused {
		env.tuDo("GET", "/api/audit", u.Token, nil).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
	}
	env.tuDo("GET", "/api/audit", "", nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthNotProvided))

	otherFolder := env.tuFolder(otherClient)["folder_id"].(string)
	env.tuDo("DELETE", "/api/folders/"+otherFolder, admin.Token, nil).tuExpect(200, 0)

	mine := auditFind(env, cadmin.Token, "limit=-1")
	if len(mine) == 0 {
		t.Fatal("CLIENT ADMIN sees no entry of its company (its own login at least)")
	}
	for _, e := range mine {
		if e["company_id"] != acme.ID {
			t.Errorf("CLIENT ADMIN of %s sees an entry of %v: %v", acme.ID, e["company_id"], e)
		}
	}
	if n := len(auditFind(env, cadmin.Token, "object_id="+otherFolder)); n != 0 {
		t.Errorf("CLIENT ADMIN sees %d entries about another company's folder", n)
	}
	if n := len(auditFind(env, admin.Token, "object_id="+otherFolder)); n != 1 {
		t.Errorf("ADMIN sees %d entries about the other company's folder deletion, want 1", n)
	}
}
