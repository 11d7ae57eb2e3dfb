// Package sqlstore is the one SQL implementation of bonafide.Store, written once over a small
// dialect (the shape River gives its drivers): the sqlite and postgres packages open their database,
// apply their migrations and supply a Dialect; every transaction, rule and query lives here.
//
// SQL is written with ? placeholders; a dialect whose driver wants another form ($1, $2, ... in
// PostgreSQL) rebinds them (Rebind). What truly differs between the databases — row locks, JSON
// paths, case folding, the insertion-order column, aggregate spellings — comes from the dialect's
// Syntax, and driver errors are recognised by Dialect.Violates and Dialect.Translate.
//
// T is the driver's own transaction type (*sql.Tx for SQLite, pgx.Tx for PostgreSQL): the job
// enqueuer inserts River jobs in it, so an accepted analysis and its job commit together.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"bonafide"
	"bonafide/internal/storeutil"
)

// Row is one result row: *sql.Row or pgx.Row. Scan returns an error that errors.Is sql.ErrNoRows
// when there is no row (pgx.ErrNoRows is one).
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set being read.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Querier runs statements written with ? placeholders on the pool or in a transaction.
type Querier interface {
	// Exec runs a statement and returns how many rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Tx is an open transaction.
type Tx[T any] interface {
	Querier
	// ExecEach runs query once per argument list, in order (in one round trip where the driver can),
	// and stops at the first failure, whose index it returns with the error.
	ExecEach(ctx context.Context, query string, args [][]any) (failed int, err error)
	// Native is the driver's own transaction, for the job enqueuer.
	Native() T
}

// TxOptions shape a transaction.
type TxOptions struct {
	// Snapshot asks for a read-only transaction whose reads all see one snapshot (PostgreSQL's
	// REPEATABLE READ READ ONLY; a SQLite transaction always does).
	Snapshot bool
}

// ConstraintKind is the kind of a constraint a write can violate.
type ConstraintKind int

// The constraint kinds.
const (
	PrimaryKey ConstraintKind = iota
	Unique
	ForeignKey
)

// Constraint names a constraint of the schema: its kind and its name in the PostgreSQL migrations.
// A dialect that cannot tell constraints apart by name (SQLite) matches on the kind alone.
type Constraint struct {
	Kind ConstraintKind
	Name string
}

// Syntax is the SQL text that differs between dialects. Clauses are written with ? placeholders
// (rebound by the dialect's Querier where it needs another form).
type Syntax struct {
	ForUpdate      string // row lock for an update (" FOR UPDATE"; "" where the database has one writer)
	ForNoKeyUpdate string // row lock that does not block inserts referring to the row (" FOR NO KEY UPDATE"; "")
	InsertOrder    string // the column that orders rows created in the same millisecond (rowid, seq)

	Greatest func(a, b string) string // the larger of two values (max, GREATEST)
	BoolOr   func(cond string) string // aggregate: cond held for some row
	BoolAnd  func(cond string) string // aggregate: cond held for every row (rows where it is NULL are skipped)

	// MetaEquals is the condition "top-level key ? of JSON object col, as text, equals ?" (JSON null
	// is never equal); MetaNotEquals its negation, true also when the key is missing. Arguments: the
	// key, then the value.
	MetaEquals, MetaNotEquals func(col string) string
	// JSONElements is a FROM item over the elements of JSON array col, named alias; JSONField is
	// the text of key of such an element.
	JSONElements func(col, alias string) string
	JSONField    func(alias, key string) string
	// In is the condition "col is one of vals" with its arguments.
	In func(col string, vals []string) (string, []any)

	// FoldedLike is the condition "col, its ASCII letters lowered, is LIKE ?", with backslash as
	// the escape character; FoldedOrder is the ORDER BY term for col compared ASCII
	// case-insensitively, then by bytes.
	FoldedLike, FoldedOrder func(col string) string
	// FoldedEquals is "col = ?" ignoring case, as the dialect's email lookup does.
	FoldedEquals func(col string) string

	// NoLimit is the LIMIT argument that means no limit (-1, NULL).
	NoLimit any
}

// Dialect is what a database adds to the store: its pool, its transactions, its SQL text and the
// reading of its errors.
type Dialect[T any] interface {
	// Name is the store's name in error messages ("sqlite", "postgres").
	Name() string
	// DB runs statements on the pool, each in its own implicit transaction.
	DB() Querier
	// InTx runs fn in a transaction and commits it when fn returns nil; otherwise it rolls back and
	// returns fn's error.
	InTx(ctx context.Context, opts TxOptions, fn func(tx Tx[T]) error) error
	// Violates reports whether err is a violation of c.
	Violates(err error, c Constraint) bool
	// Translate turns a driver error that is the caller's fault into a *bonafide.Error; it returns
	// every other error as it is.
	Translate(err error) error
	// Syntax is the dialect's SQL text.
	Syntax() *Syntax
}

// Enqueuer inserts jobs inside the store's transactions (implemented by the jobs package with
// River); tx is the driver's own transaction.
type Enqueuer[T any] interface {
	EnqueueAnalyses(ctx context.Context, tx T, analysisIDs []string) error
	EnqueueWebhook(ctx context.Context, tx T, folderID, eventID string) error
	// EnqueueErasure inserts the job that works a real erasure (CreateErasure).
	EnqueueErasure(ctx context.Context, tx T, erasureID string) error
}

// Store is bonafide.Store over a Dialect. The sqlite and postgres packages embed it.
type Store[T any] struct {
	d     Dialect[T]
	db    Querier
	sx    *Syntax
	codec storeutil.Codec
	enq   Enqueuer[T] // fixed at New
}

// New builds the store over d. codec holds the clock and the JSON rule; enq may be nil (the store
// then refuses to create analyses and to finish one whose webhook is due).
func New[T any](d Dialect[T], codec storeutil.Codec, enq Enqueuer[T]) *Store[T] {
	return &Store[T]{d: d, db: d.DB(), sx: d.Syntax(), codec: codec, enq: enq}
}

func (s *Store[T]) enqueuer() (Enqueuer[T], error) {
	if s.enq == nil {
		return nil, fmt.Errorf("%s: the store was opened without a job enqueuer (Options.Enqueuer)", s.d.Name())
	}
	return s.enq, nil
}

// tx runs fn in a read-write transaction.
func (s *Store[T]) tx(ctx context.Context, fn func(tx Tx[T]) error) error {
	return s.d.InTx(ctx, TxOptions{}, fn)
}

// Rebind turns the ? placeholders of query into $1, $2, ... (PostgreSQL's form). A ? inside a
// quoted string or identifier is left alone.
func Rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Placeholders is n placeholders separated by commas: "?, ?, ?".
func Placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// --- errors -----------------------------------------------------------------------------------

// Constraint names from the migrations (PostgreSQL's names; SQLite's are matched by kind).
var (
	pkCompany       = Constraint{PrimaryKey, "companies_pkey"}
	pkUser          = Constraint{PrimaryKey, "users_pkey"}
	uqUserEmail     = Constraint{Unique, "users_email_lower"}
	fkUserCompany   = Constraint{ForeignKey, "users_company_fkey"}
	pkSession       = Constraint{PrimaryKey, "sessions_pkey"}
	uqSessionExp    = Constraint{Unique, "sessions_expire_hash_key"}
	fkSessionUser   = Constraint{ForeignKey, "sessions_user_fkey"}
	pkFolder        = Constraint{PrimaryKey, "folders_pkey"}
	pkMedia         = Constraint{PrimaryKey, "media_pkey"}
	fkMediaFolder   = Constraint{ForeignKey, "media_folder_fkey"}
	pkAnalysis      = Constraint{PrimaryKey, "analyses_pkey"}
	fkAnalysisFold  = Constraint{ForeignKey, "analyses_folder_fkey"}
	pkCapture       = Constraint{PrimaryKey, "capture_sessions_pkey"}
	uqCaptureToken  = Constraint{Unique, "capture_sessions_token"}
	uqCaptureResult = Constraint{Unique, "capture_sessions_result"}
	pkCollection    = Constraint{PrimaryKey, "collections_pkey"}
	pkPerson        = Constraint{PrimaryKey, "persons_pkey"}
	pkPersonImage   = Constraint{PrimaryKey, "person_images_pkey"}
)

// violates reports whether err violates c.
func (s *Store[T]) violates(err error, c Constraint) bool { return err != nil && s.d.Violates(err, c) }

// notFoundIf turns sql.ErrNoRows into NotFound(kind, id) and wraps anything else.
func (s *Store[T]) notFoundIf(err error, op, kind, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return bonafide.NotFound(kind, id)
	}
	return s.wrap(op, err)
}

