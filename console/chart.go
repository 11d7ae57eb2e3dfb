package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"sync/atomic"

	"bonafide"
)

// The per-frame chart: inline SVG rendered here (no script, no library), two panels over the
// frames of one media: scores in [0, 1] (face size, quality, passive P(attack)) and the head pose
// in degrees (yaw, pitch). Colours come from the stylesheet by class; the SVG carries a title and
// a description, and the same numbers are in a table beside it for screen readers and keyboards.

const (
	chartW, chartH = 640, 150
	padL, padR     = 44, 12
	padT, padB     = 10, 24
)

type series struct {
	Name, Class string
	Points      []point
}

type point struct {
	X, Y float64 // in SVG coordinates
	Raw  float64
	Time float64
}

// chart is what the folder template draws.
type chart struct {
	Scores, Pose template.HTML // the two <svg> panels
	Rows         []frameRow    // the data table
}

type frameRow struct {
	Index                                    int
	Time, Face, Quality, Passive, Yaw, Pitch string
}

func newChart(frames []bonafide.FrameTrace) *chart {
	c := &chart{}
	xOf := func(i int) float64 {
		if len(frames) == 1 {
			return padL + float64(chartW-padL-padR)/2
		}
		return padL + float64(i)*float64(chartW-padL-padR)/float64(len(frames)-1)
	}
	pick := func(get func(bonafide.FrameTrace) *float64, lo, hi float64) []point {
		var pts []point
		for i, f := range frames {
			v := get(f)
			if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
				continue
			}
			y := math.Max(lo, math.Min(hi, *v))
			pts = append(pts, point{X: xOf(i), Y: padT + (hi-y)/(hi-lo)*float64(chartH-padT-padB), Raw: *v, Time: f.Time})
		}
		return pts
	}
	scores := []series{
		{"face size", "s-face", pick(func(f bonafide.FrameTrace) *float64 { return f.Face }, 0, 1)},
		{"quality", "s-quality", pick(func(f bonafide.FrameTrace) *float64 { return f.Quality }, 0, 1)},
		{"passive P(attack)", "s-passive", pick(func(f bonafide.FrameTrace) *float64 { return f.Passive }, 0, 1)},
	}
	pose := []series{
		{"yaw", "s-yaw", pick(func(f bonafide.FrameTrace) *float64 { return f.Yaw }, -60, 60)},
		{"pitch", "s-pitch", pick(func(f bonafide.FrameTrace) *float64 { return f.Pitch }, -60, 60)},
	}
	c.Scores = svg("Scores per frame", "Face size (face side over the shorter frame side), face quality and the passive model's probability of an attack, from 0 to 1, for each analysed frame.",
		scores, []float64{0, 0.5, 1}, func(v float64) string { return num(v, 1) }, 0, 1, len(frames))
	c.Pose = svg("Head pose per frame", "Yaw and pitch of the head in degrees (from -60 to 60) for each frame where the pose was measured.",
		pose, []float64{-60, 0, 60}, func(v float64) string { return fmt.Sprintf("%+.0f°", v) }, -60, 60, len(frames))
	opt := func(v *float64, prec int) string {
		if v == nil {
			return "–"
		}
		return num(*v, prec)
	}
	for _, f := range frames {
		c.Rows = append(c.Rows, frameRow{Index: f.Index, Time: num(f.Time, 2), Face: opt(f.Face, 3), Quality: opt(f.Quality, 3),
			Passive: opt(f.Passive, 3), Yaw: opt(f.Yaw, 1), Pitch: opt(f.Pitch, 1)})
	}
	return c
}

// chartSeq numbers the panels, so the ids their titles are referenced by are unique on a page.
var chartSeq atomic.Int64

// svg draws one panel. Only numbers and fixed words go into it, escaped anyway.
func svg(title, desc string, ss []series, ticks []float64, label func(float64) string, lo, hi float64, frames int) template.HTML {
	id := fmt.Sprintf("chart-%d", chartSeq.Add(1))
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))
	for _, t := range ticks {
		y := padT + (hi-t)/(hi-lo)*float64(chartH-padT-padB)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, padL, y, chartW-padR, y)
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-6, y+4, esc(label(t)))
	}
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d">frame 1</text>`, padL, chartH-6)
	if frames > 1 {
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">frame %d</text>`, chartW-padR, chartH-6, frames)
	}
	for _, s := range ss {
		if len(s.Points) == 0 {
			continue
		}
		if len(s.Points) > 1 {
			var pts []string
			for _, p := range s.Points {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.X, p.Y))
			}
			fmt.Fprintf(&b, `<polyline class="line %s" points="%s"/>`, s.Class, strings.Join(pts, " "))
		}
		for _, p := range s.Points {
			fmt.Fprintf(&b, `<circle class="dot %s" cx="%.1f" cy="%.1f" r="2.5"><title>%s %s at %.2f s</title></circle>`,
				s.Class, p.X, p.Y, esc(s.Name), esc(num(p.Raw, 3)), p.Time)
		}
	}
	b.WriteString(`</svg>`)
	// The legend is HTML (a list), so it wraps and reads in order.
	b.WriteString(`<ul class="legend">`)
	for _, s := range ss {
		fmt.Fprintf(&b, `<li><span class="swatch %s" aria-hidden="true"></span>%s`, s.Class, esc(s.Name))
		if len(s.Points) == 0 {
			b.WriteString(` (not measured)`)
		}
		b.WriteString(`</li>`)
	}
	b.WriteString(`</ul>`)
	return template.HTML(b.String())
}
