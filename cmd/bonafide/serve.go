package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"bonafide"
	"bonafide/api"
	"bonafide/blob"
	"bonafide/jobs"
	"bonafide/liveness"
	"bonafide/sqlite"
	"bonafide/webhook"
)

// serverFlags are the settings of `serve`, `user` and `migrate`: flags, then BONAFIDE_* variables.
type serverFlags struct {
	addr, dataDir, databaseURL, blobURL, baseURL string
	adminEmail, adminPassword                    string
	analysisWorkers                              int
	jobTimeout, rescueAfter, sessionTTL          time.Duration
	webhookBackoff                               time.Duration
	webhookAllowPrivate                          bool
	maxFiles, maxFileMB                          int
}

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "bonafide")
	}
	return "bonafide-data"
}

func (f *serverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", ":8000", "listen address (env BONAFIDE_ADDR)")
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir(), "where the embedded database and media live (env BONAFIDE_DATA_DIR)")
	fs.StringVar(&f.databaseURL, "database-url", "", "database URL: sqlite:///path/bonafide.db (default: under --data-dir) (env BONAFIDE_DATABASE_URL)")
	fs.StringVar(&f.blobURL, "blob-url", "", "media storage URL: file:///dir, mem://, s3://bucket?... (default: file:// under --data-dir) (env BONAFIDE_BLOB_URL)")
	fs.StringVar(&f.baseURL, "base-url", "", "scheme://host:port that media URLs use (default http://127.0.0.1:PORT) (env BONAFIDE_BASE_URL)")
	fs.IntVar(&f.analysisWorkers, "analysis-workers", 0, "analyses run at once in this process (default the number of cores) (env BONAFIDE_ANALYSIS_WORKERS)")
	fs.DurationVar(&f.jobTimeout, "job-timeout", jobs.DefaultJobTimeout, "an analysis running longer fails (env BONAFIDE_JOB_TIMEOUT)")
	fs.DurationVar(&f.rescueAfter, "rescue-after", 0, "a job of a dead node is taken over after this (default job-timeout + 15s; in embedded mode a restart retries them at once) (env BONAFIDE_RESCUE_AFTER)")
	fs.DurationVar(&f.sessionTTL, "session-ttl", 15*time.Minute, "sliding lifetime of access tokens (env BONAFIDE_SESSION_TTL)")
	fs.DurationVar(&f.webhookBackoff, "webhook-backoff", 30*time.Second, "first webhook retry delay, doubling (env BONAFIDE_WEBHOOK_BACKOFF)")
	fs.BoolVar(&f.webhookAllowPrivate, "webhook-allow-private", false, "allow webhooks to loopback and private addresses (env BONAFIDE_WEBHOOK_ALLOW_PRIVATE)")
	fs.IntVar(&f.maxFiles, "max-files", 10, "files per folder (env BONAFIDE_MAX_FILES)")
	fs.IntVar(&f.maxFileMB, "max-file-mb", 15, "MB per file (env BONAFIDE_MAX_FILE_MB)")
	f.adminEmail = os.Getenv("BONAFIDE_ADMIN_EMAIL")
	f.adminPassword = os.Getenv("BONAFIDE_ADMIN_PASSWORD")
}

