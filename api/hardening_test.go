package api

import (
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
