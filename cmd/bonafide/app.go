package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"bonafide/internal/assets"
	"bonafide/liveness"
	"bonafide/media"
	"bonafide/onnx"
)

const usage = `bonafide: self-hosted face liveness (presentation-attack detection)

Usage:
  bonafide <command> [flags] [args]

Commands:
  serve     run the Oz-compatible liveness API (embedded SQLite, media files, job queue)
  user      create, list and disable accounts
  audit     export the audit trail (who read, decided, deleted, logged in) as JSON lines
  migrate   apply the database schema
  migrate-data  copy an installation, media included, into another (embedded to scale-out)
  analyze   analyse photos, videos and shot sets on the command line
  eval      measure accuracy on a labelled set (ISO/IEC 30107-3 report) and fit the fusion
  train     train a passive anti-spoof model on your own labelled captures
  synth     make synthetic print/replay attack videos from live media (development aid, not accuracy)
  bench     measure analyses per minute, CPU, latency and memory of a server on this machine, with your media
  version   print the engine version and the pinned models

Run 'bonafide <command> --help' for the flags of a command.
Models and ONNX Runtime are looked up under $BONAFIDE_CACHE (default ~/.cache/bonafide);
run 'make setup' once to install them.
`

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "analyze":
		return runAnalyze(ctx, args[1:], stdout, stderr)
	case "eval":
		return runEval(ctx, args[1:], stdout, stderr)
	case "synth":
		return runSynth(ctx, args[1:], stdout, stderr)
	case "train":
		return runTrain(ctx, args[1:], stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "user":
		return runUser(ctx, args[1:], stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr)
	case "migrate-data":
		return runMigrateData(ctx, args[1:], stdout, stderr)
	case "version":
		return runVersion(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "bonafide: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// engineFlags are the flags every command that runs the engine shares.
type engineFlags struct {
	modelDir    string
	ortLib      string
	threads     int
	workers     int
	threshold   float64
	biometry    float64 // the BIOMETRY threshold
	frames      int
	calibration string
	passive     string // a passive model directory written by 'bonafide train'; "" for the shipped models
	// limits, when set (serve), turns the engine's default media limits into the configured ones.
	limits func(media.Limits) media.Limits
}

// register adds the engine flags; frameWorkers adds --workers (frames analysed in parallel).
func (f *engineFlags) register(fs *cmdFlags, frameWorkers bool) {
	fs.StringVar(&f.modelDir, "models", assets.ModelDir(), "directory of the fr_*.onnx models")
	fs.StringVar(&f.ortLib, "ort-lib", assets.LibraryPath(), "path of libonnxruntime.so.1")
	fs.IntVar(&f.threads, "threads", 1, "ONNX Runtime threads inside one model run")
	def := liveness.DefaultConfig()
	f.workers = def.Workers
	if frameWorkers {
		fs.IntVar(&f.workers, "workers", def.Workers, "frames analysed in parallel")
		fs.bind("workers")
	}
	fs.Float64Var(&f.threshold, "threshold", def.Threshold, "confidence_spoofing at or above this is DECLINED, in (0, 1]")
	fs.Float64Var(&f.biometry, "biometry-threshold", def.BiometryThreshold, "BIOMETRY: a pair whose match confidence is at or above this is the same person (SUCCESS), in (0, 1]")
	fs.IntVar(&f.frames, "frames", def.Limits.MaxFrames, "frames taken from a video or shot set, evenly spaced")
	fs.StringVar(&f.calibration, "calibration", "", "fusion calibration JSON from 'bonafide eval --fit' (default: the passive models' own)")
	fs.StringVar(&f.passive, "passive-models", "", "passive anti-spoof model directory written by 'bonafide train' (default: the models shipped in the binary)")
	fs.bind("models", "ort-lib", "threads", "threshold", "biometry-threshold", "frames", "calibration", "passive-models")
}

// validate checks the engine settings, naming each flag and its variable.
func (f *engineFlags) validate() error {
	var errs []error
	if f.threshold <= 0 || f.threshold > 1 {
		errs = append(errs, fmt.Errorf("%s must be in (0, 1], got %v", setting("threshold"), f.threshold))
	}
	if f.biometry <= 0 || f.biometry > 1 {
		errs = append(errs, fmt.Errorf("%s must be in (0, 1], got %v", setting("biometry-threshold"), f.biometry))
	}
	if f.frames < 1 {
		errs = append(errs, fmt.Errorf("%s must be at least 1, got %d", setting("frames"), f.frames))
	}
	if f.threads < 1 {
		errs = append(errs, fmt.Errorf("%s must be at least 1, got %d", setting("threads"), f.threads))
	}
	if f.workers < 1 {
		errs = append(errs, fmt.Errorf("%s must be at least 1, got %d", setting("workers"), f.workers))
	}
	return errors.Join(errs...)
}

// mediaLimits are the engine's input limits with the flags' changes (serve's size limits, --frames).
func (f *engineFlags) mediaLimits() media.Limits {
	l := liveness.DefaultConfig().Limits
	if f.limits != nil {
		l = f.limits(l)
	}
	l.MaxFrames = f.frames
	return l
}

// open loads the models and builds the engine.
func (f *engineFlags) open() (*liveness.Engine, func(), error) {
	if err := f.validate(); err != nil {
		return nil, nil, err
	}
	rt, err := onnx.Open(onnx.Options{LibraryPath: f.ortLib, ModelDir: f.modelDir, IntraOpThreads: f.threads})
	if err != nil {
		return nil, nil, err
	}
	cfg := liveness.DefaultConfig()
	cfg.Threshold = f.threshold
	cfg.BiometryThreshold = f.biometry
	cfg.Workers = f.workers
	cfg.Limits = f.mediaLimits()
	if f.passive != "" {
		set, err := liveness.LoadPassiveSet(rt, os.DirFS(f.passive), f.passive)
		if err != nil {
			rt.Close()
			return nil, nil, err
		}
		cfg.Passive = set
	}
	if f.calibration != "" {
		fu, err := liveness.LoadFusion(f.calibration)
		if err != nil {
			rt.Close()
			return nil, nil, err
		}
		cfg.Fusion = fu
	}
	e, err := liveness.New(rt, cfg)
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	return e, rt.Close, nil
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bonafide version\n\nPrints the engine version and the sha256 of every pinned model.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fmt.Fprintln(stdout, liveness.Version)
	for _, name := range onnx.Names {
		s := onnx.Registry[name]
		fmt.Fprintf(stdout, "  %-12s %-20s sha256:%s\n", name, s.File, s.SHA256)
	}
	man, err := liveness.ShippedPassiveManifest()
	if err != nil {
		fmt.Fprintf(stderr, "bonafide version: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "passive models %s (shipped; 'bonafide train' makes your own):\n", man.Name)
	for _, m := range man.Models {
		fmt.Fprintf(stdout, "  %-12s %-20s sha256:%s (%gx view)\n", m.Signal, m.File, m.SHA256, m.View.Scale)
	}
	return 0
}
