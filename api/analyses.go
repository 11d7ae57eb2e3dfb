package api

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/google/uuid"

	"bonafide"
)

// analysisRequest is one entry of "analyses" (oz-api.md §5.1).
type analysisRequest struct {
	Type        string          `json:"type"`
	SourceMedia []string        `json:"source_media"`
	Params      json.RawMessage `json:"params"`
	MetaData    json.RawMessage `json:"meta_data"`
}

// maxAnalysesPerRequest bounds the work one request can queue: Oz clients send one analysis per
// type, a handful at most.
const maxAnalysesPerRequest = 10

// buildAnalyses validates the requested analyses against the folder's media.
func (s *Server) buildAnalyses(p *principal, folderID string, ms []*bonafide.Media, reqs []analysisRequest) ([]*bonafide.Analysis, error) {
	if len(reqs) > maxAnalysesPerRequest {
		return nil, &bonafide.Error{Code: bonafide.CodeInvalidValue,
			Message: fmt.Sprintf("Invalid param value: %d analyses in one request; at most %d", len(reqs), maxAnalysesPerRequest),
			Details: map[string]string{"key_path": "analyses"}}
	}
	group := uuid.NewString()
	var out []*bonafide.Analysis
	for i, req := range reqs {
		// The same media named twice is analysed once.
		var unique []string
		for _, id := range req.SourceMedia {
			if !slices.Contains(unique, id) {
				unique = append(unique, id)
			}
		}
		req.SourceMedia = unique
		t := bonafide.CanonicalAnalysisType(req.Type)
		if t == "" {
			return nil, missingField(fmt.Sprintf("analyses.%d.type", i))
		}
		// A type this server runs is queued; an Oz type it does not run becomes a FAILED
		// analysis saying so, and the others of the request still run; any other name is
		// refused with the whole request.
		at, runs := bonafide.LookupAnalysisType(t)
		oz, isOz := bonafide.LookupOzAnalysisType(t)
		if !runs && !isOz {
			return nil, bonafide.NotAnOzAnalysisType(strings.ToUpper(strings.TrimSpace(req.Type)))
		}
		if !bonafide.CanStartAnalysis(p.user, t) {
			return nil, bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: this account may not start %s analyses", strings.ToLower(t))
		}
		for _, id := range req.SourceMedia {
			if !slices.ContainsFunc(ms, func(m *bonafide.Media) bool { return m.ID == id }) {
				return nil, &bonafide.Error{Code: bonafide.CodeInvalidValue,
					Message: fmt.Sprintf("Invalid param value: source_media %s is not a media of folder %s", id, folderID),
					Details: map[string]string{"key_path": fmt.Sprintf("analyses.%d.source_media", i), "media_id": id}}
			}
		}
		if len(req.Params) > 0 && !isObject(req.Params) {
			return nil, bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: analyses.%d.params must be a JSON object", i)
		}
		if len(req.MetaData) > 0 && string(req.MetaData) != "null" && !isObject(req.MetaData) {
			return nil, bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: analyses.%d.meta_data must be a JSON object", i)
		}
		a := &bonafide.Analysis{ID: uuid.NewString(), FolderID: folderID, GroupID: group, Type: t,
			State: bonafide.StateProcessing, Params: obj(req.Params), MetaData: obj(req.MetaData), SourceMedia: req.SourceMedia}
		if !runs {
			a.State, a.Error, a.ResultsData = bonafide.StateFailed, bonafide.NotRunAnalysis(oz), json.RawMessage(`{}`)
			out = append(out, a)
			continue
		}
		if len(a.SourceMedia) == 0 {
			// Without source_media the analysis takes every suitable media; name them now.
			for _, m := range at.Sources(a, ms) {
				a.SourceMedia = append(a.SourceMedia, m.ID)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// startAnalyses answers POST /api/folders/{id}/analyses with a bare array of analyses.
func (s *Server) startAnalyses(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	if !bonafide.CanWrite(p.user) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: %s users cannot start analyses", p.user.Role)
	}
	f, err := s.folder(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	if mt := r.Header.Get("Content-Type"); strings.HasPrefix(mt, "multipart/") {
		return &bonafide.Error{Code: bonafide.CodeInvalidStructure, Message: "Invalid body structure: this endpoint takes JSON {\"analyses\": [...]}, not multipart"}
	}
	var body struct {
		Analyses           []analysisRequest `json:"analyses"`
		ResolutionEndpoint string            `json:"resolution_endpoint"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Analyses == nil {
		return missingField("analyses")
	}
	ms, err := s.store.ListMedia(r.Context(), f.ID)
	if err != nil {
		return err
	}
	as, err := s.buildAnalyses(p, f.ID, ms, body.Analyses)
	if err != nil {
		return err
	}
	if body.ResolutionEndpoint != "" && body.ResolutionEndpoint != f.ResolutionEndpoint {
		if err := s.checkEndpoint(body.ResolutionEndpoint); err != nil {
			return err
		}
		f.ResolutionEndpoint = body.ResolutionEndpoint
		if err := s.store.UpdateFolder(r.Context(), f); err != nil {
			return err
		}
	}
	if len(as) > 0 {
		if err := s.store.CreateAnalyses(r.Context(), as); err != nil {
			return err
		}
		s.metrics.analysesStarted.Add(float64(len(as)))
	}
	byID := mediaMap(ms)
	out := []analysisBody{}
	for _, a := range as {
		out = append(out, s.renderAnalysis(a, byID))
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func mediaMap(ms []*bonafide.Media) map[string]*bonafide.Media {
	out := map[string]*bonafide.Media{}
	for _, m := range ms {
		out[m.ID] = m
	}
	return out
}

// listAnalyses answers GET /api/folders/{id}/analyses with a bare array, filtered by
// analyse_id, type and state (each with .exclude).
func (s *Server) listAnalyses(w http.ResponseWriter, r *http.Request) error {
	f, err := s.folder(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	as, err := s.store.ListAnalyses(r.Context(), f.ID)
	if err != nil {
		return err
	}
	ms, err := s.store.ListMedia(r.Context(), f.ID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	list := func(name string) []string {
		var out []string
		for _, v := range q[name] {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, strings.ToUpper(p))
				}
			}
		}
		return out
	}
	keep := func(val string, in, ex []string) bool {
		val = strings.ToUpper(val)
		return (len(in) == 0 || slices.Contains(in, val)) && !slices.Contains(ex, val)
	}
	ids, idsEx := list("analyse_id"), list("analyse_id.exclude")
	types, typesEx := list("type"), list("type.exclude")
	states, statesEx := list("state"), list("state.exclude")
	byID := mediaMap(ms)
	out := []analysisBody{}
	for _, a := range as {
		if keep(a.ID, ids, idsEx) && keep(a.Type, types, typesEx) && keep(a.State, states, statesEx) {
			out = append(out, s.renderAnalysis(a, byID))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getAnalysis answers GET /api/analyses/{id}.
func (s *Server) getAnalysis(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	a, err := s.store.GetAnalysis(r.Context(), id)
	if err != nil {
		return err
	}
	if _, err := s.folder(r, a.FolderID); err != nil {
		return bonafide.NotFound("analysis", id)
	}
	ms, err := s.store.ListMedia(r.Context(), a.FolderID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderAnalysis(a, mediaMap(ms)))
	return nil
}

// patchAnalysis answers PATCH /api/analyses/{id}: an operator's decision ("Make Decision",
// oz-api.md §5.4, our reading) with resolution_status SUCCESS or DECLINED and an optional
// resolution_comment. The answer is the analysis: resolution_status and resolution show the
// decision, system_resolution keeps the system's verdict. bonafide.Decide holds the rules the
// console shares (who may decide, which analyses take a decision).
func (s *Server) patchAnalysis(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ResolutionStatus  *string `json:"resolution_status"`
		Resolution        *string `json:"resolution"`
		ResolutionComment *string `json:"resolution_comment"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	status := body.ResolutionStatus
	if status == nil {
		status = body.Resolution // the old Oz name
	}
	if status == nil {
		return missingField("resolution_status")
	}
	comment := ""
	if body.ResolutionComment != nil {
		comment = *body.ResolutionComment
	}
	a, err := bonafide.Decide(r.Context(), s.store, caller(r).user, r.PathValue("id"), *status, comment, s.now())
	if err != nil {
		return err
	}
	ms, err := s.store.ListMedia(r.Context(), a.FolderID)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "operator decision", "analysis_id", a.ID, "folder_id", a.FolderID, "user_id", a.Decision.UserID,
		"resolution", a.Decision.Resolution, "system_resolution", a.Resolution)
	company := ""
	if f, err := s.store.GetFolder(r.Context(), a.FolderID); err == nil {
		company = f.CompanyID
	}
	s.audited(r, bonafide.AuditDecision, company, map[string]string{"resolution": a.Decision.Resolution, "system_resolution": a.Resolution},
		bonafide.Obj(bonafide.ObjAnalysis, a.ID), bonafide.Obj(bonafide.ObjFolder, a.FolderID))
	writeJSON(w, http.StatusOK, s.renderAnalysis(a, mediaMap(ms)))
	return nil
}

// instant answers POST /api/instant/folders: the single-request flow without storing anything;
// the best shot comes back inline as base64.
func (s *Server) instant(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	select {
	case s.instantSlots <- struct{}{}:
		defer func() { <-s.instantSlots }()
	default:
		w.Header().Set("Retry-After", "1")
		return bonafide.Errorf(bonafide.CodeThrottled, "Too many requests: %d Instant API analyses are running on this server; retry in a second, or use the asynchronous folder API", cap(s.instantSlots))
	}
	if s.analyzer == nil {
		return bonafide.Errorf(bonafide.CodeNotRealized, "The Instant API is not enabled on this node")
	}
	if !bonafide.CanWrite(p.user) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource")
	}
	up, err := s.readUpload(r)
	if err != nil {
		return err
	}
	defer up.Close()
	if len(up.files) == 0 {
		return &bonafide.Error{Code: bonafide.CodeInvalidStructure, Message: "Invalid body structure: no file was sent"}
	}
	folderID := uuid.NewString()
	// The same sniffing and media rows as a stored folder; nothing is stored, so no file has a URL.
	ms, err := s.newMedia(folderID, up)
	if err != nil {
		return err
	}
	files := map[string]*uploadFile{}
	for i, m := range ms {
		m.BlobKey, m.Created, m.Updated = "", s.now(), s.now()
		files[m.ID] = up.files[i]
	}
	reqs := up.payload.Analyses
	if len(reqs) == 0 {
		reqs = []analysisRequest{{Type: "quality"}}
	}
	as, err := s.buildAnalyses(p, folderID, ms, reqs)
	if err != nil {
		return err
	}
	open := func(_ context.Context, m *bonafide.Media) (io.ReadCloser, error) { return os.Open(files[m.ID].path) }
	byID := mediaMap(ms)
	var out []analysisBody
	for _, a := range as {
		a.Created, a.Updated = s.now(), s.now()
		if a.State == bonafide.StateFailed { // a type this server does not run
			out = append(out, s.renderAnalysis(a, byID))
			continue
		}
		res, err := s.analyzer.Run(r.Context(), a, ms, open)
		if err != nil {
			var me *bonafide.MediaError
			if errors.As(err, &me) {
				return bonafide.Errorf(bonafide.CodeInvalidValue, "Invalid param value: the file %q could not be analysed: %s", me.Media.FieldName, cmp.Or(errText(me.Err), me.Msg))
			}
			return err
		}
		res.Apply(a)
		b := s.renderAnalysis(a, byID)
		for j := range b.SourceMedia {
			b.SourceMedia[j].Images = nil // nothing is stored: no frame has a URL
		}
		// Best shots come back inline, matched to their result by media id.
		for i := range b.ResultsMedia {
			rb := &b.ResultsMedia[i]
			if shot := res.BestShots[cmp.Or(rb.SourceVideoID, rb.SourceShotsSetID, rb.SourceImageID)]; len(shot) > 0 {
				rb.OutputImages = []imageBody{{ImageBase64: base64.StdEncoding.EncodeToString(shot)}}
			}
		}
		out = append(out, b)
		s.metrics.Verdict(a.Resolution)
	}
	_, verdict := bonafide.FolderStatus(as)
	mb := []mediaBody{}
	for _, m := range ms {
		b := s.renderMedia(m)
		b.OriginalURL, b.VideoURL, b.Images = "", "", nil
		mb = append(mb, b)
	}
	writeJSON(w, http.StatusOK, map[string]any{"folder_id": folderID, "resolution_status": bonafide.StateFinished,
		"system_resolution": verdict, "time_created": epoch(s.now()), "time_updated": epoch(s.now()),
		"meta_data": obj(up.payload.FolderMeta), "media": mb, "analyses": out})
	return nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
