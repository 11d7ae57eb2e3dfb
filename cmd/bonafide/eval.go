package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"bonafide/eval"
	"bonafide/internal/assets"
	"bonafide/liveness"
)

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("eval", evalUsage, stderr)
	var ef engineFlags
	ef.register(fs, false)
	workers := fs.Int("workers", runtime.NumCPU(), "media analysed at once")
	out := fs.String("out", "eval-report", "directory for report.md, report.html, metrics.json, scores.tsv and the figures")
	cacheDir := fs.String("cache", filepath.Join(assets.CacheDir(), "eval-cache"), "where results are cached by file sha256 and engine fingerprint")
	noCache := fs.Bool("no-cache", false, "analyse every media again")
	tags := fs.String("tags", "", "tags for rows of the manifest that have none (and for every file of a directory)")
	fit := fs.Bool("fit", false, "fit the fusion (regularised logistic regression, cross-validated) and write a calibration")
	bySubject := fs.Bool("by-subject", false, "with --fit: keep each subject's media in one cross-validation fold")
	fitOut := fs.String("fit-out", "", "with --fit: the calibration file to write (default OUT/calibration.json)")
	fitFixed := fs.String("fit-fixed", "", "with --fit: comma-separated signals that keep their weight in the calibration in use (entered as offsets), e.g. the video signals when the set has few videos")
	fitData := fs.String("fit-data", "", "with --fit: a description of the data and its licence, stored in the calibration")
	synthetic := fs.Bool("synthetic", false, "the attacks include media made by 'bonafide synth': the report says its figures are not accuracy")
	quiet := fs.Bool("quiet", false, "no progress bar")
	groupsFile := fs.String("groups", "", "a table of apparent demographic groups of the live subjects (key, kind, skin, age; e.g. docs/devset-demographics.tsv): the report adds BPCER per skin tone and age with the worst-to-best ratio")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "bonafide eval: give one manifest or directory (see 'bonafide eval --help')")
		return 2
	}
	if *bySubject && !*fit {
		fmt.Fprintln(stderr, "bonafide eval: --by-subject goes with --fit")
		return 2
	}
	input := fs.Arg(0)
	if eval.IsPairsManifest(input) {
		if *fit {
			fmt.Fprintln(stderr, "bonafide eval: --fit fits the liveness fusion; a pairs manifest (path_a, path_b, same) measures face verification")
			return 2
		}
		return runVerification(ctx, input, &ef, *workers, *out, *quiet, stdout, stderr)
	}
	entries, err := eval.Load(input)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
		return 1
	}
	ef.workers = 1 // media run in parallel instead
	eng, closeFn, err := ef.open()
	if err != nil {
		fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
		return 1
	}
	defer closeFn()

	runner := &eval.Runner{
		Engine:          eng,
		Fusion:          eng.Fusion(),
		DeclineMultiple: eng.Config().DeclineMultiple,
		Threshold:       eng.Config().Threshold,
		Workers:         *workers,
		DefaultTags:     splitTags(*tags),
	}
	if !*noCache {
		runner.CacheDir = *cacheDir
	}
	if !*quiet {
		runner.Progress = stderr
	}
	samples, stats, err := runner.Run(ctx, entries)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
		return 1
	}
	for _, s := range samples {
		if s.Error != "" {
			fmt.Fprintf(stderr, "bonafide eval: skipped: %s\n", s.Error)
		}
	}

	calibration := eng.Fusion().Name
	if *fit {
		fixed := map[string]float64{}
		for _, name := range splitTags(*fitFixed) {
			if !slices.Contains(liveness.SignalNames(), name) {
				fmt.Fprintf(stderr, "bonafide eval: --fit-fixed names %q, which is not a signal (signals: %s)\n", name, strings.Join(liveness.SignalNames(), ", "))
				return 2
			}
			fixed[name] = eng.Fusion().Weights[name]
		}
		data := fmt.Sprintf("%s, %d rows", filepath.Base(input), len(samples))
		if *fitData != "" {
			data = *fitData + " (" + data + ")"
		}
		res, err := eval.Fit(samples, eval.FitOptions{BySubject: *bySubject, Name: "fitted on " + filepath.Base(input),
			Data: data, Fixed: fixed})
		if err != nil {
			fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
			return 1
		}
		path := *fitOut
		if path == "" {
			path = filepath.Join(*out, "calibration.json")
		}
		if err := writeJSON(path, res.Fusion); err != nil {
			fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
			return 1
		}
		for i := range samples {
			if !math.IsNaN(res.CVScores[i]) {
				samples[i].Scores[eval.FusionScore] = res.CVScores[i]
			}
		}
		calibration = res.Fusion.Name + " (cross-validated scores)"
		fmt.Fprintf(stdout, "calibration written to %s: bias %.3f, weights %v, L2 %g, out-of-fold log-loss %.4f\n",
			path, res.Fusion.Bias, res.Fusion.Weights, res.Lambda, res.CVLoss)
	}

	threshold := eng.Config().Threshold
	rep := &eval.Report{
		Title:       "Bonafide accuracy report",
		Created:     time.Now().UTC(),
		Input:       input,
		Engine:      liveness.Version,
		Calibration: calibration,
		Threshold:   threshold,
		Signals:     liveness.SignalNames(),
		Samples:     samples,
		Errors:      stats.Errors,
		Seconds:     stats.Seconds,
		Cached:      stats.Cached,
		Synthetic:   *synthetic,
	}
	for _, m := range eng.Info().Models {
		rep.Models = append(rep.Models, m.Name+" "+m.SHA256)
	}
	for _, name := range append([]string{eval.FusionScore}, rep.Signals...) {
		rep.Metrics = append(rep.Metrics, eval.Compute(samples, name, threshold))
	}
	rep.Breakdowns = append(rep.Breakdowns, eval.BreakdownBy(samples, eval.FusionScore, threshold, "Per source", eval.SourceOf))
	if *groupsFile != "" {
		groups, err := eval.LoadGroups(*groupsFile)
		if err != nil {
			fmt.Fprintf(stderr, "bonafide eval: --groups: %v\n", err)
			return 1
		}
		rep.Breakdowns = append(rep.Breakdowns, groups.DemographicBreakdowns(samples, eval.FusionScore, threshold, eval.MinGroupLive)...)
	}
	if err := eval.WriteReport(*out, rep); err != nil {
		fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
		return 1
	}
	printSummary(stdout, rep)
	printBreakdowns(stdout, rep.Breakdowns)
	fmt.Fprintf(stdout, "%d media (%d from the cache, %d skipped) in %.1f s; report in %s\n",
		len(samples), stats.Cached, stats.Errors, stats.Seconds, filepath.Join(*out, "report.html"))
	return 0
}

