package media

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"strings"

	"bonafide/media/sniff"
)

// A shot set is a zip of JPEG/PNG frames. Zips come from clients, so the archive is held to limits on
// its directory before any entry is decompressed (entry count, names, per-entry and total sizes, the
// compression ratio) and every read is bounded again, since a directory can lie. Entries are never
// written to disk, so names matter only as a sign of a hostile archive.

// ratioFloor is the uncompressed size under which an entry's compression ratio is not checked: a small
// entry cannot be a bomb, and small text or metadata files legitimately compress more than 100:1.
const ratioFloor = 64 << 10

// zipEntry is one usable frame of a shot set.
type zipEntry struct {
	file   *zip.File
	format string // "jpeg" or "png", from its bytes
	pos    int    // position among all usable entries, before spacing out
}

// openShotSet validates a zip's directory, finds its image entries (by their bytes) and picks up to
// MaxFrames of them, evenly spaced in name order. The first one is read and its header checked.
func openShotSet(ctx context.Context, name string, data []byte, l Limits) (*Media, error) {
	if n, ok := sniff.ZipEntryCount(data); ok && n > l.MaxZipEntries {
		// Refuse before archive/zip parses (and allocates for) a huge directory.
		return nil, unsafeZip(name, "the zip archive has %d entries, more than the %d allowed", n, l.MaxZipEntries)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, newError(CodeCorrupt, name, err, "the zip archive is damaged")
	}
	if len(zr.File) > l.MaxZipEntries {
		return nil, unsafeZip(name, "the zip archive has %d entries, more than the %d allowed", len(zr.File), l.MaxZipEntries)
	}
	var total uint64
	for _, f := range zr.File {
		if reason := unsafeEntryName(f.Name); reason != "" {
			return nil, unsafeZip(name, "entry %q %s", f.Name, reason)
		}
		if strings.EqualFold(path.Ext(f.Name), ".zip") {
			return nil, unsafeZip(name, "entry %q is another zip archive; nested archives are not accepted", f.Name)
		}
		size := f.UncompressedSize64
		if size > uint64(l.MaxZipEntryBytes) {
			return nil, unsafeZip(name, "entry %q unpacks to %s, more than the %s allowed per entry",
				f.Name, byteSize(clampInt64(size)), byteSize(l.MaxZipEntryBytes))
		}
		if size > ratioFloor {
			ratio := math.Inf(1)
			if f.CompressedSize64 > 0 {
				ratio = float64(size) / float64(f.CompressedSize64)
			}
			if ratio > l.MaxZipRatio {
				return nil, unsafeZip(name, "entry %q is compressed %.0f:1, more than the %g:1 allowed (a zip bomb?)",
					f.Name, ratio, l.MaxZipRatio)
			}
		}
		total += size
		if total > uint64(l.MaxZipTotalBytes) {
			return nil, unsafeZip(name, "the zip archive unpacks to more than the %s allowed", byteSize(l.MaxZipTotalBytes))
		}
	}

	// Candidates in name order; each is identified by its first bytes, not its name.
	files := slices.Clone(zr.File)
	slices.SortStableFunc(files, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	var usable []zipEntry
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, ctxError(ctx, name, l.Timeout)
		}
		if sniff.SkippedEntry(f.Name, f.FileInfo().IsDir()) {
			continue
		}
		head, err := entryHead(f)
		if err != nil {
			continue // unreadable (unknown compression method, encrypted): not a frame we can use
		}
		sn := sniff.Sniff(head)
		switch {
		case sn.Kind == ShotSet || sn.What == "an archive other than zip":
			return nil, unsafeZip(name, "entry %q is another archive; nested archives are not accepted", f.Name)
		case sniff.FrameFormat(head) != "":
			usable = append(usable, zipEntry{file: f, format: sn.Format, pos: len(usable)})
		}
	}
	if len(usable) == 0 {
		return nil, newError(CodeNoFrames, name, nil, "the zip archive holds no JPEG or PNG images")
	}
	m := &Media{name: name, limits: l, zip: zr, info: Info{Kind: ShotSet, Format: "zip"}}
	for _, i := range spread(len(usable), l.MaxFrames) {
		m.entries = append(m.entries, usable[i])
		m.info.Entries = append(m.info.Entries, usable[i].file.Name)
	}
	m.info.Frames = len(m.entries)

	first, err := readEntry(name, m.entries[0].file, l.MaxZipEntryBytes)
	if err != nil {
		return nil, err
	}
	hdr, err := probeImage(name, m.entries[0].format, first, l)
	if err != nil {
		return nil, inEntry(err, m.entries[0].file.Name)
	}
	m.first = first
	m.info.Width, m.info.Height = hdr.displaySize()
	m.info.Orientation = hdr.orientation
	return m, nil
}

