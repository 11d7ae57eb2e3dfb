package liveness

import (
	"image"
	"math"
	"slices"

	"bonafide/onnx"
)

// Detector constants of UltraFace RFB-320 as its reference JS (faceplugin lib/fr_detect.js) uses them.
const (
	detW, detH      = 320, 240
	detAnchors      = 4420
	detMinScore     = 0.65
	detNMSThreshold = 0.4
	detTopK         = 750
)

// Face is one detected face.
type Face struct {
	Box   Box     `json:"box"`   // square box in frame pixels, as the reference squares it
	Raw   Box     `json:"-"`     // the detector's own box before squaring
	Score float64 `json:"score"` // detector confidence
}

// detectTensor builds the detector input from a 320x240 image: planes in B,G,R order (the reference
// converts its RGBA canvas with COLOR_BGR2RGB, which swaps R and B), values (v-127)/128.
func detectTensor(img *image.RGBA, out []float32) {
	planes(img, [3]int{2, 1, 0}, 1, [3]float64{127, 127, 127}, [3]float64{128, 128, 128}, out)
}

// detView is how a frame sits in the detector's 320x240 input: scaled by sx, sy (equal but for
// rounding: the frame keeps its aspect ratio) and placed at ox, oy, the rest of the input mid-gray.
// A 9:16 portrait frame is letterboxed, never stretched to 4:3.
type detView struct {
	r              image.Rectangle // where the frame lands in the input
	sx, sy, ox, oy float64
}

// letterbox is the view of a w x h frame scaled to fit the input, times shrink (1 = fit; below 1
// leaves a border around the frame, so a face that fills the frame looks like one seen from
// further away).
func letterbox(w, h int, shrink float64) detView {
	s := math.Min(float64(detW)/float64(w), float64(detH)/float64(h)) * shrink
	dw, dh := max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
	x0, y0 := (detW-dw)/2, (detH-dh)/2
	return detView{r: image.Rect(x0, y0, x0+dw, y0+dh),
		sx: float64(dw) / float64(w), sy: float64(dh) / float64(h), ox: float64(x0), oy: float64(y0)}
}

// detectInput draws the frame into the detector's input image as the view says.
func detectInput(dst, frame *image.RGBA, v detView) {
	if v.r != dst.Rect {
		for i := 0; i < len(dst.Pix); i += 4 {
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = detPad, detPad, detPad, 255
		}
	}
	approxBiLinear(dst, v.r, frame, frame.Rect)
}

// detPad is the value of the input outside the frame: 127 is 0 after the (v-127)/128 normalisation.
const detPad = 127

