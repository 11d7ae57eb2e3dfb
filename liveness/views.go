package liveness

import (
	"fmt"
	"image"
	"math"
)

// View is how a passive model sees a face: a square Scale times the face box's side around the
// box's centre, never shifted or shrunk to fit the frame (what lies outside the frame repeats the
// frame's edge pixels, scaleInto), scaled to Size x Size. Unlike the reference crop of
// fr_liveness.onnx (alignCrop, which shrinks the context to what fits the frame), the face is at
// the same place and scale whether it fills the frame or not: a model trained on these views sees
// close range and far range on one scale. The training crops `bonafide train` writes and the
// tensors the engine builds at inference both come from viewCrop, the one crop rule.
type View struct {
	Scale float64 `json:"scale"` // context: the crop's side over the face box's side
	Size  int     `json:"size"`  // the model's input side in pixels
}

// String names the view as the training crops' file names do ("p2.7").
func (v View) String() string { return fmt.Sprintf("p%g", v.Scale) }

func (v View) Validate() error {
	if v.Scale < 1 || v.Scale > 6 {
		return fmt.Errorf("view scale %v must be in [1, 6]", v.Scale)
	}
	if v.Size < 16 || v.Size > 512 {
		return fmt.Errorf("view size %d must be in [16, 512]", v.Size)
	}
	return nil
}

// viewRect is the view's square in frame coordinates.
func viewRect(b Box, scale float64) image.Rectangle {
	cx, cy := b.Center()
	half := b.W() * scale / 2
	return image.Rect(int(math.Round(cx-half)), int(math.Round(cy-half)), int(math.Round(cx+half)), int(math.Round(cy+half)))
}

// paddedPadRect is the 2.7x view of fr_liveness.onnx with the frame's edges repeated (engine 0.2's
// passive_padded).
func paddedPadRect(b Box) image.Rectangle { return viewRect(b, padScale) }

// viewCrop cuts the view of the face b out of frame into a pooled image (release with putRGBA).
func (e *Engine) viewCrop(frame *image.RGBA, b Box, v View) *image.RGBA {
	return e.bufs.scaledTemp(frame, viewRect(b, v.Scale), v.Size, v.Size)
}

// viewTensor is a passive model's input: raw 0-255 values in B,G,R plane order, as the
// Silent-Face family was trained (see liveness.md).
func viewTensor(crop *image.RGBA, out []float32) { padTensor(crop, out) }

// PassiveTensor fills out with a passive model's input for a crop (a view the engine cut, or a
// training crop read back from its PNG): the same tensor the engine builds at inference.
func PassiveTensor(crop *image.RGBA, out []float32) { viewTensor(crop, out) }
