package liveness

import (
	"math"
	"slices"
	"strings"

	"bonafide"
)

// Thresholds of the challenge checks.
const (
	turnDegrees      = 15.0 // yaw change for left/right
	pitchDegrees     = 10.0 // pitch change for down/high
	scanDegrees      = 25.0 // yaw range for scan
	blinkClosedRatio = 0.78 // EAR below this share of the clip's median counts as closed
	blinkOpenRatio   = 0.90 // and above this as open
	smileProbability = 0.5  // P(happy) for a smile
)

// challengeTags maps the Oz gesture tags to what must be seen.
var challengeTags = map[string]string{
	"video_selfie_eyes":  "blink",
	"video_selfie_left":  "turn head left",
	"video_selfie_right": "turn head right",
	"video_selfie_down":  "tilt head down",
	"video_selfie_high":  "tilt head up",
	"video_selfie_smile": "smile",
	"video_selfie_scan":  "turn head from side to side",
	"video_selfie_blank": "nothing",
}

// asksGesture reports whether the tags ask for a gesture (anything but "nothing").
func asksGesture(tags []string) bool {
	for _, t := range tags {
		if action, ok := challengeTags[t]; ok && action != "nothing" {
			return true
		}
	}
	return false
}

// faceFrames returns the frames where landmarks were measured.
func faceFrames(frames []FrameResult) []FrameResult {
	return keepFrames(frames, func(f *FrameResult) bool { return f.landmarks != nil })
}

// keepFrames returns the frames for which keep holds, in order.
func keepFrames(frames []FrameResult, keep func(*FrameResult) bool) []FrameResult {
	var out []FrameResult
	for i := range frames {
		if keep(&frames[i]) {
			out = append(out, frames[i])
		}
	}
	return out
}

// fullFrames returns the frames where the passive model and head pose ran as well.
func fullFrames(frames []FrameResult) []FrameResult {
	return keepFrames(frames, func(f *FrameResult) bool { return f.landmarks != nil && f.Yaw != nil && f.Passive != nil })
}

// checkChallenges evaluates every gesture tag against the frames.
func checkChallenges(tags []string, frames []FrameResult) []bonafide.Challenge {
	ff := faceFrames(frames)
	posed := fullFrames(frames)
	var out []bonafide.Challenge
	for _, tag := range tags {
		action, ok := challengeTags[strings.ToLower(tag)]
		if !ok {
			continue
		}
		c := bonafide.Challenge{Tag: tag, Action: action}
		switch action {
		case "nothing":
			c.Met, c.Detail = true, "no gesture requested"
		case "blink":
			c.Measured, c.Needed = blinkDepth(ff), blinkClosedRatio
			c.Met = hasBlink(ff)
			c.Detail = "lowest eye aspect ratio relative to the clip's median; a blink needs open, closed, open"
		case "turn head left", "turn head right":
			sign := 1.0
			if action == "turn head right" {
				sign = -1
			}
			turned := withLandmarkYaw(ff)
			base := baseline(turned, func(f FrameResult) float64 { return *f.YawLandmarks })
			var peak float64
			for _, f := range turned {
				peak = math.Max(peak, sign*(*f.YawLandmarks-base))
			}
			c.Measured, c.Needed, c.Met = peak, turnDegrees, peak >= turnDegrees
			c.Detail = "largest yaw change (from the landmarks) in the asked direction from the first frames, degrees; left = the person's own left"
		case "tilt head down", "tilt head up":
			sign := 1.0
			if action == "tilt head down" {
				sign = -1
			}
			base := baseline(posed, func(f FrameResult) float64 { return *f.Pitch })
			var peak float64
			for _, f := range posed {
				peak = math.Max(peak, sign*(*f.Pitch-base))
			}
			c.Measured, c.Needed, c.Met = peak, pitchDegrees, peak >= pitchDegrees
			c.Detail = "largest pitch change in the asked direction from the first frames, degrees"
		case "turn head from side to side":
			lo, hi := math.Inf(1), math.Inf(-1)
			turned := withLandmarkYaw(ff)
			for _, f := range turned {
				lo, hi = math.Min(lo, *f.YawLandmarks), math.Max(hi, *f.YawLandmarks)
			}
			if len(turned) > 0 {
				c.Measured = hi - lo
			}
			c.Needed, c.Met = scanDegrees, c.Measured >= scanDegrees
			c.Detail = "yaw range (from the landmarks) over the clip, degrees"
		case "smile":
			var best float64
			var n int
			for _, f := range ff {
				if f.Smile != nil {
					best = math.Max(best, *f.Smile)
					if *f.Smile >= smileProbability {
						n++
					}
				}
			}
			c.Measured, c.Needed = best, smileProbability
			c.Met = n >= 2 || (n == 1 && len(ff) <= 3)
			c.Detail = "highest probability of a happy expression; two frames must reach it"
		}
		out = append(out, c)
	}
	return out
}