// wrap adds context to an error unless it is nil or already a *bonafide.Error; driver errors that
// are the caller's fault become *bonafide.Error first (Dialect.Translate).
func (s *Store[T]) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var be *bonafide.Error
	if !errors.As(err, &be) {
		err = s.d.Translate(err)
	}
	return storeutil.Wrap(s.d.Name(), op, err)
}

// mustAffect returns NotFound when an UPDATE or DELETE touched no row.
func mustAffect(n int64, kind, id string) error {
	if n == 0 {
		return bonafide.NotFound(kind, id)
	}
	return nil
}

// collect scans every row with scan and closes rows; the result is never nil.
func collect[V any](rows Rows, scan func(Row) (V, error)) ([]V, error) {
	defer rows.Close()
	out := []V{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// limit is the LIMIT argument for n: n, or the dialect's "no limit" when n < 0.
func (s *Store[T]) limit(n int) any {
	if n < 0 {
		return s.sx.NoLimit
	}
	return n
}

// get reads the one row of query with scan; no row is NotFound(kind, id).
func get[T, V any](ctx context.Context, s *Store[T], op, kind, id string, scan func(Row) (V, error), query string, args ...any) (V, error) {
	v, err := scan(s.db.QueryRow(ctx, query, args...))
	if err != nil {
		var zero V
		return zero, s.notFoundIf(err, op, kind, id)
	}
	return v, nil
}

// list reads every row of query with scan; the result is never nil.
func list[T, V any](ctx context.Context, s *Store[T], op string, scan func(Row) (V, error), query string, args ...any) ([]V, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	out, err := collect(rows, scan)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}

// count runs a statement and returns how many rows it affected.
func (s *Store[T]) count(ctx context.Context, op, query string, args ...any) (int, error) {
	n, err := s.db.Exec(ctx, query, args...)
	if err != nil {
		return 0, s.wrap(op, err)
	}
	return int(n), nil
}
