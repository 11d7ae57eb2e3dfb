package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/net/netutil"

	"bonafide"
	"bonafide/api"
	"bonafide/blob"
	"bonafide/console"
	"bonafide/internal/service"
	"bonafide/jobs"
	"bonafide/liveness"
	"bonafide/pipeline"
	"bonafide/sweep"
	"bonafide/web/capture"
	"bonafide/webhook"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var sf Config
	var ef engineFlags
	fs := serveFlags(&sf, &ef, stderr)
	if code, done := parse(fs, args); done {
		return code
	}
	sf.resolve()
	if err := errors.Join(sf.validate(), ef.validate()); err != nil {
		fmt.Fprintf(stderr, "bonafide serve: invalid configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	ef.limits = sf.mediaLimits
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := serve(ctx, &sf, &ef, log, stdout); err != nil {
		log.Error("bonafide serve stopped", "err", err)
		return 1
	}
	return 0
}

// serveFlags defines the settings of serve: the server's Config and the engine's flags.
func serveFlags(sf *Config, ef *engineFlags, stderr io.Writer) *cmdFlags {
	fs := newFlags("serve", serveUsage, stderr)
	sf.register(fs)
	ef.register(fs, true)
	return fs
}

// serve wires the server in steps, each a function below: the storage (the database, migrated,
// with its store, which inserts jobs through the queue's insert-only client; the blobs), the
// accounts, the engine, the listeners, the API server, the queue's workers (which need the store
// and the server's folder rendering), the background services, the HTTP handler; then it serves
// until ctx ends and shuts down in the reverse order.
func serve(ctx context.Context, sf *Config, ef *engineFlags, log *slog.Logger, stdout io.Writer) (err error) {
	qcfg := queueConfig(sf, log)
	db, err := openDatabase(ctx, sf, qcfg, log)
	if err != nil {
		return err
	}
	store := db.Store()
	defer store.Close()
	blobs, err := blob.Open(ctx, sf.blobURL)
	if err != nil {
		return err
	}
	defer blobs.Close()
	if err := prepareAccounts(ctx, store, sf, log, stdout); err != nil {
		return err
	}
	engine, closeEngine, err := ef.open()
	if err != nil {
		return err
	}
	defer closeEngine()
	// The one pipeline of the Instant API and the workers; COLLECTION reads the store.
	analyzer := pipeline.New(engine).WithCollections(store, int64(sf.collectionMemoryMB)<<20)
	lns, err := openListeners(sf)
	if err != nil {
		return err
	}
	defer lns.Close()
	urlKey, err := signingKey(ctx, store, sf.urlKey)
	if err != nil {
		return err
	}
	srv, err := newAPIServer(sf, db, blobs, analyzer, lns, urlKey, log)
	if err != nil {
		return err
	}
	queue, err := newQueue(ctx, db, qcfg, blobs, analyzer, srv, sf, log)
	if err != nil {
		return err
	}
	// Every background service stops on the way out, the last started first: after the HTTP
	// server's shutdown when serving ended, at once when a later step failed.
	var services service.Group
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		err = errors.Join(err, services.Stop(sctx))
	}()
	if err := startServices(ctx, &services, db, blobs, queue, sf, log); err != nil {
		return err
	}
	handler, err := newHandler(sf, store, srv, urlKey, lns.base, log)
	if err != nil {
		return err
	}
	return runHTTP(ctx, sf, lns, handler, srv, log, stdout)
}

// shutdownTimeout bounds each step of the shutdown: the HTTP server's (requests under way), then
// the services' (the running jobs).
const shutdownTimeout = 20 * time.Second

// queueConfig is the job queue's part of the settings.
func queueConfig(sf *Config, log *slog.Logger) jobs.Config {
	return jobs.Config{AnalysisWorkers: sf.analysisWorkers, JobTimeout: sf.jobTimeout, RescueAfter: sf.rescueAfter,
		WebhookBackoff: sf.webhookBackoff, RetentionInterval: sf.retentionInterval, ErasurePace: sf.erasurePace, Logger: log}
}

// webhookOptions are the webhook settings: the API checks endpoints with them, the workers deliver.
func webhookOptions(sf *Config) webhook.Options {
	return webhook.Options{AllowPrivate: sf.webhookAllowPrivate}
}

