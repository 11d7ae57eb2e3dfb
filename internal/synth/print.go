// Package synth makes presentation-attack media from real face photos, for tests and development.
// Nothing made here is ever evidence of accuracy: it is synthetic, and only approximates what a
// real attack looks like to a webcam.
//
// The print attack is a flat photo on paper held up to the camera: it moves rigidly in 2-D
// (translation, a small in-plane rotation, scale as it nears and leaves the camera, and optionally a
// mild perspective tilt) over a static background, with hand-held jitter. Optional print artefacts
// (PrintStyle: halftone dots, paper texture, a reduced colour gamut) are applied to the photo first.
//
// The replay attack (ReplayAttackFrames) is a screen showing a photo or a recorded video, filmed by
// the webcam: a device with a dark bezel, its pixel grid aliasing into moire, the display's gamma and
// bluish colour cast and a drifting specular glare, held in the hand with the same motion.
package synth

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// PrintOptions configures PrintAttackFrames. Zero fields take their defaults.
type PrintOptions struct {
	Width, Height int     // output video size, default 640x480
	FPS           int     // default 25
	Seconds       float64 // default 4
	Seed          uint64  // deterministic motion (and background noise)
	// Tilt is the maximum perspective tilt as a fraction, e.g. 0.05: one edge of the paper appears
	// up to that much larger than the opposite one. 0 (the default) is pure similarity motion.
	Tilt float64
	// Background is a flat wall colour. The zero value (alpha 0) selects the default: a mid-grey
	// wall with a little gradient and noise.
	Background color.RGBA
	// PaperMargin is the white paper border around the photo, in pixels of the photo. Default 12;
	// a negative value means no border.
	PaperMargin int
	// Style adds print artefacts (halftone, paper texture, reduced gamut). The zero value adds none
	// and keeps the plain print; DefaultPrintStyle is a typical office print.
	Style PrintStyle
}

// Motion ranges. Amplitudes are maxima: each axis is a weighted sum of sinusoids whose weights add
// up to one, so the smooth path never exceeds them (the jitter adds a little on top).
const (
	paperHeightFrac = 0.62  // printed photo height / frame height at nominal scale
	paperWidthFrac  = 0.85  // cap on printed photo width / frame width at nominal scale
	transAmpMin     = 0.08  // translation amplitude, fraction of the frame dimension
	transAmpMax     = 0.15  //
	rotAmpDeg       = 8.0   // in-plane rotation amplitude
	scaleAmp        = 0.12  // relative scale amplitude
	jitterTrans     = 0.002 // per-frame jitter std-dev, fraction of frame height
	jitterRotDeg    = 0.15  // per-frame jitter std-dev, degrees
	jitterScale     = 0.003 // per-frame jitter std-dev, relative scale
	jitterKeep      = 0.6   // AR(1) coefficient: jitter is slightly correlated frame to frame
	printContrast   = 0.86  // contrast compression of the print about mid-grey
	printBrightness = 0.93  // brightness reduction of the print
)

// clipDefaults fills an attack clip's size (640x480), frame rate (25) and length (4 s) where unset.
func clipDefaults(width, height, fps *int, seconds *float64) {
	if *width <= 0 {
		*width = 640
	}
	if *height <= 0 {
		*height = 480
	}
	if *fps <= 0 {
		*fps = 25
	}
	if *seconds <= 0 {
		*seconds = 4
	}
}

func (o PrintOptions) withDefaults() PrintOptions {
	clipDefaults(&o.Width, &o.Height, &o.FPS, &o.Seconds)
	if o.PaperMargin == 0 {
		o.PaperMargin = 12
	} else if o.PaperMargin < 0 {
		o.PaperMargin = 0
	}
	if o.Tilt < 0 {
		o.Tilt = -o.Tilt
	}
	return o
}

// FrameCount is the number of frames PrintAttackFrames renders for o: round(FPS*Seconds), at least 1.
func (o PrintOptions) FrameCount() int {
	o = o.withDefaults()
	n := int(math.Round(float64(o.FPS) * o.Seconds))
	return max(n, 1)
}

// PrintAttackFrames renders the frames of a printed photo held up to a camera. The result depends
// only on photo and o (Seed included), so it is deterministic.
func PrintAttackFrames(photo image.Image, o PrintOptions) []*image.RGBA {
	o = o.withDefaults()
	n := o.FrameCount()
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))

	paper := stylePaper(photo, o)
	pw, ph := float64(paper.Bounds().Dx()), float64(paper.Bounds().Dy())
	W, H := float64(o.Width), float64(o.Height)
	base := paperHeightFrac * H / ph
	if pw*base > paperWidthFrac*W {
		base = paperWidthFrac * W / pw
	}

	hand := newHandheld(rng, o.Tilt, W, H, base)
	bg := makeBackground(o)

	frames := make([]*image.RGBA, n)
	for i := range frames {
		p := hand.next(float64(i) / float64(o.FPS))
		dst := image.NewRGBA(image.Rect(0, 0, o.Width, o.Height))
		copy(dst.Pix, bg.Pix)
		place(dst, paper, p, o.Tilt != 0)
		frames[i] = dst
	}
	return frames
}

