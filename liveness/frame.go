package liveness

import (
	"image"
	"image/draw"
	"math"
	"slices"
	"sync"

	"bonafide/onnx"
)

// Quality holds the per-frame quality figures of the primary face.
type Quality struct {
	FaceRatio  float64 `json:"face_ratio"` // face box side / shorter frame side
	Sharpness  float64 `json:"sharpness"`  // variance of the Laplacian on a 96x96 gray face crop
	Brightness float64 `json:"brightness"` // mean luma of the face, 0-255
	Clipped    float64 `json:"clipped"`    // share of face pixels at <=5 or >=250 luma
	Frontal    bool    `json:"frontal"`    // |yaw| <= 25 and |pitch| <= 20 degrees (false when pose was not measured)
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
	DetectPadded   bool        `json:"detect_padded,omitempty"` // found only with a border around the frame
	Tracked        bool        `json:"tracked,omitempty"`       // found by following the previous frame's landmarks, not by the detector (Faces is then 1)
	Quality        *Quality    `json:"quality,omitempty"`
	Passive        *float64    `json:"passive,omitempty"`       // P(attack) of the passive model (its view: PassiveSet's "passive" member)
	PassiveWide    *float64    `json:"passive_wide,omitempty"`  // P(attack) of the wide-context passive model, when the set has one
	PassiveScale   float64     `json:"passive_scale,omitempty"` // context the frame has room for around the face (at most 2.7x of the box): below about 1.2 the face fills the frame
	EyesOpen       *[2]float64 `json:"eyes_open,omitempty"`     // P(open) for the subject's right and left eye
	Yaw            *float64    `json:"yaw,omitempty"`           // head pose model, degrees, + = the person's own left
	YawLandmarks   *float64    `json:"yaw_landmarks,omitempty"` // from the nose between the jaw edges, degrees, + = own left
	Pitch          *float64    `json:"pitch,omitempty"`
	Roll           *float64    `json:"roll,omitempty"`
	Smile          *float64    `json:"smile,omitempty"`        // P(happy) of the expression model, when asked
	SecondFace     float64     `json:"second_face,omitempty"`  // raw detector box area of the 2nd face / primary face
	SecondBox      *Box        `json:"second_box,omitempty"`   // the 2nd face's raw detector box
	SecondScore    float64     `json:"second_score,omitempty"` // its detector score
	landmarks      *Landmarks
	embedding      []float32
	featCrop       *image.RGBA // the aligned face crop of a frame sampled for the identity check, until embedIdentity
	sampled        bool        // sampled for the identity check
	frameW, frameH int
	// deferred holds a backup frame's passive crops until the engine knows whether it needs them.
	deferred *deferredPassive
}

// deferredPassive is the passive models' input of a backup frame, cut while the frame was at hand:
// the backup frames count only when the face is missing from most full frames, so their model runs
// wait until the end of the media (runDeferred) and usually never happen.
type deferredPassive struct {
	crops []*image.RGBA // one per member of the passive set, in its order
	scale float64
}

type frameOpts struct {
	full       bool // run the passive model and head pose (light frames: detection, landmarks, eyes)
	backup     bool // cut the passive model's crops only (FrameResult.deferred): a stand-in for when the full frames miss the face
	expression bool
	embedding  bool
	keepCrop   bool
}

// run feeds one pooled input tensor, filled by fill, to the named model.
func (e *Engine) run(name string, fill func([]float32)) ([][]float32, error) {
	m := e.models[name]
	in := e.bufs.getFloats(m.Inputs[0].Size())
	defer e.bufs.putFloats(in)
	fill(in)
	return m.Run(in)
}

// runScaled scales r of img to the model's w x h input and fills the tensor with build.
func (e *Engine) runScaled(name string, img *image.RGBA, r image.Rectangle, w, h int, build func(*image.RGBA, []float32)) ([][]float32, error) {
	crop := e.bufs.scaledTemp(img, r, w, h)
	defer e.bufs.putRGBA(crop)
	return e.run(name, func(in []float32) { build(crop, in) })
}

// analyzeFrame runs the per-frame models on the primary face of a frame analysed alone (a photo,
// AnalyzeFrame): the detector, then analyzeFace. It returns a view of the face (1.6x the box) for
// the best shot when opts.keepCrop is set.
func (e *Engine) analyzeFrame(img *image.RGBA, opts frameOpts) (FrameResult, *image.RGBA, error) {
	// Letterbox bars are not part of the picture: inside the passive model's crop their edge looks
	// like the border of a screen or a print. The frame is analysed without them, and every
	// coordinate reported is in the picture without its bars.
	img = withoutBars(img)
	fr := FrameResult{frameW: img.Rect.Dx(), frameH: img.Rect.Dy()}
	if err := e.locate(img, &fr, nil, true); err != nil {
		return fr, nil, err
	}
	crop, err := e.analyzeFace(img, &fr, opts)
	return fr, crop, err
}

