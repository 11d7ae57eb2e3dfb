package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bonafide/eval"
	"bonafide/internal/assets"
	"bonafide/internal/testkit"
	"bonafide/liveness"
)

// A resumed run reuses a media's crops (they depend on the media alone) but takes its label,
// species and subject from the manifest it is given now: a subject corrected between two runs
// must change which fold holds the media out.
func TestCropsResumeTakesTheManifestsLabels(t *testing.T) {
	media := assets.ClmtrackrMedia()
	var entries []eval.Entry
	for _, p := range []string{"franck_02159.jpg", "cage.jpg"} {
		path := filepath.Join(media, p)
		assets.Require(t, path)
		entries = append(entries, eval.Entry{Path: path, Label: "live", Subject: "synth-" + p})
	}
	eng, err := liveness.New(testkit.Runtime(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "crops")
	cfg := CropConfig{Views: []liveness.View{{Scale: 2.3, Size: 128}}, Workers: 2}
	first, err := WriteCrops(context.Background(), eng, entries, media, dir, cfg)
	if err != nil || first.Crops != 2 || first.Reused != 0 {
		t.Fatalf("first run: %+v, %v", first, err)
	}
	entries[0].Subject, entries[1].Label, entries[1].Species = "franck", "attack", "print"
	again, err := WriteCrops(context.Background(), eng, entries, media, dir, cfg)
	if err != nil || again.Crops != 2 || again.Reused != 2 {
		t.Fatalf("resumed run: %+v, %v", again, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	want := map[string][]string{
		"franck_02159.jpg": {"live", "", "franck", "franck"},
		"cage.jpg":         {"attack", "print", "synth-cage.jpg", "synth-cage.jpg"},
	}
	for _, line := range lines[1:] {
		f := strings.Split(line, "\t")
		if got, w := strings.Join(f[2:6], "|"), strings.Join(want[f[1]], "|"); got != w {
			t.Errorf("%s: label, species, subject, group = %q, want %q", f[1], got, w)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("index has %d rows, want a header and 2 crops:\n%s", len(lines), data)
	}
}
