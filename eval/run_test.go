package eval

import (
	"slices"
	"testing"

	"bonafide"
	"bonafide/liveness"
)

// A stored result scored again under another calibration takes the passive models' own verdict
// (PASSIVE_ATTACK) again under that calibration: the cached reason was the engine's fusion's.
func TestScoreTakesThePassiveVerdictAgain(t *testing.T) {
	p := 0.3
	c := cached{
		Signals: []bonafide.Signal{{Name: "passive", Score: &p, Value: p}},
		Reasons: []bonafide.Reason{{Code: liveness.ReasonPassiveAttack, Message: "under the engine's fusion"}, {Code: "BLURRED"}},
	}
	lenient := &liveness.Fusion{Name: "lenient", Weights: map[string]float64{"passive": 1}}        // declines above P 0.5
	strict := &liveness.Fusion{Name: "strict", Bias: 2, Weights: map[string]float64{"passive": 1}} // above P 0.12
	for _, tc := range []struct {
		fusion *liveness.Fusion
		want   []string
	}{{lenient, []string{"BLURRED"}}, {strict, []string{"BLURRED", liveness.ReasonPassiveAttack}}} {
		r := &Runner{Fusion: tc.fusion}
		var s Sample
		r.score(&s, c)
		if !slices.Equal(s.Reasons, tc.want) {
			t.Errorf("%s: reasons %v, want %v (score %.3f)", tc.fusion.Name, s.Reasons, tc.want, s.Scores[FusionScore])
		}
	}
	if len(c.Reasons) != 2 {
		t.Errorf("the cached reasons were changed: %v", c.Reasons)
	}
}

func TestRetakePassiveUsesTheFusionGiven(t *testing.T) {
	lenient := &liveness.Fusion{Name: "lenient", Weights: map[string]float64{"passive": 1}}        // declines above P 0.5
	strict := &liveness.Fusion{Name: "strict", Bias: 2, Weights: map[string]float64{"passive": 1}} // above P 0.12
	for _, tc := range []struct {
		fusion *liveness.Fusion
		before []string
		want   []string
	}{
		{lenient, []string{liveness.ReasonPassiveAttack, "BLURRED"}, []string{"BLURRED"}},
		{strict, []string{"BLURRED"}, []string{"BLURRED", liveness.ReasonPassiveAttack}},
	} {
		s := Sample{Reasons: tc.before, Scores: map[string]float64{FusionScore: 0.9, "passive": 0.3}}
		s.RetakePassive(tc.fusion, 0.5)
		if !slices.Equal(s.Reasons, tc.want) {
			t.Errorf("%s: reasons %v, want %v", tc.fusion.Name, s.Reasons, tc.want)
		}
	}
	// Without a passive score (no face) there is no passive verdict to take.
	s := Sample{Reasons: []string{liveness.ReasonNoFace}, Scores: map[string]float64{FusionScore: 1}}
	s.RetakePassive(strict, 0.5)
	if !slices.Equal(s.Reasons, []string{liveness.ReasonNoFace}) {
		t.Errorf("no face: reasons %v", s.Reasons)
	}
}
