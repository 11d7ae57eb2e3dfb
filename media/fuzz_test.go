package media

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image/color"
	"math"
	"testing"
	"time"

	"bonafide/internal/testkit"
	"bonafide/media/sniff"
)

// FuzzOpenDecode feeds arbitrary bytes to Open and Frames. Inputs that sniff as video are skipped to keep
// the fuzzer fast (ffprobe's output and the MP4 header reader have their own fuzz tests). Every failure must be an *Error, never a
// panic or another error type, and every frame must respect the limits.
func FuzzOpenDecode(f *testing.F) {
	jpg := encodeJPEG(f, testPicture(24, 16, map[string]color.RGBA{"tl": red}))
	png := encodePNG(f, testPicture(24, 16, nil))
	for _, seed := range [][]byte{
		jpg,
		png,
		withEXIFOrientation(f, jpg, 6, binary.BigEndian),
		withEXIFOrientation(f, jpg, 8, binary.LittleEndian),
		pngHeaderOnly(20000, 20000),
		pngHeaderOnly(30, 20),
		buildZip(f, []zipFile{{name: "a.jpg", data: jpg, method: zip.Deflate}, {name: "b.png", data: png}}),
		buildZip(f, []zipFile{{name: "../a.jpg", data: jpg}}),
		buildZip(f, []zipFile{{name: "a.zip", data: buildZip(f, nil)}}),
		buildZip(f, nil),
		[]byte("RIFF\x00\x00\x00\x00WEBPVP8 "),
		[]byte("BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x18\x00"),
		[]byte("hello world\n"),
		{},
	} {
		f.Add(seed)
	}
	l := Limits{
		MaxFileBytes:     1 << 20,
		MaxPixels:        1 << 20,
		MaxFrames:        4,
		MaxVideoSeconds:  0.001,
		MaxFrameSide:     64,
		MaxZipEntries:    16,
		MaxZipEntryBytes: 1 << 20,
		MaxZipTotalBytes: 2 << 20,
		MaxZipRatio:      100,
		Timeout:          10 * time.Second,
	}
	d := NewDecoder(l)
	f.Fuzz(func(t *testing.T, data []byte) {
		if sniff.Sniff(data).Kind == Video {
			return
		}
		ctx := context.Background()
		m, err := d.Open(ctx, "fuzz", data)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("Open: %v (%T) is not an *Error", err, err)
			}
			return
		}
		defer m.Close()
		info := m.Info()
		n := 0
		err = m.Frames(ctx, func(fr Frame) error {
			b := fr.Image.Rect
			if b.Min.X != 0 || b.Min.Y != 0 || b.Dx() <= 0 || b.Dy() <= 0 || b.Dx() > 64 || b.Dy() > 64 {
				t.Fatalf("frame %d has bounds %v", fr.Index, b)
			}
			if len(fr.Image.Pix) != 4*b.Dx()*b.Dy() || fr.Index != n {
				t.Fatalf("frame %d: %d bytes for %v", fr.Index, len(fr.Image.Pix), b)
			}
			n++
			return nil
		})
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("Frames: %v (%T) is not an *Error", err, err)
			}
			return
		}
		if n == 0 || n > info.Frames || n > l.MaxFrames {
			t.Fatalf("%d frames, info says %d", n, info.Frames)
		}
	})
}

// FuzzParseProbe checks that ffprobe output, which echoes a file's own metadata, cannot make the parser
// panic or produce values outside their ranges.
func FuzzParseProbe(f *testing.F) {
	for _, seed := range []string{
		`{"streams":[{"index":1,"codec_type":"video","codec_name":"h264","width":1920,"height":1080,"avg_frame_rate":"30000/1001","nb_frames":"150","duration":"5.005","side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}],"format":{"duration":"5.1"}}`,
		`{"streams":[{"index":0,"codec_type":"video","codec_name":"vp8","width":64,"height":48,"r_frame_rate":"1000/1","tags":{"rotate":"1e308"}}],"format":{"duration":"N/A"}}`,
		`{"streams":[{"index":0,"codec_type":"audio"}],"format":{"duration":"-1"}}`,
		`{"streams":[{"index":0,"codec_type":"video","codec_name":"h264","width":2,"height":2,"avg_frame_rate":"1/0","nb_frames":"-5","duration":"NaN"}]}`,
		`{}`,
		`[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, problem, err := parseProbe(data, nil)
		if err != nil || problem != nil {
			return
		}
		if vs.width <= 0 || vs.height <= 0 {
			t.Fatalf("size %dx%d", vs.width, vs.height)
		}
		if vs.rotation%90 != 0 || vs.rotation < 0 || vs.rotation >= 360 {
			t.Fatalf("rotation %d", vs.rotation)
		}
		for _, v := range []float64{vs.duration, vs.fps} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("duration %v fps %v", vs.duration, vs.fps)
			}
		}
		if vs.frames < 0 {
			t.Fatalf("frames %d", vs.frames)
		}
	})
}

// FuzzMP4Header feeds arbitrary bytes to the MP4 header reader. It must never panic or allocate from
// a count the file claims; it either leaves the file to ffprobe (an *mp4Unsure) or answers with
// values in their ranges.
func FuzzMP4Header(f *testing.F) {
	x264 := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	src := []string{"-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5"}
	for _, args := range [][]string{
		append(append([]string{}, src...), x264...),
		append(append(append([]string{}, src...), x264...), "-movflags", "+faststart", "-metadata:s:v", "rotate=90"),
		append(append([]string{}, src...), "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1"),
	} {
		data := testkit.FFmpegFile(f, "seed.mp4", args...)
		f.Add(data)
		f.Add(editMP4(f, data, toCo64))
	}
	f.Add([]byte("\x00\x00\x00\x10ftypisom\x00\x00\x02\x00\x00\x00\x00\x08moov"))
	f.Add([]byte("\x00\x00\x00\x01mdat\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, err := readMP4Header(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var u *mp4Unsure
			if !errors.As(err, &u) {
				t.Fatalf("%v (%T) is not an *mp4Unsure", err, err)
			}
			return
		}
		if vs.index < 0 || vs.index >= mp4MaxTracks || (vs.codec != "h264" && vs.codec != "hevc") {
			t.Fatalf("stream %d, codec %q", vs.index, vs.codec)
		}
		if vs.width <= 0 || vs.height <= 0 || vs.width > 1<<20 || vs.height > 1<<20 {
			t.Fatalf("size %dx%d", vs.width, vs.height)
		}
		if vs.rotation%90 != 0 || vs.rotation < 0 || vs.rotation >= 360 {
			t.Fatalf("rotation %d", vs.rotation)
		}
		if !(vs.duration > 0) || math.IsInf(vs.duration, 0) || !(vs.fps > 0 && vs.fps < 1000) || vs.frames <= 0 {
			t.Fatalf("duration %v fps %v frames %d", vs.duration, vs.fps, vs.frames)
		}
	})
}
