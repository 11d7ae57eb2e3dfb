package liveness

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"bonafide"
)

// face3D is a rough 3-D face: the 68 points on an ellipse grid with depth, enough to show
// parallax when it turns. Units: pixels; the eye corners (36, 39, 42, 45) sit where real ones do.
func face3D() [68][3]float64 {
	var p [68][3]float64
	r := rand.New(rand.NewPCG(1, 2))
	for i := range p {
		a := float64(i) / 68 * 2 * math.Pi
		p[i] = [3]float64{60 * math.Cos(a), 75 * math.Sin(a), 30 * math.Cos(a*3) * r.Float64()}
	}
	p[36], p[39], p[42], p[45] = [3]float64{-45, -20, 10}, [3]float64{-15, -20, 5}, [3]float64{15, -20, 5}, [3]float64{45, -20, 10}
	p[30] = [3]float64{0, 10, 40}                                 // nose tip, well in front
	p[0], p[16] = [3]float64{-70, 0, -20}, [3]float64{70, 0, -20} // jaw edges, behind
	return p
}

// project turns the face by yaw degrees, moves it and projects it with a pinhole camera.
func project(f [68][3]float64, yaw, tx, ty, scale float64) *Landmarks {
	var lm Landmarks
	c, s := math.Cos(yaw*math.Pi/180), math.Sin(yaw*math.Pi/180)
	for i, q := range f {
		x := c*q[0] + s*q[2]
		z := -s*q[0] + c*q[2]
		depth := 600 - z
		lm[i] = [2]float64{320 + tx + scale*600*x/depth, 240 + ty + scale*600*q[1]/depth}
	}
	return &lm
}

func framesOf(lms ...*Landmarks) []FrameResult {
	var out []FrameResult
	for i, lm := range lms {
		out = append(out, FrameResult{Index: i, landmarks: lm})
	}
	return out
}

func TestFitHomographyRecoversAPlane(t *testing.T) {
	src := project(face3D(), 0, 0, 0, 1)
	h := homography{1.1, 0.05, 12, -0.04, 0.95, -7, 0.0002, -0.0001, 1}
	var dst Landmarks
	for i, p := range src {
		dst[i][0], dst[i][1] = h.apply(p[0], p[1])
	}
	got, ok := fitHomography(src, &dst)
	if !ok {
		t.Fatal("no fit")
	}
	for i, p := range src {
		x, y := got.apply(p[0], p[1])
		if math.Hypot(x-dst[i][0], y-dst[i][1]) > 1e-6 {
			t.Fatalf("point %d off by %v", i, math.Hypot(x-dst[i][0], y-dst[i][1]))
		}
	}
}

// moved rolls lm by roll degrees and scales it by zoom about (320, 240), then shifts it by
// (tx, ty) and adds Gaussian landmark noise of sd pixels: what a hand-held camera and the landmark
// model add to a face.
func moved(lm *Landmarks, roll, zoom, tx, ty, sd float64, r *rand.Rand) *Landmarks {
	c, s := math.Cos(roll*math.Pi/180), math.Sin(roll*math.Pi/180)
	var out Landmarks
	for i, p := range lm {
		x, y := p[0]-320, p[1]-240
		out[i] = [2]float64{320 + tx + zoom*(c*x-s*y) + sd*r.NormFloat64(), 240 + ty + zoom*(s*x+c*y) + sd*r.NormFloat64()}
	}
	return &out
}

func TestFlatnessSeparatesPlaneFromTurningHead(t *testing.T) {
	f := face3D()
	flat := f
	for i := range flat {
		flat[i][2] = 0 // a photo: every point on one plane
	}
	r := rand.New(rand.NewPCG(3, 4))
	var planar, head []*Landmarks
	for k := range 12 {
		// A photo waved about and turned well in depth; a head turning with small moves. Both with
		// landmark noise of 1 pixel (2% of the eye distance).
		tx, ty, sc := float64(k*6), float64(k*-3), 1+0.02*float64(k)
		yaw := 20 * math.Sin(float64(k)/2)
		planar = append(planar, moved(project(flat, 2.5*yaw, tx, ty, sc), 0, 1, 0, 0, 1, r))
		head = append(head, moved(project(f, yaw, tx/4, ty/4, 1), 0, 1, 0, 0, 1, r))
	}
	p := flatness(framesOf(planar...), 0)
	h := flatness(framesOf(head...), 0)
	t.Logf("plane %+v, head %+v", p, h)
	if p.Counted < flatMinFrames || h.Counted < flatMinFrames {
		t.Fatalf("too few frames with out-of-plane motion: plane %+v, head %+v", p, h)
	}
	if p.Ratio > flatMid-2*flatSpread {
		t.Fatalf("a plane turned in depth left %.3f of its out-of-plane motion, want well below %.3f", p.Ratio, flatMid)
	}
	if h.Ratio < flatMid+2*flatSpread {
		t.Fatalf("a turning head left %.3f of its out-of-plane motion, want well above %.3f", h.Ratio, flatMid)
	}
	// Without noise a plane leaves nothing.
	var exact []*Landmarks
	for k := range 12 {
		exact = append(exact, project(flat, 50*math.Sin(float64(k)/2), float64(k*6), float64(k*-3), 1+0.02*float64(k)))
	}
	if e := flatness(framesOf(exact...), 0); e.Counted < flatMinFrames || e.Ratio > 1e-6 {
		t.Fatalf("a noiseless plane: %+v", e)
	}
	// No motion: not measured.
	still := []*Landmarks{}
	for range 8 {
		still = append(still, project(f, 0, 0, 0, 1))
	}
	if s := flatness(framesOf(still...), 0); s.Moved != 0 || s.Counted != 0 {
		t.Fatalf("a still face counted moving frames: %+v", s)
	}
}

