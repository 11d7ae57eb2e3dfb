package testkit

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"bonafide/internal/assets"
	"bonafide/onnx"
)

var shared struct {
	once sync.Once
	rt   *onnx.Runtime
	err  error
}

// Runtime is the ONNX runtime over every pinned model of the registry (checked by sha256), opened
// once per test binary and shared by its tests (sessions serve concurrent runs); it is never
// closed. It fails, not skips, when `make setup` was not run. An engine is liveness.New(Runtime(t)).
func Runtime(tb testing.TB) *onnx.Runtime {
	tb.Helper()
	need := []string{assets.LibraryPath()}
	names := append(slices.Clone(onnx.Names), onnx.Liveness) // the engine's models and the base of training
	for _, name := range names {
		need = append(need, filepath.Join(assets.ModelDir(), onnx.Registry[name].File))
	}
	assets.Require(tb, need...)
	shared.once.Do(func() {
		shared.rt, shared.err = onnx.Open(onnx.Options{LibraryPath: assets.LibraryPath(), ModelDir: assets.ModelDir()}, names...)
	})
	if shared.err != nil {
		tb.Fatalf("open the models: %v", shared.err)
	}
	return shared.rt
}
