package bonafide

import "strings"

// OzAnalysisType is an analysis type of the Oz API (oz-api.md §5.1), whether or not this server
// runs it: which ones it runs is the AnalysisTypes registry (quality.go).
type OzAnalysisType struct {
	Name  string
	About string
}

// ozAnalysisTypes are the types Oz documents. A type here that is not in AnalysisTypes is
// accepted in a request and becomes an analysis in state FAILED saying so (NotRunAnalysis); a type
// in neither list is refused (NotAnOzAnalysisType).
var ozAnalysisTypes = []OzAnalysisType{
	{Name: "QUALITY", About: "liveness with best shot"},
	{Name: "BIOMETRY", About: "face match between the folder's media"},
	{Name: "DOCUMENTS", About: "document recognition (OCR, MRZ)"},
	{Name: "COLLECTION", About: "search of the faces in a blacklist collection"},
}

// analysisTypeAliases are old names clients still send: the iOS SDK sends "liveness".
var analysisTypeAliases = map[string]string{"LIVENESS": "QUALITY"}

// OzAnalysisTypes lists the analysis types of the Oz API.
func OzAnalysisTypes() []OzAnalysisType { return append([]OzAnalysisType(nil), ozAnalysisTypes...) }

// CanonicalAnalysisType is a requested type as responses name it: trimmed, in upper case, an
// alias replaced by its type (LIVENESS is QUALITY).
func CanonicalAnalysisType(name string) string {
	t := strings.ToUpper(strings.TrimSpace(name))
	if to, ok := analysisTypeAliases[t]; ok {
		return to
	}
	return t
}

// LookupOzAnalysisType finds a type of the Oz API by its name or an alias, case-insensitively.
func LookupOzAnalysisType(name string) (OzAnalysisType, bool) {
	t := CanonicalAnalysisType(name)
	for _, o := range ozAnalysisTypes {
		if o.Name == t {
			return o, true
		}
	}
	return OzAnalysisType{}, false
}

// NotAnOzAnalysisType is the error for a type that neither Oz nor this server has (code 4,
// HTTP 400): the request is refused as a whole.
func NotAnOzAnalysisType(name string) *Error {
	var names []string
	for _, o := range ozAnalysisTypes {
		names = append(names, o.Name)
	}
	return &Error{Code: CodeInvalidValue, Details: map[string]string{"type": name},
		Message: "Invalid param value: " + name + " is not an analysis type; the Oz API has " + strings.Join(names, ", ") + " (LIVENESS is an alias of QUALITY)"}
}

// NotRunAnalysis is the error text of an analysis of an Oz type that this server does not run;
// such an analysis is stored FAILED with it, and the others of the request run.
func NotRunAnalysis(t OzAnalysisType) string {
	var names []string
	for _, r := range AnalysisTypes() {
		names = append(names, r.Name)
	}
	return "The analysis type " + t.Name + " (" + t.About + ") is not available on this server; Bonafide runs " + strings.Join(names, ", ")
}
