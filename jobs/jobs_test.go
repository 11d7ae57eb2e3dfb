package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"bonafide"
	"bonafide/internal/service"
	"bonafide/internal/testkit"
	"bonafide/postgres"
	"bonafide/sqlite"
)

// The queue is tested on both drivers, wired as serve wires it: the database opened and migrated,
// the Enqueuer over it, the store with that enqueuer, then the Queue with the store in its deps.
// The analysis path is kept to queue behaviour (no engine: the job fails as a configuration error),
// the engine's own results are tested in liveness and end to end in cmd/bonafide.

var quiet = slog.New(slog.DiscardHandler)

// runner is what both Queue types share.
type runner interface {
	RetryOrphaned(ctx context.Context) (int, error)
	service.Service
}

// env is one database with its store, and how to put a working queue on it.
type env struct {
	store bonafide.Store
	exec  riverdriver.Executor
	pool  *pgxpool.Pool // PostgreSQL only
	queue func(deps Deps, cfg Config) (runner, error)
}

// testConfig polls fast so that the tests wait little.
func testConfig(mod ...func(*Config)) Config {
	c := Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		WebhookBackoff: time.Millisecond, AnalysisAttempts: 1, Logger: quiet}
	for _, m := range mod {
		m(&c)
	}
	return c
}

func openSQLite(t *testing.T, cfg Config) *env {
	t.Helper()
	db, err := sqlite.OpenDB(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "bonafide.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	enq, err := NewSQLiteEnqueuer(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := sqlite.New(db, sqlite.Options{Enqueuer: enq})
	t.Cleanup(func() { st.Close() })
	return &env{store: st, exec: riversqlite.New(db).GetExecutor(),
		queue: func(deps Deps, cfg Config) (runner, error) { return NewSQLite(db, deps, cfg) }}
}

func openPostgres(t *testing.T, cfg Config) *env {
	t.Helper()
	url := testkit.PostgresDatabase(t)
	pool, err := postgres.Connect(t.Context(), url, postgres.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	enq, err := NewPostgresEnqueuer(pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := postgres.New(pool, postgres.Options{Enqueuer: enq})
	t.Cleanup(func() { st.Close() })
	return &env{store: st, exec: riverpgxv5.New(pool).GetExecutor(), pool: pool,
		queue: func(deps Deps, cfg Config) (runner, error) { return NewPostgres(pool, deps, cfg) }}
}

// eachDriver runs fn on SQLite, and on PostgreSQL when BONAFIDE_TEST_POSTGRES_URL is set.
func eachDriver(t *testing.T, fn func(t *testing.T, open func(t *testing.T, cfg Config) *env)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, openSQLite) })
	t.Run("postgres", func(t *testing.T) {
		testkit.PostgresDatabase(t) // skips without a server
		t.Parallel()
		fn(t, openPostgres)
	})
}

// start runs a queue over e until the test ends.
func (e *env) start(t *testing.T, deps Deps, cfg Config) runner {
	t.Helper()
	deps.Store = e.store
	q, err := e.queue(deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
		select {
		case <-q.Done():
		case <-ctx.Done():
			t.Error("the queue's Done is open after Stop")
		}
	})
	return q
}

