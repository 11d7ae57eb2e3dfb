package eval

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Rates are clamped to [detMinRate, detMaxRate] before plotting, so that 0 and 1 have a place on a
// probit axis.
const (
	detMinRate = 0.0005
	detMaxRate = 0.9995
	// detDefaultMax is the upper end of both DET axes unless a curve's equal-error point lies above.
	detDefaultMax = 0.5
	histBins      = 20
	plotDPI       = 110
)

var (
	plotWidth  = 7 * vg.Inch
	plotHeight = 5.25 * vg.Inch
)

// plotPalette of the attack species and signals (a colour-blind friendly "tab10" without its green,
// which is kept for live presentations).
var plotPalette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
	{0xbc, 0xbd, 0x22, 0xff}, // olive
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

var (
	liveColor  = color.RGBA{0x2c, 0xa0, 0x2c, 0xff}
	inkBlack   = color.RGBA{0x11, 0x11, 0x11, 0xff}
	lightGrey  = color.RGBA{0xbb, 0xbb, 0xbb, 0xff}
	dashDashes = []vg.Length{vg.Points(6), vg.Points(3)}
	dotDashes  = []vg.Length{vg.Points(2), vg.Points(3)}
	thinLine   = vg.Points(1.5)
	thickLine  = vg.Points(2.5)
	dotRadius  = vg.Points(4)
	legendFont = vg.Points(10)
)

func paletteColor(i int) color.RGBA { return plotPalette[i%len(plotPalette)] }

// lighter mixes c with white: f = 0 keeps c, f = 1 gives white.
func lighter(c color.RGBA, f float64) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(math.Round(float64(v) + (255-float64(v))*f)) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xff}
}

func withAlpha(c color.RGBA, a uint8) color.NRGBA { return color.NRGBA{c.R, c.G, c.B, a} }

// probit is the inverse of the standard normal CDF (the normal deviate of p).
func probitOf(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

func clampRate(p float64) float64 {
	if math.IsNaN(p) || p < detMinRate {
		return detMinRate
	}
	if p > detMaxRate {
		return detMaxRate
	}
	return p
}

// probitScale is a plot.Normalizer that places error rates on a normal-deviate axis, as DET curves
// are drawn.
type probitScale struct{}

func (probitScale) Normalize(min, max, x float64) float64 {
	lo, hi := probitOf(clampRate(min)), probitOf(clampRate(max))
	if hi == lo {
		return 0.5
	}
	return (probitOf(clampRate(x)) - lo) / (hi - lo)
}

// probitTicks is a plot.Ticker with the round error rates DET plots are labelled with.
type probitTicks struct{}

var (
	majorRates = []float64{0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999}
	minorRates = []float64{0.0005, 0.002, 0.005, 0.03, 0.3, 0.5, 0.7}
)

func (probitTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for _, v := range majorRates {
		if v >= min-1e-12 && v <= max+1e-12 {
			ticks = append(ticks, plot.Tick{Value: v, Label: percentLabel(v)})
		}
	}
	for _, v := range minorRates {
		if v >= min-1e-12 && v <= max+1e-12 {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Value < ticks[j].Value })
	return ticks
}

// percentLabel writes a rate as a short percentage: 0.001 -> "0.1%", 0.2 -> "20%".
func percentLabel(v float64) string {
	s := fmt.Sprintf("%.1f", 100*v)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + "%"
}

func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	sans := func(size vg.Length) font.Font {
		return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
	}
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(vg.Points(13))
	p.Title.Padding = vg.Points(6)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = sans(vg.Points(11))
		ax.Tick.Label.Font = sans(vg.Points(10))
	}
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.TextStyle.Font = sans(legendFont)
	p.Legend.Padding = vg.Points(2)
	p.Legend.ThumbnailWidth = vg.Points(24)
	return p
}

// linearTicks labels round values of a linear axis; percent writes them as percentages.
type linearTicks struct{ percent bool }

