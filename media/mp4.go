package media

// An MP4 or QuickTime file (ISO base media file format) says what ffprobe would say about its video
// stream in a few boxes of its index (moov), so the stream to decode is read here, in Go, and a video
// costs one process (the ffmpeg that decodes it) instead of two. The reader answers only where its
// answer is the one ffprobe 5.1 gives through parseProbe (the same videoStream, field for field);
// wherever it is unsure (a fragmented file, several video tracks, a codec other than H.264 or HEVC,
// cover art, a flipped or skewed display matrix, a cut file, tables that disagree...) it says why and
// ffprobe decides, as it does for every other container.
//
// What ffprobe reports, from FFmpeg 5.1's mov demuxer (libavformat/mov.c) and ffprobe.c:
//   - index: the streams are the trak boxes in order (and cover art, which we leave to ffprobe);
//   - codec: from the sample entry's four-character code (avc1/avc3: h264, hvc1/hev1: hevc);
//   - width, height: the decoder's, from the sequence parameter set after cropping; we take the
//     sample entry's size only when the SPS agrees with it;
//   - rotation: from the track header's matrix (with the movie header's), as a display matrix;
//   - duration: mdhd's duration, lowered to the sum of the stts durations and to the sum of the
//     edit list's durations (mov_read_stts, mov_fix_index), in the media timescale, printed with
//     six decimals;
//   - avg_frame_rate: timescale x samples / sum of stts durations, reduced as av_reduce does;
//   - nb_frames: the number of samples in stts.
//
// The reader is bounded: it reads the top-level box headers, the moov box (at most mp4MaxMoov
// bytes) wherever it lies, and the NAL unit headers and parameter sets of the first video sample;
// it walks a fixed tree (moov/trak/mdia/minf/stbl/stsd), so nesting is bounded by construction,
// caps the boxes it walks, checks every table's count against the bytes that hold it, and never
// allocates from a count the file gives.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// mp4Unsure is why the Go reader left a file to ffprobe.
type mp4Unsure struct{ reason string }

func (e *mp4Unsure) Error() string { return "mp4 header: " + e.reason }

func unsure(format string, args ...any) error {
	return &mp4Unsure{fmt.Sprintf(format, args...)}
}

const (
	mp4MaxMoov     = 16 << 20 // bytes of the moov box read into memory
	mp4MaxTopBoxes = 4096     // top-level boxes walked
	mp4MaxBoxes    = 100_000  // boxes walked inside moov
	mp4MaxTracks   = 64
	mp4MaxMdats    = 64
	mp4MaxNALs     = 64   // NAL units looked at in the first video sample
	mp4MaxParamSet = 4096 // bytes of a parameter set read from the first video sample
	// mp4MaxSttsDelta is FFmpeg's max_stts_delta: a larger sample duration is taken for a negative
	// correction and rewritten, which we do not follow.
	mp4MaxSttsDelta = math.MaxUint32 - 48000*10
	mp4Identity     = 0x10000 // 1.0 in 16.16
)

// readMP4File reads the video stream of the MP4 or QuickTime file at path from its header.
func readMP4File(path string) (videoStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return videoStream{}, unsure("%v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return videoStream{}, unsure("%v", err)
	}
	return readMP4Header(f, fi.Size())
}

// readMP4Header reads the video stream of an ISO BMFF file of size bytes from its boxes. Any error
// is an *mp4Unsure: the caller asks ffprobe instead.
func readMP4Header(r io.ReaderAt, size int64) (videoStream, error) {
	var (
		moov  []byte
		mdats [][2]int64 // [start, end) of each mdat's payload
		hdr   [16]byte
	)
	for off, n := int64(0), 0; off < size; n++ {
		if n == mp4MaxTopBoxes {
			return videoStream{}, unsure("more than %d top-level boxes", mp4MaxTopBoxes)
		}
		if size-off < 8 {
			return videoStream{}, unsure("%d stray bytes at the end of the file", size-off)
		}
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return videoStream{}, unsure("reading a box header: %v", err)
		}
		boxSize, hl := int64(binary.BigEndian.Uint32(hdr[:])), int64(8)
		typ := string(hdr[4:8])
		switch boxSize {
		case 1:
			if size-off < 16 {
				return videoStream{}, unsure("the %q box header is cut", typ)
			}
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return videoStream{}, unsure("reading a box header: %v", err)
			}
			big := binary.BigEndian.Uint64(hdr[8:])
			if big > math.MaxInt64 {
				return videoStream{}, unsure("the %q box claims %d bytes", typ, big)
			}
			boxSize, hl = int64(big), 16
		case 0:
			boxSize = size - off // to the end of the file
		}
		if boxSize < hl || boxSize > size-off {
			return videoStream{}, unsure("the %q box at byte %d ends past the end of the file: is it cut?", typ, off)
		}
		switch typ {
		case "ftyp":
			if boxSize >= hl+4 {
				var brand [4]byte
				if _, err := r.ReadAt(brand[:], off+hl); err != nil {
					return videoStream{}, unsure("reading ftyp: %v", err)
				}
				if b := string(brand[:]); b == "avif" || b == "avis" {
					return videoStream{}, unsure("an AVIF image sequence")
				}
			}
		case "moov":
			if moov != nil {
				return videoStream{}, unsure("two moov boxes")
			}
			if boxSize-hl > mp4MaxMoov {
				return videoStream{}, unsure("a moov box of %d bytes, more than the %d read", boxSize-hl, mp4MaxMoov)
			}
			moov = make([]byte, boxSize-hl)
			if _, err := r.ReadAt(moov, off+hl); err != nil {
				return videoStream{}, unsure("reading moov: %v", err)
			}
		case "mdat":
			if len(mdats) == mp4MaxMdats {
				return videoStream{}, unsure("more than %d mdat boxes", mp4MaxMdats)
			}
			mdats = append(mdats, [2]int64{off + hl, off + boxSize})
		case "free", "wide", "uuid":
		case "moof", "mfra", "sidx", "styp", "ssix", "prft", "emsg", "mvex", "traf":
			return videoStream{}, unsure("a fragmented file (%q box)", typ)
		default:
			// FFmpeg skips a top-level box it has no reader for (a vendor's "beam", "skip",
			// "pnot"...); one it reads there ("meta", "udta", "hoov" taken for a moov...) is
			// left to it.
			if typ == "hoov" || mp4FFmpegReads[typ] {
				return videoStream{}, unsure("a top-level %q box", typ)
			}
		}
		off += boxSize
	}
	if moov == nil {
		return videoStream{}, unsure("no moov box")
	}
	p := &mp4Parser{}
	if err := p.moov(moov); err != nil {
		return videoStream{}, err
	}
	return p.videoStream(r, mdats)
}

