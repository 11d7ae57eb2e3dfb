package train

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"bonafide/eval"
	"bonafide/internal/assets"
	"bonafide/internal/testkit"
	"bonafide/liveness"
	"bonafide/models"
)

// TestShippedModelsAgreeWithPyTorch is the engine's reference test for the passive models we ship:
// the engine writes its crops of real pinned photos (every view the shipped set reads, and a
// close-range cut), PyTorch scores them with the ONNX file read back into the training code's port,
// and ONNX Runtime, fed the engine's own tensor of each crop, must give the same logits within
// 1e-4. It also shows the crops written for training are what the engine scores.
func TestShippedModelsAgreeWithPyTorch(t *testing.T) {
	py := testkit.RequireTorch(t)
	media := assets.ClmtrackrMedia()
	var entries []eval.Entry
	for _, p := range []string{"audrey.jpg", "franck_02159.jpg", "cage.jpg", "franck_04035.jpg"} {
		path := filepath.Join(media, p)
		assets.Require(t, path)
		entries = append(entries, eval.Entry{Path: path, Label: "live", Subject: p})
	}
	rt := testkit.Runtime(t)
	set, err := liveness.ShippedPassiveSet(rt)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := liveness.New(rt)
	if err != nil {
		t.Fatal(err)
	}
	var views []liveness.View
	for _, m := range set.Members {
		views = append(views, m.View)
	}
	dir := t.TempDir()
	crops := filepath.Join(dir, "crops")
	st, err := WriteCrops(context.Background(), eng, entries, media, crops, CropConfig{Views: views, Close: []float64{1.3}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st.Crops < len(entries) {
		t.Fatalf("%d crops from %d photos (%v)", st.Crops, len(entries), st.Errors)
	}
	p := &Python{Exe: py, Dir: filepath.Join(dir, "python")}
	man, err := liveness.ShippedPassiveManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range man.Models {
		member := set.Member(spec.Signal)
		if member == nil {
			t.Fatalf("%s: no member for signal %s", spec.File, spec.Signal)
		}
		data, err := fs.ReadFile(models.FS, spec.File)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, spec.File)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ref := file + ".reference.json"
		if err := p.Run(context.Background(), "reference", "--crops", crops, "--base", file, "--view", member.View.String(), "--n", "32", "--out", ref); err != nil {
			t.Fatal(err)
		}
		diff, err := checkReference(ref, crops, member.Model)
		if err != nil {
			t.Errorf("%s (%s, view %s): %v", spec.File, spec.Signal, member.View, err)
			continue
		}
		t.Logf("%s (%s, view %s): ONNX Runtime and PyTorch agree within %.2g on %d crops", spec.File, spec.Signal, member.View, diff, st.Crops)
	}
}