// place draws src (premultiplied, possibly with transparent parts) onto dst at pose p: an affine
// bilinear transform, or the perspective warp when perspective is set.
func place(dst, src *image.RGBA, p pose, perspective bool) {
	sw, sh := float64(src.Bounds().Dx()), float64(src.Bounds().Dy())
	if !perspective {
		xdraw.BiLinear.Transform(dst, p.affine(sw, sh), src, src.Bounds(), xdraw.Over, nil)
		return
	}
	warpPerspective(dst, src, p.homography(sw, sh), p.scale)
}

// handheld is the pose of an object held up to the camera, frame after frame: the smooth motion plus
// a slightly correlated per-frame jitter. next must be called once per frame, in order.
type handheld struct {
	path           motion
	rng            *rand.Rand
	w, h, base     float64 // frame size; frame pixels per object pixel at nominal scale
	jx, jy, jr, js float64
}

func newHandheld(rng *rand.Rand, tilt, w, h, base float64) *handheld {
	return &handheld{path: newMotion(rng, tilt), rng: rng, w: w, h: h, base: base}
}

func (m *handheld) next(t float64) pose {
	m.jx = jitterKeep*m.jx + m.rng.NormFloat64()*jitterTrans*m.h
	m.jy = jitterKeep*m.jy + m.rng.NormFloat64()*jitterTrans*m.h
	m.jr = jitterKeep*m.jr + m.rng.NormFloat64()*jitterRotDeg
	m.js = jitterKeep*m.js + m.rng.NormFloat64()*jitterScale
	p := m.path.at(t)
	return pose{
		cx:    m.w/2 + p.dx*m.w + m.jx,
		cy:    m.h/2 + p.dy*m.h + m.jy,
		theta: (p.rot + m.jr) * math.Pi / 180,
		scale: m.base * (1 + p.scale + m.js),
		tiltX: p.tiltX,
		tiltY: p.tiltY,
	}
}

