package eval

import (
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

const metricsTol = 1e-9

func closeTo(a, b float64) bool { return math.Abs(a-b) <= metricsTol }

func liveS(score float64) Sample {
	return Sample{Label: Live, Scores: map[string]float64{FusionScore: score}}
}

func atkS(species string, score float64) Sample {
	return Sample{Label: Attack, Species: species, Scores: map[string]float64{FusionScore: score}}
}

// rep repeats a sample n times (each with its own Scores map).
func rep(n int, s Sample) []Sample {
	out := make([]Sample, n)
	for i := range out {
		out[i] = s
		out[i].Scores = maps.Clone(s.Scores)
	}
	return out
}

// want is an expected Rate: count / total with the given value (a hand-computed literal).
type rateWant struct {
	count, total int
	value        float64
}

// undefinedRate is the expected Rate of an empty denominator.
var undefinedRate = rateWant{0, 0, 0}

func checkRate(t *testing.T, what string, got Rate, w rateWant) {
	t.Helper()
	if got.Count != w.count || got.Total != w.total || !closeTo(got.Value, w.value) {
		t.Errorf("%s = %d/%d (%v), want %d/%d (%v)", what, got.Count, got.Total, got.Value,
			w.count, w.total, w.value)
	}
	if got.Defined != (w.total > 0) {
		t.Errorf("%s.Defined = %v with total %d", what, got.Defined, w.total)
	}
	if got.CI != Wilson(w.count, w.total) {
		t.Errorf("%s.CI = %+v, want Wilson(%d, %d) = %+v", what, got.CI, w.count, w.total,
			Wilson(w.count, w.total))
	}
}

// opWant is an expected OperatingPoint.
type opWant struct {
	threshold float64
	apcer     map[string]rateWant
	max       rateWant
	worst     string
	bpcer     rateWant
	acer      float64
}

func checkOp(t *testing.T, what string, got OperatingPoint, w opWant) {
	t.Helper()
	if got.Threshold != w.threshold {
		t.Errorf("%s.Threshold = %v, want %v", what, got.Threshold, w.threshold)
	}
	if got.APCER == nil {
		t.Errorf("%s.APCER is nil, want an empty map", what)
	}
	if len(got.APCER) != len(w.apcer) {
		t.Errorf("%s.APCER has species %v, want %v", what, slices.Sorted(maps.Keys(got.APCER)),
			slices.Sorted(maps.Keys(w.apcer)))
	}
	for sp, ws := range w.apcer {
		checkRate(t, what+".APCER["+sp+"]", got.APCER[sp], ws)
	}
	checkRate(t, what+".MaxAPCER", got.MaxAPCER, w.max)
	if got.WorstSpecies != w.worst {
		t.Errorf("%s.WorstSpecies = %q, want %q", what, got.WorstSpecies, w.worst)
	}
	checkRate(t, what+".BPCER", got.BPCER, w.bpcer)
	if !closeTo(got.ACER, w.acer) {
		t.Errorf("%s.ACER = %v, want %v", what, got.ACER, w.acer)
	}
}

func TestWilson(t *testing.T) {
	// z = 1.959964, z² = 3.8414589; for n = 10: z²/n = 0.38414589, denominator d = 1.38414589.
	tests := []struct {
		name      string
		k, n      int
		low, high float64
	}{
		// p = 0: centre = (z²/2n)/d = half width, so high = z²/(n + z²) = 3.8414589/13.8414589.
		{"k=0 n=10", 0, 10, 0, 0.2775328},
		// mirror image of k = 0: [1 - 0.2775328, 1].
		{"k=n=10", 10, 10, 0.7224672, 1},
		// centre = (0.5 + 0.19207294)/d = 0.5;
		// half = z/d * sqrt(0.5*0.5/10 + z²/400) = 1.4160132 * sqrt(0.0346036) = 0.2634069.
		{"k=5 n=10", 5, 10, 0.2365931, 0.7634069},
		// n = 0: no information at all.
		{"n=0", 0, 0, 0, 1},
		// n = 1, k = 0: high = z²/(1 + z²) = 3.8414589/4.8414589.
		{"k=0 n=1", 0, 1, 0, 0.7934507},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Wilson(tc.k, tc.n)
			if math.Abs(got.Low-tc.low) > 5e-7 || math.Abs(got.High-tc.high) > 5e-7 {
				t.Errorf("Wilson(%d, %d) = %+v, want [%v, %v]", tc.k, tc.n, got, tc.low, tc.high)
			}
			if tc.k == 0 && got.Low != 0 {
				t.Errorf("Low = %v, want exactly 0", got.Low)
			}
			if tc.k == tc.n && got.High != 1 {
				t.Errorf("High = %v, want exactly 1", got.High)
			}
		})
	}
}

