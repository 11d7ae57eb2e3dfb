package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"bonafide"
	"bonafide/api"
	"bonafide/jobs"
	"bonafide/media"
	"bonafide/pipeline"
)

// cmdFlags is a command's flag set with the BONAFIDE_* variable bound to each of its settings.
// Variables are bound explicitly, by flag name (envFor derives the variable's name), never found
// by reading help texts (a flag of one command is bound only where bind names it); parse adds
// "(env NAME)" to the help of each bound flag, so the help always names the variable that is read.
type cmdFlags struct {
	*flag.FlagSet
	env map[string]string // flag name -> variable
}

// newFlags makes a command's flag set whose --help prints about (the usage text) and the flags.
func newFlags(name, about string, stderr io.Writer) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, about)
		fs.PrintDefaults()
	}
	return &cmdFlags{FlagSet: fs, env: map[string]string{}}
}

// envAliases are the variables, kept from earlier releases, that do not follow the mechanical rule.
var envAliases = map[string]string{
	"models":  "BONAFIDE_MODELS_DIR",
	"threads": "BONAFIDE_INTRA_OP_THREADS",
	"frames":  "BONAFIDE_MAX_FRAMES",
}

// envFor is the variable of a flag: --max-file-mb -> BONAFIDE_MAX_FILE_MB, or its alias.
func envFor(flagName string) string {
	if env, ok := envAliases[flagName]; ok {
		return env
	}
	return "BONAFIDE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// bind binds each named flag (already defined) to its variable, envFor(name).
func (c *cmdFlags) bind(names ...string) {
	for _, n := range names {
		if c.Lookup(n) == nil {
			panic("bonafide: binding an undefined flag --" + n)
		}
		c.env[n] = envFor(n)
	}
}

// setting names a setting in messages: "--max-file-mb (BONAFIDE_MAX_FILE_MB)".
func setting(flagName string) string {
	return fmt.Sprintf("--%s (%s)", flagName, envFor(flagName))
}

// parse parses args, then takes each bound flag that the command line did not set from its
// BONAFIDE_* variable: flags first, then the environment, then the default. A variable whose value
// the flag refuses is a usage error naming the variable. done reports that the command should
// return code now (0 after --help, 2 on a usage error).
func parse(fs *cmdFlags, args []string) (code int, done bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if env, ok := fs.env[f.Name]; ok && !strings.Contains(f.Usage, "(env "+env+")") {
			f.Usage += " (env " + env + ")"
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var bad []string
	fs.VisitAll(func(f *flag.Flag) {
		env, ok := fs.env[f.Name]
		if set[f.Name] || !ok {
			return
		}
		if v, ok := os.LookupEnv(env); ok && v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				bad = append(bad, fmt.Sprintf("%s=%q is not a valid value for --%s: %v", env, v, f.Name, err))
			}
		}
	})
	if len(bad) > 0 {
		fmt.Fprintf(fs.Output(), "bonafide %s: %s\n", fs.Name(), strings.Join(bad, "; "))
		return 2, true
	}
	return 0, false
}

// Limits of the settings that validate checks.
const (
	maxFileMBLimit       = 1024 // a file is held in memory while it is analysed
	maxFilesLimit        = 1000
	minToolMemoryMB      = 512 // ffmpeg 5.1 does not start in 256 MiB (it maps ~300 MiB of libraries)
	minMetricsTokenBytes = 16
	defaultConnections   = 1024
	defaultToolMemoryMB  = 2048
)

