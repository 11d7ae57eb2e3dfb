package liveness

import (
	"fmt"
	"math"
	"strings"

	"bonafide"
	"bonafide/onnx"
)

// decide measures the signals across frames, fuses them and applies the policy: it fills the
// result's signals, reasons, challenges, score and verdict. Each signal is measured by one
// function below; decide orders them and fuses.
func (e *Engine) decide(r *Result, tags []string) {
	ff := faceFrames(r.Frames)
	r.Challenges = checkChallenges(tags, r.Frames)
	if len(ff) == 0 {
		// No face in any frame: fail closed.
		r.ConfidenceSpoofing = 1
		r.Reasons = append(r.Reasons, reason(ReasonNoFace, "no face was found in any of the %d frames", len(r.Frames)))
		r.ResolutionStatus = e.resolution(r.ConfidenceSpoofing)
		return
	}

	sig := e.passiveSignals(ff, r.Frames)
	measured := func(s *bonafide.Signal, why []bonafide.Reason) {
		if s != nil {
			sig[s.Name] = s
		}
		r.Reasons = append(r.Reasons, why...)
	}
	measured(challengeSignal(r.Challenges, len(ff), len(fullFrames(r.Frames))))
	measured(flatnessSignal(ff, len(r.Frames)))
	measured(identitySignal(ff))
	r.Signals = e.weigh(sig)
	r.Reasons = append(r.Reasons, e.passiveVerdict(sig)...)
	r.Reasons = append(r.Reasons, e.multipleFaces(ff)...)
	r.ConfidenceSpoofing = e.fusion.Confidence(r.Signals, r.Reasons, e.cfg.DeclineMultiple)
	// The quality reasons say what to fix in the capture; they do not change the score.
	r.Reasons = append(r.Reasons, qualityReasons(ff, len(r.Frames))...)
	r.ResolutionStatus = e.resolution(r.ConfidenceSpoofing)
}

// resolution is the verdict on a score: DECLINED at or above the threshold.
func (e *Engine) resolution(confidence float64) string {
	if confidence >= e.cfg.Threshold {
		return StatusDeclined
	}
	return StatusSuccess
}

// reason is a reason code with its message.
func reason(code, msg string, args ...any) bonafide.Reason {
	return bonafide.Reason{Code: code, Message: fmt.Sprintf(msg, args...)}
}

// weigh lists the measured signals in report order, each measured one with its weight in the
// fusion.
func (e *Engine) weigh(sig map[string]*bonafide.Signal) []bonafide.Signal {
	out := []bonafide.Signal{}
	for _, name := range signalOrder {
		if s, ok := sig[name]; ok {
			if s.Score != nil {
				s.Weight = e.fusion.Weights[name]
			}
			out = append(out, *s)
		}
	}
	return out
}

// passiveSignals is the passive anti-spoof signal of each model of the passive set (passive,
// passive_wide): a trimmed mean of P(attack) over the frames of good quality. When the face is
// missing from most of the full frames, the backup frames (half-way between them, passive model
// only) join in, so the score does not rest on two or three frames that the sampling happened to
// hit.
func (e *Engine) passiveSignals(ff, frames []FrameResult) map[string]*bonafide.Signal {
	full := fullFrames(frames)
	if len(full) < e.cfg.FullFrames/2 {
		for _, f := range ff {
			if f.Passive != nil && f.Yaw == nil {
				full = append(full, f)
			}
		}
	}
	if len(full) == 0 {
		full = ff
	}
	// Frames of good quality when there are enough of them, otherwise every frame with the model.
	pick := func(minQ float64) (passive, wide, scales []float64) {
		for _, f := range full {
			if f.Passive == nil || f.Quality.Score < minQ {
				continue
			}
			passive = append(passive, *f.Passive)
			scales = append(scales, f.PassiveScale)
			if f.PassiveWide != nil {
				wide = append(wide, *f.PassiveWide)
			}
		}
		return
	}
	passive, wide, scales := pick(0.3)
	if len(passive) < max(1, len(full)/4) {
		passive, wide, scales = pick(-1)
	}
	ctxScale := median(scales)
	sig := map[string]*bonafide.Signal{}
	for _, m := range e.passive.Members {
		v := passive
		if m.Signal == "passive_wide" {
			v = wide
		}
		if len(v) == 0 {
			// The face was only seen on frames the passive models did not run on: no evidence of life.
			sig[m.Signal] = &bonafide.Signal{Name: m.Signal, Score: ptr(1), Value: 1,
				Detail: "not measured: no frame with the passive models had a face; counted as an attack"}
			continue
		}
		p := trimmedMean(v)
		sig[m.Signal] = &bonafide.Signal{Name: m.Signal, Score: ptr(p), Value: p,
			Detail: fmt.Sprintf("trimmed mean of P(attack) of the %s passive model (%s, %gx view of the face box) over %d frames (median room around the face %.2fx)",
				e.passive.Name, m.Model.SHA256[:12], m.View.Scale, len(v), ctxScale)}
	}
	return sig
}