// prepareAccounts runs the account steps of every start: the first ADMIN when there is no user,
// and global-role users left in a client company by older installs moved into the reserved one.
func prepareAccounts(ctx context.Context, store bonafide.Store, sf *Config, log *slog.Logger, stdout io.Writer) error {
	if err := bootstrapAdmin(ctx, store, sf, log, stdout); err != nil {
		return err
	}
	_, err := bonafide.MoveGlobalUsers(ctx, store, webhook.NewSecret, log)
	return err
}

// listeners are the server's open listeners and the base URL media links are built from.
type listeners struct {
	api     net.Listener
	metrics net.Listener // nil: /metrics is served on api
	base    string
}

// openListeners opens the API's listener and, when --metrics-addr is set, the metrics one.
func openListeners(sf *Config) (*listeners, error) {
	ln, err := listen(sf.addr, sf.maxConnections)
	if err != nil {
		return nil, err
	}
	lns := &listeners{api: ln, base: sf.baseURL}
	if sf.metricsAddr != "" {
		if lns.metrics, err = listen(sf.metricsAddr, metricsConnections); err != nil {
			ln.Close()
			return nil, fmt.Errorf("%s: %w", setting("metrics-addr"), err)
		}
	}
	if lns.base == "" {
		lns.base = fmt.Sprintf("http://127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port)
	}
	return lns, nil
}

// Close closes the listeners.
func (l *listeners) Close() {
	l.api.Close()
	if l.metrics != nil {
		l.metrics.Close()
	}
}

// newAPIServer builds the API server over the upload spool (cleared of what a dead process left).
func newAPIServer(sf *Config, db database, blobs bonafide.Blobs, analyzer bonafide.Analyzer, lns *listeners, urlKey string, log *slog.Logger) (*api.Server, error) {
	proxies, err := sf.proxies()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(sf.uploadDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: %w", setting("upload-dir"), err)
	}
	clearSpool(sf.uploadDir, db.Embedded(), log)
	// In scale-out every node counts the same login failures (the database keeps them); a single
	// embedded process keeps them in memory.
	var sharedThrottle bonafide.LoginThrottleStore
	if !db.Embedded() {
		sharedThrottle = db.Store()
	}
	hookOpts := webhookOptions(sf)
	bodyMinRate := sf.bodyMinRate
	if bodyMinRate == 0 {
		bodyMinRate = -1 // api.Config's "off"
	}
	return api.New(api.Config{BodyMinRate: bodyMinRate, BodyMinRateGrace: sf.bodyMinRateGrace,
		BaseURL: lns.base, SessionTTL: sf.sessionTTL, MaxFiles: sf.maxFiles,
		MaxFileBytes: int64(sf.maxFileMB) << 20, Version: liveness.Version, UploadDir: sf.uploadDir,
		URLKey: urlKey, URLLifetime: sf.urlLifetime, Pages: map[string]http.Handler{capture.Path: capture.Handler()},
		MetricsToken: sf.metricsToken, MetricsElsewhere: lns.metrics != nil,
		TrustedProxyHeader: sf.trustedProxyHeader, TrustedProxies: proxies,
		LoginFailures: sf.loginFailures, LoginAccountFailures: sf.loginAccountFailures, LoginBackoffMax: sf.loginBackoffMax, SharedLoginThrottle: sharedThrottle,
		ErasureWait:     sf.erasureWait,
		ValidateWebhook: func(u string) error { return webhook.ValidateURL(u, hookOpts) }}, db.Store(), blobs, analyzer, log, nil), nil
}

// newQueue builds the queue's workers, with the server's folder rendering and metrics. In
// embedded mode it hands back at once the jobs a dead process left running.
func newQueue(ctx context.Context, db database, qcfg jobs.Config, blobs bonafide.Blobs, analyzer bonafide.Analyzer, srv *api.Server, sf *Config, log *slog.Logger) (queueRunner, error) {
	queue, err := db.Workers(jobs.Deps{Store: db.Store(), Blobs: blobs, Analyzer: analyzer,
		Deliverer: webhook.New(webhookOptions(sf)), Retryable: webhook.Retryable, RenderFolder: srv.RenderFolder,
		Observe: func(resolution string, seconds float64) {
			srv.Metrics().Verdict(resolution)
			srv.Metrics().AnalysisDuration.Observe(seconds)
		},
		Retention: retentionRun(db, blobs, srv, sf, log)}, qcfg)
	if err != nil {
		return nil, err
	}
	srv.Metrics().RegisterQueueDepth(db.Depth)
	if db.Embedded() {
		// One process owns the embedded database: a job still marked running was left by a
		// process that died, and is retried now rather than after the rescue delay. (In
		// scale-out, the heartbeat hands back the running jobs of a node that stopped beating.)
		n, err := queue.RetryOrphaned(ctx)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			log.Info("retrying jobs left running by the previous process", "jobs", n)
		}
	}
	return queue, nil
}

