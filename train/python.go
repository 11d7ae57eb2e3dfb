package train

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

//go:embed *.py
var pyFiles embed.FS

// DepsTarget is the make target that installs the Python side of training.
const DepsTarget = "make train-deps"

// DefaultPython is Debian's interpreter, the one python3-torch installs for.
const DefaultPython = "/usr/bin/python3"

// Python runs the embedded training code with an interpreter that has PyTorch.
type Python struct {
	Exe      string    // interpreter; DefaultPython when empty
	Dir      string    // where the embedded .py files are written
	Log      io.Writer // everything the code prints but its progress lines (nil: discarded)
	Progress io.Writer // progress bars (nil: none)
}

// Check reports, in words a person can act on, why the interpreter cannot train.
func (p *Python) Check(ctx context.Context) error {
	exe := p.exe()
	if _, err := exec.LookPath(exe); err != nil {
		return fmt.Errorf("no Python interpreter at %s: install Debian's python3 and PyTorch with `%s` (or give --python)", exe, DepsTarget)
	}
	cmd := exec.CommandContext(ctx, exe, "-c", "import torch, torchvision, onnx, numpy; print(torch.__version__)")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil {
		last := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		return fmt.Errorf("%s cannot import PyTorch (%s): run `%s` (apt installs python3-torch, python3-torchvision, python3-onnx), or give --python an interpreter that has them", exe, last, DepsTarget)
	} else if len(out) == 0 {
		return fmt.Errorf("%s printed no PyTorch version", exe)
	}
	return nil
}

func (p *Python) exe() string {
	if p.Exe == "" {
		return DefaultPython
	}
	return p.Exe
}

// Run writes the embedded code to p.Dir and runs passive.py with args. Lines "PROGRESS stage done
// total" drive one progress bar per stage (with a time estimate); every other line goes to p.Log.
// The last lines of output come back in the error when the code fails.
func (p *Python) Run(ctx context.Context, args ...string) error {
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	entries, err := pyFiles.ReadDir(".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := pyFiles.ReadFile(e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(p.Dir, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, p.exe(), append([]string{"-u", filepath.Join(p.Dir, "passive.py")}, args...)...)
	cmd.Env = append(os.Environ(), "OMP_WAIT_POLICY=PASSIVE")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.exe(), err)
	}
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		var bar *progressbar.ProgressBar
		stage := ""
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if f := strings.Fields(line); len(f) == 4 && f[0] == "PROGRESS" {
				n, _ := strconv.Atoi(f[2])
				total, _ := strconv.Atoi(f[3])
				if p.Progress == nil {
					continue
				}
				if f[1] != stage || bar == nil {
					if bar != nil {
						_ = bar.Finish()
					}
					stage = f[1]
					bar = newStageBar(p.Progress, total, stage)
				}
				_ = bar.Set(n)
				continue
			}
			if p.Log != nil {
				fmt.Fprintln(p.Log, line)
			}
			tail = append(tail, line)
			if len(tail) > 12 {
				tail = tail[1:]
			}
		}
		if bar != nil {
			_ = bar.Finish()
		}
	}()
	err = cmd.Wait()
	pw.Close()
	<-done
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s passive.py %s: %w\n%s", p.exe(), args[0], err, strings.Join(tail, "\n"))
	}
	return nil
}

func newStageBar(w io.Writer, total int, stage string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(stage),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(500*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}
