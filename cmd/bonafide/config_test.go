package main

import (
	"bytes"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"bonafide/liveness"
)

// Every flag of serve has its BONAFIDE_* variable, no two share one, and the help names it.
func TestConfigEveryServeFlagHasEnv(t *testing.T) {
	var sf Config
	var ef engineFlags
	var help bytes.Buffer
	fs := serveFlags(&sf, &ef, &help)
	if code, done := parse(fs, []string{"--help"}); !done || code != 0 {
		t.Fatalf("serve --help: %d %v", code, done)
	}
	// The flag package prints "  -name type\n    \tusage" per flag.
	blocks := map[string]string{}
	for _, b := range strings.Split(help.String(), "\n  -")[1:] {
		name, _, _ := strings.Cut(b, " ")
		name, _, _ = strings.Cut(name, "\n")
		blocks[name] = b
	}
	seen := map[string]string{}
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		env, ok := fs.env[f.Name]
		if !ok {
			t.Errorf("--%s has no BONAFIDE_* variable", f.Name)
			return
		}
		if !strings.HasPrefix(env, "BONAFIDE_") || env != envFor(f.Name) {
			t.Errorf("--%s: variable %s", f.Name, env)
		}
		if other, dup := seen[env]; dup {
			t.Errorf("--%s and --%s share %s", f.Name, other, env)
		}
		seen[env] = f.Name
		if !strings.Contains(blocks[f.Name], "(env "+env+")") {
			t.Errorf("the help of --%s does not name %s:\n%s", f.Name, env, blocks[f.Name])
		}
	})
	if n < 25 {
		t.Fatalf("only %d flags seen", n)
	}
}

// Flags win over variables, variables over defaults, for every kind of setting.
func TestConfigEnvPrecedence(t *testing.T) {
	t.Setenv("BONAFIDE_MAX_FILE_MB", "20")
	t.Setenv("BONAFIDE_JOB_TIMEOUT", "2m")
	t.Setenv("BONAFIDE_METRICS_TOKEN", "from-the-environment")
	t.Setenv("BONAFIDE_MAX_FRAMES", "30")
	t.Setenv("BONAFIDE_WEBHOOK_ALLOW_PRIVATE", "true")
	var sf Config
	var ef engineFlags
	fs := serveFlags(&sf, &ef, io.Discard)
	if _, done := parse(fs, []string{"--job-timeout", "90s", "--max-connections", "7"}); done {
		t.Fatal("parse stopped")
	}
	sf.resolve()
	if sf.maxFileMB != 20 || sf.jobTimeout != 90*time.Second || sf.maxConnections != 7 || sf.metricsToken != "from-the-environment" ||
		ef.frames != 30 || !sf.webhookAllowPrivate || sf.maxFiles != 10 {
		t.Fatalf("settings: %+v %+v", sf, ef)
	}
	// Derived defaults follow the settings they depend on.
	if sf.rescueAfter != 105*time.Second || sf.toolCPU != 180*time.Second {
		t.Fatalf("derived: rescue-after %s, ffmpeg-cpu-time %s", sf.rescueAfter, sf.toolCPU)
	}
	if err := sf.validate(); err != nil {
		t.Fatal(err)
	}
	// The hardening defaults are the ones the README's tables give.
	if sf.bodyMinRate != 4096 || sf.bodyMinRateGrace != 10*time.Second || sf.loginFailures != 5 || sf.loginAccountFailures != 100 {
		t.Fatalf("defaults: body-min-rate %d, body-min-rate-grace %s, login-failures %d, login-account-failures %d",
			sf.bodyMinRate, sf.bodyMinRateGrace, sf.loginFailures, sf.loginAccountFailures)
	}
	l := sf.mediaLimits(liveness.DefaultConfig().Limits)
	if l.MaxFileBytes != 20<<20 || l.Timeout != 90*time.Second || l.ToolAddressSpace != 2<<30 || l.ToolCPUTime != 180*time.Second || l.MaxZipEntryBytes != 20<<20 {
		t.Fatalf("media limits: %+v", l)
	}
}

