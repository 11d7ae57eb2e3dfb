package api

// The frames of a shot set (a zip of JPEG/PNG frames): listed in a media's images[] (Oz's
// source_media[].images[].original_url, read by Web SDK integrations) and served one at a time
// under /static/<folder_id>/<media file>/images/<n>, signed like every other URL. Which entries
// are frames, and in which order, is package sniff's rule, the decoder's too, so frame n is the
// picture the engine calls frame n of the whole set. The frame count is read from the upload and
// kept in the media's info ("frames"); a frame is read from the stored zip on request, bounded.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"bonafide"
	"bonafide/media/sniff"
)

// maxShotSetEntries bounds the zip directory the API reads (entries of any kind), as the decoder's
// default media limit does: a larger archive lists no frames.
const maxShotSetEntries = 200

// shotSetFrames returns the frames of a zip in data, in order, with their formats; none when the
// archive cannot be read or its directory is over maxShotSetEntries.
func shotSetFrames(data []byte) ([]*zip.File, []string) {
	if n, ok := sniff.ZipEntryCount(data); !ok || n > maxShotSetEntries {
		return nil, nil
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(zr.File) > maxShotSetEntries {
		return nil, nil
	}
	files := slices.Clone(zr.File)
	slices.SortStableFunc(files, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	var frames []*zip.File
	var formats []string
	for _, f := range files {
		if sniff.SkippedEntry(f.Name, f.FileInfo().IsDir()) {
			continue
		}
		if format := sniff.FrameFormat(zipHead(f)); format != "" {
			frames, formats = append(frames, f), append(formats, format)
		}
	}
	return frames, formats
}

// zipHead is the first bytes of an entry (nil when it cannot be read).
func zipHead(f *zip.File) []byte {
	rc, err := f.Open()
	if err != nil {
		return nil
	}
	defer rc.Close()
	head := make([]byte, 32)
	n, _ := io.ReadFull(rc, head)
	return head[:n]
}

// shotSetInfo is the info of an uploaded shot set: how many frames it holds (nil when none can be
// read; the analysis then says why).
func shotSetInfo(f *uploadFile) json.RawMessage {
	data, err := f.bytes()
	if err != nil {
		return nil
	}
	frames, _ := shotSetFrames(data)
	if len(frames) == 0 {
		return nil
	}
	raw, _ := json.Marshal(map[string]int{"frames": len(frames)})
	return raw
}

// frameImages is images[] of a shot-set media: one signed original_url a frame; nil for other media.
func (s *Server) frameImages(m *bonafide.Media) []imageBody {
	if m.Kind != bonafide.KindShotSet || len(m.Info) == 0 {
		return nil
	}
	var info struct {
		Frames int `json:"frames"`
	}
	if json.Unmarshal(m.Info, &info) != nil || info.Frames <= 0 {
		return nil
	}
	out := make([]imageBody, 0, min(info.Frames, maxShotSetEntries))
	for i := range min(info.Frames, maxShotSetEntries) {
		out = append(out, imageBody{OriginalURL: s.url(frameKey(m.BlobKey, i))})
	}
	return out
}

// frameKey is the /static/ key of frame i of the shot set stored under key.
func frameKey(key string, i int) string { return fmt.Sprintf("%s/images/%d", key, i) }

// parseFrameKey splits "<folder_id>/<file>/images/<n>" into the stored zip's key and n.
func parseFrameKey(key string) (zipKey string, n int, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" || parts[2] != "images" || strings.Contains(key, "..") {
		return "", 0, false
	}
	n, err := strconv.Atoi(parts[3])
	if err != nil || n < 0 || n >= maxShotSetEntries || strconv.Itoa(n) != parts[3] {
		return "", 0, false
	}
	return parts[0] + "/" + parts[1], n, true
}

// serveFrame sends frame n of the shot set stored under zipKey: the zip is read whole (a stored
// media, so within the upload's size limit), its directory bounded, the frame decompressed up to
// MaxFileBytes, its read recorded (audit) before it is sent. Anything else is "not exist".
func (s *Server) serveFrame(w http.ResponseWriter, r *http.Request, zipKey string, n int, audit func() error) error {
	key := frameKey(zipKey, n)
	if !strings.HasSuffix(zipKey, ".zip") {
		return bonafide.NotFound("file", key)
	}
	data, err := s.blobs.Get(r.Context(), zipKey)
	if err != nil {
		return bonafide.NotFound("file", key)
	}
	frames, formats := shotSetFrames(data)
	if n >= len(frames) {
		return bonafide.NotFound("file", key)
	}
	rc, err := frames[n].Open()
	if err != nil {
		return bonafide.NotFound("file", key)
	}
	defer rc.Close()
	limit := s.cfg.MaxFileBytes
	img, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil || int64(len(img)) > limit {
		return bonafide.Errorf(bonafide.CodeInvalidValue, "Invalid param value: frame %d of the shot set cannot be read within %d bytes", n, limit)
	}
	if err := audit(); err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType(formats[n]))
	w.Header().Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, fmt.Sprintf("%d.%s", n, formats[n]), time.Time{}, bytes.NewReader(img))
	return nil
}
