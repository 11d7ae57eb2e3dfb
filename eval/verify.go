package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"bonafide/liveness"
	"bonafide/media"
)

// Face verification (1:1 face match, the BIOMETRY analysis): a pairs manifest names two media and
// whether they show the same person; every media is embedded once, every pair scored by the
// engine's calibrated confidence, and the report gives the ROC, the false match and false non-match
// rates at the biometry threshold with their Wilson intervals, and the EER (ISO/IEC 19795-1 terms).

// Pair is one row of a pairs manifest.
type Pair struct {
	A, B  string
	Same  bool
	Line  int
	Error string // why the row is unusable; the run reports it and goes on
}

// IsPairsManifest reports whether the file at path is a pairs manifest: a TSV or CSV whose header
// names path_a, path_b and same.
func IsPairsManifest(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	first, _, _ := strings.Cut(strings.TrimPrefix(string(head[:n]), "\ufeff"), "\n")
	cols := strings.FieldsFunc(strings.ToLower(first), func(r rune) bool { return r == '\t' || r == ',' || r == ' ' || r == '\r' })
	return slices.Contains(cols, "path_a") && slices.Contains(cols, "path_b") && slices.Contains(cols, "same")
}

// LoadPairs reads a pairs manifest (TSV or CSV with the header path_a, path_b, same; same is
// 1/0, true/false, yes/no or same/different). Relative paths are taken from the manifest's folder.
func LoadPairs(path string) ([]Pair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	rows, get, err := readTable(data, path, "a pairs manifest has path_a, path_b, same", "path_a", "path_b", "same")
	if err != nil {
		return nil, err
	}
	base := filepath.Dir(path)
	abs := func(p string) string {
		if p != "" && !filepath.IsAbs(p) {
			return filepath.Join(base, p)
		}
		return p
	}
	var out []Pair
	for n, row := range rows[1:] {
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		p := Pair{Line: n + 2, A: abs(get(row, "path_a")), B: abs(get(row, "path_b"))}
		switch strings.ToLower(get(row, "same")) {
		case "1", "true", "yes", "same", "genuine", "match":
			p.Same = true
		case "0", "false", "no", "different", "impostor", "nonmatch", "non-match":
		default:
			p.Error = fmt.Sprintf("same is %q: write 1 (the same person) or 0 (different people)", get(row, "same"))
		}
		if p.A == "" || p.B == "" {
			p.Error = "a path is empty"
		}
		if p.Error != "" {
			p.Error = fmt.Sprintf("%s line %d: %s", path, p.Line, p.Error)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("eval: %s has a header but no rows", path)
	}
	return out, nil
}

// Embedder is what a verification run needs of the engine.
type Embedder interface {
	Embed(ctx context.Context, in liveness.Input) (*liveness.FaceEmbedding, error)
}

// PairScore is a pair and what the engine said about it.
type PairScore struct {
	A          string  `json:"path_a"`
	B          string  `json:"path_b"`
	Same       bool    `json:"same"`
	Similarity float64 `json:"similarity"` // cosine of the two embeddings; 0 when a face is missing
	Confidence float64 `json:"confidence"` // calibrated; 0 when a face is missing (never a match)
	// NoFace names the media of the pair in which no face was found (BIOMETRY fails on such a
	// pair); it counts as a non-match in the rates and apart as a failure to acquire.
	NoFace []string `json:"no_face,omitempty"`
	Error  string   `json:"error,omitempty"` // unreadable media or bad row: left out of every rate
}

// ScorePairs embeds every distinct media of the pairs once (workers at a time) and scores each
// pair with the calibration. Progress, when not nil, gets a progress bar.
func ScorePairs(ctx context.Context, e Embedder, cal liveness.BiometryCalibration, pairs []Pair, workers int, progress io.Writer) ([]PairScore, error) {
	var paths []string
	seen := map[string]bool{}
	for _, p := range pairs {
		if p.Error != "" {
			continue
		}
		for _, f := range []string{p.A, p.B} {
			if !seen[f] {
				seen[f] = true
				paths = append(paths, f)
			}
		}
	}
	type embedded struct {
		vec []float32
		err string
	}
	got := make([]embedded, len(paths))
	err := ForEach(ctx, len(paths), workers, NewBar(progress, len(paths), "embedding"), func(i int) {
		data, err := os.ReadFile(paths[i])
		if err != nil {
			got[i] = embedded{err: fmt.Sprintf("%s: cannot read: %v", paths[i], UnwrapPath(err))}
			return
		}
		emb, err := e.Embed(ctx, liveness.Input{Name: paths[i], Data: data})
		var me *media.Error
		switch {
		case errors.As(err, &me):
			got[i] = embedded{err: fmt.Sprintf("%s (%s)", me.Error(), me.Code)}
		case err != nil:
			got[i] = embedded{err: fmt.Sprintf("%s: %v", paths[i], err)}
		default:
			got[i] = embedded{vec: emb.Vector}
		}
	})
	if err != nil {
		return nil, err
	}
	index := map[string]embedded{}
	for i, p := range paths {
		index[p] = got[i]
	}
	out := make([]PairScore, len(pairs))
	for i, p := range pairs {
		s := PairScore{A: p.A, B: p.B, Same: p.Same, Error: p.Error}
		if s.Error == "" {
			a, b := index[p.A], index[p.B]
			switch {
			case a.err != "":
				s.Error = a.err
			case b.err != "":
				s.Error = b.err
			default:
				if a.vec == nil {
					s.NoFace = append(s.NoFace, p.A)
				}
				if b.vec == nil {
					s.NoFace = append(s.NoFace, p.B)
				}
				if len(s.NoFace) == 0 {
					s.Similarity = liveness.Similarity(&liveness.FaceEmbedding{Vector: a.vec}, &liveness.FaceEmbedding{Vector: b.vec})
					s.Confidence = cal.Confidence(s.Similarity)
				}
			}
		}
		out[i] = s
	}
	return out, nil
}

// Verification is the figures of a pairs run.
type Verification struct {
	Title       string    `json:"title"`
	Created     time.Time `json:"created"`
	Input       string    `json:"input"`
	Engine      string    `json:"engine"`
	Calibration string    `json:"calibration"`
	Threshold   float64   `json:"threshold"` // a pair matches when its confidence is >= Threshold
	Genuine     int       `json:"genuine"`   // same-person pairs scored
	Impostor    int       `json:"impostor"`  // different-person pairs scored
	Errors      int       `json:"errors"`    // pairs left out (unreadable media, bad rows)
	// FMR, FNMR and Accuracy are the system's rates at the threshold: a pair with a media without
	// a face is a non-match (BIOMETRY fails it). AUC, EER, ROC and the FNMR at fixed FMR describe
	// the comparison alone, over the pairs where both faces were found.
	//
	// AUC is the area under the ROC curve (the probability that a genuine pair scores above an
	// impostor pair, ties half).
	AUC      float64 `json:"auc"`
	FMR      Rate    `json:"fmr"`      // impostor pairs that match
	FNMR     Rate    `json:"fnmr"`     // genuine pairs that do not (no face counts as no match)
	Accuracy Rate    `json:"accuracy"` // pairs decided right
	FTA      Rate    `json:"fta"`      // pairs with a media without a face
	// EER is where FMR and FNMR meet (their mean at the closest threshold).
	EER          float64 `json:"eer"`
	EERThreshold float64 `json:"eer_threshold"`
	// FNMRAtFMR1 / FNMRAtFMR01: the lowest FNMR among thresholds whose FMR is <= 1% / 0.1%.
	FNMRAtFMR1  float64      `json:"fnmr_at_fmr_1pct"`
	FNMRAtFMR01 float64      `json:"fnmr_at_fmr_0_1pct"`
	ROC         []ROCPoint   `json:"roc"`
	Pairs       []PairScore  `json:"-"`
	Hardest     HardestPairs `json:"hardest"`
	Seconds     float64      `json:"seconds"`
}

// HardestPairs are the lowest-scoring genuine and highest-scoring impostor pairs, for a reader
// who wants to look at the errors.
type HardestPairs struct {
	Genuine  []PairScore `json:"genuine"`
	Impostor []PairScore `json:"impostor"`
}

// ROCPoint is one threshold of the ROC curve.
type ROCPoint struct {
	Threshold float64 `json:"threshold"`
	FMR       float64 `json:"fmr"`
	FNMR      float64 `json:"fnmr"`
}

// Verify computes the verification figures of scored pairs at the threshold.
func Verify(scores []PairScore, threshold float64) Verification {
	v := Verification{Threshold: threshold, Pairs: scores}
	noFace := 0
	for _, s := range scores {
		if s.Error != "" {
			v.Errors++
		} else if len(s.NoFace) > 0 {
			noFace++
		}
	}
	gen, imp := confidences(scores, false)
	v.Genuine, v.Impostor = len(gen), len(imp)
	falseMatch := len(imp) - below(imp, threshold)
	falseNonMatch := below(gen, threshold)
	v.FMR = NewRate(falseMatch, len(imp))
	v.FNMR = NewRate(falseNonMatch, len(gen))
	v.Accuracy = NewRate(len(gen)-falseNonMatch+len(imp)-falseMatch, len(gen)+len(imp))
	v.FTA = NewRate(noFace, len(gen)+len(imp))

	// The curve, the AUC and the EER describe the comparison itself: pairs with both faces.
	gen, imp = confidences(scores, true)
	v.AUC = mannWhitney(gen, imp)

	// Every distinct score is a threshold; "match" is confidence >= t.
	// Above every confidence (at most 1) nothing matches: the end of the curve.
	ts := slices.Concat(gen, imp, []float64{math.Nextafter(1, 2)})
	sort.Float64s(ts)
	ts = slices.Compact(ts)
	rate := func(k, n int) float64 {
		if n == 0 {
			return 0
		}
		return float64(k) / float64(n)
	}
	v.EER, v.FNMRAtFMR1, v.FNMRAtFMR01 = 1, 1, 1
	bestGap := math.Inf(1)
	for _, t := range ts {
		fmr := rate(len(imp)-below(imp, t), len(imp))
		fnmr := rate(below(gen, t), len(gen))
		v.ROC = append(v.ROC, ROCPoint{Threshold: t, FMR: fmr, FNMR: fnmr})
		if gap := math.Abs(fmr - fnmr); gap < bestGap {
			bestGap, v.EER, v.EERThreshold = gap, (fmr+fnmr)/2, t
		}
		if fmr <= 0.01 {
			v.FNMRAtFMR1 = min(v.FNMRAtFMR1, fnmr)
		}
		if fmr <= 0.001 {
			v.FNMRAtFMR01 = min(v.FNMRAtFMR01, fnmr)
		}
	}
	v.Hardest.Genuine = hardest(scores, true, 5)
	v.Hardest.Impostor = hardest(scores, false, 5)
	return v
}

// confidences are the sorted confidences of the genuine and the impostor pairs that could be
// scored (bothFaces: only those where both faces were found).
func confidences(scores []PairScore, bothFaces bool) (gen, imp []float64) {
	for _, s := range scores {
		if s.Error != "" || (bothFaces && len(s.NoFace) > 0) {
			continue
		}
		if s.Same {
			gen = append(gen, s.Confidence)
		} else {
			imp = append(imp, s.Confidence)
		}
	}
	sort.Float64s(gen)
	sort.Float64s(imp)
	return gen, imp
}

// mannWhitney is the probability that a genuine score is above an impostor score, ties half; both
// slices sorted.
func mannWhitney(gen, imp []float64) float64 {
	if len(gen) == 0 || len(imp) == 0 {
		return math.NaN()
	}
	var wins float64
	for _, g := range gen {
		lo := below(imp, g)
		eq := below(imp, math.Nextafter(g, math.Inf(1))) - lo
		wins += float64(lo) + float64(eq)/2
	}
	return wins / float64(len(gen)*len(imp))
}

// hardest returns the n worst pairs of one kind: the lowest genuine or highest impostor confidences.
func hardest(scores []PairScore, same bool, n int) []PairScore {
	var out []PairScore
	for _, s := range scores {
		if s.Error == "" && s.Same == same {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if same {
			return out[i].Confidence < out[j].Confidence
		}
		return out[i].Confidence > out[j].Confidence
	})
	return out[:min(n, len(out))]
}

// Files WriteVerification writes into its directory.
const (
	PairsFile = "pairs.tsv"
	ROCFile   = "roc.png"
)

// WriteVerification creates dir and writes metrics.json, pairs.tsv (every pair with its score),
// the ROC curve (roc.png) and report.md.
func WriteVerification(dir string, v *Verification) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: %s: %w", MetricsFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, MetricsFile), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var tsv strings.Builder
	tsv.WriteString("path_a\tpath_b\tsame\tsimilarity\tconfidence\tno_face\terror\n")
	for _, s := range v.Pairs {
		same, sim := "0", ""
		if s.Same {
			same = "1"
		}
		if len(s.NoFace) == 0 && s.Error == "" {
			sim = strconv.FormatFloat(s.Similarity, 'f', 6, 64)
		}
		fmt.Fprintf(&tsv, "%s\t%s\t%s\t%s\t%.6f\t%s\t%s\n", tsvField(s.A), tsvField(s.B), same, sim, s.Confidence,
			tsvField(strings.Join(s.NoFace, ",")), tsvField(s.Error))
	}
	if err := os.WriteFile(filepath.Join(dir, PairsFile), []byte(tsv.String()), 0o644); err != nil {
		return err
	}
	png, err := plotROC(v)
	if err != nil {
		return fmt.Errorf("eval: %s: %w", ROCFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ROCFile), png, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MarkdownFile), []byte(verificationMarkdown(v)), 0o644)
}

