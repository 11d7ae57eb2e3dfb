package sqlstore

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
func (s *Store[T]) GetLoginBackoff(ctx context.Context, key string) (bonafide.LoginBackoff, error) {
	var failures int
	var last, until int64
	err := s.db.QueryRow(ctx, `SELECT failures, last_at, until_at FROM login_backoff WHERE key = ?`, key).Scan(&failures, &last, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return bonafide.LoginBackoff{}, nil
	}
	if err != nil {
		return bonafide.LoginBackoff{}, s.wrap("get login backoff", err)
	}
	return storeutil.LoginBackoffFrom(failures, last, until), nil
}

// UpdateLoginBackoff replaces key's entry with next(stored) under the row's lock: the row is made
// first if missing (ON CONFLICT DO NOTHING), then read with Syntax.ForUpdate (SQLite's single writer
// serialises the transaction), so two nodes counting a failure of the same key at once both count.
func (s *Store[T]) UpdateLoginBackoff(ctx context.Context, key string, next func(bonafide.LoginBackoff) bonafide.LoginBackoff) (bonafide.LoginBackoff, error) {
	if err := storeutil.CheckLoginBackoffKey(key); err != nil {
		return bonafide.LoginBackoff{}, err
	}
	var out bonafide.LoginBackoff
	err := s.tx(ctx, func(tx Tx[T]) error {
		if _, err := tx.Exec(ctx, `INSERT INTO login_backoff (key, failures, last_at, until_at, end_at) VALUES (?, 0, 0, 0, 0)
			ON CONFLICT (key) DO NOTHING`, key); err != nil {
			return err
		}
		var failures int
		var last, until int64
		if err := tx.QueryRow(ctx, `SELECT failures, last_at, until_at FROM login_backoff WHERE key = ?`+s.sx.ForUpdate, key).Scan(&failures, &last, &until); err != nil {
			return err
		}
		out = next(storeutil.LoginBackoffFrom(failures, last, until))
		f, l, u, e := storeutil.LoginBackoffRow(out)
		_, err := tx.Exec(ctx, `UPDATE login_backoff SET failures = ?, last_at = ?, until_at = ?, end_at = ? WHERE key = ?`, f, l, u, e, key)
		return err
	})
	if err != nil {
		return bonafide.LoginBackoff{}, s.wrap("update login backoff", err)
	}
	f, l, u, _ := storeutil.LoginBackoffRow(out)
	return storeutil.LoginBackoffFrom(f, l, u), nil // as stored: milliseconds
}

// DeleteLoginBackoff forgets key.
func (s *Store[T]) DeleteLoginBackoff(ctx context.Context, key string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM login_backoff WHERE key = ?`, key)
	return s.wrap("delete login backoff", err)
}

// DeleteLoginBackoffsBefore deletes the entries that ended before t.
func (s *Store[T]) DeleteLoginBackoffsBefore(ctx context.Context, t time.Time) (int, error) {
	return s.count(ctx, "delete old login backoffs", `DELETE FROM login_backoff WHERE end_at < ?`, storeutil.Stamp(t))
}