// retentionRun is one run of the retention (the periodic job's work): the server's default over
// each company's setting, counted in bonafide_retention_deleted_total. A run stops starting
// batches after half the job timeout, and the job comes back at once for the rest.
func retentionRun(db database, blobs bonafide.Blobs, srv *api.Server, sf *Config, log *slog.Logger) func(context.Context) (bool, error) {
	r := &sweep.Retention{Store: db.Store(), Blobs: blobs, Default: sf.retention(), Budget: sf.jobTimeout / 2,
		Log: log.With("component", "retention"), Deleted: srv.Metrics().RetentionDeleted}
	return func(ctx context.Context) (bool, error) {
		c, err := r.Run(ctx)
		if c.Media+c.Folders+c.Files > 0 {
			// The trail names the run, not each id: a run may remove thousands of rows.
			aerr := bonafide.Audit(ctx, db.Store(), bonafide.AuditEntry{Actor: bonafide.AuditSystem, Action: bonafide.AuditRetentionRun,
				Details: map[string]string{"media": strconv.Itoa(c.Media), "folders": strconv.Itoa(c.Folders), "files": strconv.Itoa(c.Files)}})
			if aerr != nil {
				log.Error("recording the retention run in the audit trail", "err", aerr)
			}
		}
		return c.More, err
	}
}

// startServices starts the background services in order: the purge of expired sessions (once
// now, then hourly), the sweep of unreferenced files, the queue's workers.
//
// Stored files no row refers to (an upload cut by a crash, a dead job's best shot) are removed
// hourly, once they are older than the grace (an hour, or twice the job timeout). In embedded
// mode this process alone writes the database and the files, and nothing is being written before
// the queue and the listener start: every unreferenced file goes now.
func startServices(ctx context.Context, g *service.Group, db database, blobs bonafide.Blobs, queue queueRunner, sf *Config, log *slog.Logger) error {
	if err := g.Start(ctx, &sweep.SessionPurge{Store: db.Store(), Log: log}); err != nil {
		return err
	}
	if err := g.Start(ctx, &sweep.AuditPurge{Store: db.Store(), Keep: time.Duration(sf.auditRetention), Log: log}); err != nil {
		return err
	}
	sweeper := sweep.New(db.Store(), blobs, log)
	sweeper.Grace = max(sweep.DefaultGrace, 2*sf.jobTimeout)
	if db.Embedded() {
		if n, err := sweeper.SweepAll(ctx); err != nil {
			log.Warn("start-up sweep of unreferenced files failed", "err", err)
		} else if n > 0 {
			log.Info("removed files left by the previous process", "files", n)
		}
	}
	if err := g.Start(ctx, sweeper); err != nil {
		return err
	}
	return g.Start(ctx, queue)
}

// newHandler is what the listener serves: the console beside the API, every request with its
// request id and panic recovery (api.Server.Guard).
func newHandler(sf *Config, store bonafide.Store, srv *api.Server, urlKey, base string, log *slog.Logger) (http.Handler, error) {
	ops, err := console.New(console.Config{Key: urlKey, SignURL: srv.SignedURL, Status: api.StatusOf,
		SecureCookie: strings.HasPrefix(base, "https://"), Version: liveness.Version, Log: log,
		Instrument: srv.Metrics().Instrument}, store, srv)
	if err != nil {
		return nil, err
	}
	return srv.Guard(ops.Mount(srv.Handler())), nil
}

// runHTTP serves handler (and /metrics on its own listener when there is one) until ctx ends or
// a server fails, then shuts the API's server down, letting requests under way finish.
func runHTTP(ctx context.Context, sf *Config, lns *listeners, handler http.Handler, srv *api.Server, log *slog.Logger, stdout io.Writer) error {
	// Headers within 10 s; a body that stalls for 30 s is cut (api.Config.BodyIdleTimeout), and so
	// is one under --body-min-rate after --body-min-rate-grace; no
	// request or answer may take more than 30 minutes (150 MiB, 10 files of the largest size, at
	// 85 KB/s); an idle keep-alive connection is closed after 2 minutes.
	httpSrv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Minute, WriteTimeout: 30 * time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 2)
	go func() { errc <- httpSrv.Serve(lns.api) }()
	if lns.metrics != nil {
		metricsSrv := newMetricsServer(srv)
		go func() { errc <- metricsSrv.Serve(lns.metrics) }()
		defer metricsSrv.Close()
		log.Info("bonafide metrics", "addr", lns.metrics.Addr().String(), "token", sf.metricsToken != "")
		fmt.Fprintf(stdout, "bonafide metrics on %s\n", lns.metrics.Addr())
	}
	log.Info("bonafide serving", "addr", lns.api.Addr().String(), "base_url", lns.base, "database", redact(sf.databaseURL), "blobs", redact(sf.blobURL),
		"max_connections", sf.maxConnections, "max_file_mb", sf.maxFileMB, "job_timeout", sf.jobTimeout.String(), "rescue_after", sf.rescueAfter.String())
	fmt.Fprintf(stdout, "bonafide listening on %s\n", lns.api.Addr())

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	_ = httpSrv.Shutdown(sctx)
	return nil
}

