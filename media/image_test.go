package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"

	"bonafide/internal/testkit"
)

func TestImageFormats(t *testing.T) {
	t.Parallel()
	pic := testPicture(64, 48, map[string]color.RGBA{"tl": red, "br": green})
	var bmpBuf bytes.Buffer
	if err := bmp.Encode(&bmpBuf, pic); err != nil {
		t.Fatal(err)
	}
	gray := image.NewGray(image.Rect(0, 0, 64, 48))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	tests := []struct {
		name   string
		format string
		data   func(t *testing.T) []byte
		exact  bool // lossless: corner colours must match closely
	}{
		{"photo.jpg", "jpeg", func(t *testing.T) []byte { return encodeJPEG(t, pic) }, false},
		{"photo.png", "png", func(t *testing.T) []byte { return encodePNG(t, pic) }, true},
		{"gray.png", "png", func(t *testing.T) []byte { return encodePNG(t, gray) }, false},
		{"photo.bmp", "bmp", func(t *testing.T) []byte { return bmpBuf.Bytes() }, true},
		{"photo.webp", "webp", func(t *testing.T) []byte {
			if out, _ := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output(); !bytes.Contains(out, []byte("libwebp")) {
				t.Skip("this ffmpeg has no libwebp encoder, so no WebP test file can be made")
			}
			return testkit.FFmpegFile(t, "x.webp", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1")
		}, false},
		// The name lies; the bytes decide.
		{"really-a-png.jpg", "png", func(t *testing.T) []byte { return encodePNG(t, pic) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.data(t)
			info, frames, err := decodeAll(t, NewDecoder(DefaultLimits()), tt.name, data)
			if err != nil {
				t.Fatal(err)
			}
			if info.Kind != Image || info.Format != tt.format || info.Width != 64 || info.Height != 48 || info.Frames != 1 {
				t.Errorf("info = %+v", info)
			}
			if len(frames) != 1 {
				t.Fatalf("got %d frames", len(frames))
			}
			f := frames[0]
			if f.Index != 0 || f.Image.Rect != image.Rect(0, 0, 64, 48) {
				t.Errorf("frame %d rect %v", f.Index, f.Image.Rect)
			}
			if tt.exact {
				if c := cornerColor(f.Image, "tl"); !near(c, red, 2) {
					t.Errorf("top-left %v, want %v", c, red)
				}
				if c := cornerColor(f.Image, "br"); !near(c, green, 2) {
					t.Errorf("bottom-right %v, want %v", c, green)
				}
			}
			for i := 3; i < len(f.Image.Pix); i += 4 {
				if f.Image.Pix[i] != 255 {
					t.Fatalf("alpha %d at byte %d, want opaque", f.Image.Pix[i], i)
				}
			}
		})
	}
}

func TestImageDownscale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		w, h, maxSide int
		wantW, wantH  int
	}{
		{3000, 1000, 1280, 1280, 427},
		{1000, 3000, 1280, 427, 1280},
		{1280, 720, 1280, 1280, 720},
		{640, 480, 100, 100, 75},
		{5000, 2, 1000, 1000, 1}, // never a zero side
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			l := DefaultLimits()
			l.MaxFrameSide = tt.maxSide
			pic := testPicture(tt.w, tt.h, map[string]color.RGBA{"tl": red})
			info, frames, err := decodeAll(t, NewDecoder(l), "big.png", encodePNG(t, pic))
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != tt.w || info.Height != tt.h {
				t.Errorf("info size %dx%d, want the original %dx%d", info.Width, info.Height, tt.w, tt.h)
			}
			if got := frames[0].Image.Rect; got != image.Rect(0, 0, tt.wantW, tt.wantH) {
				t.Errorf("frame %v, want %dx%d", got, tt.wantW, tt.wantH)
			}
		})
	}
}

// TestEXIFOrientation stores a 40x24 picture with red at its stored top-left and green at its stored
// top-right, tags it with each EXIF orientation, and checks where the marks end up after decoding.
func TestEXIFOrientation(t *testing.T) {
	t.Parallel()
	const w, h = 40, 24
	jpg := encodeJPEG(t, testPicture(w, h, map[string]color.RGBA{"tl": red, "tr": green}))
	tests := []struct {
		orientation int
		red, green  string // display corners
	}{
		{1, "tl", "tr"},
		{2, "tr", "tl"},
		{3, "br", "bl"},
		{4, "bl", "br"},
		{5, "tl", "bl"},
		{6, "tr", "br"},
		{7, "br", "tr"},
		{8, "bl", "tl"},
	}
	for _, tt := range tests {
		for _, order := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
			t.Run(strings.Join([]string{string(rune('0' + tt.orientation)), order.String()}, "-"), func(t *testing.T) {
				t.Parallel()
				data := withEXIFOrientation(t, jpg, tt.orientation, order)
				info, frames, err := decodeAll(t, NewDecoder(DefaultLimits()), "phone.jpg", data)
				if err != nil {
					t.Fatal(err)
				}
				wantW, wantH := w, h
				if tt.orientation >= 5 {
					wantW, wantH = h, w
				}
				if info.Orientation != tt.orientation || info.Width != wantW || info.Height != wantH {
					t.Errorf("info = %+v, want orientation %d, %dx%d", info, tt.orientation, wantW, wantH)
				}
				img := frames[0].Image
				if img.Rect != image.Rect(0, 0, wantW, wantH) {
					t.Fatalf("frame %v, want %dx%d", img.Rect, wantW, wantH)
				}
				if c := cornerColor(img, tt.red); !near(c, red, 40) {
					t.Errorf("red mark: %s corner is %v", tt.red, c)
				}
				if c := cornerColor(img, tt.green); !near(c, green, 40) {
					t.Errorf("green mark: %s corner is %v", tt.green, c)
				}
			})
		}
	}
}

