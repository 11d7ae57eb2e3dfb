package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"bonafide"
)

// Capture sessions (the capture page's links, web/capture). An integrator creates a session with
// its token; the session's URL carries a capture token that can do nothing but open this one
// session and upload its clips, once, before it expires. The upload answers with a result token
// that can only read this session's verdict.

// captureTokenHeader carries the capture token (or, after the upload, the result token).
const captureTokenHeader = "X-Capture-Token"

// CapturePath is where the capture page is served; the session URL is BaseURL + CapturePath.
const CapturePath = "/capture/"

// maxReturnURL bounds return_url.
const maxReturnURL = 2048

// captureRequest is the body of POST /api/capture/sessions.
type captureRequest struct {
	Actions            []string        `json:"actions"`
	Random             *int            `json:"random"`
	FolderMeta         json.RawMessage `json:"folder_meta_data"`
	ResolutionEndpoint string          `json:"resolution_endpoint"`
	ReturnURL          string          `json:"return_url"`
	ExpiresIn          *float64        `json:"expires_in"` // seconds
	GestureSeconds     *float64        `json:"gesture_seconds"`
	ShowResult         *bool           `json:"show_result"`
	Lang               string          `json:"lang"`
}

// captureBody is a session as the integrator reads it.
type captureBody struct {
	SessionID        string   `json:"session_id"`
	URL              string   `json:"url,omitempty"` // only when created: the token is not kept
	State            string   `json:"state"`
	FolderID         string   `json:"folder_id"`
	Actions          []string `json:"actions"`
	GestureSeconds   float64  `json:"gesture_seconds"`
	ReturnURL        string   `json:"return_url"`
	ShowResult       bool     `json:"show_result"`
	AnalysisID       *string  `json:"analysis_id"`
	ResolutionStatus *string  `json:"resolution_status"`
	CompanyID        string   `json:"company_id"`
	UserID           string   `json:"user_id"`
	ExpiresAt        float64  `json:"expires_at"`
	Created          float64  `json:"time_created"`
	Updated          float64  `json:"time_updated"`
}

func (s *Server) captureRoutes(route func(method, path string, h handlerFunc, auth bool)) {
	route("POST", "/api/capture/sessions", s.createCapture, true)
	route("GET", "/api/capture/sessions/{id}", s.getCapture, true)
	route("GET", "/api/capture/link", s.openCapture, false)
	route("POST", "/api/capture/link/media", s.uploadCapture, false)
	route("GET", "/api/capture/link/result", s.captureResult, false)
}