// mp4FFmpegReads are the box types that FFmpeg 5.1's mov demuxer has a reader for
// (mov_default_parse_table).
var mp4FFmpegReads = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`ACLR APRG AALP ARES avss av1C chpl co64 colr ctts dinf DpxE dref edts elst
		enda fiel adrm ftyp glbl hdlr ilst jp2h mdat mdhd mdia meta minf moof moov mvex mvhd alac avcC pasp
		sidx stbl stco stps strf stsc stsd stss stsz stts stz2 sdtp tkhd tfdt tfhd trak traf tref tmcd chap
		trex trun udta wave esds dac3 dec3 ddts wide wfex cmov chan dvc1 sgpd sbgp hvcC uuid free ---- sinf
		frma senc saiz saio pssh schm schi tenc dfLa st3d sv3d dOps dmlp SmDm CoLL vpcC mdcv clli dvcC dvvC
		dvwC kind SA3D SAND iloc pcmC pitm`) {
		mp4FFmpegReads[t] = true
	}
	mp4FFmpegReads["SMI "] = true
	mp4FFmpegReads["Cin\x8e"] = true
}

// mp4Box is one box: its type and its payload (after the size and type).
type mp4Box struct {
	typ  string
	body []byte
}

// mp4Parser walks a moov box held in memory.
type mp4Parser struct {
	boxes      int
	movieScale uint32 // 0 until mvhd is read
	tracks     []*mp4Track
}

// mp4Track is what one trak box says; a byte slice field is a table's entries, checked to fit.
type mp4Track struct {
	index      int
	handler    string // mdia/hdlr's subtype
	hasTkhd    bool
	matrix     [9]int32
	hasMdhd    bool
	timescale  uint32
	mdhdDur    uint64
	hasStsd    bool
	entries    uint32
	fourcc     string
	width      int
	height     int
	config     []byte // avcC or hvcC
	configType string
	stts       []byte // 8-byte entries
	hasStsz    bool
	sampleSize uint32
	samples    uint32
	sizes      []byte // 4-byte entries when sampleSize == 0
	stsc       []byte // 12-byte entries
	chunks     []byte // chunkSize-byte entries: 4 (stco) or 8 (co64)
	chunkSize  int
	elst       []byte // elstSize-byte entries: 12 (version 0) or 20 (version 1)
	elstSize   int
	external   bool // a data reference outside the file
}

// children splits b into its boxes. Fewer than 8 bytes left at the end are ignored, as FFmpeg does
// (QuickTime ends some lists with a zero word).
func (p *mp4Parser) children(b []byte) ([]mp4Box, error) {
	var out []mp4Box
	for len(b) >= 8 {
		size, hl := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		typ := string(b[4:8])
		switch size {
		case 1:
			if len(b) < 16 {
				return nil, unsure("the %q box header is cut", typ)
			}
			size, hl = binary.BigEndian.Uint64(b[8:]), 16
		case 0:
			size = uint64(len(b))
		}
		if size < hl || size > uint64(len(b)) {
			return nil, unsure("the %q box overruns its parent", typ)
		}
		p.boxes++
		if p.boxes > mp4MaxBoxes {
			return nil, unsure("more than %d boxes in moov", mp4MaxBoxes)
		}
		out = append(out, mp4Box{typ, b[hl:size]})
		b = b[size:]
	}
	return out, nil
}