func (lt linearTicks) Ticks(min, max float64) []plot.Tick {
	span := max - min
	if !(span > 0) {
		return nil
	}
	step := 1.0
	for _, s := range []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1} {
		if span/s <= 10 {
			step = s
			break
		}
	}
	var ticks []plot.Tick
	for i := math.Ceil(min/step - 1e-9); i*step <= max+1e-9; i++ {
		v := math.Round(i*step*1e9)/1e9 + 0 // + 0 turns -0 into 0
		label := strconv.FormatFloat(v, 'f', -1, 64)
		if lt.percent {
			label = percentLabel(v)
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
		if m := v + step/2; m < max {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	return ticks
}

func renderPNG(p *plot.Plot) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	dc := draw.New(c)
	// A white background: vgimg starts transparent.
	dc.SetColor(color.White)
	var bg vg.Path
	bg.Move(vg.Point{X: 0, Y: 0})
	bg.Line(vg.Point{X: plotWidth, Y: 0})
	bg.Line(vg.Point{X: plotWidth, Y: plotHeight})
	bg.Line(vg.Point{X: 0, Y: plotHeight})
	bg.Close()
	dc.Fill(bg)
	p.Draw(dc)
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// detXYs turns a DET curve into plot points (x = APCER, y = BPCER), clamped for the probit axes.
func detXYs(points []DETPoint) plotter.XYs {
	xys := make(plotter.XYs, 0, len(points))
	for _, pt := range points {
		x, y := clampRate(pt.APCER), clampRate(pt.BPCER)
		if n := len(xys); n > 0 && xys[n-1].X == x && xys[n-1].Y == y {
			continue
		}
		xys = append(xys, plotter.XY{X: x, Y: y})
	}
	return xys
}

// detEER is the largest of APCER and BPCER where they come closest: the curve's equal-error rate.
func detEER(points []DETPoint) float64 {
	best, eer := math.Inf(1), 0.0
	for _, pt := range points {
		if d := math.Abs(pt.APCER - pt.BPCER); d < best {
			best, eer = d, math.Max(pt.APCER, pt.BPCER)
		}
	}
	return eer
}

// detAxes fits both probit axes so that every curve's equal-error point is visible.
func detAxes(p *plot.Plot, curves [][]DETPoint) {
	hi := detDefaultMax
	for _, c := range curves {
		if e := detEER(c) * 1.6; e > hi {
			hi = e
		}
	}
	hi = math.Min(hi, detMaxRate)
	// The legend goes in the ideal corner (both errors low), which curves seldom reach.
	p.Legend.Top, p.Legend.Left = false, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(6)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Scale = probitScale{}
		ax.Tick.Marker = probitTicks{}
		ax.Min, ax.Max = detMinRate, hi
	}
}

// addDiagonal draws the APCER = BPCER line, where the equal error rate is read.
func addDiagonal(p *plot.Plot) error {
	l, err := plotter.NewLine(plotter.XYs{{X: detMinRate, Y: detMinRate}, {X: detMaxRate, Y: detMaxRate}})
	if err != nil {
		return err
	}
	l.Color = lightGrey
	l.Width = vg.Points(1)
	l.Dashes = dotDashes
	p.Add(l)
	return nil
}

func addDot(p *plot.Plot, apcer, bpcer float64, c color.Color) (*plotter.Scatter, error) {
	s, err := plotter.NewScatter(plotter.XYs{{X: clampRate(apcer), Y: clampRate(bpcer)}})
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: dotRadius, Shape: draw.CircleGlyph{}}
	p.Add(s)
	return s, nil
}

