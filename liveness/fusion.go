package liveness

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// signalOrder lists the signals the engine measures, in report order.
var signalOrder = []string{"passive", "challenge", "flatness", "identity"}

// Fusion maps the signals to confidence_spoofing = sigmoid(bias + sum of weight * feature), where the
// feature of "passive" is logit(P(attack)) (clamped to [0.01, 0.99]) and the feature of every other
// signal is its score in [0, 1]. A signal that could not be measured contributes nothing. The other
// signals only ever add evidence for an attack: a head that is not flat, or a gesture made, is no
// proof of life on its own (a replayed video of a real person shows both).
type Fusion struct {
	Name        string             `json:"name"`
	Engine      string             `json:"engine"`
	Description string             `json:"description"`
	DataSHA256  string             `json:"data_sha256,omitempty"`
	Bias        float64            `json:"bias"`
	Weights     map[string]float64 `json:"weights"`
}

// DefaultFusion is used without a calibration file. The weights are set by hand: the passive
// model alone decides when nothing else is measured; an unmet gesture, a flat face or a change of
// person each add 6 to the log-odds, which declines the media unless the passive model is
// extremely sure of a live face (it never is beyond logit(0.01) = -4.6 after clamping).
func DefaultFusion() *Fusion {
	return &Fusion{
		Name:        "default",
		Engine:      Version,
		Description: "hand-set default weights, not fitted to data",
		Weights:     map[string]float64{"passive": 1, "challenge": 6, "flatness": 6, "identity": 6},
	}
}

// LoadFusion reads a calibration JSON written by `bonafide eval --fit`.
func LoadFusion(path string) (*Fusion, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	var f Fusion
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("calibration %s: not valid JSON: %w", path, err)
	}
	if f.Name == "" {
		f.Name = path
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("calibration %s: %w", path, err)
	}
	return &f, nil
}

func (f *Fusion) validate() error {
	if len(f.Weights) == 0 {
		return fmt.Errorf("fusion %q has no weights", f.Name)
	}
	for name := range f.Weights {
		if !slices.Contains(signalOrder, name) {
			return fmt.Errorf("fusion %q names signal %q, which this engine does not have (it has %v)", f.Name, name, signalOrder)
		}
	}
	return nil
}

// Features are the fusion's inputs of the measured signals: logit(P) for passive (P clamped to
// [0.01, 0.99]), the score itself for the others. Unmeasured signals are absent.
func Features(signals []Signal) map[string]float64 {
	out := map[string]float64{}
	for _, s := range signals {
		if s.Score == nil {
			continue
		}
		x := *s.Score
		if s.Name == "passive" {
			x = logit(x)
		}
		out[s.Name] = x
	}
	return out
}

// Confidence is confidence_spoofing for the measured signals under the policy: no face fails
// closed at 1; otherwise sigmoid(bias + sum of weight * feature), and 1 when several faces were
// seen and declineMultiple is set. It depends only on the signals and reason codes of a Result,
// so a stored result can be scored again under another calibration.
func (f *Fusion) Confidence(signals []Signal, reasons []Reason, declineMultiple bool) float64 {
	has := func(code string) bool {
		for _, r := range reasons {
			if r.Code == code {
				return true
			}
		}
		return false
	}
	if has(ReasonNoFace) {
		return 1
	}
	if declineMultiple && has(ReasonMultipleFaces) {
		return 1
	}
	z := f.Bias
	for name, x := range Features(signals) {
		z += f.Weights[name] * x
	}
	return round4(sigmoid(z))
}

// SignalNames lists the signals the engine can measure, in report order.
func SignalNames() []string { return slices.Clone(signalOrder) }
