package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// All network traffic in these tests goes to 127.0.0.1 or ::1 only.

// receiver is an httptest server on 127.0.0.1 that verifies signatures.
type receiver struct {
	*httptest.Server
	hits    atomic.Int32
	lastErr atomic.Value // error from Verify or header checks (nil-wrapped)
	lastUA  atomic.Value
}

func newReceiver(t *testing.T, secret string, status int) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		body, _ := io.ReadAll(req.Body)
		err := Verify(secret, req.Header, body, time.Minute, time.Now())
		if err == nil && req.Method != http.MethodPost {
			err = fmt.Errorf("method %s", req.Method)
		}
		if err == nil && req.Header.Get("Content-Type") != "application/json" {
			err = fmt.Errorf("content-type %q", req.Header.Get("Content-Type"))
		}
		if err == nil && req.Header.Get("webhook-id") != "msg_deliver" {
			err = fmt.Errorf("webhook-id %q", req.Header.Get("webhook-id"))
		}
		if err == nil && string(body) != `{"status":"live"}` {
			err = fmt.Errorf("body %q", body)
		}
		r.lastErr.Store([]error{err})
		r.lastUA.Store(req.Header.Get("User-Agent"))
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) verifyErr() error {
	v, _ := r.lastErr.Load().([]error)
	if v == nil {
		return errors.New("receiver saw no request")
	}
	return v[0]
}

var testBody = []byte(`{"status":"live"}`)

func TestDeliverSignedToLoopback(t *testing.T) {
	secret, _ := NewSecret()
	rcv := newReceiver(t, secret, http.StatusNoContent)
	c := New(Options{AllowPrivate: true, UserAgent: "bonafide-test/1", Timeout: 5 * time.Second})
	if err := c.Deliver(context.Background(), rcv.URL+"/hook", secret, "msg_deliver", testBody); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if err := rcv.verifyErr(); err != nil {
		t.Fatalf("receiver rejected delivery: %v", err)
	}
	if ua := rcv.lastUA.Load(); ua != "bonafide-test/1" {
		t.Fatalf("user-agent %q", ua)
	}
	// Default user agent.
	if err := New(Options{AllowPrivate: true}).Deliver(context.Background(), rcv.URL, secret, "msg_deliver", testBody); err != nil {
		t.Fatal(err)
	}
	if ua := rcv.lastUA.Load(); ua != DefaultUserAgent {
		t.Fatalf("default user-agent %q", ua)
	}
}

// sentinelListener is a raw TCP listener used to prove that no connection
// was attempted: after the call under test, Accept must time out.
func sentinelListener(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func assertNoConnection(t *testing.T, ln net.Listener) {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(150 * time.Millisecond))
	conn, err := ln.Accept()
	if err == nil {
		conn.Close()
		t.Fatal("the guard let a connection through to the listener")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("unexpected accept error: %v", err)
	}
}

func assertBlocked(t *testing.T, err error, addr string) {
	t.Helper()
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v (%T), want *BlockedError", err, err)
	}
	if addr != "" && be.Addr.String() != addr {
		t.Fatalf("BlockedError.Addr = %v, want %s", be.Addr, addr)
	}
	if !strings.Contains(err.Error(), "refusing to connect") {
		t.Fatalf("unclear message: %v", err)
	}
	if Retryable(err) {
		t.Fatal("BlockedError classified retryable")
	}
}

