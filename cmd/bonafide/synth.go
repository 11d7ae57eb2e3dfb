package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"bonafide/internal/synth"
	"bonafide/media"
)

const synthUsage = `Usage: bonafide synth --kind print|replay [flags] --out OUT.mp4 INPUT

  *** DEVELOPMENT AID ONLY: the output is synthetic. ***
  The videos made here are for tests and development. They only approximate what a real print or
  screen looks like to a webcam, so any figure measured on them (APCER, BPCER, EER, accuracy, ...)
  is NOT a measure of accuracy and must never be reported as one. Measure accuracy on real attacks.
  Every video written carries that warning in its container comment.

Makes a presentation-attack video (H.264 mp4) from live media:

  --kind print   a printed photo held up to the webcam: halftone dots, paper texture and a reduced
                 colour gamut, moving rigidly in 2-D (optionally with a perspective tilt) in the hand.
                 INPUT is a photo (JPEG, PNG, WebP, BMP); from a video, its middle frame is printed.
  --kind replay  a phone or tablet screen replaying INPUT, filmed by the webcam: dark bezel, pixel
                 grid and moire, display gamma and bluish cast, a drifting glare, hand-held motion.
                 A photo is shown throughout; a video is played from its start in real time (and
                 looped if shorter than --seconds).

The output is deterministic for a given INPUT, flags and --seed. Exit status: 0 on success, 1 when
the input cannot be read or the video cannot be written, 2 for a usage error.

Flags:
`

// synthMaxSeconds bounds --seconds; synthReplaySide bounds the replayed frames' long side (the
// screen shows them at a few hundred pixels at most); synthMaxBytes bounds the input file.
const (
	synthMaxSeconds = 120
	synthReplaySide = 640
	synthMaxBytes   = 1 << 30
)

// errEnoughFrames stops decoding once the replay has all the frames it shows.
var errEnoughFrames = errors.New("enough frames")

func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := synth.DefaultPrintStyle()
	kind := fs.String("kind", "", "attack to make: print or replay (required)")
	out := fs.String("out", "", "output video file, H.264 mp4 (required; overwritten)")
	seed := fs.Uint64("seed", 1, "seed of the motion, glare and noise")
	seconds := fs.Float64("seconds", 4, "length of the output in seconds")
	fps := fs.Int("fps", 25, "frame rate of the output")
	size := fs.String("size", "640x480", "output size WxH, both even")
	tilt := fs.Float64("tilt", 0, "maximum perspective tilt as a fraction, e.g. 0.05 (0: flat 2-D motion)")
	halftone := fs.Float64("halftone", def.HalftoneLines, "print: halftone dot rows per photo height (0: none)")
	texture := fs.Float64("texture", def.Texture, "print: paper texture strength, 0..2 (0: none)")
	gamut := fs.Float64("gamut", def.Gamut, "print: colour gamut reduction, 0..2 (0: none)")
	glare := fs.Float64("glare", 0.3, "replay: glare peak as a fraction of white, 0..1 (0: none)")
	fs.Usage = func() {
		fmt.Fprint(stderr, synthUsage)
		fs.PrintDefaults()
	}
	// Flags may come before or after INPUT.
	var inputs []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		inputs = append(inputs, rest[0])
		rest = rest[1:]
	}

	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "bonafide synth: "+format+" (see 'bonafide synth --help')\n", a...)
		return 2
	}
	switch {
	case *kind == "":
		return usageErr("--kind is required: print or replay")
	case *kind != "print" && *kind != "replay":
		return usageErr("--kind must be print or replay, not %q", *kind)
	case *out == "":
		return usageErr("--out is required")
	case len(inputs) == 0:
		return usageErr("no INPUT photo or video given")
	case len(inputs) > 1:
		return usageErr("one INPUT expected, got %d: %s", len(inputs), strings.Join(inputs, " "))
	case !(*seconds > 0 && *seconds <= synthMaxSeconds):
		return usageErr("--seconds must be in (0, %d], got %v", synthMaxSeconds, *seconds)
	case *fps < 1 || *fps > 120:
		return usageErr("--fps must be in [1, 120], got %d", *fps)
	case !(*tilt >= 0 && *tilt <= 0.3):
		return usageErr("--tilt must be in [0, 0.3], got %v", *tilt)
	case !(*halftone >= 0 && *halftone <= 1000):
		return usageErr("--halftone must be in [0, 1000], got %v", *halftone)
	case !(*texture >= 0 && *texture <= 2):
		return usageErr("--texture must be in [0, 2], got %v", *texture)
	case !(*gamut >= 0 && *gamut <= 2):
		return usageErr("--gamut must be in [0, 2], got %v", *gamut)
	case !(*glare >= 0 && *glare <= 1):
		return usageErr("--glare must be in [0, 1], got %v", *glare)
	}
	w, h, err := synthParseSize(*size)
	if err != nil {
		return usageErr("--size: %v", err)
	}
	input := inputs[0]

	fail := func(err error) int {
		fmt.Fprintf(stderr, "bonafide synth: %v\n", err)
		return 1
	}
	data, err := os.ReadFile(input)
	if err != nil {
		return fail(fmt.Errorf("cannot read the input: %w", err)) // err names the file
	}
	if len(data) > synthMaxBytes {
		return fail(fmt.Errorf("%s: the file is larger than 1 GiB", input))
	}

	var n int
	switch *kind {
	case "print":
		photo, err := synthPhoto(ctx, input, data)
		if err != nil {
			return fail(err)
		}
		o := synth.PrintOptions{
			Width: w, Height: h, FPS: *fps, Seconds: *seconds, Seed: *seed, Tilt: *tilt,
			Style: synth.PrintStyle{HalftoneLines: *halftone, Texture: *texture, Gamut: *gamut},
		}
		n = o.FrameCount()
		if err := synth.PrintAttackVideo(ctx, "ffmpeg", photo, o, *out); err != nil {
			return fail(err)
		}
	case "replay":
		content, contentFPS, err := synthContent(ctx, input, data, *seconds)
		if err != nil {
			return fail(err)
		}
		g := *glare
		if g == 0 {
			g = -1 // ReplayOptions: negative is none
		}
		o := synth.ReplayOptions{
			Width: w, Height: h, FPS: *fps, Seconds: *seconds, Seed: *seed, Tilt: *tilt,
			ContentFPS: contentFPS, Glare: g,
		}
		n = o.FrameCount()
		if err := synth.ReplayAttackVideo(ctx, "ffmpeg", content, o, *out); err != nil {
			return fail(err)
		}
	}
	fmt.Fprintf(stdout, "wrote %s: synthetic %s attack from %s, %d frames %dx%d at %d fps\n", *out, *kind, input, n, w, h, *fps)
	fmt.Fprintln(stdout, "synthetic media for development and tests: figures measured on it are not accuracy")
	return 0
}

