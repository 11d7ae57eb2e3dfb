package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- login throttle -----------------------------------------------------------------------------

// GetLoginBackoff returns key's entry (zero when none).
func (s *Store) GetLoginBackoff(ctx context.Context, key string) (bonafide.LoginBackoff, error) {
	var failures int
	var last, until int64
	err := s.pool.QueryRow(ctx, `SELECT failures, last_at, until_at FROM login_backoff WHERE key = $1`, key).Scan(&failures, &last, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return bonafide.LoginBackoff{}, nil
	}
	if err != nil {
		return bonafide.LoginBackoff{}, wrap("get login backoff", err)
	}
	return storeutil.LoginBackoffFrom(failures, last, until), nil
}

// UpdateLoginBackoff replaces key's entry with next(stored) under the row's lock: the row is made
// first if missing (ON CONFLICT DO NOTHING), then read FOR UPDATE, so two nodes counting a failure
// of the same key at once both count.
func (s *Store) UpdateLoginBackoff(ctx context.Context, key string, next func(bonafide.LoginBackoff) bonafide.LoginBackoff) (bonafide.LoginBackoff, error) {
	if err := storeutil.CheckLoginBackoffKey(key); err != nil {
		return bonafide.LoginBackoff{}, err
	}
	var out bonafide.LoginBackoff
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO login_backoff (key, failures, last_at, until_at, end_at) VALUES ($1, 0, 0, 0, 0)
			ON CONFLICT (key) DO NOTHING`, key); err != nil {
			return err
		}
		var failures int
		var last, until int64
		if err := tx.QueryRow(ctx, `SELECT failures, last_at, until_at FROM login_backoff WHERE key = $1 FOR UPDATE`, key).Scan(&failures, &last, &until); err != nil {
			return err
		}
		out = next(storeutil.LoginBackoffFrom(failures, last, until))
		f, l, u, e := storeutil.LoginBackoffRow(out)
		_, err := tx.Exec(ctx, `UPDATE login_backoff SET failures = $2, last_at = $3, until_at = $4, end_at = $5 WHERE key = $1`, key, f, l, u, e)
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
	_, err := s.pool.Exec(ctx, `DELETE FROM login_backoff WHERE key = $1`, key)
	return wrap("delete login backoff", err)
}

// DeleteLoginBackoffsBefore deletes the entries that ended before t.
func (s *Store) DeleteLoginBackoffsBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM login_backoff WHERE end_at < $1`, storeutil.Stamp(t))
	if err != nil {
		return 0, wrap("delete old login backoffs", err)
	}
	return int(tag.RowsAffected()), nil
}
