package api

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"bonafide"
)

// Invented HTTP methods must not create new Prometheus series: they are counted as "other".
func TestMetricMethodLabelsAreBounded(t *testing.T) {
	env := tuServer(t)
	for _, m := range []string{"FOO", "BAR1", "X-INVENTED", "PROPFIND"} {
		env.tuDo(m, "/api/folders", "", nil)
	}
	env.tuDo("GET", "/api/version", "", nil).tuExpect(200, 0)
	metrics := string(env.tuDo("GET", "/metrics", "", nil).tuExpect(200, 0).Body)
	for _, m := range []string{"FOO", "BAR1", "X-INVENTED", "PROPFIND"} {
		if strings.Contains(metrics, `method="`+m+`"`) {
			t.Errorf("the invented method %s became a metric label", m)
		}
	}
	if !strings.Contains(metrics, `method="other"`) || !strings.Contains(metrics, `method="GET"`) {
		t.Errorf("want the standard methods by name and the rest as other:\n%s", metrics)
	}
}

// Every answer tells browsers not to guess content types (a media served from /static must never
// be run as HTML or script).
func TestNoSniffOnEveryAnswer(t *testing.T) {
	env := tuServer(t)
	for _, p := range []string{"/api/version", "/api/folders", "/no/such/path", "/healthz"} {
		r := env.tuDo("GET", p, "", nil)
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", p, got)
		}
	}
}

// One request cannot queue unbounded work: more than maxAnalysesPerRequest analyses are refused
// with the Oz envelope, and a media named twice in source_media is analysed once.
func TestAnalysesPerRequestBounded(t *testing.T) {
	env := tuServer(t)
	company := env.tuCompany("acme")
	u := env.tuUserLoggedIn(bonafide.RoleClient, company.ID, "client@example.com")
	folder := env.tuFolder(u)
	folderID := folder["folder_id"].(string)
	mediaID := folder["media"].([]any)[0].(map[string]any)["media_id"].(string)

	many := make([]map[string]any, 500)
	for i := range many {
		many[i] = map[string]any{"type": "QUALITY"}
	}
	r := env.tuDo("POST", "/api/folders/"+folderID+"/analyses", u.Token, map[string]any{"analyses": many}).tuExpect(400, int(bonafide.CodeInvalidValue))
	if !strings.Contains(r.Str("error_message"), "at most") {
		t.Errorf("%s: the message should say the limit", r)
	}
	env.Enq.mu.Lock()
	queued := len(env.Enq.analyses)
	env.Enq.mu.Unlock()
	if n := queued; n != 0 {
		t.Fatalf("a refused request queued %d analyses", n)
	}

	dup := make([]string, 20)
	for i := range dup {
		dup[i] = mediaID
	}
	arr := env.tuDo("POST", "/api/folders/"+folderID+"/analyses", u.Token,
		map[string]any{"analyses": []map[string]any{{"type": "QUALITY", "source_media": dup}}}).tuExpect(201, 0).Arr()
	got := env.tuDo("GET", "/api/analyses/"+arr[0].(map[string]any)["analyse_id"].(string), u.Token, nil).tuExpect(200, 0).Obj()
	if n := len(got["source_media"].([]any)); n != 1 {
		t.Fatalf("one media named 20 times: %d source media, want 1", n)
	}
}

// Login input is bounded before any work, and the failed-login table forgets what has expired:
// distinct unknown emails cannot grow the server's memory for ever.
func TestLoginBoundedInputAndMemory(t *testing.T) {
	env := tuServer(t)
	long := strings.Repeat("a", 300) + "@example.com"
	env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": long, "password": "x"}}).tuExpect(400, int(bonafide.CodeInvalidValue))
	env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": "a@example.com", "password": strings.Repeat("p", 5000)}}).tuExpect(400, int(bonafide.CodeInvalidValue))

	for i := range 20 {
		env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{
			"email": strings.Repeat("x", i+1) + "@example.com", "password": "wrong password"}}).tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	tracked := func() int {
		env.API.mu.Lock()
		defer env.API.mu.Unlock()
		return len(env.API.failures)
	}
	if n := tracked(); n != 20 {
		t.Fatalf("%d emails tracked after 20 failures, want 20", n)
	}
	env.Clock.Advance(env.API.cfg.LoginWindow + time.Second)
	// Each lookup forgets an email whose failures have all expired.
	for i := range 20 {
		env.API.throttled(strings.Repeat("x", i+1) + "@example.com")
	}
	if n := tracked(); n != 0 {
		t.Fatalf("%d emails still tracked after their window passed", n)
	}
}

