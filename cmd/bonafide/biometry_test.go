package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bonafide/internal/assets"
)

// BIOMETRY over real HTTP: one person's photos match (SUCCESS, every pair compared), two people's
// do not (DECLINED), and a folder with one face fails with the reason.
func TestServeBiometry(t *testing.T) {
	m := assets.ClmtrackrMedia()
	assets.Require(t, m)
	s := startServer(t, t.TempDir())
	token := s.login("admin@example.com", "admin-password")
	type pair struct {
		ResolutionStatus string `json:"resolution_status"`
		ResultsData      struct {
			Confidence *float64 `json:"confidence"`
			Cosine     *float64 `json:"cosine_similarity"`
			Media      []struct {
				MediaID string `json:"media_id"`
				Frames  []struct {
					Index int            `json:"index"`
					Box   map[string]any `json:"box"`
				} `json:"frames"`
			} `json:"media"`
		} `json:"results_data"`
	}
	type analysis struct {
		State            string `json:"state"`
		ResolutionStatus string `json:"resolution_status"`
		Error            string `json:"error"`
		ResultsData      struct {
			Min *float64 `json:"min_confidence"`
			Max *float64 `json:"max_confidence"`
		} `json:"results_data"`
		ResultsMedia []pair `json:"results_media"`
	}
	for _, tc := range []struct {
		name  string
		files []string
		want  string
		pairs int
	}{
		{"same person", []string{"franck_02159.jpg", "franck_03909.jpg", "franck_04117.jpg"}, "SUCCESS", 3},
		{"different people", []string{"franck_02159.jpg", "cage.jpg"}, "DECLINED", 1},
		{"one face", []string{"franck_02159.jpg"}, "FAILED", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			tags := map[string][]string{}
			for i, f := range tc.files {
				field := "photo" + string(rune('1'+i))
				files[field] = filepath.Join(m, f)
				tags[field] = []string{"photo_selfie"}
			}
			tags["photo1"] = []string{"photo_id", "photo_id_front"}
			pl, _ := json.Marshal(map[string]any{"media:tags": tags})
			body, ct := multipartBody(t, files, string(pl))
			var f folderJSON
			if code := s.call("POST", "/api/folders/", token, body, ct, &f); code != 201 || len(f.Media) != len(tc.files) {
				t.Fatalf("create folder: %d %+v", code, f)
			}
			var started []analysisJSON
			if code := s.call("POST", "/api/folders/"+f.FolderID+"/analyses/", token, strings.NewReader(`{"analyses":[{"type":"biometry"}]}`), "application/json", &started); code != 201 || len(started) != 1 {
				t.Fatalf("start: %d %+v", code, started)
			}
			s.poll(token, started[0].AnalyseID, 90*time.Second)
			var a analysis
			if code := s.call("GET", "/api/analyses/"+started[0].AnalyseID, token, nil, "", &a); code != 200 {
				t.Fatalf("get: %d", code)
			}
			if a.ResolutionStatus != tc.want || len(a.ResultsMedia) != tc.pairs {
				t.Fatalf("analysis: %+v", a)
			}
			if tc.want == "FAILED" {
				if a.State != "FAILED" || !strings.Contains(a.Error, "at least two") || !strings.Contains(a.Error, "1 with a face") {
					t.Fatalf("failed analysis: %+v", a)
				}
				return
			}
			if a.ResultsData.Min == nil || a.ResultsData.Max == nil || *a.ResultsData.Min > *a.ResultsData.Max {
				t.Fatalf("results_data: %+v", a.ResultsData)
			}
			if (*a.ResultsData.Min >= 0.85) != (tc.want == "SUCCESS") {
				t.Fatalf("min_confidence %.4f does not fit %s", *a.ResultsData.Min, tc.want)
			}
			for _, p := range a.ResultsMedia {
				d := p.ResultsData
				if d.Confidence == nil || d.Cosine == nil || *d.Confidence < 0 || *d.Confidence > 1 || len(d.Media) != 2 {
					t.Fatalf("pair: %+v", p)
				}
				if d.Media[0].MediaID == d.Media[1].MediaID || len(d.Media[0].Frames) != 1 || d.Media[0].Frames[0].Box == nil {
					t.Fatalf("pair evidence: %+v", d.Media)
				}
				t.Logf("%s: confidence %.4f, cosine %.4f", p.ResolutionStatus, *d.Confidence, *d.Cosine)
			}
		})
	}
}
