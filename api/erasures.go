package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"bonafide"
)

// Erasure on request (GDPR Art. 17): POST /api/erasures selects a data subject's folders and
// collection persons and removes them with their files; the receipt is read later at
// GET /api/erasures/{id}. The work is a durable job (package jobs), so a crash finishes on restart.

func (s *Server) erasureRoutes(route func(method, path string, h handlerFunc, auth bool)) {
	route("POST", "/api/erasures", s.createErasure, true)
	route("GET", "/api/erasures/{id}", s.getErasure, true)
}

// erasureRequest is the body of POST /api/erasures. Meta data values are read as raw JSON so that
// a value that is not a string is answered with its key.
type erasureRequest struct {
	CompanyID      string                     `json:"company_id"`
	FolderMetaData map[string]json.RawMessage `json:"folder_meta_data"`
	FolderIDs      []string                   `json:"folder_ids"`
	PersonMetaData map[string]json.RawMessage `json:"person_meta_data"`
	DryRun         bool                       `json:"dry_run"`
}

var erasureFields = "company_id, folder_meta_data, folder_ids, person_meta_data, dry_run"

// erasureBody is a receipt as the API shows it.
type erasureBody struct {
	ErasureID string           `json:"erasure_id"`
	Status    string           `json:"status"`
	DryRun    bool             `json:"dry_run"`
	Folders   int              `json:"folders"`
	Media     int              `json:"media"`
	BestShots int              `json:"best_shots"`
	Persons   int              `json:"persons"`
	FolderIDs []string         `json:"folder_ids"`
	PersonIDs []string         `json:"person_ids"`
	CompanyID *string          `json:"company_id"` // null: every company (an ADMIN's erasure)
	UserID    string           `json:"user_id"`
	Request   erasureSelection `json:"request"`
	ClientIP  string           `json:"client_address"`
	RequestID string           `json:"request_id"`
	Created   float64          `json:"time_created"`
	Finished  *float64         `json:"time_finished"`
}

type erasureSelection struct {
	FolderMetaData map[string]string `json:"folder_meta_data"`
	FolderIDs      []string          `json:"folder_ids"`
	PersonMetaData map[string]string `json:"person_meta_data"`
}

