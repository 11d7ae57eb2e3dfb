package eval

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Breakdown is one score's error rates per group of samples (per source, per apparent skin tone,
// ...), each with its counts and Wilson interval: one pooled figure hides where a system fails.
type Breakdown struct {
	Title string         `json:"title"`
	Score string         `json:"score"`
	Note  string         `json:"note,omitempty"`
	Rows  []BreakdownRow `json:"rows"`
	// Differential is the worst group's BPCER over the best's, for demographic groups (ISO/IEC
	// 19795-10), with a 95% interval; nil when not asked or not defined.
	Differential *Ratio `json:"bpcer_differential,omitempty"`
}

// BreakdownRow is one group's figures at the threshold.
type BreakdownRow struct {
	Group   string   `json:"group"`
	Live    int      `json:"live"`
	BPCER   Rate     `json:"bpcer"`
	FTA     int      `json:"fta_live"` // live media without a face found (counted in BPCER too)
	Attacks int      `json:"attacks"`
	APCER   Rate     `json:"apcer"`         // all attack species of the group together
	AUC     *float64 `json:"auc,omitempty"` // nil when the group lacks live or attack media
}

// Ratio is a ratio of two rates with a 95% interval.
type Ratio struct {
	Value float64  `json:"value"`
	CI    Interval `json:"ci95"`
	Worst string   `json:"worst"`
	Best  string   `json:"best"`
}

// BreakdownBy groups the usable samples by key (a sample whose key is "" is left out) and gives
// each group's BPCER, APCER and AUC for the score at the threshold.
func BreakdownBy(samples []Sample, score string, threshold float64, title string, key func(Sample) string) Breakdown {
	b := Breakdown{Title: title, Score: score}
	groups := map[string][]Sample{}
	for _, s := range samples {
		if s.Error != "" {
			continue
		}
		if _, ok := scoreOf(&s, score); !ok {
			continue
		}
		if k := key(s); k != "" {
			groups[k] = append(groups[k], s)
		}
	}
	for _, g := range sortedKeys(groups) {
		row := BreakdownRow{Group: g}
		var liveRej, attAcc int
		var live, att []float64
		for _, s := range groups[g] {
			v, _ := scoreOf(&s, score)
			if s.Label == Live {
				row.Live++
				live = append(live, v)
				if v >= threshold {
					liveRej++
				}
				if s.FTA {
					row.FTA++
				}
			} else {
				row.Attacks++
				att = append(att, v)
				if v < threshold {
					attAcc++
				}
			}
		}
		row.BPCER = NewRate(liveRej, row.Live)
		row.APCER = NewRate(attAcc, row.Attacks)
		if a := AUC(live, att); !math.IsNaN(a) {
			row.AUC = &a
		}
		b.Rows = append(b.Rows, row)
	}
	return b
}

// WithDifferential sets the breakdown's BPCER differential: the highest group BPCER over the
// lowest, among groups with at least minLive live media. The interval is Katz's log method, with
// half a count added to both rates when either has none (so a group with no error still bounds
// the ratio).
func (b Breakdown) WithDifferential(minLive int) Breakdown {
	var rows []BreakdownRow
	for _, r := range b.Rows {
		if r.Live >= minLive {
			rows = append(rows, r)
		}
	}
	if len(rows) < 2 {
		return b
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].BPCER.Value > rows[j].BPCER.Value })
	w, l := rows[0], rows[len(rows)-1]
	k1, n1, k2, n2 := float64(w.BPCER.Count), float64(w.BPCER.Total), float64(l.BPCER.Count), float64(l.BPCER.Total)
	if k1 == 0 || k2 == 0 {
		k1, n1, k2, n2 = k1+0.5, n1+0.5, k2+0.5, n2+0.5
	}
	p1, p2 := k1/n1, k2/n2
	r := p1 / p2
	se := math.Sqrt(1/k1 - 1/n1 + 1/k2 - 1/n2)
	b.Differential = &Ratio{Value: r, CI: Interval{Low: r * math.Exp(-1.96*se), High: r * math.Exp(1.96*se)}, Worst: w.Group, Best: l.Group}
	return b
}

// AUC is the area under the ROC curve: the chance that an attack scores above a live media, ties
// counting half; NaN when either list is empty.
func AUC(live, attack []float64) float64 {
	if len(live) == 0 || len(attack) == 0 {
		return math.NaN()
	}
	l := append([]float64(nil), live...)
	sort.Float64s(l)
	var sum float64
	for _, a := range attack {
		lo := sort.SearchFloat64s(l, a)
		hi := sort.Search(len(l), func(i int) bool { return l[i] > a })
		sum += float64(lo) + float64(hi-lo)/2
	}
	return sum / float64(len(live)*len(attack))
}

// SourceOf is a sample's source: its subject's part before ":" (the development set's subjects are
// "source:person"), or the first folder of its path.
func SourceOf(s Sample) string {
	if i := strings.IndexByte(s.Subject, ':'); i > 0 {
		return s.Subject[:i]
	}
	p := strings.TrimPrefix(s.Path, "/")
	if i := strings.IndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return s.Subject
}

// markdown renders the breakdown as a markdown table.
func (b Breakdown) markdown() string {
	var s strings.Builder
	fmt.Fprintf(&s, "\n## %s\n\n", b.Title)
	if b.Note != "" {
		fmt.Fprintf(&s, "%s\n\n", b.Note)
	}
	s.WriteString("| group | live | BPCER | FTA | attacks | APCER | AUC |\n|---|---:|---|---:|---:|---|---:|\n")
	for _, r := range b.Rows {
		fmt.Fprintf(&s, "| %s | %d | %s | %d | %d | %s | %s |\n", mdCell(r.Group), r.Live, rateCell(r.BPCER), r.FTA, r.Attacks, rateCell(r.APCER), aucCell(r.AUC))
	}
	if d := b.Differential; d != nil {
		fmt.Fprintf(&s, "\nBPCER differential (worst group %s over best group %s): %.2f (95%% CI %.2f–%.2f).\n", d.Worst, d.Best, d.Value, d.CI.Low, d.CI.High)
	}
	return s.String()
}

func rateCell(r Rate) string {
	if !r.Defined {
		return ""
	}
	return fmt.Sprintf("%s (%d/%d, CI %s–%s)", fmtPct(r.Value), r.Count, r.Total, fmtPct(r.CI.Low), fmtPct(r.CI.High))
}

func aucCell(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%.3f", *v)
}
