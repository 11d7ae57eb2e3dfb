package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"bonafide"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestRenderStoredResults renders media results as a store reads them back from rows written
// before the evidence had a type (../testdata/stored-results.json, made by the engine of 0.3.1:
// QUALITY on a live and a printed video, a photo and a faceless image; a BIOMETRY pair;
// COLLECTION's two shapes; a failed media), and compares the analysis object with the one the
// API wrote for them then (testdata/stored-results.golden.json), byte for byte.
func TestRenderStoredResults(t *testing.T) {
	stored, err := os.ReadFile("../testdata/stored-results.json")
	if err != nil {
		t.Fatal(err)
	}
	var results []bonafide.MediaResult
	if err := json.Unmarshal(stored, &results); err != nil {
		t.Fatalf("stored results do not decode: %v", err)
	}
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	a := &bonafide.Analysis{ID: "a1", FolderID: "f1", GroupID: "g1", Type: "QUALITY", State: bonafide.StateFinished,
		Resolution: bonafide.ResolutionDeclined, ResultsData: json.RawMessage(`{"confidence_spoofing":1}`),
		Results: results, Created: at, Updated: at}
	got, err := ozJSON((&Server{}).renderAnalysis(a, nil))
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/stored-results.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the analysis object differs from %s (run with -update only when the change is meant):\n%s", golden, got)
	}
}