// newCaptureToken is 32 random bytes as 64 hex characters.
func newCaptureToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// captureActions resolves actions / random into the gestures asked for, in order.
func captureActions(req *captureRequest) ([]string, error) {
	if len(req.Actions) > 0 && req.Random != nil {
		return nil, invalidValue("random", "give either actions or random, not both")
	}
	if len(req.Actions) == 0 {
		n := bonafide.DefaultRandomGestures
		if req.Random != nil {
			n = *req.Random
		}
		if n < 1 || n > bonafide.MaxCaptureActions {
			return nil, invalidValue("random", "random must be between 1 and %d gestures, got %d", bonafide.MaxCaptureActions, n)
		}
		return bonafide.DrawGestures(n)
	}
	if len(req.Actions) > bonafide.MaxCaptureActions {
		return nil, invalidValue("actions", "at most %d gestures per session, got %d", bonafide.MaxCaptureActions, len(req.Actions))
	}
	out := make([]string, 0, len(req.Actions))
	for i, a := range req.Actions {
		tag := strings.ToLower(strings.TrimSpace(a))
		if !bonafide.ValidGesture(tag) {
			return nil, invalidValue(fmt.Sprintf("actions.%d", i), "%q is not a gesture tag; use one of %s", truncate(a, 64), strings.Join(bonafide.CaptureGestures, ", "))
		}
		out = append(out, tag)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// checkReturnURL accepts an absolute http(s) URL (or nothing).
func checkReturnURL(u string) error {
	if u == "" {
		return nil
	}
	if len(u) > maxReturnURL {
		return invalidValue("return_url", "return_url is over %d characters", maxReturnURL)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return invalidValue("return_url", "return_url must be an absolute http or https URL")
	}
	return nil
}

// createCapture answers POST /api/capture/sessions: a session, its empty folder and its link.
func (s *Server) createCapture(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	if !bonafide.CanWrite(p.user) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: %s users cannot create folders", p.user.Role)
	}
	if !bonafide.CanStartAnalysis(p.user, "QUALITY") {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: this account may not start quality analyses, which a capture session starts")
	}
	var req captureRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	actions, err := captureActions(&req)
	if err != nil {
		return err
	}
	ttl := bonafide.DefaultCaptureTTL
	if req.ExpiresIn != nil {
		sec := *req.ExpiresIn
		if math.IsNaN(sec) || sec < bonafide.MinCaptureTTL.Seconds() || sec > bonafide.MaxCaptureTTL.Seconds() {
			return invalidValue("expires_in", "expires_in must be between %.0f and %.0f seconds", bonafide.MinCaptureTTL.Seconds(), bonafide.MaxCaptureTTL.Seconds())
		}
		ttl = time.Duration(sec * float64(time.Second))
	}
	gesture := bonafide.DefaultGestureSeconds
	if req.GestureSeconds != nil {
		gesture = *req.GestureSeconds
		if math.IsNaN(gesture) || gesture < bonafide.MinGestureSeconds || gesture > bonafide.MaxGestureSeconds {
			return invalidValue("gesture_seconds", "gesture_seconds must be between %.0f and %.0f", bonafide.MinGestureSeconds, bonafide.MaxGestureSeconds)
		}
	}
	if err := checkReturnURL(req.ReturnURL); err != nil {
		return err
	}
	if len(req.FolderMeta) > 0 && string(req.FolderMeta) != "null" && !isObject(req.FolderMeta) {
		return bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: folder_meta_data must be a JSON object")
	}
	if err := s.checkEndpoint(req.ResolutionEndpoint); err != nil {
		return err
	}
	lang := strings.ToLower(strings.TrimSpace(req.Lang))
	if lang != "" && !validLang(lang) {
		return invalidValue("lang", "lang must be a language tag such as en or pt-br")
	}
	token, err := newCaptureToken()
	if err != nil {
		return err
	}
	id := uuid.NewString()
	tech, _ := json.Marshal(map[string]any{"capture_session_id": id, "capture_actions": actions})
	f := &bonafide.Folder{ID: uuid.NewString(), CompanyID: p.user.CompanyID, UserID: p.user.ID,
		MetaData: obj(req.FolderMeta), TechnicalMetaData: tech, ResolutionEndpoint: req.ResolutionEndpoint}
	if err := s.store.CreateFolder(r.Context(), f, nil); err != nil {
		return err
	}
	show := req.ShowResult == nil || *req.ShowResult
	c := &bonafide.CaptureSession{ID: id, CompanyID: p.user.CompanyID, UserID: p.user.ID, FolderID: f.ID,
		Actions: actions, GestureSeconds: gesture, ReturnURL: req.ReturnURL, ShowResult: show,
		TokenHash: hashToken(token), State: bonafide.CaptureCreated, Expires: s.now().Add(ttl)}
	if err := s.store.CreateCaptureSession(r.Context(), c); err != nil {
		if derr := s.store.DeleteFolder(context.WithoutCancel(r.Context()), f.ID); derr != nil {
			s.log.WarnContext(r.Context(), "folder of a refused capture session not deleted", "folder_id", f.ID, "err", derr)
		}
		return err
	}
	b := s.renderCapture(c, nil)
	link := s.cfg.BaseURL + CapturePath
	if lang != "" {
		link += "?lang=" + url.QueryEscape(lang)
	}
	// The token travels in the fragment: browsers never send it to a server, so it stays out of
	// access logs and Referer headers; the page reads it and sends it in X-Capture-Token.
	b.URL = link + "#" + token
	s.log.InfoContext(r.Context(), "capture session created", "session_id", c.ID, "folder_id", f.ID, "actions", strings.Join(actions, ","), "expires_at", c.Expires)
	writeJSON(w, http.StatusCreated, b)
	return nil
}

// validLang: letters, digits and dashes, at most 16.
func validLang(l string) bool {
	if len(l) > 16 {
		return false
	}
	for _, r := range l {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (s *Server) renderCapture(c *bonafide.CaptureSession, a *bonafide.Analysis) *captureBody {
	b := &captureBody{SessionID: c.ID, State: bonafide.CaptureState(c, a, s.now()), FolderID: c.FolderID,
		Actions: nonNil(c.Actions), GestureSeconds: c.GestureSeconds, ReturnURL: c.ReturnURL, ShowResult: c.ShowResult,
		CompanyID: c.CompanyID, UserID: c.UserID, ExpiresAt: epoch(c.Expires), Created: epoch(c.Created), Updated: epoch(c.Updated)}
	if c.AnalysisID != "" {
		b.AnalysisID = &c.AnalysisID
	}
	if a != nil && a.State != bonafide.StateProcessing {
		res := a.Resolution
		if a.State == bonafide.StateFailed {
			res = bonafide.StateFailed
		}
		b.ResolutionStatus = &res
	}
	return b
}

// captureAnalysis is the session's analysis, nil before the upload.
func (s *Server) captureAnalysis(ctx context.Context, c *bonafide.CaptureSession) (*bonafide.Analysis, error) {
	if c.AnalysisID == "" || c.State != bonafide.CaptureUploaded {
		return nil, nil
	}
	a, err := s.store.GetAnalysis(ctx, c.AnalysisID)
	if bonafide.CodeOf(err) == bonafide.CodeNotExist {
		return nil, nil // the folder was deleted
	}
	return a, err
}

// getCapture answers GET /api/capture/sessions/{id} for those who may see its folder.
func (s *Server) getCapture(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	c, err := s.store.GetCaptureSession(r.Context(), id)
	if err != nil {
		return err
	}
	if !bonafide.CanSeeFolder(caller(r).user, &bonafide.Folder{CompanyID: c.CompanyID, UserID: c.UserID}) {
		return bonafide.NotFound("capture session", id)
	}
	a, err := s.captureAnalysis(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderCapture(c, a))
	return nil
}

// linkSession finds the session of the request's capture token; result says whether the result
// token is wanted instead. Errors name what is wrong with the link, for the page to show.
func (s *Server) linkSession(r *http.Request, result bool) (*bonafide.CaptureSession, error) {
	token := strings.TrimSpace(r.Header.Get(captureTokenHeader))
	if token == "" {
		return nil, &bonafide.Error{Code: bonafide.CodeAuthNotProvided, Details: map[string]string{"reason": "NO_TOKEN"},
			Message: "The capture token is not provided: open the capture link you were given"}
	}
	invalid := &bonafide.Error{Code: bonafide.CodeAuthInvalid, Details: map[string]string{"reason": "INVALID_LINK"},
		Message: "This capture link is not valid: ask for a new one"}
	if len(token) > 128 {
		return nil, invalid
	}
	h := hashToken(token)
	c, err := s.store.CaptureSessionByToken(r.Context(), h)
	if bonafide.CodeOf(err) == bonafide.CodeNotExist {
		return nil, invalid
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if result {
		if c.ResultHash != h {
			return nil, invalid
		}
		if !now.Before(c.ResultExpires) {
			return nil, &bonafide.Error{Code: bonafide.CodeAuthExpired, Details: map[string]string{"reason": "RESULT_EXPIRED"},
				Message: "The result of this capture can no longer be read here"}
		}
		return c, nil
	}
	if c.TokenHash != h {
		return nil, invalid
	}
	st := c.StateAt(now)
	if st == bonafide.CaptureUploaded {
		// Used, unless its upload was lost (the server died between the claim and the analysis)
		// and its folder still exists: then the person may send the clips again.
		a, err := s.captureAnalysis(r.Context(), c)
		if err != nil {
			return nil, err
		}
		if st = bonafide.CaptureState(c, a, now); st == bonafide.CaptureOpened {
			if _, err := s.store.GetFolder(r.Context(), c.FolderID); err != nil {
				if bonafide.CodeOf(err) != bonafide.CodeNotExist {
					return nil, err
				}
				st = bonafide.CaptureUploaded
			}
		}
	}
	switch st {
	case bonafide.CaptureExpired:
		return nil, &bonafide.Error{Code: bonafide.CodeAuthExpired, Details: map[string]string{"reason": "EXPIRED"},
			Message: "This capture link has expired: ask for a new one"}
	case bonafide.CaptureUploaded, bonafide.CaptureFinished:
		return nil, &bonafide.Error{Code: bonafide.CodeForbidden, Details: map[string]string{"reason": "USED"},
			Message: "This capture link was already used: ask for a new one"}
	}
	return c, nil
}

// linkBody is what the capture page reads of its session.
type linkBody struct {
	SessionID      string   `json:"session_id"`
	State          string   `json:"state"`
	Actions        []string `json:"actions"`
	GestureSeconds float64  `json:"gesture_seconds"`
	ExpiresAt      float64  `json:"expires_at"`
	ReturnURL      string   `json:"return_url"`
	ShowResult     bool     `json:"show_result"`
}

// openCapture answers GET /api/capture/link: the session of the capture token, now OPENED.
func (s *Server) openCapture(w http.ResponseWriter, r *http.Request) error {
	c, err := s.linkSession(r, false)
	if err != nil {
		return err
	}
	if c.State == bonafide.CaptureCreated {
		next := *c
		next.State = bonafide.CaptureOpened
		switch err := s.store.UpdateCaptureSession(r.Context(), &next, bonafide.CaptureCreated); {
		case err == nil:
			c = &next
		case !errors.Is(err, bonafide.ErrCaptureState):
			return err
		}
	}
	// linkSession let it through, so it has no analysis (an UPLOADED one is a lost upload).
	state := bonafide.CaptureState(c, nil, s.now())
	writeJSON(w, http.StatusOK, linkBody{SessionID: c.ID, State: state, Actions: nonNil(c.Actions),
		GestureSeconds: c.GestureSeconds, ExpiresAt: epoch(c.Expires), ReturnURL: c.ReturnURL, ShowResult: c.ShowResult})
	return nil
}

// captureUploadBody answers the upload.
type captureUploadBody struct {
	ResultToken string `json:"result_token"`
	AnalysisID  string `json:"analysis_id"`
	FolderID    string `json:"folder_id"`
}

// uploadCapture answers POST /api/capture/link/media: one video per asked gesture, in the order
// asked, under any field names. The server tags the i-th video with the i-th gesture (the page's
// tags are ignored), stores them in the session's folder, starts its QUALITY analysis with the
// time each clip may take, and kills the capture token.
func (s *Server) uploadCapture(w http.ResponseWriter, r *http.Request) error {
	c, err := s.linkSession(r, false) // before reading any of the body
	if err != nil {
		return err
	}
	up, err := s.readUpload(r)
	if err != nil {
		return err
	}
	defer up.Close()
	if len(up.files) != len(c.Actions) {
		return bonafide.Errorf(bonafide.CodeInvalidValue, "Invalid param value: this session asks for %d gestures (%s), one video each, in that order; %d files were sent",
			len(c.Actions), strings.Join(c.Actions, ", "), len(up.files))
	}
	up.payload = payload{} // nothing of the page's payload is believed
	up.notes = nil
	ms, err := s.newMedia(c.FolderID, up)
	if err != nil {
		return err
	}
	for i, m := range ms {
		if m.Kind != bonafide.KindVideo {
			return bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: file %d (%s) is not a video; the capture page uploads one video per gesture", i+1, m.OriginalName)
		}
		m.Tags = []string{"video_selfie", c.Actions[i]}
		m.MetaData, _ = json.Marshal(map[string]any{"capture_session_id": c.ID, "gesture": i + 1, "action": c.Actions[i]})
	}
	// Claim the session (the token dies here): of two uploads at once, one wins.
	result, err := newCaptureToken()
	if err != nil {
		return err
	}
	from := c.State
	claimed := *c
	claimed.State, claimed.ResultHash, claimed.AnalysisID = bonafide.CaptureUploaded, hashToken(result), uuid.NewString()
	claimed.ResultExpires = s.now().Add(bonafide.CaptureResultLifetime)
	if err := s.store.UpdateCaptureSession(r.Context(), &claimed, from); err != nil {
		if errors.Is(err, bonafide.ErrCaptureState) {
			return &bonafide.Error{Code: bonafide.CodeForbidden, Details: map[string]string{"reason": "USED"},
				Message: "This capture link was already used: ask for a new one"}
		}
		return err
	}
	if err := s.storeCapture(r.Context(), &claimed, ms, up); err != nil {
		// Give the link back so the person can retry: the session returns to the state it had.
		ctx := context.WithoutCancel(r.Context())
		back := claimed
		back.State, back.ResultHash, back.ResultExpires, back.AnalysisID = from, "", time.Time{}, ""
		if uerr := s.store.UpdateCaptureSession(ctx, &back, bonafide.CaptureUploaded); uerr != nil {
			s.log.WarnContext(r.Context(), "capture session not released after a failed upload", "session_id", c.ID, "err", uerr)
		}
		return err
	}
	s.metrics.analysesStarted.Inc()
	s.log.InfoContext(r.Context(), "capture uploaded", "session_id", c.ID, "folder_id", c.FolderID, "analysis_id", claimed.AnalysisID, "clips", len(ms))
	writeJSON(w, http.StatusCreated, captureUploadBody{ResultToken: result, AnalysisID: claimed.AnalysisID, FolderID: c.FolderID})
	return nil
}

// storeCapture stores the clips and starts the session's analysis; on a failure nothing of it
// is left.
func (s *Server) storeCapture(ctx context.Context, c *bonafide.CaptureSession, ms []*bonafide.Media, up *upload) error {
	if err := s.storeMedia(ctx, ms, up); err != nil {
		return err
	}
	if err := s.store.AddMedia(ctx, c.FolderID, ms); err != nil {
		s.discardMedia(ctx, ms)
		return err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	// A clip may take the asked time plus the recorder's slack; a longer one fails its gesture.
	params, _ := json.Marshal(map[string]any{"extract_best_shot": true,
		"max_clip_seconds": c.GestureSeconds + bonafide.GestureSlackSeconds})
	meta, _ := json.Marshal(map[string]any{"capture_session_id": c.ID})
	a := &bonafide.Analysis{ID: c.AnalysisID, FolderID: c.FolderID, GroupID: uuid.NewString(), Type: "QUALITY",
		State: bonafide.StateProcessing, Params: params, MetaData: meta, SourceMedia: ids}
	if err := s.store.CreateAnalyses(ctx, []*bonafide.Analysis{a}); err != nil {
		dctx := context.WithoutCancel(ctx)
		for _, m := range ms {
			if derr := s.store.DeleteMedia(dctx, m.ID); derr != nil {
				s.log.WarnContext(ctx, "media of a failed capture upload not deleted", "media_id", m.ID, "err", derr)
			}
		}
		s.discardMedia(dctx, ms)
		return err
	}
	return nil
}

// captureResultBody is what the page shows when the analysis ends.
type captureResultBody struct {
	State            string   `json:"state"` // UPLOADED (analysing) or FINISHED
	ShowResult       bool     `json:"show_result"`
	ResolutionStatus *string  `json:"resolution_status"` // only when show_result
	Reasons          []string `json:"reasons"`           // reason codes of the media, only when show_result
	ReturnURL        string   `json:"return_url"`
}

// captureResult answers GET /api/capture/link/result with the result token.
func (s *Server) captureResult(w http.ResponseWriter, r *http.Request) error {
	c, err := s.linkSession(r, true)
	if err != nil {
		return err
	}
	a, err := s.captureAnalysis(r.Context(), c)
	if err != nil {
		return err
	}
	b := captureResultBody{State: bonafide.CaptureState(c, a, s.now()), ShowResult: c.ShowResult, Reasons: []string{}, ReturnURL: c.ReturnURL}
	if c.ShowResult && a != nil && a.State != bonafide.StateProcessing {
		res := a.Resolution
		if a.State == bonafide.StateFailed {
			res = bonafide.StateFailed
		}
		b.ResolutionStatus = &res
		for _, m := range a.Results {
			if m.Details == nil || m.Details.LivenessEvidence == nil {
				continue
			}
			for _, x := range m.Details.Reasons {
				b.Reasons = append(b.Reasons, x.Code)
			}
		}
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}
