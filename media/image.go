package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"

	"golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Downscaling uses golang.org/x/image/draw in two stages:
//
//  1. While the image is at least twice the target size, halve it with ApproxBiLinear. At exactly 2:1
//     ApproxBiLinear samples halfway between source pixels, so each output pixel is the mean of a 2x2
//     block: a box filter, cheap and free of aliasing.
//  2. Do the last step (less than 2:1) with BiLinear, a kernel interpolator that widens its support by
//     the scale factor, so every source pixel counts and fine texture (screen pixels, print halftone:
//     what presentation-attack detection looks at) does not turn into false moire.
//
// ApproxBiLinear alone for the whole step samples 4 pixels whatever the factor and aliases; BiLinear
// or CatmullRom alone cost about 2.5x more than this for a 12 MP photo (about 0.4 s against 0.17 s on
// one core here). See BenchmarkDownscale.
func downscale(dst *image.RGBA, src image.Image) {
	cur := src
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	for b := cur.Bounds(); b.Dx() >= 2*w && b.Dy() >= 2*h; b = cur.Bounds() {
		half := image.NewRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
		draw.ApproxBiLinear.Scale(half, half.Rect, cur, b, draw.Src, nil)
		cur = half
	}
	draw.BiLinear.Scale(dst, dst.Rect, cur, cur.Bounds(), draw.Src, nil)
}

// imageHeader is what Open learns about an image without decoding its pixels.
type imageHeader struct {
	format      string
	width       int // as stored, before orientation
	height      int
	orientation int     // EXIF 1..8, 0 if none
	bpp         float64 // bytes per pixel of the decoded picture (from the header's color model)
	interlaced  bool    // an interlaced PNG: the decoder holds each pass as well as the result
}

