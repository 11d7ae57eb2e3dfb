// Package onnx runs the face models with ONNX Runtime (github.com/yalue/onnxruntime_go).
//
// A Runtime loads each model once, checks its sha256 against the pinned registry and its input and
// output names and shapes against what the engine expects, and then serves Run calls from any number
// of goroutines at once: ONNX Runtime sessions are safe for concurrent Run with separate tensors, and
// every call here creates its own.
package onnx

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// IO names one input or output tensor and its shape.
type IO struct {
	Name  string
	Shape []int64
}

// Size is the number of float32 elements of the tensor.
func (io IO) Size() int {
	n := 1
	for _, d := range io.Shape {
		n *= int(d)
	}
	return n
}

// Spec pins one model file: its content hash and the tensors the engine feeds and reads.
type Spec struct {
	Name    string // short name used by the engine ("detect", "liveness", ...)
	File    string // file name under the model directory
	SHA256  string
	Inputs  []IO
	Outputs []IO
}

// The models' short names: the one list of them (the engine, `bonafide version` and the tests
// refer to these).
const (
	Detect     = "detect"     // face boxes (UltraFace RFB-320)
	Landmark   = "landmark"   // 68 landmarks
	Liveness   = "liveness"   // the passive anti-spoof model our own are fine-tuned from (bonafide train)
	Eye        = "eye"        // eye open/closed
	Pose       = "pose"       // head pose
	Expression = "expression" // facial expression
	Feature    = "feature"    // face embedding
)

// Names lists the registry's models the engine runs, in the engine's order. The passive anti-spoof
// models are not among them: they are Bonafide's own (the models package, or a directory that
// `bonafide train` wrote), added with AddModel and pinned by the sha256 their manifest gives.
var Names = []string{Detect, Landmark, Eye, Pose, Expression, Feature}

// Registry is every model downloaded from the npm package faceplugin@1.0.3, pinned by sha256:
// those the engine runs (Names) and the base of `bonafide train` (Liveness).
var Registry = map[string]Spec{
	Detect: {Name: Detect, File: "fr_detect.onnx",
		SHA256:  "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854",
		Inputs:  []IO{{"input", []int64{1, 3, 240, 320}}},
		Outputs: []IO{{"scores", []int64{1, 4420, 2}}, {"boxes", []int64{1, 4420, 4}}}},
	Landmark: {Name: Landmark, File: "fr_landmark.onnx",
		SHA256:  "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258",
		Inputs:  []IO{{"input", []int64{1, 1, 64, 64}}},
		Outputs: []IO{{"output", []int64{1, 136}}}},
	Liveness: {Name: Liveness, File: "fr_liveness.onnx",
		SHA256:  "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d",
		Inputs:  []IO{{"input", []int64{1, 3, 128, 128}}},
		Outputs: []IO{{"output", []int64{1, 3}}}},
	Eye: {Name: Eye, File: "fr_eye.onnx",
		SHA256:  "1afcea006abc1ccac3c517022abde0aa092bed74ff3c9fe6878483ef9e6e38de",
		Inputs:  []IO{{"input", []int64{1, 1, 24, 24}}},
		Outputs: []IO{{"output", []int64{1, 2}}}},
	Pose: {Name: Pose, File: "fr_pose.onnx",
		SHA256:  "72d032ec941b7153bf8d3f2c03a4c165453cc7e63d479041ec7c6ef087e5839d",
		Inputs:  []IO{{"input", []int64{1, 3, 224, 224}}},
		Outputs: []IO{{"output", []int64{1, 66}}, {"617", []int64{1, 66}}, {"618", []int64{1, 66}}}},
	Expression: {Name: Expression, File: "fr_expression.onnx",
		SHA256:  "88959314d9dc14d6c968cca31dc068e4350bf1944154e3bdd2eece5d0f318d05",
		Inputs:  []IO{{"input", []int64{1, 3, 224, 224}}},
		Outputs: []IO{{"output", []int64{1, 7}}}},
	Feature: {Name: Feature, File: "fr_feature.onnx",
		SHA256:  "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
		Inputs:  []IO{{"input", []int64{1, 3, 112, 112}}},
		Outputs: []IO{{"output", []int64{1, 512}}}},
}

// Options configure a Runtime.
type Options struct {
	LibraryPath    string // path of libonnxruntime.so.1
	ModelDir       string // directory holding the fr_*.onnx files
	IntraOpThreads int    // threads inside one Run; default 1 (best throughput on few cores)
	InterOpThreads int    // default 1
}

// Runtime holds one session per loaded model.
type Runtime struct {
	mu     sync.Mutex
	opts   Options
	models map[string]*Model
}

