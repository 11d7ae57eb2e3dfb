package liveness

import (
	"context"
	"fmt"
	"hash/fnv"
	"image"
	"image/draw"
	"math"

	"bonafide/media"
	"bonafide/onnx"
)

// TrainingCrop is one face of one frame as the passive models see it: what `bonafide train`
// writes for Python to train on. Every view comes from viewCrop, the crop rule the engine uses at
// inference, after the same decoding, letterbox removal, detector and primary-face choice.
type TrainingCrop struct {
	Frame int // index of the frame in the media
	// Close is 0 for the frame as decoded; k > 0 for the frame cut to a portrait window k times
	// the face box's side around the face: a close-range capture (a phone held at the face, a
	// tight crop) simulated from a farther one, detected again from scratch.
	Close   float64
	Box     Box     // the primary face's box in the (cut) frame
	Context float64 // the context the frame has room for around the face (fr_liveness.onnx's in-frame rule, at most 2.7)
	// Views are the crops, one per requested view, Size x Size; Landmarks the 68 points of the
	// landmark model in each view's pixels (for occluders drawn in training).
	Views     []*image.RGBA
	Landmarks []Landmarks
}

// CropOptions choose the views and the close-range cuts.
type CropOptions struct {
	Views []View
	// Close lists the close-range cuts to simulate (window side over the face box's side, e.g.
	// 1.15 and 1.4). A cut is made only from a frame with room for it (context at least k + 0.3):
	// a frame whose face already fills it is close range as it is.
	Close []float64
}

// TrainingCrops decodes a media as Analyze does (up to Config.Limits.MaxFrames evenly spaced
// frames) and calls fn with the crops of the primary face of every frame that has one. It takes
// in.Data (its sampling is seeded from the first bytes), not in.Reader.
func (e *Engine) TrainingCrops(ctx context.Context, in Input, o CropOptions, fn func(TrainingCrop) error) error {
	if len(o.Views) == 0 {
		return fmt.Errorf("liveness: no view asked")
	}
	if in.Reader != nil {
		return fmt.Errorf("liveness: TrainingCrops takes the media's Data, not a Reader")
	}
	for _, v := range o.Views {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("liveness: %w", err)
		}
	}
	m, err := e.dec.Open(ctx, in.Name, in.Data)
	if err != nil {
		return err
	}
	defer m.Close()
	seed := fnv.New64a()
	seed.Write(in.Data[:min(len(in.Data), 1<<16)])
	return m.Frames(ctx, func(f media.Frame) error {
		img := withoutBars(f.Image)
		tc, ok, err := e.trainingCrop(img, o.Views)
		if err != nil || !ok {
			return err
		}
		tc.Frame = f.Index
		if err := fn(tc); err != nil {
			return err
		}
		for i, k := range o.Close {
			if tc.Context < k+0.3 {
				continue
			}
			cut := closeCut(img, tc.Box, k, seed.Sum64()+uint64(f.Index*31+i))
			cc, ok, err := e.trainingCrop(cut, o.Views)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			cc.Frame, cc.Close = f.Index, k
			if err := fn(cc); err != nil {
				return err
			}
		}
		return nil
	})
}

// trainingCrop finds the primary face of img and cuts its views.
func (e *Engine) trainingCrop(img *image.RGBA, views []View) (TrainingCrop, bool, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	faces, _, err := e.detect(img)
	if err != nil || len(faces) == 0 {
		return TrainingCrop{}, false, err
	}
	f := primaryFace(faces, w, h)
	if f.Box.W() < 8 || f.Box.H() < 8 {
		return TrainingCrop{}, false, nil
	}
	_, ctxScale := padRect(img, f.Box)
	out, err := e.runScaled(onnx.Landmark, img, landmarkRect(img, f.Box), lmSize, lmSize, landmarkTensor)
	if err != nil {
		return TrainingCrop{}, false, err
	}
	lm := decodeLandmarks(out[0], f.Box)
	tc := TrainingCrop{Box: f.Box, Context: ctxScale}
	for _, v := range views {
		crop := image.NewRGBA(image.Rect(0, 0, v.Size, v.Size))
		pooled := e.viewCrop(img, f.Box, v)
		copy(crop.Pix, pooled.Pix)
		e.bufs.putRGBA(pooled)
		r := viewRect(f.Box, v.Scale)
		var vl Landmarks
		for i, p := range lm {
			vl[i] = [2]float64{(p[0] - float64(r.Min.X)) * float64(v.Size) / float64(r.Dx()),
				(p[1] - float64(r.Min.Y)) * float64(v.Size) / float64(r.Dy())}
		}
		tc.Views = append(tc.Views, crop)
		tc.Landmarks = append(tc.Landmarks, vl)
	}
	return tc, true, nil
}

// closeCut is a portrait (3:4) window of img whose width is k times the face box's side, around
// the face with a little jitter (seeded), as a phone held close frames a face: the face fills the
// width and sits a little above the middle.
func closeCut(img *image.RGBA, b Box, k float64, seed uint64) *image.RGBA {
	jit := func(s uint64) float64 { return float64(s%1000)/1000 - 0.5 } // [-0.5, 0.5)
	cx, cy := b.Center()
	side := b.W()
	w := k * side
	h := w * 4 / 3
	cx += jit(seed) * 0.15 * side
	cy += (0.12 + jit(seed/1000)*0.1) * side
	r := image.Rect(int(math.Round(cx-w/2)), int(math.Round(cy-h/2)), int(math.Round(cx+w/2)), int(math.Round(cy+h/2))).Intersect(img.Rect)
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Rect, img, r.Min, draw.Src)
	return out
}
