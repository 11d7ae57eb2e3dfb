package liveness

import (
	"image"
	"math"

	"bonafide/onnx"
)

// Face tracking between the frames of a video (issue 21). The detector is the most expensive
// per-frame model, and between two frames 0.1 s apart a face moves little: the landmarks of one
// frame say where the face is in the next. So the detector runs on the full frames (the ones that
// get the passive model, every fullStep-th) and whenever the track is lost; on the frames between,
// the landmark model runs on the box the previous frame's landmarks imply, and its own output
// gives the frame's box. A track is lost when the new landmarks do not describe a face of about
// the same size near the same place, or when the face's picture in its new box does not look like
// the last frame's (normalised cross-correlation of small gray patches below trackMinMatch): a
// landmark model fed a box without a face still answers, with a face-shaped set of points where
// the last face was. On the development set's videos the patches of consecutive tracked frames
// correlate at a median of 0.76-0.99; a cut to a plain wall gives 0.

const (
	trackMaxRuns  = 8    // tracked frames in a row before the detector looks again
	trackMaxScale = 1.25 // the box side may change by at most this factor from one frame to the next
	trackMaxShift = 0.35 // and its centre move by at most this share of the side
	trackMinMatch = 0.4  // the face's picture must correlate at least this much with the last frame's
	trackPatch    = 24   // pixels on a side of the gray picture of the face the match compares
	minFaceSide   = 8    // pixels: a smaller box has no face the models can read
)

// tracker carries a face from one frame to the next. The zero value has no track (side 0).
type tracker struct {
	lm    Landmarks // the last frame's landmarks
	patch []float64 // the last frame's face, gray, trackPatch x trackPatch
	score float64   // the detector score of the face when it was last detected
	// How the detector's box sits on the landmarks of the frame it was found in: the box centre's
	// offset from the landmarks' centre and the box side, both in units of the landmarks' spread.
	dx, dy, side float64
	runs         int // frames tracked since the detector last ran
}

// landmarkFrame is the centre and the spread (root mean square distance from the centre) of a set
// of landmarks.
func landmarkFrame(lm *Landmarks) (cx, cy, spread float64) {
	cx, cy = landmarkCentre(lm)
	var s float64
	for _, p := range lm {
		s += (p[0]-cx)*(p[0]-cx) + (p[1]-cy)*(p[1]-cy)
	}
	return cx, cy, math.Sqrt(s / float64(len(lm)))
}

// seed starts a track from a detected face, the landmarks found in its box and its picture; a
// set of landmarks without spread starts none.
func (t *tracker) seed(f Face, lm *Landmarks, patch []float64) {
	*t = tracker{}
	if cx, cy, s := landmarkFrame(lm); s > 0 {
		bx, by := f.Box.Center()
		*t = tracker{lm: *lm, patch: patch, score: f.Score, dx: (bx - cx) / s, dy: (by - cy) / s, side: f.Box.W() / s}
	}
}

// facePatch is the gray picture of box b in img, trackPatch pixels on a side.
func facePatch(img *image.RGBA, b Box) []float64 {
	return luma(cropResize(img, b.rect(img.Rect), trackPatch, trackPatch))
}

// match is the normalised cross-correlation of two patches: 1 for the same picture up to
// brightness and contrast, about 0 for unrelated ones, and 0 when either is flat.
func match(a, b []float64) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa < 1e-6 || sbb < 1e-6 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// boxFrom is the box the detector would draw around a face with these landmarks, as the seed
// frame's relation of box to landmarks says.
func (t *tracker) boxFrom(lm *Landmarks) Box {
	cx, cy, s := landmarkFrame(lm)
	bx, by, half := cx+t.dx*s, cy+t.dy*s, t.side*s/2
	return Box{X1: bx - half, Y1: by - half, X2: bx + half, Y2: by + half}
}

// follows reports whether box next (from this frame's landmarks) continues box prev (the one the
// landmark model was given) in a w x h frame: about the same size, nearby, its centre in the frame.
func follows(prev, next Box, w, h int) bool {
	ps, ns := prev.W(), next.W()
	if ns < minFaceSide || ps <= 0 || ns/ps > trackMaxScale || ps/ns > trackMaxScale {
		return false
	}
	pcx, pcy := prev.Center()
	ncx, ncy := next.Center()
	if math.Hypot(ncx-pcx, ncy-pcy) > trackMaxShift*ps {
		return false
	}
	return ncx >= 0 && ncy >= 0 && ncx < float64(w) && ncy < float64(h)
}

// landmarks runs the landmark model on the face in box b of img.
func (e *Engine) landmarks(img *image.RGBA, b Box) (Landmarks, error) {
	out, err := e.runScaled(onnx.Landmark, img, landmarkRect(img, b), lmSize, lmSize, landmarkTensor)
	if err != nil {
		return Landmarks{}, err
	}
	return decodeLandmarks(out[0], b), nil
}

// locate finds the primary face of a frame (without its letterbox bars) and its landmarks, and
// fills fr's face fields. With a tracker t and detect false it first follows the tracked face
// (fr.Tracked), and falls back to the detector when the track is lost; t is updated either way.
// A photo, or a frame analysed alone, passes t nil.
func (e *Engine) locate(img *image.RGBA, fr *FrameResult, t *tracker, detect bool) error {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if t != nil && t.side > 0 && !detect && t.runs < trackMaxRuns {
		prev := t.boxFrom(&t.lm)
		lm, err := e.landmarks(img, prev)
		if err != nil {
			return err
		}
		next := t.boxFrom(&lm)
		var patch []float64
		if follows(prev, next, w, h) {
			patch = facePatch(img, next)
		}
		if patch != nil && match(t.patch, patch) >= trackMinMatch {
			t.lm, t.runs, t.patch = lm, t.runs+1, patch
			fr.Faces, fr.Tracked, fr.DetScore = 1, true, t.score
			fr.Box, fr.landmarks = &next, &lm
			return nil
		}
	}
	if t != nil {
		*t = tracker{}
	}
	faces, padded, err := e.detect(img)
	if err != nil {
		return err
	}
	fr.Faces, fr.DetectPadded = len(faces), padded
	if len(faces) == 0 {
		return nil
	}
	f := primaryFace(faces, w, h)
	// The second face: the largest other one the detector is sure of that is not a second box on
	// the primary face.
	for _, g := range faces[1:] {
		if g.Score >= e.cfg.MultipleFaceScore && overlap(g.Raw, f.Raw) < 0.3 {
			fr.SecondFace, fr.SecondScore = g.Raw.Area()/f.Raw.Area(), g.Score
			fr.SecondBox = &g.Raw
			break
		}
	}
	fr.Box, fr.DetScore = &f.Box, f.Score
	if f.Box.W() < minFaceSide || f.Box.H() < minFaceSide {
		return nil
	}
	lm, err := e.landmarks(img, f.Box)
	if err != nil {
		return err
	}
	fr.landmarks = &lm
	if t != nil {
		t.seed(f, &lm, facePatch(img, f.Box))
	}
	return nil
}
