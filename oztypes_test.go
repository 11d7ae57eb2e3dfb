package bonafide

import (
	"strings"
	"testing"
)

func TestOzAnalysisTypes(t *testing.T) {
	for _, c := range []struct{ in, want string }{{"quality", "QUALITY"}, {" Liveness ", "QUALITY"}, {"LIVENESS", "QUALITY"}, {"documents", "DOCUMENTS"}, {"foo", "FOO"}} {
		if got := CanonicalAnalysisType(c.in); got != c.want {
			t.Errorf("CanonicalAnalysisType(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, name := range []string{"quality", "liveness", "biometry", "Documents", "COLLECTION"} {
		if _, ok := LookupOzAnalysisType(name); !ok {
			t.Errorf("%s is an Oz type", name)
		}
	}
	if _, ok := LookupOzAnalysisType("FOO"); ok {
		t.Error("FOO is not an Oz type")
	}
	// Every type this server runs is an Oz type (or the request could never name it).
	for _, r := range AnalysisTypes() {
		if _, ok := LookupOzAnalysisType(r.Name); !ok {
			t.Errorf("%s runs here but is not in ozAnalysisTypes", r.Name)
		}
	}
	o, _ := LookupOzAnalysisType("documents")
	if msg := NotRunAnalysis(o); !strings.Contains(msg, "DOCUMENTS") || !strings.Contains(msg, "QUALITY") {
		t.Errorf("NotRunAnalysis: %s", msg)
	}
	if e := NotAnOzAnalysisType("FOO"); e.Code != CodeInvalidValue || !strings.Contains(e.Message, "FOO") {
		t.Errorf("NotAnOzAnalysisType: %+v", e)
	}
}
