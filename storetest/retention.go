package storetest

import (
	"slices"
	"testing"
	"time"

	"bonafide"
)

func dur(d time.Duration) *time.Duration { return &d }

// testRetention walks the retention's selection with a controlled clock: per-company settings
// over the server default, "0" keeping for ever, the media clock starting at the folder's last
// analysis (its creation when never analysed), folders with an analysis processing left alone,
// batches bounded, and each step idempotent.
func testRetention(t *testing.T, h *harness) {
	ctx := t.Context()
	def := bonafide.RetentionPolicy{Media: 2 * time.Hour, Folders: 10 * time.Hour}

	a := &bonafide.Company{Name: "A"}
	b := &bonafide.Company{Name: "B"}
	keep := &bonafide.Company{Name: "Keep"}
	for _, c := range []*bonafide.Company{a, b, keep} {
		ok(t, h.s.CreateCompany(ctx, c), "CreateCompany")
	}
	ok(t, h.s.SetCompanyRetention(ctx, a.ID, bonafide.Retention{Media: dur(time.Hour), Folders: dur(0)}), "SetCompanyRetention A")
	ok(t, h.s.SetCompanyRetention(ctx, keep.ID, bonafide.Retention{Media: dur(0), Folders: dur(0)}), "SetCompanyRetention Keep")
	wantNotFound(t, h.s.SetCompanyRetention(ctx, "no-such-company", bonafide.Retention{}), "SetCompanyRetention missing")
	got, err := h.s.GetCompany(ctx, a.ID)
	ok(t, err, "GetCompany A")
	equal(t, [2]any{got.Retention.Media, got.Retention.Folders}, [2]any{dur(time.Hour), dur(0)}, "A's retention")
	got, err = h.s.GetCompany(ctx, b.ID)
	ok(t, err, "GetCompany B")
	equal(t, got.Retention, bonafide.Retention{}, "B's retention (the default)")

	media := func(key string) *bonafide.Media { return &bonafide.Media{Kind: bonafide.KindImage, BlobKey: key} }
	mAnalysed, mNever := media("fa1/m.jpg"), media("fa2/m.jpg")
	fAnalysed := h.folder(t, &bonafide.Folder{CompanyID: a.ID}, mAnalysed)
	fNever := h.folder(t, &bonafide.Folder{CompanyID: a.ID}, mNever)
	mB, mBusy, mKeep, mNone := media("fb1/m.jpg"), media("fb2/m.jpg"), media("fk/m.jpg"), media("fn/m.jpg")
	fB := h.folder(t, &bonafide.Folder{CompanyID: b.ID}, mB)
	fBusy := h.folder(t, &bonafide.Folder{CompanyID: b.ID}, mBusy)
	fKeep := h.folder(t, &bonafide.Folder{CompanyID: keep.ID}, mKeep)
	fNone := h.folder(t, &bonafide.Folder{}, mNone) // no company: the default
	busy := &bonafide.Analysis{FolderID: fBusy.ID, Type: "QUALITY"}
	done := &bonafide.Analysis{FolderID: fAnalysed.ID, Type: "QUALITY"}
	h.analyses(t, busy, done)
	h.clock.Advance(30 * time.Minute)
	ok(t, h.s.FinishAnalysis(ctx, &bonafide.Analysis{ID: done.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess,
		Results: []bonafide.MediaResult{{MediaID: mAnalysed.ID, Kind: bonafide.KindImage, Resolution: bonafide.ResolutionSuccess, BestShotKey: "fa1/best.jpg"}}}),
		"FinishAnalysis")

	mark := func(want int, what string) {
		t.Helper()
		n, err := h.s.MarkMediaForRetention(ctx, h.clock.Now(), def, 100)
		ok(t, err, "MarkMediaForRetention "+what)
		equal(t, n, want, "media marked "+what)
	}
	pending := func(what string, want ...bonafide.MediaDeletion) {
		t.Helper()
		ds, err := h.s.PendingMediaDeletions(ctx, 100)
		ok(t, err, "PendingMediaDeletions "+what)
		if want == nil {
			want = []bonafide.MediaDeletion{}
		}
		equal(t, ds, want, "pending media "+what)
	}

	h.clock.Set(Epoch.Add(59 * time.Minute))
	mark(0, "before any retention is due")
	h.clock.Set(Epoch.Add(time.Hour))
	mark(1, "at A's hour: the never-analysed folder's media")
	mark(0, "again")
	pending("after the first mark", bonafide.MediaDeletion{MediaID: mNever.ID, FolderID: fNever.ID, Keys: []string{"fa2/m.jpg"}})
	g, err := h.s.GetMedia(ctx, mNever.ID)
	ok(t, err, "GetMedia marked")
	if g.Deleted == nil || !g.Deleted.Equal(Epoch.Add(time.Hour)) || g.DeletedReason != bonafide.DeletedByRetention {
		t.Fatalf("marked media: deleted %v reason %q", g.Deleted, g.DeletedReason)
	}
	ok(t, h.s.FinishMediaDeletions(ctx, []string{mNever.ID}, h.clock.Now()), "FinishMediaDeletions")
	ok(t, h.s.FinishMediaDeletions(ctx, []string{mNever.ID}, h.clock.Now()), "FinishMediaDeletions again")
	pending("after finishing")
	g, err = h.s.GetMedia(ctx, mNever.ID)
	ok(t, err, "GetMedia finished")
	equal(t, [2]any{g.Deleted != nil, g.DeletedReason}, [2]any{true, bonafide.DeletedByRetention}, "finished media stays deleted")

	h.clock.Set(Epoch.Add(90*time.Minute - time.Millisecond))
	mark(0, "just before an hour after the last analysis finished")
	h.clock.Set(Epoch.Add(90 * time.Minute))
	mark(1, "an hour after the last analysis finished")
	pending("with a best shot", bonafide.MediaDeletion{MediaID: mAnalysed.ID, FolderID: fAnalysed.ID, Keys: []string{"fa1/m.jpg", "fa1/best.jpg"}})
	ok(t, h.s.FinishMediaDeletions(ctx, []string{mAnalysed.ID}, h.clock.Now()), "FinishMediaDeletions")
	a2, err := h.s.GetAnalysis(ctx, done.ID)
	ok(t, err, "GetAnalysis")
	equal(t, a2.Results[0].Resolution, bonafide.ResolutionSuccess, "the analysis' results stay")

	h.clock.Set(Epoch.Add(2 * time.Hour))
	n, err := h.s.MarkMediaForRetention(ctx, h.clock.Now(), def, 1)
	ok(t, err, "MarkMediaForRetention limit 1")
	equal(t, n, 1, "a batch is bounded")
	mark(1, "the rest of the default's media")
	ds, err := h.s.PendingMediaDeletions(ctx, 100)
	ok(t, err, "PendingMediaDeletions")
	ids := []string{}
	for _, d := range ds {
		ids = append(ids, d.MediaID)
	}
	slices.Sort(ids)
	want := []string{mB.ID, mNone.ID}
	slices.Sort(want)
	equal(t, ids, want, "default's media due (not the busy folder's, not Keep's)")
	ok(t, h.s.FinishMediaDeletions(ctx, ids, h.clock.Now()), "FinishMediaDeletions")
	for _, id := range []string{mBusy.ID, mKeep.ID} {
		g, err := h.s.GetMedia(ctx, id)
		ok(t, err, "GetMedia kept")
		if g.Deleted != nil {
			t.Fatalf("media %s deleted", id)
		}
	}

	// Folders: the default's 10 h for B and no company; A and Keep keep theirs.
	h.clock.Set(Epoch.Add(10*time.Hour - time.Millisecond))
	nf, err := h.s.MarkFoldersForRetention(ctx, h.clock.Now(), def, 100)
	ok(t, err, "MarkFoldersForRetention early")
	equal(t, nf, 0, "folders marked before their time")
	h.clock.Set(Epoch.Add(10 * time.Hour))
	nf, err = h.s.MarkFoldersForRetention(ctx, h.clock.Now(), def, 1)
	ok(t, err, "MarkFoldersForRetention")
	equal(t, nf, 1, "folders marked, limit 1")
	nf, err = h.s.MarkFoldersForRetention(ctx, h.clock.Now(), def, 100)
	ok(t, err, "MarkFoldersForRetention")
	equal(t, nf, 1, "folders marked, the rest")
	nf, err = h.s.MarkFoldersForRetention(ctx, h.clock.Now(), def, 100)
	ok(t, err, "MarkFoldersForRetention again")
	equal(t, nf, 0, "folders marked again")
	fs, err := h.s.PendingFolderDeletions(ctx, 100)
	ok(t, err, "PendingFolderDeletions")
	slices.Sort(fs)
	want = []string{fB.ID, fNone.ID}
	slices.Sort(want)
	equal(t, fs, want, "folders due (not the busy one, not A's or Keep's)")
	pending("media of marked folders are left to the folder's removal")
	for _, id := range fs {
		ok(t, h.s.DeleteFolder(ctx, id), "DeleteFolder")
	}
	fs, err = h.s.PendingFolderDeletions(ctx, 100)
	ok(t, err, "PendingFolderDeletions after")
	equal(t, fs, []string{}, "no folder pending")
	for _, f := range []*bonafide.Folder{fAnalysed, fNever, fBusy, fKeep} {
		_, err := h.s.GetFolder(ctx, f.ID)
		ok(t, err, "kept folder")
	}

	// A marked folder's live media show deleted at once.
	h.clock.Set(Epoch.Add(11 * time.Hour))
	late := media("fl/m.jpg")
	fLate := h.folder(t, &bonafide.Folder{CompanyID: b.ID}, late)
	h.clock.Set(Epoch.Add(21 * time.Hour))
	def.Media = 0 // the default keeps media: only the folder rule applies
	nf, err = h.s.MarkFoldersForRetention(ctx, h.clock.Now(), def, 100)
	ok(t, err, "MarkFoldersForRetention late")
	equal(t, nf, 1, "late folder marked")
	g, err = h.s.GetMedia(ctx, late.ID)
	ok(t, err, "GetMedia of marked folder")
	if g.Deleted == nil || g.DeletedReason != bonafide.DeletedByRetention {
		t.Fatalf("media of a marked folder: deleted %v reason %q", g.Deleted, g.DeletedReason)
	}
	ok(t, h.s.DeleteFolder(ctx, fLate.ID), "DeleteFolder late")
}
