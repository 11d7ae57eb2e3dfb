package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"bonafide/eval"
	"bonafide/internal/assets"
	"bonafide/liveness"
	"bonafide/onnx"
	"bonafide/train"
)

const trainUsage = `Usage: bonafide train [flags] --out DIR MANIFEST

Trains Bonafide's passive anti-spoof models on your own labelled captures and writes a model
directory that 'serve', 'analyze' and 'eval' load with --passive-models DIR/model.

MANIFEST is what 'bonafide eval' reads: a TSV or CSV with path, label (live|attack), species,
subject and tags (or a live/... attack/<species>/... directory). Give every person a subject:
the models are checked on people they were not trained on.

Steps (each keeps its output in DIR, so a stopped run resumes where it was):
  1. crops: the engine cuts every face as the passive models see it (same detector, crop rule and
     colour order as at inference), plus close-range cuts of frames with room around the face;
  2. the PyTorch port of the base model (fr_liveness.onnx) is checked against ONNX Runtime;
  3. the base model's first layers stay as they are: their output is computed once for every
     crop and augmented copies (blur, JPEG, dark and backlit light, noise, colour, rotation,
     a medical mask on live faces);
  4. the later layers are fine-tuned, once per fold (its subjects held out) and once on all;
     every export is checked against PyTorch in ONNX Runtime (within 1e-4);
  5. each media is analysed by the engine with the models of the fold that held it out, the
     fusion is fitted on those signals grouped by subject, and the out-of-source figures are
     printed and written to DIR/report.
The model directory is DIR/model: passive.json (each model pinned by sha256), the ONNX files and
calibration.json. Needs Debian's PyTorch: 'make train-deps'.

Flags:
`

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("train", trainUsage, stderr)
	var ef engineFlags
	ef.register(fs, false)
	out := fs.String("out", "", "the training directory: crops, checkpoints, the model directory and the report (required)")
	workers := fs.Int("workers", runtime.NumCPU(), "media cropped and analysed at once")
	views := fs.String("views", "2.3", "contexts of the models' views (the crop's side over the face box's side), comma-separated: one model each, the first feeds the signal passive, a second (e.g. 4) passive_wide")
	closeCuts := fs.String("close", "1.15,1.4", "close-range cuts simulated from frames with room around the face (window side over the face box's side)")
	cropFrames := fs.Int("crop-frames", 8, "frames taken from each video for the crops, evenly spaced")
	python := fs.String("python", train.DefaultPython, "Python interpreter with PyTorch, torchvision and onnx")
	copies := fs.Int("copies", 2, "copies of every crop in training: the crop and copies-1 augmented ones")
	epochs := fs.Float64("epochs", 2, "passes over the crops per model")
	lr := fs.Float64("lr", 1e-4, "learning rate (AdamW, cosine schedule)")
	blend := fs.Float64("blend", 0.75, "weight of the tuned layers against the base model's after training, in (0, 1]: below 1 moves them back towards the base model (WiSE-FT)")
	mixStyle := fs.Float64("mixstyle", 0.8, "share of training batches in which each crop's activation statistics are mixed with those of a crop of the same class (live or attack) from another source (MixStyle), in [0, 1]")
	batch := fs.Int("batch", 64, "crops per step")
	maxSteps := fs.Int("max-steps", 0, "stop each model's training after this many steps (0: no limit; for a quick check)")
	folds := fs.Int("folds", 5, "subjects are held out in this many folds (0: one fold per subject)")
	cut := fs.String("cut", "647", "the base model's tensor after which layers are fine-tuned (earlier layers stay as they are)")
	seed := fs.Int("seed", 1, "random seed")
	torchThreads := fs.Int("torch-threads", min(2, runtime.NumCPU()), "PyTorch threads")
	fitFixed := fs.String("fit-fixed", "challenge,flatness,identity", "signals that keep the default calibration's weight in the fusion fit (the video signals, unless your set has many videos)")
	data := fs.String("data", "", "a description of the data and its licence, stored in the model directory")
	tags := fs.String("tags", "", "tags for rows of the manifest that have none")
	groupsFile := fs.String("groups", "", "a table of apparent demographic groups of the live subjects (as 'bonafide eval --groups'): the report adds BPCER per skin tone and age")
	balanceSkin := fs.Bool("balance-skin", false, "with --groups: the live media of each apparent skin tone weigh in training, in all, with the square root of their share, so a small group is not drowned by a large one (the shipped model is trained with it; off by default, as it needs --groups; measured in models/README.md)")
	cacheDir := fs.String("cache", filepath.Join(assets.CacheDir(), "eval-cache"), "where the out-of-source evaluation caches its results (as 'bonafide eval')")
	noFolds := fs.Bool("no-folds", false, "train the final models only (no out-of-source figures; the fusion keeps the default weights)")
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
	var bad []string
	for name, ok := range map[string]bool{"copies": *copies >= 1, "epochs": *epochs > 0, "lr": *lr > 0, "blend": *blend > 0 && *blend <= 1, "mixstyle": *mixStyle >= 0 && *mixStyle <= 1, "batch": *batch >= 1,
		"max-steps": *maxSteps >= 0, "folds": *folds >= 0 && *folds != 1, "crop-frames": *cropFrames >= 1, "torch-threads": *torchThreads >= 1} {
		if !ok {
			bad = append(bad, "--"+name)
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(stderr, "bonafide train: out of range: %s (see 'bonafide train --help')\n", strings.Join(bad, ", "))
		return 2
	}
	if len(vs) > 2 {
		fmt.Fprintln(stderr, "bonafide train: --views: at most two views (the signals passive and passive_wide)")
		return 2
	}
	fixed := map[string]float64{}
	for _, name := range splitTags(*fitFixed) {
		w, ok := liveness.DefaultFusion().Weights[name]
		if !ok {
			fmt.Fprintf(stderr, "bonafide train: --fit-fixed names %q, which is not a signal with a default weight (%s)\n", name, strings.Join(liveness.SignalNames(), ", "))
			return 2
		}
		fixed[name] = w
	}
	if err := ef.validate(); err != nil {
		fmt.Fprintf(stderr, "bonafide train: %v\n", err)
		return 2
	}
	manifest, _ := filepath.Abs(fs.Arg(0))
	rt, err := onnx.Open(onnx.Options{LibraryPath: ef.ortLib, ModelDir: ef.modelDir, IntraOpThreads: ef.threads}, slices.Concat(onnx.Names, []string{onnx.Liveness})...)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide train: %v\n", err)
		return 1
	}
	defer rt.Close()
	engine := func(frames int, set *liveness.PassiveSet) (*liveness.Engine, error) {
		cfg := liveness.DefaultConfig()
		cfg.Threshold, cfg.Workers, cfg.Passive = ef.threshold, 1, set
		cfg.Limits.MaxFrames = frames
		return liveness.New(rt, cfg)
	}
	cropEngine, err := engine(*cropFrames, nil)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide train: %v\n", err)
		return 1
	}
	var progress io.Writer
	if !*quiet {
		progress = stderr
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "bonafide train: %v\n", err)
		return 1
	}
	logFile, err := os.OpenFile(filepath.Join(*out, "train.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide train: %v\n", err)
		return 1
	}
	defer logFile.Close()
	cfg := train.Config{
		Manifest: manifest, Out: *out,
		Python:    train.Python{Exe: *python, Log: logFile, Progress: progress},
		BaseModel: filepath.Join(ef.modelDir, onnx.Registry[onnx.Liveness].File),
		Views:     vs, Close: cuts, Copies: *copies, Cut: *cut, Epochs: *epochs, LR: *lr, Blend: *blend, MixStyle: *mixStyle, Batch: *batch,
		MaxSteps: *maxSteps, Folds: *folds, Seed: *seed, Threads: *torchThreads, Workers: *workers,
		FitFixed: fixed, Data: *data, Tags: splitTags(*tags), Threshold: ef.threshold, NoFolds: *noFolds,
		EvalCache: *cacheDir,
		Progress:  progress, Log: io.MultiWriter(stdout, logFile),
		Runtime: rt, CropEngine: cropEngine,
		NewEngine: func(set *liveness.PassiveSet) (*liveness.Engine, error) { return engine(ef.frames, set) },
	}
	if cfg.Data == "" {
		cfg.Data = "data described by its owner's manifest"
	}
	if *groupsFile != "" {
		if cfg.Groups, err = eval.LoadGroups(*groupsFile); err != nil {
			fmt.Fprintf(stderr, "bonafide train: --groups: %v\n", err)
			return 2
		}
	}
	if *balanceSkin && cfg.Groups == nil {
		fmt.Fprintln(stderr, "bonafide train: --balance-skin needs --groups (the table of apparent skin tones)")
		return 2
	}
	cfg.BalanceSkin = *balanceSkin
	res, err := train.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide train: %v\n", err)
		return 1
	}
	printTrainResult(stdout, res)
	return 0
}