// makePaper lays the photo on white paper with the given border and applies the print's tone:
// slightly duller (contrast compressed about mid-grey) and darker than the original.
func makePaper(photo image.Image, margin int) *image.RGBA {
	b := photo.Bounds()
	paper := image.NewRGBA(image.Rect(0, 0, b.Dx()+2*margin, b.Dy()+2*margin))
	draw.Draw(paper, paper.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(paper, image.Rect(margin, margin, margin+b.Dx(), margin+b.Dy()), photo, b.Min, draw.Over)
	var lut [256]uint8
	for v := range lut {
		x := (128 + (float64(v)-128)*printContrast) * printBrightness
		lut[v] = uint8(math.Round(min(max(x, 0), 255)))
	}
	for i := 0; i < len(paper.Pix); i += 4 {
		paper.Pix[i] = lut[paper.Pix[i]]
		paper.Pix[i+1] = lut[paper.Pix[i+1]]
		paper.Pix[i+2] = lut[paper.Pix[i+2]]
		paper.Pix[i+3] = 255
	}
	return paper
}

// makeBackground is the static scene behind the paper: o.Background if set, else a mid-grey wall
// with a soft lighting gradient and a little fixed noise (drawn from its own stream of o.Seed).
func makeBackground(o PrintOptions) *image.RGBA {
	bg := image.NewRGBA(image.Rect(0, 0, o.Width, o.Height))
	if o.Background.A != 0 {
		c := o.Background
		c.A = 255
		draw.Draw(bg, bg.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
		return bg
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6a09e667f3bcc909))
	// Light from the upper left, falling off towards the lower right.
	gx, gy := 10+6*rng.Float64(), 12+6*rng.Float64()
	for y := range o.Height {
		fy := float64(y)/float64(max(o.Height-1, 1)) - 0.5
		row := bg.Pix[y*bg.Stride:]
		for x := range o.Width {
			fx := float64(x)/float64(max(o.Width-1, 1)) - 0.5
			v := 120 - gx*fx - gy*fy + 2.5*rng.NormFloat64()
			r := min(max(v+2, 0), 255) // a slightly warm grey
			g := min(max(v, 0), 255)
			bl := min(max(v-4, 0), 255)
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = uint8(r), uint8(g), uint8(bl), 255
		}
	}
	return bg
}

// sinePath is a smooth zero-mean signal in [-amp, amp]: a weighted sum of a few low-frequency
// sinusoids (weights sum to one) with seeded frequencies and phases.
type sinePath struct {
	amp   float64
	w     [3]float64
	freq  [3]float64
	phase [3]float64
}

// Frequency bands of the three components, in Hz: a slow drift, a sway, a quicker wobble.
var sineBands = [3][2]float64{{0.08, 0.22}, {0.2, 0.45}, {0.4, 0.8}}

func newSinePath(rng *rand.Rand, amp float64) sinePath {
	s := sinePath{amp: amp}
	var sum float64
	for k := range s.w {
		s.w[k] = 0.3 + rng.Float64()
		sum += s.w[k]
		s.freq[k] = sineBands[k][0] + (sineBands[k][1]-sineBands[k][0])*rng.Float64()
		s.phase[k] = 2 * math.Pi * rng.Float64()
	}
	for k := range s.w {
		s.w[k] /= sum
	}
	return s
}

func (s sinePath) at(t float64) float64 {
	var v float64
	for k := range s.w {
		v += s.w[k] * math.Sin(2*math.Pi*s.freq[k]*t+s.phase[k])
	}
	return s.amp * v
}

// motion is the smooth part of the hand-held path.
type motion struct {
	dx, dy, rot, scale, tiltX, tiltY sinePath
}

type motionSample struct {
	dx, dy float64 // fraction of frame width / height
	rot    float64 // degrees
	scale  float64 // relative change
	tiltX  float64 // perspective tilt fractions
	tiltY  float64
}

func newMotion(rng *rand.Rand, tilt float64) motion {
	amp := func() float64 { return transAmpMin + (transAmpMax-transAmpMin)*rng.Float64() }
	return motion{
		dx:    newSinePath(rng, amp()),
		dy:    newSinePath(rng, amp()),
		rot:   newSinePath(rng, rotAmpDeg),
		scale: newSinePath(rng, scaleAmp),
		tiltX: newSinePath(rng, tilt),
		tiltY: newSinePath(rng, tilt),
	}
}

func (m motion) at(t float64) motionSample {
	return motionSample{
		dx: m.dx.at(t), dy: m.dy.at(t), rot: m.rot.at(t), scale: m.scale.at(t),
		tiltX: m.tiltX.at(t), tiltY: m.tiltY.at(t),
	}
}

// pose places the paper in one frame: its centre at (cx, cy), rotated by theta, scaled by scale
// (frame pixels per paper pixel), with perspective tilts as fractions.
type pose struct {
	cx, cy, theta, scale, tiltX, tiltY float64
}

// affine maps paper coordinates to frame coordinates (no perspective).
func (p pose) affine(pw, ph float64) f64.Aff3 {
	c, s := p.scale*math.Cos(p.theta), p.scale*math.Sin(p.theta)
	u0, v0 := pw/2, ph/2
	return f64.Aff3{
		c, -s, p.cx - c*u0 + s*v0,
		s, c, p.cy - s*u0 - c*v0,
	}
}

// homography maps paper coordinates to frame coordinates: centre the paper, apply the perspective
// [1 0 0; 0 1 0; gx gy 1] (an edge at half-width then has w = 1 ± tiltX), then the similarity.
func (p pose) homography(pw, ph float64) mat3 {
	gx, gy := p.tiltX/(pw/2), p.tiltY/(ph/2)
	center := mat3{1, 0, -pw / 2, 0, 1, -ph / 2, 0, 0, 1}
	persp := mat3{1, 0, 0, 0, 1, 0, gx, gy, 1}
	c, s := p.scale*math.Cos(p.theta), p.scale*math.Sin(p.theta)
	sim := mat3{c, -s, p.cx, s, c, p.cy, 0, 0, 1}
	return sim.mul(persp).mul(center)
}

// mat3 is a row-major 3x3 matrix acting on homogeneous column vectors.
type mat3 [9]float64

func (a mat3) mul(b mat3) mat3 {
	var r mat3
	for i := range 3 {
		for j := range 3 {
			r[3*i+j] = a[3*i]*b[j] + a[3*i+1]*b[3+j] + a[3*i+2]*b[6+j]
		}
	}
	return r
}

func (a mat3) inverse() (mat3, bool) {
	c00 := a[4]*a[8] - a[5]*a[7]
	c01 := a[5]*a[6] - a[3]*a[8]
	c02 := a[3]*a[7] - a[4]*a[6]
	det := a[0]*c00 + a[1]*c01 + a[2]*c02
	if math.Abs(det) < 1e-12 {
		return mat3{}, false
	}
	inv := mat3{
		c00, a[2]*a[7] - a[1]*a[8], a[1]*a[5] - a[2]*a[4],
		c01, a[0]*a[8] - a[2]*a[6], a[2]*a[3] - a[0]*a[5],
		c02, a[1]*a[6] - a[0]*a[7], a[0]*a[4] - a[1]*a[3],
	}
	for i := range inv {
		inv[i] /= det
	}
	return inv, true
}

func (a mat3) apply(x, y float64) (float64, float64, float64) {
	w := a[6]*x + a[7]*y + a[8]
	return (a[0]*x + a[1]*y + a[2]) / w, (a[3]*x + a[4]*y + a[5]) / w, w
}

// warpPerspective draws paper (premultiplied RGBA; transparent parts let dst show) onto dst through the homography h (paper -> frame) by inverse
// mapping every frame pixel centre in the paper's bounding box and sampling bilinearly. The paper's
// edges are anti-aliased with an approximate coverage (scale is frame pixels per paper pixel).
func warpPerspective(dst *image.RGBA, paper *image.RGBA, h mat3, scale float64) {
	inv, ok := h.inverse()
	if !ok {
		return
	}
	pw, ph := paper.Bounds().Dx(), paper.Bounds().Dy()
	fw, fh := float64(pw), float64(ph)
	// Bounding box of the projected corners, one pixel of slack for the anti-aliased edge.
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [4][2]float64{{0, 0}, {fw, 0}, {0, fh}, {fw, fh}} {
		x, y, w := h.apply(c[0], c[1])
		if w <= 0 {
			return // the paper would be behind the camera: never with a mild tilt
		}
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
	}
	r := image.Rect(int(math.Floor(x0))-1, int(math.Floor(y0))-1, int(math.Ceil(x1))+1, int(math.Ceil(y1))+1).
		Intersect(dst.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			u, v, _ := inv.apply(float64(x)+0.5, float64(y)+0.5)
			cov := coverage(u, fw, scale) * coverage(v, fh, scale)
			if cov <= 0 {
				continue
			}
			sr, sg, sb, sa := bilinear(paper, u-0.5, v-0.5, pw, ph)
			i := dst.PixOffset(x, y)
			p := dst.Pix[i : i+4 : i+4]
			if sa >= 254.5 { // opaque
				p[0] = blend(p[0], sr, cov)
				p[1] = blend(p[1], sg, cov)
				p[2] = blend(p[2], sb, cov)
			} else { // premultiplied source over dst
				a := cov * sa / 255
				p[0] = blendPremul(p[0], sr*cov, a)
				p[1] = blendPremul(p[1], sg*cov, a)
				p[2] = blendPremul(p[2], sb*cov, a)
			}
			p[3] = 255
		}
	}
}

