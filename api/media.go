package api

// Media: the rows made from an upload and stored with their files, and the /api/media and
// /api/folders/{id}/media handlers.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"

	"bonafide"
)

// newMedia sniffs every file and returns the media rows to insert, in the order of up.files; it
// stores nothing, so a refused file refuses the upload before anything is written.
func (s *Server) newMedia(folderID string, up *upload) ([]*bonafide.Media, error) {
	var out []*bonafide.Media
	for _, f := range up.files {
		mk, format, what := sniffUpload(f.head)
		if mk == "" {
			if f.size == 0 {
				return nil, bonafide.Errorf(bonafide.CodeInvalidValue, "Invalid param value: the file %q (%s) is empty", f.field, f.name)
			}
			return nil, bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: the file %q (%s) is %s, not a photo (JPEG, PNG, WebP, BMP), a video (mp4, mov, webm, mkv, avi, mpeg) or a zip of frames", f.field, f.name, what)
		}
		id := uuid.NewString()
		m := &bonafide.Media{ID: id, FolderID: folderID, Kind: mk, OriginalName: f.name, FieldName: f.field,
			BlobKey: fmt.Sprintf("%s/%s.%s", folderID, id, format), ContentType: contentType(format), Size: f.size,
			SHA256: f.sha256, Tags: nonNil(up.payload.MediaTags[f.field]), MetaData: obj(up.payload.MediaMeta[f.field])}
		if mk == bonafide.KindShotSet {
			m.Info = shotSetInfo(f)
		}
		out = append(out, m)
	}
	return out, nil
}

// storeMedia streams each spooled file (ms[i] is up.files[i]) to blob storage. When one fails, the
// files already written are deleted again and the error returned.
func (s *Server) storeMedia(ctx context.Context, ms []*bonafide.Media, up *upload) error {
	for i, m := range ms {
		err := func() error {
			f, err := os.Open(up.files[i].path)
			if err != nil {
				return err
			}
			defer f.Close()
			return s.blobs.Upload(ctx, m.BlobKey, f, m.ContentType)
		}()
		if err != nil {
			s.discardMedia(ctx, ms[:i+1])
			return fmt.Errorf("storing %s: %w", m.FieldName, err)
		}
	}
	return nil
}