// Config is the one configuration of `serve` (and of `user` and `migrate`, which read its database
// and storage settings): built from flags, then BONAFIDE_* variables, then defaults (register),
// completed (resolve) and checked once (validate). An invalid or contradictory value is an error
// naming the setting, never replaced silently.
type Config struct {
	addr, dataDir, databaseURL, blobURL, baseURL string
	adminEmail, adminPassword                    string // BONAFIDE_ADMIN_EMAIL / _PASSWORD only: no flag, so never in `ps`
	analysisWorkers                              int
	jobTimeout, rescueAfter, sessionTTL          time.Duration
	webhookBackoff                               time.Duration
	// erasureWait is how long POST /api/erasures waits for its job before answering 202;
	// erasurePace the pause of an erasure after each folder (sparing the blob store).
	erasureWait, erasurePace time.Duration
	webhookAllowPrivate      bool
	maxFiles, maxFileMB      int
	// maxConnections caps the connections the API listener holds at once; more wait in the
	// kernel's accept queue until one closes.
	maxConnections int
	// metricsAddr serves /metrics on its own listener (and then not on addr); metricsToken, when
	// set, requires "Authorization: Bearer <token>" for /metrics wherever it is served.
	metricsAddr, metricsToken string
	// toolMemoryMB and toolCPU bound every ffmpeg/ffprobe process (address space, CPU time);
	// toolCPU 0 means twice the job timeout (ffmpeg decodes with two threads).
	toolMemoryMB int
	toolCPU      time.Duration
	// trustedProxyHeader names the header a reverse proxy writes the client address in (login
	// throttling per address); read only from trustedProxies (comma-separated networks; empty:
	// from every peer, for a server only the proxy can reach).
	trustedProxyHeader, trustedProxies string
	// loginFailures failed logins of one account from one address before each further try
	// waits, doubling up to loginBackoffMax; loginAccountFailures the same for one account from
	// all addresses together (a guesser spread over many addresses).
	loginFailures, loginAccountFailures int
	loginBackoffMax                     time.Duration
	// bodyMinRate is the least average rate of a request body, in bytes a second, once
	// bodyMinRateGrace has passed (0: no minimum).
	bodyMinRate      int64
	bodyMinRateGrace time.Duration
	// uploadDir is where uploads are spooled while a request is handled (default <data-dir>/uploads).
	uploadDir string
	// urlKey signs media URLs (default: a key made at the first start and kept in the database, so
	// every node shares it); urlLifetime is how long a rendered URL works.
	urlKey      string
	urlLifetime time.Duration
	// collectionMemoryMB bounds the collection vectors each node keeps in memory for COLLECTION.
	collectionMemoryMB int
	// retentionMedia and retentionFolders are the server's default retention ("90d", "0" keeps),
	// companies' own settings override them; retentionInterval is how often the retention runs.
	retentionMedia, retentionFolders string
	retentionInterval                time.Duration
	// auditRetention is how long audit entries are kept (0: forever); purged daily.
	auditRetention retentionValue
}

// Default retention: media files and best shots 90 days after the folder's last analysis; folders
// (with their analyses and scores) kept. README "Data protection" says why.
const (
	defaultRetentionMedia   = "90d"
	defaultRetentionFolders = "0"
)

// retention is the server's default retention policy (after validate).
func (f *Config) retention() bonafide.RetentionPolicy {
	m, _ := bonafide.ParseRetention(f.retentionMedia)
	d, _ := bonafide.ParseRetention(f.retentionFolders)
	return bonafide.RetentionPolicy{Media: m, Folders: d}
}

// serverFlags is the historical name of Config in `user` and `migrate`.
type serverFlags = Config

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "bonafide")
	}
	return "bonafide-data"
}