// passiveVerdict is the passive models' own verdict: PASSIVE_ATTACK when their evidence alone
// under the fusion reaches the threshold.
func (e *Engine) passiveVerdict(sig map[string]*bonafide.Signal) []bonafide.Reason {
	var own []bonafide.Signal
	for _, m := range e.passive.Members {
		own = append(own, *sig[m.Signal])
	}
	return e.fusion.PassiveAttack(own, e.cfg.Threshold)
}

// challengeSignal is 1 when a gesture the tags asked for was not seen, 0 when all were; nil when
// no gesture was asked for.
func challengeSignal(challenges []bonafide.Challenge, faces, posed int) (*bonafide.Signal, []bonafide.Reason) {
	var unmet []string
	var anyChallenge bool
	for _, c := range challenges {
		if c.Action == "nothing" {
			continue
		}
		anyChallenge = true
		if !c.Met {
			unmet = append(unmet, fmt.Sprintf("%s (%s: measured %.2f, needed %.2f)", c.Tag, c.Action, c.Measured, c.Needed))
		}
	}
	if !anyChallenge {
		return nil, nil
	}
	s := 0.0
	var why []bonafide.Reason
	if len(unmet) > 0 {
		s = 1
		why = append(why, reason(ReasonChallengeNotMet, "the requested gesture was not seen: %s", strings.Join(unmet, "; ")))
	}
	return &bonafide.Signal{Name: "challenge", Score: ptr(s), Value: float64(len(unmet)),
		Detail: fmt.Sprintf("1 when a requested gesture was not seen (read from the landmarks of %d frames with a face, head pose on %d of them)", faces, posed)}, why
}

// flatnessSignal is how much of the face's out-of-plane landmark motion one homography explains,
// from the sharpest, largest view of the face (ff are the frames with a face of frames in all).
// It counts only when the face stays in view: with the face in and out of the frame, the few
// frames left (a live clip of the development set had 7 of 25) flip it with the sampling. Nil
// when there are too few frames with a face to say anything.
func flatnessSignal(ff []FrameResult, frames int) (*bonafide.Signal, []bonafide.Reason) {
	ref := 0
	for i, f := range ff {
		if f.Quality.Score > ff[ref].Quality.Score {
			ref = i
		}
	}
	fs := flatness(ff, ref)
	used := fmt.Sprintf("%d of %d frames with a face moved at least %.0f%% of the eye distance (median motion %.2f eye distances), %d of them with an out-of-plane part of at least %.0f%%",
		fs.Moved, len(ff), flatMinMotion*100, fs.Motion, fs.Counted, flatMinOutOfPlane*100)
	if fs.Counted > 0 {
		used += fmt.Sprintf(" (median %.3f eye distances)", fs.OutOfPlane)
	}
	switch {
	case fs.Counted >= flatMinFrames && 2*len(ff) < frames:
		return &bonafide.Signal{Name: "flatness", Value: fs.Ratio,
			Detail: fmt.Sprintf("not measured: the face was found in only %d of %d frames (%s)", len(ff), frames, used)}, nil
	case fs.Counted >= flatMinFrames:
		s := sigmoid((flatMid - fs.Ratio) / flatSpread)
		sig := &bonafide.Signal{Name: "flatness", Score: ptr(s), Value: fs.Ratio,
			Detail: fmt.Sprintf("median share of the out-of-plane landmark motion (what a similarity leaves) that the best homography leaves unexplained: %s", used)}
		if s >= 0.5 {
			return sig, []bonafide.Reason{reason(ReasonFlatSurface, "the face moves like a flat picture: one homography explains its out-of-plane landmark motion but for %.0f%%", fs.Ratio*100)}
		}
		return sig, nil
	case len(ff) >= 4 && fs.Moved >= flatMinFrames:
		return &bonafide.Signal{Name: "flatness",
			Detail: fmt.Sprintf("not measured: the face moved with the camera only (%s; a similarity explains the rest, which a photo and a head share)", used)}, nil
	case len(ff) >= 4:
		return &bonafide.Signal{Name: "flatness",
			Detail: fmt.Sprintf("not measured: the face hardly moved (%s)", used)}, nil
	}
	return nil, nil
}

// identitySignal is identity continuity, on the sampled frames fit for recognition: high when the
// face before some point of the clip does not look like the face after it. Nil when too few frames
// were sampled.
func identitySignal(ff []FrameResult) (*bonafide.Signal, []bonafide.Reason) {
	embs, fit, sampled := identityFrames(ff)
	if len(embs) >= identityMinFrames {
		sim := splitSimilarity(embs)
		s := clamp((identityHigh-sim)/(identityHigh-identityLow), 0, 1)
		sig := &bonafide.Signal{Name: "identity", Score: ptr(s), Value: sim,
			Detail: fmt.Sprintf("lowest cosine similarity between the mean %s embeddings before and after any point of the clip (%d of %d sampled frames sharp and within %.0f degrees of frontal, %d of them embedded, at least %d on each side)",
				onnx.Registry[onnx.Feature].File, fit, sampled, identityMaxYaw, len(embs), identityMinSide)}
		if s >= 0.5 {
			return sig, []bonafide.Reason{reason(ReasonIdentityChanged, "the face does not look like the same person throughout (similarity %.2f)", sim)}
		}
		return sig, nil
	}
	if sampled >= identityMinFrames {
		return &bonafide.Signal{Name: "identity",
			Detail: fmt.Sprintf("not measured: only %d of %d sampled frames were sharp and within %.0f degrees of frontal (%d needed)", fit, sampled, identityMaxYaw, identityMinFrames)}, nil
	}
	return nil, nil
}