func TestDeliverRefusesLoopbackBeforeConnecting(t *testing.T) {
	secret, _ := NewSecret()
	c := New(Options{Timeout: 200 * time.Millisecond})

	t.Run("127.0.0.1 literal", func(t *testing.T) {
		ln := sentinelListener(t, "tcp4", "127.0.0.1:0")
		err := c.Deliver(context.Background(), "http://"+ln.Addr().String()+"/hook", secret, "msg_1", testBody)
		assertBlocked(t, err, "127.0.0.1")
		assertNoConnection(t, ln)
	})
	t.Run("::1 literal", func(t *testing.T) {
		ln := sentinelListener(t, "tcp6", "[::1]:0")
		err := c.Deliver(context.Background(), "http://"+ln.Addr().String()+"/hook", secret, "msg_1", testBody)
		assertBlocked(t, err, "::1")
		assertNoConnection(t, ln)
	})
	t.Run("IPv4-mapped ::ffff:127.0.0.1", func(t *testing.T) {
		ln := sentinelListener(t, "tcp4", "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		err := c.Deliver(context.Background(), fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port), secret, "msg_1", testBody)
		assertBlocked(t, err, "127.0.0.1")
		assertNoConnection(t, ln)
	})
	t.Run("localhost name is refused at connect time", func(t *testing.T) {
		// The URL pre-check does not resolve names; this exercises the
		// net.Dialer Control hook, which sees the resolved address.
		ln := sentinelListener(t, "tcp4", "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		err := c.Deliver(context.Background(), fmt.Sprintf("http://localhost:%d/", port), secret, "msg_1", testBody)
		if err != nil && strings.Contains(err.Error(), "no such host") {
			t.Skipf("localhost does not resolve here: %v", err)
		}
		assertBlocked(t, err, "")
		var be *BlockedError
		errors.As(err, &be)
		if !be.Addr.IsLoopback() || be.Host != "localhost" {
			t.Fatalf("BlockedError = %+v", be)
		}
		assertNoConnection(t, ln)
	})
	t.Run("Control hook on a literal address", func(t *testing.T) {
		// Bypass the URL pre-check and dial directly through the guarded dialer.
		ln := sentinelListener(t, "tcp4", "127.0.0.1:0")
		conn, err := c.dialContext(context.Background(), "tcp", ln.Addr().String())
		if err == nil {
			conn.Close()
		}
		assertBlocked(t, err, "127.0.0.1")
		assertNoConnection(t, ln)
	})
}

func TestDeliverRefusesPrivateAndMetadata(t *testing.T) {
	secret, _ := NewSecret()
	// Short timeout as a second line of defence: no packet may ever leave
	// for these addresses.
	opts := Options{Timeout: 200 * time.Millisecond}
	c := New(opts)
	for _, tc := range []struct{ url, addr string }{
		{"http://10.0.0.1/hook", "10.0.0.1"},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254"},
		{"https://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"},
		{"http://100.64.0.1:8080/", "100.64.0.1"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			// Safety interlock: never call Deliver unless the guard is known
			// to refuse this address without dialing.
			ip := netip.MustParseAddr(tc.addr)
			if blockedReason(ip) == "" || newPolicy(opts).checkIP(tc.addr, ip) == nil {
				t.Fatalf("guard would not block %s; not attempting delivery", tc.addr)
			}
			if _, err := newPolicy(opts).parseTarget(tc.url, false); err == nil {
				t.Fatalf("URL pre-check would not block %s; not attempting delivery", tc.url)
			}
			start := time.Now()
			err := c.Deliver(context.Background(), tc.url, secret, "msg_1", testBody)
			assertBlocked(t, err, tc.addr)
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Fatalf("refusal took %v; it should not involve the network", d)
			}
		})
	}
}

func TestAllowedHosts(t *testing.T) {
	secret, _ := NewSecret()
	rcv := newReceiver(t, secret, http.StatusOK)
	port := rcv.Listener.Addr().(*net.TCPAddr).Port

	for _, allowed := range [][]string{{"127.0.0.1"}, {"127.0.0.0/8"}, {" 127.0.0.1 ", "10.9.9.9"}} {
		c := New(Options{AllowedHosts: allowed, Timeout: 2 * time.Second})
		if err := c.Deliver(context.Background(), rcv.URL, secret, "msg_deliver", testBody); err != nil {
			t.Fatalf("AllowedHosts %q: %v", allowed, err)
		}
		if err := rcv.verifyErr(); err != nil {
			t.Fatalf("receiver: %v", err)
		}
	}

	// A host name entry permits whatever that name resolves to.
	c := New(Options{AllowedHosts: []string{"LocalHost."}, Timeout: 2 * time.Second})
	err := c.Deliver(context.Background(), fmt.Sprintf("http://localhost:%d/", port), secret, "msg_deliver", testBody)
	if err != nil && !strings.Contains(err.Error(), "no such host") {
		// localhost may resolve to ::1 first while the server listens on
		// 127.0.0.1 only; Go falls back to the other address.
		t.Fatalf("AllowedHosts localhost: %v", err)
	}

	// Allowing something else does not open up 127.0.0.1.
	before := rcv.hits.Load()
	c = New(Options{AllowedHosts: []string{"10.0.0.0/8", "example.com", "::1"}, Timeout: 200 * time.Millisecond})
	err = c.Deliver(context.Background(), rcv.URL, secret, "msg_deliver", testBody)
	assertBlocked(t, err, "127.0.0.1")
	if rcv.hits.Load() != before {
		t.Fatal("receiver was hit despite the block")
	}
}