// Each invalid or contradictory setting stops serve before it opens anything, with exit code 2 and
// a message that names the flag and its variable; every problem is reported at once.
func TestConfigValidation(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		env  string
		want []string
	}{
		{[]string{"--max-file-mb=0"}, "", []string{"--max-file-mb (BONAFIDE_MAX_FILE_MB) must be between 1 and 1024"}},
		{[]string{"--max-file-mb=-5"}, "", []string{"--max-file-mb (BONAFIDE_MAX_FILE_MB)"}},
		{[]string{"--max-file-mb=100000"}, "", []string{"--max-file-mb (BONAFIDE_MAX_FILE_MB)"}},
		{nil, "BONAFIDE_MAX_FILE_MB=0", []string{"--max-file-mb (BONAFIDE_MAX_FILE_MB)"}},
		{[]string{"--max-files=0"}, "", []string{"--max-files (BONAFIDE_MAX_FILES)"}},
		{[]string{"--max-files=-1"}, "", []string{"--max-files (BONAFIDE_MAX_FILES)"}},
		{[]string{"--job-timeout=1m", "--rescue-after=1m"}, "", []string{"--rescue-after (BONAFIDE_RESCUE_AFTER)", "--job-timeout (BONAFIDE_JOB_TIMEOUT)"}},
		{[]string{"--job-timeout=1m", "--rescue-after=30s"}, "", []string{"--rescue-after (BONAFIDE_RESCUE_AFTER)"}},
		{[]string{"--rescue-after=-1s"}, "", []string{"--rescue-after (BONAFIDE_RESCUE_AFTER)"}},
		{[]string{"--job-timeout=-1s"}, "", []string{"--job-timeout (BONAFIDE_JOB_TIMEOUT) must be a positive duration"}},
		{[]string{"--job-timeout=0"}, "", []string{"--job-timeout (BONAFIDE_JOB_TIMEOUT)"}},
		{[]string{"--session-ttl=0"}, "", []string{"--session-ttl (BONAFIDE_SESSION_TTL)"}},
		{[]string{"--webhook-backoff=-3s"}, "", []string{"--webhook-backoff (BONAFIDE_WEBHOOK_BACKOFF)"}},
		{[]string{"--analysis-workers=-1"}, "", []string{"--analysis-workers (BONAFIDE_ANALYSIS_WORKERS)"}},
		{[]string{"--addr=localhost"}, "", []string{"--addr (BONAFIDE_ADDR) must be host:port"}},
		{[]string{"--addr=:99999"}, "", []string{"--addr (BONAFIDE_ADDR)"}},
		{[]string{"--base-url=ftp://example.com"}, "", []string{"--base-url (BONAFIDE_BASE_URL)"}},
		{[]string{"--base-url=http://"}, "", []string{"--base-url (BONAFIDE_BASE_URL)"}},
		{[]string{"--base-url=https://example.com/?x=1"}, "", []string{"--base-url (BONAFIDE_BASE_URL)"}},
		{[]string{"--database-url=mysql://db/x"}, "", []string{"--database-url (BONAFIDE_DATABASE_URL)"}},
		{[]string{"--blob-url=gs://bucket"}, "", []string{"--blob-url (BONAFIDE_BLOB_URL)"}},
		{[]string{"--blob-url=s3://"}, "", []string{"--blob-url (BONAFIDE_BLOB_URL) names no bucket"}},
		{[]string{"--max-connections=0"}, "", []string{"--max-connections (BONAFIDE_MAX_CONNECTIONS)"}},
		{[]string{"--trusted-proxy-header=X Forwarded"}, "", []string{"--trusted-proxy-header (BONAFIDE_TRUSTED_PROXY_HEADER) must be an HTTP header name"}},
		{[]string{"--trusted-proxy-header=X-Forwarded-For", "--trusted-proxies=10.0.0.0/8,proxy.internal"}, "", []string{"--trusted-proxies (BONAFIDE_TRUSTED_PROXIES)", "proxy.internal"}},
		{[]string{"--trusted-proxies=10.0.0.0/8"}, "", []string{"--trusted-proxies (BONAFIDE_TRUSTED_PROXIES) is set but --trusted-proxy-header"}},
		{[]string{"--login-failures=0"}, "", []string{"--login-failures (BONAFIDE_LOGIN_FAILURES)"}},
		{[]string{"--body-min-rate=-1"}, "", []string{"--body-min-rate (BONAFIDE_BODY_MIN_RATE)"}},
		{nil, "BONAFIDE_BODY_MIN_RATE_GRACE=100ms", []string{"--body-min-rate-grace (BONAFIDE_BODY_MIN_RATE_GRACE) must be at least 1s"}},
		{[]string{"--login-account-failures=4"}, "", []string{"--login-account-failures (BONAFIDE_LOGIN_ACCOUNT_FAILURES) must be at least --login-failures"}},
		{[]string{"--url-signing-key=short"}, "", []string{"--url-signing-key (BONAFIDE_URL_SIGNING_KEY) must have at least 32 characters"}},
		{[]string{"--url-lifetime=1s"}, "", []string{"--url-lifetime (BONAFIDE_URL_LIFETIME) must be between 1m and 168h"}},
		{[]string{"--biometry-threshold=0"}, "", []string{"--biometry-threshold (BONAFIDE_BIOMETRY_THRESHOLD) must be in (0, 1]"}},
		{[]string{"--login-backoff-max=10ms"}, "", []string{"--login-backoff-max (BONAFIDE_LOGIN_BACKOFF_MAX)"}},
		{[]string{"--metrics-addr=9100"}, "", []string{"--metrics-addr (BONAFIDE_METRICS_ADDR)"}},
		{[]string{"--addr=127.0.0.1:8000", "--metrics-addr=127.0.0.1:8000"}, "", []string{"--metrics-addr (BONAFIDE_METRICS_ADDR) must differ"}},
		{[]string{"--metrics-token=short"}, "", []string{"--metrics-token (BONAFIDE_METRICS_TOKEN) must have at least 16"}},
		{[]string{"--ffmpeg-memory-mb=100"}, "", []string{"--ffmpeg-memory-mb (BONAFIDE_FFMPEG_MEMORY_MB)"}},
		{[]string{"--ffmpeg-cpu-time=-1s"}, "", []string{"--ffmpeg-cpu-time (BONAFIDE_FFMPEG_CPU_TIME)"}},
		{[]string{"--threshold=2"}, "", []string{"--threshold (BONAFIDE_THRESHOLD) must be in (0, 1]"}},
		{[]string{"--frames=0"}, "", []string{"--frames (BONAFIDE_MAX_FRAMES)"}},
		{[]string{"--threads=0"}, "", []string{"--threads (BONAFIDE_INTRA_OP_THREADS)"}},
		{[]string{"--workers=0"}, "", []string{"--workers (BONAFIDE_WORKERS)"}},
		// Several problems at once, all named.
		{[]string{"--max-files=0", "--max-file-mb=0", "--max-connections=-1"}, "", []string{"--max-files (", "--max-file-mb (", "--max-connections ("}},
	} {
		t.Run(strings.Join(tc.args, " ")+tc.env, func(t *testing.T) {
			t.Setenv("BONAFIDE_DATA_DIR", dir)
			if k, v, ok := strings.Cut(tc.env, "="); ok {
				t.Setenv(k, v)
			}
			code, out, errs := run(t, append([]string{"serve"}, tc.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2:\n%s%s", code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("the message lacks %q:\n%s", w, errs)
				}
			}
			if strings.Contains(out, "listening") {
				t.Errorf("the server started:\n%s", out)
			}
		})
	}
	// The defaults are valid.
	var sf Config
	var ef engineFlags
	fs := serveFlags(&sf, &ef, io.Discard)
	t.Setenv("BONAFIDE_DATA_DIR", dir)
	parse(fs, nil)
	sf.resolve()
	if err := sf.validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	if err := ef.validate(); err != nil {
		t.Fatalf("the engine defaults: %v", err)
	}
}

// With --max-connections N, N open connections are served and connection N+1 waits, unanswered,
// until one of them closes.
func TestListenCapsConnections(t *testing.T) {
	const n = 2
	ln, err := listen("127.0.0.1:0", n)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()
	get := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(5 * time.Second); err != nil {
		t.Fatalf("below the cap: %v", err)
	}
	var held []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// The listener accepts in arrival order, so the held connections take the n places.
	if err := get(700 * time.Millisecond); err == nil {
		t.Fatalf("connection %d was served while %d were open", n+1, n)
	}
	held[0].Close()
	if err := get(5 * time.Second); err != nil {
		t.Fatalf("after one of the %d closed: %v", n, err)
	}
}
