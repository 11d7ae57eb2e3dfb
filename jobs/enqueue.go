package jobs

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// Enqueuer is the inserting side of the queue: a River client with no workers (River's insert-only
// client), which inserts jobs in the store's own transactions. It needs only the database, so it is
// built before the store (the store is opened with it) and before the Queue that works the jobs
// (whose workers need the store): open and migrate the database, NewSQLiteEnqueuer, sqlite.New
// with it, then NewSQLite with the store in Deps. Over *sql.Tx it implements sqlite.Enqueuer, over
// pgx.Tx postgres.Enqueuer.
type Enqueuer[TTx any] struct {
	client *river.Client[TTx]
	cfg    Config
}

// NewSQLiteEnqueuer builds the inserting side of the queue over the embedded database.
func NewSQLiteEnqueuer(db *sql.DB, cfg Config) (*Enqueuer[*sql.Tx], error) {
	return newEnqueuer(riversqlite.New(db), cfg)
}

// NewPostgresEnqueuer builds the inserting side of the queue over PostgreSQL.
func NewPostgresEnqueuer(pool *pgxpool.Pool, cfg Config) (*Enqueuer[pgx.Tx], error) {
	return newEnqueuer(riverpgxv5.New(pool), cfg)
}

func newEnqueuer[TTx any](driver riverdriver.Driver[TTx], cfg Config) (*Enqueuer[TTx], error) {
	cfg.defaults()
	client, err := river.NewClient(driver, &river.Config{Logger: cfg.Logger.With("component", "river")})
	if err != nil {
		return nil, fmt.Errorf("jobs: river insert-only client: %w", err)
	}
	return &Enqueuer[TTx]{client: client, cfg: cfg}, nil
}

// EnqueueAnalyses inserts one job per analysis in the store's transaction.
func (e *Enqueuer[TTx]) EnqueueAnalyses(ctx context.Context, tx TTx, ids []string) error {
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: AnalysisArgs{AnalysisID: id},
			InsertOpts: &river.InsertOpts{Queue: queueAnalysis, MaxAttempts: e.cfg.AnalysisAttempts}}
	}
	if _, err := e.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("jobs: enqueue analyses: %w", err)
	}
	return nil
}

// EnqueueWebhook inserts a webhook delivery in the store's transaction.
func (e *Enqueuer[TTx]) EnqueueWebhook(ctx context.Context, tx TTx, folderID, eventID string) error {
	_, err := e.client.InsertTx(ctx, tx, WebhookArgs{FolderID: folderID, EventID: eventID},
		&river.InsertOpts{Queue: queueWebhook, MaxAttempts: e.cfg.WebhookAttempts})
	if err != nil {
		return fmt.Errorf("jobs: enqueue webhook: %w", err)
	}
	return nil
}
