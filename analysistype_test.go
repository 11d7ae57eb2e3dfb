package bonafide

import (
	"strings"
	"testing"
)

func TestAnalysisTypes(t *testing.T) {
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
	// One registry: the types this server runs are the Oz types with Sources, in Oz's order; an
	// alias is not a name of a type that runs.
	var runs, oz []string
	for _, r := range AnalysisTypes() {
		runs = append(runs, r.Name)
	}
	for _, o := range OzAnalysisTypes() {
		oz = append(oz, o.Name)
		if _, ok := LookupAnalysisType(strings.ToLower(o.Name)); ok != o.Runs() {
			t.Errorf("LookupAnalysisType(%s) = %v, want %v", o.Name, ok, o.Runs())
		}
	}
	if got := strings.Join(runs, ","); got != "QUALITY,BIOMETRY,COLLECTION" {
		t.Errorf("AnalysisTypes = %s", got)
	}
	if got := strings.Join(oz, ","); got != "QUALITY,BIOMETRY,DOCUMENTS,COLLECTION" {
		t.Errorf("OzAnalysisTypes = %s", got)
	}
	if _, ok := LookupAnalysisType("liveness"); ok {
		t.Error("LookupAnalysisType takes the alias liveness")
	}
	// The messages clients see, word for word.
	if got, want := UnknownAnalysisType("FOO").Message, "The analysis type FOO is not available on this server: Bonafide runs QUALITY (liveness with best shot), BIOMETRY (face match between the folder's media), COLLECTION (search of the folder's faces in a blacklist collection)"; got != want {
		t.Errorf("UnknownAnalysisType:\n got %s\nwant %s", got, want)
	}
	if got, want := NotAnOzAnalysisType("FOO").Message, "Invalid param value: FOO is not an analysis type; the Oz API has QUALITY, BIOMETRY, DOCUMENTS, COLLECTION (LIVENESS is an alias of QUALITY)"; got != want {
		t.Errorf("NotAnOzAnalysisType:\n got %s\nwant %s", got, want)
	}
	if d, _ := LookupOzAnalysisType("documents"); NotRunAnalysis(d) != "The analysis type DOCUMENTS (document recognition (OCR, MRZ)) is not available on this server; Bonafide runs QUALITY, BIOMETRY, COLLECTION" {
		t.Errorf("NotRunAnalysis: %s", NotRunAnalysis(d))
	}
	o, _ := LookupOzAnalysisType("documents")
	if msg := NotRunAnalysis(o); !strings.Contains(msg, "DOCUMENTS") || !strings.Contains(msg, "QUALITY") {
		t.Errorf("NotRunAnalysis: %s", msg)
	}
	if e := NotAnOzAnalysisType("FOO"); e.Code != CodeInvalidValue || !strings.Contains(e.Message, "FOO") {
		t.Errorf("NotAnOzAnalysisType: %+v", e)
	}
}