// A request body that stops arriving is cut after BodyIdleTimeout (default 30 s; shortened here
// only to keep the test quick, the default is checked below), while the connection of a body that
// keeps moving is not.
func TestTrickledBodyIsCut(t *testing.T) {
	if (&Config{}).withDefaults().BodyIdleTimeout != 30*time.Second {
		t.Fatal("the default body idle timeout is not 30 s")
	}
	env := tuServer(t, func(c *Config) { c.BodyIdleTimeout = 2 * time.Second })
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/authorize/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	reply, _ := io.ReadAll(conn) // the server answers or closes once the body stalls
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("a stalled body held the connection for %v", d)
	}
	if !strings.HasPrefix(string(reply), "HTTP/1.1 400") || !strings.Contains(string(reply), "stopped arriving") {
		t.Fatalf("a stalled body should get 400 with the reason, got %.200q", reply)
	}
}

// Deleting a media removes its best shots (face crops: biometric data); deleting a folder removes
// every stored file of it.
func TestDeleteRemovesBestShots(t *testing.T) {
	env := tuServer(t)
	ctx := context.Background()
	company := env.tuCompany("acme")
	admin := env.tuUserLoggedIn(bonafide.RoleClientAdmin, company.ID, "admin@example.com")
	setup := func() (folderID, mediaID, bestKey, mediaKey string) {
		folder := env.tuFolder(admin)
		folderID = folder["folder_id"].(string)
		mediaID = folder["media"].([]any)[0].(map[string]any)["media_id"].(string)
		id := env.tuStartAnalysis(admin, folderID)
		a, err := env.Store.GetAnalysis(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		bestKey = folderID + "/best_shot_" + id + "_" + mediaID + ".jpg"
		if err := env.API.blobs.Put(ctx, bestKey, tuJPEG(t), "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		a.State, a.Resolution = bonafide.StateFinished, bonafide.ResolutionSuccess
		a.Results = []bonafide.MediaResult{{MediaID: mediaID, Kind: bonafide.KindImage, Resolution: bonafide.ResolutionSuccess, BestShotKey: bestKey}}
		if err := env.Store.FinishAnalysis(ctx, a); err != nil {
			t.Fatal(err)
		}
		m, err := env.Store.GetMedia(ctx, mediaID)
		if err != nil {
			t.Fatal(err)
		}
		return folderID, mediaID, bestKey, m.BlobKey
	}
	gone := func(key string) bool {
		_, err := env.API.blobs.Get(ctx, key)
		return err != nil
	}

	_, mediaID, best, file := setup()
	env.tuDo("DELETE", "/api/media/"+mediaID, admin.Token, nil).tuExpect(200, 0)
	if !gone(best) || !gone(file) {
		t.Fatalf("after deleting the media: best shot gone %v, media file gone %v", gone(best), gone(file))
	}

	folderID, _, best, file := setup()
	env.tuDo("DELETE", "/api/folders/"+folderID, admin.Token, nil).tuExpect(200, 0)
	if !gone(best) || !gone(file) {
		t.Fatalf("after deleting the folder: best shot gone %v, media file gone %v", gone(best), gone(file))
	}
}

// The Instant API runs at most MaxInstant analyses at once: past that a request is answered 429
// with Retry-After and the Oz envelope, before its upload is read; a freed slot serves again.
func TestInstantConcurrencyBounded(t *testing.T) {
	env := tuServer(t, func(c *Config) { c.MaxInstant = 2 })
	company := env.tuCompany("acme")
	u := env.tuUserLoggedIn(bonafide.RoleClient, company.ID, "client@example.com")
	form := tuMultipart(t, map[string][]byte{"photo1": tuJPEG(t)}, map[string]any{})
	// Two analyses running: the slots are taken.
	env.API.instantSlots <- struct{}{}
	env.API.instantSlots <- struct{}{}
	r := env.tuDo("POST", "/api/instant/folders", u.Token, form).tuExpect(429, int(bonafide.CodeThrottled))
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("%s: no Retry-After", r)
	}
	<-env.API.instantSlots
	// A slot is free again: the request gets past the limit (this test server has no engine, so
	// it is then refused as not enabled, 501).
	env.tuDo("POST", "/api/instant/folders", u.Token, form).tuExpect(501, int(bonafide.CodeNotRealized))
	if n := len(env.API.instantSlots); n != 1 {
		t.Fatalf("%d slots taken after the request ended, want 1", n)
	}
	if (&Config{}).withDefaults().MaxInstant < 2 {
		t.Fatal("the default MaxInstant must allow at least two")
	}
}