// coverage approximates how much of a frame pixel whose centre maps to paper coordinate u lies
// within [0, size]: the distance to the nearer edge in frame pixels, plus one half, clamped to [0, 1].
func coverage(u, size, scale float64) float64 {
	return min(max(min(u, size-u)*scale+0.5, 0), 1)
}

// bilinear samples img at continuous pixel-index coordinates (x, y), clamping at the borders.
func bilinear(img *image.RGBA, x, y float64, w, h int) (r, g, b, a float64) {
	x = min(max(x, 0), float64(w-1))
	y = min(max(y, 0), float64(h-1))
	ix, iy := int(x), int(y)
	fx, fy := x-float64(ix), y-float64(iy)
	ix1, iy1 := min(ix+1, w-1), min(iy+1, h-1)
	p00 := img.Pix[iy*img.Stride+4*ix:]
	p10 := img.Pix[iy*img.Stride+4*ix1:]
	p01 := img.Pix[iy1*img.Stride+4*ix:]
	p11 := img.Pix[iy1*img.Stride+4*ix1:]
	mix := func(c int) float64 {
		top := float64(p00[c])*(1-fx) + float64(p10[c])*fx
		bot := float64(p01[c])*(1-fx) + float64(p11[c])*fx
		return top*(1-fy) + bot*fy
	}
	return mix(0), mix(1), mix(2), mix(3)
}

func blend(under uint8, over, alpha float64) uint8 {
	v := float64(under)*(1-alpha) + over*alpha
	return uint8(min(max(math.Round(v), 0), 255))
}

// blendPremul composites a premultiplied value over under: under*(1-alpha) + over.
func blendPremul(under uint8, over, alpha float64) uint8 {
	v := float64(under)*(1-alpha) + over
	return uint8(min(max(math.Round(v), 0), 255))
}
