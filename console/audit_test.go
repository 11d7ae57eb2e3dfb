package console_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"bonafide"
)

// TestConsoleAudit: opening a folder's page and deciding there are recorded in the audit trail
// (with the client address and the request id, as serve mounts the console); the folder page shows
// the folder's entries to ADMIN and to its company's CLIENT ADMIN, and to no one else.
func TestConsoleAudit(t *testing.T) {
	e := coServer(t, coOpts{})
	acme := e.company("Acme")
	client := e.user(bonafide.RoleClient, acme.ID, "client@example.com")
	operator := e.user(bonafide.RoleOperator, "", "operator@example.com")
	e.user(bonafide.RoleAdmin, "", "admin@example.com")
	e.user(bonafide.RoleClientAdmin, acme.ID, "cadmin@example.com")
	folderID, analysisID := finishedFolder(t, e, client)

	oc := e.newClient()
	oc.login("operator@example.com")
	page := oc.do("GET", "/console/folders/"+folderID, nil)
	if page.Status != 200 || strings.Contains(page.Body, "Audit trail") {
		t.Errorf("an OPERATOR's folder page: want it without the audit trail: %s", page)
	}
	if r := oc.do("POST", "/console/analyses/"+analysisID+"/decision", url.Values{"csrf": {page.csrf(t)}, "resolution": {"SUCCESS"}}); r.Status != 303 {
		t.Fatalf("the operator's decision: %s", r)
	}
	ctx := context.Background()
	for _, action := range []string{bonafide.AuditFolderView, bonafide.AuditDecision} {
		es, _, err := e.Store.ListAudit(ctx, bonafide.AuditFilter{Action: action, ObjectID: folderID, Actor: operator.ID, Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			t.Fatalf("no %s entry of the operator for folder %s", action, folderID)
		}
		if es[0].CompanyID != acme.ID || es[0].ClientAddr != "127.0.0.1" || es[0].RequestID == "" {
			t.Errorf("%s entry: %+v", action, es[0])
		}
	}

	// The operator is named as in a decision (bonafide.CanSeeDeciderEmail): by email to ADMIN, by
	// id to a client company's CLIENT ADMIN.
	for email, who := range map[string]string{"admin@example.com": "operator@example.com", "cadmin@example.com": operator.ID} {
		c := e.newClient()
		c.login(email)
		r := c.do("GET", "/console/folders/"+folderID, nil)
		if r.Status != 200 || !strings.Contains(r.Body, `<h2 id="audit-title">Audit trail</h2>`) ||
			!strings.Contains(r.Body, "<code>analysis.decision</code>") || !strings.Contains(r.Body, "<td>"+who+"</td>") ||
			!strings.Contains(r.Body, "analysis "+analysisID) {
			t.Errorf("%s: the folder page does not show the folder's audit trail: %s", email, r)
		}
	}
	cc := e.newClient()
	cc.login("client@example.com")
	if r := cc.do("GET", "/console/folders/"+folderID, nil); r.Status != 200 || strings.Contains(r.Body, "Audit trail") {
		t.Errorf("a CLIENT's folder page shows the audit trail: %s", r)
	}
}
