package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"bonafide"
)

// upload is a parsed multipart request: files by field name and the payload.
type upload struct {
	files   []*uploadFile
	payload payload
	// notes say what of the request was ignored (tags for a file that was not sent); they go to
	// the folder's technical_meta_data.
	notes []string
}

// uploadFile is one file part, spooled to a temporary file while the request is handled.
type uploadFile struct {
	field, name string
	path        string // the temporary file
	size        int64
	sha256      string
	head        []byte // the first sniffLen bytes, enough to tell what the file is
}

// sniffLen is how much of a file sniffUpload looks at (package sniff reads at most the first 1 KiB).
const sniffLen = 4 << 10

// bytes reads the spooled file (the engine takes bytes).
func (f *uploadFile) bytes() ([]byte, error) { return os.ReadFile(f.path) }

// Close removes the upload's temporary files; it may be called more than once.
func (up *upload) Close() {
	for _, f := range up.files {
		if f.path != "" {
			_ = os.Remove(f.path)
			f.path = ""
		}
	}
}

// headBuffer keeps the first sniffLen bytes written to it.
type headBuffer struct{ b []byte }

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := sniffLen - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// spool copies one file part to a temporary file in dir, at most limit bytes (more is reported as
// too large), hashing it on the way.
func spool(dir string, part io.Reader, limit int64) (f *uploadFile, tooLarge bool, err error) {
	tmp, err := os.CreateTemp(dir, "bonafide-upload-*")
	if err != nil {
		return nil, false, fmt.Errorf("spooling an upload: %w", err)
	}
	f = &uploadFile{path: tmp.Name()}
	sum := sha256.New()
	head := &headBuffer{b: make([]byte, 0, sniffLen)}
	n, err := io.Copy(io.MultiWriter(tmp, sum, head), io.LimitReader(part, limit+1))
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("spooling an upload: %w", cerr)
	}
	if err != nil || n > limit {
		_ = os.Remove(f.path)
		return nil, n > limit, err
	}
	f.size, f.sha256, f.head = n, hex.EncodeToString(sum.Sum(nil)), head.b
	return f, false, nil
}

// payload is the JSON of the `payload` part (oz-api.md §3.1).
type payload struct {
	MediaTags          map[string][]string        `json:"media:tags"`
	MediaMeta          map[string]json.RawMessage `json:"media:meta_data"`
	FolderMeta         json.RawMessage            `json:"folder:meta_data"`
	Analyses           []analysisRequest          `json:"analyses"`
	ResolutionEndpoint string                     `json:"resolution_endpoint"`
	AdditionalInfo     json.RawMessage            `json:"additional_info"`
	PersonMeta         json.RawMessage            `json:"person:meta_data"` // persons of a collection
}

// readUpload parses a multipart body, enforcing the file count and size limits. Each file part is
// streamed to a temporary file in UploadDir (never held whole in memory); the caller closes the
// upload to remove them, and on an error none is left. An empty body is an empty upload (a client
// may create an empty folder).
func (s *Server) readUpload(r *http.Request) (_ *upload, err error) {
	up := &upload{}
	defer func() {
		if err != nil {
			up.Close()
		}
	}()
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	if r.ContentLength == 0 && mt != "multipart/form-data" {
		return up, nil
	}
	if mt != "multipart/form-data" || params["boundary"] == "" {
		what := mt
		if what == "" {
			what = "no Content-Type"
		}
		return nil, &bonafide.Error{Code: bonafide.CodeInvalidStructure,
			Message: fmt.Sprintf("Invalid body structure: this endpoint takes multipart/form-data (files under any field names plus a `payload` part holding JSON), but the request has %s; let your HTTP client set the multipart Content-Type with its boundary", what)}
	}
	limit := int64(s.cfg.MaxFiles)*s.cfg.MaxFileBytes + s.cfg.MaxPayloadBytes + 1<<20
	mr := multipart.NewReader(http.MaxBytesReader(nil, r.Body, limit), params["boundary"])
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, &bonafide.Error{Code: bonafide.CodeInvalidStructure, Message: "Invalid body structure: the multipart body is damaged: " + err.Error()}
		}
		field := part.FormName()
		if field == "payload" && part.FileName() == "" {
			data, err := io.ReadAll(io.LimitReader(part, s.cfg.MaxPayloadBytes+1))
			if err != nil {
				return nil, err
			}
			if int64(len(data)) > s.cfg.MaxPayloadBytes {
				return nil, bonafide.Errorf(bonafide.CodeBodyTooBig, "Request data too big: the payload part is over %d bytes", s.cfg.MaxPayloadBytes)
			}
			if err := json.Unmarshal(data, &up.payload); err != nil {
				return nil, &bonafide.Error{Code: bonafide.CodeInvalidStructure,
					Message: "Invalid body structure: the payload part must be a JSON object with keys such as media:tags, folder:meta_data, analyses: " + err.Error(),
					Details: map[string]string{"key_path": "payload"}}
			}
			continue
		}
		if field == "" {
			continue
		}
		if part.FileName() == "" {
			// A part without a file name is a form field, as Django reads it, not a media:
			// additional_info is kept (the Web SDK's client environment), others are ignored.
			if field == "additional_info" {
				data, _ := io.ReadAll(io.LimitReader(part, 64<<10))
				up.payload.AdditionalInfo, _ = json.Marshal(string(data))
			}
			continue
		}
		if len(up.files) >= s.cfg.MaxFiles {
			return nil, bonafide.Errorf(bonafide.CodeInvalidValue, "Invalid param value: at most %d files may be sent at once", s.cfg.MaxFiles)
		}
		if seen[field] {
			return nil, bonafide.Errorf(bonafide.CodeInvalidValue, "Invalid param value: two files were sent under the field name %q; use one name per file", field)
		}
		seen[field] = true
		f, tooLarge, err := spool(s.cfg.UploadDir, part, s.cfg.MaxFileBytes)
		if tooLarge {
			return nil, bonafide.Errorf(bonafide.CodeBodyTooBig, "Request data too big: the file %q is over the %d MB allowed per file", field, s.cfg.MaxFileBytes>>20)
		}
		if err != nil {
			return nil, err
		}
		f.field, f.name = field, path.Base(part.FileName())
		up.files = append(up.files, f)
	}
	// Tags or meta_data for a file that was not sent (a client's optional photo) are ignored, as
	// Oz does, with a note.
	for _, absent := range []struct {
		key    string
		fields []string
	}{{"media:tags", unsent(up.payload.MediaTags, seen)}, {"media:meta_data", unsent(up.payload.MediaMeta, seen)}} {
		for _, field := range absent.fields {
			up.notes = append(up.notes, fmt.Sprintf("%s names the field %q, but no file was sent under that name (files sent: %s); ignored", absent.key, field, strings.Join(fieldNames(up.files), ", ")))
		}
	}
	for field, meta := range up.payload.MediaMeta {
		if seen[field] && !isObject(meta) {
			return nil, bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: media:meta_data of %q must be a JSON object", field)
		}
	}
	if len(up.payload.FolderMeta) > 0 && !isObject(up.payload.FolderMeta) {
		return nil, bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: folder:meta_data must be a JSON object")
	}
	return up, nil
}