// newMetricsServer serves /metrics alone, on the metrics listener.
func newMetricsServer(srv *api.Server) *http.Server {
	return &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		srv.MetricsHandler().ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
}

// signingKey is the key that signs media URLs: the configured one, or the installation's, made at
// the first start and kept in the database so that every node signs and checks with the same key.
func signingKey(ctx context.Context, store bonafide.Store, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	fresh, err := api.NewURLKey()
	if err != nil {
		return "", err
	}
	return store.Setting(ctx, "url_signing_key", fresh)
}

// clearSpool removes upload spool files left by a process that died mid-request: all of them in
// embedded mode (this process alone uses the directory), those over an hour old otherwise (nodes
// might share a data directory).
func clearSpool(dir string, embedded bool, log *slog.Logger) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	removed := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "bonafide-upload-") {
			continue
		}
		if info, err := e.Info(); err == nil && (embedded || time.Since(info.ModTime()) > time.Hour) {
			if os.Remove(filepath.Join(dir, e.Name())) == nil {
				removed++
			}
		}
	}
	if removed > 0 {
		log.Info("removed upload spool files left by a previous process", "files", removed)
	}
}

// metricsConnections caps the connections of the metrics listener: scrapers are few.
const metricsConnections = 32

// listen opens a TCP listener that holds at most max connections at once: past that, a new
// connection waits in the kernel's accept queue until one closes (netutil.LimitListener), so a
// flood of connections costs the server no goroutine or buffer beyond the cap.
func listen(addr string, max int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return netutil.LimitListener(ln, max), nil
}

// redact hides credentials in a URL for logs.
func redact(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}

// bootstrapAdmin creates the first company and ADMIN when there is no user yet.
func bootstrapAdmin(ctx context.Context, store bonafide.Store, sf *serverFlags, log *slog.Logger, stdout io.Writer) error {
	n, err := store.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	email, password := sf.adminEmail, sf.adminPassword
	if email == "" {
		email = "admin@bonafide.local"
	}
	generated := password == ""
	if generated {
		tok, err := randomPassword()
		if err != nil {
			return err
		}
		password = tok
	}
	if _, err := createUser(ctx, store, email, password, bonafide.RoleAdmin, ""); err != nil {
		if bonafide.CodeOf(err) == bonafide.CodeAlreadyExist {
			return nil // another node starting at the same time created it
		}
		return err
	}
	log.Info("created the first ADMIN", "email", email, "password_generated", generated)
	if generated {
		fmt.Fprintf(stdout, "First start: created ADMIN %s with password %s (shown once; change it with 'bonafide user password')\n", email, password)
	}
	return nil
}

func randomPassword() (string, error) {
	return strings.ReplaceAll(uuid.NewString(), "-", "")[:20], nil
}

const serveUsage = `Usage: bonafide serve [flags]

Runs the Oz-compatible liveness API on --addr (default :8000) with the embedded defaults: SQLite
and media files under --data-dir, the River job queue in the same database, workers in this process.
On first start it creates an ADMIN from BONAFIDE_ADMIN_EMAIL / BONAFIDE_ADMIN_PASSWORD, or generates
a password and prints it once. Logs are JSON (slog) on stderr.

Every setting is a flag or its BONAFIDE_* variable (named after each flag below); a flag wins over
its variable. The settings are checked once at start: an invalid or contradictory value (a
--rescue-after not longer than --job-timeout, --max-file-mb 0, a malformed address or URL) stops
the server with a message naming the flag and the variable; nothing is silently replaced.
/metrics is served on --addr unless --metrics-addr gives it its own listener; --metrics-token
(better given as BONAFIDE_METRICS_TOKEN, so it is not visible in ps) requires a bearer token.

Flags:
`
