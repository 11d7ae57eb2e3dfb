package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"bonafide/eval"
	"bonafide/liveness"
	"bonafide/onnx"
)

// Config is one training run: from a labelled manifest to a model directory.
type Config struct {
	Manifest string // the labelled set (the format `bonafide eval` reads)
	Out      string // the training directory

	Python    Python
	BaseModel string // fr_liveness.onnx, the model fine-tuned

	Views      []liveness.View
	Close      []float64 // close-range cuts simulated for the crops
	Copies     int       // copies of each crop: itself and Copies-1 augmented
	Cut        string    // the base model's tensor after which layers are fine-tuned
	Epochs     float64
	LR         float64
	Blend      float64 // weight of the tuned layers against the base model's after training (WiSE-FT); 0 or 1: the tuned weights
	MixStyle   float64 // share of training batches whose activation statistics are mixed across sources (0: none)
	Batch      int
	MaxSteps   int // per training, 0: no limit (the smoke test sets a few)
	Folds      int // groups packed into this many folds; 0: one fold per group
	Seed       int
	Threads    int // PyTorch threads
	Workers    int // media at once when cropping and evaluating
	FitFixed   map[string]float64
	Data       string // a description of the data and its licence, stored in the model directory
	Tags       []string
	Threshold  float64
	EvalCache  string       // eval's result cache ("" for none)
	NoFolds    bool         // train the final models only: no out-of-source figures
	Groups     *eval.Groups // apparent demographic groups of the live subjects, for the report (nil: none)
	Progress   io.Writer
	Log        io.Writer
	Runtime    *onnx.Runtime                                            // where models are loaded (the base model among them)
	CropEngine *liveness.Engine                                         // the engine that cuts the crops (its frame count is the crops')
	NewEngine  func(set *liveness.PassiveSet) (*liveness.Engine, error) // an engine over a passive set, for the out-of-source evaluation

	// BalanceSkin weighs the live crops of each apparent skin tone of Groups, in all, with the
	// square root of their share (passive.py sample_weights), so a small group is not drowned.
	BalanceSkin bool
}

// Result is what a run measured and wrote.
type Result struct {
	ModelDir   string
	Crops      CropStats
	PortDiff   float64             // max |torch - ONNX Runtime| of the base model's port on the reference crops
	ExportDiff float64             // the same over every exported model
	Folds      map[string][]string // fold -> groups held out
	Report     *eval.Report        // out-of-source figures (nil with NoFolds)
	Fusion     *liveness.Fusion
	CropAUC    map[string][2]float64 // view -> pooled held-out crop AUC of the fine-tuned and the base model
	Seconds    float64
}