// synthParseSize reads "WxH" with both sides even and in [16, 4096].
func synthParseSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	if !ok || errW != nil || errH != nil {
		return 0, 0, fmt.Errorf("want WxH, e.g. 640x480, got %q", s)
	}
	if w < 16 || h < 16 || w > 4096 || h > 4096 || w%2 != 0 || h%2 != 0 {
		return 0, 0, fmt.Errorf("%dx%d: both sides must be even and in [16, 4096]", w, h)
	}
	return w, h, nil
}

// synthDecoder opens local development files: larger and longer than an upload may be.
func synthDecoder(maxFrames, maxSide int) *media.Decoder {
	l := media.DefaultLimits()
	l.MaxFileBytes = synthMaxBytes
	l.MaxVideoSeconds = 24 * 3600
	l.MaxFrames = maxFrames
	l.MaxFrameSide = maxSide
	return media.NewDecoder(l)
}

// synthPhoto is the photo to print: INPUT itself, or the middle frame of a video.
func synthPhoto(ctx context.Context, name string, data []byte) (image.Image, error) {
	// Two frames: the decoder cuts a video into two equal slots and takes the first frame of each,
	// so the second is the middle frame.
	m, err := synthDecoder(2, 0).Open(ctx, name, data)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if k := m.Info().Kind; k == media.ShotSet {
		return nil, fmt.Errorf("%s: a shot set (zip) is not supported; give a photo or a video", name)
	}
	var photo image.Image
	err = m.Frames(ctx, func(f media.Frame) error {
		photo = f.Image
		return nil
	})
	if err != nil {
		return nil, err
	}
	return photo, nil
}

// synthContent is what the screen replays: a photo as one frame, or the frames of the first
// seconds of a video at its own rate (every frame, up to the decoder's frame-side limit) with that
// rate.
func synthContent(ctx context.Context, name string, data []byte, seconds float64) ([]image.Image, float64, error) {
	// Asking for as many frames as the video has gives each of them once, at the video's rate.
	m, err := synthDecoder(math.MaxInt32, synthReplaySide).Open(ctx, name, data)
	if err != nil {
		return nil, 0, err
	}
	defer m.Close()
	info := m.Info()
	rate := 0.0
	switch info.Kind {
	case media.ShotSet:
		return nil, 0, fmt.Errorf("%s: a shot set (zip) is not supported; give a photo or a video", name)
	case media.Video:
		rate = float64(info.Frames) / info.Duration
	}
	var frames []image.Image
	err = m.Frames(ctx, func(f media.Frame) error {
		if info.Kind == media.Video && f.Time >= seconds {
			return errEnoughFrames
		}
		frames = append(frames, f.Image)
		return nil
	})
	if err != nil && !errors.Is(err, errEnoughFrames) {
		return nil, 0, err
	}
	if len(frames) == 0 {
		return nil, 0, fmt.Errorf("%s: no frame could be decoded", name)
	}
	return frames, rate, nil
}
