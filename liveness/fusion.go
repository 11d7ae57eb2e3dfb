package liveness

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"bonafide"
	"bonafide/models"
)

// signalOrder lists the signals the engine measures, in report order.
var signalOrder = []string{"passive", "passive_wide", "challenge", "flatness", "identity"}

// Fusion maps the signals to confidence_spoofing = sigmoid(bias + sum of weight * feature), where the
// feature of a passive model's signal ("passive", "passive_wide") is logit(P(attack)) (P clamped to
// [passiveClamp, 1 - passiveClamp]) and the feature of every other signal is its score in [0, 1]. A signal that could not be measured contributes nothing. The other
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

// shippedFusion is the calibration fitted with the shipped passive models (models/calibration.json,
// written by `bonafide train` on the development set), parsed once.
var shippedFusion = sync.OnceValue(func() Fusion {
	f, err := parseFusion(models.Calibration(), "models/calibration.json")
	if err != nil {
		panic("liveness: the embedded calibration is not valid: " + err.Error())
	}
	return *f
})

// DefaultFusion is used without a calibration file: the calibration shipped with the engine's
// passive models (a copy the caller may change).
func DefaultFusion() *Fusion {
	f := shippedFusion()
	f.Weights = maps.Clone(f.Weights)
	return &f
}

// HandSetFusion is a fusion set by hand, not fitted to data: the passive model alone decides when
// nothing else is measured; an unmet gesture, a flat face or a change of person each add 6 to the
// log-odds.
func HandSetFusion() *Fusion {
	return &Fusion{
		Name:        "hand-set",
		Engine:      Version,
		Description: "hand-set weights, not fitted to data",
		Weights:     map[string]float64{"passive": 1, "challenge": 6, "flatness": 6, "identity": 6},
	}
}

// LoadFusion reads a calibration JSON written by `bonafide eval --fit`.
func LoadFusion(path string) (*Fusion, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	return parseFusion(data, path)
}

// parseFusion reads a calibration JSON; name is for messages and the default name.
func parseFusion(data []byte, path string) (*Fusion, error) {
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

// passiveClamp bounds a passive model's probability before its logit: the fine-tuned models reach
// 1e-6 and below on clear cases, where a difference no longer means anything.
const passiveClamp = 1e-4

// Features are the fusion's inputs of the measured signals: logit(P) for the passive models' signals
// (P clamped to [passiveClamp, 1 - passiveClamp]), the score itself for the others. Unmeasured
// signals are absent.
func Features(signals []bonafide.Signal) map[string]float64 {
	out := map[string]float64{}
	for _, s := range signals {
		if s.Score == nil {
			continue
		}
		x := *s.Score
		if slices.Contains(passiveSignals, s.Name) {
			x = logit(x, passiveClamp)
		}
		out[s.Name] = x
	}
	return out
}

// Confidence is confidence_spoofing for the measured signals under the policy: no face fails
// closed at 1; otherwise sigmoid(bias + sum of weight * feature), and 1 when several faces were
// seen and declineMultiple is set. It depends only on the signals and reason codes of a Result,
// so a stored result can be scored again under another calibration.
func (f *Fusion) Confidence(signals []bonafide.Signal, reasons []bonafide.Reason, declineMultiple bool) float64 {
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
	// Summed in name order: a map's order changes from run to run, and so would the last bit of z.
	z := f.Bias
	feats := Features(signals)
	for _, name := range slices.Sorted(maps.Keys(feats)) {
		z += f.Weights[name] * feats[name]
	}
	return round4(sigmoid(z))
}

// PassiveAttack is the passive models' own verdict under this fusion: PASSIVE_ATTACK when the
// passive signals alone (with the bias) reach the threshold. The one rule for the engine's verdict
// and for a stored result scored again under another calibration.
func (f *Fusion) PassiveAttack(signals []bonafide.Signal, threshold float64) []bonafide.Reason {
	var own []bonafide.Signal
	var ps []string
	for _, s := range signals {
		if slices.Contains(passiveSignals, s.Name) && s.Score != nil {
			own = append(own, s)
			ps = append(ps, fmt.Sprintf("%s P = %.4f", s.Name, *s.Score))
		}
	}
	if len(own) == 0 || f.Confidence(own, nil, false) < threshold {
		return nil
	}
	return []bonafide.Reason{reason(ReasonPassiveAttack, "the passive anti-spoof models see an attack (%s)", strings.Join(ps, ", "))}
}

// Rescored are a stored result's reasons under this fusion: its PASSIVE_ATTACK verdict taken
// again at the threshold, every other reason as it was.
func (f *Fusion) Rescored(signals []bonafide.Signal, reasons []bonafide.Reason, threshold float64) []bonafide.Reason {
	out := slices.DeleteFunc(slices.Clone(reasons), func(r bonafide.Reason) bool { return r.Code == ReasonPassiveAttack })
	return append(out, f.PassiveAttack(signals, threshold)...)
}

// SignalNames lists the signals the engine can measure, in report order.
func SignalNames() []string { return slices.Clone(signalOrder) }