func TestNewRate(t *testing.T) {
	tests := []struct {
		name         string
		count, total int
		want         Rate
	}{
		{"empty", 0, 0, Rate{Value: 0, Count: 0, Total: 0, Defined: false, CI: Interval{0, 1}}},
		// 5/10 = 0.5
		{"half", 5, 10, Rate{Value: 0.5, Count: 5, Total: 10, Defined: true, CI: Wilson(5, 10)}},
		// 1/4 = 0.25
		{"quarter", 1, 4, Rate{Value: 0.25, Count: 1, Total: 4, Defined: true, CI: Wilson(1, 4)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewRate(tc.count, tc.total); got != tc.want {
				t.Errorf("NewRate(%d, %d) = %+v, want %+v", tc.count, tc.total, got, tc.want)
			}
		})
	}
}

// smallSet: 4 live, 3 print, 2 replay.
func smallSet() []Sample {
	return []Sample{
		liveS(0.1), liveS(0.2), liveS(0.3), liveS(0.6),
		atkS("print", 0.9), atkS("print", 0.8), atkS("print", 0.4),
		atkS("replay", 0.7), atkS("replay", 0.2),
	}
}

func TestAt(t *testing.T) {
	withMissing := append(smallSet(),
		// a species whose only sample lacks the score: never appears.
		Sample{Label: Attack, Species: "mask", Scores: map[string]float64{"texture": 0.3}},
		// NaN counts as lacking the score.
		atkS("cutout", math.NaN()),
		// error rows never count, whatever their score.
		Sample{Label: Live, Error: "unreadable", Scores: map[string]float64{FusionScore: 0.99}},
		Sample{Label: Attack, Species: "glue", Error: "missing file",
			Scores: map[string]float64{FusionScore: 0.01}},
	)
	tests := []struct {
		name    string
		samples []Sample
		t       float64
		want    opWant
	}{
		{
			name: "two species", samples: smallSet(), t: 0.5,
			want: opWant{
				threshold: 0.5,
				apcer: map[string]rateWant{
					"print":  {1, 3, 1.0 / 3}, // 0.4 < 0.5 → 1 of 3 accepted
					"replay": {1, 2, 0.5},     // 0.2 < 0.5 → 1 of 2
				},
				max:   rateWant{1, 2, 0.5}, // replay: 0.5 > 0.333
				worst: "replay",
				bpcer: rateWant{1, 4, 0.25}, // 0.6 >= 0.5 → 1 of 4 live rejected
				acer:  0.375,                // (0.5 + 0.25) / 2
			},
		},
		{
			// replay 0.7 == t is declared an attack; live 0.6 < 0.7 is accepted.
			name: "score equal to threshold is an attack", samples: smallSet(), t: 0.7,
			want: opWant{
				threshold: 0.7,
				apcer: map[string]rateWant{
					"print":  {1, 3, 1.0 / 3}, // 0.4 < 0.7; 0.8, 0.9 >= 0.7
					"replay": {1, 2, 0.5},     // 0.2 < 0.7; 0.7 >= 0.7 (tie → attack)
				},
				max:   rateWant{1, 2, 0.5},
				worst: "replay",
				bpcer: rateWant{0, 4, 0}, // all live < 0.7
				acer:  0.25,              // (0.5 + 0) / 2
			},
		},
		{
			// just above 0.7 the replay at 0.7 is accepted too.
			name: "just above a tie", samples: smallSet(), t: math.Nextafter(0.7, 1),
			want: opWant{
				threshold: math.Nextafter(0.7, 1),
				apcer: map[string]rateWant{
					"print":  {1, 3, 1.0 / 3},
					"replay": {2, 2, 1}, // 0.2 and 0.7 < t
				},
				max:   rateWant{2, 2, 1},
				worst: "replay",
				bpcer: rateWant{0, 4, 0},
				acer:  0.5, // (1 + 0) / 2
			},
		},
		{
			// equal APCER: the alphabetically first species is the worst, whatever the input order.
			name: "worst species tie", t: 0.5,
			samples: []Sample{
				atkS("zeta", 0.1), atkS("zeta", 0.9), atkS("alpha", 0.2), atkS("alpha", 0.8), liveS(0.1),
			},
			want: opWant{
				threshold: 0.5,
				apcer: map[string]rateWant{
					"zeta":  {1, 2, 0.5}, // 0.1 < 0.5
					"alpha": {1, 2, 0.5}, // 0.2 < 0.5
				},
				max:   rateWant{1, 2, 0.5},
				worst: "alpha",
				bpcer: rateWant{0, 1, 0},
				acer:  0.25, // (0.5 + 0) / 2
			},
		},
		{
			// mask (score absent), cutout (NaN) and the error rows are left out: same as "two species".
			name: "missing score and error rows", samples: withMissing, t: 0.5,
			want: opWant{
				threshold: 0.5,
				apcer: map[string]rateWant{
					"print":  {1, 3, 1.0 / 3},
					"replay": {1, 2, 0.5},
				},
				max:   rateWant{1, 2, 0.5},
				worst: "replay",
				bpcer: rateWant{1, 4, 0.25},
				acer:  0.375,
			},
		},
		{
			name: "all live", samples: []Sample{liveS(0.2), liveS(0.7), liveS(0.9)}, t: 0.5,
			want: opWant{
				threshold: 0.5,
				apcer:     map[string]rateWant{},
				max:       undefinedRate,
				worst:     "",
				bpcer:     rateWant{2, 3, 2.0 / 3}, // 0.7, 0.9 >= 0.5
				acer:      1.0 / 3,                 // (0 + 2/3) / 2
			},
		},
		{
			name: "all attack", samples: []Sample{atkS("print", 0.2), atkS("print", 0.7)}, t: 0.5,
			want: opWant{
				threshold: 0.5,
				apcer:     map[string]rateWant{"print": {1, 2, 0.5}}, // 0.2 < 0.5
				max:       rateWant{1, 2, 0.5},
				worst:     "print",
				bpcer:     undefinedRate,
				acer:      0.25, // (0.5 + 0) / 2
			},
		},
		{
			name: "no samples", samples: nil, t: 0.5,
			want: opWant{threshold: 0.5, apcer: map[string]rateWant{}, max: undefinedRate, bpcer: undefinedRate},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkOp(t, "At", At(tc.samples, FusionScore, tc.t), tc.want)
		})
	}
}

