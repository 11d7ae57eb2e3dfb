package media

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// flatJPEG returns a small JPEG of one colour whose red channel encodes n (n*4).
func flatJPEG(t testing.TB, n int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(n*4), 60, 60, 255
	}
	return encodeJPEG(t, img)
}

func TestShotSet(t *testing.T) {
	t.Parallel()
	// 60 frames added in shuffled order, among entries that are not frames.
	var files []zipFile
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(60) {
		files = append(files, zipFile{name: fmt.Sprintf("frames/frame_%03d.jpg", i), data: flatJPEG(t, i), method: zip.Store})
	}
	files = append(files,
		zipFile{name: "frames/", data: nil},
		zipFile{name: "__MACOSX/frames/._frame_000.jpg", data: flatJPEG(t, 63), method: zip.Deflate},
		zipFile{name: "frames/.hidden.jpg", data: flatJPEG(t, 63), method: zip.Deflate},
		zipFile{name: "manifest.json", data: []byte(`{"frames": 60}`), method: zip.Deflate},
		zipFile{name: "frames/zz_not_really.jpg", data: []byte("plain text"), method: zip.Deflate},
	)
	data := buildZip(t, files)
	info, frames, err := decodeAll(t, NewDecoder(DefaultLimits()), "shots.zip", data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != ShotSet || info.Format != "zip" || info.Frames != 50 || len(info.Entries) != 50 || len(frames) != 50 {
		t.Fatalf("info %+v, %d frames; want 50", info, len(frames))
	}
	if info.Width != 32 || info.Height != 24 {
		t.Errorf("info size %dx%d", info.Width, info.Height)
	}
	for i, f := range frames {
		want := int(math.Round(float64(i) * 59 / 49)) // evenly spaced, first and last included
		if f.Index != i || f.Name != fmt.Sprintf("frames/frame_%03d.jpg", want) || f.Time != float64(want) || info.Entries[i] != f.Name {
			t.Errorf("frame %d: index %d name %q time %v entry %q, want frame_%03d", i, f.Index, f.Name, f.Time, info.Entries[i], want)
		}
		if got := int(math.Round(float64(f.Image.RGBAAt(16, 12).R) / 4)); got != want {
			t.Errorf("frame %d shows picture %d, want %d", i, got, want)
		}
	}
}

func TestShotSetImagePath(t *testing.T) {
	t.Parallel()
	rotated := withEXIFOrientation(t, encodeJPEG(t, testPicture(40, 24, map[string]color.RGBA{"tl": red})), 6, binary.BigEndian)
	data := buildZip(t, []zipFile{
		{name: "0.jpg", data: rotated, method: zip.Deflate},
		{name: "1.png", data: encodePNG(t, testPicture(1600, 800, nil)), method: zip.Deflate},
	})
	info, frames, err := decodeAll(t, NewDecoder(DefaultLimits()), "set.zip", data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 24 || info.Height != 40 || info.Orientation != 6 || len(frames) != 2 {
		t.Fatalf("info %+v, %d frames", info, len(frames))
	}
	if r := frames[0].Image.Rect; r != image.Rect(0, 0, 24, 40) {
		t.Errorf("oriented entry is %v", r)
	}
	if c := cornerColor(frames[0].Image, "tr"); !near(c, red, 40) {
		t.Errorf("red mark not at the top-right after orientation 6: %v", c)
	}
	if r := frames[1].Image.Rect; r != image.Rect(0, 0, 1280, 640) {
		t.Errorf("large entry not downscaled: %v", r)
	}
}

var (
	bombOnce sync.Once
	bomb     []byte
)

// zipBomb returns a zip holding one "JPEG" entry of 1 GiB (a JPEG signature, then zeros), made once
// by streaming the zeros through a deflate writer: about 1.3 MB.
func zipBomb(t testing.TB) []byte {
	t.Helper()
	bombOnce.Do(func() {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(w, flate.BestSpeed)
		})
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "frame.jpg", Method: zip.Deflate})
		if err != nil {
			panic(err)
		}
		chunk := make([]byte, 1<<20)
		copy(chunk, "\xFF\xD8\xFF\xE0")
		for i := 0; i < 1024; i++ {
			if _, err := w.Write(chunk); err != nil {
				panic(err)
			}
			clear(chunk[:4])
		}
		if err := zw.Close(); err != nil {
			panic(err)
		}
		bomb = buf.Bytes()
	})
	return bomb
}

