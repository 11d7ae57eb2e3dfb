package api

// Files under /static/: media and best shots, served to those allowed to see their folder.
// Keys are "<folder_id>/<file>", and "<folder_id>/<file>/images/<n>" for frame n of a shot set
// (frames.go).

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"bonafide"
)

// staticSigned answers GET /static/{key}: with a signature (a rendered original_url) the link
// itself is the permission; without one, the token header and the folder's tenancy are.
func (s *Server) staticSigned(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Has("signature") {
		if err := s.checkSignature(r); err != nil {
			return err
		}
		key := r.PathValue("key")
		folderID, _, _ := strings.Cut(key, "/")
		f, err := s.store.GetFolder(r.Context(), folderID)
		if err != nil {
			return bonafide.NotFound("file", key)
		}
		return s.serveFile(w, r, key, func() error { return s.auditFile(r, f, key, "signed_url") })
	}
	p, err := s.authenticate(r)
	if err != nil {
		return err
	}
	return s.static(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
}

// static serves the file of the key to a caller allowed to see its folder; any other key is
// "not exist".
func (s *Server) static(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	if zipKey, _, ok := parseFrameKey(key); ok {
		folderID, _, _ := strings.Cut(zipKey, "/")
		f, err := s.folder(r, folderID)
		if err != nil {
			return bonafide.NotFound("file", key)
		}
		return s.serveFile(w, r, key, func() error { return s.auditFile(r, f, key, "token") })
	}
	folderID, file, ok := strings.Cut(key, "/")
	if !ok || file == "" || strings.Contains(file, "/") || strings.Contains(key, "..") {
		return bonafide.NotFound("file", key)
	}
	f, err := s.folder(r, folderID)
	if err != nil {
		return bonafide.NotFound("file", key)
	}
	return s.serveFile(w, r, key, func() error { return s.auditFile(r, f, key, "token") })
}

// serveFile sends a stored file, recording its read first (audit): a read that cannot be recorded
// is refused.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, key string, audit func() error) error {
	if zipKey, n, ok := parseFrameKey(key); ok {
		return s.serveFrame(w, r, zipKey, n, audit)
	}
	_, file, ok := strings.Cut(key, "/")
	if !ok || file == "" || strings.Contains(file, "/") || strings.Contains(key, "..") {
		return bonafide.NotFound("file", key)
	}
	if err := s.goneFile(r.Context(), key); err != nil {
		return err
	}
	data, err := s.blobs.Get(r.Context(), key)
	if err != nil {
		return bonafide.NotFound("file", key)
	}
	if err := audit(); err != nil {
		return err
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
