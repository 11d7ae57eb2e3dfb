package bonafide

import "strings"

// QualityMedia picks the media a QUALITY analysis uses: its source_media when given, else every
// video or shot set with a video_selfie tag and every photo (API >= 4.1 analyses photos too).
func QualityMedia(a *Analysis, all []*Media) []*Media {
	if len(a.SourceMedia) > 0 {
		var out []*Media
		for _, id := range a.SourceMedia {
			for _, m := range all {
				if m.ID == id {
					out = append(out, m)
				}
			}
		}
		return out
	}
	var out []*Media
	for _, m := range all {
		if m.Kind == KindImage {
			if !hasTagPrefix(m.Tags, "photo_id") {
				out = append(out, m)
			}
			continue
		}
		if hasTagPrefix(m.Tags, "video_selfie") || len(m.Tags) == 0 {
			out = append(out, m)
		}
	}
	return out
}

// BiometryMedia picks the media a BIOMETRY analysis compares: its source_media when given, else
// every photo and video of the folder except the back of an ID card (photo_id_back), shot sets
// included (oz-api.md 5.5).
func BiometryMedia(a *Analysis, all []*Media) []*Media {
	if len(a.SourceMedia) > 0 {
		return QualityMedia(a, all) // the listed media, in order
	}
	var out []*Media
	for _, m := range all {
		if !hasTag(m.Tags, "photo_id_back") {
			out = append(out, m)
		}
	}
	return out
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if strings.EqualFold(strings.TrimSpace(x), t) {
			return true
		}
	}
	return false
}

func hasTagPrefix(tags []string, p string) bool {
	for _, t := range tags {
		if strings.HasPrefix(strings.ToLower(t), p) {
			return true
		}
	}
	return false
}

// AnalysisType is an analysis type of the Oz API (oz-api.md §5.1) and what the domain knows of
// it: which media of a folder it takes, when this server runs it. How it analyses one media is the
// Analyzer's: package pipeline keeps a runner per type that runs here, and its test checks that it
// has one for each.
type AnalysisType struct {
	Name  string
	About string // for messages: what the type does
	// Sources picks the media it takes when source_media is not given; nil for a type of the Oz
	// API that this server does not run.
	Sources func(a *Analysis, all []*Media) []*Media
}

// Runs reports whether this server runs the type.
func (t AnalysisType) Runs() bool { return t.Sources != nil }

// analysisTypes is the one registry of analysis types: every type the Oz API documents, in its
// order, those this server runs with their Sources. A type Oz has and this server does not run is
// accepted in a request and becomes an analysis in state FAILED saying so (NotRunAnalysis); a
// name in neither is refused (NotAnOzAnalysisType). A new type is one entry here and a runner in
// package pipeline.
var analysisTypes = []AnalysisType{
	{Name: "QUALITY", About: "liveness with best shot", Sources: QualityMedia},
	{Name: "BIOMETRY", About: "face match between the folder's media", Sources: BiometryMedia},
	{Name: "DOCUMENTS", About: "document recognition (OCR, MRZ)"},
	{Name: "COLLECTION", About: "search of the folder's faces in a blacklist collection", Sources: BiometryMedia},
}

// analysisTypeAliases are old names clients still send: the iOS SDK sends "liveness".
var analysisTypeAliases = map[string]string{"LIVENESS": "QUALITY"}

// AnalysisTypes lists the types this server runs, in the registry's order.
func AnalysisTypes() []AnalysisType {
	var out []AnalysisType
	for _, t := range analysisTypes {
		if t.Runs() {
			out = append(out, t)
		}
	}
	return out
}

// OzAnalysisTypes lists every analysis type of the Oz API, whether or not this server runs it.
func OzAnalysisTypes() []AnalysisType { return append([]AnalysisType(nil), analysisTypes...) }

// LookupAnalysisType finds a type this server runs by its name, case-insensitively.
func LookupAnalysisType(name string) (AnalysisType, bool) {
	for _, t := range analysisTypes {
		if t.Runs() && strings.EqualFold(t.Name, strings.TrimSpace(name)) {
			return t, true
		}
	}
	return AnalysisType{}, false
}

// CanonicalAnalysisType is a requested type as responses name it: trimmed, in upper case, an
// alias replaced by its type (LIVENESS is QUALITY).
func CanonicalAnalysisType(name string) string {
	t := strings.ToUpper(strings.TrimSpace(name))
	if to, ok := analysisTypeAliases[t]; ok {
		return to
	}
	return t
}

// LookupOzAnalysisType finds a type of the Oz API by its name or an alias, case-insensitively,
// whether or not this server runs it.
func LookupOzAnalysisType(name string) (AnalysisType, bool) {
	n := CanonicalAnalysisType(name)
	for _, t := range analysisTypes {
		if t.Name == n {
			return t, true
		}
	}
	return AnalysisType{}, false
}

// UnknownAnalysisType is the error for a type this server does not run (code 2, as Oz answers for
// a type it does not offer).
func UnknownAnalysisType(name string) *Error {
	var names []string
	for _, t := range AnalysisTypes() {
		names = append(names, t.Name+" ("+t.About+")")
	}
	return &Error{Code: CodeNotRealized, Details: map[string]string{"type": name},
		Message: "The analysis type " + name + " is not available on this server: Bonafide runs " + strings.Join(names, ", ")}
}

// NotAnOzAnalysisType is the error for a type that neither Oz nor this server has (code 4,
// HTTP 400): the request is refused as a whole.
func NotAnOzAnalysisType(name string) *Error {
	var names []string
	for _, t := range analysisTypes {
		names = append(names, t.Name)
	}
	return &Error{Code: CodeInvalidValue, Details: map[string]string{"type": name},
		Message: "Invalid param value: " + name + " is not an analysis type; the Oz API has " + strings.Join(names, ", ") + " (LIVENESS is an alias of QUALITY)"}
}

// NotRunAnalysis is the error text of an analysis of an Oz type that this server does not run;
// such an analysis is stored FAILED with it, and the others of the request run.
func NotRunAnalysis(t AnalysisType) string {
	var names []string
	for _, r := range AnalysisTypes() {
		names = append(names, r.Name)
	}
	return "The analysis type " + t.Name + " (" + t.About + ") is not available on this server; Bonafide runs " + strings.Join(names, ", ")
}
