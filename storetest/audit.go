package storetest

import (
	"testing"
	"time"

	"bonafide"
)

func auditActions(es []*bonafide.AuditEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

// testAudit: append (ids and times filled from the store's clock), read back as written, newest
// first with ties in append order reversed, every filter, paging with a total, and the refusals.
func testAudit(t *testing.T, h *harness) {
	ctx := t.Context()
	add := func(e bonafide.AuditEntry) *bonafide.AuditEntry {
		t.Helper()
		ok(t, bonafide.Audit(ctx, h.s, e), "Audit "+e.Action)
		got, _, err := h.s.ListAudit(ctx, bonafide.AuditFilter{Limit: 1})
		ok(t, err, "ListAudit")
		return got[0]
	}
	first := add(bonafide.AuditEntry{Actor: "u1", CompanyID: "c1", Action: bonafide.AuditLogin,
		Objects: []bonafide.AuditObject{bonafide.Obj(bonafide.ObjUser, "u1")}, ClientAddr: "192.0.2.7", RequestID: "req-1"})
	if first.ID == "" {
		t.Fatal("AppendAudit left the id empty")
	}
	sameTime(t, first.Time, Epoch, "entry time from the store's clock")
	equal(t, first.Objects, []bonafide.AuditObject{{Type: "user", ID: "u1"}}, "objects")
	equal(t, first.ClientAddr, "192.0.2.7", "client address")
	equal(t, first.RequestID, "req-1", "request id")
	if first.Details != nil {
		t.Errorf("no details read back as %v, want nil", first.Details)
	}
	// Same millisecond: the later append lists first.
	read := add(bonafide.AuditEntry{Actor: "u1", CompanyID: "c1", Action: bonafide.AuditMediaRead,
		Objects: []bonafide.AuditObject{bonafide.Obj(bonafide.ObjFolder, "f1"), bonafide.Obj(bonafide.ObjMedia, "m1")},
		Details: map[string]string{"via": "signed_url"}})
	equal(t, read.Details, map[string]string{"via": "signed_url"}, "details")
	h.clock.Advance(time.Hour)
	add(bonafide.AuditEntry{Actor: "u2", CompanyID: "c2", Action: bonafide.AuditFolderDelete,
		Objects: []bonafide.AuditObject{bonafide.Obj(bonafide.ObjFolder, "f2")}})
	h.clock.Advance(time.Hour)
	sys := add(bonafide.AuditEntry{Action: bonafide.AuditRetentionRun, Details: map[string]string{"media": "3"}})
	equal(t, sys.Actor, bonafide.AuditSystem, "an empty actor is the system")
	// An explicit time is kept (an import).
	ok(t, h.s.AppendAudit(ctx, &bonafide.AuditEntry{Time: Epoch.Add(-48 * time.Hour), Actor: "u1", CompanyID: "c1",
		Action: bonafide.AuditDecision, Objects: []bonafide.AuditObject{bonafide.Obj(bonafide.ObjAnalysis, "a1"), bonafide.Obj(bonafide.ObjFolder, "f1")}}), "AppendAudit with a time")

	list := func(f bonafide.AuditFilter) ([]string, int) {
		t.Helper()
		f.WithTotal = true
		if f.Limit == 0 {
			f.Limit = -1
		}
		es, total, err := h.s.ListAudit(ctx, f)
		ok(t, err, "ListAudit")
		return auditActions(es), total
	}
	all, total := list(bonafide.AuditFilter{})
	equal(t, all, []string{"retention.run", "folder.delete", "media.read", "login", "analysis.decision"}, "all, newest first")
	equal(t, total, 5, "total")
	got, _ := list(bonafide.AuditFilter{CompanyID: "c1"})
	equal(t, got, []string{"media.read", "login", "analysis.decision"}, "company c1")
	got, _ = list(bonafide.AuditFilter{Action: bonafide.AuditFolderDelete})
	equal(t, got, []string{"folder.delete"}, "by action")
	got, _ = list(bonafide.AuditFilter{Actor: "u1"})
	equal(t, got, []string{"media.read", "login", "analysis.decision"}, "by actor")
	got, _ = list(bonafide.AuditFilter{ObjectID: "f1"})
	equal(t, got, []string{"media.read", "analysis.decision"}, "by object id")
	got, _ = list(bonafide.AuditFilter{ObjectID: "f1", CompanyID: "c2"})
	equal(t, got, []string{}, "object of another company")
	got, _ = list(bonafide.AuditFilter{TimeMin: ptr(Epoch), TimeMax: ptr(Epoch.Add(time.Hour))})
	equal(t, got, []string{"folder.delete", "media.read", "login"}, "time bounds are inclusive")
	got, _ = list(bonafide.AuditFilter{OldestFirst: true})
	equal(t, got, []string{"analysis.decision", "login", "media.read", "folder.delete", "retention.run"}, "oldest first")
	page, total := list(bonafide.AuditFilter{Offset: 1, Limit: 2})
	equal(t, page, []string{"folder.delete", "media.read"}, "a page")
	equal(t, total, 5, "a page's total counts every entry")
	es, total, err := h.s.ListAudit(ctx, bonafide.AuditFilter{Limit: -1})
	ok(t, err, "ListAudit without total")
	equal(t, total, -1, "total not asked")
	equal(t, len(es), 5, "no limit")

	// Refused: secrets in details, no action, bad objects.
	wantCode(t, bonafide.Audit(ctx, h.s, bonafide.AuditEntry{Action: "login", Details: map[string]string{"password": "x"}}),
		bonafide.CodeInvalidValue, "a password detail")
	wantCode(t, bonafide.Audit(ctx, h.s, bonafide.AuditEntry{Actor: "u1"}), bonafide.CodeInvalidValue, "no action")
	wantCode(t, h.s.AppendAudit(ctx, &bonafide.AuditEntry{Actor: "u1", Action: "x", Objects: []bonafide.AuditObject{{Type: "folder"}}}),
		bonafide.CodeInvalidValue, "an object without id")
	_, total = list(bonafide.AuditFilter{})
	equal(t, total, 5, "refused entries are not stored")
}

// testDeleteAuditBefore: entries strictly older than the cut go, with their object rows; the
// others stay and still filter by object.
func testDeleteAuditBefore(t *testing.T, h *harness) {
	ctx := t.Context()
	for i := range 4 {
		ok(t, bonafide.Audit(ctx, h.s, bonafide.AuditEntry{Actor: "u1", Action: bonafide.AuditMediaRead,
			Objects: []bonafide.AuditObject{bonafide.Obj(bonafide.ObjMedia, "m")}, Details: map[string]string{"i": string(rune('0' + i))}}), "Audit")
		h.clock.Advance(24 * time.Hour)
	}
	n, err := h.s.DeleteAuditBefore(ctx, Epoch.Add(48*time.Hour))
	ok(t, err, "DeleteAuditBefore")
	equal(t, n, 2, "deleted")
	es, total, err := h.s.ListAudit(ctx, bonafide.AuditFilter{ObjectID: "m", Limit: -1, WithTotal: true})
	ok(t, err, "ListAudit")
	equal(t, total, 2, "left")
	equal(t, es[0].Details["i"], "3", "newest kept")
	equal(t, es[1].Details["i"], "2", "the entry at the cut kept")
	n, err = h.s.DeleteAuditBefore(ctx, Epoch)
	ok(t, err, "DeleteAuditBefore again")
	equal(t, n, 0, "nothing older")
}