// A still head filmed by a hand-held camera moves by a similarity (shift, roll, zoom), as a photo
// moved in its own plane does: that motion is no evidence, and flatness is not measured.
func TestFlatnessIgnoresCameraMotion(t *testing.T) {
	f := face3D()
	flat := f
	for i := range flat {
		flat[i][2] = 0
	}
	for _, tc := range []struct {
		name string
		face [68][3]float64
		yaw  float64 // amplitude of a slight head turn, degrees
	}{
		{"live head, hand-held camera", f, 0},
		{"live head turning 2 degrees, hand-held camera", f, 2},
		{"photo moved in its plane", flat, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			var lms []*Landmarks
			for k := range 25 {
				tm := float64(k) / 5 // seconds at 5 sampled frames a second
				roll := 3 * math.Sin(2*math.Pi*0.27*tm)
				zoom := 1 + 0.08*math.Sin(2*math.Pi*0.35*tm+1)
				tx, ty := 20*math.Sin(2*math.Pi*0.31*tm+2), 15*math.Sin(2*math.Pi*0.23*tm+4)
				lms = append(lms, moved(project(tc.face, tc.yaw*math.Sin(2*math.Pi*0.5*tm), 0, 0, 1), roll, zoom, tx, ty, 1, r))
			}
			st := flatness(framesOf(lms...), 0)
			t.Logf("%+v", st)
			if st.Moved < flatMinFrames {
				t.Fatalf("the camera motion should move the face: %+v", st)
			}
			if st.Counted >= flatMinFrames {
				t.Fatalf("camera motion alone counted as out-of-plane motion: %+v", st)
			}
		})
	}
}

// eyes returns the face with both eyes opened to the given height (pixels between lids).
func eyes(open float64) *Landmarks {
	lm := project(face3D(), 0, 0, 0, 1)
	for _, b := range []int{36, 42} {
		x0, x3 := lm[b][0], lm[b+3][0]
		y := lm[b][1]
		lm[b+1] = [2]float64{x0 + (x3-x0)/3, y - open/2}
		lm[b+2] = [2]float64{x0 + 2*(x3-x0)/3, y - open/2}
		lm[b+4] = [2]float64{x0 + 2*(x3-x0)/3, y + open/2}
		lm[b+5] = [2]float64{x0 + (x3-x0)/3, y + open/2}
	}
	return lm
}

func TestBlinkNeedsOpenClosedOpen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		heights []float64
		want    bool
	}{
		{"blink", []float64{9, 9, 9, 2, 9, 9}, true},
		{"slow blink", []float64{9, 9, 5, 1, 5, 9, 9}, true},
		{"never closes", []float64{9, 9.2, 8.8, 9, 9.1, 9}, false},
		{"closes and stays closed", []float64{9, 9, 9, 2, 2, 2}, false},
		{"starts closed", []float64{2, 2, 9, 9, 9, 9}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lms []*Landmarks
			for _, h := range tc.heights {
				lms = append(lms, eyes(h))
			}
			if got := hasBlink(framesOf(lms...)); got != tc.want {
				t.Fatalf("hasBlink = %v, want %v (ratios %v)", got, tc.want, earRatios(framesOf(lms...)))
			}
		})
	}
}

