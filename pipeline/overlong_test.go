package pipeline

import (
	"testing"

	"bonafide"
	"bonafide/liveness"
)

// A clip longer than a capture session allows fails its gesture; the container's duration or,
// when it says none, the last frame's time counts.
func TestOverLong(t *testing.T) {
	for _, tc := range []struct {
		name     string
		duration float64
		last     float64
		declined bool
	}{
		{"within", 3.9, 3.8, false},
		{"container says longer", 6, 5.9, true},
		{"no container duration, frames run longer", 0, 7.2, true},
		{"no container duration, frames within", 0, 3.1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &liveness.Result{ResolutionStatus: liveness.StatusSuccess, Media: bonafide.MediaInfo{Duration: tc.duration},
				Frames: []liveness.FrameResult{{Time: 0}, {Time: tc.last}}}
			overLong(res, 4.5)
			if got := res.ResolutionStatus == liveness.StatusDeclined; got != tc.declined {
				t.Fatalf("declined = %v, want %v", got, tc.declined)
			}
			if tc.declined != res.HasReason(liveness.ReasonChallengeNotMet) {
				t.Fatalf("reasons %v", res.Reasons)
			}
		})
	}
}
