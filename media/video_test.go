package media

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"bonafide/internal/testkit"
)

func TestVideoContainers(t *testing.T) {
	t.Parallel()
	src := []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "3"}
	tests := []struct {
		file   string
		args   []string
		format string
		codec  string
	}{
		{"clip.mp4", []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}, "mp4", "h264"},
		{"clip.mov", []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}, "mov", "h264"},
		{"clip.webm", []string{"-c:v", "libvpx", "-deadline", "realtime"}, "webm", "vp8"},
		{"clip9.webm", []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"}, "webm", "vp9"},
		{"clip.mkv", []string{"-c:v", "libx264", "-preset", "ultrafast"}, "mkv", "h264"},
		{"clip.avi", []string{"-c:v", "mjpeg", "-q:v", "5"}, "avi", "mjpeg"},
		{"clip.ts", []string{"-c:v", "mpeg2video"}, "mpeg", "mpeg2video"},
		{"clip.mpg", []string{"-c:v", "mpeg2video", "-f", "vob"}, "mpeg", "mpeg2video"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data := testkit.FFmpegFile(t, tt.file, append(append([]string{}, src...), tt.args...)...)
			l := DefaultLimits()
			l.MaxFrames = 20
			// The name says nothing: the bytes decide.
			info, frames, err := decodeAll(t, NewDecoder(l), "upload.bin", data)
			if err != nil {
				t.Fatal(err)
			}
			if info.Kind != Video || info.Format != tt.format || info.Codec != tt.codec {
				t.Errorf("info = %+v, want format %s codec %s", info, tt.format, tt.codec)
			}
			if info.Width != 320 || info.Height != 240 || math.Abs(info.Duration-3) > 0.2 || math.Abs(info.FPS-25) > 0.5 {
				t.Errorf("info = %+v", info)
			}
			if info.Frames != 20 || len(frames) != 20 {
				t.Fatalf("info.Frames %d, got %d frames, want 20", info.Frames, len(frames))
			}
			for i, f := range frames {
				if f.Index != i || f.Image.Rect != image.Rect(0, 0, 320, 240) {
					t.Errorf("frame %d: index %d rect %v", i, f.Index, f.Image.Rect)
				}
				if want := float64(i) * 3 / 20; math.Abs(f.Time-want) > 0.2 {
					t.Errorf("frame %d at %.2f s, want about %.2f s", i, f.Time, want)
				}
			}
		})
	}
}

