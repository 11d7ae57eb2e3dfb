package liveness_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/jpeg"
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

// knownGaps are the cases the engine still declines (its face is found; the verdict is wrong).
// Each is listed so that the suite stays green while the gap is open, and fails as soon as a gap
// closes (remove it from the list then) or any other case is declined.
//   - the mask occluder: the passive model reads a flat, untextured band over the lower face as
//     an attack on the webcam clips (the photos pass), although training put such a band on live
//     faces;
//   - a face upside down (the frames stored so, with no rotation tag or a wrong one): the detector
//     finds it, but the landmark and head-pose models place an upright face's points on it (eyes
//     above the mouth, roll near 0, measured on the pinned photos), so the engine cannot tell it
//     is upside down and turn it back, and the passive model, trained on upright faces (+-30
//     degrees), reads it as an attack.
//
// Until engine 0.4.0 the 90-degree rotation case tagged its clips with a display rotation that
// every player (ffmpeg included) shows upside down, so it tested an upside-down face; its clips
// are now tagged as phones tag them, and pass.
//
// Engine 0.2's gaps of faces that fill the frame (portrait 9:16 and tight crops) are closed by
// the trained passive model (engine 0.3).
var knownGaps = map[string]string{
	"webcam clip cap12/medical-mask occluder over the lower face": "passive model reads the occluder as an attack",
	"webcam clip cap13/medical-mask occluder over the lower face": "passive model reads the occluder as an attack",
	"webcam clip cap12/" + upsideDown:                             upsideDownGap,
	"webcam clip cap13/" + upsideDown:                             upsideDownGap,
	"photo clmtrackr01/" + upsideDown:                             upsideDownGap,
}

const (
	upsideDown    = "upside down (a wrong rotation tag, or a phone held upside down)"
	upsideDownGap = "the engine cannot tell an upside-down face from an upright one"
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
		{"letterboxed into 16:9 and 9:16", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
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
		{"heavy compression (JPEG quality 30, H.264 CRF 38)", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
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
		{"medical-mask occluder over the lower face", func(t *testing.T, src robustSource, b liveness.Box, w, h int, out string) string {
			// A pale blue band from below the nose to under the chin, the width of the face, with
			// ear loops: what a surgical mask hides.
			mx, my := b.X1+0.08*b.W(), b.Y1+0.58*b.H()
			mw, mh := 0.84*b.W(), 0.48*b.H()
			f := fmt.Sprintf("drawbox=x=%d:y=%d:w=%d:h=%d:color=0xA8C8E0:t=fill,drawbox=x=%d:y=%d:w=%d:h=%d:color=0x90B0C8:t=3",
				int(mx), int(my), int(mw), int(mh), int(mx), int(my), int(mw), int(mh))
			ffmpegTo(t, src, out+ext(src), "-vf", f)
			return out + ext(src)
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
				case r.ResolutionStatus == liveness.StatusSuccess && known:
					t.Fatalf("accepted now, although listed as a known gap (%s): remove it from knownGaps", gap)
				case known:
					t.Logf("known gap, still declined: %s", gap)
				}
			})
		}
	}
}