// shotSetFrames decodes the chosen entries in order, each through the image path (pixel limit from
// the header first, then EXIF orientation and downscaling).
func (m *Media) shotSetFrames(ctx context.Context, emit func(Frame) error) error {
	var total int64
	for i, e := range m.entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		data := m.first
		if i > 0 {
			var err error
			if data, err = readEntry(m.name, e.file, m.limits.MaxZipEntryBytes); err != nil {
				return err
			}
		}
		m.first = nil
		if total += int64(len(data)); total > m.limits.MaxZipTotalBytes {
			return unsafeZip(m.name, "the zip archive unpacks to more than the %s allowed", byteSize(m.limits.MaxZipTotalBytes))
		}
		hdr, err := probeImage(m.name, e.format, data, m.limits)
		if err != nil {
			return inEntry(err, e.file.Name)
		}
		img, err := m.decodeBudgeted(ctx, data, hdr)
		if err != nil {
			return inEntry(err, e.file.Name)
		}
		if err := emit(Frame{Index: i, Time: float64(e.pos), Name: e.file.Name, Image: img}); err != nil {
			return err
		}
	}
	return nil
}

// spread returns up to k indices out of n, evenly spaced and including the first and the last.
func spread(n, k int) []int {
	if n <= k {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	if k == 1 {
		return []int{0}
	}
	idx := make([]int, k)
	for i := range idx {
		idx[i] = int(math.Round(float64(i) * float64(n-1) / float64(k-1)))
	}
	return idx
}

// readEntry decompresses one entry, reading at most limit bytes whatever its header says.
func readEntry(file string, f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, newError(CodeCorrupt, file, err, "entry %q cannot be read", f.Name)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if int64(len(data)) > limit {
		return nil, unsafeZip(file, "entry %q unpacks to more than the %s allowed per entry", f.Name, byteSize(limit))
	}
	if err != nil {
		if errors.Is(err, zip.ErrFormat) {
			// Once an entry is open, archive/zip reports ErrFormat when it unpacks to more than its
			// header declares (it checks as it reads).
			return nil, unsafeZip(file, "entry %q holds more data than its header declares", f.Name)
		}
		return nil, newError(CodeCorrupt, file, err, "entry %q is damaged", f.Name)
	}
	return data, nil
}

// entryHead returns the first bytes of an entry, enough to sniff its format.
func entryHead(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	head := make([]byte, 32)
	n, err := io.ReadFull(rc, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return head[:n], nil
}

// unsafeEntryName returns why an entry name is unsafe ("" if it is not): an absolute path, a parent
// directory element or a NUL. Backslashes count as separators, as Windows tools write them.
func unsafeEntryName(name string) string {
	n := strings.ReplaceAll(name, `\`, "/")
	switch {
	case n == "":
		return "has an empty name"
	case strings.ContainsRune(n, 0):
		return "has a NUL in its name"
	case strings.HasPrefix(n, "/"):
		return "has an absolute path"
	case len(n) >= 2 && n[1] == ':':
		return "has a drive letter in its path"
	}
	for elem := range strings.SplitSeq(n, "/") {
		if elem == ".." {
			return "points outside the archive (..)"
		}
	}
	return ""
}

func unsafeZip(file, format string, args ...any) *Error {
	return newError(CodeUnsafeZip, file, nil, format, args...)
}

// inEntry names a shot-set entry in an *Error's message.
func inEntry(err error, entry string) error {
	var me *Error
	if !errors.As(err, &me) {
		return fmt.Errorf("entry %q: %w", entry, err)
	}
	c := *me
	c.Msg = fmt.Sprintf("entry %q: %s", entry, c.Msg)
	return &c
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