// folder makes a company and a folder with a webhook endpoint.
func (e *env) folder(t *testing.T) *bonafide.Folder {
	t.Helper()
	c := &bonafide.Company{Name: "acme", WebhookSecret: "whsec_" + strings.Repeat("QUJD", 8)}
	if err := e.store.CreateCompany(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	f := &bonafide.Folder{CompanyID: c.ID, ResolutionEndpoint: "https://hooks.example/bonafide"}
	if err := e.store.CreateFolder(t.Context(), f, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// delivery is one call of the recording deliverer.
type delivery struct{ url, secret, id, body string }

// deliverer records deliveries and fails the first `fail` of them with err.
type deliverer struct {
	mu    sync.Mutex
	calls []delivery
	fail  int
	err   error
}

func (d *deliverer) Deliver(_ context.Context, url, secret, id string, body []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, delivery{url, secret, id, string(body)})
	if len(d.calls) <= d.fail {
		return d.err
	}
	return nil
}

func (d *deliverer) got() []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

var errTransient = errors.New("503 from the receiver")

func render(_ context.Context, id string) ([]byte, error) {
	return []byte(`{"folder_id":"` + id + `"}`), nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jobs lists the jobs of kind.
func (e *env) jobs(t *testing.T, kind string) []*rivertype.JobRow {
	t.Helper()
	rows, err := e.exec.JobGetByKindMany(t.Context(), &riverdriver.JobGetByKindManyParams{Kind: []string{kind}})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// An analysis accepted by the store has its job in the same commit; the queue runs it, and the
// finished folder's webhook is delivered with the body, secret and an event id.
func TestEnqueueInTxAndRun(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func(*testing.T, Config) *env) {
		cfg := testConfig()
		e := open(t, cfg)
		f := e.folder(t)
		a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
		if err := e.store.CreateAnalyses(t.Context(), []*bonafide.Analysis{a}); err != nil {
			t.Fatal(err)
		}
		if jobs := e.jobs(t, AnalysisArgs{}.Kind()); len(jobs) != 1 || jobs[0].State != rivertype.JobStateAvailable || jobs[0].Queue != queueAnalysis {
			t.Fatalf("after CreateAnalyses: %+v, want one available analysis job", jobs)
		}
		d := &deliverer{}
		e.start(t, Deps{Deliverer: d, RenderFolder: render}, cfg)
		eventually(t, "the webhook", 20*time.Second, func() bool { return len(d.got()) == 1 })
		got, err := e.store.GetAnalysis(t.Context(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		// No engine is configured here: the one attempt fails the analysis with the reason.
		if got.State != bonafide.StateFailed || !strings.Contains(got.Error, errNoEngine.Error()) {
			t.Fatalf("analysis %s %q, want FAILED with %q", got.State, got.Error, errNoEngine)
		}
		c := d.got()[0]
		if c.url != f.ResolutionEndpoint || c.id == "" || !strings.HasPrefix(c.secret, "whsec_") || c.body != `{"folder_id":"`+f.ID+`"}` {
			t.Fatalf("delivery %+v", c)
		}
	})
}

// A webhook that fails with a retryable error is retried, each time with the same event id (the
// receiver's deduplication key); a permanent failure is not retried.
func TestWebhookRetriesKeepEventID(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func(*testing.T, Config) *env) {
		cfg := testConfig(func(c *Config) { c.WebhookAttempts = 5 })
		e := open(t, cfg)
		f := e.folder(t)
		a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
		if err := e.store.CreateAnalyses(t.Context(), []*bonafide.Analysis{a}); err != nil {
			t.Fatal(err)
		}
		// Finished before the queue starts: its analysis job finds it done; the webhook is due.
		a.State, a.Resolution, a.ResultsData = bonafide.StateFinished, bonafide.ResolutionSuccess, json.RawMessage(`{}`)
		if err := e.store.FinishAnalysis(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		d := &deliverer{fail: 2, err: errTransient}
		e.start(t, Deps{Deliverer: d, RenderFolder: render, Retryable: func(err error) bool { return errors.Is(err, errTransient) }}, cfg)
		eventually(t, "three deliveries", 20*time.Second, func() bool { return len(d.got()) == 3 })
		calls := d.got()
		for _, c := range calls {
			if c.id != calls[0].id || c.id == "" {
				t.Fatalf("deliveries %+v: want one event id on every retry", calls)
			}
		}
		eventually(t, "the job completed", 10*time.Second, func() bool {
			jobs := e.jobs(t, WebhookArgs{}.Kind())
			return len(jobs) == 1 && jobs[0].State == rivertype.JobStateCompleted && jobs[0].Attempt == 3
		})
	})
}

func TestWebhookPermanentFailureIsNotRetried(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func(*testing.T, Config) *env) {
		cfg := testConfig()
		e := open(t, cfg)
		f := e.folder(t)
		a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
		if err := e.store.CreateAnalyses(t.Context(), []*bonafide.Analysis{a}); err != nil {
			t.Fatal(err)
		}
		a.State, a.Resolution, a.ResultsData = bonafide.StateFinished, bonafide.ResolutionSuccess, json.RawMessage(`{}`)
		if err := e.store.FinishAnalysis(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		d := &deliverer{fail: 100, err: errors.New("the URL resolves to a private address")}
		e.start(t, Deps{Deliverer: d, RenderFolder: render, Retryable: func(error) bool { return false }}, cfg)
		eventually(t, "the job cancelled", 20*time.Second, func() bool {
			jobs := e.jobs(t, WebhookArgs{}.Kind())
			return len(jobs) == 1 && jobs[0].State == rivertype.JobStateCancelled
		})
		if n := len(d.got()); n != 1 {
			t.Fatalf("%d deliveries, want 1", n)
		}
	})
}

// The webhook retry delay doubles from WebhookBackoff up to WebhookMaxBackoff.
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n        int
		maxDelay time.Duration
		want     time.Duration
	}{{1, 30 * time.Minute, 30 * time.Second}, {2, 30 * time.Minute, time.Minute}, {3, 30 * time.Minute, 2 * time.Minute},
		{7, time.Hour, 32 * time.Minute}, {7, 30 * time.Minute, 30 * time.Minute}, {40, 30 * time.Minute, 30 * time.Minute}} {
		if got := backoff(30*time.Second, tc.maxDelay, tc.n); got != tc.want {
			t.Errorf("backoff(30s, %s, %d) = %s, want %s", tc.maxDelay, tc.n, got, tc.want)
		}
	}
	var c Config
	c.defaults()
	if c.WebhookAttempts != 8 || c.WebhookBackoff != 30*time.Second || c.AnalysisAttempts != DefaultAnalysisAttempts || c.RescueAfter <= c.JobTimeout {
		t.Fatalf("defaults %+v", c)
	}
	w := &webhookWorker{cfg: c}
	next := w.NextRetry(&river.Job[WebhookArgs]{JobRow: &rivertype.JobRow{Attempt: 2}})
	if d := time.Until(next); d < 55*time.Second || d > time.Minute {
		t.Fatalf("NextRetry after attempt 2 in %s, want about 1m", d)
	}
}

