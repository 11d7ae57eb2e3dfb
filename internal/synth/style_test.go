package synth

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"testing"
)

// meanChroma is the mean of max(R,G,B)-min(R,G,B) over img, in 0..255.
func meanChroma(img *image.RGBA) float64 {
	var sum float64
	n := 0
	for i := 0; i+3 < len(img.Pix); i += 4 {
		p := img.Pix[i : i+3]
		sum += float64(max(p[0], p[1], p[2]) - min(p[0], p[1], p[2]))
		n++
	}
	return sum / float64(n)
}

// luma is the Rec. 601 luma of the pixel at byte offset i.
func luma(img *image.RGBA, i int) float64 {
	return 0.299*float64(img.Pix[i]) + 0.587*float64(img.Pix[i+1]) + 0.114*float64(img.Pix[i+2])
}

// highFreqEnergy is the mean squared 4-neighbour Laplacian of the luma over the interior of r.
func highFreqEnergy(img *image.RGBA, r image.Rectangle) float64 {
	var sum float64
	n := 0
	for y := r.Min.Y + 1; y < r.Max.Y-1; y++ {
		for x := r.Min.X + 1; x < r.Max.X-1; x++ {
			c := luma(img, img.PixOffset(x, y))
			l := 4*c - luma(img, img.PixOffset(x-1, y)) - luma(img, img.PixOffset(x+1, y)) -
				luma(img, img.PixOffset(x, y-1)) - luma(img, img.PixOffset(x, y+1))
			sum += l * l
			n++
		}
	}
	return sum / float64(n)
}

func TestGamutReducesSaturationAndRange(t *testing.T) {
	orig := testPhoto()
	reduced := toRGBA(orig)
	reduceGamut(reduced, 1)
	c0, c1 := meanChroma(orig), meanChroma(reduced)
	t.Logf("mean chroma %.1f -> %.1f", c0, c1)
	if c1 > 0.85*c0 {
		t.Errorf("mean chroma %.1f -> %.1f: want at least 15%% less", c0, c1)
	}
	// White becomes a warm paper white, black an ink black.
	bw := image.NewRGBA(image.Rect(0, 0, 2, 1))
	bw.SetRGBA(0, 0, color.RGBA{255, 255, 255, 255})
	bw.SetRGBA(1, 0, color.RGBA{0, 0, 0, 255})
	reduceGamut(bw, 1)
	w, k := bw.RGBAAt(0, 0), bw.RGBAAt(1, 0)
	t.Logf("white -> %v, black -> %v", w, k)
	if w.R == 255 || w.B >= w.R || w.B < 200 {
		t.Errorf("white -> %v: want below 255 and warm (blue lowest)", w)
	}
	if k.R < 10 || k.R > 40 {
		t.Errorf("black -> %v: want lifted to an ink black (10..40)", k)
	}
}

func TestHalftoneKeepsToneAndMakesDots(t *testing.T) {
	// A grey ramp: only black ink, whose dots must cover the right area on average.
	const w, h = 240, 160
	ramp := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(255 * x / (w - 1))
			ramp.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	ht := halftone(ramp, 20) // 8 px cells
	for _, band := range [][2]int{{40, 80}, {100, 140}, {160, 200}} {
		var in, out float64
		n := 0
		for y := range h {
			for x := band[0]; x < band[1]; x++ {
				i := ramp.PixOffset(x, y)
				in += luma(ramp, i) / 255
				out += luma(ht, i) / 255
				n++
			}
		}
		in, out = in/float64(n), out/float64(n)
		// Full black ink reflects 1-halftoneInk, so the tone maps to 1 - halftoneInk*(1-in).
		want := 1 - halftoneInk*(1-in)
		t.Logf("columns %v: tone %.3f -> %.3f (want %.3f)", band, in, out, want)
		if math.Abs(out-want) > 0.04 {
			t.Errorf("columns %v: halftoned tone %.3f, want %.3f", band, out, want)
		}
	}
	// The dots are nearly binary: most pixels are paper or ink, few are in between.
	mid := 0
	for y := range h {
		for x := 100; x < 140; x++ {
			if l := luma(ht, ht.PixOffset(x, y)); l > 60 && l < 200 {
				mid++
			}
		}
	}
	if frac := float64(mid) / float64(h*40); frac > 0.45 {
		t.Errorf("%.2f of the mid-grey pixels are mid-grey after halftoning: no dots", frac)
	}
}

