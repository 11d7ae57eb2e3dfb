// Package postgres is the scale-out bonafide.Store: PostgreSQL through pgx/v5 (pgxpool). River's job
// tables live in the same database (riverpgxv5), so an accepted analysis and its job commit in one
// transaction, exactly as in the embedded sqlite store, whose semantics this package mirrors.
//
// Where the sqlite store relies on SQLite's single writer, this one takes row locks: FinishAnalysis
// locks the folder row before it decides whether the folder's webhook is due, so two nodes finishing
// a folder's last two analyses at once enqueue exactly one webhook.
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
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"bonafide"
	"bonafide/internal/storeutil"
)

// Enqueuer inserts jobs inside the store's transactions (implemented by the jobs package with River).
type Enqueuer interface {
	EnqueueAnalyses(ctx context.Context, tx pgx.Tx, analysisIDs []string) error
	EnqueueWebhook(ctx context.Context, tx pgx.Tx, folderID, eventID string) error
}

// Options configure a Store.
type Options struct {
	Now         func() time.Time // clock; time.Now when nil
	Enqueuer    Enqueuer         // the job queue's inserting side (jobs.NewPostgresEnqueuer); required to create analyses
	Logger      *slog.Logger     // for migrations; slog.Default() when nil
	SkipMigrate bool             // do not apply migrations on Open (`bonafide migrate` does it)
}

// Store is the PostgreSQL implementation of bonafide.Store.
type Store struct {
	pool  *pgxpool.Pool
	codec storeutil.Codec
	enq   Enqueuer // fixed at New
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
	return &Store{pool: pool, enq: opts.Enqueuer,
		codec: storeutil.Codec{Clock: opts.Now, JSON: storeutil.JSON{Unstorable: jsonbUnstorable}}}
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

func (s *Store) enqueuer() (Enqueuer, error) {
	if s.enq == nil {
		return nil, errors.New("postgres: the store was opened without a job enqueuer (Options.Enqueuer)")
	}
	return s.enq, nil
}

// Close closes the pool. It always returns nil (bonafide.Store wants an error).
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// tx runs fn in a transaction (READ COMMITTED) and commits when fn succeeds.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
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

// --- errors -----------------------------------------------------------------------------------

// Constraint names from migrations/0001_init.sql.
const (
	pkCompany      = "companies_pkey"
	pkUser         = "users_pkey"
	uqUserEmail    = "users_email_lower"
	fkUserCompany  = "users_company_fkey"
	pkSession      = "sessions_pkey"
	uqSessionExp   = "sessions_expire_hash_key"
	fkSessionUser  = "sessions_user_fkey"
	pkFolder       = "folders_pkey"
	pkMedia        = "media_pkey"
	fkMediaFolder  = "media_folder_fkey"
	pkAnalysis     = "analyses_pkey"
	fkAnalysisFold = "analyses_folder_fkey"
)

// violation returns the SQLSTATE and constraint of a PostgreSQL error ("" when err is not one).
func violation(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

// isUnique reports a unique violation (23505) of constraint.
func isUnique(err error, constraint string) bool {
	c, n := violation(err)
	return c == "23505" && n == constraint
}

// isForeignKey reports a foreign-key violation (23503) of constraint.
func isForeignKey(err error, constraint string) bool {
	c, n := violation(err)
	return c == "23503" && n == constraint
}

// notFoundIf turns pgx.ErrNoRows into NotFound(kind, id) and wraps anything else.
func notFoundIf(err error, op, kind, id string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return bonafide.NotFound(kind, id)
	}
	return wrap(op, err)
}

// wrap adds context to an error unless it is already a *bonafide.Error. PostgreSQL's data
// exceptions on values we pass (a number jsonb cannot hold, say) become CodeInvalidValue.
func wrap(op string, err error) error {
	var be *bonafide.Error
	var pe *pgconn.PgError
	if !errors.As(err, &be) && errors.As(err, &pe) && (pe.Code == "22P02" || pe.Code == "22P05" || pe.Code == "22003") {
		return &bonafide.Error{Code: bonafide.CodeInvalidValue, Message: "invalid value: " + pe.Message, Err: err}
	}
	return storeutil.Wrap("postgres", op, err)
}

// mustAffect returns NotFound when an UPDATE or DELETE touched no row.
func mustAffect(tag pgconn.CommandTag, kind, id string) error {
	if tag.RowsAffected() == 0 {
		return bonafide.NotFound(kind, id)
	}
	return nil
}

// scanner is pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row with scan; the result is never nil.
func collect[T any](rows pgx.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
