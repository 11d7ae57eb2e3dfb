package bonafide

import "encoding/json"

// Evidence is why a media got its result: what a MediaResult keeps beside its score
// (MediaResult.Details). The engine makes it (package liveness fills LivenessEvidence), the stores
// keep it as JSON, and the API and the console read its fields.
//
// Its JSON is the stored rows' format: one flat object holding the keys of the parts present.
// Rows written before the type existed decode into it and encode back to the same bytes
// (testdata/stored-results.json, as engine 0.3.1 wrote them).
type Evidence struct {
	// The liveness engine's evidence (QUALITY); nil for the analysis types that compare faces.
	*LivenessEvidence
	CollectionID string `json:"collection_id,omitempty"` // COLLECTION: the collection where the person matched
	PersonID     string `json:"person_id,omitempty"`     // COLLECTION: the person matched
	// ResultsData is the media's own results_data where its analysis type gives one (BIOMETRY: the
	// pair's; COLLECTION: the match's), which the API shows in place of the score.
	ResultsData json.RawMessage `json:"results_data,omitempty"`
}

// LivenessEvidence is the engine's evidence for one media's liveness score. Its fields are in
// the alphabetical order of their JSON names, the order of the rows stored before the type
// existed, so that a stored row and a new one read the same.
type LivenessEvidence struct {
	BestShot   *BestShot   `json:"best_shot,omitempty"` // where the best view of the face is; its JPEG is stored apart
	Challenges []Challenge `json:"challenges"`          // the gesture tags checked; null when the media had none
	Engine     EngineInfo  `json:"engine"`
	// Frames is the per-frame trace the console charts (the API does not show it).
	Frames    []FrameTrace `json:"frames,omitempty"`
	Media     MediaInfo    `json:"media"`
	Reasons   []Reason     `json:"reasons"`
	Signals   []Signal     `json:"signals"`
	Threshold float64      `json:"threshold"` // confidence_spoofing at or above it is DECLINED
}

// Reason is one reason code of a verdict (NO_FACE, PASSIVE_ATTACK, ...) with a sentence for people.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Signal is one piece of evidence that the fusion weighs. Score is the evidence for an attack in
// [0,1] (0 = looks live, 1 = looks like an attack); nil when the signal could not be measured on
// this media (Detail says why).
type Signal struct {
	Name   string   `json:"name"`
	Score  *float64 `json:"score"`
	Value  float64  `json:"value"`            // the raw measurement (see Detail for its unit)
	Weight float64  `json:"weight,omitempty"` // its weight in the fusion
	Detail string   `json:"detail"`
}

// Challenge is the check of one gesture tag (video_selfie_eyes: a blink, ...).
type Challenge struct {
	Tag      string  `json:"tag"`
	Action   string  `json:"action"`
	Met      bool    `json:"met"`
	Measured float64 `json:"measured"` // what was measured (degrees, EAR ratio, probability)
	Needed   float64 `json:"needed"`
	Detail   string  `json:"detail"`
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

// BestShot is where the best view of the face is: its frame, and the face box in that frame's
// pixels.
type BestShot struct {
	Frame   int     `json:"frame"`
	Time    float64 `json:"time"`
	Box     Box     `json:"box"`
	Quality float64 `json:"quality"`
}

// Box is a face box in pixels: (X1, Y1) the top left corner, (X2, Y2) the bottom right.
type Box struct {
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
	X2 float64 `json:"x2"`
	Y2 float64 `json:"y2"`
}

// EngineInfo names the engine that made the scores and the models it ran, so that anyone can
// trace a score to the code and models that made it.
type EngineInfo struct {
	Version     string      `json:"version"`
	Calibration string      `json:"calibration"`    // the fusion's name
	Passive     string      `json:"passive_models"` // the passive model set's name
	Models      []ModelInfo `json:"models"`
}

// ModelInfo is one model the engine ran and its content hash.
type ModelInfo struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// FrameTrace is one analysed frame as a stored result keeps it (LivenessEvidence.Frames), for the
// console's per-frame chart: nil values where the engine measured nothing (no face, or a light
// frame that skipped the passive model and head pose).
type FrameTrace struct {
	Index   int      `json:"index"`
	Time    float64  `json:"time"`              // seconds into the video
	Face    *float64 `json:"face,omitempty"`    // face box side / shorter frame side
	Quality *float64 `json:"quality,omitempty"` // 0-1 overall face quality
	Passive *float64 `json:"passive,omitempty"` // P(attack) of the passive model
	Yaw     *float64 `json:"yaw,omitempty"`     // degrees
	Pitch   *float64 `json:"pitch,omitempty"`   // degrees
	Tracked bool     `json:"tracked,omitempty"` // the face was followed from the previous frame, not searched for by the detector
}