// unsent lists, sorted, the fields of m under which no file was sent.
func unsent[V any](m map[string]V, seen map[string]bool) []string {
	var out []string
	for field := range m {
		if !seen[field] {
			out = append(out, field)
		}
	}
	slices.Sort(out)
	return out
}

// withNotes appends notes to the "notes" list of a technical_meta_data object.
func withNotes(tech json.RawMessage, notes []string) json.RawMessage {
	if len(notes) == 0 {
		return tech
	}
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(obj(tech), &m)
	var all []string
	_ = json.Unmarshal(m["notes"], &all)
	m["notes"], _ = json.Marshal(append(all, notes...))
	out, _ := json.Marshal(m)
	return out
}

func fieldNames(fs []*uploadFile) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.field)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

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

// createFolder answers POST /api/folders: the folder with its media; with `analyses` in the
// payload it is the single-request mode and answers when they finish (or at the timeout).
func (s *Server) createFolder(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	if !canWrite(p) {
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
				s.log.Warn("folder of a refused upload not deleted", "folder_id", f.ID, "err", derr)
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
	if flt.CompanyID, flt.UserID, err = folderScope(p); err != nil {
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
	if !canDelete(caller(r)) {
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
	if !canWrite(caller(r)) {
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

// addMedia answers POST /api/folders/{id}/media with a bare array of media objects.
func (s *Server) addMedia(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	if !canWrite(p) {
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
	if !canWrite(caller(r)) {
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
	if !canDelete(caller(r)) {
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
			s.log.Warn("stored file not deleted", "key", k, "err", err)
		}
	}
}

// static serves media files and best shots to those allowed to see their folder. Keys are
// "<folder_id>/<file>".
// staticSigned answers GET /static/{key}: with a signature (a rendered original_url) the link
// itself is the permission; without one, the token header and the folder's tenancy are.
func (s *Server) staticSigned(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Has("signature") {
		if err := s.checkSignature(r); err != nil {
			return err
		}
		return s.serveFile(w, r, r.PathValue("key"))
	}
	p, err := s.authenticate(r)
	if err != nil {
		return err
	}
	return s.static(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	folderID, file, ok := strings.Cut(key, "/")
	if !ok || file == "" || strings.Contains(file, "/") || strings.Contains(key, "..") {
		return bonafide.NotFound("file", key)
	}
	if _, err := s.folder(r, folderID); err != nil {
		return bonafide.NotFound("file", key)
	}
	return s.serveFile(w, r, key)
}

// serveFile sends a stored file.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, key string) error {
	_, file, ok := strings.Cut(key, "/")
	if !ok || file == "" || strings.Contains(file, "/") || strings.Contains(key, "..") {
		return bonafide.NotFound("file", key)
	}
	data, err := s.blobs.Get(r.Context(), key)
	if err != nil {
		return bonafide.NotFound("file", key)
	}
	ct := mime.TypeByExtension(path.Ext(file))
	if ct == "" {
		ct = http.DetectContentType(data)
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, file, time.Time{}, bytes.NewReader(data))
	return nil
}
