package liveness

import "encoding/json"

// Version names the engine; it changes whenever scores may change for the same input.
const Version = "bonafide-engine/0.3.1"

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

// Reason is one reason code with its explanation.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// MediaInfo describes the analysed media.
type MediaInfo struct {
	Kind     string  `json:"kind"` // image, video, shot_set
	Format   string  `json:"format"`
	Codec    string  `json:"codec,omitempty"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	Duration float64 `json:"duration,omitempty"`
	FPS      float64 `json:"fps,omitempty"`
	Frames   int     `json:"frames"` // frames analysed
}

// ModelInfo names a model used and its content hash.
type ModelInfo struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// EngineInfo lets anyone trace a score to the code and models that made it.
type EngineInfo struct {
	Version     string      `json:"version"`
	Calibration string      `json:"calibration"`
	Passive     string      `json:"passive_models"` // the passive model set's name
	Models      []ModelInfo `json:"models"`
}

// BestShot is the frame chosen as the best view of the face.
type BestShot struct {
	Frame   int     `json:"frame"`
	Time    float64 `json:"time"`
	Box     Box     `json:"box"`
	Quality float64 `json:"quality"`
	JPEG    []byte  `json:"-"` // the face crop (1.6x the box), JPEG
}

// Result is the engine's verdict on one media.
type Result struct {
	ConfidenceSpoofing float64       `json:"confidence_spoofing"`
	ResolutionStatus   string        `json:"resolution_status"`
	Threshold          float64       `json:"threshold"`
	Reasons            []Reason      `json:"reasons"`
	Signals            []Signal      `json:"signals"`
	Challenges         []Challenge   `json:"challenges"`
	Tags               []string      `json:"tags"`
	Media              MediaInfo     `json:"media"`
	BestShot           *BestShot     `json:"best_shot"`
	Frames             []FrameResult `json:"frames"`
	Engine             EngineInfo    `json:"engine"`
	Timing             Timing        `json:"timing"`
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
func (r *Result) Signal(name string) *Signal {
	for i := range r.Signals {
		if r.Signals[i].Name == name {
			return &r.Signals[i]
		}
	}
	return nil
}

// Evidence is what a stored verdict keeps of a result besides its score: reasons, signals,
// challenges, the media description, the best shot's place (not its bytes), the engine and the
// threshold, as JSON. The API shows reasons, signals, challenges and engine next to each score.
func (r *Result) Evidence() json.RawMessage {
	data, err := json.Marshal(struct {
		Reasons    []Reason    `json:"reasons"`
		Signals    []Signal    `json:"signals"`
		Challenges []Challenge `json:"challenges"`
		Media      MediaInfo   `json:"media"`
		BestShot   *BestShot   `json:"best_shot,omitempty"`
		Engine     EngineInfo  `json:"engine"`
		Threshold  float64     `json:"threshold"`
	}{r.Reasons, r.Signals, r.Challenges, r.Media, r.BestShot, r.Engine, r.Threshold})
	if err != nil {
		return json.RawMessage(`{}`) // only plain values: cannot fail
	}
	return data
}
