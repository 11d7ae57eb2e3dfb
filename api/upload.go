package api

// The multipart upload of POST /api/folders, POST /api/folders/{id}/media and the capture page:
// file parts spooled to UploadDir within the limits, sniffed from their first bytes, and the JSON
// payload part.

import (
	"bytes"
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
