package onnx_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"bonafide/internal/assets"
	"bonafide/onnx"
)

func open(t testing.TB, opts onnx.Options, names ...string) *onnx.Runtime {
	t.Helper()
	assets.Require(t, assets.LibraryPath(), assets.ModelDir())
	if opts.LibraryPath == "" {
		opts.LibraryPath = assets.LibraryPath()
	}
	if opts.ModelDir == "" {
		opts.ModelDir = assets.ModelDir()
	}
	rt, err := onnx.Open(opts, names...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	return rt
}

func randomInput(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

func TestEveryModelLoadsAndRuns(t *testing.T) {
	// Every registry model: the engine's (onnx.Names) and the base of training (onnx.Liveness).
	var all []string
	for name := range onnx.Registry {
		all = append(all, name)
	}
	rt := open(t, onnx.Options{}, all...)
	if got := len(rt.Models()); got != len(onnx.Registry) {
		t.Fatalf("loaded %d models, registry has %d", got, len(onnx.Registry))
	}
	for _, m := range rt.Models() {
		t.Run(m.Name, func(t *testing.T) {
			var ins [][]float32
			for i, io := range m.Inputs {
				ins = append(ins, randomInput(uint64(i), io.Size()))
			}
			outs, err := m.Run(ins...)
			if err != nil {
				t.Fatal(err)
			}
			for i, io := range m.Outputs {
				if len(outs[i]) != io.Size() {
					t.Fatalf("output %s has %d values, want %d", io.Name, len(outs[i]), io.Size())
				}
				var nonzero bool
				for _, v := range outs[i] {
					nonzero = nonzero || v != 0
				}
				if !nonzero {
					t.Fatalf("output %s is all zeros", io.Name)
				}
			}
		})
	}
}

func TestRunRejectsWrongInputSize(t *testing.T) {
	rt := open(t, onnx.Options{}, "eye")
	if _, err := rt.Model("eye").Run(make([]float32, 10)); err == nil || !strings.Contains(err.Error(), "fr_eye.onnx") {
		t.Fatalf("want an error naming the model, got %v", err)
	}
	if _, err := rt.Model("eye").Run(); err == nil {
		t.Fatal("want an error for a missing input")
	}
}

func TestOpenRefusesTamperedOrMissingModel(t *testing.T) {
	assets.Require(t, assets.LibraryPath(), assets.ModelDir())
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(assets.ModelDir(), "fr_eye.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, "fr_eye.onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = onnx.Open(onnx.Options{LibraryPath: assets.LibraryPath(), ModelDir: dir}, "eye")
	if err == nil || !strings.Contains(err.Error(), "sha256") || !strings.Contains(err.Error(), "fr_eye.onnx") {
		t.Fatalf("tampered model: want a sha256 error naming the file, got %v", err)
	}
	_, err = onnx.Open(onnx.Options{LibraryPath: assets.LibraryPath(), ModelDir: dir}, "pose")
	if err == nil || !strings.Contains(err.Error(), "fr_pose.onnx") {
		t.Fatalf("missing model: want an error naming the file, got %v", err)
	}
	_, err = onnx.Open(onnx.Options{LibraryPath: assets.LibraryPath(), ModelDir: assets.ModelDir()}, "nope")
	if err == nil {
		t.Fatal("unknown model name accepted")
	}
}

func TestOpenChecksShapes(t *testing.T) {
	assets.Require(t, assets.LibraryPath(), assets.ModelDir())
	saved := onnx.Registry["eye"]
	t.Cleanup(func() { onnx.Registry["eye"] = saved })
	bad := saved
	bad.Inputs = []onnx.IO{{Name: "input", Shape: []int64{1, 1, 32, 32}}}
	onnx.Registry["eye"] = bad
	_, err := onnx.Open(onnx.Options{LibraryPath: assets.LibraryPath(), ModelDir: assets.ModelDir()}, "eye")
	if err == nil || !strings.Contains(err.Error(), "shape") || !strings.Contains(err.Error(), "fr_eye.onnx") {
		t.Fatalf("want a shape error naming the model, got %v", err)
	}
	bad.Inputs = []onnx.IO{{Name: "image", Shape: saved.Inputs[0].Shape}}
	onnx.Registry["eye"] = bad
	_, err = onnx.Open(onnx.Options{LibraryPath: assets.LibraryPath(), ModelDir: assets.ModelDir()}, "eye")
	if err == nil || !strings.Contains(err.Error(), `"input"`) {
		t.Fatalf("want a name error, got %v", err)
	}
}

// One session serves many goroutines; each result must equal the serial one bit for bit.
func TestConcurrentRunsMatchSerial(t *testing.T) {
	rt := open(t, onnx.Options{}, "liveness")
	m := rt.Model("liveness")
	const n = 16
	want := make([][]float32, n)
	for i := range n {
		out, err := m.Run(randomInput(uint64(i), m.Inputs[0].Size()))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = out[0]
	}
	var wg sync.WaitGroup
	errs := make(chan string, n*4)
	for k := range 4 {
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := m.Run(randomInput(uint64(i), m.Inputs[0].Size()))
				if err != nil {
					errs <- err.Error()
					return
				}
				for j := range out[0] {
					if out[0][j] != want[i][j] {
						errs <- "goroutine result differs from serial run"
						return
					}
				}
				_ = k
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func BenchmarkModels(b *testing.B) {
	rt := open(b, onnx.Options{})
	for _, m := range rt.Models() {
		b.Run(m.Name, func(b *testing.B) {
			in := randomInput(1, m.Inputs[0].Size())
			for b.Loop() {
				if _, err := m.Run(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLibraryVersion: the pinned library says its version, with and without a Runtime open, and a
// Runtime opens after the question released the library.
func TestLibraryVersion(t *testing.T) {
	assets.Require(t, assets.LibraryPath(), assets.ModelDir())
	v, err := onnx.LibraryVersion(assets.LibraryPath())
	if err != nil || v != "1.30.0" {
		t.Fatalf("LibraryVersion = %q, %v; want 1.30.0 (onnxruntime-node@1.30.0)", v, err)
	}
	if _, err := onnx.LibraryVersion(filepath.Join(t.TempDir(), "libonnxruntime.so.1")); err == nil {
		t.Fatal("a missing library gave a version")
	}
	rt := open(t, onnx.Options{}, onnx.Eye)
	if v2, err := onnx.LibraryVersion(assets.LibraryPath()); err != nil || v2 != v {
		t.Fatalf("with a Runtime open: %q, %v", v2, err)
	}
	if _, err := rt.Model(onnx.Eye).Run(make([]float32, rt.Model(onnx.Eye).Inputs[0].Size())); err != nil {
		t.Fatal(err)
	}
}