// register defines the settings as flags, each bound to its BONAFIDE_* variable.
func (f *Config) register(fs *cmdFlags) {
	fs.StringVar(&f.addr, "addr", ":8000", "listen address of the API, host:port")
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir(), "where the embedded database and media live")
	fs.StringVar(&f.databaseURL, "database-url", "", "database URL: sqlite:///path/bonafide.db or postgres://... (default: sqlite under --data-dir)")
	fs.StringVar(&f.blobURL, "blob-url", "", "media storage URL: file:///dir, mem://, s3://bucket?... (default: file:// under --data-dir)")
	fs.StringVar(&f.baseURL, "base-url", "", "scheme://host:port that media URLs use (default http://127.0.0.1:PORT)")
	fs.IntVar(&f.analysisWorkers, "analysis-workers", 0, "analyses run at once in this process (0: the number of cores)")
	fs.DurationVar(&f.jobTimeout, "job-timeout", jobs.DefaultJobTimeout, "an analysis running longer fails; also bounds probing and decoding of one media")
	fs.DurationVar(&f.rescueAfter, "rescue-after", 0, "a job of a dead node is taken over after this; must exceed --job-timeout (0: job-timeout + 15s; in embedded mode a restart retries them at once)")
	fs.DurationVar(&f.sessionTTL, "session-ttl", 15*time.Minute, "sliding lifetime of access tokens")
	fs.DurationVar(&f.webhookBackoff, "webhook-backoff", 30*time.Second, "first webhook retry delay, doubling")
	fs.DurationVar(&f.erasureWait, "erasure-wait", 10*time.Second, "how long POST /api/erasures waits for the erasure before answering 202 IN_PROGRESS")
	fs.DurationVar(&f.erasurePace, "erasure-pace", 0, "pause of an erasure after each folder, to spare the blob store (0: none)")
	fs.BoolVar(&f.webhookAllowPrivate, "webhook-allow-private", false, "allow webhooks to loopback and private addresses")
	fs.IntVar(&f.maxFiles, "max-files", 10, fmt.Sprintf("files per folder, 1..%d", maxFilesLimit))
	fs.IntVar(&f.maxFileMB, "max-file-mb", 15, fmt.Sprintf("MiB per file, at upload and in the analysis, 1..%d", maxFileMBLimit))
	fs.IntVar(&f.maxConnections, "max-connections", defaultConnections, "connections the API serves at once; more wait to be accepted")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve /metrics on this host:port only, not on --addr (default: on --addr)")
	fs.StringVar(&f.metricsToken, "metrics-token", "", fmt.Sprintf("require 'Authorization: Bearer TOKEN' for /metrics, at least %d characters (default: no token)", minMetricsTokenBytes))
	fs.IntVar(&f.toolMemoryMB, "ffmpeg-memory-mb", defaultToolMemoryMB, fmt.Sprintf("address space of each ffmpeg/ffprobe process in MiB, at least %d", minToolMemoryMB))
	fs.DurationVar(&f.toolCPU, "ffmpeg-cpu-time", 0, "CPU time of each ffmpeg/ffprobe process (0: twice --job-timeout)")
	fs.StringVar(&f.trustedProxyHeader, "trusted-proxy-header", "", "header a reverse proxy puts the client address in, e.g. X-Forwarded-For (default: none, the connection's address counts)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated networks the proxy header is believed from, e.g. 10.0.0.0/8 (default: every peer)")
	fs.IntVar(&f.loginFailures, "login-failures", 5, "failed logins of one account from one address before each further try from there waits (1 s, doubling)")
	fs.IntVar(&f.loginAccountFailures, "login-account-failures", api.DefaultLoginAccountFailures, "failed logins of one account from all addresses together before each further try waits (1 s, doubling)")
	fs.DurationVar(&f.loginBackoffMax, "login-backoff-max", time.Minute, "longest wait between login tries of one account")
	fs.Int64Var(&f.bodyMinRate, "body-min-rate", api.DefaultBodyMinRate, "least average rate of a request body in bytes a second, once --body-min-rate-grace has passed; slower ones are cut (0: no minimum)")
	fs.DurationVar(&f.bodyMinRateGrace, "body-min-rate-grace", api.DefaultBodyMinRateGrace, "time a request body has before --body-min-rate applies")
	fs.StringVar(&f.uploadDir, "upload-dir", "", "where uploads are spooled while a request is handled (default: uploads under --data-dir)")
	fs.StringVar(&f.urlKey, "url-signing-key", "", "key that signs media URLs, at least 32 characters (default: made at the first start and kept in the database)")
	fs.DurationVar(&f.urlLifetime, "url-lifetime", api.DefaultURLLifetime, "how long a media or best-shot URL works without the token header, 1m..168h")
	fs.IntVar(&f.collectionMemoryMB, "collection-memory-mb", pipeline.DefaultFaceIndexBytes>>20, "MiB of collection face vectors each node keeps in memory for COLLECTION searches (about 2 KiB a face); the least recently searched collections are let go beyond it")
	fs.StringVar(&f.retentionMedia, "retention-media", defaultRetentionMedia, "default retention of media files and best shots after their folder's last analysis: 0 (keep) or a number with s, m, h or d; a company's own setting overrides it")
	fs.StringVar(&f.retentionFolders, "retention-folders", defaultRetentionFolders, "default retention of whole folders after their creation: 0 (keep) or a number with s, m, h or d; a company's own setting overrides it")
	fs.DurationVar(&f.retentionInterval, "retention-interval", jobs.DefaultRetentionInterval, "how often the retention run deletes what is past its retention")
	fs.bind("url-signing-key", "url-lifetime", "collection-memory-mb", "retention-media", "retention-folders", "retention-interval")
	f.auditRetention = retentionValue(bonafide.DefaultAuditRetention)
	fs.Var(&f.auditRetention, "audit-retention", "how long audit entries are kept, then removed by a daily purge (730d = two years; d is 24h; 0 keeps them forever)")
	fs.bind("audit-retention")
	fs.bind("erasure-wait", "erasure-pace")
	fs.bind("login-account-failures", "body-min-rate", "body-min-rate-grace")
	fs.bind("addr", "data-dir", "database-url", "blob-url", "base-url", "analysis-workers", "job-timeout",
		"rescue-after", "session-ttl", "webhook-backoff", "webhook-allow-private", "max-files", "max-file-mb",
		"max-connections", "metrics-addr", "metrics-token", "ffmpeg-memory-mb", "ffmpeg-cpu-time",
		"trusted-proxy-header", "trusted-proxies", "login-failures", "login-backoff-max", "upload-dir")
	f.adminEmail = os.Getenv("BONAFIDE_ADMIN_EMAIL")
	f.adminPassword = os.Getenv("BONAFIDE_ADMIN_PASSWORD")
}