// runVerification measures face verification (the BIOMETRY analysis) on a pairs manifest.
func runVerification(ctx context.Context, input string, ef *engineFlags, workers int, out string, quiet bool, stdout, stderr io.Writer) int {
	pairs, err := eval.LoadPairs(input)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
		return 1
	}
	ef.workers = 1
	eng, closeFn, err := ef.open()
	if err != nil {
		fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
		return 1
	}
	defer closeFn()
	var progress io.Writer
	if !quiet {
		progress = stderr
	}
	start := time.Now()
	cal := liveness.DefaultBiometryCalibration()
	scores, err := eval.ScorePairs(ctx, eng, cal, pairs, workers, progress)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
		return 1
	}
	for _, s := range scores {
		if s.Error != "" {
			fmt.Fprintf(stderr, "bonafide eval: skipped: %s\n", s.Error)
		}
	}
	// The report names media as the manifest did: relative to its folder.
	base := filepath.Dir(input)
	for i := range scores {
		scores[i].A, scores[i].B = relativeTo(base, scores[i].A), relativeTo(base, scores[i].B)
		for j, f := range scores[i].NoFace {
			scores[i].NoFace[j] = relativeTo(base, f)
		}
	}
	v := eval.Verify(scores, eng.Config().BiometryThreshold)
	v.Title = "Bonafide face verification report"
	v.Created = time.Now().UTC()
	v.Input = input
	v.Engine = liveness.Version
	v.Calibration = fmt.Sprintf("sigmoid(%.4f cos %+.4f): %s", cal.Slope, cal.Bias, cal.About)
	v.Seconds = time.Since(start).Seconds()
	if err := eval.WriteVerification(out, &v); err != nil {
		fmt.Fprintf(stderr, "bonafide eval: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "pairs\t%d genuine, %d impostor, %d left out\n", v.Genuine, v.Impostor, v.Errors)
	fmt.Fprintf(tw, "ROC AUC\t%.4f\n", v.AUC)
	fmt.Fprintf(tw, "at %.2f\tFMR %s, FNMR %s, accuracy %s\n", v.Threshold, pct(v.FMR), pct(v.FNMR), pct(v.Accuracy))
	fmt.Fprintf(tw, "EER\t%.2f%% at %.3f\n", 100*v.EER, v.EERThreshold)
	fmt.Fprintf(tw, "no face\t%s of the pairs\n", pct(v.FTA))
	_ = tw.Flush()
	fmt.Fprintf(stdout, "%d pairs in %.1f s; report in %s\n", len(pairs), v.Seconds, filepath.Join(out, eval.MarkdownFile))
	return 0
}

// relativeTo is path relative to base when it lies under base, else path.
func relativeTo(base, path string) string {
	if rel, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func printSummary(w io.Writer, r *eval.Report) {
	if r.Synthetic {
		fmt.Fprintln(w, "NOTE: attacks include synthetic media made by 'bonafide synth': these figures are a development check, not accuracy.")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "score\tlive\tattacks\tmax APCER\tworst\tBPCER\tACER\tEER\tBPCER20\tBPCER100\tFTA\t(threshold %.2f)\n", r.Threshold)
	for _, m := range r.Metrics {
		at := m.AtThreshold
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%.1f%%\t%s\t%s\t%s\t\n", m.Score, m.Live, m.Attacks,
			pct(at.MaxAPCER), at.WorstSpecies, pct(at.BPCER), fmt.Sprintf("%.1f%%", 100*at.ACER), 100*m.EER,
			pct(m.BPCER20.BPCER), pct(m.BPCER100.BPCER), pct(m.FTA))
	}
	tw.Flush()
}

func pct(r eval.Rate) string {
	if !r.Defined {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*r.Value, r.Count, r.Total)
}

func splitTags(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

const evalUsage = `Usage: bonafide eval [flags] MANIFEST|DIR

Runs the engine over a labelled set and reports ISO/IEC 30107-3 figures: APCER per attack species
and the worst species, BPCER, ACER, EER, BPCER20, BPCER100, APCER at BPCER 1% and 5%, and the
failure-to-acquire rate, each with its counts and 95% Wilson interval, at the threshold and at the
standard operating points; the same for each signal alone.

MANIFEST is a TSV or CSV file with a header: path, label (live|attack), species (print, replay,
mask, cutout or any word), optional subject and tags. DIR is laid out as live/... and
attack/<species>/.... Results are cached by file sha256 and engine fingerprint, so a second run
with another threshold or calibration takes seconds.

A pairs manifest (a header with path_a, path_b, same: 1 for the same person, 0 for two people)
measures face verification instead, as the BIOMETRY analysis decides: every media embedded once,
each pair's calibrated confidence, ROC AUC, false match and false non-match rates at
--biometry-threshold with their Wilson intervals, EER, and the DET curve (report.md, metrics.json,
pairs.tsv, roc.png in --out).

--fit fits the fusion and writes a calibration JSON that 'bonafide analyze --calibration' loads;
the report then shows the fusion's cross-validated (out-of-fold) scores.

Flags:
`
