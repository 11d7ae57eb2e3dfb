package liveness

import (
	"fmt"
	"image"
	"math"
	"slices"
)

// Quality holds the per-frame quality figures of the primary face.
type Quality struct {
	FaceRatio  float64 `json:"face_ratio"` // face box side / shorter frame side
	Sharpness  float64 `json:"sharpness"`  // variance of the Laplacian on a 96x96 gray face crop
	Brightness float64 `json:"brightness"` // mean luma of the face, 0-255
	Clipped    float64 `json:"clipped"`    // share of face pixels at <=5 or >=250 luma
	Frontal    bool    `json:"frontal"`    // |yaw| <= 25 and |pitch| <= 20 degrees
	Score      float64 `json:"score"`      // 0-1 overall, used to weight frames and pick the best shot
}

// FrameResult is what the engine saw in one frame.
type FrameResult struct {
	Index int     `json:"index"`
	Time  float64 `json:"time"`
	Name  string  `json:"name,omitempty"`
	Faces int     `json:"faces"`
	// Primary face (largest, then most central); nil fields when no face was found.
	Box            *Box        `json:"box,omitempty"`
	DetScore       float64     `json:"det_score,omitempty"`
	Quality        *Quality    `json:"quality,omitempty"`
	Passive        *float64    `json:"passive,omitempty"`       // P(attack) of the passive model
	PassiveScale   float64     `json:"passive_scale,omitempty"` // context achieved for the 2.7x crop
	EyesOpen       *[2]float64 `json:"eyes_open,omitempty"`     // P(open) for the subject's right and left eye
	Yaw            *float64    `json:"yaw,omitempty"`
	Pitch          *float64    `json:"pitch,omitempty"`
	Roll           *float64    `json:"roll,omitempty"`
	Smile          *float64    `json:"smile,omitempty"`       // P(happy) of the expression model, when asked
	SecondFace     float64     `json:"second_face,omitempty"` // area of the 2nd face / primary face
	landmarks      *Landmarks
	embedding      []float32
	frameW, frameH int
}

type frameOpts struct {
	expression bool
	embedding  bool
	keepCrop   bool
}

// analyzeFrame runs the per-frame models on the primary face. It returns the face crop for the
// best shot when opts.keepCrop is set.
func (e *Engine) analyzeFrame(img *image.RGBA, opts frameOpts) (FrameResult, *image.RGBA, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	fr := FrameResult{frameW: w, frameH: h}

	det := make([]float32, 3*detW*detH)
	detectTensor(cropResize(img, img.Rect, detW, detH), det)
	out, err := e.models["detect"].Run(det)
	if err != nil {
		return fr, nil, err
	}
	faces := decodeFaces(out[0], out[1], w, h)
	fr.Faces = len(faces)
	if len(faces) == 0 {
		return fr, nil, nil
	}
	// Primary face: largest; on near-equal sizes the most central.
	slices.SortStableFunc(faces, func(a, b Face) int {
		aa, ba := a.Raw.Area(), b.Raw.Area()
		if math.Abs(aa-ba) > 0.05*math.Max(aa, ba) {
			if aa > ba {
				return -1
			}
			return 1
		}
		da, db := centerDist(a.Box, w, h), centerDist(b.Box, w, h)
		switch {
		case da < db:
			return -1
		case da > db:
			return 1
		}
		return 0
	})
	f := faces[0]
	if len(faces) > 1 {
		fr.SecondFace = faces[1].Raw.Area() / f.Raw.Area()
	}
	fr.Box, fr.DetScore = &f.Box, f.Score
	if f.Box.W() < 8 || f.Box.H() < 8 {
		return fr, nil, nil
	}

	// Landmarks.
	lmIn := make([]float32, lmSize*lmSize)
	landmarkTensor(landmarkCrop(img, f.Box), lmIn)
	out, err = e.models["landmark"].Run(lmIn)
	if err != nil {
		return fr, nil, err
	}
	lm := decodeLandmarks(out[0], f.Box)
	fr.landmarks = &lm

	// Passive anti-spoof.
	padIn := make([]float32, 3*padSize*padSize)
	crop, scale := padCrop(img, f.Box)
	padTensor(crop, padIn)
	out, err = e.models["liveness"].Run(padIn)
	if err != nil {
		return fr, nil, err
	}
	p := 1 - softmax(out[0])[0]
	fr.Passive, fr.PassiveScale = &p, scale

	// Eye state.
	var eyes [2]float64
	eyeIn := make([]float32, eyeSize*eyeSize)
	for k, r := range eyeRects(lm, w, h) {
		if r.Dx() < 2 || r.Dy() < 2 {
			eyes[k] = math.NaN()
			continue
		}
		eyeTensor(cropResize(img, r, eyeSize, eyeSize), eyeIn)
		out, err = e.models["eye"].Run(eyeIn)
		if err != nil {
			return fr, nil, err
		}
		eyes[k] = softmax(out[0])[eyeOpenIndex]
	}
	fr.EyesOpen = &eyes

	// Head pose.
	poseIn := make([]float32, 3*poseSize*poseSize)
	poseTensor(cropResize(img, poseRect(f.Box, img.Rect), poseSize, poseSize), poseIn)
	out, err = e.models["pose"].Run(poseIn)
	if err != nil {
		return fr, nil, err
	}
	yaw, pitch, roll := decodePose(out[0], out[1], out[2])
	yaw *= e.yawSign
	fr.Yaw, fr.Pitch, fr.Roll = &yaw, &pitch, &roll

	if opts.expression {
		exIn := make([]float32, 3*exprSize*exprSize)
		exprTensor(cropResize(img, exprRect(f.Box, img.Rect), exprSize, exprSize), exIn)
		out, err = e.models["expression"].Run(exIn)
		if err != nil {
			return fr, nil, err
		}
		s := softmax(out[0])[3]
		fr.Smile = &s
	}
	if opts.embedding {
		if fc, ok := featureCrop(img, lm); ok {
			in := make([]float32, 3*featSize*featSize)
			featureTensor(fc, in)
			out, err = e.models["feature"].Run(in)
			if err != nil {
				return fr, nil, err
			}
			fr.embedding = normalize(out[0])
		}
	}

	q := quality(img, f.Box, yaw, pitch)
	fr.Quality = &q
	var faceCrop *image.RGBA
	if opts.keepCrop {
		// A view into the frame, not a copy: frames are never reused by the decoder.
		r, _ := alignCrop(w, h, f.Box, 1.6)
		faceCrop = img.SubImage(r).(*image.RGBA)
	}
	return fr, faceCrop, nil
}

