package bonafide_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"bonafide"
)

// TestStoredEvidence reads media results as engine 0.3.1 stored them, before the evidence had a
// type (QUALITY on a live and a printed video, a photo and a faceless image; a BIOMETRY pair;
// COLLECTION's two shapes; a failed media): every row decodes into Evidence with its parts where
// they belong, and encodes back to the same bytes.
func TestStoredEvidence(t *testing.T) {
	stored, err := os.ReadFile("testdata/stored-results.json")
	if err != nil {
		t.Fatal(err)
	}
	var results []bonafide.MediaResult
	if err := json.Unmarshal(stored, &results); err != nil {
		t.Fatalf("stored results do not decode: %v", err)
	}
	byID := map[string]*bonafide.Evidence{}
	for _, r := range results {
		byID[r.MediaID] = r.Details
	}
	for _, id := range []string{"live", "print", "photo", "blank"} {
		ev := byID[id]
		if ev == nil || ev.LivenessEvidence == nil {
			t.Fatalf("%s: no liveness evidence: %+v", id, ev)
		}
		if ev.Engine.Version == "" || len(ev.Engine.Models) == 0 || ev.Engine.Passive == "" || (len(ev.Signals) == 0) != (id == "blank") ||
			len(ev.Reasons) == 0 || len(ev.Frames) == 0 || ev.Media.Frames != len(ev.Frames) || ev.Threshold != 0.5 {
			t.Errorf("%s: evidence %+v", id, *ev.LivenessEvidence)
		}
		if (ev.BestShot == nil) != (id == "blank") {
			t.Errorf("%s: best shot %+v", id, ev.BestShot)
		}
	}
	if ev := byID["live"]; len(ev.Challenges) != 1 || ev.Challenges[0].Met || ev.Reasons[0].Code != "CHALLENGE_NOT_MET" ||
		ev.Signals[1].Name != "challenge" || *ev.Signals[1].Score != 1 || ev.Frames[0].Face == nil || ev.BestShot.Box.X2 <= ev.BestShot.Box.X1 {
		t.Errorf("live: %+v", *ev.LivenessEvidence)
	}
	if ev := byID["blank"]; ev.Challenges != nil || ev.Reasons[0].Code != "NO_FACE" || ev.Frames[0].Face != nil {
		t.Errorf("blank: %+v", *ev.LivenessEvidence)
	}
	for _, id := range []string{"b1", "c-hit", "c-miss"} {
		if ev := byID[id]; ev == nil || ev.LivenessEvidence != nil || len(ev.ResultsData) == 0 {
			t.Errorf("%s: %+v", id, ev)
		}
	}
	if ev := byID["c-hit"]; ev.PersonID != "p1" || ev.CollectionID != "c1" {
		t.Errorf("c-hit: %+v", ev)
	}
	if byID["broken"] != nil {
		t.Errorf("broken: details %+v, want none", byID["broken"])
	}
	again, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, stored) {
		t.Fatalf("the results encode to other bytes than stored:\n%s", again)
	}
}
