//go:build linux

package media

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"bonafide/internal/testkit"
)

// childLimits reads /proc/PID/limits of this process's running child whose command is comm.
func childLimits(t *testing.T, comm string) string {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.HasSuffix(s[:i], "("+comm) {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		lim, err := os.ReadFile(filepath.Join(filepath.Dir(st), "limits"))
		if err == nil {
			return string(lim)
		}
	}
	t.Fatalf("no running %s child of this process", comm)
	return ""
}

func limitLine(limits, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+(\S+)\s+(\S+)`).FindStringSubmatch(limits)
	if m == nil {
		return ""
	}
	return m[1] + " " + m[2]
}

// The ffmpeg that decodes a video runs under the configured limits from its start: read from
// /proc/PID/limits of the running process while it delivers frames.
func TestToolLimitsApplied(t *testing.T) {
	l := DefaultLimits()
	l.ToolAddressSpace = 1536 << 20
	l.ToolCPUTime = 77 * time.Second
	ctx := context.Background()
	m, err := NewDecoder(l).Open(ctx, "short.mp4", testClip(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var limits string
	err = m.Frames(ctx, func(f Frame) error {
		if limits == "" {
			limits = childLimits(t, "ffmpeg")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"Max address space":  fmt.Sprintf("%d %d", 1536<<20, 1536<<20),
		"Max cpu time":       "77 77",
		"Max core file size": "0 0",
		"Max file size":      "0 0",
		"Max open files":     fmt.Sprintf("%d %d", toolOpenFiles, toolOpenFiles),
	} {
		if got := limitLine(limits, name); got != want {
			t.Errorf("%s of the running ffmpeg: %q, want %q\n%s", name, got, want, limits)
		}
	}
}

// The limit is real: an address space too small for the tools to start refuses the video with a
// clear message that shows no server path (an MP4, whose header is read in Go, when ffmpeg cannot
// decode it; a WebM when ffprobe cannot read it), and the default limits decode the largest common
// case, a 30 s 1080p clip.
func TestToolLimitsEnforced(t *testing.T) {
	l := DefaultLimits()
	l.ToolAddressSpace = 64 << 20
	_, _, err := decodeAll(t, NewDecoder(l), "short.mp4", testClip(t))
	me := wantCode(t, err, CodeCorrupt, "short.mp4")
	if strings.Contains(me.Error(), "/") || !strings.Contains(me.Error(), "could not be decoded") {
		t.Errorf("message %q: want a readable reason without server paths", me.Error())
	}
	webm := testkit.FFmpegFile(t, "short.webm", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1",
		"-c:v", "libvpx", "-deadline", "realtime")
	_, err = NewDecoder(l).Open(context.Background(), "short.webm", webm)
	me = wantCode(t, err, CodeCorrupt, "short.webm")
	if strings.Contains(me.Error(), "/") || !strings.Contains(me.Error(), "could not be read") {
		t.Errorf("message %q: want a readable reason without server paths", me.Error())
	}

	if testing.Short() {
		t.Skip("the 1080p clip takes a few seconds to encode")
	}
	hd := testkit.FFmpegFile(t, "hd.mp4", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=10:duration=30",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	l = DefaultLimits()
	l.MaxFileBytes = int64(len(hd)) + 1
	info, frames, err := decodeAll(t, NewDecoder(l), "hd.mp4", hd)
	if err != nil {
		t.Fatalf("a 30 s 1080p clip under the default tool limits: %v", err)
	}
	if info.Width != 1920 || len(frames) != l.MaxFrames {
		t.Fatalf("1080p clip: %+v, %d frames", info, len(frames))
	}
}