// bytesPerPixel is what the standard decoders allocate per pixel for a picture of color model cm:
// 16-bit PNGs decode to 8 (RGBA64, NRGBA64) or 2 (Gray16) bytes per pixel, JPEGs to YCbCr planes
// (at most 3 bytes per pixel at 4:4:4) or CMYK (4), lossy WebP to YCbCr(A). Unknown models count 8.
func bytesPerPixel(cm color.Model) float64 {
	switch cm {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.NYCbCrAModel:
		return 4
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := cm.(color.Palette); ok {
		return 1
	}
	return 8
}

// decodeCost is the memory, in bytes, that decoding the image and turning it into the frame of long
// side maxSide takes at its peak, counted from the header alone: the decoded picture (twice for an
// interlaced PNG), every RGBA halving step of downscale, the float64 buffer of its last (BiLinear)
// step, the RGBA frame, and a rotated copy of it. BenchmarkDecode16BitPNG compares it with what a
// decode really allocates.
func (h imageHeader) decodeCost(maxSide int) int64 {
	w, ht := int64(h.width), int64(h.height)
	bpp := h.bpp
	if bpp <= 0 {
		bpp = 8
	}
	if h.interlaced {
		bpp *= 2
	}
	cost := int64(math.Ceil(float64(w*ht) * bpp))
	tw, th := fitSize(h.width, h.height, maxSide)
	if tw != h.width || th != h.height {
		cw, ch := h.width, h.height
		for ; cw >= 2*tw && ch >= 2*th; cw, ch = cw/2, ch/2 {
			cost += int64(cw/2) * int64(ch/2) * 4
		}
		// The last BiLinear step keeps a [4]float64 per destination column and source row.
		cost += int64(tw) * int64(ch) * 32
	}
	cost += int64(tw) * int64(th) * 4
	if h.orientation > 1 {
		cost += int64(tw) * int64(th) * 4
	}
	return cost
}

// decodeBudgeted decodes an image whose header probeImage accepted while holding its cost in the
// decoder's shared memory budget.
func (m *Media) decodeBudgeted(ctx context.Context, data []byte, hdr imageHeader) (*image.RGBA, error) {
	if m.dec != nil {
		release, err := m.dec.reserve(ctx, m.name, hdr.decodeCost(m.limits.MaxFrameSide), m.limits.Timeout)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	return decodeImage(m.name, data, hdr, m.limits.MaxFrameSide)
}

// displaySize is the size after the EXIF orientation is applied.
func (h imageHeader) displaySize() (int, int) {
	if swapsAxes(h.orientation) {
		return h.height, h.width
	}
	return h.width, h.height
}

// probeImage reads an image's header (DecodeConfig, which reads no pixel data) and its EXIF
// orientation, and refuses it if it has more pixels than l.MaxPixels, so that no large allocation
// happens before the size is known to be acceptable.
func probeImage(file, format string, data []byte, l Limits) (hdr imageHeader, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = newError(CodeCorrupt, file, fmt.Errorf("panic: %v", r), "the image could not be read")
		}
	}()
	var cfg image.Config
	r := bytes.NewReader(data)
	switch format {
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(r)
	case "png":
		cfg, err = png.DecodeConfig(r)
	case "webp":
		cfg, err = webp.DecodeConfig(r)
	case "bmp":
		cfg, err = bmp.DecodeConfig(r)
	default:
		return hdr, newError(CodeUnsupported, file, nil, "%s images are not supported", format)
	}
	if err != nil {
		return hdr, imageDecodeError(file, format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return hdr, newError(CodeCorrupt, file, nil, "the image header gives a size of %dx%d", cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); l.MaxPixels > 0 && px > l.MaxPixels {
		return hdr, newError(CodeTooManyPixels, file, nil, "the image is %dx%d (%s), more than the %s allowed",
			cfg.Width, cfg.Height, megapixels(px), megapixels(l.MaxPixels))
	}
	hdr = imageHeader{format: format, width: cfg.Width, height: cfg.Height, bpp: bytesPerPixel(cfg.ColorModel)}
	if format == "png" && len(data) > 28 {
		hdr.interlaced = data[28] == 1 // IHDR interlace method (Adam7)
	}
	if format == "jpeg" {
		hdr.orientation = exifOrientation(data)
	}
	budget := min(l.MaxDecodeBytes, l.DecodeMemory)
	if budget <= 0 {
		budget = max(l.MaxDecodeBytes, l.DecodeMemory)
	}
	if cost := hdr.decodeCost(l.MaxFrameSide); budget > 0 && cost > budget {
		return hdr, newError(CodeTooManyPixels, file, nil, "the image is %dx%d at %g bytes per pixel: decoding it takes %s, more than the %s allowed",
			cfg.Width, cfg.Height, hdr.bpp, byteSize(cost), byteSize(budget))
	}
	if format == "jpeg" {
		// Go's decoder walks every block of the image once per scan, so a small progressive file with
		// thousands of near-empty scans costs minutes of CPU that no context can interrupt.
		if n := jpegScans(data); n > maxJPEGScans {
			return hdr, newError(CodeUnsupported, file, nil, "the JPEG image has %d scans, more than the %d accepted", n, maxJPEGScans)
		}
	}
	return hdr, nil
}

// maxJPEGScans bounds the scans of a JPEG. Baseline files have one scan per component set, progressive
// encoders write about 10; libjpeg-turbo's tools also cap this number.
const maxJPEGScans = 100

// jpegScans counts the start-of-scan markers of a JPEG, walking its segments and skipping the entropy-
// coded data after each scan header (where 0xFF is always followed by 0x00 or a restart marker).
func jpegScans(data []byte) int {
	scans := 0
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return scans
		}
		m := data[i+1]
		switch {
		case m == 0xFF:
			i++
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD8):
			i += 2
			continue
		case m == 0xD9:
			return scans
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		i += 2 + n
		if m != 0xDA {
			continue
		}
		scans++
		// Skip entropy-coded data up to the next marker.
		for i+1 < len(data) && (data[i] != 0xFF || data[i+1] == 0x00 || (data[i+1] >= 0xD0 && data[i+1] <= 0xD7)) {
			i++
		}
	}
	return scans
}

