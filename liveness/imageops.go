package liveness

import (
	"image"
	"math"

	"golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// Box is a rectangle in image pixel coordinates (floating point, x2/y2 exclusive-ish as the models use).
type Box struct {
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
	X2 float64 `json:"x2"`
	Y2 float64 `json:"y2"`
}

// W is the width of the box.
func (b Box) W() float64 { return b.X2 - b.X1 }

// H is the height of the box.
func (b Box) H() float64 { return b.Y2 - b.Y1 }

// Area is W*H.
func (b Box) Area() float64 { return math.Max(0, b.W()) * math.Max(0, b.H()) }

// Center of the box.
func (b Box) Center() (float64, float64) { return (b.X1 + b.X2) / 2, (b.Y1 + b.Y2) / 2 }

// rect converts to an integer rectangle clipped to bounds.
func (b Box) rect(bounds image.Rectangle) image.Rectangle {
	r := image.Rect(int(b.X1), int(b.Y1), int(math.Ceil(b.X2)), int(math.Ceil(b.Y2)))
	return r.Intersect(bounds)
}

// cropResize crops r out of src and scales it to w x h with bilinear interpolation, as OpenCV's
// cv.resize(INTER_LINEAR) does in the models' reference code (no antialiasing on downscale).
func cropResize(src *image.RGBA, r image.Rectangle, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	scaleInto(dst, src, r)
	return dst
}

// scaleInto overwrites every pixel of dst with r of src scaled to dst's size. Where r reaches past
// src's edges, the missing pixels repeat the nearest edge pixel of the part that is inside (a face
// at or beyond the frame's edge keeps its shape instead of being stretched).
func scaleInto(dst, src *image.RGBA, r image.Rectangle) {
	in := r.Intersect(src.Bounds())
	if in.Empty() || r.Dx() <= 0 || r.Dy() <= 0 {
		clear(dst.Pix)
		return
	}
	if in == r {
		approxBiLinear(dst, dst.Bounds(), src, r)
		return
	}
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	at := func(v, lo, n, size int) int { return int(math.Round(float64(v-lo) * float64(size) / float64(n))) }
	sub := image.Rect(at(in.Min.X, r.Min.X, r.Dx(), dw), at(in.Min.Y, r.Min.Y, r.Dy(), dh),
		at(in.Max.X, r.Min.X, r.Dx(), dw), at(in.Max.Y, r.Min.Y, r.Dy(), dh)).Add(dst.Rect.Min)
	if sub.Empty() {
		sub = image.Rect(0, 0, 1, 1).Add(dst.Rect.Min)
	}
	approxBiLinear(dst, sub, src, in)
	replicateEdges(dst, sub)
}

// replicateEdges fills every pixel of img outside sub with the nearest pixel of sub.
func replicateEdges(img *image.RGBA, sub image.Rectangle) {
	b := img.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		sy := min(max(y, sub.Min.Y), sub.Max.Y-1)
		row := img.Pix[img.PixOffset(b.Min.X, y):]
		srow := img.Pix[img.PixOffset(b.Min.X, sy):]
		for x := b.Min.X; x < b.Max.X; x++ {
			if y >= sub.Min.Y && y < sub.Max.Y && x >= sub.Min.X && x < sub.Max.X {
				x = sub.Max.X - 1
				continue
			}
			sx := min(max(x, sub.Min.X), sub.Max.X-1) - b.Min.X
			i := (x - b.Min.X) * 4
			copy(row[i:i+4], srow[sx*4:sx*4+4])
		}
	}
}

// warpAffine fills a w x h image with src sampled through the affine map m (dst -> src pixel
// coordinates are the inverse of m; m maps src to dst as cv.getAffineTransform returns).
func warpAffine(src *image.RGBA, m f64.Aff3, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Transform(dst, m, src, src.Bounds(), draw.Src, nil)
	return dst
}

