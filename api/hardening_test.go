package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
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
	if n := len(env.Enq.Analyses()); n != 0 {
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

// Login input is bounded before any work, and the throttle tables forget what has expired and
// never hold more than MaxLoginEntries: distinct unknown emails cannot grow the server's memory.
func TestLoginBoundedInputAndMemory(t *testing.T) {
	env := tuServer(t, func(c *Config) { c.MaxLoginEntries = 15 })
	long := strings.Repeat("a", 300) + "@example.com"
	env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": long, "password": "x"}}).tuExpect(400, int(bonafide.CodeInvalidValue))
	env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": "a@example.com", "password": strings.Repeat("p", 5000)}}).tuExpect(400, int(bonafide.CodeInvalidValue))

	for i := range 10 {
		env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{
			"email": strings.Repeat("x", i+1) + "@example.com", "password": "wrong password"}}).tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	if p, a, b := env.API.throttle.size(); p != 10 || a != 10 || b != 1 {
		t.Fatalf("%d pairs, %d emails and %d addresses tracked after 10 failures from one address, want 10, 10 and 1", p, a, b)
	}
	// Past the cap the stalest entry makes room: never more than MaxLoginEntries.
	now := env.Clock.Now()
	for i := range 40 {
		_ = env.API.throttle.fail(t.Context(), fmt.Sprintf("user%d@example.com", i), netip.MustParseAddr(fmt.Sprintf("10.0.0.%d", i)), now)
	}
	if p, a, b := env.API.throttle.size(); p != 15 || a != 15 || b != 15 {
		t.Fatalf("%d pairs, %d emails and %d addresses tracked, want the cap 15", p, a, b)
	}
	// Expired entries are swept when room is needed.
	env.Clock.Advance(env.API.cfg.LoginWindow + time.Second)
	_ = env.API.throttle.fail(t.Context(), "late@example.com", netip.MustParseAddr("10.0.1.1"), env.Clock.Now())
	if p, a, b := env.API.throttle.size(); p != 1 || a != 1 || b != 1 {
		t.Fatalf("%d pairs, %d emails and %d addresses still tracked after their window passed, want 1, 1 and 1", p, a, b)
	}
}

// Failed logins of one account from one address back off exponentially: past LoginFailures the
// next attempt waits 1 s, then 2 s, 4 s, ... at most LoginBackoffMax, answered 429 code 101 with
// Retry-After and a message saying how long; there is no hard lock; a success resets the count.
func TestLoginBackoffPerAccount(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testLoginBackoffPerAccount(t, false) })
	t.Run("shared", func(t *testing.T) { testLoginBackoffPerAccount(t, true) })
}