// craftedSet: 20 print attacks and 20 live samples.
//
//	attacks: 0.05, 0.60, 18 × 0.95
//	live:    16 × 0.10, 0.50, 0.70, 0.80, 0.97
//
// Candidates, attacks accepted (score < t) and live rejected (score >= t):
//
//	t      accepted APCER  rejected BPCER
//	0.05   0        0      20       1
//	0.10   1        0.05   20       1
//	0.50   1        0.05   4        0.20
//	0.60   1        0.05   3        0.15
//	0.70   2        0.10   3        0.15
//	0.80   2        0.10   2        0.10   ← curves cross exactly: EER 0.10
//	0.95   2        0.10   1        0.05
//	0.97   20       1      1        0.05
//	0.97+  20       1      0        0
func craftedSet() []Sample {
	var s []Sample
	s = append(s, atkS("print", 0.05), atkS("print", 0.60))
	s = append(s, rep(18, atkS("print", 0.95))...)
	s = append(s, rep(16, liveS(0.10))...)
	s = append(s, liveS(0.50), liveS(0.70), liveS(0.80), liveS(0.97))
	return s
}

func TestCompute(t *testing.T) {
	above97 := math.Nextafter(0.97, math.Inf(1))
	print := func(k int, v float64) map[string]rateWant { return map[string]rateWant{"print": {k, 20, v}} }

	t.Run("crafted operating points", func(t *testing.T) {
		m := Compute(craftedSet(), FusionScore, 0.5)
		if m.Score != FusionScore || m.Live != 20 || m.Attacks != 20 || m.Missing != 0 ||
			!reflect.DeepEqual(m.Species, map[string]int{"print": 20}) {
			t.Errorf("counts: %+v", m)
		}
		// at 0.5: 1/20 accepted, 4/20 rejected; ACER (0.05 + 0.2)/2 = 0.125.
		checkOp(t, "AtThreshold", m.AtThreshold, opWant{0.5, print(1, 0.05), rateWant{1, 20, 0.05},
			"print", rateWant{4, 20, 0.2}, 0.125})
		// APCER <= 0.05 at 0.05, 0.10, 0.50, 0.60; the lowest BPCER is 3/20 at 0.60.
		// ACER (0.05 + 0.15)/2 = 0.1.
		checkOp(t, "BPCER20", m.BPCER20, opWant{0.60, print(1, 0.05), rateWant{1, 20, 0.05},
			"print", rateWant{3, 20, 0.15}, 0.1})
		// APCER <= 0.01 only at 0.05: BPCER 20/20. ACER (0 + 1)/2.
		checkOp(t, "BPCER100", m.BPCER100, opWant{0.05, print(0, 0), rateWant{0, 20, 0},
			"print", rateWant{20, 20, 1}, 0.5})
		// BPCER <= 0.05 at 0.95, 0.97, 0.97+: the lowest APCER is 2/20 at 0.95.
		// ACER (0.1 + 0.05)/2 = 0.075.
		checkOp(t, "APCERAtBPCER5", m.APCERAtBPCER5, opWant{0.95, print(2, 0.1), rateWant{2, 20, 0.1},
			"print", rateWant{1, 20, 0.05}, 0.075})
		// BPCER <= 0.01 only at 0.97+: APCER 20/20. ACER (1 + 0)/2.
		checkOp(t, "APCERAtBPCER1", m.APCERAtBPCER1, opWant{above97, print(20, 1), rateWant{20, 20, 1},
			"print", rateWant{0, 20, 0}, 0.5})
		// exact crossing at 0.80: APCER = BPCER = 0.10.
		if !closeTo(m.EER, 0.1) || m.EERThreshold != 0.80 {
			t.Errorf("EER = %v at %v, want 0.1 at 0.8", m.EER, m.EERThreshold)
		}
		checkRate(t, "FTA", m.FTA, rateWant{0, 40, 0})
	})

	t.Run("BPCER20 tie goes to the lower APCER", func(t *testing.T) {
		// attacks: 0.30, 0.40, 18 × 0.95; live: 0.10, 0.20, 8 × 0.50.
		// APCER <= 0.05 (at most 1 of 20 accepted) for t <= 0.40. BPCER: t=0.30 → 8/10,
		// t=0.40 → 8/10 (no live in [0.30, 0.40)), t=0.20 → 9/10. Tie 0.30 vs 0.40 → APCER 0/20
		// beats 1/20, so 0.30. ACER (0 + 0.8)/2 = 0.4.
		s := []Sample{atkS("print", 0.30), atkS("print", 0.40), liveS(0.10), liveS(0.20)}
		s = append(s, rep(18, atkS("print", 0.95))...)
		s = append(s, rep(8, liveS(0.50))...)
		m := Compute(s, FusionScore, 0.5)
		checkOp(t, "BPCER20", m.BPCER20, opWant{0.30, print(0, 0), rateWant{0, 20, 0},
			"print", rateWant{8, 10, 0.8}, 0.4})
	})

	t.Run("APCER at BPCER tie goes to the lower BPCER", func(t *testing.T) {
		// live: 18 × 0.10, 0.60, 0.70; attacks (10): 0.50, 9 × 0.90.
		// BPCER <= 0.05 (at most 1 of 20 rejected) for t >= 0.70: t=0.70 → APCER 1/10, BPCER 1/20;
		// t=0.90 → APCER 1/10, BPCER 0/20; t=0.90+ → APCER 10/10. Tie → 0.90.
		// ACER (0.1 + 0)/2 = 0.05.
		s := []Sample{liveS(0.60), liveS(0.70), atkS("print", 0.50)}
		s = append(s, rep(18, liveS(0.10))...)
		s = append(s, rep(9, atkS("print", 0.90))...)
		m := Compute(s, FusionScore, 0.5)
		checkOp(t, "APCERAtBPCER5", m.APCERAtBPCER5, opWant{0.90,
			map[string]rateWant{"print": {1, 10, 0.1}}, rateWant{1, 10, 0.1}, "print", rateWant{0, 20, 0}, 0.05})
	})

	t.Run("EER without exact crossing", func(t *testing.T) {
		// live: 0.2, 0.5, 0.6; attacks: 0.4, 0.8.
		//	t     APCER BPCER gap  mean
		//	0.2   0     3/3   1
		//	0.4   0     2/3   2/3
		//	0.5   1/2   2/3   1/6  7/12
		//	0.6   1/2   1/3   1/6  5/12  ← gap tie, lower mean
		//	0.8   1/2   0     1/2
		//	0.8+  1     0     1
		s := []Sample{liveS(0.2), liveS(0.5), liveS(0.6), atkS("print", 0.4), atkS("print", 0.8)}
		m := Compute(s, FusionScore, 0.5)
		if !closeTo(m.EER, 5.0/12) || m.EERThreshold != 0.6 {
			t.Errorf("EER = %v at %v, want 5/12 = 0.41667 at 0.6", m.EER, m.EERThreshold)
		}
	})

	t.Run("errors, FTA and missing", func(t *testing.T) {
		s := []Sample{
			liveS(0.2),
			atkS("print", 0.9),
			// fail-closed FTA: score 1, counted as an attack declaration and in FTA.
			{Label: Live, FTA: true, Scores: map[string]float64{FusionScore: 1}},
			// FTA without this score: in FTA and Missing, not in the rates.
			{Label: Attack, Species: "mask", FTA: true, Scores: map[string]float64{"texture": 1}},
			// error rows: out of everything, FTA included.
			{Label: Live, FTA: true, Error: "unreadable", Scores: map[string]float64{FusionScore: 1}},
			{Label: Attack, Species: "replay", Error: "missing file"},
		}
		m := Compute(s, FusionScore, 0.5)
		if m.Live != 2 || m.Attacks != 1 || m.Missing != 1 ||
			!reflect.DeepEqual(m.Species, map[string]int{"print": 1}) {
			t.Errorf("Live %d Attacks %d Missing %d Species %v, want 2 1 1 map[print:1]",
				m.Live, m.Attacks, m.Missing, m.Species)
		}
		// 2 FTA among the 4 analysed rows.
		checkRate(t, "FTA", m.FTA, rateWant{2, 4, 0.5})
		// live 0.2 accepted, live FTA 1 rejected: 1/2; print 0.9 declared attack: 0/1.
		checkOp(t, "AtThreshold", m.AtThreshold, opWant{0.5,
			map[string]rateWant{"print": {0, 1, 0}}, rateWant{0, 1, 0}, "print", rateWant{1, 2, 0.5}, 0.25})
	})

	t.Run("all live", func(t *testing.T) {
		m := Compute([]Sample{liveS(0.2), liveS(0.7)}, FusionScore, 0.5)
		if m.Attacks != 0 || len(m.Species) != 0 || m.Species == nil {
			t.Errorf("Attacks %d Species %v", m.Attacks, m.Species)
		}
		// candidates and BPCER: 0.2 → 2/2, 0.7 → 1/2 (0.7 >= 0.7), 0.7+ → 0/2. With no attacks APCER
		// counts as 0 everywhere, so BPCER20 is the lowest BPCER: 0 at 0.7+.
		above7 := math.Nextafter(0.7, math.Inf(1))
		checkOp(t, "BPCER20", m.BPCER20, opWant{above7, map[string]rateWant{}, undefinedRate, "",
			rateWant{0, 2, 0}, 0})
		// APCER at BPCER 1%: only 0.7+ qualifies.
		checkOp(t, "APCERAtBPCER1", m.APCERAtBPCER1, opWant{above7, map[string]rateWant{}, undefinedRate, "",
			rateWant{0, 2, 0}, 0})
		// |0 - BPCER| is smallest (0) at 0.7+.
		if m.EER != 0 || m.EERThreshold != above7 {
			t.Errorf("EER = %v at %v, want 0 at 0.7+", m.EER, m.EERThreshold)
		}
	})

	t.Run("all attack", func(t *testing.T) {
		m := Compute([]Sample{atkS("print", 0.2), atkS("replay", 0.7)}, FusionScore, 0.5)
		if m.Live != 0 || m.Attacks != 2 {
			t.Errorf("Live %d Attacks %d", m.Live, m.Attacks)
		}
		checkRate(t, "AtThreshold.BPCER", m.AtThreshold.BPCER, undefinedRate)
		// no live: BPCER counts as 0, so APCER at BPCER 5% is the lowest APCER: 0 at 0.2, where
		// both attacks are declared attacks.
		checkOp(t, "APCERAtBPCER5", m.APCERAtBPCER5, opWant{0.2,
			map[string]rateWant{"print": {0, 1, 0}, "replay": {0, 1, 0}}, rateWant{0, 1, 0}, "print",
			undefinedRate, 0})
	})

	t.Run("score absent everywhere", func(t *testing.T) {
		m := Compute(smallSet(), "texture", 0.5)
		if m.Live != 0 || m.Attacks != 0 || m.Missing != 9 || m.EER != 0 || m.EERThreshold != 0.5 {
			t.Errorf("%+v", m)
		}
		empty := opWant{0.5, map[string]rateWant{}, undefinedRate, "", undefinedRate, 0}
		checkOp(t, "BPCER20", m.BPCER20, empty)
		checkOp(t, "APCERAtBPCER1", m.APCERAtBPCER1, empty)
		if DET(smallSet(), "texture", "") != nil {
			t.Error("DET of an absent score is not nil")
		}
	})
}