func centerDist(b Box, w, h int) float64 {
	cx, cy := b.Center()
	return math.Hypot(cx-float64(w)/2, cy-float64(h)/2)
}

// quality computes the quality figures of the face in b.
func quality(img *image.RGBA, b Box, yaw, pitch float64) Quality {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	q := Quality{FaceRatio: b.W() / float64(min(w, h))}
	const n = 96
	y := luma(cropResize(img, b.rect(img.Rect), n, n))
	var sum float64
	var clipped int
	for _, v := range y {
		sum += v
		if v <= 5 || v >= 250 {
			clipped++
		}
	}
	q.Brightness = sum / float64(len(y))
	q.Clipped = float64(clipped) / float64(len(y))
	// Variance of the 4-neighbour Laplacian.
	var ls, ls2 float64
	var cnt int
	for yy := 1; yy < n-1; yy++ {
		for xx := 1; xx < n-1; xx++ {
			l := y[(yy-1)*n+xx] + y[(yy+1)*n+xx] + y[yy*n+xx-1] + y[yy*n+xx+1] - 4*y[yy*n+xx]
			ls += l
			ls2 += l * l
			cnt++
		}
	}
	mean := ls / float64(cnt)
	q.Sharpness = ls2/float64(cnt) - mean*mean
	q.Frontal = math.Abs(yaw) <= 25 && math.Abs(pitch) <= 20
	// Overall score: each factor in [0,1].
	size := clamp((q.FaceRatio-0.08)/(0.25-0.08), 0, 1)
	sharp := clamp(q.Sharpness/minSharpness/2, 0, 1)
	expo := 1 - clamp(math.Abs(q.Brightness-128)/128, 0, 1)*0.7 - clamp(q.Clipped*2, 0, 0.5)
	pose := 1 - clamp((math.Abs(yaw)+math.Abs(pitch))/90, 0, 0.8)
	q.Score = clamp(size*(0.4+0.6*sharp)*expo*pose, 0, 1)
	return q
}

// String is a short description for debugging.
func (fr FrameResult) String() string {
	if fr.Box == nil {
		return fmt.Sprintf("frame %d: %d faces", fr.Index, fr.Faces)
	}
	return fmt.Sprintf("frame %d t=%.2f faces=%d box=%.0f,%.0f,%.0f,%.0f passive=%.3f eyes=%.2f,%.2f yaw=%.1f pitch=%.1f roll=%.1f",
		fr.Index, fr.Time, fr.Faces, fr.Box.X1, fr.Box.Y1, fr.Box.X2, fr.Box.Y2, deref(fr.Passive),
		fr.EyesOpen[0], fr.EyesOpen[1], deref(fr.Yaw), deref(fr.Pitch), deref(fr.Roll))
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
