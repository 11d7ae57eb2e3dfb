package media

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"golang.org/x/image/draw"

	"bonafide/internal/testkit"
)

// benchPhoto returns a w x h picture with gradients and noise, closer to a photo for a JPEG coder than
// flat test patterns.
func benchPhoto(w, h int) *image.RGBA {
	img := testPicture(w, h, map[string]color.RGBA{"tl": red})
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < len(img.Pix); i += 4 {
		n := uint8(r.IntN(24))
		img.Pix[i] += n
		img.Pix[i+1] += n / 2
	}
	return img
}

// BenchmarkDecodeJPEG640 is one 640x480 photo from bytes to an RGBA frame (Open + Frames).
func BenchmarkDecodeJPEG640(b *testing.B) {
	data := encodeJPEG(b, benchPhoto(640, 480))
	d := NewDecoder(DefaultLimits())
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := d.Open(ctx, "photo.jpg", data)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Frames(ctx, func(Frame) error { return nil }); err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
}

// BenchmarkVideo720p50Frames is a 5 s 1280x720 H.264 clip (30 fps) from bytes to 50 RGBA frames:
// the header read in Go, one ffmpeg process, and the pipe ("header=go", what Open does); and the
// same with the header read by an ffprobe process first ("header=ffprobe", as before the Go reader
// and as for every container other than MP4 and QuickTime). child-cpu-s/op is the CPU time of the
// tools, which ns/op (this process's wall time) does not show.
func BenchmarkVideo720p50Frames(b *testing.B) {
	eachHeaderReader(b, benchVideo)
}

// eachHeaderReader runs bench on the 5 s 1280x720 H.264 test clip (30 fps) with the header read in
// Go ("header=go", what Open does) and by an ffprobe process ("header=ffprobe").
func eachHeaderReader(b *testing.B, bench func(*testing.B, *Decoder, []byte)) {
	data := testkit.FFmpegFile(b, "720p.mp4", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=30:duration=5",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
	for _, header := range []string{"go", "ffprobe"} {
		b.Run("header="+header, func(b *testing.B) {
			d := NewDecoder(DefaultLimits())
			d.ffprobeOnly = header == "ffprobe"
			bench(b, d, data)
		})
	}
}

func benchVideo(b *testing.B, d *Decoder, data []byte) {
	b.ReportAllocs()
	benchOpen(b, d, data, func(ctx context.Context, m *Media) {
		n := 0
		if err := m.Frames(ctx, func(Frame) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != 50 {
			b.Fatalf("%d frames", n)
		}
	})
}

// BenchmarkOpenMP4 is Open alone (header, temporary file, limits) of the 5 s 720p clip, the header
// read in Go or by ffprobe: the cost the Go reader removes from every MP4.
func BenchmarkOpenMP4(b *testing.B) {
	eachHeaderReader(b, func(b *testing.B, d *Decoder, data []byte) {
		benchOpen(b, d, data, func(context.Context, *Media) {})
	})
}

// benchOpen opens the clip with d and hands it to use, b.N times, and reports the CPU time of the
// tools (ffprobe, ffmpeg), which the ns/op of this process does not show.
func benchOpen(b *testing.B, d *Decoder, data []byte, use func(context.Context, *Media)) {
	ctx := context.Background()
	// The list of decodable codecs is read once per Decoder; do it outside the loop.
	if _, err := d.Open(ctx, "720p.mp4", data); err != nil {
		b.Fatal(err)
	}
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &before)
	for b.Loop() {
		m, err := d.Open(ctx, "720p.mp4", data)
		if err != nil {
			b.Fatal(err)
		}
		use(ctx, m)
		m.Close()
	}
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(cpu.Seconds()/float64(b.N), "child-cpu-s/op")
}

// BenchmarkDownscale compares x/image/draw interpolators on a 12 MP phone photo (decoded JPEG, YCbCr)
// shrunk to 1280x960; see the comment on downscale.
func BenchmarkDownscale(b *testing.B) {
	src, _, err := image.Decode(bytesReader(encodeJPEG(b, benchPhoto(4032, 3024))))
	if err != nil {
		b.Fatal(err)
	}
	for _, in := range []struct {
		name string
		ip   draw.Interpolator
	}{
		{"ApproxBiLinear", draw.ApproxBiLinear},
		{"BiLinear", draw.BiLinear},
		{"CatmullRom", draw.CatmullRom},
		{"HalvingThenBiLinear", nil}, // what decodeImage uses
	} {
		b.Run(in.name, func(b *testing.B) {
			if in.ip == nil {
				dst := image.NewRGBA(image.Rect(0, 0, 1280, 960))
				for b.Loop() {
					downscale(dst, src)
				}
				return
			}
			dst := image.NewRGBA(image.Rect(0, 0, 1280, 960))
			for b.Loop() {
				in.ip.Scale(dst, dst.Rect, src, src.Bounds(), draw.Src, nil)
			}
		})
	}
}

func ExampleDecoder_Open() {
	d := NewDecoder(DefaultLimits())
	ctx := context.Background()
	m, err := d.Open(ctx, "clip.mp4", []byte("not a video\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	// Output: clip.mp4: the file is a text file, not a video or image
}
