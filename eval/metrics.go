package eval

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// wilsonZ is the standard normal quantile of a two-sided 95% interval.
const wilsonZ = 1.959964

// Wilson returns the 95% Wilson score interval (z = 1.959964) of k successes in n trials; n == 0
// gives {0, 1}. k is clamped to [0, n]. The bounds are exactly 0 when k == 0 and exactly 1 when
// k == n (the formula reaches them only up to rounding).
func Wilson(k, n int) Interval {
	if n <= 0 {
		return Interval{Low: 0, High: 1}
	}
	k = min(max(k, 0), n)
	nf := float64(n)
	p := float64(k) / nf
	z2 := wilsonZ * wilsonZ
	denom := 1 + z2/nf
	center := (p + z2/(2*nf)) / denom
	half := wilsonZ / denom * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	iv := Interval{Low: max(center-half, 0), High: min(center+half, 1)}
	if k == 0 {
		iv.Low = 0
	}
	if k == n {
		iv.High = 1
	}
	return iv
}

// NewRate builds a Rate from counts (Defined=false and Value 0 when total==0; CI from Wilson).
func NewRate(count, total int) Rate {
	r := Rate{Count: count, Total: total, CI: Wilson(count, total)}
	if total > 0 {
		r.Value = float64(count) / float64(total)
		r.Defined = true
	}
	return r
}

