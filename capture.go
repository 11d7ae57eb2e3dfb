package bonafide

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// Capture session states (GET /api/capture/sessions/{id}). CREATED, OPENED and UPLOADED are
// stored; EXPIRED (a link not used before it expired) and FINISHED (the analysis of the upload
// ended) are what a stored state becomes when read (CaptureSession.StateAt).
const (
	CaptureCreated  = "CREATED"
	CaptureOpened   = "OPENED"
	CaptureUploaded = "UPLOADED"
	CaptureFinished = "FINISHED"
	CaptureExpired  = "EXPIRED"
)

// Limits and defaults of capture sessions.
const (
	DefaultCaptureTTL     = 10 * time.Minute // how long a capture link works when expires_in is not given
	MaxCaptureTTL         = 24 * time.Hour
	MinCaptureTTL         = 30 * time.Second
	DefaultGestureSeconds = 3.0 // how long the page records each gesture
	MinGestureSeconds     = 1.0
	MaxGestureSeconds     = 10.0
	MaxCaptureActions     = 5 // gestures one session may ask for
	DefaultRandomGestures = 2 // gestures drawn when neither actions nor random is given
	CaptureResultLifetime = 15 * time.Minute
	GestureSlackSeconds   = 1.5 // a clip may exceed the asked time by this much (recorder start and stop)
)

// CaptureGestures are the Oz gesture tags a capture session may ask for, each with what the
// person is asked to do (the engine checks each one: liveness/signals.go).
var CaptureGestures = []string{
	"video_selfie_blank", "video_selfie_left", "video_selfie_right", "video_selfie_down",
	"video_selfie_high", "video_selfie_smile", "video_selfie_eyes", "video_selfie_scan",
}

// randomGestures are the gestures a server-drawn session picks from: every gesture that asks for
// a movement (blank asks for none, so a replayed recording would pass it).
var randomGestures = []string{
	"video_selfie_left", "video_selfie_right", "video_selfie_down", "video_selfie_high",
	"video_selfie_smile", "video_selfie_eyes",
}

// ValidGesture reports whether tag is a gesture a capture session may ask for.
func ValidGesture(tag string) bool { return slices.Contains(CaptureGestures, tag) }

// DrawGestures draws n gestures at random (crypto/rand), never the same one twice in a row, so
// that a recording made in advance cannot know them.
func DrawGestures(n int) ([]string, error) {
	out := make([]string, 0, n)
	for len(out) < n {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(randomGestures))))
		if err != nil {
			return nil, fmt.Errorf("drawing gestures: %w", err)
		}
		g := randomGestures[i.Int64()]
		if len(out) > 0 && out[len(out)-1] == g {
			continue
		}
		out = append(out, g)
	}
	return out, nil
}

// CaptureSession is one capture link: the gestures a person is asked for, in order, the folder
// their clips go to, and the one-time token of the link.
type CaptureSession struct {
	ID        string
	CompanyID string // of the user who created it
	UserID    string
	FolderID  string // an ordinary folder, created with the session
	// Actions are the gesture tags asked for, in order: the i-th clip uploaded is tagged with the
	// i-th action by the server, never by the page.
	Actions []string
	// GestureSeconds is how long the page records each gesture; a clip longer than this (plus
	// GestureSlackSeconds) fails its challenge.
	GestureSeconds float64
	ReturnURL      string
	ShowResult     bool // the page shows the verdict (else a neutral "done")
	// TokenHash is the sha256 hex of the link's capture token: it may open the session and upload
	// its clips once, until Expires.
	TokenHash string
	// ResultHash is the sha256 hex of the token the upload answers with: it may only read this
	// session's verdict, until ResultExpires.
	ResultHash    string
	ResultExpires time.Time
	State         string // CREATED, OPENED or UPLOADED as stored
	AnalysisID    string // the QUALITY analysis started by the upload
	Expires       time.Time
	Created       time.Time
	Updated       time.Time
}

// StateAt is the session's state as a client sees it at now: a link not used in time is EXPIRED.
// (FINISHED depends on the analysis: CaptureState.)
func (c *CaptureSession) StateAt(now time.Time) string {
	if (c.State == CaptureCreated || c.State == CaptureOpened) && !now.Before(c.Expires) {
		return CaptureExpired
	}
	return c.State
}

// CaptureSessionKeep is how long a session never uploaded is kept after its link expired; then
// sweep.SessionPurge deletes it, and its folder when nothing was put in it.
const CaptureSessionKeep = 24 * time.Hour

// CaptureClaimGrace is how long an upload may take from claiming its session (the link dies) to
// starting its analysis. A session UPLOADED for longer without its analysis lost its upload (the
// server died in between): its link works again until it expires.
const CaptureClaimGrace = 5 * time.Minute

// LostUpload reports whether c is UPLOADED but its upload never reached an analysis (a is the
// session's analysis, nil when there is none): the claim was given back after a failure (no
// analysis id), or the process died between the claim and the analysis and CaptureClaimGrace
// has passed since.
func (c *CaptureSession) LostUpload(a *Analysis, now time.Time) bool {
	return c.State == CaptureUploaded && a == nil && (c.AnalysisID == "" || !now.Before(c.Updated.Add(CaptureClaimGrace)))
}

// CaptureState is the state shown for the session, given its analysis (nil when none yet):
// UPLOADED becomes FINISHED when the analysis is no longer processing; a lost upload is OPENED
// again (EXPIRED once the link's time is over).
func CaptureState(c *CaptureSession, a *Analysis, now time.Time) string {
	if c.LostUpload(a, now) {
		if !now.Before(c.Expires) {
			return CaptureExpired
		}
		return CaptureOpened
	}
	st := c.StateAt(now)
	if st == CaptureUploaded && a != nil && a.State != StateProcessing {
		return CaptureFinished
	}
	return st
}

// ErrCaptureState is what Store.UpdateCaptureSession returns when the session is no longer in
// the state the caller read (another request opened or used it first).
var ErrCaptureState = errors.New("the capture session changed state")

// CaptureStore persists capture sessions (both stores implement it as part of Store).
type CaptureStore interface {
	// CreateCaptureSession stores a new session, filling its ID and times.
	CreateCaptureSession(ctx context.Context, c *CaptureSession) error
	GetCaptureSession(ctx context.Context, id string) (*CaptureSession, error)
	// CaptureSessionByToken finds the session whose capture token or result token has the hash.
	CaptureSessionByToken(ctx context.Context, hash string) (*CaptureSession, error)
	// DeleteAbandonedCaptureSessions deletes the sessions never uploaded (CREATED or OPENED) whose
	// link expired before t, and returns their folders' ids.
	DeleteAbandonedCaptureSessions(ctx context.Context, t time.Time) (folderIDs []string, err error)
	// UpdateCaptureSession writes c's state, result token, analysis id and expiry times, only
	// when the stored state is still from (compare and set); otherwise it changes nothing and
	// returns ErrCaptureState. Updated is set to now.
	UpdateCaptureSession(ctx context.Context, c *CaptureSession, from string) error
}
