// Package sqlite is the embedded bonafide.Store: one SQLite file (modernc.org/sqlite, pure Go) that also
// holds River's job tables, so an accepted analysis and its job commit in one transaction.
//
// The store's queries and transactions are internal/sqlstore's, written once for both databases;
// this package opens and migrates the file and supplies the SQLite dialect (dialect.go).
//
// The pool has exactly one connection (SetMaxOpenConns(1)): SQLite has one writer anyway, and one
// connection makes every transaction see its own writes. The price: while a *sql.Tx is open, the same
// goroutine must not use the *sql.DB (it would wait for the connection forever). Every method of the
// store does all of its work inside the transaction it opened.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"bonafide"
	"bonafide/internal/sqlstore"
	"bonafide/internal/storeutil"
)

// Enqueuer inserts jobs inside the store's transactions, given as *sql.Tx (implemented by the jobs
// package with River).
type Enqueuer = sqlstore.Enqueuer[*sql.Tx]

// Options configure a Store.
type Options struct {
	Now      func() time.Time // clock; time.Now when nil
	Enqueuer Enqueuer         // the job queue's inserting side (jobs.NewSQLiteEnqueuer); required to create analyses
	Logger   *slog.Logger     // for River's migrator; slog.Default() when nil
}

// Store is the SQLite implementation of bonafide.Store: internal/sqlstore's store over the SQLite
// dialect.
type Store struct {
	*sqlstore.Store[*sql.Tx]
	db *sql.DB
}

var _ bonafide.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Open opens and migrates the database named by url (OpenDB) and builds the store over it (New).
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	db, err := OpenDB(ctx, url, opts.Logger)
	if err != nil {
		return nil, err
	}
	return New(db, opts), nil
}

// OpenDB opens (creating if needed) the database named by url and applies our migrations and
// River's. url is sqlite:///abs/path/bonafide.db, sqlite://relative/path.db or sqlite::memory:.
// The server opens the database first, builds the job queue's inserting side over it, then the
// store with that enqueuer (New).
func OpenDB(ctx context.Context, url string, logger *slog.Logger) (*sql.DB, error) {
	path, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create database directory: %w", err)
		}
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1) // keeps a :memory: database alive
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if err := migrateRiver(ctx, db, logger); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// New builds the store over a database that OpenDB opened and migrated; the store owns db from
// now on (Close closes it).
func New(db *sql.DB, opts Options) *Store {
	return &Store{Store: sqlstore.New[*sql.Tx](dialect{db}, storeutil.Codec{Clock: opts.Now}, opts.Enqueuer), db: db}
}

// parseURL returns the file path (or ":memory:") of a sqlite: URL.
func parseURL(u string) (string, error) {
	var path string
	switch {
	case u == "sqlite::memory:" || u == "sqlite://:memory:":
		return ":memory:", nil
	case strings.HasPrefix(u, "sqlite://"):
		path = strings.TrimPrefix(u, "sqlite://")
	default:
		return "", fmt.Errorf("sqlite: database URL %q: want sqlite:///abs/path.db, sqlite://relative.db or sqlite::memory:", u)
	}
	if path == "" {
		return "", fmt.Errorf("sqlite: database URL %q has no path", u)
	}
	if strings.ContainsAny(path, "?#") {
		return "", fmt.Errorf("sqlite: database URL %q: query strings and fragments are not supported", u)
	}
	return filepath.Clean(path), nil
}

// dsn is the modernc.org/sqlite data source name with our connection settings.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// migrate applies every embedded migration not yet recorded in schema_migrations, each in its own
// (IMMEDIATE) transaction that rechecks the record, so concurrent or repeated runs are safe.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	ms, err := storeutil.Migrations(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	for _, m := range ms {
		body, err := migrationFS.ReadFile("migrations/" + m.Name)
		if err != nil {
			return fmt.Errorf("sqlite: read migration %s: %w", m.Name, err)
		}
		err = inTx(ctx, db, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: apply migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// migrateRiver applies River's own SQLite migrations (river_job, river_leader, ...).
func migrateRiver(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	m, err := rivermigrate.New(riversqlite.New(db), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("sqlite: river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("sqlite: river migrations: %w", err)
	}
	return nil
}

// DB is the underlying pool (one connection), for the River client and the jobs package.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// inTx runs fn in a transaction (BEGIN IMMEDIATE, from the DSN) and commits when fn succeeds.
// fn must use only tx: the pool's one connection belongs to tx until it ends.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
