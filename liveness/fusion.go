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

// apply returns the log-odds and the weight used for each measured signal.
func (f *Fusion) apply(sig map[string]*Signal) (float64, map[string]float64) {
	z := f.Bias
	used := map[string]float64{}
	for name, s := range sig {
		if s.Score == nil {
			continue
		}
		w := f.Weights[name]
		x := *s.Score
		if name == "passive" {
			x = logit(x)
		}
		z += w * x
		used[name] = w
	}
	return z, used
}
