package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"bonafide"
)

func testCollections(t *testing.T, h *harness) {
	ctx := t.Context()
	c := &bonafide.Collection{CompanyID: "co1", Alias: "blacklist"}
	ok(t, h.s.CreateCollection(ctx, c), "CreateCollection")
	if c.ID == "" {
		t.Fatal("CreateCollection left ID empty")
	}
	sameTime(t, c.Created, Epoch, "Created")
	jsonEq(t, c.MetaData, []byte(`{}`), "default meta_data")
	got, err := h.s.GetCollection(ctx, c.ID)
	ok(t, err, "GetCollection")
	jsonEq(t, got.MetaData, c.MetaData, "GetCollection meta_data")
	got.MetaData = c.MetaData
	equal(t, got, c, "GetCollection")
	wantCode(t, h.s.CreateCollection(ctx, &bonafide.Collection{ID: c.ID}), bonafide.CodeAlreadyExist, "CreateCollection duplicate")

	h.clock.Advance(time.Second)
	other := &bonafide.Collection{CompanyID: "co2", Alias: "vip"}
	ok(t, h.s.CreateCollection(ctx, other), "CreateCollection co2")
	second := &bonafide.Collection{CompanyID: "co1", Alias: "second"}
	ok(t, h.s.CreateCollection(ctx, second), "CreateCollection co1 second")
	ids := func(cs []*bonafide.Collection) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	list, err := h.s.ListCollections(ctx, "co1")
	ok(t, err, "ListCollections co1")
	equal(t, ids(list), []string{c.ID, second.ID}, "ListCollections co1 (oldest first)")
	list, err = h.s.ListCollections(ctx, "")
	ok(t, err, "ListCollections all")
	equal(t, len(list), 3, "ListCollections all")
	list, err = h.s.ListCollections(ctx, "nobody")
	ok(t, err, "ListCollections none")
	equal(t, ids(list), []string{}, "ListCollections of a company without any")

	c.Alias, c.MetaData = "renamed", []byte(`{"a": 1}`)
	ok(t, h.s.UpdateCollection(ctx, c), "UpdateCollection")
	got, err = h.s.GetCollection(ctx, c.ID)
	ok(t, err, "GetCollection after update")
	equal(t, got.Alias, "renamed", "alias")
	jsonEq(t, got.MetaData, []byte(`{"a": 1}`), "meta_data")
	sameTime(t, got.Updated, Epoch.Add(time.Second), "Updated")
	wantNotFound(t, h.s.UpdateCollection(ctx, &bonafide.Collection{ID: "no-such"}), "UpdateCollection missing")
	wantCode(t, h.s.UpdateCollection(ctx, &bonafide.Collection{ID: c.ID, MetaData: []byte(`{`)}), bonafide.CodeInvalidValue, "UpdateCollection bad JSON")

	ok(t, h.s.DeleteCollection(ctx, second.ID), "DeleteCollection")
	_, err = h.s.GetCollection(ctx, second.ID)
	wantNotFound(t, err, "GetCollection deleted")
	wantNotFound(t, h.s.DeleteCollection(ctx, second.ID), "DeleteCollection again")
}

