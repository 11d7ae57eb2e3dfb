package sqlstore

import (
	"context"
	"time"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- capture sessions ---------------------------------------------------------------------------

const captureCols = `id, company_id, user_id, folder_id, actions, gesture_seconds, return_url, show_result,
	token_hash, result_hash, result_expires_at, state, analysis_id, expires_at, created_at, updated_at`

func scanCapture(r Row) (*bonafide.CaptureSession, error) { return storeutil.ScanCapture(r.Scan) }

// CreateCaptureSession inserts c, filling its ID and times.
func (s *Store[T]) CreateCaptureSession(ctx context.Context, c *bonafide.CaptureSession) error {
	storeutil.FillID(&c.ID)
	s.codec.SetTimes(&c.Created, &c.Updated)
	actions, err := storeutil.Array(s.codec.JSON, "actions", c.Actions)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO capture_sessions (id, company_id, user_id, folder_id, actions, gesture_seconds, return_url,
		show_result, token_hash, result_hash, result_expires_at, state, analysis_id, expires_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.CompanyID, c.UserID, c.FolderID, actions, c.GestureSeconds, c.ReturnURL, c.ShowResult,
		c.TokenHash, storeutil.NullStr(c.ResultHash), storeutil.CaptureResultStamp(c), c.State, c.AnalysisID,
		storeutil.Stamp(c.Expires), storeutil.Stamp(c.Created), storeutil.Stamp(c.Updated))
	if s.violates(err, pkCapture) || s.violates(err, uqCaptureToken) {
		return storeutil.AlreadyExists("capture session", c.ID)
	}
	if err != nil {
		return s.wrap("create capture session", err)
	}
	c.Expires = storeutil.Norm(c.Expires)
	return nil
}

// GetCaptureSession returns one capture session.
func (s *Store[T]) GetCaptureSession(ctx context.Context, id string) (*bonafide.CaptureSession, error) {
	return get(ctx, s, "get capture session", "capture session", id, scanCapture, `SELECT `+captureCols+` FROM capture_sessions WHERE id = ?`, id)
}

// CaptureSessionByToken finds the session whose capture or result token has the hash.
func (s *Store[T]) CaptureSessionByToken(ctx context.Context, hash string) (*bonafide.CaptureSession, error) {
	return get(ctx, s, "find capture session", "capture session", "with this token", scanCapture, `SELECT `+captureCols+` FROM capture_sessions
		WHERE token_hash = ? OR result_hash = ?`, hash, hash)
}

// UpdateCaptureSession writes the changing fields when the stored state is still from.
func (s *Store[T]) UpdateCaptureSession(ctx context.Context, c *bonafide.CaptureSession, from string) error {
	now := s.codec.Now()
	n, err := s.db.Exec(ctx, `UPDATE capture_sessions SET state = ?, result_hash = ?, result_expires_at = ?,
		analysis_id = ?, expires_at = ?, updated_at = ? WHERE id = ? AND state = ?`,
		c.State, storeutil.NullStr(c.ResultHash), storeutil.CaptureResultStamp(c), c.AnalysisID, storeutil.Stamp(c.Expires), storeutil.Stamp(now), c.ID, from)
	if s.violates(err, uqCaptureResult) {
		return storeutil.AlreadyExists("capture session result token", c.ID)
	}
	if err != nil {
		return s.wrap("update capture session", err)
	}
	if n == 0 {
		if _, err := s.GetCaptureSession(ctx, c.ID); err != nil {
			return err
		}
		return bonafide.ErrCaptureState
	}
	c.Updated = now
	return nil
}

// DeleteAbandonedCaptureSessions deletes the never-uploaded sessions whose link expired before t.
func (s *Store[T]) DeleteAbandonedCaptureSessions(ctx context.Context, t time.Time) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx Tx[T]) error {
		rows, err := tx.Query(ctx, `DELETE FROM capture_sessions WHERE state IN (?, ?) AND expires_at < ? RETURNING folder_id`,
			bonafide.CaptureCreated, bonafide.CaptureOpened, storeutil.Stamp(t))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, s.wrap("delete abandoned capture sessions", err)
}
