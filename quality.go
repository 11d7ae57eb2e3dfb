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

func hasTagPrefix(tags []string, p string) bool {
	for _, t := range tags {
		if strings.HasPrefix(strings.ToLower(t), p) {
			return true
		}
	}
	return false
}