// resolve fills the settings whose default depends on others.
func (f *Config) resolve() {
	if f.databaseURL == "" {
		f.databaseURL = "sqlite://" + filepath.Join(absPath(f.dataDir), "bonafide.db")
	}
	if f.blobURL == "" {
		f.blobURL = "file://" + filepath.Join(absPath(f.dataDir), "media")
	}
	if f.rescueAfter == 0 {
		f.rescueAfter = f.jobTimeout + 15*time.Second
	}
	if f.toolCPU == 0 {
		f.toolCPU = 2 * f.jobTimeout
	}
	if f.uploadDir == "" {
		f.uploadDir = filepath.Join(absPath(f.dataDir), "uploads")
	}
}

// proxies parses --trusted-proxies.
func (f *Config) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range strings.Split(f.trustedProxies, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a network (10.0.0.0/8) or an address", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// validate checks every setting after resolve and returns all the problems at once, each naming
// its flag and variable.
func (f *Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %s", setting(name), fmt.Sprintf(format, args...)))
	}
	if err := checkAddr(f.addr); err != nil {
		bad("addr", "%v", err)
	}
	if f.dataDir == "" {
		bad("data-dir", "must not be empty")
	}
	if !strings.HasPrefix(f.databaseURL, "sqlite:") && !strings.HasPrefix(f.databaseURL, "postgres:") && !strings.HasPrefix(f.databaseURL, "postgresql:") {
		bad("database-url", "must be sqlite:///path/bonafide.db or postgres://user@host/db, got %q", redact(f.databaseURL))
	}
	if u, err := url.Parse(f.blobURL); err != nil || (u.Scheme != "file" && u.Scheme != "mem" && u.Scheme != "s3") {
		bad("blob-url", "must be file:///dir, mem:// or s3://bucket?..., got %q", redact(f.blobURL))
	} else if u.Scheme == "s3" && u.Host == "" {
		bad("blob-url", "names no bucket (want s3://bucket?endpoint=...)")
	}
	if f.baseURL != "" {
		u, err := url.Parse(f.baseURL)
		switch {
		case err != nil:
			bad("base-url", "is not a URL: %v", err)
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			bad("base-url", "must be http(s)://host[:port], got %q", f.baseURL)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			bad("base-url", "must have no user, query or fragment, got %q", f.baseURL)
		}
	}
	if f.analysisWorkers < 0 {
		bad("analysis-workers", "must be 0 (the number of cores) or more, got %d", f.analysisWorkers)
	}
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			bad(name, "must be a positive duration, got %s", d)
		}
	}
	positive("job-timeout", f.jobTimeout)
	positive("retention-interval", f.retentionInterval)
	for _, r := range [][2]string{{"retention-media", f.retentionMedia}, {"retention-folders", f.retentionFolders}} {
		if _, err := bonafide.ParseRetention(r[1]); err != nil {
			bad(r[0], "%v", err)
		}
	}
	positive("session-ttl", f.sessionTTL)
	positive("webhook-backoff", f.webhookBackoff)
	positive("erasure-wait", f.erasureWait)
	if f.erasurePace < 0 {
		bad("erasure-pace", "must be 0 or a positive duration, got %s", f.erasurePace)
	}
	switch {
	case f.rescueAfter < 0:
		bad("rescue-after", "must be 0 (job-timeout + 15s) or a positive duration, got %s", f.rescueAfter)
	case f.jobTimeout > 0 && f.rescueAfter <= f.jobTimeout:
		// River would take over a job that is still running within its timeout: it would run twice.
		bad("rescue-after", "(%s) must be longer than %s (%s): a job still running would be taken over", f.rescueAfter, setting("job-timeout"), f.jobTimeout)
	}
	if f.maxFiles < 1 || f.maxFiles > maxFilesLimit {
		bad("max-files", "must be between 1 and %d, got %d", maxFilesLimit, f.maxFiles)
	}
	if f.maxFileMB < 1 || f.maxFileMB > maxFileMBLimit {
		bad("max-file-mb", "must be between 1 and %d (MiB), got %d", maxFileMBLimit, f.maxFileMB)
	}
	if f.maxConnections < 1 {
		bad("max-connections", "must be at least 1, got %d", f.maxConnections)
	}
	if f.metricsAddr != "" {
		if err := checkAddr(f.metricsAddr); err != nil {
			bad("metrics-addr", "%v", err)
		} else if _, port, _ := net.SplitHostPort(f.addr); f.metricsAddr == f.addr && port != "0" {
			bad("metrics-addr", "must differ from %s (%s); leave it empty to serve /metrics there", setting("addr"), f.addr)
		}
	}
	if f.metricsToken != "" && len(f.metricsToken) < minMetricsTokenBytes {
		bad("metrics-token", "must have at least %d characters, got %d", minMetricsTokenBytes, len(f.metricsToken))
	}
	if f.toolMemoryMB < minToolMemoryMB {
		bad("ffmpeg-memory-mb", "must be at least %d (MiB), got %d", minToolMemoryMB, f.toolMemoryMB)
	}
	if f.trustedProxyHeader != "" && !validHeaderName(f.trustedProxyHeader) {
		bad("trusted-proxy-header", "must be an HTTP header name such as X-Forwarded-For, got %q", f.trustedProxyHeader)
	}
	if _, err := f.proxies(); err != nil {
		bad("trusted-proxies", "%v", err)
	} else if f.trustedProxies != "" && f.trustedProxyHeader == "" {
		bad("trusted-proxies", "is set but %s is not: name the header the proxy writes", setting("trusted-proxy-header"))
	}
	if f.urlKey != "" && len(f.urlKey) < 32 {
		bad("url-signing-key", "must have at least 32 characters, got %d", len(f.urlKey))
	}
	if f.urlLifetime < time.Minute || f.urlLifetime > 7*24*time.Hour {
		bad("url-lifetime", "must be between 1m and 168h, got %s", f.urlLifetime)
	}
	if f.collectionMemoryMB < 1 {
		bad("collection-memory-mb", "must be at least 1, got %d", f.collectionMemoryMB)
	}
	if f.loginFailures < 1 {
		bad("login-failures", "must be at least 1, got %d", f.loginFailures)
	}
	if f.loginAccountFailures < f.loginFailures {
		bad("login-account-failures", "must be at least %s (%d), got %d", setting("login-failures"), f.loginFailures, f.loginAccountFailures)
	}
	if f.bodyMinRate < 0 {
		bad("body-min-rate", "must be 0 (no minimum) or more bytes a second, got %d", f.bodyMinRate)
	}
	if f.bodyMinRateGrace < time.Second {
		bad("body-min-rate-grace", "must be at least 1s, got %s", f.bodyMinRateGrace)
	}
	if f.loginBackoffMax < time.Second {
		bad("login-backoff-max", "must be at least 1s, got %s", f.loginBackoffMax)
	}
	if f.toolCPU < time.Second {
		bad("ffmpeg-cpu-time", "must be 0 (twice --job-timeout) or at least 1s, got %s", f.toolCPU)
	}
	return errors.Join(errs...)
}

// validHeaderName reports whether v is an HTTP field name (RFC 9110 token).
func validHeaderName(v string) bool {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return v != ""
}

// checkAddr accepts host:port with a numeric port (host may be empty: every interface).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("must be host:port with a port 0..65535, got %q", addr)
	}
	return nil
}

// mediaLimits are the engine's media limits under this configuration: the same per-file size as
// the API's, the job timeout for probing and decoding, and the ffmpeg/ffprobe process limits.
func (f *Config) mediaLimits(l media.Limits) media.Limits {
	l.MaxFileBytes = int64(f.maxFileMB) << 20
	l.MaxZipEntryBytes = max(l.MaxZipEntryBytes, l.MaxFileBytes) // one photo of a shot set may be as large as a photo
	l.Timeout = f.jobTimeout
	l.ToolAddressSpace = int64(f.toolMemoryMB) << 20
	l.ToolCPUTime = f.toolCPU
	return l
}