// decodeFaces turns the detector outputs into faces in frame coordinates. The exported UltraFace
// graph already decodes its priors: "boxes" holds corner-form boxes normalised to [0,1], which is
// what the reference JS scales and keeps (its own prior decode is computed and then unused).
// Candidates at or above the score threshold go through greedy NMS with the reference's overlap
// measure (intersection with +1 pixel, over the other box's area); unlike the reference, which
// orders candidates by their bottom edge, we visit them by descending score so the kept box of
// each face is its most confident one.
func decodeFaces(scores, boxes []float32, v detView) []Face {
	type cand struct {
		b     Box
		score float64
	}
	var cs []cand
	for i := range detAnchors {
		s := float64(scores[i*2+1])
		if s < detMinScore {
			continue
		}
		b := Box{
			X1: float64(boxes[i*4]) * detW, Y1: float64(boxes[i*4+1]) * detH,
			X2: float64(boxes[i*4+2]) * detW, Y2: float64(boxes[i*4+3]) * detH,
		}
		if b.W() <= 0 || b.H() <= 0 {
			continue
		}
		cs = append(cs, cand{b, s})
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	if len(cs) > detTopK {
		cs = cs[:detTopK]
	}
	var kept []cand
	suppressed := make([]bool, len(cs))
	for i := range cs {
		if suppressed[i] {
			continue
		}
		kept = append(kept, cs[i])
		for j := i + 1; j < len(cs); j++ {
			if suppressed[j] {
				continue
			}
			a, b := cs[i].b, cs[j].b
			w := math.Max(0, math.Min(a.X2, b.X2)-math.Max(a.X1, b.X1)+1)
			h := math.Max(0, math.Min(a.Y2, b.Y2)-math.Max(a.Y1, b.Y1)+1)
			if w*h/b.Area() >= detNMSThreshold {
				suppressed[j] = true
			}
		}
	}
	faces := make([]Face, 0, len(kept))
	for _, k := range kept {
		raw := Box{(k.b.X1 - v.ox) / v.sx, (k.b.Y1 - v.oy) / v.sy, (k.b.X2 - v.ox) / v.sx, (k.b.Y2 - v.oy) / v.sy}
		faces = append(faces, Face{Box: squareBox(raw), Raw: raw, Score: k.score})
	}
	return faces
}

// squareBox makes the box square with side = its height around its centre, as the reference's
// scaleResult does. Unlike the reference it does not clamp the square to the frame: a face that
// fills the frame or is cut by its edge keeps a square box, and the crops pad what lies outside.
func squareBox(b Box) Box {
	s := b.H()
	cx, cy := b.Center()
	return Box{X1: cx - s/2, Y1: cy - s/2, X2: cx + s/2, Y2: cy + s/2}
}

// inside reports whether the box lies within a w x h frame.
func (b Box) inside(w, h int) bool {
	return b.X1 >= 0 && b.Y1 >= 0 && b.X2 <= float64(w-1) && b.Y2 <= float64(h-1)
}

// detViews are the views the detector tries in turn until one finds a face: the frame fitted to
// the input; the frame at 70% and 45% of that size inside a mid-gray border (UltraFace misses
// faces that fill its input, as in tight face crops or a phone held close; with a border they look
// like faces at selfie distance); and, for a dark frame only, the frame fitted and at 60% with the
// shadows lifted. On the development set these retries bring the live media without a face from
// 332 to 10 of 2,113. A frame with a face costs one detector run, a frame without one five.
var detViews = []struct {
	shrink float64
	bright bool
}{{1, false}, {0.7, false}, {0.45, false}, {1, true}, {0.6, true}}

// darkLuma is the mean luma of the detector input below which a frame counts as dark.
const darkLuma = 80

// detect finds the faces of a frame, and reports whether it took more than the first view.
func (e *Engine) detect(img *image.RGBA) ([]Face, bool, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	in := e.bufs.getRGBA(detW, detH)
	defer e.bufs.putRGBA(in)
	var lut *[256]uint8
	for k, view := range detViews {
		v := letterbox(w, h, view.shrink)
		detectInput(in, img, v)
		if view.bright {
			if lut == nil {
				if lut = liftShadows(in, v.r); lut == nil {
					break // not dark: the remaining views are the dark ones
				}
			}
			applyLUT(in, v.r, lut)
		}
		faces, err := e.detectIn(in, v)
		if err != nil {
			return nil, false, err
		}
		if len(faces) == 0 {
			continue
		}
		// A face that fills the frame is seen cut by its edges, and the detector shrinks its box
		// to what is visible; in a bordered view it draws the whole face, as the landmark and
		// passive models expect. So such a face is looked at again in the next view, whose faces
		// replace these when its largest box is larger (it drew more of the face).
		if k == 0 && fillsFrame(faces, w, h) {
			v2 := letterbox(w, h, detViews[1].shrink)
			detectInput(in, img, v2)
			bordered, err := e.detectIn(in, v2)
			if err != nil {
				return nil, false, err
			}
			if len(bordered) > 0 && largest(bordered) > largest(faces) {
				return bordered, true, nil
			}
		}
		return faces, k > 0, nil
	}
	return nil, false, nil
}

// detectIn runs the detector on its prepared input and maps the faces back to the frame.
func (e *Engine) detectIn(in *image.RGBA, v detView) ([]Face, error) {
	out, err := e.run(onnx.Detect, func(t []float32) { detectTensor(in, t) })
	if err != nil {
		return nil, err
	}
	return decodeFaces(out[0], out[1], v), nil
}

// fillsFrame reports whether the largest face's box spans at least 80% of the frame's shorter side.
func fillsFrame(faces []Face, w, h int) bool {
	var side float64
	for _, f := range faces {
		side = math.Max(side, math.Max(f.Raw.W(), f.Raw.H()))
	}
	return side >= 0.8*float64(min(w, h))
}

// largest is the largest raw box area among the faces.
func largest(faces []Face) float64 {
	var a float64
	for _, f := range faces {
		a = math.Max(a, f.Raw.Area())
	}
	return a
}

// liftShadows returns a gamma table that brings the mean luma of r in img to about 45% of full
// scale, or nil when r is not dark.
func liftShadows(img *image.RGBA, r image.Rectangle) *[256]uint8 {
	var sum float64
	y := luma(img.SubImage(r).(*image.RGBA))
	for _, v := range y {
		sum += v
	}
	mean := sum / float64(max(1, len(y)))
	if mean >= darkLuma {
		return nil
	}
	g := clamp(math.Log(0.45)/math.Log(math.Max(mean, 1)/255), 0.25, 1)
	var lut [256]uint8
	for i := range lut {
		lut[i] = uint8(math.Round(255 * math.Pow(float64(i)/255, g)))
	}
	return &lut
}

func applyLUT(img *image.RGBA, r image.Rectangle, lut *[256]uint8) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):]
		for x := range r.Dx() {
			row[4*x], row[4*x+1], row[4*x+2] = lut[row[4*x]], lut[row[4*x+1]], lut[row[4*x+2]]
		}
	}
}
