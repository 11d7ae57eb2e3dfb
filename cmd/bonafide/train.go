package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"bonafide/eval"
	"bonafide/liveness"
	"bonafide/train"
)

const trainUsage = `Usage: bonafide train [flags] --out DIR MANIFEST

Trains a passive anti-spoof model on your own labelled captures (the manifest format of
'bonafide eval': path, label, species, subject, tags) and writes a model directory that
'serve', 'analyze' and 'eval' load with --passive-models DIR.

Flags:
`

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("train", trainUsage, stderr)
	var ef engineFlags
	ef.register(fs, false)
	out := fs.String("out", "", "the training directory: crops, checkpoints, the model directory and the report (required)")
	workers := fs.Int("workers", runtime.NumCPU(), "media cropped at once")
	views := fs.String("views", "2.7,4", "contexts of the crops (the crop's side over the face box's side), comma-separated")
	closeCuts := fs.String("close", "1.15,1.4", "close-range cuts simulated from frames with room around the face (window side over the face box's side)")
	cropFrames := fs.Int("crop-frames", 8, "frames taken from each video for the crops, evenly spaced")
	cropsOnly := fs.Bool("crops-only", false, "write the crops and stop")
	quiet := fs.Bool("quiet", false, "no progress bars")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 1 || *out == "" {
		fmt.Fprintln(stderr, "bonafide train: give --out DIR and one manifest (see 'bonafide train --help')")
		return 2
	}
	vs, err := parseViews(*views)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide train: --views: %v\n", err)
		return 2
	}
	cuts, err := parseFloats(*closeCuts)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide train: --close: %v\n", err)
		return 2
	}
	entries, err := eval.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "bonafide train: %v\n", err)
		return 1
	}
	ef.workers = 1
	ef.frames = *cropFrames
	eng, closeFn, err := ef.open()
	if err != nil {
		fmt.Fprintf(stderr, "bonafide train: %v\n", err)
		return 1
	}
	defer closeFn()
	var progress io.Writer
	if !*quiet {
		progress = stderr
	}
	st, err := train.WriteCrops(ctx, eng, entries, filepath.Dir(fs.Arg(0)), filepath.Join(*out, "crops"),
		train.CropConfig{Views: vs, Close: cuts, Workers: *workers, Progress: progress})
	if err != nil {
		fmt.Fprintf(stderr, "bonafide train: crops: %v\n", err)
		return 1
	}
	for _, e := range st.Errors {
		fmt.Fprintf(stderr, "bonafide train: skipped: %s\n", e)
	}
	fmt.Fprintf(stdout, "crops: %d face crops from %d media (%d reused, %d skipped) in %s\n", st.Crops, st.Media, st.Reused, st.Skipped, filepath.Join(*out, "crops"))
	if *cropsOnly {
		return 0
	}
	return 0
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseViews(s string) ([]liveness.View, error) {
	fs, err := parseFloats(s)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("no view given")
	}
	var out []liveness.View
	for _, f := range fs {
		out = append(out, liveness.View{Scale: f, Size: 128})
	}
	return out, nil
}
