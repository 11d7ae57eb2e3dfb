package testkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RequireTools fails the test when a program is not on PATH: the video tests use the real ffmpeg
// and ffprobe (Debian: apt-get install ffmpeg), they do not skip without them.
func RequireTools(tb testing.TB, names ...string) {
	tb.Helper()
	for _, name := range names {
		Tool(tb, name)
	}
}

// Tool is the path of the program name on PATH; the test fails when it is missing.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s is needed on PATH for this test (Debian: apt-get install ffmpeg): %v", name, err)
	}
	return p
}

// FFmpeg runs `ffmpeg -nostdin -v error -y args...` (the output file among args) and fails the
// test when it fails.
func FFmpeg(tb testing.TB, args ...string) {
	tb.Helper()
	RequireTools(tb, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
}

// FFmpegFile runs ffmpeg with args and the output file out (a name in a temp dir) and returns the
// file's bytes.
func FFmpegFile(tb testing.TB, out string, args ...string) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), out)
	FFmpeg(tb, append(args, path)...)
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// Probe is what ffprobe says about a file's first video stream (frames counted by decoding) and
// its container comment.
type Probe struct {
	Codec         string
	Width, Height int
	Frames        int
	Comment       string
}

// FFprobe probes path's first video stream, failing the test when ffprobe fails.
func FFprobe(tb testing.TB, path string) Probe {
	tb.Helper()
	RequireTools(tb, "ffprobe")
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames:format_tags=comment",
		"-of", "default=noprint_wrappers=1", path).CombinedOutput()
	if err != nil {
		tb.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var p Probe
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "codec_name":
			p.Codec = v
		case "width":
			p.Width = n
		case "height":
			p.Height = n
		case "nb_read_frames":
			p.Frames = n
		case "TAG:comment":
			p.Comment = v
		}
	}
	return p
}