// plotROC draws FNMR against FMR on probit axes (a DET curve, the form ISO/IEC 19795-1 prefers),
// with the operating point at the threshold.
func plotROC(v *Verification) ([]byte, error) {
	p := newPlot("Face verification (DET)", "False match rate", "False non-match rate")
	var pts []DETPoint
	for _, r := range v.ROC {
		pts = append(pts, DETPoint{Threshold: r.Threshold, APCER: r.FMR, BPCER: r.FNMR})
	}
	detAxes(p, [][]DETPoint{pts})
	if err := addDiagonal(p); err != nil {
		return nil, err
	}
	line, err := addCurve(p, pts, paletteColor(0), 2, nil)
	if err != nil {
		return nil, err
	}
	if line != nil {
		p.Legend.Add(fmt.Sprintf("%d genuine / %d impostor pairs, EER %s", v.Genuine, v.Impostor, fmtPct(v.EER)), line)
	}
	dot, err := addDot(p, v.FMR.Value, v.FNMR.Value, paletteColor(1))
	if err != nil {
		return nil, err
	}
	p.Legend.Add(fmt.Sprintf("threshold %s", fmtThr(v.Threshold)), dot)
	return renderPNG(p)
}

func verificationMarkdown(v *Verification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", v.Title)
	fmt.Fprintf(&b, "Input `%s`, engine %s, calibration: %s. Created %s in %.1f s.\n\n", v.Input, v.Engine, v.Calibration,
		v.Created.Format(time.RFC3339), v.Seconds)
	fmt.Fprintf(&b, "%d genuine (same person) and %d impostor pairs; %d pairs left out (unreadable media or bad rows).\n\n",
		v.Genuine, v.Impostor, v.Errors)
	rate := func(r Rate) string {
		return fmt.Sprintf("%s (%d/%d; 95%% CI %s-%s)", fmtPct(r.Value), r.Count, r.Total, fmtPct(r.CI.Low), fmtPct(r.CI.High))
	}
	b.WriteString("| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| ROC AUC | %.4f |\n", v.AUC)
	fmt.Fprintf(&b, "| false match rate at %s | %s |\n", fmtThr(v.Threshold), rate(v.FMR))
	fmt.Fprintf(&b, "| false non-match rate at %s | %s |\n", fmtThr(v.Threshold), rate(v.FNMR))
	fmt.Fprintf(&b, "| accuracy at %s | %s |\n", fmtThr(v.Threshold), rate(v.Accuracy))
	fmt.Fprintf(&b, "| pairs with a media without a face (counted as no match) | %s |\n", rate(v.FTA))
	fmt.Fprintf(&b, "| EER | %s at confidence %s |\n", fmtPct(v.EER), fmtThr(v.EERThreshold))
	fmt.Fprintf(&b, "| FNMR at FMR <= 1%% | %s |\n", fmtPct(v.FNMRAtFMR1))
	fmt.Fprintf(&b, "| FNMR at FMR <= 0.1%% | %s |\n\n", fmtPct(v.FNMRAtFMR01))
	fmt.Fprintf(&b, "![DET](%s)\n\n", ROCFile)
	for _, part := range []struct {
		title string
		pairs []PairScore
	}{{"Least similar genuine pairs", v.Hardest.Genuine}, {"Most similar impostor pairs", v.Hardest.Impostor}} {
		if len(part.pairs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n| path_a | path_b | similarity | confidence |\n|---|---|---|---|\n", part.title)
		for _, s := range part.pairs {
			sim := "no face"
			if len(s.NoFace) == 0 {
				sim = fmt.Sprintf("%.3f", s.Similarity)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %.3f |\n", mdCell(s.A), mdCell(s.B), sim, s.Confidence)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Every pair with its score: `%s`. Figures: `%s`.\n", PairsFile, MetricsFile)
	return b.String()
}
