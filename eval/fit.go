package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"

	"bonafide/liveness"
)

// FitOptions configure the fusion fit.
type FitOptions struct {
	Signals []string // the features fitted, in order; default every engine signal not in Fixed
	// Fixed signals keep these weights: they enter the fit as offsets (their weight times their
	// feature), so the fitted weights and bias account for them. For signals with too little data
	// to fit, such as the video signals of a set of photos.
	Fixed     map[string]float64
	Lambdas   []float64 // L2 strengths tried by cross-validation; default 0.001 .. 10
	Folds     int       // default 5
	BySubject bool      // keep every subject's media in one fold
	Name      string    // the calibration's name
	Data      string    // a description of the data, stored in the calibration
}

// FitResult is the fitted fusion and how it did in cross-validation.
type FitResult struct {
	Fusion *liveness.Fusion
	Lambda float64
	// CVScores are the out-of-fold confidence_spoofing of every usable sample (same order as the
	// samples passed in; NaN for samples not used: errors and failures to acquire).
	CVScores []float64
	CVLoss   float64 // mean balanced log-loss out of fold at the chosen lambda
	Used     int
}

// Fit fits a regularised logistic regression of the label (attack = 1) on the fusion features of
// the samples: confidence_spoofing = sigmoid(bias + sum w_i x_i), x as liveness.Features defines
// them, an unmeasured signal contributing 0. Live and attack samples weigh equally in total (the
// error rates ISO/IEC 30107-3 asks for are per class). The L2 strength is chosen by k-fold
// cross-validation, grouped by subject when asked, and the final weights are fitted on all data.
// Samples with an error, or with no face acquired (their score is fixed at 1 by policy), are left out.
func Fit(samples []Sample, o FitOptions) (*FitResult, error) {
	if len(o.Signals) == 0 {
		for _, n := range liveness.SignalNames() {
			if _, fixed := o.Fixed[n]; !fixed {
				o.Signals = append(o.Signals, n)
			}
		}
	}
	if len(o.Lambdas) == 0 {
		o.Lambdas = []float64{0.001, 0.01, 0.1, 1, 10}
	}
	if o.Folds < 2 {
		o.Folds = 5
	}
	var idx []int
	var nLive, nAttack int
	for i, s := range samples {
		if s.Error != "" || s.FTA || s.Features == nil {
			continue
		}
		idx = append(idx, i)
		if s.Label == Attack {
			nAttack++
		} else {
			nLive++
		}
	}
	if nLive < 2 || nAttack < 2 {
		return nil, fmt.Errorf("eval: fitting needs at least 2 live and 2 attack media with a face; have %d live and %d attack", nLive, nAttack)
	}
	x := make([][]float64, len(idx))
	off := make([]float64, len(idx))
	y := make([]float64, len(idx))
	w := make([]float64, len(idx))
	for k, i := range idx {
		s := samples[i]
		x[k] = make([]float64, len(o.Signals))
		for j, name := range o.Signals {
			x[k][j] = s.Features[name]
		}
		for name, wt := range o.Fixed {
			off[k] += wt * s.Features[name]
		}
		if s.Label == Attack {
			y[k], w[k] = 1, float64(len(idx))/(2*float64(nAttack))
		} else {
			w[k] = float64(len(idx)) / (2 * float64(nLive))
		}
	}
	folds := assignFolds(samples, idx, o.Folds, o.BySubject)
	best := math.Inf(1)
	res := &FitResult{Used: len(idx)}
	for _, lambda := range o.Lambdas {
		pred := make([]float64, len(idx))
		for f := range o.Folds {
			var tx [][]float64
			var ty, tw, to []float64
			for k := range idx {
				if folds[k] != f {
					tx, ty, tw, to = append(tx, x[k]), append(ty, y[k]), append(tw, w[k]), append(to, off[k])
				}
			}
			if len(tx) == 0 {
				continue
			}
			beta := logistic(tx, ty, tw, to, lambda)
			for k := range idx {
				if folds[k] == f {
					pred[k] = predict(beta, x[k], off[k])
				}
			}
		}
		var loss, wsum float64
		for k := range idx {
			p := clampP(pred[k])
			loss -= w[k] * (y[k]*math.Log(p) + (1-y[k])*math.Log(1-p))
			wsum += w[k]
		}
		loss /= wsum
		if loss < best {
			best, res.Lambda, res.CVLoss = loss, lambda, loss
			res.CVScores = make([]float64, len(samples))
			for i := range res.CVScores {
				res.CVScores[i] = math.NaN()
			}
			for k, i := range idx {
				res.CVScores[i] = pred[k]
			}
		}
	}
	beta := logistic(x, y, w, off, res.Lambda)
	weights := map[string]float64{}
	for name, wt := range o.Fixed {
		weights[name] = wt
	}
	for j, name := range o.Signals {
		weights[name] = round6(beta[j+1])
	}
	name := o.Name
	if name == "" {
		name = "fitted"
	}
	desc := fmt.Sprintf("regularised logistic regression (L2 %g chosen by %d-fold cross-validation%s, out-of-fold balanced log-loss %.4f) on %d live and %d attack media",
		res.Lambda, o.Folds, map[bool]string{true: " grouped by subject", false: ""}[o.BySubject], res.CVLoss, nLive, nAttack)
	if o.Data != "" {
		desc += ": " + o.Data
	}
	res.Fusion = &liveness.Fusion{
		Name:        name,
		Engine:      liveness.Version,
		Description: desc,
		DataSHA256:  dataHash(samples, idx),
		Bias:        round6(beta[0]),
		Weights:     weights,
	}
	return res, nil
}

