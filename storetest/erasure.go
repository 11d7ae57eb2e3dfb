package storetest

import (
	"errors"
	"slices"
	"testing"

	"bonafide"
)

// erasureFixture is two companies' folders and persons, some for subject c-42.
type erasureFixture struct {
	f1, f2, f3, f4 *bonafide.Folder // f1 co1 c-42 (2 media, 1 best shot); f2 co1 c-43; f3 co2 c-42; f4 co1 no meta (1 media)
	p1, p2, p3     *bonafide.Person // p1 co1 c-42 (1 image); p2 co1 c-43; p3 co2 c-42
	c1             *bonafide.Collection
}

func (h *harness) erasureFixture(t *testing.T) *erasureFixture {
	t.Helper()
	ctx := t.Context()
	x := &erasureFixture{}
	m1 := &bonafide.Media{Kind: bonafide.KindImage, BlobKey: "x/1.jpg"}
	x.f1 = h.folder(t, &bonafide.Folder{CompanyID: "co1", MetaData: []byte(`{"client_id": "c-42", "n": 1}`)},
		m1, &bonafide.Media{Kind: bonafide.KindImage, BlobKey: "x/2.jpg"})
	x.f2 = h.folder(t, &bonafide.Folder{CompanyID: "co1", MetaData: []byte(`{"client_id": "c-43"}`)}, &bonafide.Media{Kind: bonafide.KindImage})
	x.f3 = h.folder(t, &bonafide.Folder{CompanyID: "co2", MetaData: []byte(`{"client_id": "c-42"}`)}, &bonafide.Media{Kind: bonafide.KindImage})
	x.f4 = h.folder(t, &bonafide.Folder{CompanyID: "co1"}, &bonafide.Media{Kind: bonafide.KindImage})
	a := &bonafide.Analysis{FolderID: x.f1.ID, Type: "QUALITY"}
	h.analyses(t, a)
	ok(t, h.s.FinishAnalysis(ctx, &bonafide.Analysis{ID: a.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess,
		Results: []bonafide.MediaResult{{MediaID: m1.ID, Kind: bonafide.KindImage, Resolution: bonafide.ResolutionSuccess,
			BestShotKey: x.f1.ID + "/best.jpg"}}}), "FinishAnalysis")

	x.c1 = &bonafide.Collection{CompanyID: "co1"}
	ok(t, h.s.CreateCollection(ctx, x.c1), "CreateCollection co1")
	c2 := &bonafide.Collection{CompanyID: "co2"}
	ok(t, h.s.CreateCollection(ctx, c2), "CreateCollection co2")
	x.p1 = &bonafide.Person{CollectionID: x.c1.ID, MetaData: []byte(`{"client_id": "c-42"}`)}
	ok(t, h.s.CreatePerson(ctx, x.p1, []*bonafide.PersonImage{{Tags: []string{}, Embedding: []float32{1, 0}}}), "CreatePerson p1")
	x.p2 = &bonafide.Person{CollectionID: x.c1.ID, MetaData: []byte(`{"client_id": "c-43"}`)}
	ok(t, h.s.CreatePerson(ctx, x.p2, nil), "CreatePerson p2")
	x.p3 = &bonafide.Person{CollectionID: c2.ID, MetaData: []byte(`{"client_id": "c-42"}`)}
	ok(t, h.s.CreatePerson(ctx, x.p3, nil), "CreatePerson p3")
	return x
}

