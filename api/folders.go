package api

// Folders: /api/folders and /api/folders/{id} (with the single-request mode) and the folder's
// meta_data.

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"bonafide"
)

// createFolder answers POST /api/folders: the folder with its media; with `analyses` in the
// payload it is the single-request mode and answers when they finish (or at the timeout).
func (s *Server) createFolder(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	if !bonafide.CanWrite(p.user) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: %s users cannot create folders", p.user.Role)
	}
	up, err := s.readUpload(r)
	if err != nil {
		return err
	}
	defer up.Close()
	if err := s.checkEndpoint(up.payload.ResolutionEndpoint); err != nil {
		return err
	}
	f := &bonafide.Folder{ID: uuid.NewString(), CompanyID: p.user.CompanyID, UserID: p.user.ID,
		MetaData: obj(up.payload.FolderMeta), ResolutionEndpoint: up.payload.ResolutionEndpoint}
	f.TechnicalMetaData = withNotes(nil, up.notes)
	if len(up.payload.AdditionalInfo) > 0 {
		tech := map[string]json.RawMessage{}
		_ = json.Unmarshal(obj(f.TechnicalMetaData), &tech)
		tech["additional_info"] = up.payload.AdditionalInfo
		f.TechnicalMetaData, _ = json.Marshal(tech)
	}
	ms, err := s.newMedia(f.ID, up)
	if err != nil {
		return err
	}
	var analyses []*bonafide.Analysis
	if len(up.payload.Analyses) > 0 {
		if analyses, err = s.buildAnalyses(p, f.ID, ms, up.payload.Analyses); err != nil {
			return err
		}
	}
	// Everything is validated: only now is anything written, and a failure undoes it.
	if err := s.storeMedia(r.Context(), ms, up); err != nil {
		return err
	}
	if err := s.store.CreateFolder(r.Context(), f, ms); err != nil {
		s.discardMedia(r.Context(), ms)
		return err
	}
	if len(analyses) > 0 {
		if err := s.store.CreateAnalyses(r.Context(), analyses); err != nil {
			// The request is refused as a whole: the folder goes too.
			ctx := context.WithoutCancel(r.Context())
			if derr := s.store.DeleteFolder(ctx, f.ID); derr != nil {
				s.log.WarnContext(r.Context(), "folder of a refused upload not deleted", "folder_id", f.ID, "err", derr)
			}
			s.discardMedia(ctx, ms)
			return err
		}
		s.metrics.analysesStarted.Add(float64(len(analyses)))
		s.waitAnalyses(r.Context(), f.ID, s.cfg.SingleRequestTimeout)
	}
	b, err := s.renderFolder(r.Context(), f, folderOpts{analyses: len(analyses) > 0})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, b)
	return nil
}

// waitAnalyses polls until no analysis of the folder is processing, or the timeout.
func (s *Server) waitAnalyses(ctx context.Context, folderID string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		as, err := s.store.ListAnalyses(ctx, folderID)
		if err == nil {
			if st, _ := bonafide.FolderStatus(as); st != bonafide.StateProcessing {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Server) checkEndpoint(url string) error {
	if url == "" || s.cfg.ValidateWebhook == nil {
		return nil
	}
	if err := s.cfg.ValidateWebhook(url); err != nil {
		return &bonafide.Error{Code: bonafide.CodeInvalidValue, Message: "Invalid param value: resolution_endpoint: " + err.Error(),
			Details: map[string]string{"key_path": "resolution_endpoint"}}
	}
	return nil
}

// getFolder answers GET /api/folders/{id}.
func (s *Server) getFolder(w http.ResponseWriter, r *http.Request) error {
	f, err := s.folder(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	b, err := s.renderFolder(r.Context(), f, folderOpts{analyses: boolParam(r, "with_analyses"),
		user: boolParam(r, "with_user"), company: boolParam(r, "with_company")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// listFolders answers GET /api/folders with the lamb pagination envelope.
func (s *Server) listFolders(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	q := r.URL.Query()
	flt, err := parseFolderQuery(q)
	if err != nil {
		return err
	}
	if flt.CompanyID, flt.UserID, err = bonafide.FolderScope(p.user); err != nil {
		return err
	}
	folders, total, err := s.store.ListFolders(r.Context(), flt)
	if err != nil {
		return err
	}
	items := []*folderBody{}
	for _, f := range folders {
		b, err := s.renderFolder(r.Context(), f, folderOpts{analyses: boolParam(r, "with_analyses")})
		if err != nil {
			return err
		}
		items = append(items, b)
	}
	var tc *int
	if flt.WithTotal {
		tc = &total
	}
	writeJSON(w, http.StatusOK, map[string]any{"offset": flt.Offset, "limit": flt.Limit, "total_count": tc, "items": items})
	return nil
}

// deleteFolder answers DELETE /api/folders/{id} (ADMIN, CLIENT ADMIN).
func (s *Server) deleteFolder(w http.ResponseWriter, r *http.Request) error {
	f, err := s.folder(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !bonafide.CanDelete(caller(r).user) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: only ADMIN and CLIENT ADMIN delete folders")
	}
	ms, err := s.store.ListMedia(r.Context(), f.ID)
	if err != nil {
		return err
	}
	keys, err := s.bestShotKeys(r.Context(), f.ID, "")
	if err != nil {
		return err
	}
	if err := s.store.DeleteFolder(r.Context(), f.ID); err != nil {
		return err
	}
	for _, m := range ms {
		keys = append(keys, m.BlobKey)
	}
	s.deleteBlobs(r.Context(), keys)
	s.audited(r, bonafide.AuditFolderDelete, f.CompanyID, map[string]string{"media": strconv.Itoa(len(ms))}, bonafide.Obj(bonafide.ObjFolder, f.ID))
	writeJSON(w, http.StatusOK, map[string]string{"folder_id": f.ID})
	return nil
}

// Folder meta_data sub-resource.
func (s *Server) getFolderMeta(w http.ResponseWriter, r *http.Request) error {
	f, err := s.folder(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, obj(f.MetaData))
	return nil
}

func (s *Server) setFolderMeta(w http.ResponseWriter, r *http.Request) error {
	return s.changeFolderMeta(w, r, func(old, in map[string]json.RawMessage) map[string]json.RawMessage { return in })
}

func (s *Server) patchFolderMeta(w http.ResponseWriter, r *http.Request) error {
	return s.changeFolderMeta(w, r, func(old, in map[string]json.RawMessage) map[string]json.RawMessage {
		for k, v := range in {
			old[k] = v
		}
		return old
	})
}

func (s *Server) deleteFolderMeta(w http.ResponseWriter, r *http.Request) error {
	return s.changeFolderMeta(w, r, func(old, in map[string]json.RawMessage) map[string]json.RawMessage {
		return map[string]json.RawMessage{}
	})
}

func (s *Server) changeFolderMeta(w http.ResponseWriter, r *http.Request, merge func(old, in map[string]json.RawMessage) map[string]json.RawMessage) error {
	if !bonafide.CanWrite(caller(r).user) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource")
	}
	f, err := s.folder(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	in := map[string]json.RawMessage{}
	if r.Method != http.MethodDelete {
		if err := decodeBody(r, &in); err != nil {
			return err
		}
	}
	old := map[string]json.RawMessage{}
	_ = json.Unmarshal(obj(f.MetaData), &old)
	f.MetaData, _ = json.Marshal(merge(old, in))
	if err := s.store.UpdateFolder(r.Context(), f); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f.MetaData)
	return nil
}
