// Package jobs runs the durable background work of the server with River: one job per analysis,
// one per webhook delivery and one per erasure on request. Jobs are inserted in the same
// transaction as the rows they act on (Enqueuer, which the store is built with), so an accepted
// analysis is never lost, and River rescues the jobs of a process that died. Queue works the jobs; it is built after the store.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"bonafide"
	"bonafide/internal/service"
)

// AnalysisArgs is the job of running one analysis.
type AnalysisArgs struct {
	AnalysisID string `json:"analysis_id"`
}

// Kind names the job kind.
func (AnalysisArgs) Kind() string { return "analysis" }

// WebhookArgs is the job of delivering a folder's webhook once.
type WebhookArgs struct {
	FolderID string `json:"folder_id"`
	EventID  string `json:"event_id"` // sent as webhook-id, the same on every retry
}

// Kind names the job kind.
func (WebhookArgs) Kind() string { return "webhook" }

// Deliverer sends one signed webhook (implemented by webhook.Client).
type Deliverer interface {
	Deliver(ctx context.Context, url, secret, id string, body []byte) error
}

// DefaultJobTimeout bounds one analysis. A 30 s 720p video, the longest the limits accept, takes
// about 6 s on one core, so a minute leaves a wide margin for a loaded node, and a job of a
// process that died is taken over soon after (RescueAfter).
const DefaultJobTimeout = time.Minute

// DefaultAnalysisAttempts is how many times an analysis job may start. A process that dies takes
// the attempt of every job it was running, guilty or not: under a crash loop a job can lose several
// attempts without having caused anything, so the budget is wide; an analysis whose attempts are
// all used up by crashes ends FAILED (abandonOrphans), so it can neither wait for ever nor stop
// the server again. Errors of the analysis itself are retried only on the first
// analysisErrorAttempts runs.
const (
	DefaultAnalysisAttempts = 10
	analysisErrorAttempts   = 3
)

// Config tunes the queue.
type Config struct {
	AnalysisWorkers   int           // analyses run at once in this process (default: DefaultAnalysisWorkers)
	WebhookWorkers    int           // default 4
	JobTimeout        time.Duration // an analysis that runs longer fails (default 1 min: the largest media within the limits takes seconds)
	RescueAfter       time.Duration // a job still running after this is taken over (default JobTimeout + 15 s)
	AnalysisAttempts  int           // runs of an analysis job, those cut by a crash included (default 10; errors are retried on the first 3)
	WebhookAttempts   int           // default 8 (the first try and 7 retries, as Oz's 7 x 30 s)
	WebhookBackoff    time.Duration // first retry delay, doubling each time (default 30 s)
	WebhookMaxBackoff time.Duration // default 30 min
	FetchCooldown     time.Duration // default 50 ms (SQLite: 10 ms)
	FetchPollInterval time.Duration // the analysis queue's: default 100 ms (SQLite: 40 ms); webhooks poll every webhookPoll, erasures and retention every backgroundPoll (or this, when longer)
	HeartbeatInterval time.Duration // scale-out: how often a node refreshes its heartbeat row (default 5 s)
	NodeDeadAfter     time.Duration // scale-out: a node silent this long is dead, its jobs taken over (default 20 s)
	RetentionInterval time.Duration // how often Deps.Retention runs (default 1 h)
	ErasurePace       time.Duration // an erasure waits this long after each folder, to spare the blob store (default 0)
	Logger            *slog.Logger
}

// DefaultAnalysisWorkers is how many analyses a process runs at once when not told: one per core
// (an analysis's frames use a second core only when one is free).
func DefaultAnalysisWorkers() int { return runtime.NumCPU() }