// mp4Once are the box types that may appear once in their parent, each with the key a second one
// is counted under (a track has one chunk offset table, stco or co64). A second one makes the reader
// unsure: FFmpeg reads both, the second over the first or beside it.
var mp4Once = map[string]string{
	"mvhd": "mvhd", "tkhd": "tkhd", "mdia": "mdia", "mdhd": "mdhd", "hdlr": "hdlr", "minf": "minf",
	"edts": "edts", "elst": "elst", "dinf": "dinf", "dref": "dref", "stbl": "stbl", "stsd": "stsd",
	"stts": "stts", "stsc": "stsc", "stsz": "stsz", "stco": "stco", "co64": "stco",
}

// walk calls visit with each child box of b, in order. It refuses a second box of a type in
// mp4Once, and a box that visit does not handle and that FFmpeg would read there (unexpected).
func (p *mp4Parser) walk(b []byte, parent string, visit func(mp4Box) (handled bool, err error)) error {
	boxes, err := p.children(b)
	if err != nil {
		return err
	}
	var seen []string
	for _, bx := range boxes {
		if key, ok := mp4Once[bx.typ]; ok {
			if slices.Contains(seen, key) {
				return unsure("two %s boxes inside %s", bx.typ, parent)
			}
			seen = append(seen, key)
		}
		handled, err := visit(bx)
		if err != nil {
			return err
		}
		if !handled {
			if err := unexpected(bx, parent); err != nil {
				return err
			}
		}
	}
	return nil
}

// mp4Structural are the boxes that FFmpeg reads wherever its walk meets them and that shape the
// streams; found where we do not read them (inside udta or meta, which FFmpeg walks too), they make
// the reader unsure.
var mp4Structural = []string{"trak", "tkhd", "mdia", "mdhd", "minf", "stbl", "stsd", "stts", "stsc", "stsz",
	"stz2", "stco", "co64", "edts", "elst", "mvhd", "mvex", "moof", "traf", "cmov", "covr", "tref", "dref", "glbl"}

// mp4MediaHandlers are the handler subtypes that set a stream's type in FFmpeg.
var mp4MediaHandlers = []string{"vide", "soun", "subp", "clcp", "m1a "}

// opaque checks a box whose inside we do not walk (udta, meta) for boxes that would change the
// streams: cover art (an extra video stream), tracks, sample tables, media handlers.
func opaque(where string, b []byte, inTrack bool) error {
	for _, s := range mp4Structural {
		if bytes.Contains(b, []byte(s)) {
			return unsure("%q inside %s", s, where)
		}
	}
	if inTrack {
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte("hdlr"))
			if j < 0 {
				break
			}
			i += j + 4
			if i+12 <= len(b) && slices.Contains(mp4MediaHandlers, string(b[i+8:i+12])) {
				return unsure("a %q handler inside %s", b[i+8:i+12], where)
			}
		}
	}
	return nil
}

// mp4Unwalked are the other boxes FFmpeg reads wherever it meets them.
var mp4Unwalked = []string{"udta", "meta", "ilst", "hdlr", "dinf"}

// unexpected refuses a box that FFmpeg would read where we do not look for it.
func unexpected(b mp4Box, parent string) error {
	if slices.Contains(mp4Structural, b.typ) || slices.Contains(mp4Unwalked, b.typ) {
		return unsure("a %q box inside %s", b.typ, parent)
	}
	return nil
}

func (p *mp4Parser) moov(b []byte) error {
	return p.walk(b, "moov", func(bx mp4Box) (bool, error) {
		switch bx.typ {
		case "mvhd":
			return true, p.mvhd(bx.body)
		case "trak":
			if p.movieScale == 0 {
				return true, unsure("a trak before mvhd") // its matrix would miss the movie's
			}
			if len(p.tracks) == mp4MaxTracks {
				return true, unsure("more than %d tracks", mp4MaxTracks)
			}
			t := &mp4Track{index: len(p.tracks)}
			p.tracks = append(p.tracks, t)
			return true, p.trak(t, bx.body)
		case "udta", "meta":
			return true, opaque("moov/"+bx.typ, bx.body, false)
		case "mvex":
			return true, unsure("a fragmented file (mvex)")
		case "cmov":
			return true, unsure("a compressed moov")
		}
		return false, nil
	})
}

func (p *mp4Parser) mvhd(b []byte) error {
	var ts, matrix int
	switch {
	case len(b) >= 100 && b[0] == 0:
		ts, matrix = 12, 36
	case len(b) >= 112 && b[0] == 1:
		ts, matrix = 20, 48
	default:
		return unsure("an mvhd box of version %d and %d bytes", b[0], len(b))
	}
	p.movieScale = binary.BigEndian.Uint32(b[ts:])
	if p.movieScale == 0 || p.movieScale > math.MaxInt32 {
		return unsure("movie timescale %d", p.movieScale)
	}
	want := [9]uint32{mp4Identity, 0, 0, 0, mp4Identity, 0, 0, 0, 1 << 30}
	for i := range 9 {
		if binary.BigEndian.Uint32(b[matrix+4*i:]) != want[i] {
			return unsure("a movie matrix that is not the identity")
		}
	}
	return nil
}