func sorted(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

// testErasureSelect checks what a selector picks (dry runs): by folder meta data, by folder ids
// (the union of both), by person meta data, and only within the company of the scope.
func testErasureSelect(t *testing.T, h *harness) {
	ctx := t.Context()
	x := h.erasureFixture(t)

	wantCode(t, h.s.CreateErasure(ctx, &bonafide.Erasure{DryRun: true}), bonafide.CodeInvalidValue, "empty selector")
	many := make([]string, bonafide.MaxErasureTargets+1)
	for i := range many {
		many[i] = "id"
	}
	wantCode(t, h.s.CreateErasure(ctx, &bonafide.Erasure{DryRun: true, Selector: bonafide.ErasureSelector{FolderIDs: many}}),
		bonafide.CodeInvalidValue, "too many folder ids")

	e := &bonafide.Erasure{CompanyID: "co1", UserID: "u1", DryRun: true, ClientAddr: "192.0.2.1", RequestID: "req-1",
		Selector: bonafide.ErasureSelector{FolderMeta: map[string]string{"client_id": "c-42"}, FolderIDs: []string{x.f4.ID, x.f3.ID, "no-such"},
			PersonMeta: map[string]string{"client_id": "c-42"}}}
	ok(t, h.s.CreateErasure(ctx, e), "CreateErasure dry run")
	equal(t, e.Status, bonafide.ErasureFinished, "dry run status")
	equal(t, e.FolderIDs, sorted(x.f1.ID, x.f4.ID), "dry run folders (f3 is another company's)")
	equal(t, e.PersonIDs, []string{x.p1.ID}, "dry run persons")
	equal(t, [4]int{e.Folders, e.Media, e.BestShots, e.Persons}, [4]int{2, 3, 1, 1}, "dry run counts (folders, media, best shots, persons)")
	equal(t, len(h.enq.Erasures()), 0, "a dry run enqueues nothing")
	got, err := h.s.GetErasure(ctx, e.ID)
	ok(t, err, "GetErasure")
	sameTime(t, got.Created, Epoch, "Created")
	sameTime(t, got.Finished, Epoch, "Finished")
	got.Created, got.Finished = e.Created, e.Finished
	equal(t, got, e, "GetErasure round trip")
	for _, f := range []*bonafide.Folder{x.f1, x.f4} {
		_, err := h.s.GetFolder(ctx, f.ID)
		ok(t, err, "a dry run deletes nothing")
	}
	_, err = h.s.GetPerson(ctx, x.p1.ID)
	ok(t, err, "a dry run deletes no person")
	_, err = h.s.GetErasure(ctx, "no-such")
	wantNotFound(t, err, "GetErasure missing")

	all := &bonafide.Erasure{DryRun: true, Selector: bonafide.ErasureSelector{FolderMeta: map[string]string{"client_id": "c-42"},
		PersonMeta: map[string]string{"client_id": "c-42"}}}
	ok(t, h.s.CreateErasure(ctx, all), "CreateErasure every company")
	equal(t, all.FolderIDs, sorted(x.f1.ID, x.f3.ID), "every company's folders")
	equal(t, all.PersonIDs, sorted(x.p1.ID, x.p3.ID), "every company's persons")

	ids := &bonafide.Erasure{DryRun: true, Selector: bonafide.ErasureSelector{FolderIDs: []string{x.f2.ID}}}
	ok(t, h.s.CreateErasure(ctx, ids), "CreateErasure by id")
	equal(t, ids.FolderIDs, []string{x.f2.ID}, "by id")
	equal(t, ids.PersonIDs, []string{}, "by id: no persons")

	both := &bonafide.Erasure{DryRun: true, Selector: bonafide.ErasureSelector{FolderMeta: map[string]string{"client_id": "c-42", "n": "1"}}}
	ok(t, h.s.CreateErasure(ctx, both), "CreateErasure two keys")
	equal(t, both.FolderIDs, []string{x.f1.ID}, "every key must match")

	other := &bonafide.Erasure{CompanyID: "co2", DryRun: true, Selector: bonafide.ErasureSelector{FolderIDs: []string{x.f1.ID, x.f2.ID},
		PersonMeta: map[string]string{"client_id": "c-43"}}}
	ok(t, h.s.CreateErasure(ctx, other), "CreateErasure of another company's ids")
	equal(t, [2]int{len(other.FolderIDs), len(other.PersonIDs)}, [2]int{0, 0}, "another company's folders and persons are never selected")
}

// testErasure works a real erasure step by step, as the job does.
func testErasure(t *testing.T, h *harness) {
	ctx := t.Context()
	x := h.erasureFixture(t)
	coll, err := h.s.GetCollection(ctx, x.c1.ID)
	ok(t, err, "GetCollection")

	e := &bonafide.Erasure{CompanyID: "co1", UserID: "u1", Selector: bonafide.ErasureSelector{
		FolderMeta: map[string]string{"client_id": "c-42"}, FolderIDs: []string{x.f4.ID}, PersonMeta: map[string]string{"client_id": "c-42"}}}
	ok(t, h.s.CreateErasure(ctx, e), "CreateErasure")
	equal(t, e.Status, bonafide.ErasureInProgress, "status")
	equal(t, h.enq.Erasures(), []string{e.ID}, "the erasure's job is enqueued")
	todo, err := h.s.ErasureFolders(ctx, e.ID)
	ok(t, err, "ErasureFolders")
	equal(t, todo, sorted(x.f1.ID, x.f4.ID), "folders to erase")
	_, err = h.s.GetFolder(ctx, x.f1.ID)
	ok(t, err, "nothing is deleted before the job runs")

	ok(t, h.s.EraseFolder(ctx, e.ID, x.f1.ID), "EraseFolder f1")
	ok(t, h.s.EraseFolder(ctx, e.ID, x.f1.ID), "EraseFolder f1 again")
	ok(t, h.s.EraseFolder(ctx, e.ID, x.f2.ID), "EraseFolder of a folder the erasure did not select")
	_, err = h.s.GetFolder(ctx, x.f1.ID)
	wantNotFound(t, err, "erased folder")
	_, err = h.s.ListMedia(ctx, x.f1.ID)
	if err == nil {
		ms, _ := h.s.ListMedia(ctx, x.f1.ID)
		equal(t, len(ms), 0, "erased folder's media")
	}
	_, err = h.s.GetFolder(ctx, x.f2.ID)
	ok(t, err, "a folder the erasure did not select stays")
	got, err := h.s.GetErasure(ctx, e.ID)
	ok(t, err, "GetErasure")
	equal(t, got.Status, bonafide.ErasureInProgress, "status mid-way")
	equal(t, [4]int{got.Folders, got.Media, got.BestShots, got.Persons}, [4]int{1, 2, 1, 0}, "counts after f1, counted once")
	if err := h.s.FinishErasure(ctx, e.ID); err == nil {
		t.Fatal("FinishErasure with a folder left: no error")
	}

	ok(t, h.s.DeleteFolder(ctx, x.f4.ID), "f4 deleted by someone else meanwhile")
	ok(t, h.s.EraseFolder(ctx, e.ID, x.f4.ID), "EraseFolder of a folder already gone")
	todo, err = h.s.ErasureFolders(ctx, e.ID)
	ok(t, err, "ErasureFolders")
	equal(t, todo, []string{}, "nothing left to erase")
	h.clock.Advance(5e9)
	ok(t, h.s.FinishErasure(ctx, e.ID), "FinishErasure")
	ok(t, h.s.FinishErasure(ctx, e.ID), "FinishErasure again")
	got, err = h.s.GetErasure(ctx, e.ID)
	ok(t, err, "GetErasure")
	equal(t, got.Status, bonafide.ErasureFinished, "status")
	sameTime(t, got.Finished, Epoch.Add(5e9), "Finished")
	equal(t, [4]int{got.Folders, got.Media, got.BestShots, got.Persons}, [4]int{1, 2, 1, 1}, "final counts")
	equal(t, got.FolderIDs, sorted(x.f1.ID, x.f4.ID), "receipt folder ids")
	equal(t, got.PersonIDs, []string{x.p1.ID}, "receipt person ids")

	_, err = h.s.GetPerson(ctx, x.p1.ID)
	wantNotFound(t, err, "erased person")
	_, vs, err := h.s.CollectionVectors(ctx, x.c1.ID)
	ok(t, err, "CollectionVectors")
	equal(t, len(vs), 0, "the erased person's embedding is gone")
	after, err := h.s.GetCollection(ctx, x.c1.ID)
	ok(t, err, "GetCollection")
	if after.Version == coll.Version {
		t.Error("the collection's version did not move")
	}
	for _, p := range []*bonafide.Person{x.p2, x.p3} {
		_, err := h.s.GetPerson(ctx, p.ID)
		ok(t, err, "an unselected person stays")
	}
	_, err = h.s.GetFolder(ctx, x.f3.ID)
	ok(t, err, "another company's folder stays")

	h.enq.Err = errors.New("queue is down")
	failed := &bonafide.Erasure{Selector: bonafide.ErasureSelector{FolderIDs: []string{x.f2.ID}}}
	if err := h.s.CreateErasure(ctx, failed); err == nil {
		t.Fatal("CreateErasure with a failing enqueuer: no error")
	}
	h.enq.Err = nil
	_, err = h.s.GetErasure(ctx, failed.ID)
	wantNotFound(t, err, "no receipt without its job")
}
