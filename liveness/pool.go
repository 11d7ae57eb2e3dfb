package liveness

import (
	"image"
	"sync"
)

// Per-frame buffers are reused: a 320x240 detector tensor alone is 900 KB, and zeroing fresh ones
// for every frame costs more than a small model run. Every buffer taken is fully overwritten
// before use (tensors by their builders, images by draw.Src scaling).
// Each Engine has its own.
type buffers struct {
	floats sync.Map // int -> *sync.Pool of *[]float32
	rgba   sync.Map // image.Point -> *sync.Pool of *image.RGBA
}

func (b *buffers) getFloats(n int) []float32 {
	p, _ := b.floats.LoadOrStore(n, &sync.Pool{New: func() any { s := make([]float32, n); return &s }})
	return *(p.(*sync.Pool).Get().(*[]float32))
}

func (b *buffers) putFloats(s []float32) {
	if p, ok := b.floats.Load(len(s)); ok {
		p.(*sync.Pool).Put(&s)
	}
}

func (b *buffers) getRGBA(w, h int) *image.RGBA {
	k := image.Pt(w, h)
	p, _ := b.rgba.LoadOrStore(k, &sync.Pool{New: func() any { return image.NewRGBA(image.Rect(0, 0, w, h)) }})
	return p.(*sync.Pool).Get().(*image.RGBA)
}

func (b *buffers) putRGBA(img *image.RGBA) {
	if p, ok := b.rgba.Load(image.Pt(img.Rect.Dx(), img.Rect.Dy())); ok {
		p.(*sync.Pool).Put(img)
	}
}

// scaledTemp scales r of src into a pooled w x h image; release it with putRGBA.
func (b *buffers) scaledTemp(src *image.RGBA, r image.Rectangle, w, h int) *image.RGBA {
	dst := b.getRGBA(w, h)
	scaleInto(dst, src, r)
	return dst
}
