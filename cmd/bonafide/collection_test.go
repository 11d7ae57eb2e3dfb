package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bonafide/internal/assets"
)

// COLLECTION over real HTTP: a person added to a company's blacklist (one franck photo) is found
// by a new folder with another franck photo (DECLINED, with person_id), someone else is not
// (SUCCESS), and another company neither sees the collection (404) nor can search it.
func TestServeCollection(t *testing.T) {
	m := assets.ClmtrackrMedia()
	assets.Require(t, m)
	s := startServer(t, t.TempDir())
	admin := s.login("admin@example.com", "admin-password")
	jsonBody := func(v any) *strings.Reader { b, _ := json.Marshal(v); return strings.NewReader(string(b)) }
	clientOf := func(name string) string {
		var c struct {
			CompanyID string `json:"company_id"`
		}
		if code := s.call("POST", "/api/companies/", admin, jsonBody(map[string]any{"name": name}), "application/json", &c); code != 201 {
			t.Fatalf("create company %s: %d", name, code)
		}
		email := "boss@" + name + ".example.com"
		if code := s.call("POST", "/api/users/", admin, jsonBody(map[string]any{"email": email, "password": "long-enough",
			"user_type": "CLIENT ADMIN", "company_id": c.CompanyID}), "application/json", nil); code != 201 {
			t.Fatalf("create user %s: %d", email, code)
		}
		return s.login(email, "long-enough")
	}
	acme, other := clientOf("acme"), clientOf("other")

	var col struct {
		CollectionID string `json:"collection_id"`
		Alias        string `json:"alias"`
	}
	if code := s.call("POST", "/api/collections/", acme, strings.NewReader(`{"alias": "blacklist"}`), "application/json", &col); code != 201 || col.CollectionID == "" {
		t.Fatalf("create collection: %d %+v", code, col)
	}
	pl := `{"media:tags": {"image1": ["photo_selfie"]}, "person:meta_data": {"person_info": {"first_name": "Franck"}}}`
	body, ct := multipartBody(t, map[string]string{"image1": filepath.Join(m, "franck_02159.jpg")}, pl)
	var person struct {
		PersonID string          `json:"person_id"`
		MetaData json.RawMessage `json:"meta_data"`
		Images   []struct {
			PersonImageID string `json:"person_image_id"`
			FaceFound     bool   `json:"face_found"`
		} `json:"images"`
	}
	if code := s.call("POST", "/api/collections/"+col.CollectionID+"/persons/", acme, body, ct, &person); code != 201 || person.PersonID == "" || len(person.Images) != 1 || !person.Images[0].FaceFound {
		t.Fatalf("add person: %d %+v", code, person)
	}
	var list []map[string]any
	if code := s.call("GET", "/api/collections", acme, nil, "", &list); code != 200 || len(list) != 1 {
		t.Fatalf("list collections: %d %v", code, list)
	}
	if code := s.call("GET", "/api/collections/"+col.CollectionID+"/persons/"+person.PersonID, acme, nil, "", nil); code != 200 {
		t.Fatalf("get person: %d", code)
	}

	// The person's meta_data replaced; one image read back; persons paged.
	pp := "/api/collections/" + col.CollectionID + "/persons/" + person.PersonID
	var patched struct {
		MetaData struct {
			PersonInfo struct {
				LastName string `json:"last_name"`
			} `json:"person_info"`
		} `json:"meta_data"`
	}
	if code := s.call("PATCH", pp, acme, strings.NewReader(`{"person:meta_data": {"person_info": {"last_name": "Doe"}}}`), "application/json", &patched); code != 200 || patched.MetaData.PersonInfo.LastName != "Doe" {
		t.Fatalf("PATCH person: %d %+v", code, patched)
	}
	if code := s.call("PATCH", pp, acme, strings.NewReader(`{"person:meta_data": [1]}`), "application/json", nil); code != 400 {
		t.Fatalf("PATCH person with an array: %d, want 400", code)
	}
	var image struct {
		PersonImageID string `json:"person_image_id"`
		FaceFound     bool   `json:"face_found"`
	}
	if code := s.call("GET", pp+"/images/"+person.Images[0].PersonImageID, acme, nil, "", &image); code != 200 || image.PersonImageID != person.Images[0].PersonImageID || !image.FaceFound {
		t.Fatalf("GET person image: %d %+v", code, image)
	}
	body, ct = multipartBody(t, map[string]string{"image1": filepath.Join(m, "cage.jpg")}, `{}`)
	var second struct {
		PersonID string `json:"person_id"`
	}
	if code := s.call("POST", "/api/collections/"+col.CollectionID+"/persons/", acme, body, ct, &second); code != 201 {
		t.Fatalf("add a second person: %d", code)
	}
	var page []struct {
		PersonID string `json:"person_id"`
	}
	if code := s.call("GET", "/api/collections/"+col.CollectionID+"/persons/?offset=1&limit=1", acme, nil, "", &page); code != 200 || len(page) != 1 || page[0].PersonID != second.PersonID {
		t.Fatalf("persons offset 1 limit 1: %d %+v", code, page)
	}
	if code := s.call("GET", "/api/collections/"+col.CollectionID+"/persons/"+second.PersonID, acme, nil, "", nil); code != 200 {
		t.Fatalf("get the second person: %d", code)
	}
	if code := s.call("DELETE", "/api/collections/"+col.CollectionID+"/persons/"+second.PersonID, acme, nil, "", nil); code != 200 {
		t.Fatalf("delete the second person: %d", code)
	}

	// Another company: the collection and its person do not exist for it, its list is empty.
	for _, path := range []string{"/api/collections/" + col.CollectionID, "/api/collections/" + col.CollectionID + "/persons/",
		"/api/collections/" + col.CollectionID + "/persons/" + person.PersonID, pp + "/images/" + person.Images[0].PersonImageID} {
		if code := s.call("GET", path, other, nil, "", nil); code != 404 {
			t.Fatalf("other company GET %s: %d, want 404", path, code)
		}
	}
	if code := s.call("GET", "/api/collections", other, nil, "", &list); code != 200 || len(list) != 0 {
		t.Fatalf("other company's list: %d %v", code, list)
	}

	type match struct {
		ResolutionStatus string `json:"resolution_status"`
		PersonID         string `json:"person_id"`
		ResultsData      struct {
			Confidence *float64 `json:"confidence"`
		} `json:"results_data"`
	}
	search := func(token, photo string) (state, resolution, errText string, ms []match) {
		t.Helper()
		pl, _ := json.Marshal(map[string]any{"media:tags": map[string][]string{"photo1": {"photo_selfie"}}})
		body, ct := multipartBody(t, map[string]string{"photo1": filepath.Join(m, photo)}, string(pl))
		var f folderJSON
		if code := s.call("POST", "/api/folders/", token, body, ct, &f); code != 201 {
			t.Fatalf("create folder: %d", code)
		}
		req := `{"analyses": [{"type": "collection", "params": {"collection_id": "` + col.CollectionID + `"}}]}`
		var started []analysisJSON
		if code := s.call("POST", "/api/folders/"+f.FolderID+"/analyses/", token, strings.NewReader(req), "application/json", &started); code != 201 || len(started) != 1 {
			t.Fatalf("start: %d %+v", code, started)
		}
		s.poll(token, started[0].AnalyseID, 90*time.Second)
		var a struct {
			State            string  `json:"state"`
			ResolutionStatus string  `json:"resolution_status"`
			Error            string  `json:"error"`
			ResultsMedia     []match `json:"results_media"`
		}
		if code := s.call("GET", "/api/analyses/"+started[0].AnalyseID, token, nil, "", &a); code != 200 {
			t.Fatalf("get analysis: %d", code)
		}
		return a.State, a.ResolutionStatus, a.Error, a.ResultsMedia
	}
	state, res, _, ms := search(acme, "franck_03909.jpg")
	if state != "FINISHED" || res != "DECLINED" || len(ms) != 1 || ms[0].PersonID != person.PersonID || ms[0].ResultsData.Confidence == nil || *ms[0].ResultsData.Confidence < 0.85 {
		t.Fatalf("the same person: %s %s %+v", state, res, ms)
	}
	state, res, _, ms = search(acme, "cage.jpg")
	if state != "FINISHED" || res != "SUCCESS" || len(ms) != 1 || ms[0].PersonID != "" {
		t.Fatalf("someone else: %s %s %+v", state, res, ms)
	}
	state, _, errText, _ := search(other, "franck_03909.jpg")
	if state != "FAILED" || !strings.Contains(errText, "does not exist") {
		t.Fatalf("another company's search: %s %q", state, errText)
	}

	// Deleting the person: the next search finds nobody (the in-memory vectors follow the store).
	if code := s.call("DELETE", "/api/collections/"+col.CollectionID+"/persons/"+person.PersonID, acme, nil, "", nil); code != 200 {
		t.Fatalf("delete person: %d", code)
	}
	if _, res, _, ms = search(acme, "franck_03909.jpg"); res != "SUCCESS" || ms[0].PersonID != "" {
		t.Fatalf("after deleting the person: %s %+v", res, ms)
	}
}
