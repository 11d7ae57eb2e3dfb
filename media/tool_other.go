//go:build !unix

package media

import (
	"context"
	"os/exec"
)

// toolCommand runs the tool without resource limits: there is no rlimit outside Unix.
func toolCommand(ctx context.Context, _ Limits, bin string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, bin, args...)
}
