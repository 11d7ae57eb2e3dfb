package synth

import (
	"image"
	"image/draw"
	"math"
	"math/rand/v2"

	xdraw "golang.org/x/image/draw"
)

// PrintStyle is the set of print artefacts applied to the photo before it is placed in the scene.
// The zero value applies none (the plain print of earlier versions).
type PrintStyle struct {
	// HalftoneLines is the halftone screen ruling as dot rows per photo height (CMYK dot screens at
	// the classic angles: cyan 15°, magenta 75°, yellow 0°, black 45°). 0 means no halftone. With
	// the photo about 0.6 of the frame height, 90 gives dots of about 3 frame pixels, which a webcam
	// just resolves and partly aliases.
	HalftoneLines float64
	// Texture is the strength of the paper texture: slow blotches and fine grain modulating the
	// brightness. 1 is a typical office paper, 0 none.
	Texture float64
	// Gamut is how far colours are pulled into a print's smaller gamut: saturation compressed, the
	// white point pulled to a warm paper white and the black point lifted to the ink's black. 1 is
	// typical, 0 none, up to 2 for a poor print.
	Gamut float64
}

// DefaultPrintStyle is a typical office colour print.
func DefaultPrintStyle() PrintStyle {
	return PrintStyle{HalftoneLines: 90, Texture: 1, Gamut: 1}
}

func (s PrintStyle) active() bool {
	return s.HalftoneLines > 0 || s.Texture > 0 || s.Gamut > 0
}

const (
	halftoneMinCell = 8    // working-resolution pixels per halftone cell, at least
	halftoneMaxSide = 2400 // cap on the working resolution's long side
	// paperPrefilter is the paper's height after prefiltering, as a fraction of the frame height: a
	// little above the largest height it takes in a frame, so the bilinear placement samples it at
	// about 1:1 and a camera-like, not a point-sampled, picture of the print results.
	paperPrefilter = paperHeightFrac * (1 + scaleAmp) * 1.25
	gamutSatLoss   = 0.3  // saturation lost at Gamut 1
	halftoneInk    = 0.92 // how much light a full black-ink dot absorbs
)

// stylePaper makes the printed paper for o: the plain makePaper when o.Style is zero, else the
// photo with the gamut reduced and halftoned at a working resolution, on paper, prefiltered to the
// frame's scale and textured.
func stylePaper(photo image.Image, o PrintOptions) *image.RGBA {
	s := o.Style
	if !s.active() {
		return makePaper(photo, o.PaperMargin)
	}
	img := toRGBA(photo)
	if s.Gamut > 0 {
		reduceGamut(img, s.Gamut)
	}
	margin := o.PaperMargin
	if s.HalftoneLines > 0 {
		h := img.Bounds().Dy()
		ws := halftoneMinCell * s.HalftoneLines / float64(h)
		long := float64(max(img.Bounds().Dx(), h))
		ws = min(ws, halftoneMaxSide/long)
		if ws > 1 {
			img = resize(img, int(math.Round(float64(img.Bounds().Dx())*ws)), int(math.Round(float64(h)*ws)))
			margin = int(math.Round(float64(margin) * ws))
		}
		img = halftone(img, s.HalftoneLines)
	}
	paper := makePaper(img, margin)
	target := int(math.Ceil(paperPrefilter * float64(o.Height)))
	if ph := paper.Bounds().Dy(); ph > target {
		pw := max(1, int(math.Round(float64(paper.Bounds().Dx())*float64(target)/float64(ph))))
		paper = resize(paper, pw, target)
	}
	if s.Texture > 0 {
		paperTexture(paper, s.Texture, o.Seed)
	}
	return paper
}

// toRGBA copies img into a new *image.RGBA with bounds at the origin.
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}

// resize scales src to w x h with Catmull-Rom (which widens its kernel when shrinking, so it
// averages instead of aliasing).
func resize(src *image.RGBA, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	return dst
}

