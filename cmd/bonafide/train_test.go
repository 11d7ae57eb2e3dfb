package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bonafide/internal/assets"
	"bonafide/internal/testkit"
)

// TestTrainSmoke trains on the pinned media as a customer would, in a few steps on the CPU: the
// crops come from the engine, the PyTorch port of the base model agrees with ONNX Runtime, the
// loss on the training crops falls in every training, every export agrees with PyTorch in ONNX
// Runtime (train fails otherwise), the out-of-source report is written, and the model directory
// loads in 'analyze' with --passive-models. A second run reuses every step. MixStyle is on, so
// its path runs too.
func TestTrainSmoke(t *testing.T) {
	py := testkit.RequireTorch(t)
	manifest := evalSet(t)
	out := filepath.Join(t.TempDir(), "train")
	cache := filepath.Join(t.TempDir(), "cache")
	// Apparent skin tones of the set's two live subjects, to train with them balanced.
	groups := filepath.Join(t.TempDir(), "groups.tsv")
	if err := os.WriteFile(groups, []byte("key\tkind\tskin\tage\nA\tsubject\tI-II\t<30\nB\tsubject\tV-VI\t30-50\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"train", "--quiet", "--python", py, "--out", out, "--cache", cache, "--folds", "2", "--max-steps", "12",
		"--views", "2.7,4", "--copies", "2", "--crop-frames", "3", "--close", "1.3", "--batch", "16", "--frames", "12", "--workers", "2",
		"--mixstyle", "0.5", "--groups", groups, "--balance-skin", manifest}
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	t.Log(stdout)
	for _, want := range []string{"agrees with ONNX Runtime", "every export agrees with PyTorch", "out-of-source figures", "--passive-models " + filepath.Join(out, "model")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	// The bad rows of the set are reported, and training went on.
	for _, want := range []string{"missing.mp4", "broken.mp4"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not report the bad row %q", want)
		}
	}
	var rep struct {
		Args struct {
			Blend float64 `json:"blend"`
		} `json:"args"`
		Views map[string]struct {
			Folds map[string]trainSummary `json:"folds"`
			Final trainSummary            `json:"final"`
		} `json:"views"`
	}
	data, err := os.ReadFile(filepath.Join(out, "models", "train-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Args.Blend != 0.75 {
		t.Errorf("trained with blend %v, want the default 0.75", rep.Args.Blend)
	}
	if len(rep.Views) != 2 {
		t.Fatalf("trained %d views, want 2", len(rep.Views))
	}
	for v, vr := range rep.Views {
		if len(vr.Folds) != 2 {
			t.Errorf("%s: %d folds, want 2", v, len(vr.Folds))
		}
		for f, r := range vr.Folds {
			r.check(t, v+" fold "+f, rep.Args.Blend)
		}
		vr.Final.check(t, v+" final", rep.Args.Blend)
	}
	for _, f := range []string{"model/passive.json", "model/calibration.json", "model/passive_p2.7.onnx", "model/passive_p4.onnx", "report/report.md", "report/scores.tsv"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	report, _ := os.ReadFile(filepath.Join(out, "report", "report.md"))
	if !strings.Contains(string(report), "Per source (out of source)") {
		t.Errorf("the report has no per-source table")
	}
	// The four live media are listed with their subject's skin tone, and training weighed the
	// two groups by them.
	if table, err := os.ReadFile(filepath.Join(out, "balance-skin.tsv")); err != nil {
		t.Error(err)
	} else if strings.Count(string(table), "\tI-II\n") != 2 || strings.Count(string(table), "\tV-VI\n") != 2 {
		t.Errorf("balance-skin.tsv does not list the 2 I-II and 2 V-VI live media:\n%s", table)
	}
	if log, _ := os.ReadFile(filepath.Join(out, "train.log")); !strings.Contains(string(log), "live weight per group: I-II x") {
		t.Errorf("train.log does not show the live weight per skin tone")
	}

	// The model directory is what analyze loads with one flag.
	photo := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	code, stdout, stderr = run(t, "analyze", "--json", "--passive-models", filepath.Join(out, "model"), photo)
	if code != 0 {
		t.Fatalf("analyze with the trained models: exit %d: %s", code, stderr)
	}
	var res []struct {
		Engine struct {
			Passive string `json:"passive_models"`
		} `json:"engine"`
		Signals []struct {
			Name string `json:"name"`
		} `json:"signals"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("analyze --json: %v\n%s", err, stdout)
	}
	if len(res) != 1 || !strings.HasPrefix(res[0].Engine.Passive, "trained-") || len(res[0].Signals) < 2 {
		t.Fatalf("analyze did not use the trained models: %+v", res)
	}

	// A second run resumes: nothing is cropped or trained again, and the model keeps the name of
	// when its final weights were written.
	trained := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(out, "models", "final", "passive_p2.7.onnx"), trained, trained); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run(t, args...)
	if code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	log, _ := os.ReadFile(filepath.Join(out, "train.log"))
	if !strings.Contains(stdout, "from an earlier run") || strings.Count(string(log), "trained by an earlier run, kept") != 6 {
		t.Errorf("the second run did not reuse the crops and the 6 models:\n%s", stdout)
	}
	var man struct {
		Name string `json:"name"`
	}
	if data, err := os.ReadFile(filepath.Join(out, "model", "passive.json")); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	if man.Name != "trained-2026-01-02-0304" {
		t.Errorf("the resumed run named the model %q, want the time its final weights were written (trained-2026-01-02-0304)", man.Name)
	}
}

// trainSummary is what train-report.json says of one training.
type trainSummary struct {
	LossBefore float64 `json:"loss_before"`
	LossAfter  float64 `json:"loss_after"`
	MovedTuned float64 `json:"moved_tuned"` // distance of the tuned layers from the base model's
	MovedKept  float64 `json:"moved_kept"`  // the same after the blend: the exported model
}

// check: the loss on the training crops fell, and the exported layers lie the blend's fraction
// of the way from the base model to the tuned ones.
func (r trainSummary) check(t *testing.T, name string, blend float64) {
	t.Helper()
	if !(r.LossAfter < r.LossBefore) {
		t.Errorf("%s: the loss did not fall: %.4f -> %.4f", name, r.LossBefore, r.LossAfter)
	}
	if !(r.MovedTuned > 0) || math.Abs(r.MovedKept-blend*r.MovedTuned) > 1e-4*r.MovedTuned {
		t.Errorf("%s: the tuned layers moved %.6g from the base model, the exported ones %.6g: want %.2f of it", name, r.MovedTuned, r.MovedKept, blend)
	}
}

// TestTrainNeedsPyTorch: without PyTorch the command says which make target installs it.
func TestTrainNeedsPyTorch(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "m.tsv")
	if err := os.WriteFile(manifest, []byte("path\tlabel\nx.jpg\tlive\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	assets.Require(t, assets.ModelDir(), assets.LibraryPath())
	code, _, stderr := run(t, "train", "--quiet", "--python", filepath.Join(t.TempDir(), "no-python"), "--out", t.TempDir(), manifest)
	if code != 1 || !strings.Contains(stderr, "make train-deps") {
		t.Fatalf("exit %d, stderr %q: want 1 and the make target", code, stderr)
	}
	code, _, stderr = run(t, "train", "--out", t.TempDir(), "--views", "2.7,4,5", manifest)
	if code != 2 || !strings.Contains(stderr, "at most two views") {
		t.Fatalf("three views: exit %d, %q", code, stderr)
	}
	for _, blend := range []string{"0", "1.5", "-0.2"} {
		code, _, stderr = run(t, "train", "--out", t.TempDir(), "--blend", blend, manifest)
		if code != 2 || !strings.Contains(stderr, "out of range: --blend") {
			t.Fatalf("--blend %s: exit %d, %q", blend, code, stderr)
		}
	}
	for _, share := range []string{"1.5", "-0.1"} {
		code, _, stderr = run(t, "train", "--out", t.TempDir(), "--mixstyle", share, manifest)
		if code != 2 || !strings.Contains(stderr, "out of range: --mixstyle") {
			t.Fatalf("--mixstyle %s: exit %d, %q", share, code, stderr)
		}
	}
	code, _, stderr = run(t, "train", "--out", t.TempDir(), "--balance-skin", manifest)
	if code != 2 || !strings.Contains(stderr, "--balance-skin needs --groups") {
		t.Fatalf("--balance-skin without --groups: exit %d, %q", code, stderr)
	}
	code, _, stderr = run(t, "train", manifest)
	if code != 2 || !strings.Contains(stderr, "--out") {
		t.Fatalf("no --out: exit %d, %q", code, stderr)
	}
}
