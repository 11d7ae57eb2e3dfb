package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"bonafide"
	"bonafide/internal/service"
	"bonafide/jobs"
	"bonafide/postgres"
	"bonafide/sqlite"
)

// database is an opened and migrated database with its store. The wiring is straight: open and
// migrate the database, build the queue's inserting side over it (jobs.Enqueuer, a River client
// without workers), build the store with that enqueuer; the server and the working queue
// (Workers, whose workers need the store) come after. Nothing is installed late.
type database interface {
	// Store is the store over this database; it enqueues jobs in its own transactions.
	Store() bonafide.Store
	// Workers builds the River client that works the jobs, with deps (the store among them).
	Workers(deps jobs.Deps, cfg jobs.Config) (queueRunner, error)
	// Depth counts the queue's jobs by state, for the metrics.
	Depth(ctx context.Context) (map[string]int, error)
	// Embedded: one process owns this database (SQLite), so whatever is half done at start was
	// left by a process that died.
	Embedded() bool
}

// queueRunner is the part of a jobs.Queue that serve drives: a background service that can
// first hand back the jobs a dead process left running.
type queueRunner interface {
	RetryOrphaned(ctx context.Context) (int, error)
	service.Service
}

// openDatabase opens and migrates the database the URL names (sqlite:// embedded, postgres:// for
// scale-out) and builds its store with the queue's enqueuer; cfg sets the jobs' attempts.
func openDatabase(ctx context.Context, f *serverFlags, cfg jobs.Config, log *slog.Logger) (database, error) {
	switch {
	case strings.HasPrefix(f.databaseURL, "sqlite:"):
		db, err := sqlite.OpenDB(ctx, f.databaseURL, log)
		if err != nil {
			return nil, err
		}
		enq, err := jobs.NewSQLiteEnqueuer(db, cfg)
		if err != nil {
			db.Close()
			return nil, err
		}
		return &sqliteDatabase{db: db, store: sqlite.New(db, sqlite.Options{Enqueuer: enq, Logger: log})}, nil
	case strings.HasPrefix(f.databaseURL, "postgres:") || strings.HasPrefix(f.databaseURL, "postgresql:"):
		// Migrations run under an advisory lock, so nodes starting together are safe.
		opts := postgres.Options{Logger: log}
		pool, err := postgres.Connect(ctx, f.databaseURL, opts)
		if err != nil {
			return nil, err
		}
		enq, err := jobs.NewPostgresEnqueuer(pool, cfg)
		if err != nil {
			pool.Close()
			return nil, err
		}
		opts.Enqueuer = enq
		return &postgresDatabase{pool: pool, store: postgres.New(pool, opts)}, nil
	}
	return nil, fmt.Errorf("database URL %q: use sqlite:///path/bonafide.db (embedded) or postgres://user@host/db (scale-out)", redact(f.databaseURL))
}

// sqliteDatabase is the embedded mode: one SQLite file holds our tables and River's.
type sqliteDatabase struct {
	db    *sql.DB
	store *sqlite.Store
}

func (d *sqliteDatabase) Store() bonafide.Store { return d.store }
func (d *sqliteDatabase) Embedded() bool        { return true }

func (d *sqliteDatabase) Workers(deps jobs.Deps, cfg jobs.Config) (queueRunner, error) {
	return jobs.NewSQLite(d.db, deps, cfg)
}

func (d *sqliteDatabase) Depth(ctx context.Context) (map[string]int, error) {
	return jobs.Depth(ctx, d.db)
}

// postgresDatabase is the scale-out mode: every node shares one PostgreSQL database.
type postgresDatabase struct {
	pool  *pgxpool.Pool
	store *postgres.Store
}

func (d *postgresDatabase) Store() bonafide.Store { return d.store }
func (d *postgresDatabase) Embedded() bool        { return false }

func (d *postgresDatabase) Workers(deps jobs.Deps, cfg jobs.Config) (queueRunner, error) {
	return jobs.NewPostgres(d.pool, deps, cfg)
}

func (d *postgresDatabase) Depth(ctx context.Context) (map[string]int, error) {
	return jobs.DepthPgx(ctx, d.pool)
}