func testPersons(t *testing.T, h *harness) {
	ctx := t.Context()
	c := &bonafide.Collection{CompanyID: "co1", Alias: "blacklist"}
	ok(t, h.s.CreateCollection(ctx, c), "CreateCollection")
	version := func() int64 {
		t.Helper()
		got, err := h.s.GetCollection(ctx, c.ID)
		ok(t, err, "GetCollection")
		return got.Version
	}
	v0 := version()

	emb := []float32{0.6, 0.8, 0}
	p := &bonafide.Person{CollectionID: c.ID, MetaData: []byte(`{"person_info": {"first_name": "John"}}`)}
	im := &bonafide.PersonImage{OriginalName: "a.jpg", ContentType: "image/jpeg", Size: 10, SHA256: "ab", Tags: []string{"photo_selfie"}, Embedding: emb}
	noFace := &bonafide.PersonImage{OriginalName: "b.jpg", Tags: []string{}}
	ok(t, h.s.CreatePerson(ctx, p, []*bonafide.PersonImage{im, noFace}), "CreatePerson")
	if p.ID == "" || im.ID == "" || im.PersonID != p.ID || im.CollectionID != c.ID {
		t.Fatalf("CreatePerson did not fill the ids: %+v %+v", p, im)
	}
	v1 := version()
	if v1 == v0 {
		t.Fatal("CreatePerson did not move the collection's version")
	}
	got, err := h.s.GetPerson(ctx, p.ID)
	ok(t, err, "GetPerson")
	jsonEq(t, got.MetaData, p.MetaData, "person meta_data")
	equal(t, got.CollectionID, c.ID, "person collection")
	sameTime(t, got.Created, Epoch, "person Created")
	wantNotFound(t, h.s.CreatePerson(ctx, &bonafide.Person{CollectionID: "no-such"}, nil), "CreatePerson in a missing collection")
	_, err = h.s.GetPerson(ctx, "no-such")
	wantNotFound(t, err, "GetPerson missing")

	imgs, err := h.s.ListPersonImages(ctx, p.ID)
	ok(t, err, "ListPersonImages")
	equal(t, len(imgs), 2, "images")
	equal(t, imgs[0], im, "first image")
	equal(t, imgs[1].Embedding, []float32(nil), "no face: no embedding")
	gi, err := h.s.GetPersonImage(ctx, im.ID)
	ok(t, err, "GetPersonImage")
	equal(t, gi, im, "GetPersonImage")

	version1, vs, err := h.s.CollectionVectors(ctx, c.ID)
	ok(t, err, "CollectionVectors")
	equal(t, version1, v1, "CollectionVectors version")
	equal(t, vs, []bonafide.FaceVector{{PersonID: p.ID, ImageID: im.ID, Vector: emb}}, "CollectionVectors (the image without a face left out)")
	_, _, err = h.s.CollectionVectors(ctx, "no-such")
	wantNotFound(t, err, "CollectionVectors missing")

	h.clock.Advance(time.Second)
	p2 := &bonafide.Person{CollectionID: c.ID}
	ok(t, h.s.CreatePerson(ctx, p2, nil), "CreatePerson without images")
	more := &bonafide.PersonImage{OriginalName: "c.jpg", Tags: []string{}, Embedding: []float32{1, 0, 0}}
	ok(t, h.s.AddPersonImages(ctx, p2.ID, []*bonafide.PersonImage{more}), "AddPersonImages")
	wantNotFound(t, h.s.AddPersonImages(ctx, "no-such", []*bonafide.PersonImage{{}}), "AddPersonImages missing person")
	v2 := version()
	if v2 == v1 {
		t.Fatal("AddPersonImages did not move the version")
	}
	persons, err := h.s.ListPersons(ctx, c.ID, bonafide.Page{Limit: -1})
	ok(t, err, "ListPersons")
	equal(t, len(persons), 2, "ListPersons")
	equal(t, []string{persons[0].ID, persons[1].ID}, []string{p.ID, p2.ID}, "ListPersons oldest first")
	for _, pg := range []struct {
		page bonafide.Page
		want []string
	}{{bonafide.Page{Limit: 1}, []string{p.ID}}, {bonafide.Page{Offset: 1, Limit: 5}, []string{p2.ID}}, {bonafide.Page{Offset: 2, Limit: -1}, nil}, {bonafide.Page{Limit: 0}, nil}} {
		got, err := h.s.ListPersons(ctx, c.ID, pg.page)
		ok(t, err, "ListPersons page")
		var ids []string
		for _, q := range got {
			ids = append(ids, q.ID)
		}
		equal(t, ids, pg.want, fmt.Sprintf("ListPersons %+v", pg.page))
	}

	before := version()
	h.clock.Advance(time.Second)
	p2.MetaData = json.RawMessage(`{"person_info": {"first_name": "Ann"}}`)
	ok(t, h.s.UpdatePerson(ctx, p2), "UpdatePerson")
	got2, err := h.s.GetPerson(ctx, p2.ID)
	ok(t, err, "GetPerson after UpdatePerson")
	equal(t, got2, p2, "UpdatePerson stored")
	if !got2.Updated.After(got2.Created) {
		t.Errorf("UpdatePerson did not move Updated: %v, created %v", got2.Updated, got2.Created)
	}
	equal(t, version(), before, "UpdatePerson keeps the collection's version")
	wantNotFound(t, h.s.UpdatePerson(ctx, &bonafide.Person{ID: "no-such"}), "UpdatePerson missing")
	_, vs, _ = h.s.CollectionVectors(ctx, c.ID)
	equal(t, len(vs), 2, "vectors of two persons")

	ok(t, h.s.DeletePersonImage(ctx, im.ID), "DeletePersonImage")
	wantNotFound(t, h.s.DeletePersonImage(ctx, im.ID), "DeletePersonImage again")
	v3 := version()
	if v3 == v2 {
		t.Fatal("DeletePersonImage did not move the version")
	}
	ok(t, h.s.DeletePerson(ctx, p2.ID), "DeletePerson")
	wantNotFound(t, h.s.DeletePerson(ctx, p2.ID), "DeletePerson again")
	_, err = h.s.GetPersonImage(ctx, more.ID)
	wantNotFound(t, err, "the deleted person's image")
	if version() == v3 {
		t.Fatal("DeletePerson did not move the version")
	}
	_, vs, _ = h.s.CollectionVectors(ctx, c.ID)
	equal(t, len(vs), 0, "no vectors left")

	ok(t, h.s.DeleteCollection(ctx, c.ID), "DeleteCollection")
	_, err = h.s.GetPerson(ctx, p.ID)
	wantNotFound(t, err, "a deleted collection's person")
	_, err = h.s.GetPersonImage(ctx, noFace.ID)
	wantNotFound(t, err, "a deleted collection's image")
}
