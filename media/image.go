package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"

	"golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// downscaler resizes images that are larger than Limits.MaxFrameSide. x/image/draw's kernel
// interpolators (BiLinear, CatmullRom) widen their support by the scale factor when shrinking, so they
// average over every source pixel and do not alias; ApproxBiLinear and NearestNeighbor sample 4 or 1
// pixels whatever the factor, which turns fine texture (screen pixels, print halftone: exactly what
// presentation-attack detection looks at) into false moire. Of the two anti-aliasing kernels, BiLinear
// (support 1) costs about half of CatmullRom (support 2) and its slight softness does not matter for
// a face model that works at 128x128, so it is the one used. See BenchmarkDownscale for the figures.
var downscaler draw.Interpolator = draw.BiLinear

// imageHeader is what Open learns about an image without decoding its pixels.
type imageHeader struct {
	format      string
	width       int // as stored, before orientation
	height      int
	orientation int // EXIF 1..8, 0 if none
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
	hdr = imageHeader{format: format, width: cfg.Width, height: cfg.Height}
	if format == "jpeg" {
		hdr.orientation = exifOrientation(data)
	}
	return hdr, nil
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

// toRGBA converts src to a new *image.RGBA of size w x h at (0,0), resampling with downscaler if the
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
		downscaler.Scale(dst, dst.Rect, src, b, draw.Src, nil)
	}
	return dst
}