// lyingZip returns a zip whose one entry, a JPEG followed by 2 MiB of zeros, declares 100 bytes.
func lyingZip(t testing.TB) []byte {
	t.Helper()
	content := append(flatJPEG(t, 1), make([]byte, 2<<20)...)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	fw.Write(content)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "frame.jpg", Method: zip.Deflate,
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: 100, CRC32: 0x12345678})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// manyEntries returns a zip of n empty stored entries (ZIP64 when n > 65535).
func manyEntries(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range n {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("%x", i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBadShotSets(t *testing.T) {
	t.Parallel()
	jpg := flatJPEG(t, 1)
	inner := buildZip(t, []zipFile{{name: "a.jpg", data: jpg}})
	withJPEG := func(extra ...zipFile) []byte {
		return buildZip(t, append([]zipFile{{name: "a.jpg", data: jpg}}, extra...))
	}
	damaged := func() []byte {
		pic := encodePNG(t, testPicture(64, 64, nil))
		data := buildZip(t, []zipFile{{name: "a.png", data: pic, method: zip.Store}})
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		off, _ := zr.File[0].DataOffset()
		data[off+int64(len(pic))/2] ^= 0xFF // breaks the CRC, not the header
		return data
	}
	tinyTotal := DefaultLimits()
	tinyTotal.MaxZipTotalBytes = 100_000
	random := make([]byte, 60_000)
	for i := range random {
		random[i] = byte(rand.Uint32())
	}
	tests := []struct {
		name   string
		data   func() []byte
		limits Limits
		want   Code
		says   string
	}{
		{"many.zip", func() []byte { return manyEntries(t, 100_000) }, DefaultLimits(), CodeUnsafeZip, "100000 entries, more than the 200 allowed"},
		{"201.zip", func() []byte { return manyEntries(t, 201) }, DefaultLimits(), CodeUnsafeZip, "201 entries"},
		{"bomb.zip", func() []byte { return zipBomb(t) }, DefaultLimits(), CodeUnsafeZip, "unpacks to 1 GiB"},
		{"ratio.zip", func() []byte {
			return withJPEG(zipFile{name: "zeros.jpg", data: make([]byte, 10<<20), method: zip.Deflate})
		}, DefaultLimits(), CodeUnsafeZip, "zip bomb"},
		{"total.zip", func() []byte {
			return withJPEG(zipFile{name: "b.bin", data: random, method: zip.Store}, zipFile{name: "c.bin", data: random, method: zip.Store})
		}, tinyTotal, CodeUnsafeZip, "unpacks to more than"},
		{"lying.zip", func() []byte { return lyingZip(t) }, DefaultLimits(), CodeUnsafeZip, "more data than its header declares"},
		{"dotdot.zip", func() []byte { return withJPEG(zipFile{name: "../evil.jpg", data: jpg}) }, DefaultLimits(), CodeUnsafeZip, "outside the archive"},
		{"deep-dotdot.zip", func() []byte { return withJPEG(zipFile{name: "a/../../evil.jpg", data: jpg}) }, DefaultLimits(), CodeUnsafeZip, "outside"},
		{"backslash.zip", func() []byte { return withJPEG(zipFile{name: `..\evil.jpg`, data: jpg}) }, DefaultLimits(), CodeUnsafeZip, "outside"},
		{"absolute.zip", func() []byte { return withJPEG(zipFile{name: "/etc/evil.jpg", data: jpg}) }, DefaultLimits(), CodeUnsafeZip, "absolute"},
		{"drive.zip", func() []byte { return withJPEG(zipFile{name: "C:/evil.jpg", data: jpg}) }, DefaultLimits(), CodeUnsafeZip, "drive letter"},
		{"nested-name.zip", func() []byte { return withJPEG(zipFile{name: "more.zip", data: inner}) }, DefaultLimits(), CodeUnsafeZip, "nested"},
		{"nested-content.zip", func() []byte { return withJPEG(zipFile{name: "b.jpg", data: inner, method: zip.Deflate}) }, DefaultLimits(), CodeUnsafeZip, "nested"},
		{"no-images.zip", func() []byte {
			return buildZip(t, []zipFile{{name: "a.txt", data: []byte("hello")}, {name: "b/", data: nil}})
		}, DefaultLimits(), CodeNoFrames, "no JPEG or PNG"},
		{"empty.zip", func() []byte { return buildZip(t, nil) }, DefaultLimits(), CodeNoFrames, "no JPEG or PNG"},
		{"broken.zip", func() []byte { return []byte("PK\x03\x04 this is not really a zip at all") }, DefaultLimits(), CodeCorrupt, "damaged"},
		{"damaged-entry.zip", damaged, DefaultLimits(), CodeCorrupt, `entry "a.png"`},
		{"huge-entry.zip", func() []byte {
			return buildZip(t, []zipFile{{name: "a.png", data: pngHeaderOnly(20000, 20000)}})
		}, DefaultLimits(), CodeTooManyPixels, `entry "a.png": the image is 20000x20000`},
		{"truncated-entry.zip", func() []byte {
			return buildZip(t, []zipFile{{name: "a.jpg", data: jpg}, {name: "b.jpg", data: jpg[:len(jpg)/2]}})
		}, DefaultLimits(), CodeCorrupt, `entry "b.jpg"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := decodeAll(t, NewDecoder(tt.limits), tt.name, tt.data())
			me := wantCode(t, err, tt.want, tt.name)
			if !strings.Contains(me.Error(), tt.says) {
				t.Errorf("message %q does not say %q", me.Error(), tt.says)
			}
		})
	}
}

func TestSpread(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n, k int
		want []int
	}{
		{3, 5, []int{0, 1, 2}},
		{5, 5, []int{0, 1, 2, 3, 4}},
		{10, 1, []int{0}},
		{10, 2, []int{0, 9}},
		{10, 4, []int{0, 3, 6, 9}},
		{0, 5, []int{}},
	}
	for _, tt := range tests {
		if got := spread(tt.n, tt.k); !equalInts(got, tt.want) {
			t.Errorf("spread(%d, %d) = %v, want %v", tt.n, tt.k, got, tt.want)
		}
	}
}
