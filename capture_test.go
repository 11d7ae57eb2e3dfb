package bonafide_test

import (
	"slices"
	"testing"
	"time"

	"bonafide"
)

// Drawn gestures are movements (never blank), valid tags, never the same twice in a row; over
// many draws every movement appears (the draw is not stuck on a few).
func TestDrawGestures(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		g, err := bonafide.DrawGestures(5)
		if err != nil {
			t.Fatal(err)
		}
		if len(g) != 5 {
			t.Fatalf("drew %v", g)
		}
		for i, tag := range g {
			if !bonafide.ValidGesture(tag) || tag == "video_selfie_blank" || tag == "video_selfie_scan" || (i > 0 && g[i-1] == tag) {
				t.Fatalf("drew %v", g)
			}
			seen[tag] = true
		}
	}
	if len(seen) != 6 {
		t.Fatalf("over 1000 draws only %v appeared", seen)
	}
	if bonafide.ValidGesture("video_selfie_dance") || !slices.Contains(bonafide.CaptureGestures, "video_selfie_left") {
		t.Fatal("ValidGesture")
	}
}

func TestCaptureState(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &bonafide.CaptureSession{State: bonafide.CaptureOpened, Expires: now.Add(time.Minute)}
	if st := bonafide.CaptureState(c, nil, now); st != bonafide.CaptureOpened {
		t.Fatalf("open link: %s", st)
	}
	if st := bonafide.CaptureState(c, nil, now.Add(time.Minute)); st != bonafide.CaptureExpired {
		t.Fatalf("at the expiry: %s", st)
	}
	c.State = bonafide.CaptureUploaded
	a := &bonafide.Analysis{State: bonafide.StateProcessing}
	if st := bonafide.CaptureState(c, a, now.Add(time.Hour)); st != bonafide.CaptureUploaded {
		t.Fatalf("uploaded, analysing, after the link's expiry: %s", st)
	}
	for _, s := range []string{bonafide.StateFinished, bonafide.StateFailed} {
		a.State = s
		if st := bonafide.CaptureState(c, a, now); st != bonafide.CaptureFinished {
			t.Fatalf("analysis %s: %s", s, st)
		}
	}
}

func TestCaptureLostUpload(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c := &bonafide.CaptureSession{State: bonafide.CaptureUploaded, AnalysisID: "a1", Updated: now, Expires: now.Add(10 * time.Minute)}
	running := &bonafide.Analysis{State: bonafide.StateProcessing}
	for _, tc := range []struct {
		name string
		c    bonafide.CaptureSession
		a    *bonafide.Analysis
		at   time.Time
		lost bool
		want string
	}{
		{"claimed, storing", *c, nil, now.Add(time.Minute), false, bonafide.CaptureUploaded},
		{"claimed, analysing", *c, running, now.Add(time.Hour), false, bonafide.CaptureUploaded},
		{"claim lost after the grace", *c, nil, now.Add(bonafide.CaptureClaimGrace), true, bonafide.CaptureOpened},
		{"claim lost, link expired", *c, nil, now.Add(time.Hour), true, bonafide.CaptureExpired},
		{"claim given back", bonafide.CaptureSession{State: bonafide.CaptureUploaded, Updated: now, Expires: c.Expires}, nil, now, true, bonafide.CaptureOpened},
		{"opened", bonafide.CaptureSession{State: bonafide.CaptureOpened, Updated: now, Expires: c.Expires}, nil, now.Add(time.Hour), false, bonafide.CaptureExpired},
	} {
		if got := tc.c.LostUpload(tc.a, tc.at); got != tc.lost {
			t.Errorf("%s: LostUpload = %v, want %v", tc.name, got, tc.lost)
		}
		if got := bonafide.CaptureState(&tc.c, tc.a, tc.at); got != tc.want {
			t.Errorf("%s: bonafide.CaptureState = %s, want %s", tc.name, got, tc.want)
		}
	}
}
