package liveness

import (
	"image"
	"math"
	"slices"
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

// decodeFaces turns the detector outputs into faces in frame coordinates. The exported UltraFace
// graph already decodes its priors: "boxes" holds corner-form boxes normalised to [0,1], which is
// what the reference JS scales and keeps (its own prior decode is computed and then unused).
// Candidates at or above the score threshold go through greedy NMS with the reference's overlap
// measure (intersection with +1 pixel, over the other box's area); unlike the reference, which
// orders candidates by their bottom edge, we visit them by descending score so the kept box of
// each face is its most confident one.
func decodeFaces(scores, boxes []float32, frameW, frameH int) []Face {
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
	sx, sy := float64(frameW)/detW, float64(frameH)/detH
	faces := make([]Face, 0, len(kept))
	for _, k := range kept {
		raw := Box{k.b.X1 * sx, k.b.Y1 * sy, k.b.X2 * sx, k.b.Y2 * sy}
		faces = append(faces, Face{Box: squareBox(raw, frameW, frameH), Raw: raw, Score: k.score})
	}
	return faces
}

// squareBox makes the box square with side = its height around its centre, clamped to the frame,
// as the reference's scaleResult does.
func squareBox(b Box, w, h int) Box {
	s := b.H()
	cx, cy := b.Center()
	return Box{
		X1: math.Max(0, cx-s/2), Y1: math.Max(0, cy-s/2),
		X2: math.Min(float64(w-1), cx+s/2), Y2: math.Min(float64(h-1), cy+s/2),
	}
}