// discardMedia deletes the stored files of media whose rows were never committed. It runs even
// when the request's context has ended (a client that hung up is one way to get here).
func (s *Server) discardMedia(ctx context.Context, ms []*bonafide.Media) {
	keys := make([]string, 0, len(ms))
	for _, m := range ms {
		keys = append(keys, m.BlobKey)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	s.deleteBlobs(ctx, keys)
}

func contentType(format string) string {
	switch format {
	case "jpeg":
		return "image/jpeg"
	case "png", "webp", "bmp":
		return "image/" + format
	case "zip":
		return "application/zip"
	case "mov":
		return "video/quicktime"
	case "mkv":
		return "video/x-matroska"
	case "avi":
		return "video/x-msvideo"
	}
	return "video/" + format
}

// addMedia answers POST /api/folders/{id}/media with a bare array of media objects.
func (s *Server) addMedia(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	if !bonafide.CanWrite(p.user) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource")
	}
	f, err := s.folder(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	up, err := s.readUpload(r)
	if err != nil {
		return err
	}
	defer up.Close()
	if len(up.files) == 0 {
		return &bonafide.Error{Code: bonafide.CodeInvalidStructure, Message: "Invalid body structure: no file was sent"}
	}
	existing, err := s.store.ListMedia(r.Context(), f.ID)
	if err != nil {
		return err
	}
	if len(existing)+len(up.files) > s.cfg.MaxFiles {
		return bonafide.Errorf(bonafide.CodeInvalidValue, "Invalid param value: a folder holds at most %d files; it has %d", s.cfg.MaxFiles, len(existing))
	}
	ms, err := s.newMedia(f.ID, up)
	if err != nil {
		return err
	}
	if err := s.storeMedia(r.Context(), ms, up); err != nil {
		return err
	}
	if err := s.store.AddMedia(r.Context(), f.ID, ms); err != nil {
		s.discardMedia(r.Context(), ms)
		return err
	}
	if len(up.notes) > 0 {
		f.TechnicalMetaData = withNotes(f.TechnicalMetaData, up.notes)
		if err := s.store.UpdateFolder(r.Context(), f); err != nil {
			return err
		}
	}
	out := []mediaBody{}
	for _, m := range ms {
		out = append(out, s.renderMedia(m))
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listFolderMedia(w http.ResponseWriter, r *http.Request) error {
	f, err := s.folder(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	ms, err := s.store.ListMedia(r.Context(), f.ID)
	if err != nil {
		return err
	}
	out := []mediaBody{}
	for _, m := range ms {
		out = append(out, s.renderMedia(m))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// mediaOf loads a media whose folder the caller may see.
func (s *Server) mediaOf(r *http.Request) (*bonafide.Media, error) {
	id := r.PathValue("id")
	m, err := s.store.GetMedia(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if _, err := s.folder(r, m.FolderID); err != nil {
		return nil, bonafide.NotFound("media", id)
	}
	return m, nil
}

func (s *Server) getMedia(w http.ResponseWriter, r *http.Request) error {
	m, err := s.mediaOf(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderMedia(m))
	return nil
}

// patchMedia retags a media: {"tags": [...]}; [] clears them.
func (s *Server) patchMedia(w http.ResponseWriter, r *http.Request) error {
	if !bonafide.CanWrite(caller(r).user) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource")
	}
	m, err := s.mediaOf(r)
	if err != nil {
		return err
	}
	var body struct {
		Tags     *[]string       `json:"tags"`
		MetaData json.RawMessage `json:"meta_data"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Tags == nil && body.MetaData == nil {
		return missingField("tags")
	}
	if body.Tags != nil {
		m.Tags = nonNil(*body.Tags)
	}
	if body.MetaData != nil {
		if !isObject(body.MetaData) {
			return bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: meta_data must be a JSON object")
		}
		m.MetaData = body.MetaData
	}
	if err := s.store.UpdateMedia(r.Context(), m); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderMedia(m))
	return nil
}

func (s *Server) deleteMedia(w http.ResponseWriter, r *http.Request) error {
	m, err := s.mediaOf(r)
	if err != nil {
		return err
	}
	if !bonafide.CanDelete(caller(r).user) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: only ADMIN and CLIENT ADMIN delete files")
	}
	// The media's best shots (face crops: biometric data) go with it.
	keys, err := s.bestShotKeys(r.Context(), m.FolderID, m.ID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteMedia(r.Context(), m.ID); err != nil {
		return err
	}
	s.deleteBlobs(r.Context(), append(keys, m.BlobKey))
	company := ""
	if f, err := s.store.GetFolder(r.Context(), m.FolderID); err == nil {
		company = f.CompanyID
	}
	s.audited(r, bonafide.AuditMediaDelete, company, nil, bonafide.Obj(bonafide.ObjFolder, m.FolderID), bonafide.Obj(bonafide.ObjMedia, m.ID))
	writeJSON(w, http.StatusOK, map[string]string{"media_id": m.ID})
	return nil
}

// bestShotKeys lists the stored best shots of a folder's analyses, of one media when mediaID is set.
func (s *Server) bestShotKeys(ctx context.Context, folderID, mediaID string) ([]string, error) {
	as, err := s.store.ListAnalyses(ctx, folderID)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, a := range as {
		for _, res := range a.Results {
			if res.BestShotKey != "" && (mediaID == "" || res.MediaID == mediaID) {
				keys = append(keys, res.BestShotKey)
			}
		}
	}
	return keys, nil
}

// deleteBlobs removes stored files after their rows are gone; a file that cannot be removed now
// is logged (the rows no longer refer to it).
func (s *Server) deleteBlobs(ctx context.Context, keys []string) {
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, k); err != nil && bonafide.CodeOf(err) != bonafide.CodeNotExist {
			s.log.WarnContext(ctx, "stored file not deleted", "key", k, "err", err)
		}
	}
}