// randomSet has n samples, about a third live, the rest over three species, with scores rounded
// to 2 decimals (so there are many ties) and a few rows without the score or with errors.
func randomSet(n int, seed uint64) []Sample {
	r := rand.New(rand.NewPCG(seed, 1))
	species := []string{"print", "replay", "mask"}
	s := make([]Sample, n)
	for i := range s {
		if r.IntN(3) == 0 {
			s[i] = liveS(math.Round(r.Float64()*r.Float64()*100) / 100)
		} else {
			s[i] = atkS(species[r.IntN(3)], math.Round((1-r.Float64()*r.Float64())*100)/100)
		}
		switch r.IntN(20) {
		case 0:
			s[i].Scores = map[string]float64{"texture": 0.5}
		case 1:
			s[i].Error = "unreadable"
		case 2:
			s[i].FTA = true
		}
	}
	return s
}

// TestComputeAgainstBruteForce evaluates every candidate with At (O(n) each) and checks that
// Compute's points are the best ones under the documented rules, and that DET agrees with At.
func TestComputeAgainstBruteForce(t *testing.T) {
	for seed := range uint64(20) {
		s := randomSet(50+int(seed)*10, seed)
		m := Compute(s, FusionScore, 0.5)
		det := DET(s, FusionScore, "")
		c := newCurve(s, FusionScore)
		if len(det) != len(c.candidates) {
			t.Fatalf("seed %d: DET has %d points for %d candidates", seed, len(det), len(c.candidates))
		}
		ops := make([]OperatingPoint, len(det))
		for i, p := range det {
			ops[i] = At(s, FusionScore, p.Threshold)
			if !reflect.DeepEqual(ops[i], c.op(p.Threshold)) {
				t.Fatalf("seed %d: curve.op(%v) differs from At", seed, p.Threshold)
			}
			if p.APCER != ops[i].MaxAPCER.Value || p.BPCER != ops[i].BPCER.Value {
				t.Fatalf("seed %d: DET %+v vs At %v %v", seed, p, ops[i].MaxAPCER.Value, ops[i].BPCER.Value)
			}
		}
		// brute force: the lexicographic minimum of (primary, secondary, threshold).
		bestOf := func(ok func(OperatingPoint) bool, key func(OperatingPoint) [2]float64) OperatingPoint {
			var best *OperatingPoint
			for i := range ops {
				if !ok(ops[i]) {
					continue
				}
				k, kb := key(ops[i]), [2]float64{}
				if best != nil {
					kb = key(*best)
				}
				if best == nil || slices.Compare(k[:], kb[:]) < 0 {
					best = &ops[i]
				}
			}
			return *best
		}
		byBPCER := func(o OperatingPoint) [2]float64 { return [2]float64{o.BPCER.Value, o.MaxAPCER.Value} }
		byAPCER := func(o OperatingPoint) [2]float64 { return [2]float64{o.MaxAPCER.Value, o.BPCER.Value} }
		cases := []struct {
			name string
			got  OperatingPoint
			want OperatingPoint
		}{
			{"BPCER20", m.BPCER20, bestOf(func(o OperatingPoint) bool { return o.MaxAPCER.Value <= 0.05 }, byBPCER)},
			{"BPCER100", m.BPCER100, bestOf(func(o OperatingPoint) bool { return o.MaxAPCER.Value <= 0.01 }, byBPCER)},
			{"APCERAtBPCER1", m.APCERAtBPCER1, bestOf(func(o OperatingPoint) bool { return o.BPCER.Value <= 0.01 }, byAPCER)},
			{"APCERAtBPCER5", m.APCERAtBPCER5, bestOf(func(o OperatingPoint) bool { return o.BPCER.Value <= 0.05 }, byAPCER)},
		}
		for _, tc := range cases {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("seed %d %s: threshold %v, want %v", seed, tc.name, tc.got.Threshold, tc.want.Threshold)
			}
		}
		minGap := math.Inf(1)
		for _, o := range ops {
			minGap = min(minGap, math.Abs(o.MaxAPCER.Value-o.BPCER.Value))
		}
		eer := At(s, FusionScore, m.EERThreshold)
		if gap := math.Abs(eer.MaxAPCER.Value - eer.BPCER.Value); gap > minGap+1e-12 {
			t.Errorf("seed %d: EER gap %v > smallest %v", seed, gap, minGap)
		}
		if !closeTo(m.EER, (eer.MaxAPCER.Value+eer.BPCER.Value)/2) {
			t.Errorf("seed %d: EER %v is not the mean at its threshold", seed, m.EER)
		}
	}
}

