package storetest

import (
	"strings"
	"testing"
	"time"

	"bonafide"
)

// testDecideAnalysis: an operator's decision is stored beside the system's resolution (which,
// with the results and the analysis' times, stays as it was), replaces an earlier one, moves the
// folder's updated time, does not change the folder verdict the list filters on, and is refused
// for an analysis that is not FINISHED or does not exist, and for a bad decision.
func testDecideAnalysis(t *testing.T, h *harness) {
	ctx := t.Context()
	m := &bonafide.Media{Kind: bonafide.KindImage}
	f := h.folder(t, &bonafide.Folder{CompanyID: "c1"}, m)
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	running := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	h.analyses(t, a)
	h.clock.Advance(time.Second)
	h.finish(t, a.ID, bonafide.StateFinished, bonafide.ResolutionDeclined)
	before, err := h.s.GetAnalysis(ctx, a.ID)
	ok(t, err, "GetAnalysis")
	if before.Decision != nil {
		t.Fatalf("a new analysis has a decision: %+v", before.Decision)
	}

	at := Epoch.Add(time.Hour).Add(123 * time.Millisecond)
	d := &bonafide.Decision{Resolution: bonafide.ResolutionSuccess, UserID: "op-1", Comment: "the ID photo matches; glare on the screen", At: at}
	ok(t, h.s.DecideAnalysis(ctx, a.ID, d), "DecideAnalysis")
	got, err := h.s.GetAnalysis(ctx, a.ID)
	ok(t, err, "GetAnalysis after decision")
	if got.Decision == nil {
		t.Fatal("the decision was not stored")
	}
	sameTime(t, got.Decision.At, at, "decision time")
	got.Decision.At = at
	equal(t, *got.Decision, *d, "decision")
	equal(t, [2]string{got.State, got.Resolution}, [2]string{bonafide.StateFinished, bonafide.ResolutionDeclined}, "the system's verdict stays")
	sameTime(t, got.Updated, before.Updated, "the analysis' updated time stays")
	fg, err := h.s.GetFolder(ctx, f.ID)
	ok(t, err, "GetFolder")
	sameTime(t, fg.Updated, at, "the folder's updated time moves to the decision")
	list, err := h.s.ListAnalyses(ctx, f.ID)
	ok(t, err, "ListAnalyses")
	if len(list) != 1 || list[0].Decision == nil || list[0].Decision.Resolution != bonafide.ResolutionSuccess {
		t.Fatalf("ListAnalyses does not carry the decision: %+v", list)
	}
	_, total, err := h.s.ListFolders(ctx, bonafide.FolderFilter{ResolutionStatus: bonafide.ResolutionDeclined, Limit: 0, WithTotal: true})
	ok(t, err, "ListFolders DECLINED")
	equal(t, total, 1, "the folder verdict (system_resolution) stays DECLINED")

	again := &bonafide.Decision{Resolution: bonafide.ResolutionDeclined, UserID: "op-2", At: at.Add(time.Minute)}
	ok(t, h.s.DecideAnalysis(ctx, a.ID, again), "DecideAnalysis again")
	got, err = h.s.GetAnalysis(ctx, a.ID)
	ok(t, err, "GetAnalysis after second decision")
	equal(t, [3]string{got.Decision.Resolution, got.Decision.UserID, got.Decision.Comment}, [3]string{bonafide.ResolutionDeclined, "op-2", ""}, "a later decision replaces the first")

	h.analyses(t, running)
	wantCode(t, h.s.DecideAnalysis(ctx, running.ID, d), bonafide.CodeInvalidValue, "DecideAnalysis on a PROCESSING analysis")
	h.finish(t, running.ID, bonafide.StateFailed, "")
	wantCode(t, h.s.DecideAnalysis(ctx, running.ID, d), bonafide.CodeInvalidValue, "DecideAnalysis on a FAILED analysis")
	got, err = h.s.GetAnalysis(ctx, running.ID)
	ok(t, err, "GetAnalysis failed")
	if got.Decision != nil {
		t.Fatalf("a refused decision was stored: %+v", got.Decision)
	}
	wantNotFound(t, h.s.DecideAnalysis(ctx, "no-such-analysis", d), "DecideAnalysis missing")
	wantCode(t, h.s.DecideAnalysis(ctx, a.ID, &bonafide.Decision{Resolution: "MAYBE", UserID: "op-1", At: at}), bonafide.CodeInvalidValue, "a resolution that is no decision")
	wantCode(t, h.s.DecideAnalysis(ctx, a.ID, &bonafide.Decision{Resolution: bonafide.ResolutionSuccess, At: at}), bonafide.CodeInvalidValue, "a decision without its user")
	long := &bonafide.Decision{Resolution: bonafide.ResolutionSuccess, UserID: "op-1", Comment: strings.Repeat("é", bonafide.MaxDecisionComment+1), At: at}
	wantCode(t, h.s.DecideAnalysis(ctx, a.ID, long), bonafide.CodeInvalidValue, "a comment over the limit")
}