func printTrainResult(w io.Writer, res *train.Result) {
	for v, a := range res.CropAUC {
		fmt.Fprintf(w, "held-out face crops, %s view: AUC %.3f fine-tuned, %.3f before (pooled over folds)\n", v, a[0], a[1])
	}
	if res.Report != nil {
		fmt.Fprintln(w, "out-of-source figures (each media scored by models that never saw its subject):")
		printSummary(w, res.Report)
		printBreakdowns(w, res.Report.Breakdowns)
		fmt.Fprintf(w, "report: %s\n", filepath.Join(filepath.Dir(res.ModelDir), "report", eval.MarkdownFile))
	}
	fmt.Fprintf(w, "model directory: %s (load it with --passive-models %s) in %.0f s\n", res.ModelDir, res.ModelDir, res.Seconds)
}

// printBreakdowns prints each breakdown as a table, with its BPCER differential when it has one.
func printBreakdowns(w io.Writer, bs []eval.Breakdown) {
	for _, b := range bs {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tlive\tBPCER\tattacks\tAPCER\tAUC\n", b.Title)
		for _, r := range b.Rows {
			auc := ""
			if r.AUC != nil {
				auc = strconv.FormatFloat(*r.AUC, 'f', 3, 64)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", r.Group, r.Live, pct(r.BPCER), r.Attacks, pct(r.APCER), auc)
		}
		tw.Flush()
		if d := b.Differential; d != nil {
			fmt.Fprintf(w, "BPCER differential (%s over %s): %.2f (95%% %.2f-%.2f)\n", d.Worst, d.Best, d.Value, d.CI.Low, d.CI.High)
		}
	}
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
		v := liveness.View{Scale: f, Size: 128}
		if err := v.Validate(); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