// Run trains: it writes the crops, fine-tunes one model per view and fold and on everything,
// checks every export against PyTorch in ONNX Runtime, measures the fold models out of source
// with the engine, fits the fusion on those out-of-source signals grouped by subject, and writes
// the model directory (passive.json, the ONNX files, calibration.json) and the report. Each step
// keeps its output, so a run that was stopped resumes where it was.
func Run(ctx context.Context, c Config) (*Result, error) {
	start := time.Now()
	res := &Result{ModelDir: filepath.Join(c.Out, "model")}
	if c.BalanceSkin && c.Groups == nil {
		// Refused before any work: the table is needed only at step 4, after minutes of crops and features.
		return nil, errors.New("balancing skin tones needs a groups table")
	}
	if err := c.Python.Check(ctx); err != nil {
		return nil, err
	}
	entries, err := eval.Load(c.Manifest)
	if err != nil {
		return nil, err
	}
	for i := range entries {
		if len(entries[i].Tags) == 0 {
			entries[i].Tags = c.Tags
		}
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}
	c.Python.Dir = filepath.Join(c.Out, "python")
	base := filepath.Dir(c.Manifest)
	crops := filepath.Join(c.Out, "crops")
	c.logf("1/5 crops: the engine's views %v of every face, close-range cuts %v", c.Views, c.Close)
	res.Crops, err = WriteCrops(ctx, c.CropEngine, entries, base, crops, CropConfig{Views: c.Views, Close: c.Close, Workers: c.Workers, Progress: c.Progress})
	if err != nil {
		return nil, fmt.Errorf("crops: %w", err)
	}
	for _, e := range res.Crops.Errors {
		c.logf("  skipped: %s", e)
	}
	c.logf("  %d face crops from %d media (%d from an earlier run, %d skipped)", res.Crops.Crops, res.Crops.Media, res.Crops.Reused, res.Crops.Skipped)
	if res.Crops.Crops == 0 {
		return nil, errors.New("no face crop could be made from the manifest")
	}

	// The port of the base model must compute what ONNX Runtime computes on the same crops.
	common := []string{"--crops", crops, "--base", c.BaseModel, "--cache", filepath.Join(c.Out, "cache"),
		"--cut", c.Cut, "--k", strconv.Itoa(c.Copies), "--seed", strconv.Itoa(c.Seed), "--threads", strconv.Itoa(c.Threads)}
	refPath := filepath.Join(c.Out, "base.reference.json")
	if err := c.Python.Run(ctx, "reference", "--crops", crops, "--base", c.BaseModel, "--out", refPath); err != nil {
		return nil, err
	}
	baseModel := c.Runtime.Model(onnx.Liveness)
	if baseModel == nil {
		return nil, errors.New("the base model is not loaded")
	}
	if res.PortDiff, err = checkReference(refPath, crops, baseModel); err != nil {
		return nil, fmt.Errorf("the PyTorch port of %s: %w", filepath.Base(c.BaseModel), err)
	}
	c.logf("2/5 the PyTorch port of %s agrees with ONNX Runtime: max |difference| %.2g over the reference crops", filepath.Base(c.BaseModel), res.PortDiff)

	c.logf("3/5 the frozen layers' activations of every crop and %d augmented copies", c.Copies-1)
	if err := c.Python.Run(ctx, append([]string{"features"}, common...)...); err != nil {
		return nil, err
	}
	models := filepath.Join(c.Out, "models")
	fit := append([]string{"fit"}, common...)
	blend := c.Blend
	if blend == 0 {
		blend = 1
	}
	fit = append(fit, "--out", models, "--epochs", fmt.Sprint(c.Epochs), "--lr", fmt.Sprint(c.LR), "--blend", fmt.Sprint(blend),
		"--batch", strconv.Itoa(c.Batch), "--max-steps", strconv.Itoa(c.MaxSteps), "--max-folds", strconv.Itoa(c.Folds),
		"--mixstyle", fmt.Sprint(c.MixStyle))
	if c.NoFolds {
		fit = append(fit, "--no-folds")
	}
	if c.BalanceSkin {
		path, n, err := writeBalance(c.Out, entries, base, c.Groups)
		if err != nil {
			return nil, err
		}
		c.logf("  the live media of each apparent skin tone weigh with the square root of their share (%d live media with a skin tone)", n)
		fit = append(fit, "--balance", path)
	}
	c.logf("4/5 fine-tuning per view: one model per fold (its subjects held out) and one on everything")
	if err := c.Python.Run(ctx, fit...); err != nil {
		return nil, err
	}
	var tr trainReport
	if err := readJSON(filepath.Join(models, "train-report.json"), &tr); err != nil {
		return nil, err
	}
	res.Folds = tr.Folds
	res.CropAUC = tr.pooledAUC()

	// Every exported model must agree with PyTorch in ONNX Runtime, as the engine will run it.
	viewNames := make([]string, len(c.Views))
	for i, v := range c.Views {
		viewNames[i] = v.String()
	}
	dirs := []string{"final"}
	if !c.NoFolds {
		for f := range tr.Folds {
			dirs = append(dirs, "fold-"+f)
		}
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		for _, v := range c.Views {
			path := filepath.Join(models, d, "passive_"+v.String()+".onnx")
			m, err := addFile(c.Runtime, path, v)
			if err != nil {
				return nil, err
			}
			diff, err := checkReference(path+".reference.json", crops, m)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			res.ExportDiff = math.Max(res.ExportDiff, diff)
		}
	}
	c.logf("  every export agrees with PyTorch in ONNX Runtime: max |difference| %.2g", res.ExportDiff)

	fixedNote := ""
	if len(c.FitFixed) > 0 {
		var names []string
		for n := range c.FitFixed {
			names = append(names, n)
		}
		sort.Strings(names)
		fixedNote = fmt.Sprintf("; %s keep their weights %v", strings.Join(names, ", "), c.FitFixed)
	}
	// The model is named by when its final weights were written, so a resumed run that trained
	// nothing again keeps the name.
	st, err := os.Stat(filepath.Join(models, "final", "passive_"+c.Views[0].String()+".onnx"))
	if err != nil {
		return nil, err
	}
	created := st.ModTime().UTC()
	man := liveness.PassiveManifest{
		Name:        "trained-" + created.Format("2006-01-02-1504"), // two models trained the same day have different names
		Description: fmt.Sprintf("fine-tuned from %s on %s (%s)", filepath.Base(c.BaseModel), filepath.Base(c.Manifest), c.Data),
		Engine:      liveness.Version,
		Created:     created.Format(time.RFC3339),
		Calibration: "calibration.json",
	}
	if c.NoFolds {
		c.logf("5/5 no folds: the fusion keeps the default calibration's weights")
		if err := writeModelDir(res.ModelDir, filepath.Join(models, "final"), c.Views, man, liveness.DefaultFusion()); err != nil {
			return nil, err
		}
		res.Fusion = liveness.DefaultFusion()
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}

	c.logf("5/5 out-of-source figures: each media analysed by the engine with the models of the fold that held it out")
	samples := make([]eval.Sample, len(entries))
	foldOf := map[string]string{}
	for f, groups := range tr.Folds {
		for _, g := range groups {
			foldOf[g] = f
		}
	}
	byFold := map[string][]int{}
	for i, e := range entries {
		f, ok := foldOf[groupOf(e, base)]
		if !ok {
			samples[i] = eval.Sample{Path: e.Path, Label: e.Label, Species: e.Species, Subject: e.Subject, Error: e.Error}
			if e.Error == "" {
				samples[i].Error = fmt.Sprintf("%s: no crop was made from it (no face or unreadable), so no fold held it out", e.Path)
			}
			continue
		}
		byFold[f] = append(byFold[f], i)
	}
	folds := make([]string, 0, len(byFold))
	for f := range byFold {
		folds = append(folds, f)
	}
	sort.Slice(folds, func(i, j int) bool { a, _ := strconv.Atoi(folds[i]); b, _ := strconv.Atoi(folds[j]); return a < b })
	var seconds float64
	var cached int
	for _, f := range folds {
		dir := filepath.Join(models, "fold-"+f)
		if err := writeManifest(dir, c.Views, liveness.PassiveManifest{Name: "fold-" + f, Description: "held out: " + strings.Join(tr.Folds[f], ", ")}); err != nil {
			return nil, err
		}
		set, err := liveness.LoadPassiveSet(c.Runtime, os.DirFS(dir), dir)
		if err != nil {
			return nil, err
		}
		eng, err := c.NewEngine(set)
		if err != nil {
			return nil, err
		}
		part := make([]eval.Entry, len(byFold[f]))
		for k, i := range byFold[f] {
			part[k] = entries[i]
		}
		runner := &eval.Runner{Engine: eng, Fusion: liveness.DefaultFusion(), DeclineMultiple: eng.Config().DeclineMultiple,
			Threshold: eng.Config().Threshold, Workers: c.Workers, CacheDir: c.EvalCache}
		if c.Progress != nil {
			runner.Progress = c.Progress
		}
		got, st, err := runner.Run(ctx, part)
		if err != nil {
			return nil, err
		}
		seconds += st.Seconds
		cached += st.Cached
		for k, i := range byFold[f] {
			samples[i] = got[k]
		}
	}
	fitRes, err := eval.Fit(samples, eval.FitOptions{BySubject: true, Fixed: c.FitFixed,
		Name: man.Name, Data: fmt.Sprintf("out-of-source signals of %s (%s)%s", filepath.Base(c.Manifest), c.Data, fixedNote)})
	if err != nil {
		return nil, fmt.Errorf("fitting the fusion: %w", err)
	}
	res.Fusion = fitRes.Fusion
	for i := range samples {
		if !math.IsNaN(fitRes.CVScores[i]) {
			samples[i].Scores[eval.FusionScore] = fitRes.CVScores[i]
		}
		// They were scored under the engine's embedded fusion; the report gives the fitted one's verdict.
		samples[i].RetakePassive(fitRes.Fusion, c.Threshold)
		samples[i].Path = relName(base, samples[i].Path)
	}
	if err := writeModelDir(res.ModelDir, filepath.Join(models, "final"), c.Views, man, fitRes.Fusion); err != nil {
		return nil, err
	}
	rep := &eval.Report{
		Title:       "Bonafide passive model training: out-of-source figures",
		Created:     time.Now().UTC(),
		Input:       c.Manifest,
		Engine:      liveness.Version,
		Calibration: fitRes.Fusion.Name + " (fitted by subject; out-of-fold scores)",
		Threshold:   c.Threshold,
		Signals:     liveness.SignalNames(),
		Samples:     samples,
		Seconds:     seconds,
		Cached:      cached,
	}
	for _, v := range c.Views {
		rep.Models = append(rep.Models, fmt.Sprintf("%s view: one model per fold (%s)", v, strings.Join(folds, ", ")))
	}
	for _, name := range append([]string{eval.FusionScore}, rep.Signals...) {
		rep.Metrics = append(rep.Metrics, eval.Compute(samples, name, c.Threshold))
	}
	bySource := eval.BreakdownBy(samples, eval.FusionScore, c.Threshold, "Per source (out of source)", eval.SourceOf)
	bySource.Note = "Each media scored by the models of the fold that held its subject out, and by the fusion fitted without its subject."
	rep.Breakdowns = append(rep.Breakdowns, bySource)
	if c.Groups != nil {
		rep.Breakdowns = append(rep.Breakdowns, c.Groups.DemographicBreakdowns(samples, eval.FusionScore, c.Threshold, eval.MinGroupLive)...)
	}
	if err := eval.WriteReport(filepath.Join(c.Out, "report"), rep); err != nil {
		return nil, err
	}
	res.Report = rep
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// groupOf is the fold group of a manifest entry, as WriteCrops names it.
func groupOf(e eval.Entry, base string) string {
	if e.Subject != "" {
		return e.Subject
	}
	return strings.SplitN(relName(base, e.Path), "/", 2)[0]
}

// trainReport is what passive.py fit reports.
type trainReport struct {
	Folds map[string][]string `json:"folds"`
	Views map[string]struct {
		Folds map[string]struct {
			Groups  []string `json:"groups"`
			Crops   int      `json:"crops"`
			AUC     *float64 `json:"auc"`
			AUCBase *float64 `json:"auc_base"`
		} `json:"folds"`
	} `json:"views"`
}

// pooledAUC is, per view, the crop-weighted mean of the folds' held-out crop AUC, fine-tuned and base.
func (t trainReport) pooledAUC() map[string][2]float64 {
	out := map[string][2]float64{}
	for v, vr := range t.Views {
		var a, b, n float64
		for _, f := range vr.Folds {
			if f.AUC == nil || f.AUCBase == nil || f.Crops == 0 {
				continue
			}
			a += *f.AUC * float64(f.Crops)
			b += *f.AUCBase * float64(f.Crops)
			n += float64(f.Crops)
		}
		if n > 0 {
			out[v] = [2]float64{a / n, b / n}
		}
	}
	return out
}

// reference is what passive.py writes beside a model: PyTorch's logits on some crops.
type reference struct {
	View   string      `json:"view"`
	Crops  []string    `json:"crops"`
	Logits [][]float64 `json:"logits"`
}

// referenceTolerance is how far ONNX Runtime may be from PyTorch on a logit.
const referenceTolerance = 1e-4

// checkReference runs m in ONNX Runtime on the crops PyTorch scored (each PNG read back into the
// engine's tensor) and returns the largest difference of a logit; beyond referenceTolerance it
// is an error.
func checkReference(path, crops string, m *onnx.Model) (float64, error) {
	var ref reference
	if err := readJSON(path, &ref); err != nil {
		return 0, err
	}
	if len(ref.Crops) == 0 {
		return 0, fmt.Errorf("%s lists no crop", path)
	}
	var worst float64
	for i, name := range ref.Crops {
		img, err := readCrop(filepath.Join(crops, filepath.FromSlash(name)))
		if err != nil {
			return 0, err
		}
		in := make([]float32, m.Inputs[0].Size())
		liveness.PassiveTensor(img, in)
		out, err := m.Run(in)
		if err != nil {
			return 0, err
		}
		for k, v := range out[0] {
			worst = math.Max(worst, math.Abs(float64(v)-ref.Logits[i][k]))
		}
	}
	if worst > referenceTolerance {
		return worst, fmt.Errorf("ONNX Runtime and PyTorch differ by %.3g on a logit (tolerance %g)", worst, referenceTolerance)
	}
	return worst, nil
}

// readCrop reads a crop PNG as the engine's RGBA.
func readCrop(path string) (*image.RGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if rgba, ok := img.(*image.RGBA); ok {
		return rgba, nil
	}
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Rect, img, img.Bounds().Min, draw.Src)
	return out, nil
}