// assignFolds deals the samples round robin into folds, by subject when asked (samples without a
// subject are their own group).
func assignFolds(samples []Sample, idx []int, folds int, bySubject bool) []int {
	out := make([]int, len(idx))
	if !bySubject {
		for k := range idx {
			out[k] = k % folds
		}
		return out
	}
	groups := map[string]int{}
	var order []string
	for k, i := range idx {
		g := samples[i].Subject
		if g == "" {
			g = fmt.Sprintf("\x00%d", k)
		}
		if _, ok := groups[g]; !ok {
			groups[g] = len(order) % folds
			order = append(order, g)
		}
		out[k] = groups[g]
	}
	return out
}

// logistic fits weighted L2-regularised logistic regression by Newton's method; beta[0] is the
// (unregularised) bias.
func logistic(x [][]float64, y, w, off []float64, lambda float64) []float64 {
	d := len(x[0]) + 1
	beta := make([]float64, d)
	// Start with the bias cancelling the mean offset: Newton's method converges from near there.
	for _, o := range off {
		beta[0] -= o / float64(len(off))
	}
	for range 200 {
		grad := make([]float64, d)
		hess := make([][]float64, d)
		for i := range hess {
			hess[i] = make([]float64, d)
		}
		for k, xi := range x {
			p := predict(beta, xi, off[k])
			r := w[k] * (p - y[k])
			s := w[k] * p * (1 - p)
			for a := range d {
				xa := feature(xi, a)
				grad[a] += r * xa
				for b := range d {
					hess[a][b] += s * xa * feature(xi, b)
				}
			}
		}
		for a := 1; a < d; a++ {
			grad[a] += lambda * beta[a]
			hess[a][a] += lambda
		}
		hess[0][0] += 1e-9
		step, ok := solve(hess, grad)
		if !ok {
			break
		}
		// Damped: a step of more than 4 in any coordinate is scaled down, so that a start far from
		// the optimum cannot overshoot into saturation.
		scale := 1.0
		for a := range d {
			scale = math.Min(scale, 4/math.Max(math.Abs(step[a]), 1e-300))
		}
		var change float64
		for a := range d {
			step[a] *= scale
			beta[a] -= step[a]
			change = math.Max(change, math.Abs(step[a]))
		}
		if change < 1e-9 {
			break
		}
	}
	return beta
}

func feature(x []float64, a int) float64 {
	if a == 0 {
		return 1
	}
	return x[a-1]
}

func predict(beta, x []float64, off float64) float64 {
	z := beta[0] + off
	for j, v := range x {
		z += beta[j+1] * v
	}
	return 1 / (1 + math.Exp(-z))
}

// solve solves a x = b by Gaussian elimination with partial pivoting.
func solve(a [][]float64, b []float64) ([]float64, bool) {
	n := len(b)
	m := make([][]float64, n)
	for i := range a {
		m[i] = append(slices.Clone(a[i]), b[i])
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) < 1e-15 {
			return nil, false
		}
		m[c], m[p] = m[p], m[c]
		for r := c + 1; r < n; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k <= n; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	out := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := m[r][n]
		for k := r + 1; k < n; k++ {
			s -= m[r][k] * out[k]
		}
		out[r] = s / m[r][r]
	}
	return out, true
}

func clampP(p float64) float64 { return math.Min(1-1e-12, math.Max(1e-12, p)) }

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// dataHash identifies the fitting data: the sorted (sha256, label, species) of every sample used.
func dataHash(samples []Sample, idx []int) string {
	var rows []string
	for _, i := range idx {
		s := samples[i]
		rows = append(rows, s.SHA256+" "+s.Label+" "+s.Species)
	}
	slices.Sort(rows)
	h := sha256.Sum256([]byte(strings.Join(rows, "\n")))
	return hex.EncodeToString(h[:])
}