func megapixels(px int64) string {
	return fmt.Sprintf("%.4g megapixels", float64(px)/1e6)
}

// imageDecodeError turns a decoder's error into an *Error.
func imageDecodeError(file, format string, err error) *Error {
	var (
		jpegUnsupported jpeg.UnsupportedError
		pngUnsupported  png.UnsupportedError
	)
	switch {
	case errors.As(err, &jpegUnsupported), errors.As(err, &pngUnsupported), errors.Is(err, bmp.ErrUnsupported):
		return newError(CodeUnsupported, file, err, "this kind of %s image is not supported", formatLabel(format))
	}
	return newError(CodeCorrupt, file, err, "the %s image is damaged or truncated", formatLabel(format))
}

func formatLabel(format string) string {
	switch format {
	case "jpeg":
		return "JPEG"
	case "png":
		return "PNG"
	case "webp":
		return "WebP"
	case "bmp":
		return "BMP"
	}
	return format
}

// decodeImage decodes the pixels of an image whose header probeImage accepted, downscales it so its
// long side is at most maxSide, applies its EXIF orientation and returns it as RGBA with Rect at (0,0).
//
// The resize is done before the rotation, on the stored pixels; the result is the same as rotating
// first (up to rounding), but the rotation then moves the small image instead of the full-size one (a
// 12 MP phone photo is usually stored sideways).
func decodeImage(file string, data []byte, hdr imageHeader, maxSide int) (out *image.RGBA, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, newError(CodeCorrupt, file, fmt.Errorf("panic: %v", r), "the image could not be decoded")
		}
	}()
	var src image.Image
	r := bytes.NewReader(data)
	switch hdr.format {
	case "jpeg":
		src, err = jpeg.Decode(r)
	case "png":
		src, err = png.Decode(r)
	case "webp":
		src, err = webp.Decode(r)
	case "bmp":
		src, err = bmp.Decode(r)
	default:
		return nil, newError(CodeUnsupported, file, nil, "%s images are not supported", hdr.format)
	}
	if err != nil {
		return nil, imageDecodeError(file, hdr.format, err)
	}
	b := src.Bounds()
	if b.Dx() != hdr.width || b.Dy() != hdr.height {
		return nil, newError(CodeCorrupt, file, nil, "the image header says %dx%d but the pixels are %dx%d",
			hdr.width, hdr.height, b.Dx(), b.Dy())
	}
	// The long-side rule does not depend on which way the image is turned, so the stored size can be
	// fitted directly.
	tw, th := fitSize(hdr.width, hdr.height, maxSide)
	return orient(toRGBA(src, tw, th), hdr.orientation), nil
}

// fitSize returns the size of a w x h image scaled down (aspect kept) so that its long side is at most
// maxSide; images already small enough keep their size. maxSide <= 0 means no limit.
func fitSize(w, h, maxSide int) (int, int) {
	if maxSide <= 0 || (w <= maxSide && h <= maxSide) {
		return w, h
	}
	if w >= h {
		return maxSide, max(1, int(math.Round(float64(h)*float64(maxSide)/float64(w))))
	}
	return max(1, int(math.Round(float64(w)*float64(maxSide)/float64(h)))), maxSide
}

// toRGBA converts src to a new *image.RGBA of size w x h at (0,0), resampling with downscale if the
// size differs.
func toRGBA(src image.Image, w, h int) *image.RGBA {
	b := src.Bounds()
	if rgba, ok := src.(*image.RGBA); ok && b.Min == (image.Point{}) && b.Dx() == w && b.Dy() == h {
		return rgba
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if b.Dx() == w && b.Dy() == h {
		draw.Draw(dst, dst.Rect, src, b.Min, draw.Src)
	} else {
		downscale(dst, src)
	}
	return dst
}
