package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// Python is the interpreter the training tests run: Debian's, which python3-torch installs for,
// or BONAFIDE_PYTHON.
func Python() string {
	if p := os.Getenv("BONAFIDE_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// RequireTorch returns the interpreter when it imports PyTorch, torchvision and onnx; otherwise
// the test is skipped, or fails when CI=true (CI installs them with `make train-deps` and must
// run the training tests).
func RequireTorch(tb testing.TB) string {
	tb.Helper()
	py := Python()
	out, err := exec.Command(py, "-c", "import torch, torchvision, onnx").CombinedOutput()
	if err == nil {
		return py
	}
	msg := "PyTorch is not installed for " + py + " (run `make train-deps`): " + string(out)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}