func TestTurnChallenges(t *testing.T) {
	// Frames of a 3-D face turned by the given yaws; the check reads the landmarks' geometry.
	turned := func(yaws ...float64) []FrameResult {
		var out []FrameResult
		for i, y := range yaws {
			lm := project(face3D(), y, 0, 0, 1)
			fr := FrameResult{Index: i, landmarks: lm}
			if v, ok := landmarkYaw(lm); ok {
				fr.YawLandmarks = &v
			}
			out = append(out, fr)
		}
		return out
	}
	for _, tc := range []struct {
		tag  string
		yaws []float64
		met  bool
	}{
		{"video_selfie_left", []float64{0, 1, 5, 12, 30, 35, 10, 2}, true},
		{"video_selfie_left", []float64{0, -1, -12, -35, -10, 0}, false},
		{"video_selfie_right", []float64{0, -1, -12, -35, -10, 0}, true},
		{"video_selfie_right", []float64{2, 3, 1, -5, -8, 0}, false},
		{"video_selfie_scan", []float64{0, 25, 3, -25, 0}, true},
		{"video_selfie_scan", []float64{0, 5, 3, -5, 0}, false},
		{"video_selfie_blank", []float64{0, 0, 0}, true},
	} {
		c := checkChallenges([]string{tc.tag}, turned(tc.yaws...))
		if len(c) != 1 || c[0].Met != tc.met {
			t.Errorf("%s %v: %+v, want met=%v", tc.tag, tc.yaws, c, tc.met)
		}
	}
	if c := checkChallenges([]string{"orientation_portrait"}, turned(0, 0)); len(c) != 0 {
		t.Errorf("a tag that asks no gesture made a challenge: %+v", c)
	}
}

func TestFusionDefaults(t *testing.T) {
	if got := HandSetFusion().Confidence([]bonafide.Signal{{Name: "passive", Score: ptr(0.2)}}, nil, true); math.Abs(got-0.2) > 1e-4 {
		t.Fatalf("hand-set: passive alone must give its own probability, got %v", got)
	}
	f := DefaultFusion()
	if f.DataSHA256 == "" || !strings.Contains(f.Description, "research-use") {
		t.Fatalf("the shipped calibration must name its data and that it is research-use data: %+v", f)
	}
	conf := func(sigs ...bonafide.Signal) float64 { return f.Confidence(sigs, nil, true) }
	if conf(bonafide.Signal{Name: "passive", Score: ptr(0.001)}) >= 0.5 || conf(bonafide.Signal{Name: "passive", Score: ptr(0.99)}) < 0.5 {
		t.Fatal("the passive model alone must decide a clear live face and a clear attack")
	}
	if got := conf(bonafide.Signal{Name: "passive", Score: ptr(0.001)}, bonafide.Signal{Name: "challenge", Score: ptr(1)}); got < 0.5 {
		t.Fatalf("an unmet challenge must decline even a confident live passive score: %v", got)
	}
	if got := conf(bonafide.Signal{Name: "passive", Score: ptr(0.3)}, bonafide.Signal{Name: "flatness"}); got != conf(bonafide.Signal{Name: "passive", Score: ptr(0.3)}) {
		t.Fatalf("an unmeasured signal must not move the score: %v", got)
	}
	if got := f.Confidence(nil, []bonafide.Reason{{Code: ReasonNoFace}}, true); got != 1 {
		t.Fatalf("no face must fail closed: %v", got)
	}
	live := []bonafide.Signal{{Name: "passive", Score: ptr(0.01)}}
	multi := []bonafide.Reason{{Code: ReasonMultipleFaces}}
	if f.Confidence(live, multi, true) != 1 || f.Confidence(live, multi, false) >= 0.5 {
		t.Fatal("several faces must decline only when configured to")
	}
}

// The identity check compares only sampled frames fit for recognition: a face turned to profile or
// blurred gives an embedding unlike the same person's frontal one.
func TestIdentityFramesSkipProfileAndBlur(t *testing.T) {
	frame := func(yaw, sharp float64, emb float32) FrameResult {
		lm := project(face3D(), 0, 0, 0, 1)
		return FrameResult{landmarks: lm, YawLandmarks: &yaw, Quality: &Quality{Sharpness: sharp}, embedding: []float32{emb, 1}, sampled: true}
	}
	ff := []FrameResult{
		frame(-55, 500, 1), // profile
		frame(5, 400, 2),
		frame(0, 60, 3), // blurred: below half the median sharpness
		frame(10, 450, 4),
		{landmarks: project(face3D(), 0, 0, 0, 1)}, // no embedding sampled
		frame(-20, 380, 5),
		frame(35, 420, 6), // turned beyond identityMaxYaw
		frame(2, 500, 7),
	}
	embs, _, sampled := identityFrames(ff)
	var got []float32
	for _, e := range embs {
		got = append(got, e[0])
	}
	if sampled != 7 || len(got) != 4 || got[0] != 2 || got[1] != 4 || got[2] != 5 || got[3] != 7 {
		t.Fatalf("kept %v of %d sampled, want [2 4 5 7] of 7", got, sampled)
	}
}
