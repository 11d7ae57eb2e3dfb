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
		sx := float64((float64(dx)+0.5)*xscale) - 0.5
		sx0 := int32(sx)
		xFrac0 := sx - float64(sx0)
		xFrac1 := 1 - xFrac0
		sx1 := sx0 + 1
		if sx < 0 {
			sx0, sx1 = 0, 0
			xFrac0, xFrac1 = 0, 1
		} else if sx1 > swMinus1 {
			sx0, sx1 = swMinus1, swMinus1
			xFrac0, xFrac1 = 1, 0
		}
		cols[dx] = column{o0: (sr.Min.X + int(sx0) - src.Rect.Min.X) * 4, o1: (sr.Min.X + int(sx1) - src.Rect.Min.X) * 4,
			frac0: xFrac0, frac1: xFrac1}
	}
	for dy := range int32(dr.Dy()) {
		sy := float64((float64(dy)+0.5)*yscale) - 0.5
		sy0 := int32(sy)
		yFrac0 := sy - float64(sy0)
		yFrac1 := 1 - yFrac0
		sy1 := sy0 + 1
		if sy < 0 {
			sy0, sy1 = 0, 0
			yFrac0, yFrac1 = 0, 1
		} else if sy1 > shMinus1 {
			sy0, sy1 = shMinus1, shMinus1
			yFrac0, yFrac1 = 1, 0
		}
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