// withLandmarkYaw keeps the frames whose landmark yaw was measured.
func withLandmarkYaw(ff []FrameResult) []FrameResult {
	return keepFrames(ff, func(f *FrameResult) bool { return f.YawLandmarks != nil })
}

// baseline is the median of the first fifth of the frames (at least one).
func baseline(ff []FrameResult, v func(FrameResult) float64) float64 {
	if len(ff) == 0 {
		return 0
	}
	n := max(1, len(ff)/5)
	vals := make([]float64, n)
	for i := range n {
		vals[i] = v(ff[i])
	}
	return median(vals)
}

// ear is the eye aspect ratio (Soukupova and Cech) averaged over both eyes.
func ear(lm *Landmarks) float64 {
	d := func(i, j int) float64 { return math.Hypot(lm[i][0]-lm[j][0], lm[i][1]-lm[j][1]) }
	one := func(b int) float64 {
		w := d(b, b+3)
		if w == 0 {
			return 0
		}
		return (d(b+1, b+5) + d(b+2, b+4)) / (2 * w)
	}
	return (one(36) + one(42)) / 2
}

func earRatios(ff []FrameResult) []float64 {
	if len(ff) < 3 {
		return nil
	}
	e := make([]float64, len(ff))
	for i, f := range ff {
		e[i] = ear(f.landmarks)
	}
	m := median(e)
	if m <= 0 {
		return nil
	}
	for i := range e {
		e[i] /= m
	}
	return e
}

func blinkDepth(ff []FrameResult) float64 {
	r := earRatios(ff)
	if len(r) == 0 {
		return 1
	}
	return slices.Min(r)
}

// hasBlink finds open -> closed -> open in the eye aspect ratios.
func hasBlink(ff []FrameResult) bool {
	r := earRatios(ff)
	openBefore := false
	closed := false
	for _, v := range r {
		switch {
		case v >= blinkOpenRatio && closed && openBefore:
			return true
		case v >= blinkOpenRatio:
			openBefore, closed = true, false
		case v < blinkClosedRatio && openBefore:
			closed = true
		}
	}
	return false
}

// flatStats is what flatness measured.
type flatStats struct {
	Ratio      float64 // median over the counted frames of homography residual / out-of-plane part
	Motion     float64 // median RMS landmark motion of the moved frames, eye distances
	OutOfPlane float64 // median out-of-plane part (similarity residual) of the counted frames, eye distances
	Moved      int     // frames that moved at least flatMinMotion
	Counted    int     // of those, frames whose out-of-plane part reached flatMinOutOfPlane
}

