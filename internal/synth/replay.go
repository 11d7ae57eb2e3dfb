package synth

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// ReplayOptions configures ReplayAttackFrames. Zero fields take their defaults.
type ReplayOptions struct {
	Width, Height int     // output video size, default 640x480
	FPS           int     // default 25
	Seconds       float64 // default 4
	Seed          uint64  // deterministic motion, glare path and background noise
	// ContentFPS is the frame rate of the content frames (a recorded video being replayed). 0 means
	// FPS: content frame i is shown in output frame i.
	ContentFPS float64
	// Tilt is the maximum perspective tilt of the device, as in PrintOptions. 0: none.
	Tilt float64
	// Background is a flat wall colour; the zero value selects the default grey wall.
	Background color.RGBA
	// PixelPitch is the size of one screen pixel in frame pixels at nominal distance, default 1.25.
	// Each screen pixel is drawn as 3x3 texels (red, green and blue stripes over a dark row), so the
	// stripes are finer than the camera's pixels and alias into moire; a non-integer pitch and the
	// device's rotation make that moire move.
	PixelPitch float64
	// Grid is the visibility of the sub-pixel structure, default 0.35; negative: none (a flat screen).
	Grid float64
	// Gamma is the display-and-camera gamma applied to the content, default 1.15 (darker midtones).
	Gamma float64
	// Glare is the peak brightness of the specular glare as a fraction of white, default 0.3;
	// negative: none.
	Glare float64
	// Bezel is the width of the dark device border as a fraction of the screen's short side, default
	// 0.07; negative: none.
	Bezel float64
}

// Replay geometry and display constants.
const (
	deviceHeightFrac = 0.68 // device height / frame height at nominal scale
	deviceWidthFrac  = 0.88 // cap on device width / frame width at nominal scale
	subTexels        = 3    // texels per screen pixel in each direction
	cornerFrac       = 0.07 // device corner radius / the device's short side
	cameraSubsamples = 3    // samples per camera pixel in each direction
)

var (
	screenWhite = [3]float64{0.87, 0.93, 1.0}  // bluish white point
	screenBlack = [3]float64{0.06, 0.07, 0.10} // lifted, bluish black (glass reflection)
	bezelColour = [3]float64{16, 16, 19}
	rimColour   = [3]float64{48, 48, 54}
	glareColour = [3]float64{1, 0.98, 0.94}
)

func (o ReplayOptions) withDefaults() ReplayOptions {
	clipDefaults(&o.Width, &o.Height, &o.FPS, &o.Seconds)
	if o.ContentFPS <= 0 {
		o.ContentFPS = float64(o.FPS)
	}
	if o.Tilt < 0 {
		o.Tilt = -o.Tilt
	}
	if o.PixelPitch <= 0 {
		o.PixelPitch = 1.25
	}
	if o.Grid == 0 {
		o.Grid = 0.35
	} else if o.Grid < 0 {
		o.Grid = 0
	}
	o.Grid = min(o.Grid, 1)
	if o.Gamma <= 0 {
		o.Gamma = 1.15
	}
	if o.Glare == 0 {
		o.Glare = 0.3
	} else if o.Glare < 0 {
		o.Glare = 0
	}
	if o.Bezel == 0 {
		o.Bezel = 0.07
	} else if o.Bezel < 0 {
		o.Bezel = 0
	}
	return o
}

// FrameCount is the number of frames ReplayAttackFrames renders for o: round(FPS*Seconds), at least 1.
func (o ReplayOptions) FrameCount() int {
	o = o.withDefaults()
	return max(int(math.Round(float64(o.FPS)*o.Seconds)), 1)
}