// testListFoldersAnalysisType: the analysis-type filter keeps the folders with at least one
// analysis of the type, with an exact total, and combines with the other filters.
func testListFoldersAnalysisType(t *testing.T, h *harness) {
	ctx := t.Context()
	at := func(m int) time.Time { return Epoch.Add(time.Duration(m) * time.Minute) }
	q := h.folder(t, &bonafide.Folder{ID: "q", CompanyID: "c1", Created: at(0), Updated: at(0)})
	b := h.folder(t, &bonafide.Folder{ID: "b", CompanyID: "c1", Created: at(1), Updated: at(1)})
	both := h.folder(t, &bonafide.Folder{ID: "qb", CompanyID: "c2", Created: at(2), Updated: at(2)})
	h.folder(t, &bonafide.Folder{ID: "none", CompanyID: "c1", Created: at(3), Updated: at(3)})
	h.analyses(t, &bonafide.Analysis{FolderID: q.ID, Type: "QUALITY"})
	h.analyses(t, &bonafide.Analysis{FolderID: b.ID, Type: "BIOMETRY"})
	h.analyses(t, &bonafide.Analysis{FolderID: both.ID, Type: "QUALITY"}, &bonafide.Analysis{FolderID: both.ID, Type: "BIOMETRY"})
	cases := []struct {
		name   string
		filter bonafide.FolderFilter
		want   []string
	}{
		{"QUALITY", bonafide.FolderFilter{AnalysisType: "QUALITY"}, []string{"qb", "q"}},
		{"BIOMETRY", bonafide.FolderFilter{AnalysisType: "BIOMETRY"}, []string{"qb", "b"}},
		{"COLLECTION (none)", bonafide.FolderFilter{AnalysisType: "COLLECTION"}, []string{}},
		{"QUALITY in c1", bonafide.FolderFilter{AnalysisType: "QUALITY", CompanyID: "c1"}, []string{"q"}},
		{"any", bonafide.FolderFilter{}, []string{"none", "qb", "b", "q"}},
	}
	for _, c := range cases {
		c.filter.Limit, c.filter.WithTotal = -1, true
		got, total, err := h.s.ListFolders(ctx, c.filter)
		ok(t, err, c.name)
		equal(t, folderIDs(got), c.want, c.name)
		equal(t, total, len(c.want), c.name+" total")
	}
}

// testImportDecision: CreateAnalyses keeps the decision of an imported FINISHED analysis (a data
// migration copies analyses this way) and refuses one on an analysis that is not FINISHED.
func testImportDecision(t *testing.T, h *harness) {
	ctx := t.Context()
	f := h.folder(t, &bonafide.Folder{})
	at := Epoch.Add(-time.Hour)
	d := &bonafide.Decision{Resolution: bonafide.ResolutionDeclined, UserID: "op-9", Comment: "imported", At: at}
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY", State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess,
		Created: at.Add(-time.Minute), Updated: at.Add(-time.Minute), Decision: d}
	h.analyses(t, a)
	got, err := h.s.GetAnalysis(ctx, a.ID)
	ok(t, err, "GetAnalysis")
	if got.Decision == nil {
		t.Fatal("the imported decision was lost")
	}
	sameTime(t, got.Decision.At, at, "imported decision time")
	equal(t, [3]string{got.Decision.Resolution, got.Decision.UserID, got.Decision.Comment}, [3]string{d.Resolution, d.UserID, d.Comment}, "imported decision")
	equal(t, got.Resolution, bonafide.ResolutionSuccess, "the imported system verdict")
	wantCode(t, h.s.CreateAnalyses(ctx, []*bonafide.Analysis{{FolderID: f.ID, Type: "QUALITY", Decision: d}}), bonafide.CodeInvalidValue,
		"a decision on a PROCESSING analysis")
}
