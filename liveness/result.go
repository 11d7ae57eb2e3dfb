package liveness

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"

	"bonafide"
)

// Version names the engine; it changes whenever scores may change for the same input.
const Version = "bonafide-engine/0.4.0"

// Resolution statuses, as Oz names them.
const (
	StatusSuccess  = "SUCCESS"
	StatusDeclined = "DECLINED"
)

// Reason codes. Each result lists the ones that apply, with a sentence for people.
const (
	ReasonNoFace          = "NO_FACE"
	ReasonMultipleFaces   = "MULTIPLE_FACES"
	ReasonChallengeNotMet = "CHALLENGE_NOT_MET"
	ReasonPassiveAttack   = "PASSIVE_ATTACK"
	ReasonFlatSurface     = "FLAT_SURFACE"
	ReasonIdentityChanged = "IDENTITY_CHANGED"
	ReasonFaceTooSmall    = "FACE_TOO_SMALL"
	ReasonBlurred         = "BLURRED"
	ReasonTooDark         = "TOO_DARK"
	ReasonOverexposed     = "OVEREXPOSED"
	ReasonNotFrontal      = "NOT_FRONTAL"
	ReasonFaceLost        = "FACE_PARTLY_MISSING"
)

// BestShot is the frame chosen as the best view of the face: where it is, and the face crop.
type BestShot struct {
	bonafide.BestShot
	crop *image.RGBA // the face (1.6x the box), a view into its frame
}

// JPEG is the face crop (1.6x the box) as a JPEG at quality 90, encoded when asked for rather than
// by Analyze, so that a caller that does not keep the best shot does not pay for encoding it.
func (b *BestShot) JPEG() ([]byte, error) {
	if b.crop == nil {
		return nil, errors.New("liveness: the best shot has no face crop")
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, b.crop, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Result is the engine's verdict on one media.
type Result struct {
	ConfidenceSpoofing float64              `json:"confidence_spoofing"`
	ResolutionStatus   string               `json:"resolution_status"`
	Threshold          float64              `json:"threshold"`
	Reasons            []bonafide.Reason    `json:"reasons"`
	Signals            []bonafide.Signal    `json:"signals"`
	Challenges         []bonafide.Challenge `json:"challenges"`
	Tags               []string             `json:"tags"`
	Media              bonafide.MediaInfo   `json:"media"`
	BestShot           *BestShot            `json:"best_shot"`
	Frames             []FrameResult        `json:"frames"`
	Engine             bonafide.EngineInfo  `json:"engine"`
	Timing             Timing               `json:"timing"`
}

// Timing says where the time went, in milliseconds.
type Timing struct {
	TotalMS float64 `json:"total_ms"`
}

// HasReason reports whether the result carries the code.
func (r *Result) HasReason(code string) bool {
	for _, x := range r.Reasons {
		if x.Code == code {
			return true
		}
	}
	return false
}

// Signal returns the named signal, or nil.
func (r *Result) Signal(name string) *bonafide.Signal {
	for i := range r.Signals {
		if r.Signals[i].Name == name {
			return &r.Signals[i]
		}
	}
	return nil
}

// Evidence is what a stored verdict keeps of a result besides its score: reasons, signals,
// challenges, the media description, the best shot's place (not its bytes), the engine, the
// threshold and the per-frame trace. It shares the result's slices.
func (r *Result) Evidence() *bonafide.Evidence {
	ev := &bonafide.LivenessEvidence{Challenges: r.Challenges, Engine: r.Engine, Media: r.Media,
		Reasons: r.Reasons, Signals: r.Signals, Threshold: r.Threshold}
	if r.BestShot != nil {
		shot := r.BestShot.BestShot
		ev.BestShot = &shot
	}
	if len(r.Frames) > 0 {
		ev.Frames = make([]bonafide.FrameTrace, 0, len(r.Frames))
		for _, f := range r.Frames {
			ev.Frames = append(ev.Frames, f.trace())
		}
	}
	return &bonafide.Evidence{LivenessEvidence: ev}
}

// trace is the frame as the stored evidence keeps it.
func (f *FrameResult) trace() bonafide.FrameTrace {
	t := bonafide.FrameTrace{Index: f.Index, Time: f.Time, Passive: f.Passive, Yaw: f.Yaw, Pitch: f.Pitch, Tracked: f.Tracked}
	if f.Quality != nil {
		face, q := f.Quality.FaceRatio, f.Quality.Score
		t.Face, t.Quality = &face, &q
	}
	return t
}