// analyzeFace runs the models that read a located face (locate: box and landmarks): the passive
// anti-spoof models alongside the eye -> pose -> expression -> embedding chain, so one frame uses
// both cores when they are free; then the quality figures. img is the frame without its letterbox
// bars. It returns a view of the face (1.6x the box) for the best shot when opts.keepCrop is set.
func (e *Engine) analyzeFace(img *image.RGBA, fr *FrameResult, opts frameOpts) (*image.RGBA, error) {
	if fr.landmarks == nil {
		return nil, nil
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	box := *fr.Box
	if y, ok := landmarkYaw(fr.landmarks); ok {
		fr.YawLandmarks = &y
	}

	// Passive anti-spoof, concurrently.
	var padErr error
	var wg sync.WaitGroup
	_, scale := padRect(img, box)
	if opts.backup && !opts.full {
		d := &deferredPassive{scale: scale}
		for _, m := range e.passive.Members {
			d.crops = append(d.crops, e.viewCrop(img, box, m.View))
		}
		fr.deferred = d
	}
	if opts.full {
		wg.Go(func() {
			fr.PassiveScale = scale
			for _, m := range e.passive.Members {
				crop := e.viewCrop(img, box, m.View)
				p, err := e.passiveRun(m, crop)
				e.bufs.putRGBA(crop)
				if err != nil {
					padErr = err
					return
				}
				fr.setPassive(m.Signal, p)
			}
		})
	}
	err := e.faceChain(img, box, opts, fr)
	wg.Wait()
	if err == nil {
		err = padErr
	}
	if err != nil {
		return nil, err
	}

	q := quality(img, box, fr.Yaw, fr.Pitch)
	fr.Quality = &q
	if !opts.keepCrop {
		return nil, nil
	}
	// A view into the frame, not a copy: frames are never reused by the decoder.
	r, _ := alignCrop(w, h, box, 1.6)
	return img.SubImage(r).(*image.RGBA), nil
}

// passiveRun is P(attack) of one passive model on its view of the face: 1 - softmax(logits)[0].
func (e *Engine) passiveRun(m PassiveMember, crop *image.RGBA) (float64, error) {
	in := e.bufs.getFloats(m.Model.Inputs[0].Size())
	defer e.bufs.putFloats(in)
	viewTensor(crop, in)
	if e.inspectPassive != nil {
		e.inspectPassive(m.Signal, in)
	}
	out, err := m.Model.Run(in)
	if err != nil {
		return 0, err
	}
	return 1 - softmax(out[0])[0], nil
}

// setPassive stores a passive model's P(attack) under its signal.
func (fr *FrameResult) setPassive(signal string, p float64) {
	switch signal {
	case "passive":
		fr.Passive = &p
	case "passive_wide":
		fr.PassiveWide = &p
	}
}

// runDeferred runs the passive models, when run is set, on the crops a backup frame kept, as
// analyzeFrame would have run them on the frame, and releases them.
func (e *Engine) runDeferred(fr *FrameResult, run bool) error {
	d := fr.deferred
	if d == nil {
		return nil
	}
	fr.deferred = nil
	defer func() {
		for _, c := range d.crops {
			e.bufs.putRGBA(c)
		}
	}()
	if !run {
		return nil
	}
	fr.PassiveScale = d.scale
	for i, m := range e.passive.Members {
		p, err := e.passiveRun(m, d.crops[i])
		if err != nil {
			return err
		}
		fr.setPassive(m.Signal, p)
	}
	return nil
}

// faceChain runs, on the located face (fr.landmarks) in box b, the eye state model, the head pose
// model (full frames) and, when asked, the expression model, and cuts the embedding model's crop
// on the frames sampled for it.
func (e *Engine) faceChain(img *image.RGBA, b Box, opts frameOpts, fr *FrameResult) error {
	lm := *fr.landmarks
	if err := e.eyes(img, lm, fr); err != nil {
		return err
	}
	if opts.full {
		out, err := e.runScaled(onnx.Pose, img, poseRect(b, img.Rect), poseSize, poseSize, poseTensor)
		if err != nil {
			return err
		}
		yaw, pitch, roll := decodePose(out[0], out[1], out[2])
		yaw = -yaw // fr_pose.onnx: negative = a turn to the person's own left; we report that as positive
		fr.Yaw, fr.Pitch, fr.Roll = &yaw, &pitch, &roll
	}

	if opts.expression {
		out, err := e.runScaled(onnx.Expression, img, exprRect(b, img.Rect), exprSize, exprSize, exprTensor)
		if err != nil {
			return err
		}
		s := softmax(out[0])[exprHappy]
		fr.Smile = &s
	}
	if opts.embedding {
		// Embedded by need once the whole clip is analysed (embedIdentity).
		if fc, ok := featureCrop(img, lm); ok {
			fr.featCrop, fr.sampled = fc, true
		}
	}
	return nil
}

// eyes runs the eye state model on both eyes of the landmarks lm (fr.EyesOpen).
func (e *Engine) eyes(img *image.RGBA, lm Landmarks, fr *FrameResult) error {
	var eyes [2]float64
	for k, r := range eyeRects(lm, img.Rect.Dx(), img.Rect.Dy()) {
		if r.Dx() < 2 || r.Dy() < 2 {
			eyes = [2]float64{}
			break
		}
		out, err := e.runScaled(onnx.Eye, img, r, eyeSize, eyeSize, eyeTensor)
		if err != nil {
			return err
		}
		eyes[k] = softmax(out[0])[eyeOpenIndex]
		if k == 1 {
			fr.EyesOpen = &eyes
		}
	}
	return nil
}

// pictureRect is the frame without its letterbox (or pillarbox) bars: rows and columns at the
// edges that are uniformly near-black or near-white, at most 45% of the side each. Bars thinner
// than 2% of the side are left in place.
func pictureRect(img *image.RGBA) image.Rectangle {
	b := img.Rect
	w, h := b.Dx(), b.Dy()
	uniform := func(x0, y0, dx, dy, n int) bool {
		var lo, hi uint8 = 255, 0
		step := max(1, n/64)
		for i := 0; i < n; i += step {
			p := img.Pix[img.PixOffset(x0+i*dx, y0+i*dy):]
			g := uint8((int(p[0])*77 + int(p[1])*150 + int(p[2])*29) >> 8)
			lo, hi = min(lo, g), max(hi, g)
		}
		return hi-lo <= 12 && (hi <= 40 || lo >= 235)
	}
	top, bottom, left, right := 0, h, 0, w
	for top < h*45/100 && uniform(b.Min.X, b.Min.Y+top, 1, 0, w) {
		top++
	}
	for bottom > h-h*45/100 && uniform(b.Min.X, b.Min.Y+bottom-1, 1, 0, w) {
		bottom--
	}
	for left < w*45/100 && uniform(b.Min.X+left, b.Min.Y, 0, 1, h) {
		left++
	}
	for right > w-w*45/100 && uniform(b.Min.X+right-1, b.Min.Y, 0, 1, h) {
		right--
	}
	if top < h/50 {
		top = 0
	}
	if h-bottom < h/50 {
		bottom = h
	}
	if left < w/50 {
		left = 0
	}
	if w-right < w/50 {
		right = w
	}
	return image.Rect(b.Min.X+left, b.Min.Y+top, b.Min.X+right, b.Min.Y+bottom)
}

// withoutBars is the frame without its letterbox bars (pictureRect), a copy when it has some.
func withoutBars(img *image.RGBA) *image.RGBA {
	r := pictureRect(img)
	if r == img.Rect {
		return img
	}
	pic := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(pic, pic.Rect, img, r.Min, draw.Src)
	return pic
}

// primaryFace is the face the engine analyses: the largest; on near-equal sizes (within 5% of the
// area) the most central. It sorts faces so that the primary comes first.
func primaryFace(faces []Face, w, h int) Face {
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
	return faces[0]
}

// overlap is the intersection of two boxes over the smaller one's area.
func overlap(a, b Box) float64 {
	w := math.Max(0, math.Min(a.X2, b.X2)-math.Max(a.X1, b.X1))
	h := math.Max(0, math.Min(a.Y2, b.Y2)-math.Max(a.Y1, b.Y1))
	return w * h / math.Max(1e-9, math.Min(a.Area(), b.Area()))
}

func centerDist(b Box, w, h int) float64 {
	cx, cy := b.Center()
	return math.Hypot(cx-float64(w)/2, cy-float64(h)/2)
}

// quality computes the quality figures of the face in b; yaw and pitch are nil on light frames,
// whose score then leaves out the pose.
func quality(img *image.RGBA, b Box, yawP, pitchP *float64) Quality {
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
	pose := 1.0
	if yawP != nil && pitchP != nil {
		yaw, pitch := *yawP, *pitchP
		q.Frontal = math.Abs(yaw) <= 25 && math.Abs(pitch) <= 20
		pose = 1 - clamp((math.Abs(yaw)+math.Abs(pitch))/90, 0, 0.8)
	}
	// Overall score: each factor in [0,1].
	size := clamp((q.FaceRatio-0.08)/(0.25-0.08), 0, 1)
	sharp := clamp(q.Sharpness/minSharpness/2, 0, 1)
	expo := 1 - clamp(math.Abs(q.Brightness-128)/128, 0, 1)*0.7 - clamp(q.Clipped*2, 0, 0.5)
	q.Score = clamp(size*(0.4+0.6*sharp)*expo*pose, 0, 1)
	return q
}

// noseDepth is the nose tip's depth in front of the jaw's edges as a share of the face width, for
// an average adult face; it turns the nose's sideways shift into an angle.
const noseDepth = 0.35

// landmarkYaw estimates yaw from geometry alone: when a head turns, the nose tip (point 30) moves
// sideways between the jaw's edges (points 0 and 16) by about noseDepth * tan(yaw) of the face
// width. Positive is a turn to the person's own left (the nose moves right in the image). Unlike
// the pose model, it flips sign exactly when the image is mirrored.
func landmarkYaw(lm *Landmarks) (float64, bool) {
	width := lm[16][0] - lm[0][0]
	if width <= 0 {
		return 0, false
	}
	offset := (lm[30][0] - (lm[0][0]+lm[16][0])/2) / width
	return math.Atan(offset/noseDepth) * 180 / math.Pi, true
}
