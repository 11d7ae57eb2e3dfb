package liveness

import (
	"image"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"
)

// TestApproxBiLinearMatchesXImage: the fast scaler gives the bytes x/image/draw gives, on random
// pictures, sizes and placements (sub-images included), up- and downscaling.
func TestApproxBiLinearMatchesXImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randRGBA := func(r image.Rectangle) *image.RGBA {
		img := image.NewRGBA(r)
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.IntN(256))
		}
		return img
	}
	for n := range 400 {
		src := randRGBA(image.Rect(rng.IntN(5), rng.IntN(5), 20+rng.IntN(300), 20+rng.IntN(300)))
		if n%3 == 0 {
			src = src.SubImage(image.Rect(src.Rect.Min.X+3, src.Rect.Min.Y+2, src.Rect.Max.X-1, src.Rect.Max.Y)).(*image.RGBA)
		}
		sb := src.Rect
		x0, y0 := sb.Min.X+rng.IntN(sb.Dx()/2), sb.Min.Y+rng.IntN(sb.Dy()/2)
		sr := image.Rect(x0, y0, x0+1+rng.IntN(sb.Max.X-x0), y0+1+rng.IntN(sb.Max.Y-y0))
		dst := image.Rect(0, 0, 1+rng.IntN(330), 1+rng.IntN(250))
		d0, d1 := randRGBA(dst), image.NewRGBA(dst)
		copy(d1.Pix, d0.Pix)
		dx0, dy0 := rng.IntN(dst.Dx()), rng.IntN(dst.Dy())
		dr := image.Rect(dx0, dy0, dx0+1+rng.IntN(dst.Dx()-dx0), dy0+1+rng.IntN(dst.Dy()-dy0))
		draw.ApproxBiLinear.Scale(d0, dr, src, sr, draw.Src, nil)
		approxBiLinear(d1, dr, src, sr)
		for i := range d0.Pix {
			if d0.Pix[i] != d1.Pix[i] {
				t.Fatalf("case %d: %v of %v into %v of %v: byte %d is %d, x/image/draw gives %d", n, sr, src.Rect, dr, dst, i, d1.Pix[i], d0.Pix[i])
			}
		}
	}
}

func BenchmarkApproxBiLinear(b *testing.B) {
	src := image.NewRGBA(image.Rect(0, 0, 720, 404))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	dst := image.NewRGBA(image.Rect(0, 0, detW, detH))
	r := letterbox(720, 404, 1).r
	b.Run("x-image", func(b *testing.B) {
		for b.Loop() {
			draw.ApproxBiLinear.Scale(dst, r, src, src.Rect, draw.Src, nil)
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			approxBiLinear(dst, r, src, src.Rect)
		}
	})
}

// TestPlanesTable: the table path of planes gives the floats of the per-pixel formula, for every
// normalisation the models use.
func TestPlanesTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	img := image.NewRGBA(image.Rect(0, 0, 97, 61))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for _, c := range []struct {
		order     [3]int
		div       float64
		mean, std [3]float64
	}{
		{[3]int{2, 1, 0}, 1, [3]float64{127, 127, 127}, [3]float64{128, 128, 128}},
		{[3]int{2, 1, 0}, 1, [3]float64{}, [3]float64{1, 1, 1}},
		{[3]int{2, 1, 0}, 255, [3]float64{0.485, 0.456, 0.406}, [3]float64{0.229, 0.224, 0.225}},
		{[3]int{0, 1, 2}, 255, [3]float64{}, [3]float64{1, 1, 1}},
	} {
		n := 3 * 97 * 61
		got, want := make([]float32, n), make([]float32, n)
		planes(img, c.order, c.div, c.mean, c.std, got)
		planesDirect(img, c.order, c.div, c.mean, c.std, want)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: value %d is %v, the formula gives %v", c, i, got[i], want[i])
			}
		}
	}
}