// reduceGamut compresses saturation about the luma and maps black and white to an ink black and a
// warm paper white, in place, with strength g (1 typical).
func reduceGamut(img *image.RGBA, g float64) {
	keep := max(1-gamutSatLoss*g, 0.1)
	white := [3]float64{1 - 0.035*g, 1 - 0.045*g, 1 - 0.085*g}
	black := [3]float64{0.085 * g, 0.08 * g, 0.075 * g}
	for i := 0; i+3 < len(img.Pix); i += 4 {
		p := img.Pix[i : i+3 : i+3]
		r, gr, b := float64(p[0])/255, float64(p[1])/255, float64(p[2])/255
		y := 0.299*r + 0.587*gr + 0.114*b
		for c, v := range [3]float64{r, gr, b} {
			v = y + keep*(v-y)
			v = black[c] + (white[c]-black[c])*v
			p[c] = clamp8(v * 255)
		}
	}
}

// screen is one ink's halftone screen: its angle and how its ink absorbs red, green and blue.
type screen struct {
	angleDeg float64
	absorb   [3]float64
}

// Process inks with some crosstalk (real inks are not ideal filters).
var inkScreens = [4]screen{
	{15, [3]float64{0.95, 0.25, 0.08}},                      // cyan
	{75, [3]float64{0.08, 0.92, 0.3}},                       // magenta
	{0, [3]float64{0.02, 0.07, 0.9}},                        // yellow
	{45, [3]float64{halftoneInk, halftoneInk, halftoneInk}}, // black
}

// halftone renders img as CMYK dot screens on white paper: lines cells per image height, each ink
// a rotated grid of round dots whose area is that ink's coverage (anti-aliased over about a pixel).
func halftone(img *image.RGBA, lines float64) *image.RGBA {
	b := img.Bounds()
	period := float64(b.Dy()) / lines
	thresholds := dotThresholds()
	edge := math.Pi / period // spot-function change over about one pixel at a dot's edge
	type rot struct{ c, s float64 }
	var rots [4]rot
	for k, sc := range inkScreens {
		a := sc.angleDeg * math.Pi / 180
		rots[k] = rot{math.Cos(a), math.Sin(a)}
	}
	w := 2 * math.Pi / period
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		fy := float64(y) + 0.5
		for x := range b.Dx() {
			fx := float64(x) + 0.5
			i := img.PixOffset(b.Min.X+x, b.Min.Y+y)
			r, g, bl := float64(img.Pix[i])/255, float64(img.Pix[i+1])/255, float64(img.Pix[i+2])/255
			cov := cmyk(r, g, bl)
			refl := [3]float64{1, 1, 1}
			for k := range inkScreens {
				if cov[k] <= 0 {
					continue
				}
				u := fx*rots[k].c + fy*rots[k].s
				v := -fx*rots[k].s + fy*rots[k].c
				spot := (math.Cos(w*u) + math.Cos(w*v)) / 2
				t := thresholds[int(math.Round(cov[k]*255))]
				ink := min(max((spot-t)/edge+0.5, 0), 1)
				for c := range refl {
					refl[c] *= 1 - ink*inkScreens[k].absorb[c]
				}
			}
			j := out.PixOffset(x, y)
			out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = clamp8(refl[0]*255), clamp8(refl[1]*255), clamp8(refl[2]*255), 255
		}
	}
	return out
}

// cmyk splits a colour into ink coverages with full under-colour removal.
func cmyk(r, g, b float64) [4]float64 {
	k := 1 - max(r, g, b)
	if k >= 1 {
		return [4]float64{0, 0, 0, 1}
	}
	return [4]float64{(1 - r - k) / (1 - k), (1 - g - k) / (1 - k), (1 - b - k) / (1 - k), k}
}