func TestHalftoneRaisesHighFrequencyEnergyInFrames(t *testing.T) {
	base := PrintOptions{Width: 320, Height: 240, FPS: 10, Seconds: 0.5, Seed: 4, Background: color.RGBA{90, 90, 90, 255}}
	plain, dotted := base, base
	plain.Style = PrintStyle{Gamut: 1}
	dotted.Style = PrintStyle{Gamut: 1, HalftoneLines: 60}
	a, b := PrintAttackFrames(testPhoto(), plain), PrintAttackFrames(testPhoto(), dotted)
	r := image.Rect(100, 70, 220, 170) // inside the paper in every frame of this short clip
	ea, eb := highFreqEnergy(a[2], r), highFreqEnergy(b[2], r)
	t.Logf("high-frequency energy: plain %.1f, halftone %.1f", ea, eb)
	if eb < 5*ea || eb < 50 {
		t.Errorf("halftone high-frequency energy %.1f vs plain %.1f: want much more", eb, ea)
	}
}

func TestPaperTexture(t *testing.T) {
	flat := image.NewRGBA(image.Rect(0, 0, 300, 400))
	for i := range flat.Pix {
		flat.Pix[i] = 200
	}
	std := func(img *image.RGBA) float64 {
		var s, s2 float64
		n := 0
		for i := 0; i < len(img.Pix); i += 4 {
			v := luma(img, i)
			s += v
			s2 += v * v
			n++
		}
		m := s / float64(n)
		return math.Sqrt(s2/float64(n) - m*m)
	}
	a, b, c := toRGBA(flat), toRGBA(flat), toRGBA(flat)
	paperTexture(a, 1, 1)
	paperTexture(b, 1, 1)
	paperTexture(c, 1, 2)
	t.Logf("luma std: flat %.2f, textured %.2f", std(flat), std(a))
	if s := std(a); s < 2 || s > 15 {
		t.Errorf("textured paper luma std %.2f, want 2..15", s)
	}
	if !bytes.Equal(a.Pix, b.Pix) || bytes.Equal(a.Pix, c.Pix) {
		t.Error("paper texture is not deterministic by seed")
	}
	// The texture has slow blotches, not only per-pixel grain: 8x8 block means still vary.
	var means []float64
	for by := 0; by+8 <= 400; by += 8 {
		for bx := 0; bx+8 <= 300; bx += 8 {
			var s float64
			for y := by; y < by+8; y++ {
				for x := bx; x < bx+8; x++ {
					s += luma(a, a.PixOffset(x, y))
				}
			}
			means = append(means, s/64)
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, m := range means {
		lo, hi = min(lo, m), max(hi, m)
	}
	t.Logf("8x8 block means range %.1f..%.1f", lo, hi)
	if hi-lo < 6 {
		t.Errorf("8x8 block means span only %.1f: no low-frequency texture", hi-lo)
	}
}

func TestStyledPrint(t *testing.T) {
	// The zero style is the plain print.
	o := PrintOptions{Width: 320, Height: 240}.withDefaults()
	if !bytes.Equal(stylePaper(testPhoto(), o).Pix, makePaper(testPhoto(), o.PaperMargin).Pix) {
		t.Error("zero PrintStyle changes the paper")
	}
	// A styled print: same frame count and size, deterministic by seed, and duller than the plain one.
	o = PrintOptions{Width: 320, Height: 240, FPS: 10, Seconds: 1, Seed: 9, Tilt: 0.04, Style: DefaultPrintStyle()}
	a, b := PrintAttackFrames(testPhoto(), o), PrintAttackFrames(testPhoto(), o)
	if len(a) != 10 || a[0].Bounds() != image.Rect(0, 0, 320, 240) {
		t.Fatalf("%d frames of %v, want 10 of 320x240", len(a), a[0].Bounds())
	}
	for i := range a {
		if !bytes.Equal(a[i].Pix, b[i].Pix) {
			t.Fatalf("frame %d differs between runs with the same seed", i)
		}
	}
	o.Seed = 10
	if c := PrintAttackFrames(testPhoto(), o); bytes.Equal(a[5].Pix, c[5].Pix) {
		t.Error("seeds 9 and 10 give the same frame")
	}
	styled := stylePaper(testPhoto(), PrintOptions{Height: 480, PaperMargin: 12, Style: PrintStyle{Gamut: 1, Texture: 1}})
	plain := makePaper(testPhoto(), 12)
	if cs, cp := meanChroma(styled), meanChroma(plain); cs >= cp {
		t.Errorf("styled paper chroma %.1f, plain %.1f: want less", cs, cp)
	}
}
