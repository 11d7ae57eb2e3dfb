package liveness_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"bonafide/internal/assets"
	"bonafide/internal/synth"
	"bonafide/internal/testkit"
	"bonafide/liveness"
)

// The robustness suite: every live clip and photo of the pinned media, transformed the way real
// phone and webcam captures differ from the tidy originals, must still have its face found and be
// accepted (SUCCESS). Real models, real ffmpeg; the transforms are ffmpeg filters placed from the
// face box the engine finds on the original.

// robustSource is one live original.
type robustSource struct {
	name  string
	path  string
	video bool
}

// faceBox is the median primary face box of a result's frames.
func faceBox(t *testing.T, r *liveness.Result) liveness.Box {
	t.Helper()
	var x1, y1, x2, y2 []float64
	for _, f := range r.Frames {
		if f.Box != nil {
			x1, y1, x2, y2 = append(x1, f.Box.X1), append(y1, f.Box.Y1), append(x2, f.Box.X2), append(y2, f.Box.Y2)
		}
	}
	if len(x1) == 0 {
		t.Fatal("no face on the original")
	}
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	return liveness.Box{X1: med(x1), Y1: med(y1), X2: med(x2), Y2: med(y2)}
}

// ffmpegTo runs ffmpeg on the source with a filter graph (and extra output options) into out.
func ffmpegTo(t *testing.T, src robustSource, out string, args ...string) {
	t.Helper()
	cmd := append([]string{"-i", src.path}, args...)
	if src.video {
		cmd = append(cmd, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-an")
	} else {
		cmd = append(cmd, "-frames:v", "1")
	}
	testkit.FFmpeg(t, append(cmd, out)...)
}

// handHeld is an ffmpeg filter that moves the whole frame the way a phone held by someone else
// does: a slow sway and a quicker tremor in translation (up to about 4% of the frame), roll (up to
// about 4 degrees) and zoom (0.91-1.09 about a 1.3 crop, so the view stays in the frame),
// smooth in time. Every frame is a similarity of the original: the head does not move with it.
// seed shifts the phases of the sinusoids.
func handHeld(seed float64) string {
	T := "(in/25)" // perspective has no time variable: the frame count at 25 fps
	wave := func(a1, f1, a2, f2, phase float64) string {
		return fmt.Sprintf("(%g*sin(2*PI*%g*%s+%g)+%g*sin(2*PI*%g*%s+%g))", a1, f1, T, phase*seed, a2, f2, T, 1.7*phase*seed)
	}
	s := "(1.3+" + wave(0.08, 0.35, 0.04, 0.9, 1) + ")"
	th := "(" + wave(3, 0.27, 0.8, 1.7, 0.5) + "*PI/180)"
	tx := "(W*" + wave(0.035, 0.31, 0.008, 2.1, 2) + ")"
	ty := "(H*" + wave(0.035, 0.23, 0.008, 1.9, 4) + ")"
	// perspective's coordinates (sense=source) are the points of the input shown at the output's
	// corners: the output corner (X, Y) shows the centre plus the rotated, unzoomed offset, shifted.
	var parts []string
	for i, c := range [][2]string{{"0", "0"}, {"W", "0"}, {"0", "H"}, {"W", "H"}} {
		dx, dy := "("+c[0]+"-W/2)", "("+c[1]+"-H/2)"
		parts = append(parts,
			fmt.Sprintf("x%d='W/2+(cos(%s)*%s-sin(%s)*%s)/%s+%s'", i, th, dx, th, dy, s, tx),
			fmt.Sprintf("y%d='H/2+(sin(%s)*%s+cos(%s)*%s)/%s+%s'", i, th, dx, th, dy, s, ty))
	}
	return "fps=25," + strings.ReplaceAll("perspective="+strings.Join(parts, ":")+":interpolation=cubic:eval=frame", ",", "\\,")
}

// withEXIFOrientation inserts an APP1 Exif segment with the given orientation after a JPEG's SOI.
func withEXIFOrientation(t *testing.T, jpg []byte, orientation uint16) []byte {
	t.Helper()
	if len(jpg) < 2 || jpg[0] != 0xFF || jpg[1] != 0xD8 {
		t.Fatal("not a JPEG")
	}
	var tiff bytes.Buffer
	tiff.WriteString("II*\x00")
	binary.Write(&tiff, binary.LittleEndian, uint32(8)) // first IFD
	binary.Write(&tiff, binary.LittleEndian, uint16(1)) // one entry
	binary.Write(&tiff, binary.LittleEndian, []uint16{0x0112, 3})
	binary.Write(&tiff, binary.LittleEndian, uint32(1))
	binary.Write(&tiff, binary.LittleEndian, []uint16{orientation, 0})
	binary.Write(&tiff, binary.LittleEndian, uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append([]byte{0xFF, 0xD8}, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// knownGaps are the cases the engine still declines, or accepts only just under the threshold
// (its face is found; the verdict is wrong or on the edge). Each is listed so that the suite
// stays green while the gap is open, and fails as soon as a gap closes (remove it from the list
// then) or any other case is declined.
//   - a flat band pasted over the lower face: the passive model reads a flat, untextured
//     rectangle as an attack on the webcam clips (fused 0.98 and 0.99; the photos pass);
//   - a medical mask shaped to the face: on the webcam clips the passive model still reads it as
//     an attack (fused 0.88 for cap12 and 0.99 for cap13, which also reads as FLAT_SURFACE; the
//     overlay is flat and follows the face box only, with no 3D shape). Both photos pass (0.07 and
//     0.44; measured with model trained-2026-12-07-1856 on 2026-12-07);
//   - a face upside down (the frames stored so, with no rotation tag or a wrong one): the detector
//     finds it, but the landmark and head-pose models place an upright face's points on it (eyes
//     above the mouth, roll near 0, measured on the pinned photos), so the engine cannot tell it
//     is upside down and turn it back, and the passive model, trained on upright faces (+-30
//     degrees), reads both clips as an attack (0.93 and 0.88) and franck's photo as enough of
//     one (0.58); clmtrackr01's photo passes;
//   - cap12 letterboxed: the 2.3x model reads the black bars beside a webcam face that fills the
//     frame's height as just enough of an attack (fused 0.514);
//   - cap12 heavily compressed (H.264 CRF 38): fused 0.480, just under the threshold (0.500 with
//     trained-2026-12-07-0637), so still listed until it passes below gapClosedBelow (cap13
//     passes at 0.38).
//
// A gap counts as closed when its case is accepted below gapClosedBelow: a case that sits on the
// threshold (cap12 compressed, 0.500) moves by a few thousandths between machines (ffmpeg builds,
// CPUs), which must not turn the suite red either way.
//
// The last three sit near the threshold and move with each calibration: accepted just under it
// with the one fitted on 5 folds (trained-2026-12-07-0326, a photo declined above P 0.152: 0.488,
// 0.465 and 0.497), declined with the one fitted leaving one source out (0637, above P 0.131:
// 0.525, 0.500, 0.535), and with the skin tones balanced in training (1856, above P 0.128)
// 0.514, 0.480 and 0.579.
//
// Until engine 0.4.0 the 90-degree rotation case tagged its clips with a display rotation that
// every player (ffmpeg included) shows upside down, so it tested an upside-down face; its clips
// are now tagged as phones tag them, and pass.
//
// Engine 0.2's gaps of faces that fill the frame (portrait 9:16 and tight crops) are closed by
// the trained passive model (engine 0.3).
var knownGaps = map[string]string{
	"webcam clip cap12/" + flatBand:   flatBandGap,
	"webcam clip cap13/" + flatBand:   flatBandGap,
	"webcam clip cap12/" + shapedMask: shapedMaskGap,
	"webcam clip cap13/" + shapedMask: shapedMaskGap,
	"webcam clip cap12/" + upsideDown: upsideDownGap,
	"webcam clip cap13/" + upsideDown: upsideDownGap,
	"photo franck/" + upsideDown:      upsideDownGap,
	"webcam clip cap12/" + letterbox:  "the 2.3x model reads the bars beside a face filling the frame's height as an attack, just over the threshold",
	"webcam clip cap12/" + compressed: "the 2.3x model reads the blocking of H.264 at CRF 38 on a webcam face as nearly an attack (fused 0.48 to 0.50)",
}

// gapClosedBelow is the score under which a known gap's case counts as accepted for good: the
// default threshold less a margin for the last bits that differ between machines.
var gapClosedBelow = liveness.DefaultConfig().Threshold - 0.05

const (
	flatBand      = "flat band pasted over the lower face"
	flatBandGap   = "passive model reads a flat, untextured band pasted over the lower face of a webcam clip as an attack"
	shapedMask    = "a medical mask shaped to the face (pleats, shading, ear loops)"
	shapedMaskGap = "the passive model reads a masked face on a webcam clip as an attack"
	upsideDown    = "upside down (a wrong rotation tag, or a phone held upside down)"
	upsideDownGap = "the engine cannot tell an upside-down face from an upright one"
	letterbox     = "letterboxed into 16:9 and 9:16"
	compressed    = "heavy compression (JPEG quality 30, H.264 CRF 38)"
)

func TestRobustnessLiveCapturesSucceed(t *testing.T) {
	media := assets.ClmtrackrMedia()
	assets.Require(t, filepath.Join(media, "franck_02159.jpg"), filepath.Join(media, "clmtrackr01.jpg"), filepath.Join(media, "cap13_edit2.mp4"))
	e := engine(t)
	dir := t.TempDir()
	clip2 := filepath.Join(dir, "cap13.mp4")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-ss", "2", "-i", filepath.Join(media, "cap13_edit2.mp4"),
		"-t", "5", "-c", "copy", clip2).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	sources := []robustSource{
		{"webcam clip cap12", liveClip(t), true},
		{"webcam clip cap13", clip2, true},
		{"photo franck", filepath.Join(media, "franck_02159.jpg"), false},
		// Not audrey.jpg: the shipped passive models were trained on synthetic prints and replays
		// of it (scripts/pinned-set.sh), so they rightly learned that face as an attack. This photo
		// is in no training manifest.
		{"photo clmtrackr01", filepath.Join(media, "clmtrackr01.jpg"), false},
	}
	// A second, small face for the background: another person's face photo.
	bystander := filepath.Join(media, "cage.jpg")
	assets.Require(t, bystander)

	type transform struct {
		name string
		make func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string
	}
	ext := func(src robustSource) string {
		if src.video {
			return ".mp4"
		}
		return ".png"
	}
	even := func(v float64) int { return max(2, int(v)/2*2) }
	var origFrames []liveness.FrameResult // the original's frames with a face, in time order
	transforms := []transform{
		{"portrait 9:16, face 70% of the width", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			cw := b.W() / 0.7
			ch := cw * 16 / 9
			if ch > float64(h) { // not enough height: the tallest 9:16 crop, the face as wide as it allows
				ch = float64(h)
				cw = ch * 9 / 16
			}
			cx, cy := (b.X1+b.X2)/2, (b.Y1+b.Y2)/2
			x := min(max(0, cx-cw/2), float64(w)-cw)
			y := min(max(0, cy-ch/2), float64(h)-ch)
			ffmpegTo(t, src, out+ext(src), "-vf", fmt.Sprintf("crop=%d:%d:%d:%d,scale=540:960", even(cw), even(ch), int(x), int(y)))
			return out + ext(src)
		}},
		{"tight face crop", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			x, y := max(0, b.X1), max(0, b.Y1)
			cw, ch := min(b.X2, float64(w))-x, min(b.Y2, float64(h))-y
			ffmpegTo(t, src, out+ext(src), "-vf", fmt.Sprintf("crop=%d:%d:%d:%d", even(cw), even(ch), int(x), int(y)))
			return out + ext(src)
		}},
		{letterbox, func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			ffmpegTo(t, src, out+ext(src), "-vf", fmt.Sprintf("pad=%d:%d:(ow-iw)/2:(oh-ih)/2:black,pad=iw:%d:0:(oh-ih)/2:black", even(float64(h)*16/9+2), h, even(float64(h)*16/9*16/9)))
			return out + ext(src)
		}},
		{"rotated 90 degrees with rotation metadata", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			if src.video {
				// Frames stored turned a quarter counter-clockwise, tagged to be shown turned a
				// quarter clockwise, back upright: what a phone held upright writes (its display
				// matrix, as ffprobe reports it: rotation -90). ffmpeg 5's muxer reads the old
				// "rotate" tag as counter-clockwise, so 270 here; "rotate=90" would tag the frames to
				// be shown upside down (every player, ffmpeg included, shows them so), which is what
				// this case tested by mistake until engine 0.4.0.
				tmp := out + "-stored.mp4"
				ffmpegTo(t, src, tmp, "-vf", "transpose=2")
				if b, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", tmp, "-c", "copy",
					"-metadata:s:v:0", "rotate=270", out+".mp4").CombinedOutput(); err != nil {
					t.Fatalf("ffmpeg: %v: %s", err, b)
				}
				b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
					"stream_side_data=rotation", "-of", "csv=p=0", out+".mp4").CombinedOutput()
				if err != nil || strings.TrimSpace(string(b)) != "-90" {
					t.Fatalf("the rotated clip's display matrix: got %q (%v), want rotation -90", b, err)
				}
				return out + ".mp4"
			}
			ffmpegTo(t, src, out+"-stored.jpg", "-vf", "transpose=2", "-q:v", "2")
			data, err := os.ReadFile(out + "-stored.jpg")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out+".jpg", withEXIFOrientation(t, data, 6), 0o644); err != nil {
				t.Fatal(err)
			}
			return out + ".jpg"
		}},
		{upsideDown, func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			ffmpegTo(t, src, out+ext(src), "-vf", "hflip,vflip")
			return out + ext(src)
		}},
		{"mirrored", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			ffmpegTo(t, src, out+ext(src), "-vf", "hflip")
			return out + ext(src)
		}},
		{"480p", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			ffmpegTo(t, src, out+ext(src), "-vf", "scale=-2:480")
			return out + ext(src)
		}},
		{"dark (gamma 2.2)", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			g := "255*pow(val/255\\,2.2)"
			ffmpegTo(t, src, out+ext(src), "-vf", "format=rgb24,lutrgb=r="+g+":g="+g+":b="+g)
			return out + ext(src)
		}},
		{compressed, func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			if src.video {
				ffmpegTo(t, src, out+".mp4", "-crf", "38")
				return out + ".mp4"
			}
			img, err := synth.ReadPhoto(src.path)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 30}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out+".jpg", buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			return out + ".jpg"
		}},
		{flatBand, func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			// A flat, untextured pale blue rectangle from below the nose to under the chin, wider
			// than the face, with a darker border: a pasted band rather than a worn mask.
			mx, my := b.X1+0.08*b.W(), b.Y1+0.58*b.H()
			mw, mh := 0.84*b.W(), 0.48*b.H()
			f := fmt.Sprintf("drawbox=x=%d:y=%d:w=%d:h=%d:color=0xA8C8E0:t=fill,drawbox=x=%d:y=%d:w=%d:h=%d:color=0x90B0C8:t=3",
				int(mx), int(my), int(mw), int(mh), int(mx), int(my), int(mw), int(mh))
			ffmpegTo(t, src, out+ext(src), "-vf", f)
			return out + ext(src)
		}},
		{shapedMask, func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			if !src.video {
				mask := out + "-mask.png"
				writePNG(t, mask, medicalMask(b, w, h))
				ffmpegTo(t, src, out+".png", "-i", mask, "-filter_complex", "[0][1]overlay=0:0:format=auto")
				return out + ".png"
			}
			// A worn mask moves with the face: one overlay per 1/25 s, placed on the face box the
			// engine found on the original at that time (linear between its sampled frames).
			dir := out + "-mask"
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			last := origFrames[len(origFrames)-1].Time
			for i := 0; float64(i)/25 <= last+0.04; i++ {
				writePNG(t, filepath.Join(dir, fmt.Sprintf("%04d.png", i)), medicalMask(boxAt(origFrames, float64(i)/25), w, h))
			}
			ffmpegTo(t, src, out+".mp4", "-framerate", "25", "-i", filepath.Join(dir, "%04d.png"),
				"-filter_complex", "[0][1]overlay=0:0:format=auto:eof_action=repeat")
			return out + ".mp4"
		}},
		{"a small second face in the background", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			side := even(b.W() * 0.35) // about an eighth of the primary face's area
			x := 4
			if (b.X1+b.X2)/2 < float64(w)/2 {
				x = w - side - 4
			}
			args := []string{"-i", bystander, "-filter_complex",
				fmt.Sprintf("[1]crop=iw*0.6:iw*0.6:iw*0.2:ih*0.15,scale=%d:%d[f];[0][f]overlay=%d:4", side, side, x)}
			ffmpegTo(t, src, out+ext(src), args...)
			return out + ext(src)
		}},
		{"filmed by someone else's hand-held phone (sway, tremor, roll, zoom)", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			if !src.video {
				t.Skip("camera motion needs a video")
			}
			ffmpegTo(t, src, out+".mp4", "-vf", handHeld(1))
			return out + ".mp4"
		}},
	}

	for _, src := range sources {
		orig := analyze(t, e, src.path, "video_selfie_blank")
		if orig.ResolutionStatus != liveness.StatusSuccess {
			t.Fatalf("%s: the original is not accepted: %.3f %v", src.name, orig.ConfidenceSpoofing, orig.Reasons)
		}
		box := faceBox(t, orig)
		origFrames = slices.DeleteFunc(slices.Clone(orig.Frames), func(f liveness.FrameResult) bool { return f.Box == nil })
		w, h := orig.Media.Width, orig.Media.Height
		for i, tr := range transforms {
			t.Run(src.name+"/"+tr.name, func(t *testing.T) {
				path := tr.make(t, src, box, w, h, filepath.Join(dir, fmt.Sprintf("%s-%d", strings.ReplaceAll(src.name, " ", "_"), i)))
				r := analyze(t, e, path, "video_selfie_blank")
				var codes []string
				for _, x := range r.Reasons {
					codes = append(codes, x.Code)
				}
				t.Logf("%s %dx%d: %s %.3f %v", filepath.Base(path), r.Media.Width, r.Media.Height, r.ResolutionStatus, r.ConfidenceSpoofing, codes)
				if r.HasReason(liveness.ReasonNoFace) {
					t.Fatalf("no face found")
				}
				gap, known := knownGaps[src.name+"/"+tr.name]
				switch {
				case r.ResolutionStatus != liveness.StatusSuccess && !known:
					t.Fatalf("declined (%.3f): %v; signals %+v", r.ConfidenceSpoofing, r.Reasons, r.Signals)
				case r.ResolutionStatus == liveness.StatusSuccess && known && r.ConfidenceSpoofing < gapClosedBelow:
					t.Fatalf("accepted now (%.3f), although listed as a known gap (%s): remove it from knownGaps", r.ConfidenceSpoofing, gap)
				case r.ResolutionStatus == liveness.StatusSuccess && known:
					t.Logf("known gap, accepted just under the threshold (%.3f): %s", r.ConfidenceSpoofing, gap)
				case known:
					t.Logf("known gap, still declined: %s", gap)
				}
			})
		}
	}
}