// Model is one loaded, verified model.
type Model struct {
	Spec
	Path    string
	session *ort.DynamicAdvancedSession
}

// The ONNX Runtime environment is process-wide in the C library; it is created on first use and
// shared by every Runtime, reference-counted so that Close of the last one releases it.
var env struct {
	sync.Mutex
	refs int
	lib  string
}

func acquireEnv(lib string) error {
	env.Lock()
	defer env.Unlock()
	if env.refs > 0 {
		if lib != env.lib {
			return fmt.Errorf("onnx: runtime already loaded from %s, cannot also load %s", env.lib, lib)
		}
		env.refs++
		return nil
	}
	if _, err := os.Stat(lib); err != nil {
		return fmt.Errorf("onnx: ONNX Runtime library %s: %w (run `make setup`)", lib, err)
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("onnx: initialise ONNX Runtime from %s: %w", lib, err)
	}
	env.refs, env.lib = 1, lib
	return nil
}

func releaseEnv() {
	env.Lock()
	defer env.Unlock()
	if env.refs == 0 {
		return
	}
	env.refs--
	if env.refs == 0 {
		_ = ort.DestroyEnvironment()
		env.lib = ""
	}
}

// LibraryVersion is the version of the ONNX Runtime library at lib, e.g. "1.30.0" (what `bonafide
// bench` reports). The library is loaded for the question when no Runtime has it loaded already.
func LibraryVersion(lib string) (string, error) {
	if err := acquireEnv(lib); err != nil {
		return "", err
	}
	defer releaseEnv()
	return ort.GetVersion(), nil
}

// Open loads the named models of Registry (those the engine runs, Names, when names is empty).
func Open(opts Options, names ...string) (*Runtime, error) {
	if opts.IntraOpThreads <= 0 {
		opts.IntraOpThreads = 1
	}
	if opts.InterOpThreads <= 0 {
		opts.InterOpThreads = 1
	}
	if len(names) == 0 {
		names = slices.Clone(Names)
	}
	if err := acquireEnv(opts.LibraryPath); err != nil {
		return nil, err
	}
	rt := &Runtime{opts: opts, models: map[string]*Model{}}
	for _, n := range names {
		spec, ok := Registry[n]
		if !ok {
			rt.Close()
			return nil, fmt.Errorf("onnx: unknown model %q", n)
		}
		m, err := load(spec, filepath.Join(opts.ModelDir, spec.File), opts)
		if err != nil {
			rt.Close()
			return nil, err
		}
		rt.models[n] = m
	}
	return rt, nil
}

func load(spec Spec, path string, opts Options) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: model %s: %w (run `make setup`)", path, err)
	}
	return loadData(spec, path, data, opts)
}

// AddModel loads a model that is not in Registry (Bonafide's own passive models) from its bytes,
// pinned by spec.SHA256 and checked against spec's tensors like the registry's; path names it in
// messages. Adding a model already loaded under the same name with the same sha256 returns it;
// another file under a loaded name is refused.
func (rt *Runtime) AddModel(spec Spec, path string, data []byte) (*Model, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if m, ok := rt.models[spec.Name]; ok {
		if m.SHA256 == spec.SHA256 {
			return m, nil
		}
		return nil, fmt.Errorf("onnx: a model named %q (sha256 %s) is already loaded; %s is another file", spec.Name, m.SHA256, path)
	}
	if _, ok := Registry[spec.Name]; ok {
		return nil, fmt.Errorf("onnx: %q is a registry model's name", spec.Name)
	}
	m, err := loadData(spec, path, data, rt.opts)
	if err != nil {
		return nil, err
	}
	rt.models[spec.Name] = m
	return m, nil
}

func loadData(spec Spec, path string, data []byte, opts Options) (*Model, error) {
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != spec.SHA256 {
		return nil, fmt.Errorf("onnx: model %s has sha256 %s, expected %s: the file is not the pinned model", path, got, spec.SHA256)
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, fmt.Errorf("onnx: model %s: read inputs and outputs: %w", path, err)
	}
	if err := checkIO(path, "input", spec.Inputs, ins); err != nil {
		return nil, err
	}
	if err := checkIO(path, "output", spec.Outputs, outs); err != nil {
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx: session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(opts.IntraOpThreads); err != nil {
		return nil, fmt.Errorf("onnx: intra-op threads: %w", err)
	}
	if err := so.SetInterOpNumThreads(opts.InterOpThreads); err != nil {
		return nil, fmt.Errorf("onnx: inter-op threads: %w", err)
	}
	// Threads of one session must not spin waiting for work: several sessions share the cores.
	_ = so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0")
	inNames := names(spec.Inputs)
	outNames := names(spec.Outputs)
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, inNames, outNames, so)
	if err != nil {
		return nil, fmt.Errorf("onnx: model %s: create session: %w", path, err)
	}
	m := &Model{Spec: spec, Path: path, session: s}
	// One run on zeros makes ONNX Runtime plan its memory now rather than on the first request.
	var zeros [][]float32
	for _, io := range spec.Inputs {
		zeros = append(zeros, make([]float32, io.Size()))
	}
	if _, err := m.Run(zeros...); err != nil {
		_ = s.Destroy()
		return nil, fmt.Errorf("onnx: model %s: first run: %w", path, err)
	}
	return m, nil
}

