package eval

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestVerifyRates(t *testing.T) {
	scores := []PairScore{
		{Same: true, Confidence: 0.95}, {Same: true, Confidence: 0.90}, {Same: true, Confidence: 0.60},
		{Same: true, NoFace: []string{"x.jpg"}},
		{Same: false, Confidence: 0.10}, {Same: false, Confidence: 0.86}, {Same: false, Confidence: 0.30},
		{Same: false, Confidence: 0.20}, {Error: "unreadable"},
	}
	v := Verify(scores, 0.85)
	if v.Genuine != 4 || v.Impostor != 4 || v.Errors != 1 {
		t.Fatalf("counts %d/%d/%d", v.Genuine, v.Impostor, v.Errors)
	}
	if v.FMR.Count != 1 || v.FNMR.Count != 2 || v.Accuracy.Count != 5 || v.FTA.Count != 1 {
		t.Errorf("FMR %d, FNMR %d, accuracy %d, no face %d; want 1, 2, 5, 1", v.FMR.Count, v.FNMR.Count, v.Accuracy.Count, v.FTA.Count)
	}
	// The curve leaves out the pair without a face: genuine 0.95, 0.90, 0.60 against impostor
	// 0.86, 0.30, 0.20, 0.10: wins 4+4+3 = 11 of 12.
	if math.Abs(v.AUC-11.0/12) > 1e-9 {
		t.Errorf("AUC %v, want %v", v.AUC, 11.0/12)
	}
	if math.Abs(v.FNMRAtFMR1-1.0/3) > 1e-9 {
		t.Errorf("FNMR at FMR 1%% = %v, want 1/3 (threshold above 0.86)", v.FNMRAtFMR1)
	}
	if len(v.Hardest.Impostor) == 0 || v.Hardest.Impostor[0].Confidence != 0.86 {
		t.Errorf("hardest impostor %+v", v.Hardest.Impostor)
	}
}

func TestLoadPairs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pairs.csv")
	if err := os.WriteFile(p, []byte("path_a,path_b,same\na.jpg,b.jpg,1\na.jpg,c.jpg,different\na.jpg,,0\nb.jpg,c.jpg,perhaps\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !IsPairsManifest(p) {
		t.Fatal("not recognised as a pairs manifest")
	}
	pairs, err := LoadPairs(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 4 || !pairs[0].Same || pairs[1].Same || pairs[0].A != filepath.Join(dir, "a.jpg") {
		t.Fatalf("pairs %+v", pairs)
	}
	if pairs[2].Error == "" || pairs[3].Error == "" || pairs[0].Error != "" {
		t.Errorf("errors: %q %q %q", pairs[0].Error, pairs[2].Error, pairs[3].Error)
	}
	other := filepath.Join(dir, "m.tsv")
	_ = os.WriteFile(other, []byte("path\tlabel\nx.jpg\tlive\n"), 0o644)
	if IsPairsManifest(other) {
		t.Error("a liveness manifest taken for a pairs manifest")
	}
}