// testLoginBackoffPerAccount: shared keeps the entries in the store (scale-out), which must
// behave the same.
func testLoginBackoffPerAccount(t *testing.T, shared bool) {
	env := tuServer(t, func(c *Config) {
		c.TrustedProxyHeader = "X-Forwarded-For"
		c.LoginAddressFailures = 1000 // this test is about the account, not the address
		if shared {
			c.SharedLoginThrottle = tuSharedThrottle
		}
	})
	c := env.tuCompany("Acme")
	alice := env.tuCreateUser(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	login := func(pw string) *tuResp {
		return env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": alice.Email, "password": pw}},
			"X-Forwarded-For", "198.51.100.1")
	}
	for range 5 {
		login("wrong password").tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	wantWait := func(secs int) {
		t.Helper()
		r := login(tuPassword).tuExpect(429, int(bonafide.CodeThrottled))
		if got := r.Header.Get("Retry-After"); got != fmt.Sprint(secs) {
			t.Fatalf("Retry-After %q, want %d: %s", got, secs, r)
		}
		if !strings.Contains(r.Str("error_message"), "wait ") || !strings.Contains(r.Str("error_message"), "account") {
			t.Errorf("%s: the message should say to wait and why", r)
		}
	}
	wantWait(1)
	env.Clock.Advance(time.Second)
	login("wrong password").tuExpect(401, int(bonafide.CodeCredentialsBad))
	wantWait(2)
	env.Clock.Advance(2 * time.Second)
	login("wrong password").tuExpect(401, int(bonafide.CodeCredentialsBad))
	wantWait(4)
	// Refused attempts neither count nor lengthen the wait.
	for range 20 {
		login("wrong password").tuExpect(429, int(bonafide.CodeThrottled))
	}
	wantWait(4)
	// However long the guessing, the owner waits at most LoginBackoffMax (1 min).
	for range 12 {
		env.Clock.Advance(time.Minute)
		login("wrong password").tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	r := login(tuPassword).tuExpect(429, int(bonafide.CodeThrottled))
	if r.Header.Get("Retry-After") != "60" || !strings.Contains(r.Str("error_message"), "wait 1 minute") {
		t.Fatalf("%s (Retry-After %s): want a 1 minute cap", r, r.Header.Get("Retry-After"))
	}
	env.Clock.Advance(time.Minute)
	login(tuPassword).tuExpect(200, 0)
	// The success reset the count: the next wrong password is a plain 401, and so are four more.
	for range 5 {
		login("wrong password").tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	login(tuPassword).tuExpect(429, int(bonafide.CodeThrottled))
}

// A stranger failing to log in to someone else's account from their own address is throttled
// there, and the owner at another address is not: no lockout by a stranger (issue 20, 4). The
// account keeps a much higher ceiling across addresses (LoginAccountFailures): a guesser spread
// over many addresses is throttled past it, for every address, the owner's included.
func TestLoginThrottleStrangerCannotLockOwner(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testLoginThrottleStranger(t, false) })
	t.Run("shared", func(t *testing.T) { testLoginThrottleStranger(t, true) })
}

func testLoginThrottleStranger(t *testing.T, shared bool) {
	if got := New(Config{}, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil).cfg; got.LoginFailures != 5 ||
		got.LoginAccountFailures != 100 || got.LoginAddressFailures != 20 || got.LoginBackoffMax != time.Minute {
		t.Fatalf("login throttle defaults %d/%d/%d/%s, want what the README says: 5 per account and address, 100 per account, 20 per address, 1m",
			got.LoginFailures, got.LoginAccountFailures, got.LoginAddressFailures, got.LoginBackoffMax)
	}
	const ceiling = 30 // LoginAccountFailures, lowered to keep the test short (argon2 per attempt)
	env := tuServer(t, func(c *Config) {
		c.TrustedProxyHeader = "X-Forwarded-For"
		c.LoginAccountFailures = ceiling
		if shared {
			c.SharedLoginThrottle = tuSharedThrottle
		}
	})
	c := env.tuCompany("Acme")
	alice := env.tuCreateUser(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	login := func(pw, from string) *tuResp {
		return env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": alice.Email, "password": pw}},
			"X-Forwarded-For", from)
	}
	const attacker, owner = "203.0.113.7", "198.51.100.20"
	// Brute force from one address: throttled after the 5 free failures, as before.
	for range 5 {
		login("wrong password", attacker).tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	r := login("wrong password", attacker).tuExpect(429, int(bonafide.CodeThrottled))
	if !strings.Contains(r.Str("error_message"), "account") {
		t.Errorf("%s: the attacker should be told the account is throttled", r)
	}
	login(tuPassword, attacker).tuExpect(429, int(bonafide.CodeThrottled))
	// The owner, elsewhere, logs in at once, again and again while the attacker keeps going.
	login(tuPassword, owner).tuExpect(200, 0)
	for range 10 {
		env.Clock.Advance(time.Minute) // every wait of the attacker's address is over
		login("wrong password", attacker).tuExpect(401, int(bonafide.CodeCredentialsBad))
		login("wrong password", attacker).tuExpect(429, int(bonafide.CodeThrottled))
		login(tuPassword, owner).tuExpect(200, 0)
	}
	// The owner's own typos from their address still count for them alone.
	for range 5 {
		login("wrong password", owner).tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	login(tuPassword, owner).tuExpect(429, int(bonafide.CodeThrottled))
	env.Clock.Advance(time.Second)
	login(tuPassword, owner).tuExpect(200, 0)

	// A guesser spread over many addresses: one failure each, until the account's ceiling.
	env.Clock.Advance(time.Hour) // everything above is forgotten
	for i := range ceiling {
		login("wrong password", fmt.Sprintf("10.1.%d.%d", i/200, i%200+1)).tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	r = login("wrong password", "10.2.0.1").tuExpect(429, int(bonafide.CodeThrottled))
	if r.Header.Get("Retry-After") != "1" || !strings.Contains(r.Str("error_message"), "account") {
		t.Errorf("%s (Retry-After %s): past the account's ceiling a new address waits 1 s", r, r.Header.Get("Retry-After"))
	}
	login(tuPassword, owner).tuExpect(429, int(bonafide.CodeThrottled))
	env.Clock.Advance(time.Second)
	login("wrong password", "10.2.0.2").tuExpect(401, int(bonafide.CodeCredentialsBad))
	r = login("wrong password", "10.2.0.3").tuExpect(429, int(bonafide.CodeThrottled))
	if r.Header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %s: the account's backoff doubles past its ceiling", r.Header.Get("Retry-After"))
	}
	// A success does not give the guessers a fresh allowance: the account's count runs out on its own.
	env.Clock.Advance(2 * time.Second)
	login(tuPassword, owner).tuExpect(200, 0)
	login("wrong password", "10.2.0.4").tuExpect(401, int(bonafide.CodeCredentialsBad))
	login("wrong password", "10.2.0.5").tuExpect(429, int(bonafide.CodeThrottled))
}

// In scale-out the throttle's entries live in the database: failures spread over two nodes count
// as one, a node that never saw a failure refuses the next attempt, and a success on either node
// clears the account on both.
func TestLoginThrottleSharedByNodes(t *testing.T) {
	env := tuServer(t, func(c *Config) { c.SharedLoginThrottle = tuSharedThrottle })
	c := env.tuCompany("Acme")
	alice := env.tuCreateUser(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	// A second node on the same database, with the same clock.
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := httptest.NewUnstartedServer(nil)
	other := New(Config{BaseURL: "http://" + ts.Listener.Addr().String(), SharedLoginThrottle: env.Store}, env.Store, nil, nil, discard, env.Clock.Now)
	ts.Config.Handler = other.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	login := func(base, pw string) int {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"credentials": map[string]string{"email": alice.Email, "password": pw}})
		resp, err := http.Post(base+"/api/authorize/auth", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 5 { // the free failures, alternating between the nodes
		base := env.URL
		if i%2 == 1 {
			base = ts.URL
		}
		if code := login(base, "wrong password"); code != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, code)
		}
	}
	for _, base := range []string{env.URL, ts.URL} {
		if code := login(base, tuPassword); code != 429 {
			t.Fatalf("after 5 failures over two nodes, %s answers %d, want 429", base, code)
		}
	}
	env.Clock.Advance(time.Second)
	if code := login(ts.URL, tuPassword); code != 200 {
		t.Fatalf("after the wait: %d, want 200", code)
	}
	// The success on the second node cleared the count for the first.
	for range 5 {
		if code := login(env.URL, "wrong password"); code != 401 {
			t.Fatalf("after the success: %d, want 401", code)
		}
	}
	if code := login(ts.URL, tuPassword); code != 429 {
		t.Fatalf("the first node's failures did not reach the second: %d", code)
	}
}

// One address hammering many accounts is throttled as an address (password spraying): past
// LoginAddressFailures every attempt from it waits, on any account, while other addresses and the
// accounts themselves are unaffected. The address comes from the trusted-proxy header only when
// one is configured.
func TestLoginThrottlePerAddress(t *testing.T) {
	env := tuServer(t, func(c *Config) { c.TrustedProxyHeader = "X-Forwarded-For" })
	c := env.tuCompany("Acme")
	alice := env.tuCreateUser(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	login := func(email, pw, from string) *tuResp {
		return env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": email, "password": pw}},
			"X-Forwarded-For", from)
	}
	const attacker = "203.0.113.7"
	for i := range 20 {
		login(fmt.Sprintf("user%d@acme.example.com", i), "Password1", attacker).tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	r := login("user99@acme.example.com", "Password1", attacker).tuExpect(429, int(bonafide.CodeThrottled))
	if r.Header.Get("Retry-After") != "1" || !strings.Contains(r.Str("error_message"), "address") {
		t.Errorf("%s (Retry-After %s): want a wait of 1 s for the address", r, r.Header.Get("Retry-After"))
	}
	login(alice.Email, tuPassword, attacker).tuExpect(429, int(bonafide.CodeThrottled))
	// The same client behind another proxy hop is still the same client (the rightmost entry).
	login(alice.Email, tuPassword, "192.0.2.1, "+attacker).tuExpect(429, int(bonafide.CodeThrottled))
	login(alice.Email, tuPassword, "198.51.100.20").tuExpect(200, 0)
	// IPv6 clients are counted per /64.
	for i := range 20 {
		login(fmt.Sprintf("v6user%d@acme.example.com", i), "Password1", fmt.Sprintf("2001:db8:1:2::%x", i+1)).tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	login(alice.Email, tuPassword, "2001:db8:1:2:ffff::1").tuExpect(429, int(bonafide.CodeThrottled))
	login(alice.Email, tuPassword, "2001:db8:1:3::1").tuExpect(200, 0)

	// Without a configured header, X-Forwarded-For is ignored: every request is the connection's
	// address, so a client cannot dodge the throttle by inventing addresses.
	plain := tuServer(t)
	for i := range 20 {
		plain.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "Password1"}},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1)).tuExpect(401, int(bonafide.CodeCredentialsBad))
	}
	plain.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": "u99@example.com", "password": "Password1"}},
		"X-Forwarded-For", "198.51.100.99").tuExpect(429, int(bonafide.CodeThrottled))
}

