package media

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"
)

// Test media is generated here, never committed: images with the stdlib encoders, videos with ffmpeg's
// lavfi sources into t.TempDir().

// testPicture returns a w x h picture with smooth gradients (so that JPEG keeps it faithfully) and a
// solid 8x8 block of c at each corner named in marks ("tl", "tr", "bl", "br").
func testPicture(w, h int, marks map[string]color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(40 + 100*x/max(1, w)), uint8(40 + 100*y/max(1, h)), 90, 255})
		}
	}
	for corner, c := range marks {
		x0, y0 := 0, 0
		if strings.HasSuffix(corner, "r") {
			x0 = w - 8
		}
		if strings.HasPrefix(corner, "b") {
			y0 = h - 8
		}
		for y := y0; y < y0+8; y++ {
			for x := x0; x < x0+8; x++ {
				img.SetRGBA(x, y, c)
			}
		}
	}
	return img
}

var (
	red   = color.RGBA{230, 20, 20, 255}
	green = color.RGBA{20, 220, 20, 255}
)

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withEXIFOrientation inserts an APP1 EXIF segment holding only the orientation tag right after the
// JPEG's SOI marker, in big-endian ("MM") or little-endian ("II") TIFF byte order.
func withEXIFOrientation(t testing.TB, jpg []byte, orientation int, order binary.ByteOrder) []byte {
	t.Helper()
	if len(jpg) < 2 || jpg[0] != 0xFF || jpg[1] != 0xD8 {
		t.Fatal("not a JPEG")
	}
	var tiff bytes.Buffer
	if order == binary.BigEndian {
		tiff.WriteString("MM\x00\x2A")
	} else {
		tiff.WriteString("II\x2A\x00")
	}
	put16 := func(v uint16) { _ = binary.Write(&tiff, order, v) }
	put32 := func(v uint32) { _ = binary.Write(&tiff, order, v) }
	put32(8)      // offset of IFD0
	put16(1)      // one entry
	put16(0x0112) // Orientation
	put16(3)      // SHORT
	put32(1)      // count
	put16(uint16(orientation))
	put16(0) // padding of the 4-byte value field
	put32(0) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{0xFF, 0xD8}, seg...)
	return append(out, jpg[2:]...)
}

// pngHeaderOnly returns a PNG made of its signature, an IHDR claiming w x h RGBA pixels (with a right
// CRC), and IEND: a header that promises a huge image with no data behind it.
func pngHeaderOnly(w, h uint32) []byte { return pngHeaderDepth(w, h, 8) }

// pngHeaderDepth is pngHeaderOnly with depth bits per RGBA channel.
func pngHeaderDepth(w, h uint32, depth byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1A\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, 6 // RGBA
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return b.Bytes()
}

// zipFile is one entry of a test zip.
type zipFile struct {
	name   string
	data   []byte
	method uint16 // zip.Store or zip.Deflate
}

func buildZip(t testing.TB, files []zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: f.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeAll opens data and collects its frames; the error is Open's or Frames'.
func decodeAll(t testing.TB, d *Decoder, name string, data []byte) (Info, []Frame, error) {
	t.Helper()
	ctx := context.Background()
	m, err := d.Open(ctx, name, data)
	if err != nil {
		return Info{}, nil, err
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	var frames []Frame
	err = m.Frames(ctx, func(f Frame) error {
		frames = append(frames, f)
		return nil
	})
	return m.Info(), frames, err
}

// wantCode checks that err is an *Error with the code want whose message names the file.
func wantCode(t testing.TB, err error, want Code, file string) *Error {
	t.Helper()
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("got error %v (%T), want *media.Error with code %s", err, err, want)
	}
	if me.Code != want {
		t.Fatalf("got code %s (%v), want %s", me.Code, err, want)
	}
	if !strings.HasPrefix(err.Error(), file+": ") {
		t.Errorf("message %q does not start with the file name %q", err.Error(), file)
	}
	return me
}

// near reports whether c is within tol of want in each colour channel.
func near(c, want color.RGBA, tol int) bool {
	d := func(a, b uint8) bool { return int(a)-int(b) <= tol && int(b)-int(a) <= tol }
	return d(c.R, want.R) && d(c.G, want.G) && d(c.B, want.B)
}

// cornerColor returns the colour at the centre of the 8x8 block at a corner of img.
func cornerColor(img *image.RGBA, corner string) color.RGBA {
	b := img.Rect
	x, y := 4, 4
	if strings.HasSuffix(corner, "r") {
		x = b.Dx() - 5
	}
	if strings.HasPrefix(corner, "b") {
		y = b.Dy() - 5
	}
	return img.RGBAAt(x, y)
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// globCount returns how many entries dir holds.
func globCount(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	return len(entries), err
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
