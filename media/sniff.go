package media

import "bonafide"

// sniffed is what the first bytes of a file say it is.
type sniffed struct {
	kind   Kind   // "" when the format is not one we accept
	format string // our short format name when kind != ""
	what   string // a phrase for messages: "a JPEG image", "a text file", ...
}

// sniff identifies data by its magic bytes only, with the rule the API applies to uploads
// (bonafide.SniffMedia), so a file the API accepts is one the decoder opens the same way.
func sniff(data []byte) sniffed {
	kind, format, what := bonafide.SniffMedia(data)
	s := sniffed{format: format, what: what}
	switch kind {
	case bonafide.KindImage:
		s.kind = Image
	case bonafide.KindVideo:
		s.kind = Video
	case bonafide.KindShotSet:
		s.kind = ShotSet
	}
	return s
}