// flatness measures how well one homography explains the landmark motion between the best frame
// and every other frame. A photo or a screen is a plane, so its landmarks move by a homography
// (up to landmark noise); a live head turning in depth shows parallax that it cannot explain.
//
// Motion that a similarity (translation, roll, zoom) explains is no evidence either way: a still
// head filmed by a hand-held camera moves that way, exactly as a photo moved in 2-D does. So for
// each frame that moved at least flatMinMotion eye distances, the out-of-plane part of its motion
// is the RMS residual of the best similarity, and the frame counts only when that part reaches
// flatMinOutOfPlane (well above landmark noise, about 0.02-0.04 eye distances). The measure is the
// share of the out-of-plane part that the best homography leaves unexplained: near 0 for a plane
// turned in depth, 0.6-0.95 for live heads on our clips.
func flatness(ff []FrameResult, ref int) flatStats {
	var st flatStats
	if len(ff) < 4 || ref < 0 {
		return st
	}
	src := ff[ref].landmarks
	iod := math.Hypot(src[42][0]-src[39][0], src[42][1]-src[39][1])
	iod = math.Max(iod, (src[45][0]-src[36][0])/2)
	if iod < 4 {
		return st
	}
	var rs, ms, ops []float64
	for i, f := range ff {
		if i == ref {
			continue
		}
		var m2 float64
		for k := range src {
			mx, my := f.landmarks[k][0]-src[k][0], f.landmarks[k][1]-src[k][1]
			m2 += mx*mx + my*my
		}
		m := math.Sqrt(m2/68) / iod
		if m < flatMinMotion {
			continue
		}
		st.Moved++
		ms = append(ms, m)
		op := similarityResidual(src, f.landmarks) / iod
		if op < flatMinOutOfPlane {
			continue
		}
		h, ok := fitHomography(src, f.landmarks)
		if !ok {
			continue
		}
		var r2 float64
		for k := range src {
			x, y := h.apply(src[k][0], src[k][1])
			dx, dy := x-f.landmarks[k][0], y-f.landmarks[k][1]
			r2 += dx*dx + dy*dy
		}
		rs = append(rs, math.Sqrt(r2/68)/iod/op)
		ops = append(ops, op)
	}
	if len(ms) > 0 {
		st.Motion = median(ms)
	}
	if len(rs) > 0 {
		st.Ratio, st.OutOfPlane, st.Counted = median(rs), median(ops), len(rs)
	}
	return st
}

// Flatness constants: frames must move at least flatMinMotion (share of the inter-ocular distance)
// and their out-of-plane part reach flatMinOutOfPlane to count, at least flatMinFrames of them; the
// residual-to-out-of-plane ratio maps to attack evidence around flatMid. On our clips live faces
// gave 0.60-0.96; a plane's ratio is its landmark noise over its out-of-plane part (a synthetic
// print tilted by 0.3 gave 0.53 with the noise of its blur, so this signal catches only photos
// turned well in depth).
const (
	flatMinMotion     = 0.08
	flatMinOutOfPlane = 0.08
	flatMinFrames     = 4
	flatMid           = 0.40
	flatSpread        = 0.06
)

// similarityResidual is the RMS distance (pixels) left between dst and the best similarity
// (translation, rotation, uniform scale) of src: the part of the motion a camera moving around a
// still head, or a photo moved in its own plane, cannot produce.
func similarityResidual(src, dst *Landmarks) float64 {
	m, ok := similarityFrom(src[:], dst[:])
	if !ok {
		return 0
	}
	var r2 float64
	for k := range src {
		x, y := src[k][0], src[k][1]
		ex, ey := m[0]*x+m[1]*y+m[2]-dst[k][0], m[3]*x+m[4]*y+m[5]-dst[k][1]
		r2 += ex*ex + ey*ey
	}
	return math.Sqrt(r2 / float64(len(src)))
}

type homography [9]float64

func (h homography) apply(x, y float64) (float64, float64) {
	w := h[6]*x + h[7]*y + h[8]
	if w == 0 {
		w = 1e-12
	}
	return (h[0]*x + h[1]*y + h[2]) / w, (h[3]*x + h[4]*y + h[5]) / w
}

