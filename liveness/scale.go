package liveness

import (
	"image"

	"golang.org/x/image/draw"
)

// approxBiLinear is draw.ApproxBiLinear.Scale(dst, dr, src, sr, draw.Src, nil) for RGBA images,
// pixel for pixel: the same float64 arithmetic in the same order, with each column's source
// offsets and weights computed once instead of once per pixel. Every frame is scaled to the
// detector's input and cut into the models' crops, so this is the engine's hottest loop outside
// ONNX Runtime. Cases the fast path does not cover (rectangles outside the images, equal sizes)
// go to x/image/draw itself.
func approxBiLinear(dst *image.RGBA, dr image.Rectangle, src *image.RGBA, sr image.Rectangle) {
	if dr.Empty() || sr.Empty() || dr.Size() == sr.Size() || !dr.In(dst.Rect) || !sr.In(src.Rect) {
		draw.ApproxBiLinear.Scale(dst, dr, src, sr, draw.Src, nil)
		return
	}
	sw, sh := int32(sr.Dx()), int32(sr.Dy())
	yscale := float64(sh) / float64(dr.Dy())
	xscale := float64(sw) / float64(dr.Dx())
	swMinus1, shMinus1 := sw-1, sh-1

	type column struct {
		o0, o1       int // byte offsets of the two source pixels within a row
		frac0, frac1 float64
	}
	cols := make([]column, dr.Dx())
	for dx := range int32(dr.Dx()) {
		sx0, sx1, xFrac0, xFrac1 := bilinearTaps(dx, xscale, swMinus1)
		cols[dx] = column{o0: (sr.Min.X + int(sx0) - src.Rect.Min.X) * 4, o1: (sr.Min.X + int(sx1) - src.Rect.Min.X) * 4,
			frac0: xFrac0, frac1: xFrac1}
	}
	for dy := range int32(dr.Dy()) {
		sy0, sy1, yFrac0, yFrac1 := bilinearTaps(dy, yscale, shMinus1)
		r0 := src.Pix[(sr.Min.Y+int(sy0)-src.Rect.Min.Y)*src.Stride:]
		r1 := src.Pix[(sr.Min.Y+int(sy1)-src.Rect.Min.Y)*src.Stride:]
		d := (dr.Min.Y+int(dy)-dst.Rect.Min.Y)*dst.Stride + (dr.Min.X-dst.Rect.Min.X)*4
		out := dst.Pix[d : d+4*len(cols)]
		for i, c := range cols {
			p00, p10 := r0[c.o0:c.o0+4:c.o0+4], r0[c.o1:c.o1+4:c.o1+4]
			p01, p11 := r1[c.o0:c.o0+4:c.o0+4], r1[c.o1:c.o1+4:c.o1+4]
			px := out[4*i : 4*i+4 : 4*i+4]
			px[0] = lerp4(p00[0], p10[0], p01[0], p11[0], c.frac0, c.frac1, yFrac0, yFrac1)
			px[1] = lerp4(p00[1], p10[1], p01[1], p11[1], c.frac0, c.frac1, yFrac0, yFrac1)
			px[2] = lerp4(p00[2], p10[2], p01[2], p11[2], c.frac0, c.frac1, yFrac0, yFrac1)
			px[3] = lerp4(p00[3], p10[3], p01[3], p11[3], c.frac0, c.frac1, yFrac0, yFrac1)
		}
	}
}

// lerp4 is one channel of x/image/draw's approximate bilinear pixel, operation for operation.
// bilinearTaps are the two source indices of destination index d along one axis (scale source
// pixels per destination pixel, last the last source index) and their weights, as x/image/draw's
// ApproxBiLinear computes them: pixel centres at +0.5, clamped at both edges.
func bilinearTaps(d int32, scale float64, last int32) (i0, i1 int32, frac0, frac1 float64) {
	sv := float64((float64(d)+0.5)*scale) - 0.5
	i0 = int32(sv)
	frac0 = sv - float64(i0)
	frac1 = 1 - frac0
	i1 = i0 + 1
	if sv < 0 {
		return 0, 0, 0, 1
	} else if i1 > last {
		return last, last, 1, 0
	}
	return i0, i1, frac0, frac1
}

func lerp4(v00, v10, v01, v11 uint8, xFrac0, xFrac1, yFrac0, yFrac1 float64) uint8 {
	s00 := float64(uint32(v00) * 0x101)
	s10 := float64(uint32(v10) * 0x101)
	s01 := float64(uint32(v01) * 0x101)
	s11 := float64(uint32(v11) * 0x101)
	s10 = float64(xFrac1*s00) + float64(xFrac0*s10)
	s11 = float64(xFrac1*s01) + float64(xFrac0*s11)
	s11 = float64(yFrac1*s10) + float64(yFrac0*s11)
	return uint8(uint32(s11) >> 8)
}
