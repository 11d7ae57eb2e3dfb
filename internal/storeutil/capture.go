package storeutil

import "bonafide"

// ScanCapture reads a capture session row in the column order both stores select (id, company_id,
// user_id, folder_id, actions as JSON text, gesture_seconds, return_url, show_result, token_hash,
// result_hash (NULL until the upload), result_expires_at (0: none), state, analysis_id, expires_at,
// created_at, updated_at); scan is the row's Scan.
func ScanCapture(scan func(dest ...any) error) (*bonafide.CaptureSession, error) {
	var c bonafide.CaptureSession
	var actions string
	var result *string
	var resultExpires, expires, created, updated int64
	if err := scan(&c.ID, &c.CompanyID, &c.UserID, &c.FolderID, &actions, &c.GestureSeconds, &c.ReturnURL, &c.ShowResult,
		&c.TokenHash, &result, &resultExpires, &c.State, &c.AnalysisID, &expires, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if c.Actions, err = DecodeArray[string]("actions", actions); err != nil {
		return nil, err
	}
	c.ResultHash = Deref(result)
	if resultExpires != 0 {
		c.ResultExpires = FromStamp(resultExpires)
	}
	c.Expires, c.Created, c.Updated = FromStamp(expires), FromStamp(created), FromStamp(updated)
	return &c, nil
}

// CaptureResultStamp is a result token's expiry as stored (0: none yet).
func CaptureResultStamp(c *bonafide.CaptureSession) int64 {
	if c.ResultExpires.IsZero() {
		return 0
	}
	return Stamp(c.ResultExpires)
}
