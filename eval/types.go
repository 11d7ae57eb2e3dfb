// Package eval measures the engine's accuracy the way ISO/IEC 30107-3 asks: APCER per attack
// species, BPCER, the operating points auditors quote, failure to acquire, each with its counts and
// a 95% Wilson interval; it plots DET curves and score histograms, writes reports, and fits the
// fusion (a regularised logistic regression over the engine's signals).
package eval

// Labels of a sample.
const (
	Live   = "live"
	Attack = "attack"
)

// FusionScore is the name of the engine's fused score (confidence_spoofing) among Sample.Scores.
const FusionScore = "fusion"

// Sample is one labelled media and what the engine said about it.
type Sample struct {
	Path    string   `json:"path"`
	Label   string   `json:"label"`   // Live or Attack
	Species string   `json:"species"` // attack species ("print", "replay", "mask", "cutout", any word); "" for live
	Subject string   `json:"subject,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	SHA256  string   `json:"sha256,omitempty"`
	// FTA is set when no face was acquired (reason NO_FACE). Such samples keep their fail-closed
	// score of 1 in the error rates and are also counted in the failure-to-acquire rate.
	FTA bool `json:"fta,omitempty"`
	// Error says why the media could not be analysed (missing file, unreadable media, bad label);
	// such rows are left out of every rate and counted apart.
	Error string `json:"error,omitempty"`
	// Reasons are the engine's reason codes for this media (NO_FACE, MULTIPLE_FACES, ...).
	Reasons []string `json:"reasons,omitempty"`
	// Scores holds attack scores in [0, 1], higher = more likely an attack: FusionScore
	// (confidence_spoofing) and one entry per engine signal that was measured on this media.
	Scores map[string]float64 `json:"scores,omitempty"`
	// Features are the fusion's inputs for this media (see liveness.Fusion), for fitting.
	Features map[string]float64 `json:"features,omitempty"`
}

// Interval is a two-sided 95% confidence interval of a proportion.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Rate is a proportion with its counts: Value = Count / Total (0 when Total is 0, with Defined false).
type Rate struct {
	Value   float64  `json:"value"`
	Count   int      `json:"count"`
	Total   int      `json:"total"`
	Defined bool     `json:"defined"`
	CI      Interval `json:"ci95"`
}

// OperatingPoint is every error rate at one decision threshold: a media is declared an attack when
// its score is >= Threshold.
type OperatingPoint struct {
	Threshold    float64         `json:"threshold"`
	APCER        map[string]Rate `json:"apcer"`         // per attack species
	MaxAPCER     Rate            `json:"max_apcer"`     // the worst species (headline APCER)
	WorstSpecies string          `json:"worst_species"` // which species that is
	BPCER        Rate            `json:"bpcer"`
	ACER         float64         `json:"acer"` // (max APCER + BPCER) / 2
}

// Metrics are the figures of one score over a set of samples.
type Metrics struct {
	Score       string         `json:"score"`   // FusionScore or a signal name
	Live        int            `json:"live"`    // live samples scored
	Attacks     int            `json:"attacks"` // attack samples scored
	Species     map[string]int `json:"species"` // attack samples per species
	Missing     int            `json:"missing"` // samples without this score (signal not measured), left out
	AtThreshold OperatingPoint `json:"at_threshold"`
	// EER is where max APCER and BPCER meet (their mean at the closest threshold; 0 when
	// nothing was scored).
	EER          float64 `json:"eer"`
	EERThreshold float64 `json:"eer_threshold"`
	// BPCER20 / BPCER100: the lowest BPCER among thresholds whose max APCER is <= 5% / 1%.
	BPCER20  OperatingPoint `json:"bpcer20"`
	BPCER100 OperatingPoint `json:"bpcer100"`
	// APCERAtBPCER1 / 5: the lowest max APCER among thresholds whose BPCER is <= 1% / 5%.
	APCERAtBPCER1 OperatingPoint `json:"apcer_at_bpcer1"`
	APCERAtBPCER5 OperatingPoint `json:"apcer_at_bpcer5"`
	FTA           Rate           `json:"fta"` // failure to acquire over all analysed samples
}

// DETPoint is one point of a detection error trade-off curve.
type DETPoint struct {
	Threshold float64 `json:"threshold"`
	APCER     float64 `json:"apcer"` // max over species, or of one species
	BPCER     float64 `json:"bpcer"`
}
