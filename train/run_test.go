package train

import (
	"context"
	"strings"
	"testing"
)

// A run that is asked to balance skin tones without a groups table is refused before any work:
// no Python, manifest or engine is needed to learn that (the table is read only at step 4, after
// the minutes that crops and features take).
func TestRunRefusesBalanceWithoutGroupsFirst(t *testing.T) {
	_, err := Run(context.Background(), Config{BalanceSkin: true, Out: t.TempDir(), Python: Python{Exe: "/nonexistent/python3"}})
	if err == nil || !strings.Contains(err.Error(), "needs a groups table") {
		t.Fatalf("got %v, want the groups table refusal before the Python check", err)
	}
}
