package eval

import "time"

// Report is everything one evaluation run produced; WriteReport renders it.
type Report struct {
	Title       string    `json:"title"`
	Created     time.Time `json:"created"`
	Input       string    `json:"input"`       // the manifest or directory evaluated
	Engine      string    `json:"engine"`      // engine version
	Calibration string    `json:"calibration"` // fusion name used for the "fusion" score
	Models      []string  `json:"models"`      // "name sha256" of each model
	Threshold   float64   `json:"threshold"`   // the configured decision threshold
	Signals     []string  `json:"signals"`     // signal names, in report order (the fusion comes first, separately)
	Samples     []Sample  `json:"-"`           // every row, errors included (written to scores.tsv)
	Metrics     []Metrics `json:"metrics"`     // the fusion first, then each signal alone
	Errors      int       `json:"errors"`      // rows that could not be analysed
	Seconds     float64   `json:"seconds"`     // wall time of the run
	Cached      int       `json:"cached"`      // results taken from the cache
	Synthetic   bool      `json:"synthetic"`   // true when any attack was made by `bonafide synth`: figures are then not accuracy
	// Breakdowns are the fusion's figures per group (source, demographic group, ...).
	Breakdowns []Breakdown `json:"breakdowns,omitempty"`
}