// addFile loads an exported model into the runtime, pinned by its own sha256.
func addFile(rt *onnx.Runtime, path string, v liveness.View) (*onnx.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	return liveness.AddPassiveModel(rt, sha, v, path, data)
}

// writeManifest writes dir/passive.json for the views' models in dir (passive_<view>.onnx).
func writeManifest(dir string, views []liveness.View, man liveness.PassiveManifest) error {
	man.Models = nil
	for i, v := range views {
		file := "passive_" + v.String() + ".onnx"
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		signal := "passive"
		if i > 0 {
			signal = "passive_wide"
		}
		man.Models = append(man.Models, liveness.PassiveFileRef{Signal: signal, File: file, SHA256: hex.EncodeToString(sum[:]), View: v})
	}
	data, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, liveness.PassiveManifestFile), append(data, '\n'))
}

// writeModelDir makes the model directory: the final models, passive.json and calibration.json.
func writeModelDir(dir, from string, views []liveness.View, man liveness.PassiveManifest, fusion *liveness.Fusion) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, v := range views {
		file := "passive_" + v.String() + ".onnx"
		data, err := os.ReadFile(filepath.Join(from, file))
		if err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(dir, file), data); err != nil {
			return err
		}
	}
	if err := writeManifest(dir, views, man); err != nil {
		return err
	}
	f := *fusion
	f.Engine = liveness.Version
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "calibration.json"), append(data, '\n'))
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