func (f *serverFlags) resolve() {
	if f.databaseURL == "" {
		f.databaseURL = "sqlite://" + filepath.Join(absPath(f.dataDir), "bonafide.db")
	}
	if f.blobURL == "" {
		f.blobURL = "file://" + filepath.Join(absPath(f.dataDir), "media")
	}
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// queueRunner is the part of a jobs.Queue that serve drives.
type queueRunner interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// backend is an opened database: the store, and how to put the job queue on it.
type backend struct {
	store bonafide.Store
	// queue builds the River queue over this database's driver, installs it as the store's
	// enqueuer, and returns it with a function that counts its jobs by state.
	queue func(deps jobs.Deps, cfg jobs.Config) (queueRunner, func(context.Context) (map[string]int, error), error)
}

// openStore opens (and migrates) the database the URL names: sqlite:// embedded, postgres:// for
// scale-out.
func openStore(ctx context.Context, f *serverFlags, log *slog.Logger) (*backend, error) {
	switch {
	case strings.HasPrefix(f.databaseURL, "sqlite:"):
		st, err := sqlite.Open(ctx, f.databaseURL, sqlite.Options{Logger: log})
		if err != nil {
			return nil, err
		}
		return &backend{store: st, queue: func(deps jobs.Deps, cfg jobs.Config) (queueRunner, func(context.Context) (map[string]int, error), error) {
			q, err := jobs.NewSQLite(st.DB(), deps, cfg)
			if err != nil {
				return nil, nil, err
			}
			// One process owns the embedded database: a job still marked running was left by a
			// process that died, and is retried now rather than after the rescue delay.
			n, err := q.RetryOrphaned(ctx)
			if err != nil {
				return nil, nil, err
			}
			if n > 0 {
				log.Info("retrying jobs left running by the previous process", "jobs", n)
			}
			st.SetEnqueuer(q)
			return q, func(ctx context.Context) (map[string]int, error) { return jobs.Depth(ctx, st.DB()) }, nil
		}}, nil
	case strings.HasPrefix(f.databaseURL, "postgres:") || strings.HasPrefix(f.databaseURL, "postgresql:"):
		return openPostgres(ctx, f, log)
	}
	return nil, fmt.Errorf("database URL %q: use sqlite:///path/bonafide.db (embedded) or postgres://user@host/db (scale-out)", redact(f.databaseURL))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", serveUsage, stderr)
	var sf serverFlags
	sf.register(fs)
	var ef engineFlags
	ef.register(fs, true)
	if code, done := parse(fs, args); done {
		return code
	}
	sf.resolve()
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := serve(ctx, &sf, &ef, log, stdout); err != nil {
		log.Error("bonafide serve stopped", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, sf *serverFlags, ef *engineFlags, log *slog.Logger, stdout io.Writer) error {
	be, err := openStore(ctx, sf, log)
	if err != nil {
		return err
	}
	store := be.store
	defer store.Close()
	blobs, err := blob.Open(ctx, sf.blobURL)
	if err != nil {
		return err
	}
	defer blobs.Close()
	if err := bootstrapAdmin(ctx, store, sf, log, stdout); err != nil {
		return err
	}
	// Accounts (issue 9): global roles into the reserved company; expired sessions purged hourly.
	purge, err := startAccounts(ctx, store, log)
	if err != nil {
		return err
	}
	defer purge.Stop()
	engine, closeEngine, err := ef.open()
	if err != nil {
		return err
	}
	defer closeEngine()

	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		return err
	}
	base := sf.baseURL
	if base == "" {
		base = fmt.Sprintf("http://127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port)
	}
	hookOpts := webhook.Options{AllowPrivate: sf.webhookAllowPrivate}
	srv := api.New(api.Config{BaseURL: base, SessionTTL: sf.sessionTTL, MaxFiles: sf.maxFiles,
		MaxFileBytes: int64(sf.maxFileMB) << 20, Version: liveness.Version,
		ValidateWebhook: func(u string) error { return webhook.ValidateURL(u, hookOpts) }}, store, blobs, engine, log, nil)
	queue, depth, err := be.queue(jobs.Deps{Store: store, Blobs: blobs, Engine: engine,
		Deliverer: webhook.New(hookOpts), Retryable: webhook.Retryable, RenderFolder: srv.RenderFolder,
		Observe: func(resolution string, seconds float64) {
			srv.Metrics().Verdict(resolution)
			srv.Metrics().AnalysisDuration.Observe(seconds)
		}},
		jobs.Config{AnalysisWorkers: sf.analysisWorkers, JobTimeout: sf.jobTimeout, RescueAfter: sf.rescueAfter,
			WebhookBackoff: sf.webhookBackoff, Logger: log})
	if err != nil {
		return err
	}
	srv.Metrics().RegisterQueueDepth(depth)
	if err := queue.Start(ctx); err != nil {
		return err
	}
	// Headers within 10 s; a body that stalls for 30 s is cut (api.Config.BodyIdleTimeout); no
	// request or answer may take more than 30 minutes (150 MiB, 10 files of the largest size, at
	// 85 KB/s); an idle keep-alive connection is closed after 2 minutes.
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Minute, WriteTimeout: 30 * time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	log.Info("bonafide serving", "addr", ln.Addr().String(), "base_url", base, "database", redact(sf.databaseURL), "blobs", redact(sf.blobURL))
	fmt.Fprintf(stdout, "bonafide listening on %s\n", ln.Addr())

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(sctx)
	return queue.Stop(sctx)
}

// startAccounts runs the account steps of every start: global-role users left in a client company
// by older installs move into the reserved company, and the purge of expired sessions starts (once
// now, then hourly).
func startAccounts(ctx context.Context, store bonafide.Store, log *slog.Logger) (*bonafide.SessionPurge, error) {
	if _, err := bonafide.MoveGlobalUsers(ctx, store, webhook.NewSecret, log); err != nil {
		return nil, err
	}
	purge := &bonafide.SessionPurge{Store: store, Log: log}
	purge.Start(ctx)
	return purge, nil
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

// globalCompany is the reserved company of the global roles.
const globalCompany = bonafide.GlobalCompanyName

// createUser makes a user in the named company, creating the company when missing.
func createUser(ctx context.Context, store bonafide.Store, email, password string, role bonafide.Role, company string) (*bonafide.User, error) {
	if !role.Valid() {
		return nil, fmt.Errorf("unknown role %q (ADMIN, OPERATOR, CLIENT, CLIENT ADMIN, CLIENT OPERATOR, CLIENT SERVICE)", role)
	}
	if len(password) < 8 {
		return nil, fmt.Errorf("the password must have at least 8 characters")
	}
	// Global roles belong to no client company: they share the reserved company globalCompany,
	// which no client user joins, so a CLIENT ADMIN never sees or deletes an ADMIN's folders
	// (their webhooks are still signed, with that company's secret). Client roles name theirs.
	switch {
	case role.Global() && company != "":
		return nil, fmt.Errorf("%s is a global role and belongs to no client company: leave out --company", role)
	case !role.Global() && company == "":
		return nil, fmt.Errorf("%s users belong to a company: give --company NAME (created when missing)", role)
	case !role.Global() && bonafide.IsGlobalCompanyName(company):
		return nil, fmt.Errorf("the company %q is reserved for the global roles ADMIN and OPERATOR", globalCompany)
	}
	var c *bonafide.Company
	var err error
	if role.Global() {
		c, err = bonafide.GlobalCompany(ctx, store, webhook.NewSecret)
	} else {
		c, err = bonafide.EnsureCompany(ctx, store, company, "", webhook.NewSecret)
	}
	if err != nil {
		return nil, err
	}
	hash, err := api.HashPassword(password)
	if err != nil {
		return nil, err
	}
	u := &bonafide.User{ID: uuid.NewString(), CompanyID: c.ID, Email: strings.ToLower(email), Role: role,
		PasswordHash: hash, CanQuality: true, CanBiometry: true}
	if err := store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

const serveUsage = `Usage: bonafide serve [flags]

Runs the Oz-compatible liveness API on --addr (default :8000) with the embedded defaults: SQLite
and media files under --data-dir, the River job queue in the same database, workers in this process.
On first start it creates an ADMIN from BONAFIDE_ADMIN_EMAIL / BONAFIDE_ADMIN_PASSWORD, or generates
a password and prints it once. Logs are JSON (slog) on stderr.

Flags:
`