// The client address: the connection's by default; the configured header only from a trusted
// proxy, read right to left past the trusted hops.
func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, c := range []struct {
		name    string
		header  string
		proxies []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no header configured", "", nil, "192.0.2.1:5000", []string{"203.0.113.9"}, "192.0.2.1"},
		{"header from any peer", "X-Forwarded-For", nil, "192.0.2.1:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"rightmost entry", "X-Forwarded-For", nil, "192.0.2.1:5000", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"several header lines", "X-Forwarded-For", nil, "192.0.2.1:5000", []string{"1.1.1.1", "203.0.113.9"}, "203.0.113.9"},
		{"absent header", "X-Forwarded-For", nil, "192.0.2.1:5000", nil, "192.0.2.1"},
		{"garbage", "X-Forwarded-For", nil, "192.0.2.1:5000", []string{"1.1.1.1, not-an-ip"}, "192.0.2.1"},
		{"untrusted peer", "X-Forwarded-For", proxies, "192.0.2.1:5000", []string{"203.0.113.9"}, "192.0.2.1"},
		{"trusted peer", "X-Forwarded-For", proxies, "10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"trusted hops skipped", "X-Forwarded-For", proxies, "10.1.2.3:5000", []string{"6.6.6.6, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"all hops trusted", "X-Forwarded-For", proxies, "10.1.2.3:5000", []string{"10.8.8.8, 10.9.9.9"}, "10.8.8.8"},
		{"X-Real-IP with a port", "X-Real-IP", proxies, "[fd00::1]:5000", []string{"[2001:db8::5]:443"}, "2001:db8::5"},
		{"IPv4 in IPv6", "", nil, "[::ffff:192.0.2.1]:5000", nil, "192.0.2.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(Config{TrustedProxyHeader: c.header, TrustedProxies: c.proxies}, nil, nil, nil, nil, nil)
			r := httptest.NewRequest("POST", "/api/authorize/auth", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add(c.header, v)
			}
			if got := s.clientAddr(r); got.String() != c.want {
				t.Errorf("clientAddr = %s, want %s", got, c.want)
			}
		})
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

// A body that keeps trickling (a byte every 200 ms: never idle) is cut once its average rate is
// under BodyMinRate after BodyMinRateGrace (defaults 4 KiB/s after 10 s, checked here; the grace
// is shortened to 1 s only to keep the test quick): 400 code 3 with the reason, the connection
// closed, the cut counted. An upload at a good rate that lasts past the grace passes.
func TestSlowBodyIsCut(t *testing.T) {
	if c := (&Config{}).withDefaults(); c.BodyMinRate != 4096 || c.BodyMinRateGrace != 10*time.Second {
		t.Fatalf("body minimum rate defaults %d B/s after %s, want what the README says: 4096 after 10s", c.BodyMinRate, c.BodyMinRateGrace)
	}
	if c := (&Config{BodyMinRate: -1}).withDefaults(); c.BodyMinRate > 0 {
		t.Fatalf("a negative BodyMinRate turns the check off, got %d", c.BodyMinRate)
	}
	env := tuServer(t, func(c *Config) { c.BodyMinRateGrace = time.Second })
	c := env.tuCompany("Acme")
	alice := env.tuCreateUser(bonafide.RoleClient, c.ID, "alice@acme.example.com")
	hostPort := strings.TrimPrefix(env.URL, "http://")

	// The trickle: the connection answers and closes soon after the grace, long before the idle
	// timeout (30 s) or the 100 s the body would take.
	conn, err := net.Dial("tcp", hostPort)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/authorize/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n")
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	reply, _ := io.ReadAll(conn) // io.ReadAll returns once the server closes the connection
	close(stop)
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("a trickled body held the connection for %v", d)
	}
	if !strings.HasPrefix(string(reply), "HTTP/1.1 400") || !strings.Contains(string(reply), "under the minimum of 4096") ||
		!strings.Contains(strings.ToLower(string(reply)), "connection: close") {
		t.Fatalf("a trickled body should get 400 with the reason and Connection: close, got %.400q", reply)
	}

	// A good upload: 64 KiB of JSON at about 40 KiB/s, lasting past the grace, logs in.
	body := `{"credentials":{"email":"` + alice.Email + `","password":"` + tuPassword + `"}}` + strings.Repeat(" ", 64<<10)
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < len(body); i += 4096 {
			time.Sleep(100 * time.Millisecond)
			if _, err := pw.Write([]byte(body[i:min(i+4096, len(body))])); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", env.URL+"/api/authorize/auth", pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("an upload at a good rate: %d %s", resp.StatusCode, got)
	}
	if time.Since(began) < time.Second {
		t.Fatalf("the good upload ended within the grace, so it proved nothing")
	}

	metrics := string(env.tuDo("GET", "/metrics", "", nil).tuExpect(200, 0).Body)
	if !strings.Contains(metrics, `bonafide_http_bodies_cut_total{reason="slow"} 1`) {
		t.Errorf("the cut is not counted:\n%s", metrics)
	}
}

// Once a body has ended no deadline is set again: a handler still at work after the minimum-rate
// deadline of its (small) body is not cancelled by the server's background read.
func TestBodyDeadlineLiftedAtEnd(t *testing.T) {
	env := tuServer(t, func(c *Config) { c.BodyMinRateGrace = 200 * time.Millisecond })
	ctxErr := make(chan error, 1)
	ts := httptest.NewServer(env.API.bodyIdle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(time.Second): // well past start + grace + 2 bytes / 4 KiB/s
		}
		ctxErr <- r.Context().Err()
	})))
	defer ts.Close()
	resp, err := http.Post(ts.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-ctxErr; err != nil {
		t.Fatalf("the handler's context ended after its body was read: %v", err)
	}
}
