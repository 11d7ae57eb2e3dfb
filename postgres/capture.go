package postgres

import (
	"context"
	"time"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- capture sessions ---------------------------------------------------------------------------

const (
	pkCapture       = "capture_sessions_pkey"
	uqCaptureToken  = "capture_sessions_token"
	uqCaptureResult = "capture_sessions_result"
)

const captureCols = `id, company_id, user_id, folder_id, actions::text, gesture_seconds, return_url, show_result,
	token_hash, result_hash, result_expires_at, state, analysis_id, expires_at, created_at, updated_at`

func scanCapture(r scanner) (*bonafide.CaptureSession, error) { return storeutil.ScanCapture(r.Scan) }

// CreateCaptureSession inserts c, filling its ID and times.
func (s *Store) CreateCaptureSession(ctx context.Context, c *bonafide.CaptureSession) error {
	storeutil.FillID(&c.ID)
	s.codec.SetTimes(&c.Created, &c.Updated)
	actions, err := storeutil.Array(s.codec.JSON, "actions", c.Actions)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO capture_sessions (id, company_id, user_id, folder_id, actions, gesture_seconds, return_url,
		show_result, token_hash, result_hash, result_expires_at, state, analysis_id, expires_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, c.CompanyID, c.UserID, c.FolderID, actions, c.GestureSeconds, c.ReturnURL, c.ShowResult,
		c.TokenHash, storeutil.NullStr(c.ResultHash), storeutil.CaptureResultStamp(c), c.State, c.AnalysisID,
		storeutil.Stamp(c.Expires), storeutil.Stamp(c.Created), storeutil.Stamp(c.Updated))
	if isUnique(err, pkCapture) || isUnique(err, uqCaptureToken) {
		return storeutil.AlreadyExists("capture session", c.ID)
	}
	if err != nil {
		return wrap("create capture session", err)
	}
	c.Expires = storeutil.Norm(c.Expires)
	return nil
}

// GetCaptureSession returns one capture session.
func (s *Store) GetCaptureSession(ctx context.Context, id string) (*bonafide.CaptureSession, error) {
	c, err := scanCapture(s.pool.QueryRow(ctx, `SELECT `+captureCols+` FROM capture_sessions WHERE id = $1`, id))
	if err != nil {
		return nil, notFoundIf(err, "get capture session", "capture session", id)
	}
	return c, nil
}

// CaptureSessionByToken finds the session whose capture or result token has the hash.
func (s *Store) CaptureSessionByToken(ctx context.Context, hash string) (*bonafide.CaptureSession, error) {
	c, err := scanCapture(s.pool.QueryRow(ctx, `SELECT `+captureCols+` FROM capture_sessions
		WHERE token_hash = $1 OR result_hash = $1`, hash))
	if err != nil {
		return nil, notFoundIf(err, "find capture session", "capture session", "with this token")
	}
	return c, nil
}

// UpdateCaptureSession writes the changing fields when the stored state is still from.
func (s *Store) UpdateCaptureSession(ctx context.Context, c *bonafide.CaptureSession, from string) error {
	now := s.codec.Now()
	res, err := s.pool.Exec(ctx, `UPDATE capture_sessions SET state = $1, result_hash = $2, result_expires_at = $3,
		analysis_id = $4, expires_at = $5, updated_at = $6 WHERE id = $7 AND state = $8`,
		c.State, storeutil.NullStr(c.ResultHash), storeutil.CaptureResultStamp(c), c.AnalysisID, storeutil.Stamp(c.Expires), storeutil.Stamp(now), c.ID, from)
	if isUnique(err, uqCaptureResult) {
		return storeutil.AlreadyExists("capture session result token", c.ID)
	}
	if err != nil {
		return wrap("update capture session", err)
	}
	if res.RowsAffected() == 0 {
		if _, err := s.GetCaptureSession(ctx, c.ID); err != nil {
			return err
		}
		return bonafide.ErrCaptureState
	}
	c.Updated = now
	return nil
}

// DeleteAbandonedCaptureSessions deletes the never-uploaded sessions whose link expired before t.
func (s *Store) DeleteAbandonedCaptureSessions(ctx context.Context, t time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `DELETE FROM capture_sessions WHERE state IN ($1, $2) AND expires_at < $3 RETURNING folder_id`,
		bonafide.CaptureCreated, bonafide.CaptureOpened, storeutil.Stamp(t))
	if err != nil {
		return nil, wrap("delete abandoned capture sessions", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("delete abandoned capture sessions", err)
		}
		ids = append(ids, id)
	}
	return ids, wrap("delete abandoned capture sessions", rows.Err())
}
