package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"bonafide"
	"bonafide/internal/sqlstore"
)

// dialect is PostgreSQL for internal/sqlstore: pgx over the pool, ? placeholders rebound to $n,
// row locks where SQLite relies on its single writer, jsonb operators, and constraint violations
// told apart by the constraint names of migrations/.
type dialect struct{ pool *pgxpool.Pool }

var _ sqlstore.Dialect[pgx.Tx] = dialect{}

func (dialect) Name() string { return "postgres" }

func (d dialect) DB() sqlstore.Querier { return querier{d.pool} }

// InTx runs fn in a READ COMMITTED transaction, or a REPEATABLE READ READ ONLY one for a snapshot.
func (d dialect) InTx(ctx context.Context, opts sqlstore.TxOptions, fn func(sqlstore.Tx[pgx.Tx]) error) error {
	var o pgx.TxOptions
	if opts.Snapshot {
		o = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	t, err := d.pool.BeginTx(ctx, o)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx{querier{t}, t}); err != nil {
		_ = t.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := t.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Violates reports a unique (23505) or foreign-key (23503) violation of the named constraint.
func (dialect) Violates(err error, c sqlstore.Constraint) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.ConstraintName != c.Name {
		return false
	}
	if c.Kind == sqlstore.ForeignKey {
		return pe.Code == "23503"
	}
	return pe.Code == "23505"
}

// Translate turns PostgreSQL's data exceptions on values we pass (a number jsonb cannot hold, say)
// into CodeInvalidValue.
func (dialect) Translate(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "22P02" || pe.Code == "22P05" || pe.Code == "22003") {
		return &bonafide.Error{Code: bonafide.CodeInvalidValue, Message: "invalid value: " + pe.Message, Err: err}
	}
	return err
}

func (dialect) Syntax() *sqlstore.Syntax { return &syntax }

// asciiFold lowers ASCII letters only, like SQLite's NOCASE and LIKE (the sqlite store's semantics).
func asciiFold(expr string) string {
	return `translate(` + expr + `, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`
}

var syntax = sqlstore.Syntax{
	ForUpdate:      " FOR UPDATE",
	ForNoKeyUpdate: " FOR NO KEY UPDATE",
	InsertOrder:    "seq", // an identity column: SQLite's rowid
	Greatest:       func(a, b string) string { return "GREATEST(" + a + ", " + b + ")" },
	BoolOr:         func(cond string) string { return "bool_or(" + cond + ")" },
	BoolAnd:        func(cond string) string { return "bool_and(" + cond + ")" },
	// ->> gives strings as they are, numbers in their JSON form, true/false as words, null as NULL.
	MetaEquals:    func(col string) string { return `(` + col + ` ->> ?::text) = ?::text` },
	MetaNotEquals: func(col string) string { return `(` + col + ` ->> ?::text) IS DISTINCT FROM ?::text` },
	JSONElements:  func(col, alias string) string { return "jsonb_array_elements(" + col + ") " + alias },
	JSONField:     func(alias, key string) string { return alias + "->>'" + key + "'" },
	In: func(col string, vals []string) (string, []any) {
		return col + " = ANY(?)", []any{vals}
	},
	FoldedLike:   func(col string) string { return asciiFold(col) + ` LIKE ? ESCAPE E'\\'` },
	FoldedOrder:  func(col string) string { return asciiFold(col) + ` COLLATE "C"` },
	FoldedEquals: func(col string) string { return "lower(" + col + ") = lower(?)" }, // the users_email_lower index
	NoLimit:      nil,
}

// pgxQuerier is *pgxpool.Pool or pgx.Tx.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// querier is sqlstore.Querier over pgx: ? placeholders become $1, $2, ...
type querier struct{ q pgxQuerier }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, sqlstore.Rebind(query), args...)
	return tag.RowsAffected(), err
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.q.Query(ctx, sqlstore.Rebind(query), args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return q.q.QueryRow(ctx, sqlstore.Rebind(query), args...)
}

// tx is an open pgx.Tx.
type tx struct {
	querier
	t pgx.Tx
}

func (t tx) Native() pgx.Tx { return t.t }

// ExecEach sends the statements in one round trip (a pipelined batch).
func (t tx) ExecEach(ctx context.Context, query string, args [][]any) (int, error) {
	b := &pgx.Batch{}
	q := sqlstore.Rebind(query)
	for _, a := range args {
		b.Queue(q, a...)
	}
	br := t.t.SendBatch(ctx, b)
	for i := range args {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return i, err
		}
	}
	return 0, br.Close()
}
