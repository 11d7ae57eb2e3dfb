package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"bonafide/internal/assets"
	"bonafide/liveness"
	"bonafide/onnx"
)

const usage = `bonafide: self-hosted face liveness (presentation-attack detection)

Usage:
  bonafide <command> [flags] [args]

Commands:
  serve     run the Oz-compatible liveness API (embedded SQLite, media files, job queue)
  user      create, list and disable accounts
  migrate   apply the database schema
  migrate-data  copy an installation, media included, into another (embedded to scale-out)
  analyze   analyse photos, videos and shot sets on the command line
  eval      measure accuracy on a labelled set (ISO/IEC 30107-3 report) and fit the fusion
  synth     make synthetic print/replay attack videos from live media (development aid, not accuracy)
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
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "user":
		return runUser(ctx, args[1:], stdout, stderr)
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
	frames      int
	calibration string
}

// register adds the engine flags; frameWorkers adds --workers (frames analysed in parallel).
func (f *engineFlags) register(fs *flag.FlagSet, frameWorkers bool) {
	fs.StringVar(&f.modelDir, "models", assets.ModelDir(), "directory of the fr_*.onnx models (env BONAFIDE_MODELS_DIR)")
	fs.StringVar(&f.ortLib, "ort-lib", assets.LibraryPath(), "path of libonnxruntime.so.1 (env BONAFIDE_ORT_LIB)")
	fs.IntVar(&f.threads, "threads", 1, "ONNX Runtime threads inside one model run (env BONAFIDE_INTRA_OP_THREADS)")
	def := liveness.DefaultConfig()
	f.workers = def.Workers
	if frameWorkers {
		fs.IntVar(&f.workers, "workers", def.Workers, "frames analysed in parallel (env BONAFIDE_WORKERS)")
	}
	fs.Float64Var(&f.threshold, "threshold", def.Threshold, "confidence_spoofing at or above this is DECLINED (env BONAFIDE_THRESHOLD)")
	fs.IntVar(&f.frames, "frames", def.Limits.MaxFrames, "frames taken from a video or shot set, evenly spaced (env BONAFIDE_MAX_FRAMES)")
	fs.StringVar(&f.calibration, "calibration", "", "fusion calibration JSON from 'bonafide eval --fit' (env BONAFIDE_CALIBRATION)")
}

// open loads the models and builds the engine.
func (f *engineFlags) open() (*liveness.Engine, func(), error) {
	if f.threshold <= 0 || f.threshold > 1 {
		return nil, nil, fmt.Errorf("--threshold must be in (0, 1], got %v", f.threshold)
	}
	if f.frames < 1 {
		return nil, nil, fmt.Errorf("--frames must be at least 1, got %d", f.frames)
	}
	rt, err := onnx.Open(onnx.Options{LibraryPath: f.ortLib, ModelDir: f.modelDir, IntraOpThreads: f.threads})
	if err != nil {
		return nil, nil, err
	}
	cfg := liveness.DefaultConfig()
	cfg.Threshold = f.threshold
	cfg.Workers = f.workers
	cfg.Limits.MaxFrames = f.frames
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
	for _, name := range []string{"detect", "landmark", "liveness", "eye", "pose", "expression", "feature"} {
		s := onnx.Registry[name]
		fmt.Fprintf(stdout, "  %-10s %-20s sha256:%s\n", name, s.File, s.SHA256)
	}
	return 0
}

// newFlags makes a command's flag set whose --help prints about (the usage text) and the flags.
func newFlags(name, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, about)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, then takes each flag that the command line did not set from the BONAFIDE_*
// variable its help names ("(env BONAFIDE_X)"): flags first, then the environment, then the
// default. A variable whose value the flag refuses is a usage error naming the variable. done
// reports that the command should return code now (0 after --help, 2 on a usage error).
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var bad []string
	fs.VisitAll(func(f *flag.Flag) {
		m := envName.FindStringSubmatch(f.Usage)
		if set[f.Name] || m == nil {
			return
		}
		if v, ok := os.LookupEnv(m[1]); ok && v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				bad = append(bad, fmt.Sprintf("%s=%q is not a valid value for --%s: %v", m[1], v, f.Name, err))
			}
		}
	})
	if len(bad) > 0 {
		fmt.Fprintf(fs.Output(), "bonafide %s: %s\n", fs.Name(), strings.Join(bad, "; "))
		return 2, true
	}
	return 0, false
}

var envName = regexp.MustCompile(`\(env (BONAFIDE_[A-Z0-9_]+)\)`)
