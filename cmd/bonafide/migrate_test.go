package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bonafide/internal/assets"
)

// targets returns where migrate-data may copy to: another embedded installation always, and
// PostgreSQL + S3 when the harness provides them (CI does).
func migrationTargets(t *testing.T) map[string][2]string {
	dir := t.TempDir()
	out := map[string][2]string{
		"embedded": {"sqlite://" + filepath.Join(dir, "target.db"), "file://" + filepath.Join(dir, "target-media")},
	}
	if pg, s3 := os.Getenv("BONAFIDE_TEST_POSTGRES_URL"), os.Getenv("BONAFIDE_TEST_S3_URL"); pg != "" && s3 != "" {
		ensureBucket(t, s3)
		out["postgres+s3"] = [2]string{freshDatabase(t, pg), s3}
	} else {
		t.Log("BONAFIDE_TEST_POSTGRES_URL or BONAFIDE_TEST_S3_URL not set: migrating into an embedded target only")
	}
	return out
}

// The data migration on a real embedded installation with media: a server makes folders, media,
// finished analyses and best shots; migrate-data copies them; a server on the target serves them.
func TestMigrateData(t *testing.T) {
	photo := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	srcDir := t.TempDir()
	s := startServer(t, srcDir)
	token := s.login("admin@example.com", "admin-password")
	var folders, analyses []string
	for range 3 {
		body, ct := multipartBody(t, map[string]string{"photo1": photo}, `{"media:tags":{"photo1":["photo_selfie"]},"folder:meta_data":{"k":"v"}}`)
		var f folderJSON
		if code := s.call("POST", "/api/folders/", token, body, ct, &f); code != 201 {
			t.Fatalf("folder: %d", code)
		}
		var started []analysisJSON
		s.call("POST", "/api/folders/"+f.FolderID+"/analyses", token, strings.NewReader(`{"analyses":[{"type":"quality"}]}`), "application/json", &started)
		if a := s.poll(token, started[0].AnalyseID, 60*time.Second); a.State != "FINISHED" {
			t.Fatalf("analysis: %+v", a)
		}
		folders, analyses = append(folders, f.FolderID), append(analyses, started[0].AnalyseID)
	}
	// An operator's decision on the first analysis travels with it.
	if code := s.call("PATCH", "/api/analyses/"+analyses[0], token, strings.NewReader(`{"resolution_status":"DECLINED","resolution_comment":"kept by the migration"}`), "application/json", nil); code != 200 {
		t.Fatalf("decision: %d", code)
	}
	// A blacklist with one person travels too (its embedding, not the photo).
	var col struct {
		CollectionID string `json:"collection_id"`
	}
	if code := s.call("POST", "/api/collections/", token, strings.NewReader(`{"alias": "blacklist"}`), "application/json", &col); code != 201 {
		t.Fatalf("collection: %d", code)
	}
	body, ct := multipartBody(t, map[string]string{"image1": photo}, `{"person:meta_data": {"person_info": {"first_name": "Franck"}}}`)
	var person struct {
		PersonID string `json:"person_id"`
	}
	if code := s.call("POST", "/api/collections/"+col.CollectionID+"/persons/", token, body, ct, &person); code != 201 {
		t.Fatalf("person: %d", code)
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()

	for name, target := range migrationTargets(t) {
		t.Run(name, func(t *testing.T) {
			args := []string{"migrate-data", "--quiet", "--from", "sqlite://" + filepath.Join(srcDir, "bonafide.db"),
				"--from-blob", "file://" + filepath.Join(srcDir, "media"), "--to", target[0], "--to-blob", target[1]}
			code, out, errs := run(t, args...)
			if code != 0 || !strings.Contains(out, "1 collections, 1 persons, 3 folders, 3 media, 3 analyses, 6 files") {
				t.Fatalf("migrate-data: %d %s %s", code, out, errs)
			}
			// Again: nothing new, nothing broken.
			if code, out, errs = run(t, args...); code != 0 || !strings.Contains(out, "0 folders") {
				t.Fatalf("second migrate-data: %d %s %s", code, out, errs)
			}
			dst := startServer(t, t.TempDir(), "BONAFIDE_DATABASE_URL="+target[0], "BONAFIDE_BLOB_URL="+target[1])
			tok := dst.login("admin@example.com", "admin-password")
			var p struct {
				PersonID string `json:"person_id"`
				Images   []struct {
					FaceFound bool `json:"face_found"`
				} `json:"images"`
			}
			if code := dst.call("GET", "/api/collections/"+col.CollectionID+"/persons/"+person.PersonID, tok, nil, "", &p); code != 200 || len(p.Images) != 1 || !p.Images[0].FaceFound {
				t.Fatalf("the blacklist's person on the target: %d %+v", code, p)
			}
			// And it is searched there: the same man's other photo is found.
			body, ct := multipartBody(t, map[string]string{"photo1": filepath.Join(assets.ClmtrackrMedia(), "franck_03909.jpg")}, `{"media:tags":{"photo1":["photo_selfie"]}}`)
			var sf folderJSON
			if code := dst.call("POST", "/api/folders/", tok, body, ct, &sf); code != 201 {
				t.Fatalf("folder on the target: %d", code)
			}
			var started []analysisJSON
			dst.call("POST", "/api/folders/"+sf.FolderID+"/analyses", tok, strings.NewReader(`{"analyses":[{"type":"collection","params":{"collection_id":"`+col.CollectionID+`"}}]}`), "application/json", &started)
			if a := dst.poll(tok, started[0].AnalyseID, 60*time.Second); a.ResolutionStatus != "DECLINED" {
				t.Fatalf("a search of the migrated blacklist: %+v, want DECLINED (found)", a)
			}
			for i, id := range folders {
				var f folderJSON
				if code := dst.call("GET", "/api/folders/"+id+"?with_analyses=true", tok, nil, "", &f); code != 200 {
					t.Fatalf("folder %s on the target: %d", id, code)
				}
				if len(f.Media) != 1 || len(f.Analyses) != 1 || f.Analyses[0].AnalysisID != analyses[i] || f.SystemResolution != "SUCCESS" {
					t.Fatalf("folder on the target: %+v", f)
				}
				if want := map[bool]string{true: "DECLINED", false: "SUCCESS"}[i == 0]; f.Analyses[0].ResolutionStatus != want {
					t.Fatalf("analysis %d on the target: resolution_status %s, want %s (the operator's decision)", i, f.Analyses[0].ResolutionStatus, want)
				}
				if code := dst.call("GET", strings.TrimPrefix(f.Media[0].OriginalURL, dst.url), tok, nil, "", nil); code != 200 {
					t.Fatalf("media on the target: %d", code)
				}
				shot := f.Analyses[0].ResultsMedia[0].OutputImages[0].OriginalURL
				if code := dst.call("GET", strings.TrimPrefix(shot, dst.url), tok, nil, "", nil); code != 200 {
					t.Fatalf("best shot on the target: %d", code)
				}
			}
		})
	}
}