// ReplayAttackFrames renders the frames of a screen replaying content, filmed by a webcam while held
// in the hand. content is either one still photo, shown throughout, or the frames of a recorded
// video at o.ContentFPS, shown in turn (and from the start again if the video is shorter than the
// output). All content frames are fitted to the screen, whose aspect is that of content[0]. The
// result depends only on content and o (Seed included). It returns nil when content is empty.
func ReplayAttackFrames(content []image.Image, o ReplayOptions) []*image.RGBA {
	if len(content) == 0 {
		return nil
	}
	o = o.withDefaults()
	n := o.FrameCount()
	rng := rand.New(rand.NewPCG(o.Seed, 0x3c6ef372fe94f82b))
	dev := newDevice(content[0].Bounds(), o)

	W, H := float64(o.Width), float64(o.Height)
	hand := newHandheld(rng, o.Tilt, W, H, o.PixelPitch/subTexels)
	gl := newGlarePath(rng)
	bg := makeBackground(PrintOptions{Width: o.Width, Height: o.Height, Seed: o.Seed, Background: o.Background})

	// The poses and the content shown are decided in order (the jitter is a sequence); the frames
	// are then rendered in parallel, each from its own inputs only, so the result is the same.
	poses := make([]pose, n)
	shows := make([]int, n)
	screens := make(map[int]*image.RGBA)
	for i := range n {
		t := float64(i) / float64(o.FPS)
		poses[i] = hand.next(t)
		k := int(math.Floor(t*o.ContentFPS+1e-9)) % len(content)
		shows[i] = k
		if screens[k] == nil {
			screens[k] = resize(toRGBA(content[k]), dev.sw, dev.sh)
		}
	}

	frames := make([]*image.RGBA, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tex := image.NewRGBA(dev.tmpl.Bounds())
			tw, th := float64(tex.Bounds().Dx()), float64(tex.Bounds().Dy())
			for i := range next {
				copy(tex.Pix, dev.tmpl.Pix)
				dev.drawScreen(tex, screens[shows[i]], o)
				if o.Glare > 0 {
					gl.draw(tex, float64(i)/float64(o.FPS), o.Glare)
				}
				dst := image.NewRGBA(image.Rect(0, 0, o.Width, o.Height))
				copy(dst.Pix, bg.Pix)
				// Each camera pixel averages the screen over its area (the x/image/draw kernels
				// would blur more, point sampling would alias far more than a sensor does): the
				// sub-pixel stripes, finer than the camera's pixels, leave moire bands.
				warpArea(dst, tex, poses[i].homography(tw, th), cameraSubsamples)
				cameraBlur(dst)
				frames[i] = dst
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return frames
}

// ReplayAttackVideo renders ReplayAttackFrames(content, o) and encodes them with EncodeVideo at o's
// frame rate into an mp4 at path.
func ReplayAttackVideo(ctx context.Context, ffmpeg string, content []image.Image, o ReplayOptions, path string) error {
	if len(content) == 0 {
		return errors.New("synth: ReplayAttackVideo: no content frames")
	}
	o = o.withDefaults()
	return EncodeVideo(ctx, ffmpeg, ReplayAttackFrames(content, o), o.FPS, path)
}

// device is the phone or tablet: a texture of subTexels texels per screen pixel, premultiplied,
// transparent outside its rounded outline, with the screen at (x0, y0) of sw x sh screen pixels.
type device struct {
	tmpl           *image.RGBA
	sw, sh, x0, y0 int
	lut            [3][256]float64 // display transfer per channel, 0..255
}

// newDevice sizes the screen so the device takes deviceHeightFrac of the frame height (or
// deviceWidthFrac of its width) at the nominal pitch, and draws the static bezel.
func newDevice(content image.Rectangle, o ReplayOptions) *device {
	aspect := float64(max(content.Dx(), 1)) / float64(max(content.Dy(), 1))
	short := min(aspect, 1) // screen short side / screen height
	bz := o.Bezel * short   // bezel / screen height
	W, H := float64(o.Width), float64(o.Height)
	sh := deviceHeightFrac * H / (o.PixelPitch * (1 + 2*bz))
	sh = min(sh, deviceWidthFrac*W/(o.PixelPitch*(aspect+2*bz)))
	d := &device{sh: max(int(sh), 8)}
	d.sw = max(int(math.Round(aspect*float64(d.sh))), 8)
	bezel := int(math.Round(bz * float64(d.sh) * subTexels))
	d.x0, d.y0 = bezel, bezel
	tw, th := d.sw*subTexels+2*bezel, d.sh*subTexels+2*bezel
	d.tmpl = image.NewRGBA(image.Rect(0, 0, tw, th))

	radius := 0.0
	if bezel > 0 {
		radius = cornerFrac * float64(min(tw, th))
	}
	rim := 2.5 // texels of lighter edge
	for y := range th {
		for x := range tw {
			dist := roundedRectDist(float64(x)+0.5, float64(y)+0.5, float64(tw), float64(th), radius) // < 0 inside
			a := min(max(0.5-dist, 0), 1)
			if a == 0 {
				continue
			}
			f := min(max((-dist)/rim, 0), 1) // 0 at the edge, 1 inside the rim
			i := d.tmpl.PixOffset(x, y)
			for c := range 3 {
				v := rimColour[c]*(1-f) + bezelColour[c]*f
				d.tmpl.Pix[i+c] = clamp8(v * a)
			}
			d.tmpl.Pix[i+3] = clamp8(255 * a)
		}
	}
	// A front camera in the middle of the top bezel.
	if bezel >= 4 {
		cx, cy, r := float64(tw)/2, float64(bezel)/2, float64(bezel)*0.22
		for y := int(cy - r - 1); y <= int(cy+r+1); y++ {
			for x := int(cx - r - 1); x <= int(cx+r+1); x++ {
				a := min(max(r+0.5-math.Hypot(float64(x)+0.5-cx, float64(y)+0.5-cy), 0), 1)
				i := d.tmpl.PixOffset(x, y)
				for c, v := range [3]float64{34, 36, 46} {
					d.tmpl.Pix[i+c] = clamp8(float64(d.tmpl.Pix[i+c])*(1-a) + v*a)
				}
			}
		}
	}
	for c := range 3 {
		for v := range 256 {
			x := math.Pow(float64(v)/255, o.Gamma)
			d.lut[c][v] = 255 * (screenBlack[c] + (screenWhite[c]-screenBlack[c])*x)
		}
	}
	return d
}

// roundedRectDist is the signed distance from (x, y) to the outline of the rectangle [0,w]x[0,h]
// with corners rounded to radius r: negative inside.
func roundedRectDist(x, y, w, h, r float64) float64 {
	qx := math.Abs(x-w/2) - (w/2 - r)
	qy := math.Abs(y-h/2) - (h/2 - r)
	out := math.Hypot(max(qx, 0), max(qy, 0))
	return out + min(max(qx, qy), 0) - r
}

// drawScreen fills the screen area of tex from the screen pixels pix (sw x sh): each goes through
// the display transfer and becomes a 3x3 block of texels, one column per primary (the stripe shows
// by o.Grid) and a darker bottom row (the black matrix between pixel rows); the block's mean is kept
// where nothing clips.
func (d *device) drawScreen(tex, pix *image.RGBA, o ReplayOptions) {
	g := o.Grid
	var colGain [subTexels][3]float64 // [sub-column][channel]
	for j := range subTexels {
		for c := range 3 {
			colGain[j][c] = 1 - g
			if j == c {
				colGain[j][c] = 1 + 2*g
			}
		}
	}
	rowGain := [subTexels]float64{1 + 0.25*g, 1 + 0.25*g, 1 - 0.5*g}
	for sy := range d.sh {
		for sx := range d.sw {
			s := pix.PixOffset(sx, sy)
			var v [3]float64
			for c := range 3 {
				v[c] = d.lut[c][pix.Pix[s+c]]
			}
			for ry := range subTexels {
				ty := d.y0 + sy*subTexels + ry
				row := tex.Pix[ty*tex.Stride:]
				for j := range subTexels {
					tx := d.x0 + sx*subTexels + j
					p := row[4*tx : 4*tx+4 : 4*tx+4]
					for c := range 3 {
						p[c] = clamp8(v[c] * colGain[j][c] * rowGain[ry])
					}
					p[3] = 255
				}
			}
		}
	}
}

// glarePath moves a soft specular highlight over the device: its centre (in fractions of the
// device's size) and angle drift smoothly.
type glarePath struct {
	x, y, angle sinePath
	base        float64 // mean angle, radians
}

func newGlarePath(rng *rand.Rand) glarePath {
	return glarePath{
		x:     newSinePath(rng, 0.3),
		y:     newSinePath(rng, 0.22),
		angle: newSinePath(rng, 0.25),
		base:  (rng.Float64() - 0.5) * 1.2,
	}
}

// draw adds the glare at time t to the premultiplied tex, where the device is (alpha > 0).
func (g glarePath) draw(tex *image.RGBA, t, strength float64) {
	b := tex.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	cx, cy := w*(0.5+g.x.at(t)), h*(0.38+g.y.at(t))
	rx, ry := 0.24*w, 0.11*w
	th := g.base + g.angle.at(t)
	cs, sn := math.Cos(th), math.Sin(th)
	const reach = 3.0 // in radii: beyond, the glare is below 1/255 of white
	ext := reach * rx
	x0, x1 := max(int(cx-ext), 0), min(int(cx+ext)+1, b.Dx())
	y0, y1 := max(int(cy-ext), 0), min(int(cy+ext)+1, b.Dy())
	for y := y0; y < y1; y++ {
		row := tex.Pix[y*tex.Stride:]
		for x := x0; x < x1; x++ {
			p := row[4*x : 4*x+4 : 4*x+4]
			if p[3] == 0 {
				continue
			}
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			u, v := (dx*cs+dy*sn)/rx, (-dx*sn+dy*cs)/ry
			d2 := u*u + v*v
			if d2 > reach*reach {
				continue
			}
			// A broad sheen with a brighter core.
			add := 255 * strength * (0.7*math.Exp(-1.5*d2) + 0.5*math.Exp(-7*d2))
			a := float64(p[3]) / 255
			for c := range 3 {
				p[c] = clamp8(float64(p[c]) + add*glareColour[c]*a)
			}
		}
	}
}

// cameraBlur softens img in place with the separable kernel [1 2 1]/4 in each direction (edges
// clamped): the camera's lens and sensor blur, which tempers the aliasing of the pixel grid into
// softer moire bands.
func cameraBlur(img *image.RGBA) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 2 || h < 2 {
		return
	}
	tmp := make([]uint16, 3*w*h) // horizontal pass, scaled by 4
	for y := range h {
		row := img.Pix[(b.Min.Y+y)*img.Stride+4*b.Min.X:]
		for x := range w {
			l, r := max(x-1, 0), min(x+1, w-1)
			for c := range 3 {
				tmp[3*(y*w+x)+c] = uint16(row[4*l+c]) + 2*uint16(row[4*x+c]) + uint16(row[4*r+c])
			}
		}
	}
	for y := range h {
		u, d := max(y-1, 0), min(y+1, h-1)
		row := img.Pix[(b.Min.Y+y)*img.Stride+4*b.Min.X:]
		for x := range w {
			for c := range 3 {
				v := uint32(tmp[3*(u*w+x)+c]) + 2*uint32(tmp[3*(y*w+x)+c]) + uint32(tmp[3*(d*w+x)+c])
				row[4*x+c] = uint8((v + 8) / 16)
			}
		}
	}
}

// warpArea draws src (premultiplied) onto dst through the homography h (src -> frame), each frame
// pixel the mean of ss x ss bilinear samples spread over its area; samples outside src count as
// transparent, which also anti-aliases the outline.
func warpArea(dst, src *image.RGBA, h mat3, ss int) {
	inv, ok := h.inverse()
	if !ok {
		return
	}
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	fw, fh := float64(sw), float64(sh)
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [4][2]float64{{0, 0}, {fw, 0}, {0, fh}, {fw, fh}} {
		x, y, w := h.apply(c[0], c[1])
		if w <= 0 {
			return
		}
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
	}
	r := image.Rect(int(math.Floor(x0))-1, int(math.Floor(y0))-1, int(math.Ceil(x1))+1, int(math.Ceil(y1))+1).
		Intersect(dst.Bounds())
	wgt := 1 / float64(ss*ss)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			var acc [4]float64
			for sy := range ss {
				for sx := range ss {
					u, v, _ := inv.apply(float64(x)+(float64(sx)+0.5)/float64(ss), float64(y)+(float64(sy)+0.5)/float64(ss))
					if u < 0 || v < 0 || u > fw || v > fh {
						continue
					}
					r, g, b, a := bilinear(src, u-0.5, v-0.5, sw, sh)
					acc[0] += r
					acc[1] += g
					acc[2] += b
					acc[3] += a
				}
			}
			if acc[3] == 0 {
				continue
			}
			a := acc[3] * wgt / 255
			i := dst.PixOffset(x, y)
			p := dst.Pix[i : i+4 : i+4]
			for c := range 3 {
				p[c] = blendPremul(p[c], acc[c]*wgt, a)
			}
			p[3] = 255
		}
	}
}