func TestDET(t *testing.T) {
	t.Run("small set", func(t *testing.T) {
		// candidates 0.1 0.2 0.3 0.4 0.6 0.7 0.8 0.9 0.9+ over smallSet; replay = {0.2, 0.7},
		// live = {0.1, 0.2, 0.3, 0.6}.
		got := DET(smallSet(), FusionScore, "replay")
		want := []DETPoint{
			{0.1, 0, 1},      // nothing below 0.1; all 4 live >= 0.1
			{0.2, 0, 0.75},   // replay 0.2 >= 0.2; live 0.2, 0.3, 0.6
			{0.3, 0.5, 0.5},  // replay 0.2 < 0.3; live 0.3, 0.6
			{0.4, 0.5, 0.25}, // live 0.6
			{0.6, 0.5, 0.25},
			{0.7, 0.5, 0}, // replay 0.7 >= 0.7 (tie → attack)
			{0.8, 1, 0},   // both replays < 0.8
			{0.9, 1, 0},
			{math.Nextafter(0.9, 2), 1, 0},
		}
		if len(got) != len(want) {
			t.Fatalf("DET = %v, want %v", got, want)
		}
		for i := range want {
			if got[i].Threshold != want[i].Threshold || !closeTo(got[i].APCER, want[i].APCER) ||
				!closeTo(got[i].BPCER, want[i].BPCER) {
				t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	})

	t.Run("unknown species", func(t *testing.T) {
		for _, p := range DET(smallSet(), FusionScore, "mask") {
			if p.APCER != 0 {
				t.Errorf("APCER of an absent species = %v", p.APCER)
			}
		}
	})

	t.Run("monotone", func(t *testing.T) {
		s := randomSet(2000, 7)
		for _, species := range []string{"", "print", "replay", "mask"} {
			det := DET(s, FusionScore, species)
			if len(det) < 10 {
				t.Fatalf("species %q: only %d points", species, len(det))
			}
			if det[0].APCER != 0 || det[len(det)-1].BPCER != 0 || det[len(det)-1].APCER != 1 {
				t.Errorf("species %q: ends %+v %+v", species, det[0], det[len(det)-1])
			}
			for i := 1; i < len(det); i++ {
				if det[i].Threshold <= det[i-1].Threshold || det[i].APCER < det[i-1].APCER ||
					det[i].BPCER > det[i-1].BPCER {
					t.Errorf("species %q: not monotone at %d: %+v then %+v", species, i, det[i-1], det[i])
				}
			}
		}
	})
}

func TestScoreNames(t *testing.T) {
	tests := []struct {
		name    string
		samples []Sample
		want    []string
	}{
		{"none", nil, []string{}},
		{"fusion first", []Sample{
			{Scores: map[string]float64{"texture": 1, "moire": 0}},
			{Error: "x", Scores: map[string]float64{"blink": 1, FusionScore: 1}},
			{},
		}, []string{FusionScore, "blink", "moire", "texture"}},
		{"no fusion", []Sample{{Scores: map[string]float64{"zz": 1, "aa": 0}}}, []string{"aa", "zz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ScoreNames(tc.samples); !slices.Equal(got, tc.want) {
				t.Errorf("ScoreNames = %v, want %v", got, tc.want)
			}
		})
	}
}

func BenchmarkCompute100k(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	species := []string{"print", "replay", "mask", "cutout"}
	s := make([]Sample, 100_000)
	for i := range s {
		if i%3 == 0 {
			s[i] = liveS(r.Float64() * 0.7)
		} else {
			s[i] = atkS(species[r.IntN(len(species))], 0.3+r.Float64()*0.7)
		}
	}
	for b.Loop() {
		Compute(s, FusionScore, 0.5)
	}
}
