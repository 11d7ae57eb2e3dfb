package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bonafide/internal/assets"
	"bonafide/webhook"
)

// freshBucket derives a new bucket from the S3 test URL and creates it.
func freshBucket(t testing.TB, url string) string {
	t.Helper()
	_, q, _ := strings.Cut(strings.TrimPrefix(url, "s3://"), "?")
	out := fmt.Sprintf("s3://bonafide-%d?%s", time.Now().UnixNano(), q)
	ensureBucket(t, out)
	return out
}

// Three server processes on three ports share one PostgreSQL database and one S3 bucket: 100
// analyses submitted round robin, one node killed with SIGKILL in the middle; every analysis
// finishes, work is done by more than one node, every webhook is delivered (a failed delivery is
// retried with the same webhook-id), and every media is readable through every node.
func TestClusterOfThree(t *testing.T) {
	pg, s3 := os.Getenv("BONAFIDE_TEST_POSTGRES_URL"), os.Getenv("BONAFIDE_TEST_S3_URL")
	if pg == "" || s3 == "" {
		t.Skip("BONAFIDE_TEST_POSTGRES_URL and BONAFIDE_TEST_S3_URL are not set (.ci/run sets them): skipping the scale-out test")
	}
	photo := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	assets.Require(t, photo)
	env := []string{"BONAFIDE_DATABASE_URL=" + freshDatabase(t, pg), "BONAFIDE_BLOB_URL=" + freshBucket(t, s3),
		"BONAFIDE_ANALYSIS_WORKERS=1"} // default timings: job timeout, rescue delay, webhook backoff

	// The receiver fails the first delivery of every fifth folder, to see the retry keep its id.
	var mu sync.Mutex
	ids := map[string][]string{} // folder -> webhook-ids received, in order
	acked := map[string]bool{}
	var secret string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		folder := r.URL.Query().Get("folder")
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, r.Header, body, time.Minute, time.Now()); err != nil {
			t.Errorf("webhook for %s: %v", folder, err)
		}
		ids[folder] = append(ids[folder], r.Header.Get("webhook-id"))
		if strings.HasSuffix(r.URL.Query().Get("fail"), "1") && len(ids[folder]) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		acked[folder] = true
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	nodes := []*server{startServer(t, t.TempDir(), env...)}
	nodes = append(nodes, startServer(t, t.TempDir(), env...), startServer(t, t.TempDir(), env...))
	tokens := make([]string, 3)
	for i, n := range nodes {
		tokens[i] = n.login("admin@example.com", "admin-password")
	}
	var me struct {
		CompanyID string `json:"company_id"`
	}
	nodes[0].call("GET", "/api/users/me", tokens[0], nil, "", &me)
	var sec struct {
		WebhookSecret string `json:"webhook_secret"`
	}
	nodes[0].call("GET", "/api/companies/"+me.CompanyID+"/webhook_secret", tokens[0], nil, "", &sec)
	mu.Lock()
	secret = sec.WebhookSecret
	mu.Unlock()

	const total = 100
	type job struct{ folder, analysis, media string }
	var jobs []job
	alive := []int{0, 1, 2}
	var killed time.Time
	for i := range total {
		if i == 40 {
			killed = time.Now()
			// Kill node 1 without warning while the queue is full.
			if err := nodes[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = nodes[1].cmd.Wait()
			alive = []int{0, 2}
		}
		n := alive[i%len(alive)]
		body, ct := multipartBody(t, map[string]string{"photo1": photo}, `{"media:tags":{"photo1":["photo_selfie"]}}`)
		var f folderJSON
		if code := nodes[n].call("POST", "/api/folders/", tokens[n], body, ct, &f); code != 201 {
			t.Fatalf("folder %d on node %d: %d", i, n, code)
		}
		endpoint := fmt.Sprintf("%s/hook?folder=%s&fail=%d", receiver.URL, f.FolderID, i%5)
		req := fmt.Sprintf(`{"analyses":[{"type":"quality"}],"resolution_endpoint":%q}`, endpoint)
		var started []analysisJSON
		if code := nodes[n].call("POST", "/api/folders/"+f.FolderID+"/analyses", tokens[n], strings.NewReader(req), "application/json", &started); code != 201 {
			t.Fatalf("analysis %d on node %d: %d", i, n, code)
		}
		jobs = append(jobs, job{f.FolderID, started[0].AnalyseID, f.Media[0].MediaID})
	}

	// Every analysis finishes, the killed node's included.
	for _, j := range jobs {
		if a := nodes[0].poll(tokens[0], j.analysis, 180*time.Second); a.State != "FINISHED" || a.ResolutionStatus != "SUCCESS" {
			t.Fatalf("analysis %s: %+v", j.analysis, a)
		}
	}
	// On the default timings the killed node's jobs finish on the others within 120 s of the kill.
	if d := time.Since(killed); d > 120*time.Second {
		t.Fatalf("the killed node's analyses finished %.0f s after the kill (default timings), more than 120 s", d.Seconds())
	} else {
		t.Logf("every analysis finished %.1f s after node 1 was killed (default timings)", d.Seconds())
	}
	// The survivors took the killed node's running jobs over on its missed heartbeats (20 s), not
	// on River's rescuer (75 s after the job started).
	tookOver := false
	for _, i := range alive {
		nodes[i].mu.Lock()
		tookOver = tookOver || strings.Contains(nodes[i].logs.String(), `"msg":"took over the running jobs of a stopped node"`)
		nodes[i].mu.Unlock()
	}
	// (When the killed node happened to run nothing at the kill, there was nothing to take over
	// and everything finished sooner than a node is declared dead.)
	if d := time.Since(killed); !tookOver && d >= 20*time.Second {
		t.Fatalf("no surviving node took over the killed node's running jobs by its heartbeat (%.0f s after the kill)", d.Seconds())
	}
	// Work was done by more than one node.
	workers := 0
	for _, n := range nodes {
		n.mu.Lock()
		if strings.Contains(n.logs.String(), `"msg":"analysis finished"`) {
			workers++
		}
		n.mu.Unlock()
	}
	if workers < 2 {
		t.Fatalf("only %d node(s) ran analyses", workers)
	}
	// Every webhook is delivered; a retried one keeps its webhook-id.
	deadline := time.Now().Add(90 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for _, j := range jobs {
			if !acked[j.folder] {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks never acknowledged", missing)
		}
		time.Sleep(500 * time.Millisecond)
	}
	mu.Lock()
	retried := 0
	for i, j := range jobs {
		got := ids[j.folder]
		if i%5 == 1 {
			if len(got) < 2 {
				t.Errorf("folder %s: the failed delivery was not retried (%v)", j.folder, got)
				continue
			}
			retried++
		}
		for _, id := range got[1:] {
			if id != got[0] {
				t.Errorf("folder %s: a retry changed the webhook-id: %v", j.folder, got)
			}
		}
	}
	mu.Unlock()
	if retried == 0 {
		t.Fatal("no delivery was retried")
	}

	// Every media through every node (the killed one restarted).
	nodes[1] = startServer(t, t.TempDir(), env...)
	tokens[1] = nodes[1].login("admin@example.com", "admin-password")
	for i, n := range nodes {
		for _, j := range jobs {
			var m struct {
				OriginalURL string `json:"original_url"`
			}
			if code := n.call("GET", "/api/media/"+j.media, tokens[i], nil, "", &m); code != 200 {
				t.Fatalf("media %s via node %d: %d", j.media, i, code)
			}
			if code := n.call("GET", strings.TrimPrefix(m.OriginalURL, n.url), tokens[i], nil, "", nil); code != 200 {
				t.Fatalf("media file %s via node %d: %d", j.media, i, code)
			}
		}
	}
}

// BenchmarkClusterThroughput measures sustained analyses per minute of 5 s 720p videos with one
// and with two nodes sharing PostgreSQL and S3 on this machine, 4 clients spread over the nodes.
func BenchmarkClusterThroughput(b *testing.B) {
	pg, s3 := os.Getenv("BONAFIDE_TEST_POSTGRES_URL"), os.Getenv("BONAFIDE_TEST_S3_URL")
	if pg == "" || s3 == "" {
		b.Skip("BONAFIDE_TEST_POSTGRES_URL and BONAFIDE_TEST_S3_URL are not set")
	}
	video := benchFile(b, "video")
	for _, count := range []int{1, 2} {
		b.Run(fmt.Sprintf("nodes=%d", count), func(b *testing.B) {
			env := []string{"BONAFIDE_DATABASE_URL=" + freshDatabase(b, pg), "BONAFIDE_BLOB_URL=" + freshBucket(b, s3)}
			var nodes []*server
			var tokens []string
			for range count {
				n := startServer(b, b.TempDir(), env...)
				nodes, tokens = append(nodes, n), append(tokens, n.login("admin@example.com", "admin-password"))
			}
			b.ResetTimer()
			start := time.Now()
			next := make(chan int)
			go func() {
				for i := range b.N {
					next <- i
				}
				close(next)
			}()
			var wg sync.WaitGroup
			for c := range 4 {
				wg.Go(func() {
					for range next {
						if err := uploadAndWait(nodes[c%count], tokens[c%count], video); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Minutes(), "analyses/min")
		})
	}
}

// TestClusterCollection: two nodes on one PostgreSQL and one bucket. A blacklist changed through one
// node is searched right by both: each node keeps the collection's vectors in memory and reloads
// them when the stored version moved. Several searches before and after each change, so each node
// runs some of them with its vectors already loaded (River hands a job to whichever node is free).
func TestClusterCollection(t *testing.T) {
	pg, s3 := os.Getenv("BONAFIDE_TEST_POSTGRES_URL"), os.Getenv("BONAFIDE_TEST_S3_URL")
	if pg == "" || s3 == "" {
		t.Skip("BONAFIDE_TEST_POSTGRES_URL and BONAFIDE_TEST_S3_URL are not set (.ci/run sets them): skipping the scale-out test")
	}
	m := assets.ClmtrackrMedia()
	assets.Require(t, m)
	env := []string{"BONAFIDE_DATABASE_URL=" + freshDatabase(t, pg), "BONAFIDE_BLOB_URL=" + freshBucket(t, s3), "BONAFIDE_ANALYSIS_WORKERS=1"}
	nodes := []*server{startServer(t, t.TempDir(), env...), startServer(t, t.TempDir(), env...)}
	tokens := []string{nodes[0].login("admin@example.com", "admin-password"), nodes[1].login("admin@example.com", "admin-password")}

	var col struct {
		CollectionID string `json:"collection_id"`
	}
	if code := nodes[0].call("POST", "/api/collections/", tokens[0], strings.NewReader(`{"alias": "blacklist"}`), "application/json", &col); code != 201 {
		t.Fatalf("create collection: %d", code)
	}
	addPerson := func(n int, photo string) string {
		t.Helper()
		body, ct := multipartBody(t, map[string]string{"image1": filepath.Join(m, photo)}, `{}`)
		var p struct {
			PersonID string `json:"person_id"`
		}
		if code := nodes[n].call("POST", "/api/collections/"+col.CollectionID+"/persons/", tokens[n], body, ct, &p); code != 201 {
			t.Fatalf("add %s on node %d: %d", photo, n, code)
		}
		return p.PersonID
	}
	// searches runs COLLECTION for the photo, four times through each node, and returns the
	// resolutions seen.
	searches := func(photo string) map[string]int {
		t.Helper()
		seen := map[string]int{}
		var ids []string
		for i := range 8 {
			n := i % 2
			body, ct := multipartBody(t, map[string]string{"photo1": filepath.Join(m, photo)}, `{"media:tags": {"photo1": ["photo_selfie"]}}`)
			var f folderJSON
			if code := nodes[n].call("POST", "/api/folders/", tokens[n], body, ct, &f); code != 201 {
				t.Fatalf("folder on node %d: %d", n, code)
			}
			req := `{"analyses": [{"type": "collection", "params": {"collection_id": "` + col.CollectionID + `"}}]}`
			var started []analysisJSON
			if code := nodes[n].call("POST", "/api/folders/"+f.FolderID+"/analyses/", tokens[n], strings.NewReader(req), "application/json", &started); code != 201 {
				t.Fatalf("start on node %d: %d", n, code)
			}
			ids = append(ids, started[0].AnalyseID)
		}
		for i, id := range ids {
			n := i % 2
			nodes[n].poll(tokens[n], id, 2*time.Minute)
			var a struct {
				ResolutionStatus string `json:"resolution_status"`
			}
			nodes[n].call("GET", "/api/analyses/"+id, tokens[n], nil, "", &a)
			seen[a.ResolutionStatus]++
		}
		return seen
	}
	addPerson(0, "cage.jpg")
	if got := searches("franck_03909.jpg"); got["SUCCESS"] != 8 {
		t.Fatalf("franck before he is listed: %v, want 8 SUCCESS", got)
	}
	franck := addPerson(1, "franck_02159.jpg") // through the other node
	if got := searches("franck_03909.jpg"); got["DECLINED"] != 8 {
		t.Fatalf("franck after node 1 listed him: %v, want 8 DECLINED", got)
	}
	if code := nodes[0].call("DELETE", "/api/collections/"+col.CollectionID+"/persons/"+franck, tokens[0], nil, "", nil); code != 200 {
		t.Fatalf("delete on node 0: %d", code)
	}
	if got := searches("franck_03909.jpg"); got["SUCCESS"] != 8 {
		t.Fatalf("franck after node 0 removed him: %v, want 8 SUCCESS", got)
	}
}