func addCurve(p *plot.Plot, points []DETPoint, c color.Color, width vg.Length, dash []vg.Length) (*plotter.Line, error) {
	xys := detXYs(points)
	if len(xys) == 0 {
		return nil, nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width, l.Dashes = c, width, dash
	p.Add(l)
	return l, nil
}

// plotDET draws the fusion's DET curve of each attack species and of the worst species (max APCER
// over species), with the operating point of the configured threshold marked by a dot.
func plotDET(r *Report, species []string) ([]byte, error) {
	title := "DET curve, fusion score"
	if r.Engine != "" {
		title += ", engine " + r.Engine
	}
	p := newPlot(title, "APCER (attacks accepted as live)", "BPCER (live rejected as attacks)")
	if err := addDiagonal(p); err != nil {
		return nil, err
	}
	at := At(r.Samples, FusionScore, r.Threshold)
	// The worst-species curve goes first, wide and translucent, so that the curve of the species it
	// follows stays visible on top of it.
	points := DET(r.Samples, FusionScore, "")
	curves := [][]DETPoint{points}
	maxLine, err := addCurve(p, points, withAlpha(inkBlack, 0x70), vg.Points(6), nil)
	if err != nil {
		return nil, err
	}
	for i, sp := range species {
		points := DET(r.Samples, FusionScore, sp)
		curves = append(curves, points)
		col := paletteColor(i)
		l, err := addCurve(p, points, col, thinLine, nil)
		if err != nil {
			return nil, err
		}
		if l == nil {
			continue
		}
		p.Legend.Add("APCER "+sp, l)
		if rate, ok := at.APCER[sp]; ok && rate.Defined && at.BPCER.Defined {
			if _, err := addDot(p, rate.Value, at.BPCER.Value, col); err != nil {
				return nil, err
			}
		}
	}
	if maxLine != nil {
		p.Legend.Add("max APCER (worst species)", maxLine)
	}
	if at.MaxAPCER.Defined && at.BPCER.Defined {
		dot, err := addDot(p, at.MaxAPCER.Value, at.BPCER.Value, inkBlack)
		if err != nil {
			return nil, err
		}
		p.Legend.Add(fmt.Sprintf("threshold %.3g", r.Threshold), dot)
	}
	p.Add(plotter.NewGrid())
	detAxes(p, curves)
	return renderPNG(p)
}

// plotDETSignals draws the max-over-species DET curve of each signal alone (lighter, dashed)
// against the fusion's.
func plotDETSignals(r *Report, signals []string) ([]byte, error) {
	title := "DET curves, fusion vs each signal alone (worst species)"
	if r.Engine != "" {
		title = "DET, fusion vs signals alone (worst species), engine " + r.Engine
	}
	p := newPlot(title, "max APCER (attacks accepted as live)", "BPCER (live rejected as attacks)")
	if err := addDiagonal(p); err != nil {
		return nil, err
	}
	var curves [][]DETPoint
	for i, sig := range signals {
		points := DET(r.Samples, sig, "")
		curves = append(curves, points)
		l, err := addCurve(p, points, lighter(paletteColor(i), 0.25), thinLine, dashDashes)
		if err != nil {
			return nil, err
		}
		if l != nil {
			p.Legend.Add(sig, l)
		}
	}
	points := DET(r.Samples, FusionScore, "")
	curves = append(curves, points)
	l, err := addCurve(p, points, inkBlack, thickLine, nil)
	if err != nil {
		return nil, err
	}
	if l != nil {
		p.Legend.Add("fusion", l)
	}
	at := At(r.Samples, FusionScore, r.Threshold)
	if at.MaxAPCER.Defined && at.BPCER.Defined {
		dot, err := addDot(p, at.MaxAPCER.Value, at.BPCER.Value, inkBlack)
		if err != nil {
			return nil, err
		}
		p.Legend.Add(fmt.Sprintf("fusion at threshold %.3g", r.Threshold), dot)
	}
	p.Add(plotter.NewGrid())
	detAxes(p, curves)
	return renderPNG(p)
}

// histogram is the share of a group's scores in each of histBins bins over [0, 1].
func histShares(scores []float64) []float64 {
	h := make([]float64, histBins)
	if len(scores) == 0 {
		return h
	}
	for _, s := range scores {
		b := int(math.Floor(s * histBins))
		b = max(0, min(histBins-1, b))
		h[b]++
	}
	for i := range h {
		h[i] /= float64(len(scores))
	}
	return h
}

// plotHist overlays the fusion score histograms of live presentations and of each attack species,
// with the configured threshold as a vertical line.
func plotHist(r *Report, species []string) ([]byte, error) {
	title := "Fusion score histograms"
	if r.Engine != "" {
		title += ", engine " + r.Engine
	}
	p := newPlot(title, "fusion attack score (0 = live, 1 = attack)", "share of the group's samples")
	groups := map[string][]float64{}
	for _, s := range r.Samples {
		v, ok := s.Scores[FusionScore]
		if s.Error != "" || !ok || math.IsNaN(v) {
			continue
		}
		key := Live
		if s.Label == Attack {
			key = "attack:" + s.Species
		} else if s.Label != Live {
			continue
		}
		groups[key] = append(groups[key], v)
	}
	type group struct {
		name   string
		key    string
		colour color.RGBA
	}
	gs := []group{{"live", Live, liveColor}}
	for i, sp := range species {
		gs = append(gs, group{sp, "attack:" + sp, paletteColor(i)})
	}
	ymax, entries := 0.0, 0
	for _, g := range gs {
		scores := groups[g.key]
		if len(scores) == 0 {
			continue
		}
		h := histShares(scores)
		xys := plotter.XYs{{X: 0, Y: 0}}
		for i, v := range h {
			xys = append(xys, plotter.XY{X: float64(i) / histBins, Y: v})
			ymax = math.Max(ymax, v)
		}
		xys = append(xys, plotter.XY{X: 1, Y: h[histBins-1]}, plotter.XY{X: 1, Y: 0})
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.StepStyle = plotter.PostStep
		l.Color = g.colour
		l.Width = vg.Points(1.8)
		l.FillColor = withAlpha(g.colour, 0x38)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (n=%d)", g.name, len(scores)), l)
		entries++
	}
	if ymax == 0 {
		ymax = 1
	}
	// Headroom above the bars for the legend (top right).
	ymax *= 1.12 + 0.07*float64(entries+1)
	tl, err := plotter.NewLine(plotter.XYs{{X: r.Threshold, Y: 0}, {X: r.Threshold, Y: ymax}})
	if err != nil {
		return nil, err
	}
	tl.Color = inkBlack
	tl.Width = vg.Points(1.5)
	tl.Dashes = dashDashes
	p.Add(tl)
	p.Legend.Add(fmt.Sprintf("threshold %.3g", r.Threshold), tl)
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), -vg.Points(4)
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, ymax
	p.X.Tick.Marker = linearTicks{}
	p.Y.Tick.Marker = linearTicks{percent: true}
	return renderPNG(p)
}