func TestRedirectsNotFollowed(t *testing.T) {
	secret, _ := NewSecret()
	target := newReceiver(t, secret, http.StatusOK)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/final", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()

	c := New(Options{AllowPrivate: true, Timeout: 2 * time.Second})
	err := c.Deliver(context.Background(), redirector.URL, secret, "msg_deliver", testBody)
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("err = %v, want StatusError 307", err)
	}
	if se.Location != target.URL+"/final" || !strings.Contains(err.Error(), "redirects are not followed") {
		t.Fatalf("unhelpful redirect error: %v", err)
	}
	if Retryable(err) {
		t.Fatal("redirect classified retryable")
	}
	if n := target.hits.Load(); n != 0 {
		t.Fatalf("redirect target was hit %d times", n)
	}
}

func TestNonSuccessStatus(t *testing.T) {
	secret, _ := NewSecret()
	tests := []struct {
		status    int
		retryable bool
	}{
		{400, false}, {401, false}, {403, false}, {404, false}, {410, false}, {422, false},
		{408, true}, {429, true}, {500, true}, {502, true}, {503, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, "nope %d\n\x00details", tc.status)
			}))
			defer srv.Close()
			err := New(Options{AllowPrivate: true, Timeout: 2 * time.Second}).
				Deliver(context.Background(), srv.URL, secret, "msg_1", testBody)
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status {
				t.Fatalf("err = %v, want StatusError %d", err, tc.status)
			}
			if want := fmt.Sprintf("nope %d details", tc.status); se.Body != want {
				t.Fatalf("Body = %q, want %q", se.Body, want)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tc.status)) || !strings.Contains(err.Error(), "nope") {
				t.Fatalf("error lacks status or body: %v", err)
			}
			if se.RetryAfter != 7*time.Second {
				t.Fatalf("RetryAfter = %v", se.RetryAfter)
			}
			if got := Retryable(err); got != tc.retryable {
				t.Fatalf("Retryable = %v, want %v", got, tc.retryable)
			}
		})
	}
}

func TestResponseBodyBounded(t *testing.T) {
	secret, _ := NewSecret()
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, big)
	}))
	defer srv.Close()
	err := New(Options{AllowPrivate: true, MaxResponseBytes: 100}).
		Deliver(context.Background(), srv.URL, secret, "msg_1", testBody)
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if len(se.Body) != 100 {
		t.Fatalf("Body length %d, want 100", len(se.Body))
	}
	if len(err.Error()) > 400 {
		t.Fatalf("error message is %d bytes long", len(err.Error()))
	}

	// Default cap, and success responses with large bodies are fine.
	err = New(Options{AllowPrivate: true}).Deliver(context.Background(), srv.URL, secret, "msg_1", testBody)
	if !errors.As(err, &se) || len(se.Body) != DefaultMaxResponseBytes {
		t.Fatalf("default cap: err = %v, body %d", err, len(se.Body))
	}
}