func renderErasure(e *bonafide.Erasure) erasureBody {
	b := erasureBody{ErasureID: e.ID, Status: e.Status, DryRun: e.DryRun, Folders: e.Folders, Media: e.Media,
		BestShots: e.BestShots, Persons: e.Persons, FolderIDs: nonNil(e.FolderIDs), PersonIDs: nonNil(e.PersonIDs),
		UserID: e.UserID, ClientIP: e.ClientAddr, RequestID: e.RequestID, Created: epoch(e.Created),
		Request: erasureSelection{FolderMetaData: nonNilMap(e.Selector.FolderMeta), FolderIDs: nonNil(e.Selector.FolderIDs),
			PersonMetaData: nonNilMap(e.Selector.PersonMeta)}}
	if e.CompanyID != "" {
		b.CompanyID = &e.CompanyID
	}
	if !e.Finished.IsZero() {
		f := epoch(e.Finished)
		b.Finished = &f
	}
	return b
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// createErasure answers POST /api/erasures (ADMIN, CLIENT ADMIN within its company). A dry run
// answers its counts at once (200). A real erasure is worked by its job; the answer waits for it
// up to Config.ErasureWait: 200 with status FINISHED, or 202 with IN_PROGRESS and the counts so
// far (GET /api/erasures/{id} follows it).
func (s *Server) createErasure(w http.ResponseWriter, r *http.Request) error {
	u := caller(r).user
	if _, err := bonafide.ErasureScope(u, ""); err != nil {
		return err
	}
	req, err := decodeErasure(r)
	if err != nil {
		return err
	}
	scope, err := bonafide.ErasureScope(u, req.CompanyID)
	if err != nil {
		return err
	}
	sel := bonafide.ErasureSelector{FolderIDs: req.FolderIDs}
	if sel.FolderMeta, err = metaStrings("folder_meta_data", req.FolderMetaData); err != nil {
		return err
	}
	if sel.PersonMeta, err = metaStrings("person_meta_data", req.PersonMetaData); err != nil {
		return err
	}
	if err := sel.Validate(); err != nil {
		return err
	}
	e := &bonafide.Erasure{CompanyID: scope, UserID: u.ID, Selector: sel, DryRun: req.DryRun,
		ClientAddr: s.clientAddr(r).String(), RequestID: RequestID(r.Context())}
	if err := s.store.CreateErasure(r.Context(), e); err != nil {
		return err
	}
	s.auditErasure(r, e)
	s.log.InfoContext(r.Context(), "erasure requested", "erasure_id", e.ID, "company_id", e.CompanyID, "user_id", e.UserID,
		"dry_run", e.DryRun, "folders", len(e.FolderIDs), "persons", len(e.PersonIDs))
	if !e.DryRun {
		if e, err = s.waitErasure(r, e.ID); err != nil {
			return err
		}
	}
	status := http.StatusOK
	if e.Status != bonafide.ErasureFinished {
		status = http.StatusAccepted
	}
	writeJSON(w, status, renderErasure(e))
	return nil
}

// waitErasure polls the receipt until it is FINISHED or Config.ErasureWait has passed.
func (s *Server) waitErasure(r *http.Request, id string) (*bonafide.Erasure, error) {
	ctx := r.Context()
	deadline := time.Now().Add(s.cfg.ErasureWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		e, err := s.store.GetErasure(ctx, id)
		if err != nil || e.Status == bonafide.ErasureFinished || !time.Now().Before(deadline) {
			return e, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// getErasure answers GET /api/erasures/{id}: the receipt, to ADMIN and to the CLIENT ADMIN of its
// company (another company's receipt does not exist for the caller).
func (s *Server) getErasure(w http.ResponseWriter, r *http.Request) error {
	u := caller(r).user
	if _, err := bonafide.ErasureScope(u, ""); err != nil {
		return err
	}
	id := r.PathValue("id")
	e, err := s.store.GetErasure(r.Context(), id)
	if err != nil {
		return err
	}
	if !bonafide.CanSeeErasure(u, e) {
		return bonafide.NotFound("erasure", id)
	}
	writeJSON(w, http.StatusOK, renderErasure(e))
	return nil
}

// decodeErasure reads the body strictly: it must be a JSON object with known fields only, since a
// misspelt selector must never widen or empty an erasure silently.
func decodeErasure(r *http.Request) (*erasureRequest, error) {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &bonafide.Error{Code: bonafide.CodeInvalidStructure,
			Message: "Invalid body structure: the body must be a JSON object with folder_meta_data, folder_ids or person_meta_data"}
	}
	var req erasureRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field == "":
			return nil, &bonafide.Error{Code: bonafide.CodeInvalidStructure,
				Message: "Invalid body structure: the body must be a JSON object, not a JSON " + te.Value}
		case errors.As(err, &te):
			return nil, &bonafide.Error{Code: bonafide.CodeInvalidType, Details: map[string]string{"key_path": te.Field},
				Message: fmt.Sprintf("Invalid param type: %s must be %s, not a JSON %s", te.Field, erasureTypeName(te.Field), te.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return nil, &bonafide.Error{Code: bonafide.CodeInvalidStructure, Details: map[string]string{"key_path": field},
				Message: fmt.Sprintf("Invalid body structure: unknown field %q; an erasure takes %s", field, erasureFields)}
		}
		return nil, &bonafide.Error{Code: bonafide.CodeInvalidStructure, Message: "Invalid body structure: the body is not valid JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, &bonafide.Error{Code: bonafide.CodeInvalidStructure, Message: "Invalid body structure: one JSON object expected"}
	}
	return &req, nil
}

func erasureTypeName(field string) string {
	switch {
	case field == "dry_run":
		return "a boolean (true or false)"
	case field == "folder_ids":
		return "an array of strings"
	case strings.HasPrefix(field, "folder_ids"), field == "company_id":
		return "a string"
	}
	return "an object"
}

// metaStrings reads a meta data selector: every value must be a string (what is compared with
// the top-level key of the stored meta_data).
func metaStrings(field string, raw map[string]json.RawMessage) (map[string]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var v string
		if err := json.Unmarshal(raw[k], &v); err != nil || string(bytes.TrimSpace(raw[k])) == "null" {
			return nil, &bonafide.Error{Code: bonafide.CodeInvalidType, Details: map[string]string{"key_path": field + "." + k},
				Message: fmt.Sprintf("Invalid param type: %s.%s must be a string (meta data values are matched as text)", field, k)}
		}
		out[k] = v
	}
	return out, nil
}

// auditErasure records an erasure request in the audit trail: the receipt, then as many of its
// targets as an entry holds (the receipt lists them all), with the counts selected.
func (s *Server) auditErasure(r *http.Request, e *bonafide.Erasure) {
	objs := []bonafide.AuditObject{bonafide.Obj(bonafide.ObjErasure, e.ID)}
	for _, id := range e.FolderIDs {
		if len(objs) == bonafide.MaxAuditObjects {
			break
		}
		objs = append(objs, bonafide.Obj(bonafide.ObjFolder, id))
	}
	for _, id := range e.PersonIDs {
		if len(objs) == bonafide.MaxAuditObjects {
			break
		}
		objs = append(objs, bonafide.Obj(bonafide.ObjPerson, id))
	}
	s.audited(r, bonafide.AuditErasure, e.CompanyID, map[string]string{
		"dry_run": strconv.FormatBool(e.DryRun), "folders": strconv.Itoa(len(e.FolderIDs)),
		"persons": strconv.Itoa(len(e.PersonIDs))}, objs...)
}