// insertRunning inserts a webhook job left running by node (as if its process died mid-job).
func (e *env) insertRunning(t *testing.T, folderID, eventID, node string, attempt, maxAttempts int) *rivertype.JobRow {
	t.Helper()
	args, _ := json.Marshal(WebhookArgs{FolderID: folderID, EventID: eventID})
	at := time.Now().Add(-time.Second)
	row, err := e.exec.JobInsertFull(t.Context(), &riverdriver.JobInsertFullParams{
		Attempt: attempt, AttemptedAt: &at, AttemptedBy: []string{node}, EncodedArgs: args, Kind: WebhookArgs{}.Kind(),
		MaxAttempts: maxAttempts, Queue: queueWebhook, ScheduledAt: &at, State: rivertype.JobStateRunning,
		Metadata: []byte(`{}`), Priority: 1})
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func (e *env) job(t *testing.T, id int64) *rivertype.JobRow {
	t.Helper()
	row, err := e.exec.JobGetByID(t.Context(), &riverdriver.JobGetByIDParams{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// RetryOrphaned (embedded mode, before Start) makes a job left running available at once, with an
// attempt error saying why, or discards it when its attempts are used up; the queue then runs it.
func TestRetryOrphaned(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func(*testing.T, Config) *env) {
		cfg := testConfig()
		e := open(t, cfg)
		f := e.folder(t)
		orphan := e.insertRunning(t, f.ID, "evt-orphan", "dead-process", 1, 3)
		spent := e.insertRunning(t, f.ID, "evt-spent", "dead-process", 3, 3)
		d := &deliverer{}
		q, err := e.queue(Deps{Store: e.store, Deliverer: d, RenderFolder: render}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		n, err := q.RetryOrphaned(t.Context())
		if err != nil || n != 2 {
			t.Fatalf("RetryOrphaned = %d, %v; want 2", n, err)
		}
		if j := e.job(t, orphan.ID); j.State != rivertype.JobStateAvailable || len(j.Errors) != 1 ||
			!strings.Contains(j.Errors[0].Error, "process running this job stopped") || time.Until(j.ScheduledAt) > time.Second {
			t.Fatalf("orphan after RetryOrphaned: %s %+v scheduled %s", j.State, j.Errors, j.ScheduledAt)
		}
		if j := e.job(t, spent.ID); j.State != rivertype.JobStateDiscarded || j.FinalizedAt == nil {
			t.Fatalf("spent job after RetryOrphaned: %s", j.State)
		}
		if err := q.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(context.Background())
		eventually(t, "the orphan delivered", 20*time.Second, func() bool { return len(d.got()) == 1 })
		if c := d.got()[0]; c.id != "evt-orphan" {
			t.Fatalf("delivered %+v, want the orphan's event id", c)
		}
	})
}

// In scale-out, a running job whose node stopped beating (its bonafide_nodes row is stale) is
// handed back by another node's heartbeat and delivered with its event id; the running job of a
// live node is left alone.
func TestHeartbeatTakesOverDeadNode(t *testing.T) {
	e := openPostgres(t, testConfig())
	ctx := t.Context()
	f := e.folder(t)
	if _, err := e.pool.Exec(ctx, `INSERT INTO bonafide_nodes (id, started_at, beat_at) VALUES
		('dead-node', now() - interval '1 hour', now() - interval '1 minute'),
		('live-node', now() - interval '1 hour', now())`); err != nil {
		t.Fatal(err)
	}
	dead := e.insertRunning(t, f.ID, "evt-dead", "dead-node", 1, 3)
	live := e.insertRunning(t, f.ID, "evt-live", "live-node", 1, 3)

	// The takeover itself.
	h := &heartbeat{pool: e.pool, id: func() string { return "me" }, deadFor: 20 * time.Second, log: quiet}
	if n, err := h.takeOver(ctx); err != nil || n != 1 {
		t.Fatalf("takeOver = %d, %v; want 1", n, err)
	}
	if j := e.job(t, dead.ID); j.State != rivertype.JobStateAvailable || len(j.Errors) != 1 || !strings.Contains(j.Errors[0].Error, "dead-node") {
		t.Fatalf("dead node's job: %s %+v", j.State, j.Errors)
	}
	if j := e.job(t, live.ID); j.State != rivertype.JobStateRunning {
		t.Fatalf("live node's job: %s, want running", j.State)
	}

	// And through a running queue: its heartbeat takes over a second dead node's job, which it works.
	again := e.insertRunning(t, f.ID, "evt-again", "dead-node", 1, 3)
	d := &deliverer{}
	e.start(t, Deps{Deliverer: d, RenderFolder: render}, testConfig(func(c *Config) {
		c.HeartbeatInterval, c.NodeDeadAfter = 50*time.Millisecond, 20*time.Second
	}))
	eventually(t, "both dead-node jobs delivered", 20*time.Second, func() bool {
		ids := map[string]bool{}
		for _, c := range d.got() {
			ids[c.id] = true
		}
		return ids["evt-dead"] && ids["evt-again"]
	})
	if j := e.job(t, again.ID); len(j.Errors) != 1 || !strings.Contains(j.Errors[0].Error, "taken over") {
		t.Fatalf("taken-over job errors: %+v", j.Errors)
	}
	for _, c := range d.got() {
		if c.id == "evt-live" {
			t.Fatal("the live node's running job was taken over")
		}
	}
}

// A deleted analysis (gone with its folder) cancels its job instead of retrying it.
func TestAnalysisJobOfDeletedAnalysisIsCancelled(t *testing.T) {
	e := openSQLite(t, testConfig(func(c *Config) { c.AnalysisAttempts = 3 }))
	f := e.folder(t)
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	if err := e.store.CreateAnalyses(t.Context(), []*bonafide.Analysis{a}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.DeleteFolder(t.Context(), f.ID); err != nil {
		t.Fatal(err)
	}
	e.start(t, Deps{RenderFolder: render}, testConfig())
	eventually(t, "the job cancelled", 20*time.Second, func() bool {
		jobs := e.jobs(t, AnalysisArgs{}.Kind())
		return len(jobs) == 1 && jobs[0].State == rivertype.JobStateCancelled && jobs[0].Attempt == 1
	})
}