func names(ios []IO) []string {
	out := make([]string, len(ios))
	for i, io := range ios {
		out[i] = io.Name
	}
	return out
}

// checkIO compares the model's declared tensors with the spec; a dimension of -1 (dynamic) in the
// model accepts any size.
func checkIO(path, kind string, want []IO, got []ort.InputOutputInfo) error {
	if len(want) != len(got) {
		return fmt.Errorf("onnx: model %s has %d %ss, the engine expects %d", path, len(got), kind, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name {
			return fmt.Errorf("onnx: model %s %s %d is named %q, the engine expects %q", path, kind, i, g.Name, w.Name)
		}
		if g.DataType != ort.TensorElementDataTypeFloat {
			return fmt.Errorf("onnx: model %s %s %q has type %s, the engine expects float32", path, kind, g.Name, g.DataType)
		}
		ok := len(g.Dimensions) == len(w.Shape)
		for j := 0; ok && j < len(w.Shape); j++ {
			ok = g.Dimensions[j] == w.Shape[j] || g.Dimensions[j] < 0
		}
		if !ok {
			return fmt.Errorf("onnx: model %s %s %q has shape %v, the engine expects %v", path, kind, g.Name, g.Dimensions, w.Shape)
		}
	}
	return nil
}

// Model returns a loaded model, or nil.
func (rt *Runtime) Model(name string) *Model {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.models[name]
}

// Models lists the loaded models by name.
func (rt *Runtime) Models() []*Model {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []*Model
	for _, m := range rt.models {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *Model) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// Close releases every session.
func (rt *Runtime) Close() {
	if rt == nil {
		return
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.models == nil {
		return
	}
	for _, m := range rt.models {
		_ = m.session.Destroy()
	}
	rt.models = nil
	releaseEnv()
}

// ErrInput reports an input slice of the wrong length.
var ErrInput = errors.New("onnx: wrong input size")

// Run feeds one float32 slice per input (in Spec order) and returns one slice per output. Safe for
// concurrent use.
func (m *Model) Run(inputs ...[]float32) ([][]float32, error) {
	if len(inputs) != len(m.Inputs) {
		return nil, fmt.Errorf("%w: model %s takes %d inputs, got %d", ErrInput, m.File, len(m.Inputs), len(inputs))
	}
	in := make([]ort.Value, len(inputs))
	defer func() {
		for _, v := range in {
			if v != nil {
				_ = v.Destroy()
			}
		}
	}()
	for i, data := range inputs {
		io := m.Inputs[i]
		if len(data) != io.Size() {
			return nil, fmt.Errorf("%w: model %s input %q needs %d values, got %d", ErrInput, m.File, io.Name, io.Size(), len(data))
		}
		t, err := ort.NewTensor(ort.NewShape(io.Shape...), data)
		if err != nil {
			return nil, fmt.Errorf("onnx: model %s: input tensor: %w", m.File, err)
		}
		in[i] = t
	}
	outT := make([]*ort.Tensor[float32], len(m.Outputs))
	out := make([]ort.Value, len(m.Outputs))
	results := make([][]float32, len(m.Outputs))
	for i, io := range m.Outputs {
		results[i] = make([]float32, io.Size())
		t, err := ort.NewTensor(ort.NewShape(io.Shape...), results[i])
		if err != nil {
			for _, o := range outT[:i] {
				_ = o.Destroy()
			}
			return nil, fmt.Errorf("onnx: model %s: output tensor: %w", m.File, err)
		}
		outT[i], out[i] = t, t
	}
	err := m.session.Run(in, out)
	for _, o := range outT {
		_ = o.Destroy()
	}
	// The tensors point into Go memory (inputs and results); keep it alive until the run is over.
	runtime.KeepAlive(inputs)
	if err != nil {
		return nil, fmt.Errorf("onnx: model %s: run: %w", m.File, err)
	}
	return results, nil
}
