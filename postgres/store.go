// Package postgres is the scale-out bonafide.Store: PostgreSQL through pgx/v5 (pgxpool). River's job
// tables live in the same database (riverpgxv5), so an accepted analysis and its job commit in one
// transaction, exactly as in the embedded sqlite store.
//
// The store's queries and transactions are internal/sqlstore's, written once for both databases;
// this package connects, migrates and supplies the PostgreSQL dialect (dialect.go). Where SQLite
// relies on its single writer, this dialect takes row locks: FinishAnalysis locks the folder row
// before it decides whether the folder's webhook is due, so two nodes finishing a folder's last two
// analyses at once enqueue exactly one webhook.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"bonafide"
	"bonafide/internal/sqlstore"
	"bonafide/internal/storeutil"
)

// Enqueuer inserts jobs inside the store's transactions, given as pgx.Tx (implemented by the jobs
// package with River).
type Enqueuer = sqlstore.Enqueuer[pgx.Tx]

// Options configure a Store.
type Options struct {
	Now         func() time.Time // clock; time.Now when nil
	Enqueuer    Enqueuer         // the job queue's inserting side (jobs.NewPostgresEnqueuer); required to create analyses
	Logger      *slog.Logger     // for migrations; slog.Default() when nil
	SkipMigrate bool             // do not apply migrations on Open (`bonafide migrate` does it)
}

// Store is the PostgreSQL implementation of bonafide.Store: internal/sqlstore's store over the
// PostgreSQL dialect.
type Store struct {
	*sqlstore.Store[pgx.Tx]
	pool *pgxpool.Pool
}

var _ bonafide.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Open connects to (and migrates) the database named by url (Connect) and builds the store over
// it (New).
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	pool, err := Connect(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	return New(pool, opts), nil
}

// Connect opens the pool of the database named by url (postgres://... or postgresql://...) and,
// unless opts.SkipMigrate, applies our migrations and River's (see Migrate). The server connects
// first, builds the job queue's inserting side over the pool, then the store with that enqueuer
// (New).
//
// The pool size is pgx's pool_max_conns when the URL sets it, else max(8, 4*GOMAXPROCS): API
// requests, River's producers and its LISTEN connection share it. It must be at least 2.
func Connect(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", redact(url), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", redact(url), err)
	}
	if !opts.SkipMigrate {
		if err := Migrate(ctx, pool, opts.Logger); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return pool, nil
}

// New builds the store over a pool that Connect opened (and migrated); the store owns the pool
// from now on (Close closes it).
func New(pool *pgxpool.Pool, opts Options) *Store {
	codec := storeutil.Codec{Clock: opts.Now, JSON: storeutil.JSON{Unstorable: jsonbUnstorable}}
	return &Store{Store: sqlstore.New[pgx.Tx](dialect{pool}, codec, opts.Enqueuer), pool: pool}
}

// poolConfig parses a postgres URL and applies our pool defaults.
func poolConfig(rawURL string) (*pgxpool.Config, error) {
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return nil, fmt.Errorf("postgres: database URL %q: want postgres://user@host:port/db?... or postgresql://...", redact(rawURL))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: database URL: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: database URL %s: %w", redact(rawURL), err)
	}
	if !u.Query().Has("pool_max_conns") {
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	if cfg.MaxConns < 2 {
		return nil, fmt.Errorf("postgres: database URL %s: pool_max_conns must be at least 2", redact(rawURL))
	}
	return cfg, nil
}

// redact hides a password in a URL for error messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	return u.Redacted()
}

// migrationLockKey is the pg_advisory_lock key that serialises migrations across nodes
// ("bonafide" in ASCII).
const migrationLockKey int64 = 0x626f6e6166696465

// Migrate applies our embedded migrations (postgres/migrations/NNNN_*.sql, recorded in
// schema_migrations, each in its own transaction) and then River's. It holds a session-level
// advisory lock on one dedicated connection for the whole run, so nodes starting at once migrate
// one after another and the later ones find nothing to do. River's migrator runs on other
// connections of pool, so pool must allow at least two.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (err error) {
	if log == nil {
		log = slog.Default()
	}
	if pool.Config().MaxConns < 2 {
		return errors.New("postgres: migrate: the pool needs at least 2 connections")
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("postgres: migrate: take the migration lock: %w", err)
	}
	defer func() {
		// An unlock that fails leaves the lock on the connection: close it rather than pool it.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey); uerr != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
			if err == nil {
				err = fmt.Errorf("postgres: migrate: release the migration lock: %w", uerr)
			}
		}
	}()
	if err := migrateOurs(ctx, conn.Conn(), log); err != nil {
		return err
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("postgres: river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("postgres: river migrations: %w", err)
	}
	return nil
}

// migrations lists the embedded migrations in version order.
func migrations() ([]storeutil.Migration, error) {
	ms, err := storeutil.Migrations(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

// migrateOurs applies every embedded migration not yet recorded; the caller holds the migration lock.
func migrateOurs(ctx context.Context, conn *pgx.Conn, log *slog.Logger) error {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: create schema_migrations: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		body, err := migrationFS.ReadFile("migrations/" + m.Name)
		if err != nil {
			return fmt.Errorf("postgres: read migration %s: %w", m.Name, err)
		}
		applied := false
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil { // no arguments: simple protocol, many statements
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UnixMilli())
			applied = err == nil
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: apply migration %s: %w", m.Name, err)
		}
		if applied {
			log.InfoContext(ctx, "applied migration", "store", "postgres", "migration", m.Name)
		}
	}
	return nil
}

// Pool is the underlying connection pool, for the River client (riverpgxv5.New(store.Pool())).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool. It always returns nil (bonafide.Store wants an error).
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// --- values -----------------------------------------------------------------------------------

// Times, IDs and JSON values are storeutil's (s.codec). Its JSON rule here is jsonbUnstorable: valid JSON
// (as the sqlite store requires) that PostgreSQL's jsonb can also hold (it rejects \u0000 and unpaired
// UTF-16 surrogate escapes).

// jsonbUnstorable reports why valid JSON cannot be stored as jsonb, or "" when it can. In valid JSON
// a backslash only occurs inside strings, where it starts an escape.
func jsonbUnstorable(raw []byte) string {
	pendingHigh := false // the previous escape was a high surrogate
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			if pendingHigh {
				return "unpaired UTF-16 surrogate escape"
			}
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			if pendingHigh {
				return "unpaired UTF-16 surrogate escape"
			}
			continue
		}
		if i+4 >= len(raw) {
			return "truncated \\u escape"
		}
		v, err := strconv.ParseUint(string(raw[i+1:i+5]), 16, 16)
		if err != nil {
			return "bad \\u escape"
		}
		i += 4
		r := rune(v)
		switch {
		case r == 0:
			return `\u0000 is not supported`
		case pendingHigh && (r < 0xdc00 || r > 0xdfff):
			return "unpaired UTF-16 surrogate escape"
		case pendingHigh:
			pendingHigh = false
		case r >= 0xd800 && r <= 0xdbff:
			pendingHigh = true
		case utf16.IsSurrogate(r): // a low surrogate without a high one
			return "unpaired UTF-16 surrogate escape"
		}
	}
	if pendingHigh {
		return "unpaired UTF-16 surrogate escape"
	}
	return ""
}
