package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"bonafide/liveness"
)

// synthetic builds samples whose passive feature separates the classes with noise and whose
// flatness is informative only for print attacks.
func synthetic(n int, seed uint64) []Sample {
	r := rand.New(rand.NewPCG(seed, 9))
	var out []Sample
	for i := range n {
		s := Sample{Path: "x", SHA256: string(rune('a' + i%26)), Subject: string(rune('A' + i%10))}
		switch i % 3 {
		case 0:
			s.Label = Live
			s.Features = map[string]float64{"passive": -3 + r.NormFloat64(), "flatness": 0.1 * r.Float64()}
		case 1:
			s.Label, s.Species = Attack, "print"
			s.Features = map[string]float64{"passive": -1 + r.NormFloat64(), "flatness": 0.7 + 0.3*r.Float64()}
		default:
			s.Label, s.Species = Attack, "replay"
			s.Features = map[string]float64{"passive": 1 + r.NormFloat64(), "flatness": 0.1 * r.Float64()}
		}
		out = append(out, s)
	}
	return out
}

func TestFitLearnsWhatSeparates(t *testing.T) {
	samples := synthetic(300, 1)
	samples = append(samples, Sample{Label: Live, Error: "unreadable"}, Sample{Label: Attack, Species: "print", FTA: true, Features: map[string]float64{}})
	for _, bySubject := range []bool{false, true} {
		res, err := Fit(samples, FitOptions{BySubject: bySubject, Data: "unit test"})
		if err != nil {
			t.Fatal(err)
		}
		f := res.Fusion
		if f.Weights["passive"] <= 0 || f.Weights["flatness"] <= 0 {
			t.Fatalf("weights %v: passive and flatness should both point to attacks", f.Weights)
		}
		if res.Used != 300 {
			t.Fatalf("used %d samples, want 300 (the error and the FTA rows left out)", res.Used)
		}
		if !math.IsNaN(res.CVScores[300]) || !math.IsNaN(res.CVScores[301]) {
			t.Fatal("rows left out must have no cross-validated score")
		}
		// The out-of-fold scores must separate the classes far better than chance.
		var wrong int
		for i, s := range samples[:300] {
			if (res.CVScores[i] >= 0.5) != (s.Label == Attack) {
				wrong++
			}
		}
		if wrong > 45 {
			t.Fatalf("%d of 300 out-of-fold predictions wrong", wrong)
		}
		if len(f.DataSHA256) != 64 || f.Engine != liveness.Version {
			t.Fatalf("calibration lacks its provenance: %+v", f)
		}
	}
}

func TestFitNeedsBothClasses(t *testing.T) {
	var live []Sample
	for range 10 {
		live = append(live, Sample{Label: Live, Features: map[string]float64{"passive": -2}})
	}
	if _, err := Fit(live, FitOptions{}); err == nil {
		t.Fatal("fitting with no attacks must fail with a clear error")
	}
}

func TestLogisticMatchesAKnownSolution(t *testing.T) {
	// One feature, perfectly balanced, symmetric data: the bias must be 0 and the weight positive.
	x := [][]float64{{-2}, {-1}, {1}, {2}, {-1}, {1}}
	y := []float64{0, 0, 1, 1, 1, 0}
	w := []float64{1, 1, 1, 1, 1, 1}
	beta := logistic(x, y, w, make([]float64, len(x)), 0.1)
	if math.Abs(beta[0]) > 1e-6 || beta[1] <= 0 {
		t.Fatalf("beta %v", beta)
	}
	// The gradient at the solution is zero.
	var g0, g1 float64
	for k := range x {
		p := predict(beta, x[k], 0)
		g0 += p - y[k]
		g1 += (p - y[k]) * x[k][0]
	}
	g1 += 0.1 * beta[1]
	if math.Abs(g0) > 1e-6 || math.Abs(g1) > 1e-6 {
		t.Fatalf("gradient %v %v at the solution", g0, g1)
	}
}

// TestFitKeepsFixedWeights: a fixed signal keeps its weight and enters as an offset, so the bias
// absorbs a constant offset exactly.
func TestFitKeepsFixedWeights(t *testing.T) {
	x := [][]float64{{-2}, {-1}, {1}, {2}, {-1}, {1}}
	y := []float64{0, 0, 1, 1, 1, 0}
	w := []float64{1, 1, 1, 1, 1, 1}
	free := logistic(x, y, w, make([]float64, len(x)), 0.1)
	off := []float64{3, 3, 3, 3, 3, 3}
	shifted := logistic(x, y, w, off, 0.1)
	if math.Abs(shifted[0]-(free[0]-3)) > 1e-6 || math.Abs(shifted[1]-free[1]) > 1e-6 {
		t.Fatalf("a constant offset of 3 should move only the bias by -3: free %v, with offset %v", free, shifted)
	}
	var samples []Sample
	for k := range x {
		label := Live
		if y[k] == 1 {
			label = Attack
		}
		samples = append(samples, Sample{Path: fmt.Sprint(k), Label: label, Subject: fmt.Sprint(k),
			Features: map[string]float64{"passive": x[k][0], "challenge": 1}})
	}
	res, err := Fit(samples, FitOptions{Fixed: map[string]float64{"challenge": 6}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fusion.Weights["challenge"] != 6 {
		t.Fatalf("fixed weight changed: %v", res.Fusion.Weights)
	}
	if _, ok := res.Fusion.Weights["identity"]; !ok {
		t.Fatalf("free signals are fitted: %v", res.Fusion.Weights)
	}
}