// TestVideoEvenlySpaced uses a lossless clip whose brightness encodes the frame number, and checks
// which frames were picked.
func TestVideoEvenlySpaced(t *testing.T) {
	t.Parallel()
	// 100 frames at 25 fps; frame n has luma 16+2n (limited range), so RGB ~ 2.33n.
	data := testkit.FFmpegFile(t, "ramp.mp4", "-f", "lavfi", "-i", "color=c=black:size=64x48:rate=25:duration=4",
		"-vf", "geq=lum='16+2*N':cb=128:cr=128", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p")
	frameOf := func(img *image.RGBA) int {
		c := img.RGBAAt(32, 24)
		return int(math.Round(float64(c.G) / (2 * 255.0 / 219)))
	}
	tests := []struct {
		maxFrames int
		want      []int
	}{
		{10, []int{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}},
		{4, []int{0, 25, 50, 75}},
		{3, []int{0, 34, 67}}, // slots start at 0, 1.333 s, 2.667 s: the first frame at or after each
		{200, nil},            // more than the clip has: every frame, once
		{100, nil},            // exactly as many as the clip has
		{1, []int{0}},         // one
		{7, []int{0, 15, 29, 43, 58, 72, 86}},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			l := DefaultLimits()
			l.MaxFrames = tt.maxFrames
			_, frames, err := decodeAll(t, NewDecoder(l), "ramp.mp4", data)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, f := range frames {
				got = append(got, frameOf(f.Image))
			}
			want := tt.want
			if want == nil {
				for i := range 100 {
					want = append(want, i)
				}
			}
			if !equalInts(got, want) {
				t.Errorf("picked frames %v, want %v", got, want)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestVideoRotation tags a 320x240 clip with a red block at its stored top-left as rotated, and checks
// that the frames come out turned, at the swapped size.
func TestVideoRotation(t *testing.T) {
	t.Parallel()
	plain := testkit.FFmpegFile(t, "plain.mp4", "-f", "lavfi", "-i", "color=c=blue:size=320x240:rate=25:duration=1",
		"-vf", "drawbox=x=0:y=0:w=40:h=40:color=red:t=fill", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	dir := t.TempDir()
	if err := writeFile(dir+"/plain.mp4", plain); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rotateTag string // what -metadata:s:v rotate= is given (ffmpeg 5.1 writes it as a display matrix)
		rotation  int    // clockwise degrees ffprobe then reports
		w, h      int
		redAt     image.Point // where the stored top-left block is after rotation
	}{
		{"0", 0, 320, 240, image.Pt(10, 10)},
		{"90", 270, 240, 320, image.Pt(10, 310)},
		{"180", 180, 320, 240, image.Pt(310, 230)},
		{"270", 90, 240, 320, image.Pt(230, 10)},
	}
	for _, tt := range tests {
		t.Run(tt.rotateTag, func(t *testing.T) {
			t.Parallel()
			data := testkit.FFmpegFile(t, "rot.mp4", "-i", dir+"/plain.mp4", "-c", "copy", "-metadata:s:v", "rotate="+tt.rotateTag)
			l := DefaultLimits()
			l.MaxFrames = 3
			info, frames, err := decodeAll(t, NewDecoder(l), "rot.mp4", data)
			if err != nil {
				t.Fatal(err)
			}
			if info.Rotation != tt.rotation || info.Width != tt.w || info.Height != tt.h {
				t.Errorf("info = %+v, want rotation %d, %dx%d", info, tt.rotation, tt.w, tt.h)
			}
			img := frames[0].Image
			if img.Rect.Dx() != tt.w || img.Rect.Dy() != tt.h {
				t.Fatalf("frame %v, want %dx%d", img.Rect, tt.w, tt.h)
			}
			if c := img.RGBAAt(tt.redAt.X, tt.redAt.Y); !near(c, color.RGBA{255, 0, 0, 255}, 60) {
				t.Errorf("pixel at %v is %v, want red", tt.redAt, c)
			}
		})
	}
}

func TestVideoDownscale(t *testing.T) {
	t.Parallel()
	data := testkit.FFmpegFile(t, "wide.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=1",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	l := DefaultLimits()
	l.MaxFrameSide = 100
	info, frames, err := decodeAll(t, NewDecoder(l), "wide.mp4", data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 320 || info.Height != 240 || info.Frames != 10 || len(frames) != 10 {
		t.Fatalf("info %+v, %d frames", info, len(frames))
	}
	// 100 x 75, made even: 100 x 74.
	if got := frames[0].Image.Rect; got != image.Rect(0, 0, 100, 74) {
		t.Errorf("frame %v, want 100x74", got)
	}
}

func TestBadVideos(t *testing.T) {
	t.Parallel()
	testkit.RequireTools(t, "ffmpeg", "ffprobe")
	small := func(f func(*Limits)) Limits {
		l := DefaultLimits()
		f(&l)
		return l
	}
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		dec  *Decoder
		want Code
		says string
	}{
		{"audio.mp4", func(t *testing.T) []byte {
			return testkit.FFmpegFile(t, "audio.mp4", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
		}, nil, CodeNoVideoStream, "no video stream (it has only audio)"},
		{"audio.mkv", func(t *testing.T) []byte {
			return testkit.FFmpegFile(t, "audio.mkv", "-f", "lavfi", "-i", "sine=duration=1")
		}, nil, CodeNoVideoStream, "no video stream"},
		{"empty.avi", func(t *testing.T) []byte {
			return testkit.FFmpegFile(t, "empty.avi", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "0", "-c:v", "mjpeg")
		}, nil, CodeZeroLength, "no frames"},
		{"empty.mp4", func(t *testing.T) []byte {
			return testkit.FFmpegFile(t, "empty.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "0", "-c:v", "libx264")
		}, nil, CodeZeroLength, "empty"},
		{"unknown-codec.avi", func(t *testing.T) []byte {
			// A real MJPEG AVI whose codec tag is changed to one no decoder knows.
			data := testkit.FFmpegFile(t, "m.avi", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "mjpeg")
			return []byte(strings.ReplaceAll(string(data), "MJPG", "ZZZZ"))
		}, nil, CodeUnsupportedCodec, `"ZZZZ" is not one ffmpeg knows`},
		{"cut.mp4", func(t *testing.T) []byte {
			// ffmpeg writes the index (moov) at the end: cutting the file loses it.
			data := testkit.FFmpegFile(t, "c.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2", "-c:v", "libx264")
			return data[:len(data)/2]
		}, nil, CodeCorrupt, "could not be read"},
		{"garbage.mkv", func(t *testing.T) []byte {
			data := []byte("\x1A\x45\xDF\xA3")
			for i := range 4000 {
				data = append(data, byte(i*7919>>3))
			}
			return data
		}, nil, CodeCorrupt, ""},
		{"long.mp4", func(t *testing.T) []byte {
			return testkit.FFmpegFile(t, "long.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=3", "-c:v", "libx264")
		}, NewDecoder(small(func(l *Limits) { l.MaxVideoSeconds = 2 })), CodeTooLong, "3.0 s long, more than the 2 s allowed"},
		{"wide.mp4", func(t *testing.T) []byte {
			return testkit.FFmpegFile(t, "wide.mp4", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=5:duration=1", "-c:v", "libx264")
		}, NewDecoder(small(func(l *Limits) { l.MaxPixels = 100_000 })), CodeTooManyPixels, "640x480"},
		{"noffmpeg.mp4", func(t *testing.T) []byte {
			return testkit.FFmpegFile(t, "x.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-c:v", "libx264")
		}, &Decoder{FFmpeg: "/nonexistent/ffmpeg"}, CodeDecoderMissing, "apt-get install ffmpeg"},
		{"noffprobe.mp4", func(t *testing.T) []byte {
			return testkit.FFmpegFile(t, "x.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-c:v", "libx264")
		}, &Decoder{FFprobe: "bonafide-no-such-ffprobe"}, CodeDecoderMissing, "install ffmpeg"},
		{"slow.mp4", func(t *testing.T) []byte {
			return testkit.FFmpegFile(t, "x.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-c:v", "libx264")
		}, NewDecoder(small(func(l *Limits) { l.Timeout = time.Nanosecond })), CodeTimeout, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := tt.dec
			if d == nil {
				d = NewDecoder(DefaultLimits())
			}
			_, _, err := decodeAll(t, d, tt.name, tt.data(t))
			me := wantCode(t, err, tt.want, tt.name)
			if !strings.Contains(me.Error(), tt.says) {
				t.Errorf("message %q does not say %q", me.Error(), tt.says)
			}
			if strings.Contains(me.Error(), os.TempDir()) || strings.Contains(me.Error(), "/nonexistent") {
				t.Errorf("message %q shows a server path", me.Error())
			}
		})
	}
}

var (
	shortClipOnce sync.Once
	shortClip     []byte
)

// testClip returns a 2 s 160x120 H.264 clip at 25 fps, made once.
func testClip(t *testing.T) []byte {
	t.Helper()
	shortClipOnce.Do(func() {
		shortClip = testkit.FFmpegFile(t, "short.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=2",
			"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	})
	if shortClip == nil {
		t.Fatal("no test clip")
	}
	return shortClip
}

func TestVideoCallbackErrorStopsDecoding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, err := NewDecoder(DefaultLimits()).Open(ctx, "short.mp4", testClip(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	stop := errors.New("enough")
	n := 0
	err = m.Frames(ctx, func(f Frame) error {
		n++
		if f.Index == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 4 {
		t.Errorf("Frames = %v after %d frames, want %v after 4", err, n, stop)
	}
}

func TestVideoCallerCancel(t *testing.T) {
	t.Parallel()
	m, err := NewDecoder(DefaultLimits()).Open(context.Background(), "short.mp4", testClip(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	err = m.Frames(ctx, func(f Frame) error {
		if f.Index == 1 {
			cancel()
		}
		return nil
	})
	var me *Error
	if !errors.Is(err, context.Canceled) || errors.As(err, &me) {
		t.Errorf("Frames = %v, want context.Canceled and no *Error (the media is not at fault)", err)
	}
}

func TestVideoCloseRemovesTempFile(t *testing.T) {
	t.Parallel()
	d := NewDecoder(DefaultLimits())
	d.TempDir = t.TempDir()
	m, err := d.Open(context.Background(), "short.mp4", testClip(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.path == "" || !strings.HasPrefix(m.path, d.TempDir) || !exists(m.path) {
		t.Fatalf("temp file %q not in %s", m.path, d.TempDir)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(m.path) {
		t.Error("Close left the temp file")
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// A failed Open leaves nothing behind either.
	if _, err := d.Open(context.Background(), "cut.mp4", testClip(t)[:2000]); err == nil {
		t.Fatal("a cut file opened")
	}
	if left, _ := globCount(d.TempDir); left != 0 {
		t.Errorf("%d files left in the temp dir", left)
	}
}

func TestParseProbe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		json      string
		decodable func(string) bool
		want      videoStream
		problem   Code
	}{
		{"phone portrait", `{"streams":[{"index":0,"codec_type":"audio","codec_name":"aac"},
			{"index":1,"codec_type":"video","codec_name":"h264","width":1920,"height":1080,"avg_frame_rate":"30000/1001",
			"nb_frames":"150","duration":"5.005","side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}],
			"format":{"duration":"5.1"}}`, nil,
			videoStream{index: 1, codec: "h264", width: 1080, height: 1920, rotation: 90, duration: 5.005, fps: 30000.0 / 1001, frames: 150}, ""},
		{"old rotate tag", `{"streams":[{"index":0,"codec_type":"video","codec_name":"h264","width":640,"height":480,
			"r_frame_rate":"25/1","avg_frame_rate":"0/0","tags":{"rotate":"270"}}],"format":{"duration":"2"}}`, nil,
			videoStream{index: 0, codec: "h264", width: 480, height: 640, rotation: 270, duration: 2, fps: 25, frames: 50}, ""},
		{"cover art first", `{"streams":[{"index":0,"codec_type":"video","codec_name":"mjpeg","width":600,"height":600,"disposition":{"attached_pic":1}},
			{"index":1,"codec_type":"video","codec_name":"vp9","width":640,"height":360,"avg_frame_rate":"30/1"}],"format":{"duration":"1.5"}}`, nil,
			videoStream{index: 1, codec: "vp9", width: 640, height: 360, duration: 1.5, fps: 30, frames: 45}, ""},
		{"timebase as rate", `{"streams":[{"index":0,"codec_type":"video","codec_name":"vp8","width":64,"height":48,
			"r_frame_rate":"1000/1","avg_frame_rate":"0/0"}],"format":{"duration":"N/A"}}`, nil,
			videoStream{index: 0, codec: "vp8", width: 64, height: 48}, ""},
		{"only audio", `{"streams":[{"index":0,"codec_type":"audio"},{"index":1,"codec_type":"subtitle"}],"format":{"duration":"3"}}`, nil,
			videoStream{}, CodeNoVideoStream},
		{"nothing", `{"streams":[],"format":{"duration":"0.000000"}}`, nil, videoStream{}, CodeZeroLength},
		{"unknown codec", `{"streams":[{"index":0,"codec_type":"video","codec_tag_string":"ZZZZ","width":64,"height":48}],"format":{}}`, nil,
			videoStream{}, CodeUnsupportedCodec},
		{"no decoder", `{"streams":[{"index":0,"codec_type":"video","codec_name":"prores","width":64,"height":48}],"format":{}}`,
			func(c string) bool { return c == "h264" }, videoStream{}, CodeUnsupportedCodec},
		{"no size", `{"streams":[{"index":0,"codec_type":"video","codec_name":"h264"}],"format":{}}`, nil, videoStream{}, CodeCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problem, err := parseProbe([]byte(tt.json), tt.decodable)
			if err != nil {
				t.Fatal(err)
			}
			if tt.problem != "" {
				if problem == nil || problem.code != tt.problem {
					t.Fatalf("problem %+v, want %s", problem, tt.problem)
				}
				return
			}
			if problem != nil {
				t.Fatalf("problem %+v", problem)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, _, err := parseProbe([]byte("not json"), nil); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestParseCodecs(t *testing.T) {
	t.Parallel()
	testkit.RequireTools(t, "ffmpeg", "ffprobe")
	out, err := exec.Command("ffprobe", "-v", "error", "-hide_banner", "-codecs").Output()
	if err != nil {
		t.Fatal(err)
	}
	set := parseCodecs(out)
	for _, c := range []string{"h264", "vp8", "vp9", "mjpeg"} {
		if !set[c] {
			t.Errorf("%s missing from the decodable video codecs", c)
		}
	}
	if set["aac"] {
		t.Error("an audio codec counted as video")
	}
}

func TestLastLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/tmp/bonafide-123/input.mp4: Invalid data found when processing input": "the file: Invalid data found when processing input",
		"Error opening input file /var/lib/bonafide/x.webm.":                    "Error opening input file the file.",
		"moov atom not found": "moov atom not found",
		"ratio 16/9 kept":     "ratio 16/9 kept",
	} {
		if got := lastLine(in, "x"); got != want {
			t.Errorf("lastLine(%q) = %q, want %q", in, got, want)
		}
	}
	got := lastLine("[mov,mp4 @ 0x55d] first\n[mov,mp4 @ 0x55d] moov atom not found\n\n", "x")
	if got != "moov atom not found" {
		t.Errorf("lastLine = %q", got)
	}
	if got := lastLine("  \n", "default"); got != "default" {
		t.Errorf("lastLine of blank = %q", got)
	}
	tb := &tailBuffer{max: 8}
	tb.Write([]byte("hello "))
	tb.Write([]byte("world"))
	if tb.String() != "lo world" {
		t.Errorf("tail = %q", tb.String())
	}
	tb.Write([]byte("0123456789"))
	if tb.String() != "23456789" {
		t.Errorf("tail = %q", tb.String())
	}
}