// medicalMask is a w x h overlay, transparent but for a pale blue surgical mask worn over the
// face in box b: its top edge over the nose (highest at the bridge), its sides on the cheeks, its
// lower edge curving under the chin, three horizontal pleats, darker towards the sides where it
// turns away from the light, a faint weave, and white ear loops running out to the ears. Drawn
// from the face box alone (a clip gets one per frame, on the box of that time: boxAt).
func medicalMask(b liveness.Box, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	bw, bh := b.W(), b.H()
	top := func(u float64) float64 { d := (u - 0.5) / 0.45; return 0.47 + 0.09*d*d }
	bottom := func(u float64) float64 { d := (u - 0.5) / 0.44; return 0.80 + 0.22*math.Sqrt(max(0, 1-d*d)) }
	const left, right = 0.06, 0.94 // the mask's sides, as shares of the box's width
	inside := func(x, y float64) bool {
		u, v := (x-b.X1)/bw, (y-b.Y1)/bh
		return u >= left && u <= right && v >= top(u) && v <= bottom(u)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	// Only the pixels of the mask's bounding rectangle can be inside it: top is highest and
	// bottom lowest at the centre (u = 0.5).
	x0, x1 := max(0, int(math.Floor(b.X1+left*bw))), min(w, int(math.Ceil(b.X1+right*bw))+1)
	y0, y1 := max(0, int(math.Floor(b.Y1+top(0.5)*bh))), min(h, int(math.Ceil(b.Y1+bottom(0.5)*bh))+1)
	for py := y0; py < y1; py++ {
		for px := x0; px < x1; px++ {
			// Coverage from 4x4 samples: soft, anti-aliased edges.
			n := 0
			for sy := 0; sy < 4; sy++ {
				for sx := 0; sx < 4; sx++ {
					if inside(float64(px)+(float64(sx)+0.5)/4, float64(py)+(float64(sy)+0.5)/4) {
						n++
					}
				}
			}
			if n == 0 {
				continue
			}
			u, v := (float64(px)+0.5-b.X1)/bw, (float64(py)+0.5-b.Y1)/bh
			t0, t1 := top(u), bottom(u)
			f := (v - t0) / max(1e-6, t1-t0)                   // 0 at the top edge, 1 at the bottom
			shade := 0.80 + 0.20*math.Cos(math.Pi*(u-0.5)/0.9) // the sides turn away from the light
			for _, p := range []float64{0.3, 0.5, 0.7} {       // pleats: a shadow under a lit fold
				d := (f - p) * (t1 - t0) * bh // pixels below the fold
				switch {
				case d >= 0 && d < 0.025*bh:
					shade *= 0.84
				case d < 0 && d > -0.02*bh:
					shade *= 1.05
				}
			}
			shade *= 1 + rng.NormFloat64()*0.02
			c := func(base float64) uint8 { return uint8(min(255, max(0, base*shade))) }
			img.SetNRGBA(px, py, color.NRGBA{c(172), c(204), c(228), uint8(255 * n / 16)})
		}
	}
	// Ear loops: from the mask's upper and lower corners out past the face's sides.
	loop := func(x0, y0, x1, y1 float64) {
		for i := 0; i <= 200; i++ {
			s := float64(i) / 200
			x, y := b.X1+(x0+(x1-x0)*s)*bw, b.Y1+(y0+(y1-y0)*s)*bh
			for dx := -1; dx <= 0; dx++ {
				if X, Y := int(x)+dx, int(y); X >= 0 && Y >= 0 && X < w && Y < h && img.NRGBAAt(X, Y).A == 0 {
					img.SetNRGBA(X, Y, color.NRGBA{236, 238, 240, 230})
				}
			}
		}
	}
	loop(0.07, top(0.07)+0.01, -0.04, 0.42)
	loop(0.07, bottom(0.07)-0.02, -0.04, 0.60)
	loop(0.93, top(0.93)+0.01, 1.04, 0.42)
	loop(0.93, bottom(0.93)-0.02, 1.04, 0.60)
	return img
}

// writePNG writes img to path as PNG.
func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// boxAt is the face box at time ts, linear between the frames around it (frames in time order,
// each with a box); before the first or after the last, that frame's box.
func boxAt(frames []liveness.FrameResult, ts float64) liveness.Box {
	i, _ := slices.BinarySearchFunc(frames, ts, func(f liveness.FrameResult, ts float64) int {
		switch {
		case f.Time < ts:
			return -1
		case f.Time > ts:
			return 1
		}
		return 0
	})
	if i == 0 {
		return *frames[0].Box
	}
	if i >= len(frames) {
		return *frames[len(frames)-1].Box
	}
	a, b := frames[i-1], frames[i]
	f := (ts - a.Time) / max(1e-9, b.Time-a.Time)
	lerp := func(x, y float64) float64 { return x + (y-x)*f }
	return liveness.Box{X1: lerp(a.Box.X1, b.Box.X1), Y1: lerp(a.Box.Y1, b.Box.Y1), X2: lerp(a.Box.X2, b.Box.X2), Y2: lerp(a.Box.Y2, b.Box.Y2)}
}