// scoreOf returns the sample's value of score and whether it counts in the error rates: the row
// was analysed (Error == ""), is labelled Live or Attack, and has a non-NaN value of the score.
func scoreOf(s *Sample, score string) (float64, bool) {
	if s.Error != "" || (s.Label != Live && s.Label != Attack) {
		return 0, false
	}
	v, ok := s.Scores[score]
	if !ok || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// speciesCount is the tally of one attack species at one threshold.
type speciesCount struct {
	name     string
	accepted int // attacks declared live (score < threshold)
	total    int
}

// newOperatingPoint assembles an OperatingPoint from counts. species must be sorted by name, so
// that the first species reaching the maximum APCER is the alphabetically first one.
func newOperatingPoint(t float64, liveRejected, liveTotal int, species []speciesCount) OperatingPoint {
	op := OperatingPoint{
		Threshold: t,
		APCER:     make(map[string]Rate, len(species)),
		MaxAPCER:  NewRate(0, 0),
		BPCER:     NewRate(liveRejected, liveTotal),
	}
	for i, sc := range species {
		r := NewRate(sc.accepted, sc.total)
		op.APCER[sc.name] = r
		if i == 0 || r.Value > op.MaxAPCER.Value {
			op.MaxAPCER = r
			op.WorstSpecies = sc.name
		}
	}
	op.ACER = (op.MaxAPCER.Value + op.BPCER.Value) / 2
	return op
}

// At computes every error rate of score at threshold t over the samples. Rows with Error != "",
// rows labelled neither Live nor Attack and rows lacking the score (or holding NaN) are skipped. A
// sample is declared an attack iff its score is >= t. APCER(species) = attacks of that species
// declared live / attacks of that species; BPCER = live declared attack / live; MaxAPCER is the
// worst species (ties: the alphabetically first name); ACER = (MaxAPCER.Value + BPCER.Value) / 2.
// The APCER map is empty (not nil) when there are no attacks. It is one linear pass over samples.
func At(samples []Sample, score string, t float64) OperatingPoint {
	liveRejected, liveTotal := 0, 0
	bySpecies := map[string]*speciesCount{}
	for i := range samples {
		s := &samples[i]
		v, ok := scoreOf(s, score)
		if !ok {
			continue
		}
		if s.Label == Live {
			liveTotal++
			if v >= t {
				liveRejected++
			}
			continue
		}
		sc := bySpecies[s.Species]
		if sc == nil {
			sc = &speciesCount{name: s.Species}
			bySpecies[s.Species] = sc
		}
		sc.total++
		if v < t {
			sc.accepted++
		}
	}
	species := make([]speciesCount, 0, len(bySpecies))
	for _, sc := range bySpecies {
		species = append(species, *sc)
	}
	slices.SortFunc(species, func(a, b speciesCount) int { return cmp.Compare(a.name, b.name) })
	return newOperatingPoint(t, liveRejected, liveTotal, species)
}

// curve holds the sorted scores of each class of one score, so that any threshold is evaluated
// with binary searches (O(species * log n)) instead of a pass over the samples.
type curve struct {
	live       []float64   // sorted ascending
	species    []string    // sorted
	attacks    [][]float64 // per species (same order), each sorted ascending
	candidates []float64   // every distinct score value, then Nextafter(max, +Inf); ascending
	missing    int         // analysed rows (Error == "") lacking the score, or holding NaN
}

func newCurve(samples []Sample, score string) *curve {
	c := &curve{}
	bySpecies := map[string][]float64{}
	for i := range samples {
		s := &samples[i]
		v, ok := scoreOf(s, score)
		if !ok {
			if v, has := s.Scores[score]; s.Error == "" && (!has || math.IsNaN(v)) {
				c.missing++
			}
			continue
		}
		if s.Label == Live {
			c.live = append(c.live, v)
		} else {
			bySpecies[s.Species] = append(bySpecies[s.Species], v)
		}
	}
	all := make([]float64, 0, len(c.live))
	slices.Sort(c.live)
	all = append(all, c.live...)
	for name := range bySpecies {
		c.species = append(c.species, name)
	}
	slices.Sort(c.species)
	c.attacks = make([][]float64, len(c.species))
	for i, name := range c.species {
		sc := bySpecies[name]
		slices.Sort(sc)
		c.attacks[i] = sc
		all = append(all, sc...)
	}
	if len(all) == 0 {
		return c
	}
	slices.Sort(all)
	all = slices.Compact(all)
	c.candidates = append(all, math.Nextafter(all[len(all)-1], math.Inf(1)))
	return c
}

// below is how many of the sorted values are < t.
func below(sorted []float64, t float64) int {
	return sort.SearchFloat64s(sorted, t)
}

// rates returns MaxAPCER.Value and BPCER.Value at t without building maps (undefined rates are 0).
func (c *curve) rates(t float64) (maxAPCER, bpcer float64) {
	for _, sc := range c.attacks {
		maxAPCER = max(maxAPCER, float64(below(sc, t))/float64(len(sc)))
	}
	if n := len(c.live); n > 0 {
		bpcer = float64(n-below(c.live, t)) / float64(n)
	}
	return maxAPCER, bpcer
}

// speciesAPCER returns the APCER of one species at t (0 when the species has no scored samples).
func (c *curve) speciesAPCER(name string, t float64) float64 {
	i, ok := slices.BinarySearch(c.species, name)
	if !ok {
		return 0
	}
	sc := c.attacks[i]
	return float64(below(sc, t)) / float64(len(sc))
}

// op builds the full OperatingPoint at t; it equals At(samples, score, t).
func (c *curve) op(t float64) OperatingPoint {
	species := make([]speciesCount, len(c.species))
	for i, name := range c.species {
		species[i] = speciesCount{name: name, accepted: below(c.attacks[i], t), total: len(c.attacks[i])}
	}
	return newOperatingPoint(t, len(c.live)-below(c.live, t), len(c.live), species)
}

// eerTie is how close two |max APCER - BPCER| gaps (or means) must be to count as equal: they are
// differences of ratios, so equal gaps can differ by rounding (2/3 - 1/2 vs 1/2 - 1/3). Rates
// themselves are compared exactly: equal ratios divide to the same float64.
const eerTie = 1e-12

// Compute fills Metrics for one score at the configured threshold plus the standard operating
// points, all searched over the candidate thresholds: every distinct score value present plus
// math.Nextafter(max, +Inf) (declare nothing an attack). At the lowest candidate every sample is
// declared an attack (max APCER 0), at the highest none is (BPCER 0), so each constrained point
// below always exists when any sample has the score.
//
//   - BPCER20 / BPCER100: among candidates whose max APCER is <= 0.05 / 0.01, the lowest BPCER.
//     Ties on BPCER go to the lowest max APCER, then to the lowest threshold: that is the point
//     that dominates the other tied ones (same BPCER, fewer attacks accepted).
//   - APCERAtBPCER1 / APCERAtBPCER5: among candidates whose BPCER is <= 0.01 / 0.05, the lowest max
//     APCER. Ties go to the lowest BPCER, then to the lowest threshold.
//   - EER: the candidate minimising |max APCER - BPCER| (ties, within eerTie: the lowest mean,
//     then the lowest threshold); EER is the mean of the two at that threshold and EERThreshold
//     that threshold. There is no interpolation between candidates.
//   - FTA: analysed samples (Error == "") with FTA set / all analysed samples, whether or not they
//     have the score.
//   - Live, Attacks, Species count the samples that have the score; Missing counts analysed
//     samples without it (or with NaN).
//
// Undefined rates (no live, or no attack samples) have Defined false and Value 0, and take part in
// the searches as 0: with no attacks BPCER20 is the lowest BPCER (0), with no live samples
// APCERAtBPCER is the lowest APCER (0). When no sample has the score every operating point is
// taken at the configured threshold (all rates undefined) and EER is 0 at that threshold.
func Compute(samples []Sample, score string, threshold float64) Metrics {
	c := newCurve(samples, score)
	m := Metrics{
		Score:       score,
		Live:        len(c.live),
		Species:     make(map[string]int, len(c.species)),
		Missing:     c.missing,
		AtThreshold: At(samples, score, threshold),
	}
	for i, name := range c.species {
		m.Species[name] = len(c.attacks[i])
		m.Attacks += len(c.attacks[i])
	}
	analysed, fta := 0, 0
	for i := range samples {
		if samples[i].Error != "" {
			continue
		}
		analysed++
		if samples[i].FTA {
			fta++
		}
	}
	m.FTA = NewRate(fta, analysed)

	if len(c.candidates) == 0 {
		op := c.op(threshold)
		m.BPCER20, m.BPCER100, m.APCERAtBPCER1, m.APCERAtBPCER5 = op, op, op, op
		m.EERThreshold = threshold
		return m
	}

	// Each search keeps the index of the best candidate so far; candidates ascend, so keeping the
	// first of equal keys picks the lowest threshold.
	type best struct {
		i                  int
		primary, secondary float64
		limit              float64
		constrainAPCER     bool // the limit applies to max APCER (else to BPCER)
	}
	searches := []best{
		{i: -1, limit: 0.05, constrainAPCER: true}, // BPCER20
		{i: -1, limit: 0.01, constrainAPCER: true}, // BPCER100
		{i: -1, limit: 0.01},                       // APCER at BPCER 1%
		{i: -1, limit: 0.05},                       // APCER at BPCER 5%
	}
	eerIdx, eerGap, eerMean := -1, 0.0, 0.0
	for i, t := range c.candidates {
		apcer, bpcer := c.rates(t)
		for j := range searches {
			s := &searches[j]
			primary, secondary, constrained := apcer, bpcer, bpcer
			if s.constrainAPCER {
				primary, secondary, constrained = bpcer, apcer, apcer
			}
			if constrained > s.limit {
				continue
			}
			if s.i < 0 || primary < s.primary || (primary == s.primary && secondary < s.secondary) {
				s.i, s.primary, s.secondary = i, primary, secondary
			}
		}
		gap, mean := math.Abs(apcer-bpcer), (apcer+bpcer)/2
		if eerIdx < 0 || gap < eerGap-eerTie || (gap <= eerGap+eerTie && mean < eerMean-eerTie) {
			eerIdx, eerGap, eerMean = i, gap, mean
		}
	}
	pick := func(s best) OperatingPoint {
		if s.i < 0 { // cannot happen (see above); kept so a future change fails soft
			return c.op(threshold)
		}
		return c.op(c.candidates[s.i])
	}
	m.BPCER20 = pick(searches[0])
	m.BPCER100 = pick(searches[1])
	m.APCERAtBPCER1 = pick(searches[2])
	m.APCERAtBPCER5 = pick(searches[3])
	m.EER, m.EERThreshold = eerMean, c.candidates[eerIdx]
	return m
}

// DET returns the detection error trade-off curve over all candidate thresholds (see Compute),
// sorted by threshold ascending: APCER is the max over species when species == "", else that
// species' APCER (0 for a species with no scored samples); BPCER is 0 when there are no live
// samples. It is nil when no sample has the score.
func DET(samples []Sample, score, species string) []DETPoint {
	c := newCurve(samples, score)
	if len(c.candidates) == 0 {
		return nil
	}
	points := make([]DETPoint, len(c.candidates))
	for i, t := range c.candidates {
		apcer, bpcer := c.rates(t)
		if species != "" {
			apcer = c.speciesAPCER(species, t)
		}
		points[i] = DETPoint{Threshold: t, APCER: apcer, BPCER: bpcer}
	}
	return points
}

// ScoreNames lists the score names present in any sample (error rows included), FusionScore first
// when present, the rest sorted.
func ScoreNames(samples []Sample) []string {
	seen := map[string]bool{}
	for i := range samples {
		for name := range samples[i].Scores {
			seen[name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		if name != FusionScore {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if seen[FusionScore] {
		names = slices.Insert(names, 0, FusionScore)
	}
	return names
}
