//go:build unix

package media

import (
	"context"
	"os/exec"
	"strconv"
	"syscall"
)

// Every ffmpeg and ffprobe process runs under resource limits, so that a hostile file cannot take
// the machine: its address space (Limits.ToolAddressSpace), its CPU time (Limits.ToolCPUTime), no
// core dump, no file written (its only outputs are pipes) and at most toolOpenFiles descriptors.
//
// How: Go's os/exec cannot set a child's rlimits. Setting them with prlimit(2) right after Start
// races with the child, which already runs; re-executing our own binary as a limiter does not work
// for a library whose callers include test binaries; prlimit(1) is util-linux, absent from some
// images. So the tool is started through /bin/sh, whose POSIX `ulimit` builtin sets the limits in
// the shell and then `exec`s the tool in the same process: the limits hold from the tool's first
// instruction, the pid is the tool's (Kill and Wait reach it), and the arguments are passed as
// "$@", never parsed by the shell. A limit is never asked above this process's own hard limit
// (which the child inherits anyway), so `ulimit` cannot fail for want of privilege.

// toolShell runs the tools; ulimit is a POSIX builtin of every sh (dash, bash, busybox ash).
const toolShell = "/bin/sh"

// toolOpenFiles bounds the descriptors of one tool: it reads one file and writes two pipes.
const toolOpenFiles = 256

// limitScript sets the limits given as its first five arguments, then runs the tool.
const limitScript = `ulimit -v "$1" && ulimit -t "$2" && ulimit -n "$3" && ulimit -f "$4" && ulimit -c "$5" && shift 5 && exec "$0" "$@"`

// toolCommand builds the command running bin with args under the limits of l (withDefaults done).
func toolCommand(ctx context.Context, l Limits, bin string, args ...string) *exec.Cmd {
	path, err := exec.LookPath(bin)
	if err != nil {
		return exec.CommandContext(ctx, bin, args...) // its Start reports the missing program
	}
	as := clampLimit(syscall.RLIMIT_AS, uint64(l.ToolAddressSpace)) >> 10 // KiB for ulimit -v
	cpu := clampLimit(syscall.RLIMIT_CPU, uint64(max(1, int64(l.ToolCPUTime.Seconds()))))
	nofile := clampLimit(syscall.RLIMIT_NOFILE, toolOpenFiles)
	shArgs := append([]string{"-c", limitScript, path,
		strconv.FormatUint(as, 10), strconv.FormatUint(cpu, 10), strconv.FormatUint(nofile, 10), "0", "0"}, args...)
	return exec.CommandContext(ctx, toolShell, shArgs...)
}

// clampLimit returns want, or this process's hard limit of resource when that is lower.
func clampLimit(resource int, want uint64) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(resource, &rl); err == nil && uint64(rl.Max) < want {
		return uint64(rl.Max)
	}
	return want
}
