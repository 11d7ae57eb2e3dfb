package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bonafide/internal/assets"
)

// BenchmarkServeGetAnalysis measures requests per second of GET /api/analyses/{id} over real
// HTTP on loopback, 8 clients at once.
func BenchmarkServeGetAnalysis(b *testing.B) {
	s, token, ids := benchSetup(b, 1, "photo")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", s.url+"/api/analyses/"+ids[0], nil)
			req.Header.Set("X-Forensic-Access-Token", token)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkServeUploadToResult measures upload-to-result latency with 4 concurrent clients, each
// uploading a media, starting a quality analysis and polling every 100 ms until it finishes, and
// the analyses finished per minute while doing so.
func BenchmarkServeUploadToResult(b *testing.B) {
	for _, kind := range []string{"photo", "video"} {
		b.Run(kind, func(b *testing.B) {
			s, token, _ := benchSetup(b, 0, kind)
			file := benchFile(b, kind)
			const clients = 4
			var mu sync.Mutex
			var lat []float64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			next := make(chan int)
			go func() {
				for i := range b.N {
					next <- i
				}
				close(next)
			}()
			for range clients {
				wg.Go(func() {
					for range next {
						t0 := time.Now()
						if err := uploadAndWait(s, token, file); err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(t0).Seconds())
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(lat[len(lat)/2]*1000, "p50-ms")
				b.ReportMetric(lat[min(len(lat)-1, len(lat)*95/100)]*1000, "p95-ms")
				b.ReportMetric(float64(len(lat))/elapsed.Minutes(), "analyses/min")
			}
		})
	}
}

// benchFile is the pinned bench media of the kind: the 720x576 JPEG photo, or the 5 s 720p H.264
// video made from the pinned webcam recording.
func benchFile(b *testing.B, kind string) string {
	b.Helper()
	if kind == "photo" {
		p := pinnedPhoto()
		assets.Require(b, p)
		return p
	}
	assets.Require(b, assets.ClmtrackrMedia())
	out, err := makePinnedVideo(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// benchSetup starts a server and runs n analyses of the kind to have ids to read.
func benchSetup(b *testing.B, n int, kind string) (*server, string, []string) {
	b.Helper()
	s := startServer(b, b.TempDir())
	token := s.login("admin@example.com", "admin-password")
	var ids []string
	for range n {
		id, err := upload(s, token, benchFile(b, kind))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	return s, token, ids
}

func upload(s *server, token, file string) (string, error) {
	field := "photo1"
	tags := `["photo_selfie"]`
	if strings.HasSuffix(file, ".mp4") {
		field, tags = "video1", `["video_selfie","video_selfie_blank"]`
	}
	body, ct := multipartBody(s.t, map[string]string{field: file}, fmt.Sprintf(`{"media:tags":{%q:%s}}`, field, tags))
	var f folderJSON
	if code := s.call("POST", "/api/folders/", token, body, ct, &f); code != 201 {
		return "", fmt.Errorf("create folder: %d", code)
	}
	var started []analysisJSON
	if code := s.call("POST", "/api/folders/"+f.FolderID+"/analyses", token, strings.NewReader(`{"analyses":[{"type":"quality"}]}`), "application/json", &started); code != 201 {
		return "", fmt.Errorf("start analysis: %d", code)
	}
	return started[0].AnalyseID, nil
}

func uploadAndWait(s *server, token, file string) error {
	id, err := upload(s, token, file)
	if err != nil {
		return err
	}
	for {
		var a analysisJSON
		if code := s.call("GET", "/api/analyses/"+id, token, nil, "", &a); code != 200 {
			return fmt.Errorf("poll: %d", code)
		}
		if a.State != "PROCESSING" {
			if a.State != "FINISHED" {
				return fmt.Errorf("analysis %s: %s %s", id, a.State, a.Error)
			}
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