func TestTimeout(t *testing.T) {
	secret, _ := NewSecret()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	start := time.Now()
	err := New(Options{AllowPrivate: true, Timeout: 200 * time.Millisecond}).
		Deliver(context.Background(), srv.URL, secret, "msg_1", testBody)
	if err == nil {
		t.Fatal("expected timeout error")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if !Retryable(err) {
		t.Fatalf("timeout not retryable: %v", err)
	}

	// A caller deadline is honoured too.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	err = New(Options{AllowPrivate: true}).Deliver(ctx, srv.URL, secret, "msg_1", testBody)
	if !errors.Is(err, context.DeadlineExceeded) || !Retryable(err) {
		t.Fatalf("ctx deadline: err = %v", err)
	}
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	secret, _ := NewSecret()
	err = New(Options{AllowPrivate: true, Timeout: time.Second}).
		Deliver(context.Background(), "http://"+addr+"/", secret, "msg_1", testBody)
	if err == nil {
		t.Skip("something else is listening on the freed port")
	}
	if !Retryable(err) {
		t.Fatalf("connection refused not retryable: %v", err)
	}
}

func TestDeliverPermanentInputErrors(t *testing.T) {
	ln := sentinelListener(t, "tcp4", "127.0.0.1:0")
	c := New(Options{AllowPrivate: true, Timeout: 200 * time.Millisecond})
	secret, _ := NewSecret()
	for name, call := range map[string]func() error{
		"bad secret": func() error {
			return c.Deliver(context.Background(), "http://"+ln.Addr().String(), "whsec_***", "msg_1", testBody)
		},
		"empty id": func() error {
			return c.Deliver(context.Background(), "http://"+ln.Addr().String(), secret, "", testBody)
		},
		"bad scheme": func() error {
			return c.Deliver(context.Background(), "file:///etc/passwd", secret, "msg_1", testBody)
		},
		"no host": func() error { return c.Deliver(context.Background(), "http:///x", secret, "msg_1", testBody) },
	} {
		err := call()
		if err == nil || Retryable(err) {
			t.Fatalf("%s: err = %v, retryable = %v", name, err, Retryable(err))
		}
	}
	assertNoConnection(t, ln)
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"blocked", &BlockedError{Host: "10.0.0.1", Addr: netip.MustParseAddr("10.0.0.1"), Reason: "private network"}, false},
		{"wrapped blocked", fmt.Errorf("x: %w", &net.OpError{Op: "dial", Err: &BlockedError{Reason: "loopback"}}), false},
		{"invalid URL", fmt.Errorf("%w: nope", ErrInvalidURL), false},
		{"invalid secret", fmt.Errorf("%w: nope", ErrInvalidSecret), false},
		{"400", &StatusError{StatusCode: 400}, false},
		{"404", &StatusError{StatusCode: 404}, false},
		{"301", &StatusError{StatusCode: 301}, false},
		{"408", &StatusError{StatusCode: 408}, true},
		{"429", &StatusError{StatusCode: 429}, true},
		{"500", &StatusError{StatusCode: 500}, true},
		{"504", &StatusError{StatusCode: 504}, true},
		{"net error", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"dns", &net.DNSError{Err: "no such host", Name: "x.invalid"}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"eof", io.ErrUnexpectedEOF, true},
	}
	for _, tc := range tests {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("%s: Retryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidateURL(t *testing.T) {
	ok := []string{
		"https://example.com/hooks/liveness",
		"http://example.com:8080/x?y=1",
		"HTTPS://Example.COM/",
		"https://93.184.216.34/hook", // literal public IP (no traffic: ValidateURL never connects)
		"https://[2606:4700::1111]/hook",
	}
	for _, u := range ok {
		if err := ValidateURL(u, Options{}); err != nil {
			t.Errorf("ValidateURL(%q) = %v, want nil", u, err)
		}
	}
	bad := []struct{ url, msg string }{
		{"", "empty"},
		{"   ", "empty"},
		{"example.com/hook", "https://"},
		{"ftp://example.com/", `scheme "ftp"`},
		{"javascript:alert(1)", `scheme "javascript"`},
		{"https://", "no host"},
		{"http:///path", "no host"},
		{"http://exa mple.com/", "not a valid URL"},
		{"http://example.com:99999/", "port"},
		{"http://10.0.0.1/hook", "private network"},
		{"http://172.16.5.4/", "private network"},
		{"http://192.168.1.1/", "private network"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://127.0.0.1:8080/", "loopback"},
		{"http://[::1]/", "loopback"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://[fd12:3456::1]/", "private network"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://100.64.1.2/", "carrier-grade NAT"},
		{"http://224.0.0.1/", "multicast"},
		{"http://255.255.255.255/", "broadcast"},
		{"http://[64:ff9b::a00:1]/", "private network"},
		{"http://localhost:8080/", "localhost"},
		{"http://api.LOCALHOST./", "localhost"},
	}
	for _, tc := range bad {
		err := ValidateURL(tc.url, Options{})
		if err == nil {
			t.Errorf("ValidateURL(%q) = nil, want error", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ValidateURL(%q) = %q, want mention of %q", tc.url, err, tc.msg)
		}
		var be *BlockedError
		if !errors.As(err, &be) && !errors.Is(err, ErrInvalidURL) {
			t.Errorf("ValidateURL(%q) error %T is neither BlockedError nor ErrInvalidURL", tc.url, err)
		}
	}

	// Permissions.
	if err := ValidateURL("http://127.0.0.1:9000/", Options{AllowPrivate: true}); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
	if err := ValidateURL("http://localhost:9000/", Options{AllowPrivate: true}); err != nil {
		t.Errorf("AllowPrivate localhost: %v", err)
	}
	if err := ValidateURL("http://10.1.2.3/", Options{AllowedHosts: []string{"10.1.0.0/16"}}); err != nil {
		t.Errorf("AllowedHosts CIDR: %v", err)
	}
	if err := ValidateURL("http://10.2.0.1/", Options{AllowedHosts: []string{"10.1.0.0/16"}}); err == nil {
		t.Error("AllowedHosts CIDR matched outside its range")
	}
	if err := ValidateURL("http://[::1]:9000/", Options{AllowedHosts: []string{"[::1]"}}); err != nil {
		t.Errorf("AllowedHosts [::1]: %v", err)
	}
	if err := ValidateURL("http://localhost/", Options{AllowedHosts: []string{"localhost"}}); err != nil {
		t.Errorf("AllowedHosts localhost: %v", err)
	}
	if ValidateURL("ftp://127.0.0.1/", Options{AllowPrivate: true}) == nil {
		t.Error("AllowPrivate must not relax the scheme check")
	}
}

func TestBlockedReason(t *testing.T) {
	public := []string{"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"}
	for _, s := range public {
		if r := blockedReason(netip.MustParseAddr(s)); r != "" {
			t.Errorf("%s blocked as %q", s, r)
		}
	}
	blocked := []string{"127.0.0.1", "127.255.0.9", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1", "fc00::1", "fd00:ec2::254",
		"169.254.169.254", "169.254.0.1", "fe80::1", "0.0.0.0", "::", "0.1.2.3", "100.64.0.1", "100.127.255.255", "224.0.0.251", "ff02::1", "ff05::2",
		"240.0.0.1", "255.255.255.255", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1", "::127.0.0.1"}
	for _, s := range blocked {
		if r := blockedReason(netip.MustParseAddr(s)); r == "" {
			t.Errorf("%s not blocked", s)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{AllowedHosts: []string{"hooks.internal", "10.0.0.0/8", "::1", "192.168.1.5"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := (Options{AllowedHosts: []string{"10.0.0.0/99", "http://x/"}}).Validate()
	if err == nil || !strings.Contains(err.Error(), "10.0.0.0/99") {
		t.Fatalf("err = %v", err)
	}
}

// Every special-purpose block of the IANA registries is refused, IPv4 and IPv6, including IPv4
// special addresses embedded in IPv6; ordinary public addresses are not.
func TestSpecialPurposeAddressesRefused(t *testing.T) {
	for _, a := range []string{
		"0.1.2.3", "100.64.0.1", "192.0.0.8", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1",
		"198.19.255.254", "192.88.99.1", "224.0.0.1", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::ffff:192.0.2.1", "64:ff9b::c000:201", "64:ff9b:1::1", "100::1", "2001::1",
		"2001:db8::1", "2002:c000:201::1", "3fff::1", "5f00::1", "fc00::1", "fe80::1", "fec0::1", "ff02::1",
	} {
		if blockedReason(netip.MustParseAddr(a)) == "" {
			t.Errorf("%s is special-purpose but not refused", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"} {
		if r := blockedReason(netip.MustParseAddr(a)); r != "" {
			t.Errorf("%s is a public address but refused as %s", a, r)
		}
	}
}