// affineFrom3 solves the affine transform that maps the three src points onto the three dst points.
func affineFrom3(src, dst [3][2]float64) (f64.Aff3, bool) {
	// [x' y'] = [a b c; d e f] [x y 1]
	x1, y1 := src[0][0], src[0][1]
	x2, y2 := src[1][0], src[1][1]
	x3, y3 := src[2][0], src[2][1]
	det := x1*(y2-y3) - y1*(x2-x3) + (x2*y3 - x3*y2)
	if math.Abs(det) < 1e-9 {
		return f64.Aff3{}, false
	}
	solve := func(u1, u2, u3 float64) (float64, float64, float64) {
		a := (u1*(y2-y3) - y1*(u2-u3) + (u2*y3 - u3*y2)) / det
		b := (x1*(u2-u3) - u1*(x2-x3) + (x2*u3 - x3*u2)) / det
		c := (x1*(y2*u3-y3*u2) - y1*(x2*u3-x3*u2) + u1*(x2*y3-x3*y2)) / det
		return a, b, c
	}
	a, b, c := solve(dst[0][0], dst[1][0], dst[2][0])
	d, e, f := solve(dst[0][1], dst[1][1], dst[2][1])
	return f64.Aff3{a, b, c, d, e, f}, true
}

// planes writes the RGBA image into a CHW float tensor with the given channel order (indices into
// R,G,B) and the per-channel transform v -> (v/div - mean[c]) / std[c].
func planes(img *image.RGBA, order [3]int, div float64, mean, std [3]float64, out []float32) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	n := w * h
	if n < 2048 { // a small crop: the table would cost more than it saves
		planesDirect(img, order, div, mean, std, out)
		return
	}
	// Each value depends on the byte alone: a table of the 256 values per plane gives the same
	// floats as computing them per pixel, without three divisions a pixel.
	var lut [3][256]float32
	for c := range 3 {
		for v := range 256 {
			lut[c][v] = float32((float64(v)/div - mean[c]) / std[c])
		}
	}
	o0, o1, o2 := order[0], order[1], order[2]
	p0, p1, p2 := out[:n:n], out[n:2*n:2*n], out[2*n:3*n:3*n]
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+w*4]
		i := y * w
		for x := range w {
			p := row[x*4 : x*4+3 : x*4+3]
			p0[i+x] = lut[0][p[o0]]
			p1[i+x] = lut[1][p[o1]]
			p2[i+x] = lut[2][p[o2]]
		}
	}
}

// planesDirect is planes computing every value.
func planesDirect(img *image.RGBA, order [3]int, div float64, mean, std [3]float64, out []float32) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	n := w * h
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+w*4]
		for x := range w {
			p := row[x*4 : x*4+3 : x*4+3]
			for c := range 3 {
				out[c*n+y*w+x] = float32((float64(p[order[c]])/div - mean[c]) / std[c])
			}
		}
	}
}

// grayBGR converts pixels to gray exactly as OpenCV's COLOR_BGR2GRAY does to an image whose
// channels are in R,G,B memory order (the reference JS reads RGBA canvases and calls BGR2GRAY on
// them): 0.114 R + 0.587 G + 0.299 B in OpenCV's 14-bit fixed point, rounded. The reference test
// checked this formula against the OpenCV.js build the package ships on a million colours.
func grayBGR(img *image.RGBA) []uint8 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := make([]uint8, w*h)
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			r, g, b := int(row[x*4]), int(row[x*4+1]), int(row[x*4+2])
			out[y*w+x] = uint8((1868*r + 9617*g + 4899*b + 1<<13) >> 14)
		}
	}
	return out
}

// luma returns ITU-R BT.601 luma of every pixel, for quality figures.
func luma(img *image.RGBA) []float64 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := make([]float64, w*h)
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			out[y*w+x] = 0.299*float64(row[x*4]) + 0.587*float64(row[x*4+1]) + 0.114*float64(row[x*4+2])
		}
	}
	return out
}

// softmax returns the softmax of v, numerically stable.
func softmax(v []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, float64(x))
	}
	out := make([]float64, len(v))
	var s float64
	for i, x := range v {
		out[i] = math.Exp(float64(x) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