func (c *Config) defaults() {
	if c.AnalysisWorkers <= 0 {
		c.AnalysisWorkers = DefaultAnalysisWorkers()
	}
	if c.WebhookWorkers <= 0 {
		c.WebhookWorkers = 4
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = DefaultJobTimeout
	}
	if c.RescueAfter <= c.JobTimeout {
		c.RescueAfter = c.JobTimeout + 15*time.Second
	}
	if c.AnalysisAttempts <= 0 {
		c.AnalysisAttempts = DefaultAnalysisAttempts
	}
	if c.WebhookAttempts <= 0 {
		c.WebhookAttempts = 8
	}
	if c.WebhookBackoff <= 0 {
		c.WebhookBackoff = 30 * time.Second
	}
	if c.WebhookMaxBackoff <= 0 {
		c.WebhookMaxBackoff = 30 * time.Minute
	}
	if c.FetchCooldown <= 0 {
		c.FetchCooldown = 50 * time.Millisecond
	}
	if c.FetchPollInterval < c.FetchCooldown {
		c.FetchPollInterval = max(100*time.Millisecond, c.FetchCooldown)
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.NodeDeadAfter <= 0 {
		c.NodeDeadAfter = DefaultNodeDeadAfter
	}
	if c.RetentionInterval <= 0 {
		c.RetentionInterval = DefaultRetentionInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Deps are what the workers need.
type Deps struct {
	Store        bonafide.Store
	Blobs        bonafide.Blobs
	Analyzer     bonafide.Analyzer // runs the analyses; nil in a process that runs none
	Deliverer    Deliverer
	Retryable    func(error) bool                                           // classifies delivery errors
	RenderFolder func(ctx context.Context, folderID string) ([]byte, error) // the webhook body
	Now          func() time.Time
	Observe      func(resolution string, seconds float64) // metrics hook per finished analysis
	// Retention is one retention run (sweep.Retention), run periodically on one node at a time;
	// more says it stopped with work left. Nil: no retention job.
	Retention func(ctx context.Context) (more bool, err error)
}

// Queue is the River client with our workers, over the transaction type of its database (*sql.Tx
// for SQLite, pgx.Tx for PostgreSQL). It works jobs and inserts none: the store inserts them
// through an Enqueuer over the same database.
type Queue[TTx any] struct {
	client *river.Client[TTx]
	driver riverdriver.Driver[TTx]
	cfg    Config
	deps   Deps
	beat   *heartbeat // scale-out only
	done   chan struct{}
}

var _ service.Service = (*Queue[*sql.Tx])(nil)

// NewSQLite builds the queue over the embedded database (sqlite.Open migrates River's tables).
//
// SQLite has no LISTEN/NOTIFY and the jobs are inserted by the store's own client, so the workers
// see a new job only when they poll: they poll every 40 ms unless told otherwise, so that a
// photo's analysis starts about 20 ms after its request rather than 50 (a photo takes about
// 40 ms to analyse; README "Speed and memory" has the figures). The price is the idle server's
// CPU: each poll parses River's query anew. Only the analysis queue polls that often (webhooks
// every 250 ms, erasures and retention every second): an idle server used 5.1% of a core, against
// 9.7% with every queue at 40 ms (2 vCPU VM, 30 s, issue 21).
func NewSQLite(db *sql.DB, deps Deps, cfg Config) (*Queue[*sql.Tx], error) {
	if cfg.FetchCooldown <= 0 {
		cfg.FetchCooldown = sqliteFetchCooldown
	}
	if cfg.FetchPollInterval <= 0 {
		cfg.FetchPollInterval = sqliteFetchPoll
	}
	return newQueue(riversqlite.New(db), deps, cfg)
}

// NewPostgres builds the queue over PostgreSQL (postgres.Open migrates River's tables and
// bonafide_nodes). Every node of a cluster runs one; each beats in bonafide_nodes, and the running
// jobs of a node that stopped beating are taken over within about NodeDeadAfter (River's own
// rescuer, after RescueAfter, stays as the backstop).
func NewPostgres(pool *pgxpool.Pool, deps Deps, cfg Config) (*Queue[pgx.Tx], error) {
	q, err := newQueue(riverpgxv5.New(pool), deps, cfg)
	if err != nil {
		return nil, err
	}
	q.beat = &heartbeat{pool: pool, id: q.client.ID, interval: q.cfg.HeartbeatInterval, deadFor: q.cfg.NodeDeadAfter,
		log: q.cfg.Logger, abandon: func(ctx context.Context, ids []string) { abandonOrphans(ctx, q.deps, q.cfg.Logger, ids) }}
	return q, nil
}

func newQueue[TTx any](driver riverdriver.Driver[TTx], deps Deps, cfg Config) (*Queue[TTx], error) {
	cfg.defaults()
	if deps.Now == nil {
		deps.Now = time.Now
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &analysisWorker{deps: deps, log: cfg.Logger})
	river.AddWorker(workers, &webhookWorker{deps: deps, log: cfg.Logger, cfg: cfg})
	river.AddWorker(workers, &erasureWorker{deps: deps, log: cfg.Logger, pace: cfg.ErasurePace})
	// Only an analysis is waited for by a person: the other queues poll less often (over SQLite a
	// poll is a query parsed anew, and the four queues' polls were most of an idle server's CPU).
	deliveries, background := max(cfg.FetchPollInterval, webhookPoll), max(cfg.FetchPollInterval, backgroundPoll)
	queues := map[string]river.QueueConfig{
		queueAnalysis: {MaxWorkers: cfg.AnalysisWorkers},
		queueWebhook:  {MaxWorkers: cfg.WebhookWorkers, FetchPollInterval: deliveries},
		queueErasure:  {MaxWorkers: 1, FetchPollInterval: background},
	}
	var periodic []*river.PeriodicJob
	if deps.Retention != nil {
		river.AddWorker(workers, &retentionWorker{run: deps.Retention, log: cfg.Logger})
		queues[queueMaintenance] = river.QueueConfig{MaxWorkers: 1, FetchPollInterval: background}
		periodic = append(periodic, retentionPeriodic(cfg.RetentionInterval))
	}
	client, err := river.NewClient(driver, &river.Config{
		Queues:               queues,
		PeriodicJobs:         periodic,
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchCooldown:        cfg.FetchCooldown,
		FetchPollInterval:    cfg.FetchPollInterval,
		Logger:               cfg.Logger.With("component", "river"),
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return &Queue[TTx]{client: client, driver: driver, cfg: cfg, deps: deps}, nil
}

// The embedded database's poll timings (NewSQLite).
const (
	sqliteFetchCooldown = 10 * time.Millisecond
	sqliteFetchPoll     = 40 * time.Millisecond
)

// How often the queues nobody waits on poll at the most: webhook deliveries (a delivery starts at
// most 250 ms after its analysis finished), erasures and the retention sweep.
const (
	webhookPoll    = 250 * time.Millisecond
	backgroundPoll = time.Second
)

const (
	queueAnalysis = "analysis"
	queueWebhook  = "webhook"
)

// RetryOrphaned makes every job left running by a process that died available again at once
// (or discards it when it has used all its attempts), as River's rescuer does after RescueAfter.
// Only for a database that this process alone works, the embedded SQLite mode, and only before
// Start: there every running job is an orphan of the previous process. It returns how many jobs
// it handed back.
func (q *Queue[TTx]) RetryOrphaned(ctx context.Context) (int, error) {
	exec := q.driver.GetExecutor()
	now := time.Now().UTC()
	stuck, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{Max: 100000, StuckHorizon: now.Add(time.Hour)})
	if err != nil {
		return 0, fmt.Errorf("jobs: find orphaned jobs: %w", err)
	}
	if len(stuck) == 0 {
		return 0, nil
	}
	p := riverdriver.JobRescueManyParams{StuckHorizon: now.Add(time.Hour)}
	for _, job := range stuck {
		msg, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: max(job.Attempt, 0),
			Error: "the process running this job stopped; retried when the server started again"})
		if err != nil {
			return 0, err
		}
		state, finalized, at := rivertype.JobStateAvailable, (*time.Time)(nil), now
		if job.Attempt >= job.MaxAttempts {
			state, finalized, at = rivertype.JobStateDiscarded, &now, job.ScheduledAt
		}
		p.ID = append(p.ID, job.ID)
		p.Error = append(p.Error, msg)
		p.FinalizedAt = append(p.FinalizedAt, finalized)
		p.ScheduledAt = append(p.ScheduledAt, at)
		p.State = append(p.State, string(state))
	}
	if _, err := exec.JobRescueMany(ctx, &p); err != nil {
		return 0, fmt.Errorf("jobs: retry orphaned jobs: %w", err)
	}
	var abandoned []string
	for i, job := range stuck {
		if id, ok := abandonedAnalysis(job.Kind, p.State[i], job.EncodedArgs); ok {
			abandoned = append(abandoned, id)
		}
	}
	abandonOrphans(ctx, q.deps, q.cfg.Logger, abandoned)
	return len(stuck), nil
}

// abandonedAnalysis is the analysis of a job that was just discarded (every attempt used up).
func abandonedAnalysis(kind, state string, args []byte) (string, bool) {
	var a AnalysisArgs
	if state != string(rivertype.JobStateDiscarded) || kind != a.Kind() || json.Unmarshal(args, &a) != nil {
		return "", false
	}
	return a.AnalysisID, true
}

// abandonOrphans ends FAILED the analyses whose jobs were discarded because every attempt was cut
// by a dying process: without this they would stay PROCESSING for ever. The first finish wins, so
// an analysis that another run finished meanwhile keeps its result.
func abandonOrphans(ctx context.Context, deps Deps, log *slog.Logger, analysisIDs []string) {
	for _, id := range analysisIDs {
		a := &bonafide.Analysis{ID: id, State: bonafide.StateFailed, ResultsData: json.RawMessage(`{}`),
			Error: "the server stopped while analysing this media on every attempt; the analysis was abandoned so that it cannot stop the server again"}
		err := deps.Store.FinishAnalysis(ctx, a)
		switch {
		case err == nil:
			log.Warn("analysis abandoned: the server stopped during every attempt", "analysis_id", id)
		case errors.Is(err, bonafide.ErrAlreadyFinished), bonafide.CodeOf(err) == bonafide.CodeNotExist:
		default:
			log.Error("failing an abandoned analysis failed", "analysis_id", id, "err", err)
		}
	}
}

// Start begins working jobs (in scale-out, after this node's first heartbeat). Cancelling ctx
// stops the queue abruptly (River cancels the running jobs); Stop stops it gracefully.
func (q *Queue[TTx]) Start(ctx context.Context) error {
	if q.beat != nil {
		if err := q.beat.start(ctx); err != nil {
			return err
		}
	}
	if err := q.client.Start(ctx); err != nil {
		if q.beat != nil {
			q.beat.halt(ctx)
		}
		return err
	}
	done, stopped := make(chan struct{}), q.client.Stopped()
	q.done = done
	go func() {
		<-stopped
		if q.beat != nil {
			<-q.beat.loop.Done()
		}
		close(done)
	}()
	return nil
}

// Stop waits for running jobs to finish (or ctx to end), then stops beating.
func (q *Queue[TTx]) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if q.beat != nil {
		q.beat.halt(ctx)
	}
	return err
}

// Done is closed once the queue works no more jobs and (in scale-out) no longer beats: after Stop.
// (The heartbeat outlives the end of Start's context, so that only Stop marks the node stopped.)
// It is closed at once for a queue never started.
func (q *Queue[TTx]) Done() <-chan struct{} {
	if q.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return q.done
}

// backoff is the delay before retry n (1-based): base * 2^(n-1), capped.
func backoff(base, maxDelay time.Duration, n int) time.Duration {
	d := float64(base) * math.Pow(2, float64(n-1))
	if d > float64(maxDelay) {
		return maxDelay
	}
	return time.Duration(d)
}

// permanent marks an error that retrying cannot fix.
func permanent(err error) error { return river.JobCancel(err) }

var errNoEngine = errors.New("jobs: no engine configured")

// Depth counts the queue's jobs by state (available, running, retryable, ...) in SQLite.
func Depth(ctx context.Context, db *sql.DB) (map[string]int, error) {
	r, err := db.QueryContext(ctx, depthQuery)
	if err != nil {
		return nil, fmt.Errorf("jobs: queue depth: %w", err)
	}
	defer r.Close()
	return countStates(r)
}

// DepthPgx counts the queue's jobs by state in PostgreSQL.
func DepthPgx(ctx context.Context, pool *pgxpool.Pool) (map[string]int, error) {
	r, err := pool.Query(ctx, depthQuery)
	if err != nil {
		return nil, fmt.Errorf("jobs: queue depth: %w", err)
	}
	defer r.Close()
	return countStates(r)
}

const depthQuery = `SELECT CAST(state AS TEXT), count(*) FROM river_job GROUP BY state`

// rows is what *sql.Rows and pgx.Rows share.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func countStates(r rows) (map[string]int, error) {
	out := map[string]int{}
	for r.Next() {
		var state string
		var n int
		if err := r.Scan(&state, &n); err != nil {
			return nil, err
		}
		out[state] = n
	}
	return out, r.Err()
}
