package media

import (
	"bytes"
	"encoding/binary"
	"image"

	"github.com/rwcarlsen/goexif/exif"
)

// EXIF parsing uses github.com/rwcarlsen/goexif (BSD-2-Clause, no dependencies of its own, used by
// Perkeep and many others). We do not hand it the whole file: its JPEG path scans every byte for an APP1
// marker. Instead jpegExif walks the JPEG segment headers (cheap, bounded) and gives goexif only the
// "Exif\0\0" APP1 payload, at most 64 KiB, which it parses as TIFF. A missing or damaged EXIF block means
// orientation 0 (none): a bad tag must not make a good photo unusable.

// jpegExif returns the payload of the first APP1 segment that holds EXIF data ("Exif\0\0" + TIFF), or
// nil. It stops at the start of the image data (SOS), so it reads only the header segments.
func jpegExif(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil
	}
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return nil // not at a marker: damaged header
		}
		m := data[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7): // markers without a length
			i += 2
			continue
		case m == 0xDA || m == 0xD9: // start of scan, end of image: no EXIF before the pixels
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:])) // includes the two length bytes
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg
		}
		i += 2 + n
	}
	return nil
}

// exifOrientation returns the EXIF orientation (1..8) of a JPEG, or 0 if it has none or it cannot be
// read. It never panics: goexif is fed untrusted bytes, so a panic in it is recovered as "no EXIF".
func exifOrientation(data []byte) (orientation int) {
	seg := jpegExif(data)
	if seg == nil {
		return 0
	}
	defer func() {
		if recover() != nil {
			orientation = 0
		}
	}()
	x, err := exif.Decode(bytes.NewReader(seg))
	if x == nil || (err != nil && exif.IsCriticalError(err)) {
		return 0
	}
	tag, err := x.Get(exif.Orientation)
	if err != nil {
		return 0
	}
	v, err := tag.Int(0)
	if err != nil || v < 1 || v > 8 {
		return 0
	}
	return v
}

// swapsAxes reports whether an EXIF orientation turns the image by 90 degrees (width and height swap).
func swapsAxes(orientation int) bool { return orientation >= 5 && orientation <= 8 }

// orient returns src transformed for display according to an EXIF orientation value:
//
//	1 as stored          2 mirrored left-right     3 rotated 180        4 mirrored top-bottom
//	5 transposed         6 rotated 90 clockwise    7 transversed        8 rotated 90 counter-clockwise
//
// src must have its Rect at (0,0). For 1 (or any unknown value) src itself is returned.
func orient(src *image.RGBA, orientation int) *image.RGBA {
	if orientation < 2 || orientation > 8 {
		return src
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if swapsAxes(orientation) {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	// For each destination pixel (x, y), the source pixel (sx, sy) it comes from.
	var at func(x, y int) (int, int)
	switch orientation {
	case 2:
		at = func(x, y int) (int, int) { return w - 1 - x, y }
	case 3:
		at = func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }
	case 4:
		at = func(x, y int) (int, int) { return x, h - 1 - y }
	case 5:
		at = func(x, y int) (int, int) { return y, x }
	case 6:
		at = func(x, y int) (int, int) { return y, h - 1 - x }
	case 7:
		at = func(x, y int) (int, int) { return w - 1 - y, h - 1 - x }
	case 8:
		at = func(x, y int) (int, int) { return w - 1 - y, x }
	}
	for y := range dh {
		row := dst.Pix[y*dst.Stride : y*dst.Stride+dw*4]
		for x := range dw {
			sx, sy := at(x, y)
			o := sy*src.Stride + sx*4
			copy(row[x*4:x*4+4], src.Pix[o:o+4])
		}
	}
	return dst
}
