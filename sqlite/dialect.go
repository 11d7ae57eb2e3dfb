package sqlite

import (
	"context"
	"database/sql"
	"errors"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"bonafide/internal/sqlstore"
)

// dialect is SQLite for internal/sqlstore: database/sql over the one-connection pool. SQLite has
// one writer and every transaction begins IMMEDIATE (the DSN's _txlock), so a transaction holds
// the write lock from its start: no row locks are needed, and every read sees one snapshot.
type dialect struct{ db *sql.DB }

var _ sqlstore.Dialect[*sql.Tx] = dialect{}

func (dialect) Name() string { return "sqlite" }

func (d dialect) DB() sqlstore.Querier { return querier{d.db} }

// InTx runs fn in a transaction (BEGIN IMMEDIATE, from the DSN); every SQLite transaction reads
// one snapshot, so opts change nothing. fn must use only its tx: the pool's one connection belongs
// to it until it ends.
func (d dialect) InTx(ctx context.Context, _ sqlstore.TxOptions, fn func(sqlstore.Tx[*sql.Tx]) error) error {
	return inTx(ctx, d.db, func(t *sql.Tx) error { return fn(tx{querier{t}, t}) })
}

// Violates matches on the kind of the constraint: SQLite's error codes do not name it.
func (dialect) Violates(err error, c sqlstore.Constraint) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch c.Kind {
	case sqlstore.PrimaryKey:
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	case sqlstore.Unique:
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	case sqlstore.ForeignKey:
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

func (dialect) Translate(err error) error { return err }

func (dialect) Syntax() *sqlstore.Syntax { return &syntax }

// metaValueSQL is a json_each row's value as the text a client compares with: strings as they are,
// numbers in SQLite's text form, true/false as words, objects and arrays as JSON, null as NULL.
const metaValueSQL = `(CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL
	ELSE CAST(j.value AS TEXT) END)`

var syntax = sqlstore.Syntax{
	InsertOrder: "rowid",
	Greatest:    func(a, b string) string { return "max(" + a + ", " + b + ")" },
	BoolOr:      func(cond string) string { return "sum(" + cond + ") > 0" },
	BoolAnd:     func(cond string) string { return "sum(NOT (" + cond + ")) = 0" },
	MetaEquals: func(col string) string {
		return `EXISTS (SELECT 1 FROM json_each(` + col + `) j WHERE j.key = ? AND ` + metaValueSQL + ` = ?)`
	},
	MetaNotEquals: func(col string) string {
		return `NOT EXISTS (SELECT 1 FROM json_each(` + col + `) j WHERE j.key = ? AND ` + metaValueSQL + ` = ?)`
	},
	JSONElements: func(col, alias string) string { return "json_each(" + col + ") " + alias },
	JSONField:    func(alias, key string) string { return "json_extract(" + alias + ".value, '$." + key + "')" },
	In: func(col string, vals []string) (string, []any) {
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		return col + " IN (" + sqlstore.Placeholders(len(vals)) + ")", args
	},
	FoldedLike:   func(col string) string { return col + ` LIKE ? ESCAPE '\'` }, // LIKE ignores ASCII case
	FoldedOrder:  func(col string) string { return col + " COLLATE NOCASE" },
	FoldedEquals: func(col string) string { return col + " = ?" }, // users.email is COLLATE NOCASE
	NoLimit:      -1,
}

// sqlQuerier is *sql.DB or *sql.Tx.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// querier is sqlstore.Querier over database/sql; SQLite takes ? placeholders as they are.
type querier struct{ q sqlQuerier }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	r, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return q.q.QueryRowContext(ctx, query, args...)
}

// rows is *sql.Rows with the Close of sqlstore.Rows (its error repeats Err's).
type rows struct{ *sql.Rows }

func (r rows) Close() { _ = r.Rows.Close() }

// tx is an open *sql.Tx.
type tx struct {
	querier
	t *sql.Tx
}

func (t tx) Native() *sql.Tx { return t.t }

// ExecEach runs query once per argument list through one prepared statement.
func (t tx) ExecEach(ctx context.Context, query string, args [][]any) (int, error) {
	stmt, err := t.t.PrepareContext(ctx, query)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for i, a := range args {
		if _, err := stmt.ExecContext(ctx, a...); err != nil {
			return i, err
		}
	}
	return 0, nil
}