func TestEXIFOrientationOddInputs(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, testPicture(16, 8, nil))
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"no exif", jpg, 0},
		{"orientation 0", withEXIFOrientation(t, jpg, 0, binary.BigEndian), 0},
		{"orientation 9", withEXIFOrientation(t, jpg, 9, binary.BigEndian), 0},
		{"cut exif", func() []byte {
			d := withEXIFOrientation(t, jpg, 6, binary.BigEndian)
			// Keep the APP1 length but damage the TIFF header.
			copy(d[10:14], "XXXX")
			return d
		}(), 0},
		{"not a jpeg", []byte("hello"), 0},
	}
	for _, tt := range tests {
		if got := exifOrientation(tt.data); got != tt.want {
			t.Errorf("%s: orientation %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestHugeImageHeaderRefusedCheaply checks that a PNG whose header claims 20000x20000 pixels is refused
// from its header, without allocating the image.
func TestHugeImageHeaderRefusedCheaply(t *testing.T) {
	data := pngHeaderOnly(20000, 20000)
	d := NewDecoder(DefaultLimits())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := d.Open(context.Background(), "huge.png", data)
	runtime.ReadMemStats(&after)
	me := wantCode(t, err, CodeTooManyPixels, "huge.png")
	if !strings.Contains(me.Msg, "20000x20000") {
		t.Errorf("message %q does not give the size", me.Msg)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes to refuse a header", alloc)
	}
}

func TestBadImages(t *testing.T) {
	t.Parallel()
	pic := testPicture(64, 48, nil)
	jpg := encodeJPEG(t, pic)
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, pic, nil); err != nil {
		t.Fatal(err)
	}
	small := DefaultLimits()
	small.MaxFileBytes = 100
	tests := []struct {
		name   string
		data   []byte
		limits Limits
		want   Code
		says   string // a phrase the message must contain
	}{
		{"empty.jpg", nil, DefaultLimits(), CodeEmpty, "empty"},
		{"big.jpg", jpg, small, CodeTooLarge, "more than the 100 bytes allowed"},
		{"truncated.jpg", jpg[:len(jpg)/2], DefaultLimits(), CodeCorrupt, "damaged or truncated"},
		{"header-only.jpg", jpg[:20], DefaultLimits(), CodeCorrupt, "damaged or truncated"},
		{"clip.mp4", []byte("This is a text file, not a clip.\n"), DefaultLimits(), CodeUnsupported, "the file is a text file, not a video or image"},
		{"page.jpg", []byte("<html><body>404</body></html>"), DefaultLimits(), CodeUnsupported, "HTML page"},
		{"anim.gif", gifBuf.Bytes(), DefaultLimits(), CodeUnsupported, "GIF image"},
		{"huge.png", pngHeaderOnly(20000, 20000), DefaultLimits(), CodeTooManyPixels, "more than the 50 megapixels allowed"},
		{"scans.jpg", manyScans(jpg, 150), DefaultLimits(), CodeUnsupported, "150 scans"},
		{"zero.png", pngHeaderOnly(0, 10), DefaultLimits(), CodeCorrupt, ""},
		{"nodata.png", pngHeaderOnly(10, 10), DefaultLimits(), CodeCorrupt, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := decodeAll(t, NewDecoder(tt.limits), tt.name, tt.data)
			me := wantCode(t, err, tt.want, tt.name)
			if !strings.Contains(me.Error(), tt.says) {
				t.Errorf("message %q does not say %q", me.Error(), tt.says)
			}
		})
	}
}

func TestFramesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, err := NewDecoder(DefaultLimits()).Open(ctx, "a.png", encodePNG(t, testPicture(8, 8, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Frames(ctx, func(Frame) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := m.Frames(ctx, func(Frame) error { return nil }); err == nil {
		t.Error("second Frames call succeeded")
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	e := &Error{Code: CodeCorrupt, File: "clip.mp4", Msg: "the video could not be read", Err: context.Canceled}
	if got, want := e.Error(), "clip.mp4: the video could not be read: context canceled"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if e.Unwrap() != context.Canceled {
		t.Error("Unwrap lost the cause")
	}
	if got := (&Error{Code: CodeEmpty}).Error(); got != string(CodeEmpty) {
		t.Errorf("bare error = %q", got)
	}
}

// manyScans appends n-1 extra (empty) scans to a baseline JPEG, as a hostile progressive file would.
func manyScans(jpg []byte, n int) []byte {
	out := append([]byte(nil), jpg[:len(jpg)-2]...) // without EOI
	for range n - 1 {
		out = append(out, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x00)
	}
	return append(out, 0xFF, 0xD9)
}

func TestJPEGScans(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, testPicture(64, 48, nil))
	if n := jpegScans(jpg); n != 1 {
		t.Errorf("baseline JPEG: %d scans", n)
	}
	if n := jpegScans(manyScans(jpg, 7)); n != 7 {
		t.Errorf("7-scan JPEG: %d scans", n)
	}
	if n := jpegScans(withEXIFOrientation(t, jpg, 6, binary.BigEndian)); n != 1 {
		t.Errorf("JPEG with EXIF: %d scans", n)
	}
}
