package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"
)

// png16 encodes a real w x h 16-bit-per-channel RGBA PNG (a gradient, so it compresses but is not
// uniform).
func png16(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA64(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA64(x, y, color.RGBA64{R: uint16(x * 37), G: uint16(y * 53), B: 0x8000, A: 0xFFFF})
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngHeader16 is a PNG of only a signature, an IHDR claiming w x h 16-bit RGBA pixels and IEND.
func pngHeader16(w, h uint32) []byte { return pngHeaderDepth(w, h, 16) }

// The decoder budgets bytes, not pixels: a 16-bit PNG decodes to 8 bytes per pixel, so one with as
// many pixels as an accepted 8-bit image is refused from its header when that exceeds
// MaxDecodeBytes.
func TestDecodeBytesBudget16BitPNG(t *testing.T) {
	t.Parallel()
	const w, h = 1200, 1000
	deep := png16(t, w, h)
	gray := image.NewGray(image.Rect(0, 0, w, h))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	shallow := encodePNG(t, gray)
	// 16-bit: 1200*1000*8 = 9.6 MB decoded + a 4.8 MB RGBA frame; 8-bit gray: 1.2 + 4.8 MB.
	d := NewDecoder(Limits{MaxDecodeBytes: 8 << 20})
	_, _, err := decodeAll(t, d, "deep.png", deep)
	e := wantCode(t, err, CodeTooManyPixels, "deep.png")
	if !strings.Contains(e.Error(), "bytes per pixel") {
		t.Errorf("the message should say why: %v", e)
	}
	if _, frames, err := decodeAll(t, d, "gray.png", shallow); err != nil || len(frames) != 1 {
		t.Fatalf("an 8-bit gray PNG of the same size: %d frames, %v", len(frames), err)
	}
	// Within the budget the same 16-bit file decodes.
	if _, frames, err := decodeAll(t, NewDecoder(Limits{MaxDecodeBytes: 32 << 20}), "deep.png", deep); err != nil || len(frames) != 1 {
		t.Fatalf("16-bit PNG within budget: %d frames, %v", len(frames), err)
	}

	// On the default limits, the file: a header of 7071x7071 16-bit RGBA pixels (50 MP,
	// under MaxPixels) would take about 540 MB; it is refused before any pixel is read.
	_, err = NewDecoder(DefaultLimits()).Open(context.Background(), "bomb.png", pngHeader16(7071, 7071))
	wantCode(t, err, CodeTooManyPixels, "bomb.png")
	// While a 50 MP 8-bit one still passes the header check (it fails later as truncated).
	_, err = NewDecoder(DefaultLimits()).Open(context.Background(), "big.png", pngHeaderOnly(7071, 7071))
	if err != nil {
		t.Fatalf("a 50 MP 8-bit RGBA header is within the default budget: %v", err)
	}
}

// Concurrent decodes share one memory budget: a reservation waits for room, gives up when its
// context ends, and one larger than the whole budget is refused at once.
func TestDecodeMemorySharedBudget(t *testing.T) {
	t.Parallel()
	d := NewDecoder(Limits{DecodeMemory: 10 << 20})
	ctx := context.Background()
	release, err := d.reserve(ctx, "a.png", 8<<20, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := d.reserve(short, "b.png", 4<<20, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a reservation beyond the free budget: %v, want it to wait and end with its context", err)
	}
	got := make(chan error, 1)
	go func() {
		rel, err := d.reserve(ctx, "c.png", 4<<20, time.Minute)
		if err == nil {
			rel()
		}
		got <- err
	}()
	release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("after the release: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting reservation did not get the released memory")
	}
	_, err = d.reserve(ctx, "huge.png", 11<<20, time.Minute)
	e := wantCode(t, err, CodeTooManyPixels, "huge.png")
	if !strings.Contains(e.Error(), "budget") {
		t.Errorf("the message should name the budget: %v", e)
	}

	// Through Open: an image whose cost exceeds the shared budget is refused from its header.
	small := NewDecoder(Limits{DecodeMemory: 8 << 20})
	_, _, err = decodeAll(t, small, "deep.png", png16(t, 1200, 1000))
	wantCode(t, err, CodeTooManyPixels, "deep.png")
}

// BenchmarkDecode16BitPNG reports the bytes one decode of a 2000x1500 16-bit PNG allocates next to
// the cost the budget charges for it (the budget must not undercount).
func BenchmarkDecode16BitPNG(b *testing.B) {
	data := png16(b, 2000, 1500)
	d := NewDecoder(Limits{})
	var cost int64
	b.ReportAllocs()
	for b.Loop() {
		m, err := d.Open(context.Background(), "deep.png", data)
		if err != nil {
			b.Fatal(err)
		}
		cost = m.img.decodeCost(m.limits.MaxFrameSide)
		if err := m.Frames(context.Background(), func(Frame) error { return nil }); err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
	b.ReportMetric(float64(cost), "budget-B")
}