// multipleFaces is MULTIPLE_FACES when a second face comparable to the primary, clearly a face, is
// in enough of the frames with a face that the detector searched (a tracked frame follows one
// face and sees no other). People small in the background never count.
func (e *Engine) multipleFaces(ff []FrameResult) []bonafide.Reason {
	ff = keepFrames(ff, func(f *FrameResult) bool { return !f.Tracked })
	var multi []FrameResult
	for _, f := range ff {
		if f.SecondFace >= e.cfg.MultipleFaceRatio {
			multi = append(multi, f)
		}
	}
	if len(multi) == 0 || float64(len(multi)) < e.cfg.MultipleFaceShare*float64(len(ff)) {
		return nil
	}
	big := multi[0]
	for _, f := range multi {
		if f.SecondFace > big.SecondFace {
			big = f
		}
	}
	b := big.SecondBox
	return []bonafide.Reason{reason(ReasonMultipleFaces, "another face of similar size is in %d of the %d frames with a face searched by the detector (largest: %.0f%% of the primary face's area, detector score %.2f, box %.0f,%.0f-%.0f,%.0f in frame %d)",
		len(multi), len(ff), big.SecondFace*100, big.SecondScore, b.X1, b.Y1, b.X2, b.Y2, big.Index)}
}

// qualityReasons are the quality of the capture, on the medians over the frames with a face (ff
// of frames in all): too small, blurred, too dark, overexposed, never frontal, or a face found in
// less than half of the frames.
func qualityReasons(ff []FrameResult, frames int) []bonafide.Reason {
	var why []bonafide.Reason
	add := func(code, msg string, args ...any) { why = append(why, reason(code, msg, args...)) }
	var ratio, sharp, bright, clip []float64
	var frontal, posed int
	for _, f := range ff {
		if f.Yaw != nil {
			posed++
		}
		ratio = append(ratio, f.Quality.FaceRatio)
		sharp = append(sharp, f.Quality.Sharpness)
		bright = append(bright, f.Quality.Brightness)
		clip = append(clip, f.Quality.Clipped)
		if f.Quality.Frontal {
			frontal++
		}
	}
	if v := median(ratio); v < 0.12 {
		add(ReasonFaceTooSmall, "the face is small: %.0f%% of the frame (at least 12%% wanted)", v*100)
	}
	if v := median(sharp); v < minSharpness {
		add(ReasonBlurred, "the face is blurred (sharpness %.0f, at least %d wanted)", v, minSharpness)
	}
	if v := median(bright); v < 50 {
		add(ReasonTooDark, "the face is too dark (mean brightness %.0f of 255)", v)
	}
	if v, c := median(bright), median(clip); v > 215 || c > 0.25 {
		add(ReasonOverexposed, "the face is overexposed (brightness %.0f, %.0f%% of pixels clipped)", v, c*100)
	}
	if frontal == 0 && posed > 0 {
		add(ReasonNotFrontal, "the face is never seen from the front")
	}
	if frames > 1 && len(ff) < frames/2 {
		add(ReasonFaceLost, "a face was found in only %d of %d frames", len(ff), frames)
	}
	return why
}

// splitSimilarity is the lowest similarity between the mean embedding of the frames before a split
// point and of those after it, over every split with at least identityMinSide frames on each side: a swap of
// person shows at the split where it happened, while one frame with a hand over the face, or a
// bad embedding, is averaged away.
func splitSimilarity(embs [][]float32) float64 {
	mean := func(es [][]float32) []float32 {
		m := make([]float32, len(es[0]))
		for _, e := range es {
			for i, v := range e {
				m[i] += v
			}
		}
		return normalize(m)
	}
	lowest := 1.0
	for k := identityMinSide; k <= len(embs)-identityMinSide; k++ {
		lowest = math.Min(lowest, cosine(mean(embs[:k]), mean(embs[k:])))
	}
	return lowest
}

// Identity thresholds on the split similarity of embeddings.
const (
	identityHigh = 0.45 // at or above: same person
	identityLow  = 0.20 // at or below: different people

	identityMinSide   = 2    // frames on each side of a split
	identityMinFrames = 4    // frames fit for recognition for the signal to be measured
	identityMaxYaw    = 30.0 // degrees of landmark yaw from frontal
	identityMinSharp  = 0.5  // share of the sampled frames' median sharpness
)