// dotThresholds maps a coverage v/255 to the threshold t for which the area of a cell where the
// spot function (cos 2πx + cos 2πy)/2 exceeds t is v/255, so halftoning keeps the tone.
func dotThresholds() *[256]float64 {
	const grid, steps = 64, 512
	// area[j]: fraction of the cell above threshold tj = 1 - 2j/steps (decreasing t, increasing area).
	var spots [grid * grid]float64
	for y := range grid {
		for x := range grid {
			fx, fy := (float64(x)+0.5)/grid, (float64(y)+0.5)/grid
			spots[y*grid+x] = (math.Cos(2*math.Pi*fx) + math.Cos(2*math.Pi*fy)) / 2
		}
	}
	area := make([]float64, steps+1)
	for j := range area {
		t := 1 - 2*float64(j)/steps
		n := 0
		for _, s := range spots {
			if s > t {
				n++
			}
		}
		area[j] = float64(n) / float64(len(spots))
	}
	var th [256]float64
	j := 0
	for v := range th {
		want := float64(v) / 255
		for j < steps && area[j+1] < want {
			j++
		}
		// Interpolate between steps j and j+1.
		t0, t1 := 1-2*float64(j)/steps, 1-2*float64(min(j+1, steps))/steps
		a0, a1 := area[j], area[min(j+1, steps)]
		f := 0.0
		if a1 > a0 {
			f = min(max((want-a0)/(a1-a0), 0), 1)
		}
		th[v] = t0 + f*(t1-t0)
	}
	th[0] = 1.01    // no ink at all
	th[255] = -1.01 // solid
	return &th
}

// paperTexture modulates the paper's brightness in place: slow blotches (two octaves of smooth value
// noise) and fine per-pixel grain, with strength s (1 typical), seeded by seed.
func paperTexture(paper *image.RGBA, s float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xbb67ae8584caa73b))
	b := paper.Bounds()
	w, h := b.Dx(), b.Dy()
	coarse := newValueNoise(rng, 5, w, h)
	medium := newValueNoise(rng, 17, w, h)
	for y := range h {
		for x := range w {
			m := 1 + s*(0.03*coarse.at(x, y)+0.015*medium.at(x, y)+0.018*rng.NormFloat64())
			i := paper.PixOffset(b.Min.X+x, b.Min.Y+y)
			for c := range 3 {
				paper.Pix[i+c] = clamp8(float64(paper.Pix[i+c]) * m)
			}
		}
	}
}

// valueNoise is smooth noise in about [-1, 1]: random values on a grid of cells across the image,
// interpolated with a smoothstep.
type valueNoise struct {
	gw, gh int
	sx, sy float64 // grid cells per pixel
	v      []float64
}

func newValueNoise(rng *rand.Rand, cells, w, h int) valueNoise {
	side := float64(max(w, h)) / float64(cells)
	n := valueNoise{sx: 1 / side, sy: 1 / side}
	n.gw, n.gh = int(float64(w)/side)+2, int(float64(h)/side)+2
	n.v = make([]float64, n.gw*n.gh)
	for i := range n.v {
		n.v[i] = 2*rng.Float64() - 1
	}
	return n
}

func (n valueNoise) at(x, y int) float64 {
	gx, gy := float64(x)*n.sx, float64(y)*n.sy
	ix, iy := int(gx), int(gy)
	fx, fy := smoothstep(gx-float64(ix)), smoothstep(gy-float64(iy))
	ix, iy = min(ix, n.gw-2), min(iy, n.gh-2)
	v00, v10 := n.v[iy*n.gw+ix], n.v[iy*n.gw+ix+1]
	v01, v11 := n.v[(iy+1)*n.gw+ix], n.v[(iy+1)*n.gw+ix+1]
	return (v00*(1-fx)+v10*fx)*(1-fy) + (v01*(1-fx)+v11*fx)*fy
}

func smoothstep(t float64) float64 { return t * t * (3 - 2*t) }

func clamp8(v float64) uint8 {
	return uint8(min(max(math.Round(v), 0), 255))
}
