package synth

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // ReadPhoto decodes JPEG
	_ "image/png"  // and PNG
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// stderrTail is how much of ffmpeg's stderr an error message keeps.
const stderrTail = 2048

// MetadataComment is the container comment EncodeVideo writes into every video, so that synthetic
// media can be recognised later (ffprobe -show_entries format_tags=comment).
const MetadataComment = "bonafide synth: synthetic presentation attack for development and tests; not evidence of accuracy"

// EncodeVideo pipes the frames as raw RGBA into one ffmpeg process and writes an H.264 (libx264,
// yuv420p, preset veryfast, crf 23) mp4 at path, overwriting it, tagged with MetadataComment. All
// frames must have the size of the first, and that size must be even in both dimensions (yuv420p).
// ffmpeg is the ffmpeg binary ("ffmpeg" to search PATH); cancelling ctx kills it. On failure the
// partial file is removed and the error carries the tail of ffmpeg's stderr.
func EncodeVideo(ctx context.Context, ffmpeg string, frames []*image.RGBA, fps int, path string) error {
	if len(frames) == 0 {
		return errors.New("synth: EncodeVideo: no frames")
	}
	if fps <= 0 {
		return fmt.Errorf("synth: EncodeVideo: fps must be positive, got %d", fps)
	}
	size := frames[0].Bounds().Size()
	if size.X <= 0 || size.Y <= 0 || size.X%2 != 0 || size.Y%2 != 0 {
		return fmt.Errorf("synth: EncodeVideo: frame size %dx%d must be positive and even for yuv420p", size.X, size.Y)
	}
	for i, f := range frames {
		if f.Bounds().Size() != size {
			return fmt.Errorf("synth: EncodeVideo: frame %d is %v, want %dx%d", i, f.Bounds().Size(), size.X, size.Y)
		}
	}

	cmd := exec.CommandContext(ctx, ffmpeg,
		"-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgba",
		"-s", fmt.Sprintf("%dx%d", size.X, size.Y), "-r", strconv.Itoa(fps),
		"-i", "pipe:0",
		"-an", "-metadata", "comment="+MetadataComment, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
		"-movflags", "+faststart", "-f", "mp4", path)
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = tail
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("synth: EncodeVideo: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("synth: EncodeVideo: starting %s: %w", ffmpeg, err)
	}
	writeErr := writeFrames(stdin, frames)
	closeErr := stdin.Close()
	waitErr := cmd.Wait()

	fail := func(what string, err error) error {
		os.Remove(path)
		if ctx.Err() != nil {
			return fmt.Errorf("synth: EncodeVideo %s: %w", path, ctx.Err())
		}
		msg := strings.TrimSpace(tail.String())
		if msg == "" {
			msg = "(no stderr)"
		}
		return fmt.Errorf("synth: EncodeVideo %s: %s: %w; ffmpeg stderr: %s", path, what, err, msg)
	}
	switch {
	case waitErr != nil:
		return fail("ffmpeg failed", waitErr)
	case writeErr != nil:
		return fail("writing frames", writeErr)
	case closeErr != nil:
		return fail("closing ffmpeg's stdin", closeErr)
	}
	return nil
}

// writeFrames writes each frame's pixels as tightly packed RGBA rows.
func writeFrames(w io.Writer, frames []*image.RGBA) error {
	for _, f := range frames {
		b := f.Bounds()
		rowLen := 4 * b.Dx()
		if f.Stride == rowLen {
			i := f.PixOffset(b.Min.X, b.Min.Y)
			if _, err := w.Write(f.Pix[i : i+rowLen*b.Dy()]); err != nil {
				return err
			}
			continue
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			i := f.PixOffset(b.Min.X, y)
			if _, err := w.Write(f.Pix[i : i+rowLen]); err != nil {
				return err
			}
		}
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// PrintAttackVideo renders PrintAttackFrames(photo, o) and encodes them with EncodeVideo at o's
// frame rate into an mp4 at path.
func PrintAttackVideo(ctx context.Context, ffmpeg string, photo image.Image, o PrintOptions, path string) error {
	o = o.withDefaults()
	return EncodeVideo(ctx, ffmpeg, PrintAttackFrames(photo, o), o.FPS, path)
}

// ReadPhoto decodes a JPEG or PNG photo file, a convenience for feeding PrintAttackFrames.
// It does not apply EXIF orientation.
func ReadPhoto(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("synth: decoding %s: %w", path, err)
	}
	return img, nil
}
