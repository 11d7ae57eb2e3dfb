package liveness

import (
	"image"
	"math"

	"golang.org/x/image/math/f64"
)

// Each function here reproduces the crop and tensor layout of one model's reference code in the npm
// package faceplugin@1.0.3 (lib/fr_*.js), where that code reads an RGBA canvas with OpenCV.js. The
// one deliberate difference is the passive anti-spoof model, fed B,G,R planes as its original
// training code does (see liveness.md). liveness/testdata/reference.cjs runs the same crops through
// onnxruntime-node with the JS preprocessing and the tests compare the outputs.

// Sizes of the model inputs.
const (
	lmSize   = 64
	padSize  = 128
	eyeSize  = 24
	poseSize = 224
	exprSize = 224
	featSize = 112

	padScale = 2.7 // the passive model's crop: 2.7 times the face box
)

// alignCrop is the reference's alignLivenessImage/alignLandmarkImage crop: the box scaled by scale
// (at most what fits the frame) around its centre, shifted back inside the frame. It returns the
// integer rectangle and the scale actually used.
func alignCrop(frameW, frameH int, b Box, scale float64) (image.Rectangle, float64) {
	x, y := math.Trunc(b.X1), math.Trunc(b.Y1)
	bw, bh := math.Abs(math.Trunc(b.X2)-x), math.Abs(math.Trunc(b.Y2)-y)
	if bw < 1 || bh < 1 {
		return image.Rectangle{}, 0
	}
	srcW, srcH := float64(frameW), float64(frameH)
	scale = math.Min((srcH-1)/bh, math.Min((srcW-1)/bw, scale))
	nw, nh := bw*scale, bh*scale
	cx, cy := bw/2+x, bh/2+y
	l, t, r, btm := cx-nw/2, cy-nh/2, cx+nw/2, cy+nh/2
	if l < 0 {
		r -= l
		l = 0
	}
	if t < 0 {
		btm -= t
		t = 0
	}
	if r > srcW-1 {
		l -= r - srcW + 1
		r = srcW - 1
	}
	if btm > srcH-1 {
		t -= btm - srcH + 1
		btm = srcH - 1
	}
	x0, y0 := math.Max(math.Trunc(l), 0), math.Max(math.Trunc(t), 0)
	w := math.Min(math.Trunc(r-l), srcW-1)
	h := math.Min(math.Trunc(btm-t), srcH-1)
	return image.Rect(int(x0), int(y0), int(x0+w), int(y0+h)), scale
}

// landmarkRect is the landmark model's crop: the box itself (the reference's alignCrop at scale 1
// when the box is inside the frame; the box as it is, padded by the crop, when it reaches past an
// edge, so the face is not squeezed).
func landmarkRect(frame *image.RGBA, b Box) image.Rectangle {
	if !b.inside(frame.Rect.Dx(), frame.Rect.Dy()) {
		return image.Rect(int(math.Trunc(b.X1)), int(math.Trunc(b.Y1)), int(math.Trunc(b.X2)), int(math.Trunc(b.Y2)))
	}
	r, _ := alignCrop(frame.Rect.Dx(), frame.Rect.Dy(), b, 1.0)
	return r
}

// landmarkCrop returns the 64x64 input image of the landmark model.
func landmarkCrop(frame *image.RGBA, b Box) *image.RGBA {
	return cropResize(frame, landmarkRect(frame, b), lmSize, lmSize)
}

// landmarkTensor: gray (the reference's BGR2GRAY on RGBA) divided by 256.
func landmarkTensor(crop *image.RGBA, out []float32) {
	for i, g := range grayBGR(crop) {
		out[i] = float32(float64(g) / 256)
	}
}

// Landmarks are the 68 facial points (iBUG 300-W order) in frame pixels.
type Landmarks [68][2]float64

// decodeLandmarks maps the model's [0,1] outputs onto the face box as the reference does.
func decodeLandmarks(out []float32, b Box) Landmarks {
	var lm Landmarks
	x1, y1 := math.Trunc(b.X1), math.Trunc(b.Y1)
	w, h := math.Abs(math.Trunc(b.X2)-x1), math.Abs(math.Trunc(b.Y2)-y1)
	for i := range lm {
		lm[i] = [2]float64{float64(out[2*i])*w + x1, float64(out[2*i+1])*h + y1}
	}
	return lm
}

// padCrop returns the passive model's 128x128 crop and the context scale achieved (2.7 when the
// frame has room around the face; less when the face fills the frame).
func padCrop(frame *image.RGBA, b Box) (*image.RGBA, float64) {
	r, s := padRect(frame, b)
	return cropResize(frame, r, padSize, padSize), s
}

// padRect is the passive model's crop rectangle and the context scale achieved.
func padRect(frame *image.RGBA, b Box) (image.Rectangle, float64) {
	return alignCrop(frame.Rect.Dx(), frame.Rect.Dy(), b, padScale)
}

// padTensor: raw 0-255 values in B,G,R plane order.
func padTensor(crop *image.RGBA, out []float32) {
	planes(crop, [3]int{2, 1, 0}, 1, [3]float64{}, [3]float64{1, 1, 1}, out)
}

