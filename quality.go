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

// AnalysisType is what the domain knows of an analysis type: which media of a folder it takes.
// How it analyses one media is the Analyzer's (package pipeline keeps an entry per type here, and
// its test checks that the two lists agree).
type AnalysisType struct {
	Name    string
	About   string                                   // for messages: what the type does
	Sources func(a *Analysis, all []*Media) []*Media // the media it takes when source_media is not given
}

// analysisTypes are the types this server runs. A new type is one entry here and one in
// package pipeline.
var analysisTypes = []AnalysisType{
	{Name: "QUALITY", About: "liveness with best shot", Sources: QualityMedia},
	{Name: "BIOMETRY", About: "face match between the folder's media", Sources: BiometryMedia},
	{Name: "COLLECTION", About: "search of the folder's faces in a blacklist collection", Sources: BiometryMedia},
}

// LookupAnalysisType finds a type by its name, case-insensitively.
func LookupAnalysisType(name string) (AnalysisType, bool) {
	for _, t := range analysisTypes {
		if strings.EqualFold(t.Name, strings.TrimSpace(name)) {
			return t, true
		}
	}
	return AnalysisType{}, false
}

// AnalysisTypes lists the types this server runs.
func AnalysisTypes() []AnalysisType { return append([]AnalysisType(nil), analysisTypes...) }

// UnknownAnalysisType is the error for a type this server does not run (code 2, as Oz answers for
// a type it does not offer).
func UnknownAnalysisType(name string) *Error {
	var names []string
	for _, t := range analysisTypes {
		names = append(names, t.Name+" ("+t.About+")")
	}
	return &Error{Code: CodeNotRealized, Details: map[string]string{"type": name},
		Message: "The analysis type " + name + " is not available on this server: Bonafide runs " + strings.Join(names, ", ")}
}
