package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- login throttle -----------------------------------------------------------------------------

// GetLoginBackoff returns key's entry (zero when none).
func (s *Store) GetLoginBackoff(ctx context.Context, key string) (bonafide.LoginBackoff, error) {
	var failures int
	var last, until int64
	err := s.db.QueryRowContext(ctx, `SELECT failures, last_at, until_at FROM login_backoff WHERE key = ?`, key).Scan(&failures, &last, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return bonafide.LoginBackoff{}, nil
	}
	if err != nil {
		return bonafide.LoginBackoff{}, wrap("get login backoff", err)
	}
	return storeutil.LoginBackoffFrom(failures, last, until), nil
}

// UpdateLoginBackoff replaces key's entry with next(stored) in one transaction (SQLite has one
// writer, so the read and the write cannot interleave with another update).
func (s *Store) UpdateLoginBackoff(ctx context.Context, key string, next func(bonafide.LoginBackoff) bonafide.LoginBackoff) (bonafide.LoginBackoff, error) {
	if err := storeutil.CheckLoginBackoffKey(key); err != nil {
		return bonafide.LoginBackoff{}, err
	}
	var out bonafide.LoginBackoff
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var failures int
		var last, until int64
		cur := bonafide.LoginBackoff{}
		switch err := tx.QueryRowContext(ctx, `SELECT failures, last_at, until_at FROM login_backoff WHERE key = ?`, key).Scan(&failures, &last, &until); {
		case err == nil:
			cur = storeutil.LoginBackoffFrom(failures, last, until)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		out = next(cur)
		f, l, u, e := storeutil.LoginBackoffRow(out)
		_, err := tx.ExecContext(ctx, `INSERT INTO login_backoff (key, failures, last_at, until_at, end_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at, until_at = excluded.until_at, end_at = excluded.end_at`,
			key, f, l, u, e)
		return err
	})
	if err != nil {
		return bonafide.LoginBackoff{}, wrap("update login backoff", err)
	}
	f, l, u, _ := storeutil.LoginBackoffRow(out)
	return storeutil.LoginBackoffFrom(f, l, u), nil // as stored: milliseconds
}

// DeleteLoginBackoff forgets key.
func (s *Store) DeleteLoginBackoff(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM login_backoff WHERE key = ?`, key)
	return wrap("delete login backoff", err)
}

// DeleteLoginBackoffsBefore deletes the entries that ended before t.
func (s *Store) DeleteLoginBackoffsBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM login_backoff WHERE end_at < ?`, storeutil.Stamp(t))
	if err != nil {
		return 0, wrap("delete old login backoffs", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("delete old login backoffs", err)
}