// eyeRects are the reference's getEyeBBox squares around each eye (subject's right eye, points
// 36-41, first; then points 42-47).
func eyeRects(lm Landmarks, frameW, frameH int) [2]image.Rectangle {
	var out [2]image.Rectangle
	for k, base := range [2]int{36, 42} {
		cx := math.Trunc((lm[base+1][0] + lm[base+2][0] + lm[base+4][0] + lm[base+5][0]) / 4)
		cy := math.Trunc((lm[base+1][1] + lm[base+2][1] + lm[base+4][1] + lm[base+5][1]) / 4)
		size := math.Trunc((lm[base+3][0] - lm[base][0]) * 1.6)
		x := math.Max(0, math.Trunc(cx-size/2))
		y := math.Max(0, math.Trunc(cy-size/2))
		if x+size >= float64(frameW) {
			size = float64(frameW) - x - 1
		}
		if y+size >= float64(frameH) {
			size = float64(frameH) - y - 1
		}
		out[k] = image.Rect(int(x), int(y), int(x+size), int(y+size))
	}
	return out
}

// eyeTensor: gray (BGR2GRAY on RGBA) divided by 255.
func eyeTensor(crop *image.RGBA, out []float32) {
	for i, g := range grayBGR(crop) {
		out[i] = float32(float64(g) / 255)
	}
}

// poseRect is the reference's crop for the head-pose model: the box grown by a quarter on each side.
func poseRect(b Box, frame image.Rectangle) image.Rectangle {
	x1, y1 := math.Trunc(b.X1), math.Trunc(b.Y1)
	x2, y2 := math.Trunc(b.X2), math.Trunc(b.Y2)
	w, h := x2-x1, y2-y1
	return image.Rect(int(x1-w/4), int(y1-h/4), int(x2+w/4), int(y2+h/4)).Intersect(frame)
}

// poseTensor: ImageNet normalisation of planes in B,G,R order (the reference applies BGR2RGB to an
// RGBA canvas, which swaps R and B).
func poseTensor(crop *image.RGBA, out []float32) {
	planes(crop, [3]int{2, 1, 0}, 255, [3]float64{0.485, 0.456, 0.406}, [3]float64{0.229, 0.224, 0.225}, out)
}

// decodePose turns the three 66-bin outputs into degrees: the softmax expectation * 3 - 99.
func decodePose(yawBins, pitchBins, rollBins []float32) (yaw, pitch, roll float64) {
	deg := func(bins []float32) float64 {
		var e float64
		for i, p := range softmax(bins) {
			e += p * float64(i)
		}
		return e*3 - 99
	}
	return deg(yawBins), deg(pitchBins), deg(rollBins)
}

// exprRect is the reference's expression crop: from the box's top-left corner, 1.2 times its size.
func exprRect(b Box, frame image.Rectangle) image.Rectangle {
	x, y := math.Trunc(b.X1), math.Trunc(b.Y1)
	w := math.Min(math.Trunc((math.Trunc(b.X2)-x)*1.2), float64(frame.Dx()-1))
	h := math.Min(math.Trunc((math.Trunc(b.Y2)-y)*1.2), float64(frame.Dy()-1))
	return image.Rect(int(x), int(y), int(x+w), int(y+h)).Intersect(frame)
}

// exprTensor: planes R,G,B divided by 255.
func exprTensor(crop *image.RGBA, out []float32) {
	planes(crop, [3]int{0, 1, 2}, 255, [3]float64{}, [3]float64{1, 1, 1}, out)
}

// exprHappy is the "happy" class of fr_expression.onnx, whose 7 outputs follow the FER-2013 label
// order: angry, disgust, fear, happy, sad, surprise, neutral.
const exprHappy = 3

// featureRefPoints are the reference's 112x112 template: eyes, nose tip, mouth corners.
var featureRefPoints = [5][2]float64{
	{38.29459953, 51.69630051}, {73.53179932, 51.50139999}, {56.02519989, 71.73660278},
	{41.54930115, 92.3655014}, {70.72990036, 92.20410156},
}

// featureCrop warps the face onto the template with the affine transform of the first three points
// (eye centres and nose tip), as the reference does with cv.getAffineTransform and cv.warpAffine.
func featureCrop(frame *image.RGBA, lm Landmarks) (*image.RGBA, bool) {
	eye := func(base int) [2]float64 {
		return [2]float64{
			(lm[base+1][0] + lm[base+2][0] + lm[base+4][0] + lm[base+5][0]) / 4,
			(lm[base+1][1] + lm[base+2][1] + lm[base+4][1] + lm[base+5][1]) / 4,
		}
	}
	src := [3][2]float64{eye(36), eye(42), lm[30]}
	dst := [3][2]float64{featureRefPoints[0], featureRefPoints[1], featureRefPoints[2]}
	m, ok := affineFrom3(src, dst)
	if !ok {
		return nil, false
	}
	return warpAffine(frame, f64.Aff3(m), featSize, featSize), true
}

// featureTensor: planes R,G,B, (v-127)/128.
func featureTensor(crop *image.RGBA, out []float32) {
	planes(crop, [3]int{0, 1, 2}, 1, [3]float64{127, 127, 127}, [3]float64{128, 128, 128}, out)
}

// normalize scales v to unit length.
func normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	s = math.Sqrt(s)
	out := make([]float32, len(v))
	if s == 0 {
		return out
	}
	for i, x := range v {
		out[i] = float32(float64(x) / s)
	}
	return out
}

func cosine(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