// fitHomography solves the least-squares homography (h33 = 1) from src to dst with Hartley's
// normalisation.
func fitHomography(src, dst *Landmarks) (homography, bool) {
	ns, ts := normalizer(src)
	nd, td := normalizer(dst)
	// Normal equations A^T A h = A^T b for 8 unknowns.
	var ata [8][8]float64
	var atb [8]float64
	for k := range src {
		x, y := ns(src[k][0], src[k][1])
		u, v := nd(dst[k][0], dst[k][1])
		rows := [2][8]float64{
			{x, y, 1, 0, 0, 0, -u * x, -u * y},
			{0, 0, 0, x, y, 1, -v * x, -v * y},
		}
		rhs := [2]float64{u, v}
		for r := range 2 {
			for i := range 8 {
				atb[i] += rows[r][i] * rhs[r]
				for j := range 8 {
					ata[i][j] += rows[r][i] * rows[r][j]
				}
			}
		}
	}
	sol, ok := solve8(ata, atb)
	if !ok {
		return homography{}, false
	}
	hn := homography{sol[0], sol[1], sol[2], sol[3], sol[4], sol[5], sol[6], sol[7], 1}
	// H = Td^-1 * Hn * Ts
	return mul3(inv3(td), mul3(hn, ts)), true
}

// landmarkCentre is the mean of the landmarks.
func landmarkCentre(lm *Landmarks) (cx, cy float64) {
	for _, p := range lm {
		cx += p[0]
		cy += p[1]
	}
	return cx / float64(len(lm)), cy / float64(len(lm))
}

// normalizer returns the similarity that centres the points and scales their mean distance to sqrt(2).
func normalizer(p *Landmarks) (func(x, y float64) (float64, float64), homography) {
	cx, cy := landmarkCentre(p)
	var d float64
	for _, q := range p {
		d += math.Hypot(q[0]-cx, q[1]-cy)
	}
	d /= float64(len(p))
	s := math.Sqrt2 / math.Max(d, 1e-9)
	t := homography{s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1}
	return func(x, y float64) (float64, float64) { return s * (x - cx), s * (y - cy) }, t
}

func mul3(a, b homography) homography {
	var c homography
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				c[i*3+j] += a[i*3+k] * b[k*3+j]
			}
		}
	}
	return c
}

func inv3(m homography) homography {
	det := m[0]*(m[4]*m[8]-m[5]*m[7]) - m[1]*(m[3]*m[8]-m[5]*m[6]) + m[2]*(m[3]*m[7]-m[4]*m[6])
	if det == 0 {
		return m
	}
	return homography{
		(m[4]*m[8] - m[5]*m[7]) / det, (m[2]*m[7] - m[1]*m[8]) / det, (m[1]*m[5] - m[2]*m[4]) / det,
		(m[5]*m[6] - m[3]*m[8]) / det, (m[0]*m[8] - m[2]*m[6]) / det, (m[2]*m[3] - m[0]*m[5]) / det,
		(m[3]*m[7] - m[4]*m[6]) / det, (m[1]*m[6] - m[0]*m[7]) / det, (m[0]*m[4] - m[1]*m[3]) / det,
	}
}

// solve8 solves a x = b by Gaussian elimination with partial pivoting.
func solve8(a [8][8]float64, b [8]float64) ([8]float64, bool) {
	for c := range 8 {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return b, false
		}
		a[c], a[p] = a[p], a[c]
		b[c], b[p] = b[p], b[c]
		for r := c + 1; r < 8; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k < 8; k++ {
				a[r][k] -= f * a[c][k]
			}
			b[r] -= f * b[c]
		}
	}
	var x [8]float64
	for r := 7; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < 8; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return x, true
}

// trimmedMean drops the top and bottom 10% before averaging.
func trimmedMean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	k := len(s) / 10
	s = s[k : len(s)-k]
	var sum float64
	for _, x := range s {
		sum += x
	}
	return sum / float64(len(s))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// logit of p clamped to [eps, 1-eps].
func logit(p, eps float64) float64 {
	p = clamp(p, eps, 1-eps)
	return math.Log(p / (1 - p))
}