func (p *mp4Parser) trak(t *mp4Track, b []byte) error {
	err := p.walk(b, "trak", func(bx mp4Box) (bool, error) {
		switch bx.typ {
		case "tkhd":
			return true, t.tkhd(bx.body)
		case "mdia":
			return true, p.mdia(t, bx.body)
		case "edts":
			return true, p.walk(bx.body, "edts", func(k mp4Box) (bool, error) {
				if k.typ != "elst" {
					return false, nil
				}
				return true, t.readElst(k.body)
			})
		case "tref":
			return true, p.walk(bx.body, "tref", func(k mp4Box) (bool, error) {
				if k.typ == "chap" {
					return true, unsure("a chapter track") // FFmpeg may turn it into cover art
				}
				return true, nil
			})
		case "udta", "meta":
			return true, opaque("trak/"+bx.typ, bx.body, true)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	// FFmpeg makes a stream video when its handler is "vide" (mov_read_hdlr), and also when its
	// sample entry's code is a video codec's, whatever the handler (mov_codec_id).
	if t.handler != "vide" && t.handler != "soun" && t.hasStsd && t.entries > 0 && !mp4NotVideo[t.fourcc] {
		return unsure("track %d: a %q handler with %q samples", t.index, t.handler, t.fourcc)
	}
	return nil
}

// mp4NotVideo are sample entry codes of tracks that are neither sound nor video in FFmpeg.
var mp4NotVideo = map[string]bool{"tmcd": true, "mebx": true, "text": true, "tx3g": true, "wvtt": true,
	"stpp": true, "c608": true, "c708": true, "mp4s": true, "rtp ": true, "rtmd": true, "gpmd": true,
	"camm": true, "metx": true, "mett": true, "urim": true}

func (t *mp4Track) tkhd(b []byte) error {
	t.hasTkhd = true
	var matrix int
	switch {
	case len(b) >= 84 && b[0] == 0:
		matrix = 40
	case len(b) >= 96 && b[0] == 1:
		matrix = 52
	default:
		return unsure("a tkhd box of version %d and %d bytes", b[0], len(b))
	}
	for i := range 9 {
		t.matrix[i] = int32(binary.BigEndian.Uint32(b[matrix+4*i:]))
	}
	return nil
}

func (p *mp4Parser) mdia(t *mp4Track, b []byte) error {
	return p.walk(b, "mdia", func(bx mp4Box) (bool, error) {
		switch bx.typ {
		case "mdhd":
			t.hasMdhd = true
			switch {
			case len(bx.body) >= 24 && bx.body[0] == 0:
				t.timescale = binary.BigEndian.Uint32(bx.body[12:])
				t.mdhdDur = uint64(binary.BigEndian.Uint32(bx.body[16:]))
			case len(bx.body) >= 36 && bx.body[0] == 1:
				t.timescale = binary.BigEndian.Uint32(bx.body[20:])
				t.mdhdDur = binary.BigEndian.Uint64(bx.body[24:])
			default:
				return true, unsure("an mdhd box of version %d and %d bytes", bx.body[0], len(bx.body))
			}
		case "hdlr": // before minf: stsd reads a video track's sample entry only
			if len(bx.body) < 12 {
				return true, unsure("a short hdlr box")
			}
			t.handler = string(bx.body[8:12])
		case "minf":
			return true, p.minf(t, bx.body)
		case "udta", "meta":
			return true, opaque("mdia/"+bx.typ, bx.body, true)
		default:
			return false, nil
		}
		return true, nil
	})
}

func (p *mp4Parser) minf(t *mp4Track, b []byte) error {
	return p.walk(b, "minf", func(bx mp4Box) (bool, error) {
		switch bx.typ {
		case "hdlr": // QuickTime's data handler ('dhlr', subtype 'alis' or 'url ')
			if len(bx.body) >= 12 && slices.Contains(mp4MediaHandlers, string(bx.body[8:12])) {
				return true, unsure("a %q handler inside minf", bx.body[8:12])
			}
			return true, nil
		case "dinf":
			return true, p.walk(bx.body, "dinf", func(k mp4Box) (bool, error) {
				if k.typ != "dref" {
					return false, nil
				}
				return true, p.dref(t, k.body)
			})
		case "stbl":
			return true, p.stbl(t, bx.body)
		}
		return false, nil
	})
}

// dref notes a data reference to another file: an entry without the self-contained flag.
func (p *mp4Parser) dref(t *mp4Track, b []byte) error {
	if len(b) < 8 {
		return unsure("a short dref box")
	}
	entries, err := p.children(b[8:])
	if err != nil {
		return err
	}
	for _, e := range entries {
		if len(e.body) < 4 || e.body[3]&1 == 0 {
			t.external = true
		}
	}
	return nil
}

// table returns the entries of a full box holding a 32-bit count and then count entries of size
// bytes each, checked to fit the box.
func table(name string, b []byte, header, size int) ([]byte, error) {
	if len(b) < header {
		return nil, unsure("a short %s box", name)
	}
	n := binary.BigEndian.Uint32(b[header-4:])
	if uint64(n)*uint64(size) > uint64(len(b)-header) {
		return nil, unsure("the %s box holds fewer entries than the %d it claims", name, n)
	}
	return b[header : header+int(n)*size], nil
}

// chunkCount is the number of entries in the chunk offset table.
func (t *mp4Track) chunkCount() int {
	if t.chunkSize == 0 {
		return 0
	}
	return len(t.chunks) / t.chunkSize
}

// chunkOffset is the file offset of chunk i (from 0); a co64 offset past 2^63 comes back negative.
func (t *mp4Track) chunkOffset(i int) int64 {
	if t.chunkSize == 8 {
		return int64(binary.BigEndian.Uint64(t.chunks[8*i:]))
	}
	return int64(binary.BigEndian.Uint32(t.chunks[4*i:]))
}

func (p *mp4Parser) stbl(t *mp4Track, b []byte) error {
	return p.walk(b, "stbl", func(bx mp4Box) (bool, error) {
		var err error
		switch bx.typ {
		case "stsd":
			err = p.stsd(t, bx.body)
		case "stts":
			t.stts, err = table("stts", bx.body, 8, 8)
		case "stsc":
			t.stsc, err = table("stsc", bx.body, 8, 12)
		case "stco":
			t.chunks, err = table("stco", bx.body, 8, 4)
			t.chunkSize = 4
		case "co64":
			t.chunks, err = table("co64", bx.body, 8, 8)
			t.chunkSize = 8
		case "stsz":
			if len(bx.body) < 12 {
				return true, unsure("a short stsz box")
			}
			t.hasStsz = true
			t.sampleSize = binary.BigEndian.Uint32(bx.body[4:])
			t.samples = binary.BigEndian.Uint32(bx.body[8:])
			if t.sampleSize == 0 {
				t.sizes, err = table("stsz", bx.body, 12, 4)
			}
		case "stz2":
			err = unsure("compact sample sizes (stz2)")
		default:
			return false, nil
		}
		return true, err
	})
}

// stsd reads the sample descriptions: their count and, for a video track, the first one's code,
// size and decoder configuration.
func (p *mp4Parser) stsd(t *mp4Track, b []byte) error {
	if len(b) < 8 {
		return unsure("a short stsd box")
	}
	t.hasStsd = true
	t.entries = binary.BigEndian.Uint32(b[4:])
	entries, err := p.children(b[8:])
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	e := entries[0]
	t.fourcc = e.typ
	if t.handler != "vide" {
		return nil
	}
	// A visual sample entry: 6 reserved bytes, a data reference index, 16 bytes, width and height,
	// 50 bytes (resolutions, frame count, compressor name, depth, colour table), then boxes.
	if len(e.body) < 78 {
		return unsure("a short %q sample entry", e.typ)
	}
	t.width = int(binary.BigEndian.Uint16(e.body[24:]))
	t.height = int(binary.BigEndian.Uint16(e.body[26:]))
	return p.walk(e.body[78:], "a sample entry", func(k mp4Box) (bool, error) {
		switch k.typ {
		case "avcC", "hvcC", "av1C", "vpcC", "glbl", "sinf", "wave", "esds", "dvc1", "strf", "ARES":
			if t.config != nil {
				return true, unsure("more than one decoder configuration (%s and %s)", t.configType, k.typ)
			}
			t.config, t.configType = k.body, k.typ
			return true, nil
		}
		return false, nil
	})
}

func (t *mp4Track) readElst(b []byte) error {
	if len(b) < 8 {
		return unsure("a short elst box")
	}
	switch b[0] {
	case 0:
		t.elstSize = 12
	case 1:
		t.elstSize = 20
	default:
		return unsure("an elst box of version %d", b[0])
	}
	if n := binary.BigEndian.Uint32(b[4:]); uint64(n)*uint64(t.elstSize) != uint64(len(b)-8) {
		return unsure("an edit list of %d bytes for %d entries", len(b)-8, n)
	}
	t.elst = b[8:]
	return nil
}

// mp4Codecs are the sample entry codes we read, with ffprobe's codec name and the decoder
// configuration box each needs.
var mp4Codecs = map[string]struct{ name, config string }{
	"avc1": {"h264", "avcC"}, "avc3": {"h264", "avcC"},
	"hvc1": {"hevc", "hvcC"}, "hev1": {"hevc", "hvcC"},
}

// videoStream checks the one video track and computes what ffprobe would report for it.
func (p *mp4Parser) videoStream(r io.ReaderAt, mdats [][2]int64) (videoStream, error) {
	var v *mp4Track
	for _, t := range p.tracks {
		if err := t.checkTables(); err != nil {
			return videoStream{}, err
		}
		if t.handler != "vide" {
			continue
		}
		if v != nil {
			return videoStream{}, unsure("more than one video track")
		}
		v = t
	}
	if v == nil {
		return videoStream{}, unsure("no video track")
	}
	codec, ok := mp4Codecs[v.fourcc]
	switch {
	case !ok:
		return videoStream{}, unsure("%q video samples", v.fourcc)
	case v.entries != 1:
		return videoStream{}, unsure("%d sample descriptions", v.entries)
	case v.configType != codec.config:
		return videoStream{}, unsure("%q samples without an %s box", v.fourcc, codec.config)
	case !v.hasMdhd || !v.hasStsz || v.stts == nil || v.chunks == nil: // checkTables saw tkhd and stsc
		return videoStream{}, unsure("a video track without its mdhd or sample tables")
	case v.timescale == 0 || v.timescale > math.MaxInt32:
		return videoStream{}, unsure("media timescale %d", v.timescale)
	case v.external:
		return videoStream{}, unsure("video samples in another file")
	case v.width <= 0 || v.height <= 0:
		return videoStream{}, unsure("no picture size in the sample entry")
	}
	vs := videoStream{index: v.index, codec: codec.name}

	rotation, err := matrixRotation(v.matrix)
	if err != nil {
		return videoStream{}, err
	}
	vs.rotation = rotation

	// stts: the frame count, the sum of the durations, the average frame rate.
	var samples, sum uint64
	for e := v.stts; len(e) >= 8; e = e[8:] {
		count, delta := uint64(binary.BigEndian.Uint32(e)), uint64(binary.BigEndian.Uint32(e[4:]))
		if delta > mp4MaxSttsDelta {
			return videoStream{}, unsure("a sample duration of %d", delta)
		}
		samples += count
		sum += count * delta // both < 2^32: no overflow of one product
		if samples > math.MaxInt32 || sum > math.MaxInt64/2 {
			return videoStream{}, unsure("too many samples or too long")
		}
	}
	if samples == 0 || sum == 0 {
		return videoStream{}, unsure("no samples, or samples of no duration")
	}
	if samples != uint64(v.samples) {
		return videoStream{}, unsure("stts counts %d samples, stsz %d", samples, v.samples)
	}
	vs.frames = int(samples)
	num, den := avReduce(int64(v.timescale)*int64(samples), int64(sum), math.MaxInt32)
	if den > 0 {
		vs.fps = float64(num) / float64(den) // parseRate of ffprobe's "num/den"
	}
	if vs.fps <= 0 || vs.fps >= 1000 {
		return videoStream{}, unsure("an average frame rate of %d/%d", num, den)
	}

	// The duration, in the media timescale, as mov_read_stts and mov_fix_index leave it.
	if v.mdhdDur > math.MaxInt64 {
		return videoStream{}, unsure("mdhd duration %d", v.mdhdDur)
	}
	dur := min(int64(v.mdhdDur), int64(sum))
	if len(v.elst) > 0 {
		edits, err := v.editsDuration(p.movieScale)
		if err != nil {
			return videoStream{}, err
		}
		dur = min(dur, edits)
	}
	if dur <= 0 {
		return videoStream{}, unsure("a duration of %d", dur)
	}
	// ffprobe prints duration x time base with %f; parseProbe reads that text back.
	vs.duration = parseSeconds(strconv.FormatFloat(float64(dur)*(1/float64(v.timescale)), 'f', 6, 64))
	if vs.duration <= 0 {
		return videoStream{}, unsure("a duration of %d/%d s", dur, v.timescale)
	}

	if err := v.checkChunks(mdats); err != nil {
		return videoStream{}, err
	}
	w, h, err := v.decoderSize(r)
	if err != nil {
		return videoStream{}, err
	}
	if w != v.width || h != v.height {
		return videoStream{}, unsure("the sample entry says %dx%d, the parameter set %dx%d", v.width, v.height, w, h)
	}
	vs.setStoredSize(w, h)
	return vs, nil
}

// checkTables refuses, in any track, the tables that make FFmpeg fail or repair them
// (mov_read_stsd, mov_read_stsc, mov_read_trak): ffprobe would then refuse the file or read it
// otherwise. In the video track, stsc must also place exactly the samples that stsz sizes.
func (t *mp4Track) checkTables() error {
	if !t.hasTkhd {
		return unsure("track %d has no tkhd", t.index)
	}
	if t.hasStsd && (t.entries == 0 || t.entries > 1024) {
		return unsure("track %d: %d sample descriptions", t.index, t.entries)
	}
	if t.stsc == nil {
		if t.handler == "vide" {
			return unsure("a video track without stsc")
		}
		return nil
	}
	chunks := uint64(t.chunkCount())
	n := len(t.stsc) / 12
	var total uint64
	for i := range n {
		e := t.stsc[12*i:]
		first, per, desc := uint64(binary.BigEndian.Uint32(e)), uint64(binary.BigEndian.Uint32(e[4:])), binary.BigEndian.Uint32(e[8:])
		next := chunks + 1 // the chunk after this entry's run
		if i+1 < n {
			next = uint64(binary.BigEndian.Uint32(t.stsc[12*(i+1):]))
		}
		if first < 1 || first >= next || first > chunks || per == 0 || desc != 1 {
			return unsure("track %d: stsc entry %d (chunk %d of %d, %d samples, description %d)", t.index, i, first, chunks, per, desc)
		}
		total += (next - first) * per
	}
	if t.handler == "vide" && total != uint64(t.samples) {
		return unsure("stsc places %d samples, stsz sizes %d", total, t.samples)
	}
	return nil
}

// checkChunks checks that every chunk of the track starts inside an mdat box, so that a cut or
// patched file goes to ffprobe.
func (t *mp4Track) checkChunks(mdats [][2]int64) error {
	for i := range t.chunkCount() {
		off := t.chunkOffset(i)
		if off < 0 {
			return unsure("chunk offset %d", uint64(off))
		}
		// The mdat boxes are in file order: the last one starting at or before off must hold it.
		i := sort.Search(len(mdats), func(i int) bool { return mdats[i][0] > off }) - 1
		if i < 0 || off >= mdats[i][1] {
			return unsure("a chunk at byte %d, outside every mdat box", off)
		}
	}
	return nil
}

// editsDuration is the sum of the edit list's durations, rescaled from the movie timescale to the
// track's as av_rescale does (rounding half up), as mov_fix_index sums them.
func (t *mp4Track) editsDuration(movieScale uint32) (int64, error) {
	var total int64
	for e := t.elst; len(e) >= t.elstSize; e = e[t.elstSize:] {
		var d, mediaTime int64
		var rate uint32
		if t.elstSize == 20 {
			d, mediaTime = int64(binary.BigEndian.Uint64(e)), int64(binary.BigEndian.Uint64(e[8:]))
			rate = binary.BigEndian.Uint32(e[16:])
		} else {
			d, mediaTime = int64(binary.BigEndian.Uint32(e)), int64(int32(binary.BigEndian.Uint32(e[4:])))
			rate = binary.BigEndian.Uint32(e[8:])
		}
		if d < 0 || mediaTime < -1 {
			return 0, unsure("an edit of duration %d at media time %d", d, mediaTime)
		}
		if rate != mp4Identity {
			return 0, unsure("an edit at rate %#x", rate)
		}
		scaled, ok := rescale(uint64(d), uint64(t.timescale), uint64(movieScale))
		if !ok || scaled > math.MaxInt64/4 || total > math.MaxInt64/4 ||
			(mediaTime >= 0 && scaled+uint64(mediaTime) > math.MaxInt64) {
			return 0, unsure("an edit too long")
		}
		total += int64(scaled)
	}
	return total, nil
}

// rescale returns a*b/c rounded half up, as av_rescale does, and whether it fits in 63 bits.
func rescale(a, b, c uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	lo, carry := bits.Add64(lo, c/2, 0)
	hi += carry
	if c == 0 || hi >= c {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, c)
	return q, q <= math.MaxInt64
}

// matrixRotation maps a track matrix to the clockwise rotation that parseProbe derives from
// ffprobe's display matrix; anything but a pure quarter turn (a flip, a scale, a skew, a
// perspective) is left to ffprobe.
func matrixRotation(m [9]int32) (int, error) {
	if m[2] != 0 || m[5] != 0 || m[8] != 1<<30 {
		return 0, unsure("a perspective track matrix")
	}
	const one = mp4Identity
	switch [4]int32{m[0], m[1], m[3], m[4]} {
	case [4]int32{one, 0, 0, one}:
		return 0, nil
	case [4]int32{0, one, -one, 0}: // ffprobe: rotation -90
		return 90, nil
	case [4]int32{-one, 0, 0, -one}: // ffprobe: rotation 180 (printed -180)
		return 180, nil
	case [4]int32{0, -one, one, 0}: // ffprobe: rotation 90
		return 270, nil
	}
	return 0, unsure("a track matrix that is not a quarter turn")
}

// decoderSize returns the picture size the decoder will report: the SPS's, after cropping. An SPS
// repeated in the first sample must be the configuration's.
func (t *mp4Track) decoderSize(r io.ReaderAt) (int, int, error) {
	sps, lengthSize, err := t.configSPS()
	if err != nil {
		return 0, 0, err
	}
	if err := t.checkFirstSample(r, sps, lengthSize); err != nil {
		return 0, 0, err
	}
	var w, h int
	if t.configType == "avcC" {
		w, h, err = h264Size(sps)
	} else {
		w, h, err = hevcSize(sps)
	}
	if err != nil {
		return 0, 0, unsure("the sequence parameter set: %v", err)
	}
	return w, h, nil
}

// configSPS returns the one SPS of the avcC or hvcC box and the size of the NAL length prefixes.
func (t *mp4Track) configSPS() ([]byte, int, error) {
	c := t.config
	var sps [][]byte
	var lengthSize int
	if t.configType == "avcC" {
		if len(c) < 6 || c[0] != 1 {
			return nil, 0, unsure("an avcC box of version %d", firstByte(c))
		}
		lengthSize = int(c[4]&3) + 1
		n := int(c[5] & 0x1F)
		c = c[6:]
		for range n {
			if len(c) < 2 || len(c) < 2+int(binary.BigEndian.Uint16(c)) {
				return nil, 0, unsure("a cut avcC box")
			}
			l := int(binary.BigEndian.Uint16(c))
			sps = append(sps, c[2:2+l])
			c = c[2+l:]
		}
	} else {
		if len(c) < 23 || c[0] != 1 {
			return nil, 0, unsure("an hvcC box of version %d", firstByte(c))
		}
		lengthSize = int(c[21]&3) + 1
		arrays := int(c[22])
		c = c[23:]
		for range arrays {
			if len(c) < 3 {
				return nil, 0, unsure("a cut hvcC box")
			}
			typ, n := c[0]&0x3F, int(binary.BigEndian.Uint16(c[1:]))
			c = c[3:]
			for range n {
				if len(c) < 2 || len(c) < 2+int(binary.BigEndian.Uint16(c)) {
					return nil, 0, unsure("a cut hvcC box")
				}
				l := int(binary.BigEndian.Uint16(c))
				if typ == 33 {
					sps = append(sps, c[2:2+l])
				}
				c = c[2+l:]
			}
		}
	}
	if lengthSize == 3 {
		return nil, 0, unsure("NAL lengths of 3 bytes")
	}
	if len(sps) != 1 {
		return nil, 0, unsure("%d sequence parameter sets in %s", len(sps), t.configType)
	}
	return sps[0], lengthSize, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// checkFirstSample reads the NAL units of the first video sample up to its first slice: an SPS
// among them that differs from the configuration's would be the one the decoder uses.
func (t *mp4Track) checkFirstSample(r io.ReaderAt, sps []byte, lengthSize int) error {
	off := t.chunkOffset(0) // checked by checkChunks
	size := int64(t.sampleSize)
	if size == 0 {
		if len(t.sizes) < 4 {
			return unsure("no size for the first sample")
		}
		size = int64(binary.BigEndian.Uint32(t.sizes))
	}
	end := off + size
	var buf [4]byte
	for range mp4MaxNALs {
		if off+int64(lengthSize)+2 > end {
			return unsure("the first sample ends before its first slice")
		}
		if _, err := r.ReadAt(buf[:lengthSize], off); err != nil {
			return unsure("reading the first sample: %v", err)
		}
		var n int64
		for _, b := range buf[:lengthSize] {
			n = n<<8 | int64(b)
		}
		off += int64(lengthSize)
		if n < 2 || n > end-off {
			return unsure("a NAL unit of %d bytes in the first sample", n)
		}
		var head [2]byte
		if _, err := r.ReadAt(head[:], off); err != nil {
			return unsure("reading the first sample: %v", err)
		}
		var isSPS, isSlice bool
		if t.configType == "avcC" {
			typ := head[0] & 0x1F
			isSPS, isSlice = typ == 7, typ >= 1 && typ <= 5
		} else {
			typ := head[0] >> 1 & 0x3F
			isSPS, isSlice = typ == 33, typ <= 31
		}
		if isSlice {
			return nil
		}
		if isSPS {
			if n > mp4MaxParamSet {
				return unsure("an SPS of %d bytes in the first sample", n)
			}
			nal := make([]byte, n)
			if _, err := r.ReadAt(nal, off); err != nil {
				return unsure("reading the first sample: %v", err)
			}
			if !bytes.Equal(nal, sps) {
				return unsure("the first sample carries another SPS")
			}
		}
		off += n
	}
	return unsure("no slice in the first %d NAL units of the first sample", mp4MaxNALs)
}

// avReduce is FFmpeg's av_reduce for non-negative num and den: num/den reduced, or its closest
// approximation with terms at most max. The unsigned arithmetic is av_reduce's own (its x is a
// uint64_t), wrap-arounds included.
func avReduce(num, den, max int64) (int64, int64) {
	a0n, a0d, a1n, a1d := int64(0), int64(1), int64(1), int64(0)
	if g := gcd(num, den); g != 0 {
		num, den = num/g, den/g
	}
	if num <= max && den <= max {
		a1n, a1d = num, den
		den = 0
	}
	for den != 0 {
		x := uint64(num) / uint64(den)
		nextDen := int64(uint64(num) - uint64(den)*x)
		a2n := int64(x*uint64(a1n) + uint64(a0n))
		a2d := int64(x*uint64(a1d) + uint64(a0d))
		if a2n > max || a2d > max {
			if a1n != 0 {
				x = uint64((max - a0n) / a1n)
			}
			if a1d != 0 {
				x = min(x, uint64((max-a0d)/a1d))
			}
			if uint64(den)*(2*x*uint64(a1d)+uint64(a0d)) > uint64(num)*uint64(a1d) {
				a1n, a1d = int64(x*uint64(a1n)+uint64(a0n)), int64(x*uint64(a1d)+uint64(a0d))
			}
			break
		}
		a0n, a0d, a1n, a1d = a1n, a1d, a2n, a2d
		num, den = den, nextDen
	}
	return a1n, a1d
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
