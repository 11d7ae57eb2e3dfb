package pipeline

import (
	"testing"

	"bonafide"
)

// Every analysis type of the domain runs here, and nothing runs here that the domain does not know.
func TestEveryTypeRuns(t *testing.T) {
	known := map[string]bool{}
	for _, at := range bonafide.AnalysisTypes() {
		known[at.Name] = true
		if analyzers[at.Name] == nil {
			t.Errorf("analysis type %s has no analyzer in package pipeline", at.Name)
		}
	}
	for name := range analyzers {
		if !known[name] {
			t.Errorf("package pipeline runs %s, which bonafide.AnalysisTypes does not list", name)
		}
	}
}
